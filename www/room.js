// room.js - the teacher's "Salle" screen: every device of the room with its state, who holds it
// now and the group it is assigned to (changed from here at once), and the pairing codes shown
// big with their QR code in a projector view.
import { t } from "./i18n.js";
import * as api from "./api.js";
import { $, S, el, say, safely, isTeacher, ownerName, learnName, learnNames, plain } from "./common.js";

// Refresh the room table: one row per device, updated in place (a select being used keeps its
// focus and value).
export async function refreshRoomTable() {
  if (!isTeacher()) return;
  const [devs, asg] = await Promise.all([
    safely(() => api.call("devices.list", { all: true })),
    api.call("room.assignments").catch(() => null), // null: a bridge without room.assign
  ]);
  if (!devs) return;
  await learnNames(performance.now());
  S.groups = asg ? asg.groups || [] : null;
  const since = new Map((asg?.assignments || []).map((a) => [a.device, a]));
  const body = $("#health tbody");
  const seen = new Set();
  for (const d of devs) {
    seen.add(d.id);
    let row = S.roomRows.get(d.id);
    if (!row) {
      row = roomRow(d.id);
      S.roomRows.set(d.id, row);
    }
    if (row.tr.parentNode !== body) body.append(row.tr); // moving a row would take its select's focus
    row.update(d, since.get(d.id));
  }
  for (const [id, row] of S.roomRows)
    if (!seen.has(id)) {
      row.tr.remove();
      S.roomRows.delete(id);
    }
  if (S.focusDevice && isTeacher()) focusRow(S.focusDevice);
}

// Highlight device's row (the QR label of a device scanned) and focus its group select.
function focusRow(id) {
  const row = S.roomRows.get(id);
  if (!row) return;
  S.focusDevice = null;
  for (const r of S.roomRows.values()) r.tr.classList.remove("highlight");
  row.tr.classList.add("highlight");
  row.tr.scrollIntoView({ block: "center" });
  row.group.focus();
}

function roomRow(id) {
  const cells = {};
  for (const k of ["kind", "device", "state", "holder", "group", "detail"]) cells[k] = el("td", { class: k });
  const tr = el("tr", { "data-device": id }, Object.values(cells));
  const group = el("select", { "aria-label": t("group_of", { device: id }), class: "group" });
  let current = null;
  group.addEventListener("change", () => safely(async () => {
    const g = group.value || null;
    try {
      const r = await api.call("room.assign", { device: id, group: g });
      current = r.group ?? null;
      const said = g ? t("assigned_to", { device: id, group: g }) : t("assigned_none", { device: id });
      say(r.released ? `${said} ${t("assigned_released", { name: plain(r.released) })}` : said);
    } catch (e) {
      group.value = current ?? "";
      throw e;
    }
    refreshRoomTable();
  }));
  cells.group.append(group);
  return {
    tr,
    group,
    update(d, a) {
      const bad = d.available === false || d.state === "failed";
      tr.classList.toggle("bad", bad);
      cells.kind.textContent = t("kind_" + d.kind) === "kind_" + d.kind ? d.kind : t("kind_" + d.kind);
      const model = [d.name && d.name !== d.id ? d.name : null, d.config?.model ?? d.model].filter(Boolean).join(" · ");
      cells.device.textContent = "";
      cells.device.append(el("strong", {}, d.id), model ? el("small", {}, model) : null);
      cells.state.textContent = d.state ?? (d.available === false ? t("absent") : "");
      if (d.lease) learnName(d.lease.holder, d.lease.name);
      cells.holder.textContent = d.lease ? ownerName(d.lease.holder, d.lease.name) : "—";
      const errs = (d.streams || []).filter((s) => s.error).map((s) => `${s.name}: ${s.error.message}`);
      cells.detail.textContent = [d.reason, d.config?.firmware, ...errs].filter(Boolean).join(" · ");
      // the group: from devices.list's `assigned`, or room.assignments
      current = d.assigned ?? a?.group ?? null;
      group.hidden = S.groups === null;
      if (S.groups === null) cells.group.dataset.none = t("assign_unavailable");
      else delete cells.group.dataset.none;
      if (document.activeElement === group && group.options.length) return; // being chosen
      const names = [...new Set([...(S.groups || []), ...(current ? [current] : [])])];
      if (group.dataset.names !== names.join("\n") || group.options.length === 0) {
        group.dataset.names = names.join("\n");
        group.textContent = "";
        group.append(el("option", { value: "" }, t("no_group")), ...names.map((n) => el("option", { value: n }, n)));
      }
      group.value = current ?? "";
    },
  };
}

// A bridge's event on bridge/room/: an assignment changed (refresh the table).
export function onRoomEvent(m) {
  const ev = m.header?.data?.event ?? m.header?.event;
  if (ev === "assigned" && S.tab === "room") refreshRoomTable();
  return ev;
}

// Parse an SVG document (pair.new's qr_svg) into an element of this page (DOMParser and
// importNode: no inline markup, CSP-safe); null when it is not an SVG. Scripts, foreign objects
// and event attributes are removed.
export function svgElement(text) {
  if (typeof text !== "string" || text.length > 200000) return null;
  const doc = new DOMParser().parseFromString(text, "image/svg+xml");
  const root = doc.documentElement;
  if (!root || root.nodeName !== "svg" || doc.querySelector("parsererror")) return null;
  for (const x of root.querySelectorAll("script, foreignObject, a, image, use")) x.remove();
  for (const x of [root, ...root.querySelectorAll("*")])
    for (const at of [...x.attributes]) if (/^on/i.test(at.name) || /href$/i.test(at.name)) x.removeAttribute(at.name);
  const svg = document.importNode(root, true);
  if (!svg.getAttribute("viewBox") && svg.getAttribute("width") && svg.getAttribute("height"))
    svg.setAttribute("viewBox", `0 0 ${parseFloat(svg.getAttribute("width"))} ${parseFloat(svg.getAttribute("height"))}`);
  svg.removeAttribute("width");
  svg.removeAttribute("height");
  svg.setAttribute("role", "img");
  return svg;
}

// The code of a pairing for people: "K7Q M2X".
const spaced = (code) => code.slice(0, 3) + " " + code.slice(3);

// Make a pairing code and show it: large code, its URL and QR code, and the projector view.
export async function newPairing(ev) {
  ev.preventDefault();
  const r = await api.call("pair.new", { name: $("#pn-name").value, role: $("#pn-role").value, uses: Number($("#pn-uses").value) || 1 });
  learnName("web:" + r.id, r.name);
  S.lastPairing = r;
  const shown = $("#pair-shown");
  shown.textContent = "";
  const qr = svgElement(r.qr_svg);
  if (qr) shown.append(el("div", { class: "qr" }, [qr]));
  shown.append(
    el("span", { "data-code": r.code, class: "code" }, spaced(r.code)),
    el("small", {}, `${r.name} · ${t("role_" + r.role)}`),
    el("small", { class: "url" }, r.url),
    el("button", { type: "button", id: "projector-open", onclick: () => showProjector(r) }, t("projector")),
  );
}

// The projector view: the code's QR, the code in large letters and the URL, full screen.
export function showProjector(r) {
  const box = $("#projector");
  const body = $("#projector-body");
  body.textContent = "";
  const qr = svgElement(r.qr_svg);
  if (qr) body.append(el("div", { class: "qr" }, [qr]));
  body.append(
    el("div", { class: "proj-text" }, [
      el("p", { class: "proj-help" }, t("projector_help")),
      el("p", { class: "code", "data-code": r.code }, spaced(r.code)),
      el("p", { class: "proj-name" }, `${r.name} · ${t("role_" + r.role)}`),
      el("p", { class: "url" }, r.url),
    ]),
  );
  box.hidden = false;
  document.body.classList.add("projecting");
  $("#projector-close").focus();
  box.requestFullscreen?.().catch(() => {}); // refused without a user gesture: the view fills the window anyway
}

export function closeProjector() {
  $("#projector").hidden = true;
  document.body.classList.remove("projecting");
  if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
  $("#projector-open")?.focus();
}
