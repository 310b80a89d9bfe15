// app.js - the tablet page's logic: pairing, then live plots, robots, prints, scans and the
// teacher's room controls, all through the session's calls (the bridge checks every one; what
// the page hides for a role is only convenience).
import { t, setLang, translate, currentLang } from "./i18n.js";
import * as api from "./api.js";
import { Plot } from "./plot.js";

const $ = (sel, root = document) => root.querySelector(sel);
const POLL_MS = 2000;
const WINDOWS = [5, 10, 30, 60, 300];
const CHUNK = 256 * 1024;
// A robot's lease lasts 6 s and is renewed at every poll (2 s): a tablet that goes away (closed,
// asleep, out of Wi-Fi) stops its robot within 6 s through the bridge's dead-man.
const LEASE_MS = 6000;

// Everything the page knows; window.labbridge exposes it to the browser tests.
const S = {
  me: null,
  tab: "plots",
  streams: [], // numeric sensor streams: {topic, device, name, quantity, unit}
  chosen: new Set(JSON.parse(localStorage.getItem("lb.chosen") || "[]")),
  plots: new Map(), // topic -> Plot
  paused: false,
  windowS: 10,
  es: null,
  held: new Set(), // robots whose lease this page holds
  robotCards: new Map(),
  consoles: new Map(), // robot id -> its console's <pre> (teachers: its topic is in the stream)
  retryMs: 1000,
  thumbs: new Map(), // print job id -> ImageBitmap | null
  results: new Map(), // scan job id -> [{name, size}]
  names: new Map(JSON.parse(localStorage.getItem("lb.names") || "[]")), // user -> pairing name (teachers)
  samples: 0, // sensor samples received, and lost (the stream's gap counts), for the tests
  gaps: 0,
  rec: null,
  polling: false,
  timer: 0,
  firstPlotMs: null,
  moves: 0, // robot.move / robot.stop answered, for the tests
  stops: 0,
};
window.labbridge = S;

// Show a message in the status line (errors in red).
function say(text, isError = false) {
  const m = $("#msg");
  m.textContent = text;
  m.classList.toggle("error", isError);
}

// Run an async action, showing its error instead of throwing (no unhandled rejection).
async function safely(fn) {
  try {
    return await fn();
  } catch (e) {
    say(t("error", { msg: e.message || String(e) }), true);
    return undefined;
  }
}

// An element: el("button", {type: "button", class: "x", onclick}, "text" | [children]).
function el(tag, attrs = {}, content) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else e.setAttribute(k, v === true ? "" : v);
  }
  if (Array.isArray(content)) e.append(...content.filter(Boolean));
  else if (content !== undefined) e.textContent = content;
  return e;
}

const isTeacher = () => S.me?.role === "teacher";
const mayWrite = () => S.me && S.me.role !== "observer";

// ---------------------------------------------------------------- pairing and session

function showPairing(reason) {
  S.me = null;
  stopEverything();
  $("#app").hidden = true;
  $("#quit").hidden = true;
  $("#who").textContent = "";
  $("#pair").hidden = false;
  $("#pair-error").textContent = reason || "";
  const input = $("#pair-code");
  input.disabled = false;
  input.focus();
  performance.mark("lb-pair-ready");
}

async function doPair(code) {
  $("#pair-error").textContent = "";
  try {
    await api.pair(code);
    enter(await api.session());
  } catch (e) {
    $("#pair-error").textContent =
      e.status === 429 ? t("pair_rate") : e.status === 403 ? t("pair_wrong") : t("error", { msg: e.message });
  }
}

function enter(me) {
  S.me = me;
  $("#pair").hidden = true;
  $("#app").hidden = false;
  $("#quit").hidden = false;
  document.body.dataset.role = me.role;
  $("#who").textContent = t("who", { name: me.name, role: t("role_" + me.role) });
  for (const e of document.querySelectorAll(".teacher-only")) e.hidden = !isTeacher();
  for (const e of document.querySelectorAll(".writer")) e.hidden = !mayWrite();
  selectTab("plots");
  openStream();
  loadSensors();
  if (mayWrite()) loadPresets();
  clearInterval(S.timer);
  S.timer = setInterval(poll, POLL_MS);
  poll();
}

function stopEverything() {
  clearInterval(S.timer);
  S.es?.close();
  S.es = null;
  S.consoles.clear();
  S.robotCards.clear();
  $("#robots").textContent = "";
  S.plots.clear();
  $("#plots").textContent = "";
}

async function quit() {
  for (const id of S.held) await safely(() => api.call("lease.release", { device: id }));
  S.held.clear();
  api.forget();
  showPairing();
}

// ---------------------------------------------------------------- tabs and polling

function selectTab(name) {
  S.tab = name;
  for (const b of document.querySelectorAll("[role=tab]")) b.setAttribute("aria-selected", String(b.dataset.tab === name));
  for (const s of document.querySelectorAll(".tab")) s.hidden = s.id !== "tab-" + name;
  poll();
}

async function poll() {
  if (!S.me || S.polling) return;
  S.polling = true;
  try {
    await refreshRoom();
    if (S.tab === "robots") await refreshRobots();
    else if (S.tab === "prints") await refreshQueue();
    else if (S.tab === "scans") await refreshScans();
    else if (S.tab === "room") await refreshHealth();
    if (S.held.size) await renewLeases();
  } finally {
    S.polling = false;
  }
}

async function refreshRoom() {
  const room = await safely(() => api.call("room.state"));
  if (!room) return;
  const b = $("#room-banner");
  b.hidden = !room.stopped;
  if (room.stopped) b.textContent = t("room_stopped", { name: room.name ?? room.by ?? "?", reason: room.reason ?? "" });
}

// ---------------------------------------------------------------- live data

// One stream for all live data (a browser opens at most 6 connections to one server, and calls
// need some): sensors, printers, the bridge's events, and for teachers the robots' consoles.
function openStream() {
  S.es?.close();
  const topics = ["sensor/", "printer/", "bridge/"];
  if (isTeacher()) topics.push(...[...S.consoles.keys()].slice(0, 13).map((id) => `robot/${id}/console/`));
  S.streamTopics = topics.join();
  S.es = api.stream(topics, onMsg, () => {
    if (S.es && S.es.readyState === EventSource.CLOSED && S.me) checkSession();
  });
}

// After a stream ended: back to pairing if the session is over, else open it again, waiting
// longer each time (1 s to 30 s) while it keeps failing (a busy bridge answers 503).
async function checkSession() {
  try {
    await api.session();
    setTimeout(() => S.me && openStream(), S.retryMs);
    S.retryMs = Math.min(30000, S.retryMs * 2);
  } catch {
    /* 401 brought the pairing back */
  }
}

function onMsg(m) {
  S.retryMs = 1000;
  const rc = /^robot\/([^/]+)\/console\/$/.exec(m.topic);
  if (rc) {
    const pre = S.consoles.get(rc[1]);
    const text = m.header?.data?.text ?? m.header?.data?.line;
    if (pre && text) pre.textContent = (pre.textContent + text).slice(-8000);
    return;
  }
  if (m.topic.startsWith("sensor/")) {
    S.samples += m.values?.length ?? 0;
    S.gaps += m.gap || 0;
  }
  const p = S.plots.get(m.topic);
  if (p) p.push(m.header, m.values);
  else if (m.topic === "bridge/room/") refreshRoom();
  else if (m.topic === "bridge/queue/" && S.tab === "prints") refreshQueue();
  else if (m.topic === "bridge/scans/" && S.tab === "scans") refreshScans();
  else if (m.topic === "bridge/devices/") loadSensors();
}

async function loadSensors() {
  const devs = await safely(() => api.call("devices.list", { kind: "sensor" }));
  if (!devs) return;
  const streams = [];
  for (const d of devs)
    for (const s of d.streams || [])
      if (s.type !== "json" && s.topic)
        streams.push({ topic: s.topic, device: d.id, name: `${d.name || d.id} · ${s.name}`, quantity: s.quantity, unit: s.unit });
  const same = streams.map((s) => s.topic).join() === S.streams.map((s) => s.topic).join();
  S.streams = streams;
  if (same && S.plots.size) return;
  if (![...S.chosen].some((tp) => streams.some((s) => s.topic === tp)) && streams.length) S.chosen = new Set([streams[0].topic]);
  const list = $("#sensor-list");
  for (const l of list.querySelectorAll("label")) l.remove();
  if (!streams.length) list.append(el("label", {}, t("no_sensors")));
  for (const s of streams) {
    const box = el("input", { type: "checkbox", value: s.topic, checked: S.chosen.has(s.topic) });
    box.addEventListener("change", () => {
      if (box.checked) S.chosen.add(s.topic);
      else S.chosen.delete(s.topic);
      localStorage.setItem("lb.chosen", JSON.stringify([...S.chosen]));
      buildPlots();
    });
    list.append(el("label", {}, [box, el("span", {}, `${s.name} (${s.unit ?? ""})`)]));
  }
  buildPlots();
}

function buildPlots() {
  const box = $("#plots");
  for (const [topic] of S.plots) if (!S.chosen.has(topic)) S.plots.delete(topic);
  box.textContent = "";
  for (const s of S.streams) {
    if (!S.chosen.has(s.topic)) continue;
    const canvas = el("canvas", { role: "img", tabindex: "0", "aria-label": `${s.name} (${s.unit ?? ""})`, "data-topic": s.topic });
    let p = S.plots.get(s.topic);
    if (p) {
      p.canvas = canvas;
      p.dirty = true;
    } else {
      p = new Plot(canvas, s);
      p.setWindow(S.windowS);
      p.setPaused(S.paused);
      S.plots.set(s.topic, p);
    }
    const plot = p;
    canvas.addEventListener("keydown", (e) => {
      if (e.key === "+") plot.zoom(0.8);
      if (e.key === "-") plot.zoom(1.25);
    });
    box.append(canvas);
  }
}

function frame() {
  for (const p of S.plots.values()) {
    p.draw();
    if (p.drawn && S.firstPlotMs === null) {
      S.firstPlotMs = performance.now();
      performance.mark("lb-first-plot");
    }
  }
  requestAnimationFrame(frame);
}

function setupPlotControls() {
  $("#pause").addEventListener("click", () => {
    S.paused = !S.paused;
    $("#pause").setAttribute("aria-pressed", String(S.paused));
    $("#pause").dataset.i18n = S.paused ? "resume" : "pause";
    $("#pause").textContent = t($("#pause").dataset.i18n);
    for (const p of S.plots.values()) p.setPaused(S.paused);
  });
  const wbox = $("#windows");
  for (const w of WINDOWS) {
    const b = el("button", { type: "button", "aria-pressed": String(w === S.windowS), "data-window": w }, w >= 60 ? `${w / 60} min` : `${w} s`);
    b.addEventListener("click", () => {
      S.windowS = w;
      for (const x of wbox.children) x.setAttribute("aria-pressed", String(x === b));
      for (const p of S.plots.values()) p.setWindow(w);
    });
    wbox.append(b);
  }
  $("#csv").addEventListener("click", () => downloadCsv(false));
  $("#csv-fr").addEventListener("click", () => downloadCsv(true));
  $("#rec").addEventListener("click", () => safely(toggleRecording));
}

function downloadCsv(french) {
  for (const [topic, p] of S.plots) {
    const text = (french ? "\ufeff" : "") + p.csv(french);
    const a = el("a", { download: topic.replace(/^sensor\//, "").replace(/\/$/, "").replaceAll("/", "_") + ".csv" });
    a.href = URL.createObjectURL(new Blob([text], { type: "text/csv;charset=utf-8" }));
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  }
}

async function toggleRecording() {
  const b = $("#rec");
  if (S.rec) {
    const r = await api.call("recording.stop", { id: S.rec.id });
    $("#rec-state").textContent = t("rec_stopped", { id: r.id ?? S.rec.id });
    S.rec = null;
    b.dataset.i18n = "rec_start";
    b.textContent = t("rec_start");
    return;
  }
  const topics = [...S.chosen];
  if (!topics.length) return say(t("rec_none"), true);
  const devices = [...new Set(S.streams.filter((s) => S.chosen.has(s.topic)).map((s) => s.device))];
  const acq = await api.call("acquisition.start", { devices });
  const fr = currentLang() === "fr";
  S.rec = await api.call("recording.start", { streams: topics, sep: fr ? ";" : ",", decimal_comma: fr, at_ns: acq.at_ns });
  $("#rec-state").textContent = t("rec_running", { id: S.rec.id });
  b.dataset.i18n = "rec_stop";
  b.textContent = t("rec_stop");
}

// ---------------------------------------------------------------- robots

async function refreshRobots() {
  const robots = await safely(() => api.call("robot.list"));
  if (!robots) return;
  const box = $("#robots");
  box.classList.add("robot-grid");
  if (!robots.length) box.textContent = t("robots_none");
  else if (!S.robotCards.size) box.textContent = "";
  for (const r of robots) {
    let card = S.robotCards.get(r.device);
    if (!card) {
      card = robotCard(r);
      S.robotCards.set(r.device, card);
      box.append(card.root);
    }
    card.update(r);
  }
  // a teacher's stream follows the robots' consoles
  if (isTeacher() && S.consoles.size && !S.streamTopics.includes(`robot/${[...S.consoles.keys()].at(-1)}/console/`)) openStream();
}

function robotCard(r) {
  const id = r.device;
  const state = el("span");
  const owner = el("span");
  let last = r;
  let takenAt = 0;
  const take = el("button", { type: "button", class: "writer", onclick: () => safely(async () => {
    // a teacher takes a robot another group holds over (force); the bridge refuses it to others
    await api.call("lease.acquire", { device: id, ttl_ms: LEASE_MS, force: isTeacher() && !!last.owner });
    takenAt = performance.now();
    S.held.add(id);
    refreshRobots();
  }) }, t("take"));
  const release = el("button", { type: "button", onclick: () => safely(async () => {
    S.held.delete(id);
    await api.call("lease.release", { device: id });
    refreshRobots();
  }) }, t("release"));
  const drive = (left, right) => () => api.call("robot.move", { device: id, left, right }).then(() => S.moves++);
  const pad = el("div", { class: "pad", role: "group", "aria-label": r.name || id }, [
    arrow("f", "▲", "forward", drive(0.5, 0.5), id),
    arrow("l", "◀", "left", drive(-0.3, 0.3), id),
    el("button", { type: "button", class: "s stop", "aria-label": t("stop"), onclick: () => safely(() => api.call("robot.stop", { device: id })) }, "■"),
    arrow("r", "▶", "right", drive(0.3, -0.3), id),
    arrow("b", "▼", "backward", drive(-0.5, -0.5), id),
  ]);
  const langs = (r.robot?.languages || []).filter((l) => l !== "aseba-bytecode");
  const lang = el("select", { "aria-label": t("language") }, langs.map((l) => el("option", { value: l }, l)));
  const source = el("textarea", { "aria-label": t("program"), spellcheck: "false" });
  const cons = el("pre", { class: "console", "aria-label": t("console"), "aria-live": "polite" });
  const run = el("button", { type: "button", onclick: () => safely(async () => {
    try {
      await api.call("robot.program.load", { device: id, language: lang.value, source: source.value });
      await api.call("robot.program.run", { device: id });
    } catch (e) {
      cons.textContent += (e.message || String(e)) + "\n";
      throw e;
    }
  }) }, t("load_run"));
  const prog = el("div", {}, [el("h4", {}, t("program")), el("div", { class: "row" }, [lang, run]), source, el("h4", {}, t("console")), cons]);
  if (!langs.length) prog.hidden = true;
  const controls = el("div", {}, [pad, prog]);
  const root = el("article", { class: "card", "data-robot": id }, [
    el("h3", {}, `${r.name || id}`),
    el("p", {}, [el("span", {}, `${r.driver} · `), state, el("span", {}, ` · ${t("owner")} : `), owner]),
    el("div", { class: "row" }, [take, release]),
    controls,
  ]);
  if (isTeacher()) S.consoles.set(id, cons);
  else cons.textContent = t("console_teacher") + "\n";
  return {
    root,
    update(x) {
      last = x;
      state.textContent = x.state ?? "";
      // held by this page: taken here, and the bridge still names this session's user (a teacher
      // who took it over, or an expired lease, ends it)
      // (a robot.list sent before the take answered is not believed)
      if (S.held.has(id) && x.owner !== S.me.user && performance.now() - takenAt > 3000) S.held.delete(id);
      const mine = S.held.has(id);
      owner.textContent = mine ? `${t("you")} (${x.owner_name ?? x.owner})` : x.owner ? (x.owner_name ?? x.owner) : t("free");
      take.hidden = !mayWrite() || !!mine || (!!x.owner && !isTeacher());
      release.hidden = !mine;
      controls.hidden = !mine;
    },
  };
}

// A drive button: moves while pressed (mouse, touch, pen or keyboard), stops on release.
function arrow(cls, glyph, key, move, id) {
  const b = el("button", { type: "button", class: cls, "aria-label": t(key) }, glyph);
  let timer = 0;
  const start = () => {
    if (timer) return;
    const go = () => move().catch((e) => say(t("error", { msg: e.message }), true));
    go();
    timer = setInterval(go, 250);
  };
  const stop = () => {
    if (!timer) return;
    clearInterval(timer);
    timer = 0;
    safely(() => api.call("robot.stop", { device: id }).then(() => S.stops++));
  };
  b.addEventListener("pointerdown", (e) => {
    e.preventDefault();
    b.setPointerCapture(e.pointerId);
    start();
  });
  for (const ev of ["pointerup", "pointercancel", "lostpointercapture"]) b.addEventListener(ev, stop);
  b.addEventListener("keydown", (e) => {
    if ((e.key === "Enter" || e.key === " ") && !e.repeat) {
      e.preventDefault();
      start();
    }
  });
  b.addEventListener("keyup", (e) => (e.key === "Enter" || e.key === " ") && stop());
  b.addEventListener("blur", stop);
  document.addEventListener("visibilitychange", () => document.hidden && stop());
  b.addEventListener("contextmenu", (e) => e.preventDefault());
  return b;
}

async function renewLeases() {
  for (const id of S.held) await safely(() => api.call("lease.acquire", { device: id, ttl_ms: LEASE_MS }));
}

// ---------------------------------------------------------------- prints

async function loadPresets() {
  const p = await safely(() => api.call("print.presets"));
  const sel = $("#upload-preset");
  sel.textContent = "";
  for (const x of p?.presets || []) sel.append(el("option", { value: x.name, selected: x.name === p.default }, x.name));
}

// Who a job's owner is, for people: "you", a pairing's name (teachers know them), or the user.
function ownerName(user) {
  if (user && user === S.me?.user) return t("you");
  return S.names.get(user) ?? user ?? "";
}

function jobState(j) {
  return t("state_" + j.state) === "state_" + j.state ? j.state : t("state_" + j.state);
}

async function refreshQueue() {
  const jobs = await safely(() => api.call("print.queue"));
  if (!jobs) return;
  const ul = $("#queue");
  ul.textContent = "";
  if (!jobs.length) ul.append(el("li", {}, t("queue_empty")));
  const waiting = jobs.filter((j) => j.state === "approved");
  if (isTeacher()) {
    const pl = await safely(() => api.call("pair.list"));
    for (const x of pl?.pairings || []) S.names.set("web:" + x.id, x.name);
  }
  for (const j of jobs) {
    const pct = j.state === "slicing" ? j.slicing?.percent : j.progress?.percent;
    const thumb = el("canvas", { class: "thumb", width: "220", height: "124", role: "img", "aria-label": j.name });
    const buttons = [];
    if (isTeacher() && j.state === "submitted")
      buttons.push(el("button", { type: "button", class: "approve", onclick: () => safely(() => api.call("print.approve", { id: j.id }).then(refreshQueue)) }, t("approve")));
    if (isTeacher() || (mayWrite() && (j.owner === S.me.user || j.owner === S.me.name)))
      buttons.push(el("button", { type: "button", class: "cancel", onclick: () => safely(() => api.call("print.cancel", { id: j.id }).then(refreshQueue)) }, t("cancel")));
    if (isTeacher() && j.state === "approved" && j.position > 1)
      buttons.push(el("button", { type: "button", "aria-label": t("up"), onclick: () => safely(() => api.call("print.move", { id: j.id, position: j.position - 1 }).then(refreshQueue)) }, "↑"));
    if (isTeacher() && j.state === "approved" && j.position < waiting.length)
      buttons.push(el("button", { type: "button", "aria-label": t("down"), onclick: () => safely(() => api.call("print.move", { id: j.id, position: j.position + 1 }).then(refreshQueue)) }, "↓"));
    const li = el("li", { class: "card", "data-job": j.id, "data-state": j.state }, [
      thumb,
      el("h3", {}, `${j.name}`),
      el("p", {}, `${ownerName(j.owner)} · ${jobState(j)}${j.state === "slicing" ? " · " + t("slicing", { pct: Math.round(pct ?? 0) }) : ""}${j.assigned ? " · " + j.assigned : ""}${j.position ? " · #" + j.position : ""}`),
      pct !== undefined && pct !== null ? el("progress", { max: "100", value: String(pct), "aria-label": `${Math.round(pct)} %` }) : null,
      j.error ? el("p", { class: "error" }, j.error) : null,
      el("div", { class: "row" }, buttons),
    ]);
    ul.append(li);
    drawThumb(j, thumb);
  }
}

async function drawThumb(j, canvas) {
  if (!S.thumbs.has(j.id)) {
    S.thumbs.set(j.id, null);
    if (j.state === "slicing" || (!j.meta?.thumbnails?.length && !j.slicing)) return;
    try {
      const th = await api.call("print.thumbnail", { id: j.id });
      S.thumbs.set(j.id, await createImageBitmap(new Blob([api.fromBase64(th.base64)])));
    } catch {
      return; // no picture: the card has its name
    }
  }
  const bmp = S.thumbs.get(j.id);
  if (bmp) canvas.getContext("2d").drawImage(bmp, 0, 0, canvas.width, canvas.height);
}

async function upload(ev) {
  ev.preventDefault();
  const f = $("#upload-file").files[0];
  if (!f) return;
  const bytes = new Uint8Array(await f.arrayBuffer());
  const rid = Array.from(crypto.getRandomValues(new Uint8Array(8)), (b) => b.toString(16).padStart(2, "0")).join("");
  const crc = api.crc32(bytes);
  const status = $("#upload-state");
  let job = null;
  for (let off = 0; off < bytes.length || off === 0; off += CHUNK) {
    const chunk = bytes.subarray(off, Math.min(bytes.length, off + CHUNK));
    const last = off + CHUNK >= bytes.length;
    const params = { request_id: rid, name: f.name, offset: off, chunk_crc32: api.crc32(chunk) };
    if (last) Object.assign(params, { final: true, crc32: crc });
    if ($("#upload-preset").value) params.preset = $("#upload-preset").value;
    status.textContent = t("sending", { pct: Math.round((100 * off) / Math.max(1, bytes.length)) });
    job = await api.call("print.upload", params, chunk);
    if (last) break;
  }
  status.textContent = t("sent", { id: job?.id ?? "?" });
  $("#upload").reset();
  loadPresets();
  refreshQueue();
}

// ---------------------------------------------------------------- scans

async function refreshScans() {
  const [scanners, s3d] = await Promise.all([
    safely(() => api.call("devices.list", { kind: "scanner" })),
    safely(() => api.call("devices.list", { kind: "scanner3d" })),
  ]);
  const box = $("#scanners");
  const all = [...(scanners || []), ...(s3d || [])];
  if (box.dataset.ids !== all.map((d) => d.id).join()) {
    box.dataset.ids = all.map((d) => d.id).join();
    box.textContent = all.length ? "" : t("scanners_none");
    for (const d of all) {
      const formats = d.kind === "scanner3d" ? ["ply"] : ["pdf", "png", "jpeg"];
      const fmt = el("select", { "aria-label": t("format") }, formats.map((x) => el("option", { value: x }, x)));
      const go = el("button", { type: "button", class: "writer", onclick: () => safely(async () => {
        await api.call("scan.submit", { device: d.id, format: fmt.value });
        refreshScans();
      }) }, t("scan"));
      go.hidden = !mayWrite();
      box.append(el("div", { class: "row card" }, [el("strong", {}, d.name || d.id), fmt, go]));
    }
  }
  const [open, done] = await Promise.all([
    safely(() => api.call("jobs.list", { kind: "scan" })),
    safely(() => api.call("jobs.list", { kind: "scan", history: true })),
  ]);
  const jobs = [...(open || []), ...(done || []).slice(0, 10)].filter((j) => isTeacher() || j.owner === S.me.user);
  const ul = $("#scan-jobs");
  ul.textContent = "";
  for (const j of jobs) {
    const frac = j.progress?.fraction;
    const links = el("div", { class: "row" });
    const li = el("li", { class: "card", "data-job": j.id, "data-state": j.state }, [
      el("h3", {}, `${j.label || "scan"} #${j.id}`),
      el("p", {}, `${j.assigned ?? j.device ?? ""} · ${t("job_" + j.state) === "job_" + j.state ? j.state : t("job_" + j.state)}`),
      typeof frac === "number" ? el("progress", { max: "1", value: String(frac) }) : null,
      j.error ? el("p", { class: "error" }, typeof j.error === "string" ? j.error : j.error.message) : null,
      links,
    ]);
    ul.append(li);
    if (j.state === "done") showResults(j.id, links);
  }
}

async function showResults(id, box) {
  if (!S.results.has(id)) S.results.set(id, (await safely(() => api.call("jobs.results", { id }))) || []);
  for (const f of S.results.get(id)) box.append(el("a", { href: api.fileUrl(id, f.name), download: f.name, class: "button" }, `${t("result")} : ${f.name}`));
}

// ---------------------------------------------------------------- teacher

async function refreshHealth() {
  if (!isTeacher()) return;
  const devs = await safely(() => api.call("devices.list", { all: true }));
  if (!devs) return;
  const body = $("#health tbody");
  body.textContent = "";
  for (const d of devs) {
    const bad = d.available === false || d.state === "failed";
    const errs = (d.streams || []).filter((s) => s.error).map((s) => `${s.name}: ${s.error.message}`);
    const detail = [d.reason, d.config?.firmware, ...errs].filter(Boolean).join(" · ");
    const holder = d.lease ? (d.lease.name || d.lease.holder) : "";
    body.append(el("tr", { class: bad ? "bad" : "" }, [d.id, d.kind, d.state, holder, detail].map((x) => el("td", {}, x ?? ""))));
  }
}

async function newPairing(ev) {
  ev.preventDefault();
  const r = await api.call("pair.new", { name: $("#pn-name").value, role: $("#pn-role").value, uses: Number($("#pn-uses").value) || 1 });
  S.names.set("web:" + r.id, r.name);
  localStorage.setItem("lb.names", JSON.stringify([...S.names].slice(-200)));
  const shown = $("#pair-shown");
  shown.textContent = "";
  shown.append(el("span", { "data-code": r.code }, r.code.slice(0, 3) + " " + r.code.slice(3)), el("small", {}, `${r.name} · ${t("role_" + r.role)}`), el("small", {}, r.url));
}

// ---------------------------------------------------------------- start

function setup() {
  translate();
  document.documentElement.lang = currentLang();
  $("#lang").addEventListener("click", () => {
    setLang(currentLang() === "fr" ? "en" : "fr");
    if (S.me) $("#who").textContent = t("who", { name: S.me.name, role: t("role_" + S.me.role) });
    S.robotCards.clear();
    $("#robots").textContent = "";
    S.consoles.clear();
    poll();
  });
  $("#quit").addEventListener("click", quit);
  $("#pair-form").addEventListener("submit", (e) => {
    e.preventDefault();
    doPair($("#pair-code").value);
  });
  for (const b of document.querySelectorAll("[role=tab]")) b.addEventListener("click", () => selectTab(b.dataset.tab));
  $("#stop-all").addEventListener("click", () => safely(async () => {
    const r = await api.call("room.stop", { reason: "STOP" });
    say(`STOP: ${(r.halted || []).length + (r.late || []).length}`);
    refreshRoom();
  }));
  $("#release-room").addEventListener("click", () => safely(() => api.call("room.release").then(refreshRoom)));
  $("#estop").addEventListener("click", () => safely(() => api.call("printer.estop", {})));
  $("#upload").addEventListener("submit", (e) => safely(() => upload(e)));
  $("#pair-new").addEventListener("submit", (e) => safely(() => newPairing(e)));
  setupPlotControls();
  api.setOnUnauthorized(() => showPairing(t("session_over")));
  requestAnimationFrame(frame);

  const m = /(?:^#|&)pair=([A-Za-z0-9 -]{1,16})/.exec(location.hash);
  if (m) {
    history.replaceState(null, "", location.pathname + location.search);
    $("#pair").hidden = false;
    $("#pair-code").value = m[1];
    doPair(m[1]);
  } else if (api.token()) {
    api.session().then(enter, () => showPairing());
  } else showPairing();
}

setup();
