// app.js - the tablet page's start: pairing and the session, the tabs, polling and the one live
// stream, #pair= and #device= links, the large-text and language switches. Each screen is a
// module of its own (plots.js, robots.js, prints.js, room.js); every call goes through the
// session (the bridge checks every one; what the page hides for a role is only convenience).
import { t, setLang, translate, currentLang } from "./i18n.js";
import * as api from "./api.js";
import { $, S, say, safely, isTeacher, mayWrite, hooks } from "./common.js";
import { loadSensors, chooseDevice, frame, setupPlotControls } from "./plots.js";
import { refreshRobots, renewLeases, takeLease, leaseRefusal, appendConsole, closeConsoles } from "./robots.js";
import { loadPresets, refreshQueue, upload, refreshScans } from "./prints.js";
import { refreshRoomTable, onRoomEvent, newPairing, closeProjector } from "./room.js";

const POLL_MS = 2000;
const DEVICE_KEY = "lb.device"; // a #device=ID waiting for the pairing

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
  performance.mark("lb-ready");
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
  const device = sessionStorage.getItem(DEVICE_KEY);
  sessionStorage.removeItem(DEVICE_KEY);
  selectTab("plots");
  openStream();
  loadSensors();
  if (mayWrite()) loadPresets();
  clearInterval(S.timer);
  S.timer = setInterval(poll, POLL_MS);
  if (device) goToDevice(device);
  else poll();
}

// #device=ID (the QR label of a device): a teacher lands on its row of the room table, a student
// takes its lease and lands on it (or reads why not), an observer just sees it.
async function goToDevice(id) {
  S.focusDevice = id;
  if (isTeacher()) return selectTab("room");
  let kind = "robot";
  try {
    const d = (await api.call("devices.list", { all: true })).find((x) => x.id === id);
    if (!d) {
      S.focusDevice = null;
      return say(t("device_unknown", { device: id }), true);
    }
    kind = d.kind;
    if (mayWrite()) await takeLease(id);
  } catch (e) {
    S.focusDevice = null;
    say(leaseRefusal(e), true);
    return selectTab(kind === "robot" ? "robots" : "plots");
  }
  if (kind === "robot") return selectTab("robots");
  S.focusDevice = null;
  selectTab("plots");
  chooseDevice(id);
}

function stopEverything() {
  clearInterval(S.timer);
  S.es?.close();
  S.es = null;
  closeConsoles();
  S.consoles.clear();
  S.robotCards.clear();
  $("#robots").textContent = "";
  S.plots.clear();
  $("#plots").textContent = "";
  S.roomRows.clear();
  $("#health tbody").textContent = "";
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
    else if (S.tab === "room") await refreshRoomTable();
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
  if (room.stopped) b.textContent = t("room_stopped", { name: room.name ?? t("owner_other"), reason: room.reason ?? "" });
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
  if (rc) return appendConsole(rc[1], m);
  if (m.topic.startsWith("sensor/")) {
    S.samples += m.values?.length ?? 0;
    S.gaps += m.gap || 0;
  }
  const p = S.plots.get(m.topic);
  if (p) p.push(m.header, m.values);
  else if (m.topic === "bridge/room/") {
    if (onRoomEvent(m) !== "assigned") refreshRoom();
  } else if (m.topic === "bridge/queue/" && S.tab === "prints") refreshQueue();
  else if (m.topic === "bridge/scans/" && S.tab === "scans") refreshScans();
  else if (m.topic === "bridge/devices/") {
    loadSensors();
    if (S.tab === "room") refreshRoomTable();
  }
}

// ---------------------------------------------------------------- start

// Large text for the projector, kept in localStorage.
function setBigText(on) {
  document.documentElement.classList.toggle("big", on);
  $("#big-text").setAttribute("aria-pressed", String(on));
  localStorage.setItem("lb.big", on ? "1" : "0");
}

// The #pair=CODE and #device=ID of the page's address (either, or both joined by "&").
function readHash() {
  const pair = /(?:^#|&)pair=([A-Za-z0-9 -]{1,16})(?:&|$)/.exec(location.hash)?.[1];
  const device = /(?:^#|&)device=([A-Za-z0-9_.:-]{1,64})(?:&|$)/.exec(location.hash)?.[1];
  if (pair || device) history.replaceState(null, "", location.pathname + location.search);
  return { pair, device };
}

function onHash() {
  const { pair, device } = readHash();
  if (device) sessionStorage.setItem(DEVICE_KEY, device);
  if (pair) {
    $("#pair").hidden = false;
    $("#pair-code").value = pair;
    doPair(pair);
  } else if (device && S.me) {
    sessionStorage.removeItem(DEVICE_KEY);
    goToDevice(device);
  }
  return pair;
}

function setup() {
  translate();
  document.documentElement.lang = currentLang();
  setBigText(localStorage.getItem("lb.big") === "1");
  $("#big-text").addEventListener("click", () => setBigText(!document.documentElement.classList.contains("big")));
  $("#lang").addEventListener("click", () => {
    setLang(currentLang() === "fr" ? "en" : "fr");
    if (S.me) $("#who").textContent = t("who", { name: S.me.name, role: t("role_" + S.me.role) });
    closeConsoles();
    S.robotCards.clear();
    $("#robots").textContent = "";
    S.consoles.clear();
    S.roomRows.clear();
    $("#health tbody").textContent = "";
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
  $("#projector-close").addEventListener("click", closeProjector);
  document.addEventListener("keydown", (e) => e.key === "Escape" && !$("#projector").hidden && closeProjector());
  window.addEventListener("hashchange", onHash);
  setupPlotControls();
  Object.assign(hooks, { poll, openStream, selectTab });
  api.setOnUnauthorized(() => showPairing(t("session_over")));
  requestAnimationFrame(frame);

  if (onHash()) return;
  if (api.token()) api.session().then(enter, () => showPairing());
  else showPairing();
}

setup();
