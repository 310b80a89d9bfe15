// plots.js - the "Mesures" screen: the room's sensors as live plots (pause, window, zoom), CSV
// downloads (the French option) and synchronised recordings.
import { t, currentLang } from "./i18n.js";
import * as api from "./api.js";
import { Plot } from "./plot.js";
import { $, S, el, say, safely } from "./common.js";

const WINDOWS = [5, 10, 30, 60, 300];

// List the sensors' numeric streams and (re)build the plots when they changed.
export async function loadSensors() {
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

// Choose the streams of device (a sensor reached by #device=ID) and show them.
export function chooseDevice(device) {
  const mine = S.streams.filter((s) => s.device === device).map((s) => s.topic);
  if (!mine.length) return false;
  S.chosen = new Set(mine);
  for (const b of document.querySelectorAll("#sensor-list input")) b.checked = S.chosen.has(b.value);
  buildPlots();
  return true;
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

// Draw the plots at each animation frame; the first live values drawn mark the page ready for a
// paired session ("lb-first-plot", "lb-ready": tests/bench/page_load.py).
export function frame() {
  for (const p of S.plots.values()) {
    p.draw();
    if (p.drawn && S.firstPlotMs === null) {
      S.firstPlotMs = performance.now();
      performance.mark("lb-first-plot");
      performance.mark("lb-ready");
    }
  }
  requestAnimationFrame(frame);
}

export function setupPlotControls() {
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
