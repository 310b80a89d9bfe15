// robots.js - the "Robots" screen: each robot's card (its holder, take/release, the drive pad, a
// program and its live console), and the leases this page holds.
import { t } from "./i18n.js";
import * as api from "./api.js";
import { $, S, el, say, safely, isTeacher, mayWrite, ownerName, learnName, plain, hooks } from "./common.js";

// A robot's lease lasts 6 s and is renewed at every poll (2 s): a tablet that goes away (closed,
// asleep, out of Wi-Fi) stops its robot within 6 s through the bridge's dead-man.
export const LEASE_MS = 6000;
const takenAt = new Map(); // robot id -> performance.now() when this page took its lease

// The robots' cards, created once and updated in place.
export async function refreshRobots() {
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
  if (S.focusDevice && S.robotCards.has(S.focusDevice)) {
    const root = S.robotCards.get(S.focusDevice).root;
    S.focusDevice = null;
    root.classList.add("highlight");
    root.scrollIntoView({ block: "center" });
    (root.querySelector(".pad .f:not([hidden])") ?? root).focus?.();
  }
  // a teacher's stream follows the robots' consoles
  if (isTeacher() && S.consoles.size && !S.streamTopics.includes(`robot/${[...S.consoles.keys()].at(-1)}/console/`)) hooks.openStream();
}

// The refusal of a lease as a sentence for people (assigned to another group, leased...).
export function leaseRefusal(e) {
  if (e.code === "assigned" || e.code === 1012) {
    const group = /assigned to (.+?)(?:;|$)/.exec(e.message ?? "")?.[1];
    return group ? t("lease_assigned_to", { group }) : t("lease_assigned");
  }
  if (e.code === "leased" || e.code === 1003) {
    const who = /leased by (.+?)(?: \(| for |$)/.exec(e.message ?? "")?.[1];
    return who ? t("lease_leased_by", { name: plain(who) }) : t("lease_leased");
  }
  if (e.code === "room_stopped" || e.code === 1009) return t("lease_room_stopped");
  return t("error", { msg: plain(e.message || String(e.code)) });
}

// Take device's lease for this page (force: a teacher taking it over); throws the ApiError.
export async function takeLease(device, force = false) {
  const l = await api.call("lease.acquire", { device, ttl_ms: LEASE_MS, force });
  S.held.add(device);
  takenAt.set(device, performance.now());
  openConsole(device);
  return l;
}

// Forget the lease of device (released, expired or taken over): its console stream closes.
function dropLease(device, reason) {
  S.held.delete(device);
  closeConsole(device, reason);
}

// A student's live console of a robot it holds: its own stream of robot/<id>/console/ (the
// bridge allows it to the lease's holder), closed with a reason on `revoked`.
function openConsole(id) {
  if (isTeacher() || S.consoleStreams.has(id)) return;
  const pre = S.robotCards.get(id)?.cons;
  if (pre) pre.textContent = "";
  const es = api.stream(
    [`robot/${id}/console/`],
    (m) => appendConsole(id, m),
    () => {
      if (es.readyState === EventSource.CLOSED && S.consoleStreams.get(id) === es) closeConsole(id, t("console_refused"));
    },
    { revoked: (d) => closeConsole(id, d?.reason ?? "") },
  );
  S.consoleStreams.set(id, es);
}

function closeConsole(id, reason) {
  const es = S.consoleStreams.get(id);
  if (!es) return;
  es.close();
  S.consoleStreams.delete(id);
  const pre = S.robotCards.get(id)?.cons;
  if (pre) pre.textContent += t("console_closed", { reason: reason || "-" }) + "\n";
}

// Close every student console stream (leaving, switching language).
export function closeConsoles() {
  for (const [id, es] of S.consoleStreams) {
    es.close();
    S.consoleStreams.delete(id);
  }
}

// A console message of robot id: its text at the end of the card's console.
export function appendConsole(id, m) {
  const pre = S.consoles.get(id) ?? S.robotCards.get(id)?.cons;
  const text = m.header?.data?.text ?? m.header?.data?.line;
  if (pre && text) pre.textContent = (pre.textContent + text).slice(-8000);
}

function robotCard(r) {
  const id = r.device;
  const state = el("span");
  const owner = el("span", { class: "owner" });
  let last = r;
  const take = el("button", { type: "button", class: "writer", onclick: () => safely(async () => {
    // a teacher takes a robot another group holds over (force); the bridge refuses it to others
    try {
      await takeLease(id, isTeacher() && !!last.owner);
    } catch (e) {
      say(leaseRefusal(e), true);
      return;
    }
    refreshRobots();
  }) }, t("take"));
  const release = el("button", { type: "button", onclick: () => safely(async () => {
    dropLease(id, t("released"));
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
  const prog = el("div", {}, [el("h4", {}, t("program")), el("div", { class: "row" }, [lang, run]), source]);
  if (!langs.length) prog.hidden = true;
  const controls = el("div", {}, [pad, prog, el("h4", {}, t("console")), cons]);
  const root = el("article", { class: "card", "data-robot": id, tabindex: "-1" }, [
    el("h3", {}, `${r.name || id}`),
    el("p", {}, [el("span", {}, `${r.driver} · `), state, el("span", {}, ` · ${t("owner")} : `), owner]),
    el("div", { class: "row" }, [take, release]),
    controls,
  ]);
  if (isTeacher()) S.consoles.set(id, cons);
  return {
    root,
    cons,
    update(x) {
      last = x;
      state.textContent = x.state ?? "";
      learnName(x.owner, x.owner_name);
      // held by this page: taken here, and the bridge still names this session's user (a teacher
      // who took it over, or an expired lease, ends it)
      // (a robot.list sent before the take answered is not believed)
      if (S.held.has(id) && x.owner !== S.me.user && performance.now() - (takenAt.get(id) ?? 0) > 3000) dropLease(id, t("lease_lost"));
      const mine = S.held.has(id);
      owner.textContent = mine ? t("you") : x.owner ? ownerName(x.owner, x.owner_name) : t("free");
      take.hidden = !mayWrite() || !!mine || (!!x.owner && !isTeacher());
      release.hidden = !mine;
      controls.hidden = !mine;
      if (mine && !isTeacher() && !S.consoleStreams.has(id) && !cons.textContent) openConsole(id);
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

// Renew the leases this page holds; one the bridge refuses is dropped.
export async function renewLeases() {
  for (const id of S.held)
    try {
      await api.call("lease.acquire", { device: id, ttl_ms: LEASE_MS });
    } catch (e) {
      say(leaseRefusal(e), true);
      if (e.status === 200) dropLease(id, e.message); // the bridge refused it (not the network)
    }
}
