// common.js - what every screen of the page shares: its state S, DOM helpers, messages, and
// the names shown for owners (never a raw id such as web:p3.ab12).
import { t } from "./i18n.js";
import { call } from "./api.js";

export const $ = (sel, root = document) => root.querySelector(sel);

// Everything the page knows; window.labbridge exposes it to the browser tests.
export const S = {
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
  consoleStreams: new Map(), // robot id -> a student's EventSource on its console (while held)
  retryMs: 1000,
  thumbs: new Map(), // print job id -> ImageBitmap | null
  results: new Map(), // scan job id -> [{name, size}]
  names: new Map(JSON.parse(localStorage.getItem("lb.names") || "[]")), // user -> display name
  roomRows: new Map(), // device id -> the room table's row {tr, update}
  groups: [], // room.assignments' groups (null: the bridge has no room.assign)
  focusDevice: null, // #device=ID: the row to highlight, the robot to land on
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

// Functions of app.js the screens call back (set by app.js: no import cycle).
export const hooks = { poll: () => {}, openStream: () => {}, selectTab: () => {} };

// Show a message in the status line (errors in red).
export function say(text, isError = false) {
  const m = $("#msg");
  m.textContent = text;
  m.classList.toggle("error", isError);
}

// A message of the bridge for people: raw identities in it (web:p3.ab12, key:..., unix:...)
// replaced by their names, or dropped when they only repeat a name given before them.
export function plain(msg) {
  return String(msg ?? "")
    .replace(/\s*\((?:web|key|unix):[^)\s]*\)/g, "")
    .replace(/\b(?:web|key|unix):[A-Za-z0-9._=+/-]+/g, (id) => ownerName(id));
}

// Run an async action, showing its error instead of throwing (no unhandled rejection).
export async function safely(fn) {
  try {
    return await fn();
  } catch (e) {
    say(t("error", { msg: plain(e.message || String(e)) }), true);
    return undefined;
  }
}

// An element: el("button", {type: "button", class: "x", onclick}, "text" | [children]).
export function el(tag, attrs = {}, content) {
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

export const isTeacher = () => S.me?.role === "teacher";
export const mayWrite = () => S.me && S.me.role !== "observer";

// Remember that user is called name (a lease's or a pairing's display name); kept across reloads.
export function learnName(user, name) {
  if (!user || !name || S.names.get(user) === name) return;
  S.names.set(user, name);
  localStorage.setItem("lb.names", JSON.stringify([...S.names].slice(-200)));
}

// Who user is, for people: "you", the name given (a lease's), a name the page learned (pairings,
// keys, leases), else a short neutral label by the kind of identity; never the raw id.
export function ownerName(user, name) {
  if (!user) return name || "";
  if (user === S.me?.user) return t("you");
  if (name) return name;
  const known = S.names.get(user);
  if (known) return known;
  const colon = user.indexOf(":");
  if (colon < 0) return user; // already a name (a local client's label)
  const [kind, rest] = [user.slice(0, colon), user.slice(colon + 1)];
  if (kind === "unix" && /^[a-z_][a-z0-9_.-]{0,31}$/i.test(rest)) return t("owner_unix", { user: rest });
  if (kind === "key") return t("owner_key");
  if (kind === "web") return t("owner_web");
  return t("owner_other");
}

// Learn the names of pairings and network keys (teachers may list them; others keep what the
// leases told them).
// At most once in 10 s (now: performance.now()).
let namesAt = -Infinity;
export async function learnNames(now) {
  if (!isTeacher() || now - namesAt < 10000) return;
  namesAt = now;
  try {
    for (const x of (await call("pair.list")).pairings || []) learnName("web:" + x.id, x.name);
  } catch {
    /* no pairings to name */
  }
  try {
    for (const k of (await call("keys.list")).keys || []) if (k.public_key) learnName("key:" + k.public_key, k.name);
  } catch {
    /* no keys to name */
  }
}
