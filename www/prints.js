// prints.js - the "Impressions" and "Scans" screens: the print queue (progress, thumbnails, the
// teacher's approve/cancel/reorder), uploads, the scanners and the scans' results.
import { t } from "./i18n.js";
import * as api from "./api.js";
import { $, S, el, safely, isTeacher, mayWrite, ownerName, learnNames } from "./common.js";

const CHUNK = 256 * 1024;

export async function loadPresets() {
  const p = await safely(() => api.call("print.presets"));
  const sel = $("#upload-preset");
  sel.textContent = "";
  for (const x of p?.presets || []) sel.append(el("option", { value: x.name, selected: x.name === p.default }, x.name));
}

function jobState(j) {
  return t("state_" + j.state) === "state_" + j.state ? j.state : t("state_" + j.state);
}

export async function refreshQueue() {
  const jobs = await safely(() => api.call("print.queue"));
  if (!jobs) return;
  await learnNames(performance.now());
  const ul = $("#queue");
  ul.textContent = "";
  if (!jobs.length) ul.append(el("li", {}, t("queue_empty")));
  const waiting = jobs.filter((j) => j.state === "approved");
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
      el("p", {}, [
        el("span", { class: "owner" }, ownerName(j.owner)),
        ` · ${jobState(j)}${j.state === "slicing" ? " · " + t("slicing", { pct: Math.round(pct ?? 0) }) : ""}${j.assigned ? " · " + j.assigned : ""}${j.position ? " · #" + j.position : ""}`,
      ]),
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

export async function upload(ev) {
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

export async function refreshScans() {
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
  await learnNames(performance.now());
  const jobs = [...(open || []), ...(done || []).slice(0, 10)].filter((j) => isTeacher() || j.owner === S.me.user);
  const ul = $("#scan-jobs");
  ul.textContent = "";
  for (const j of jobs) {
    const frac = j.progress?.fraction;
    const links = el("div", { class: "row" });
    const li = el("li", { class: "card", "data-job": j.id, "data-state": j.state }, [
      el("h3", {}, `${j.label || "scan"} #${j.id}`),
      el("p", {}, [
        isTeacher() ? el("span", { class: "owner" }, ownerName(j.owner) + " · ") : null,
        `${j.assigned ?? j.device ?? ""} · ${t("job_" + j.state) === "job_" + j.state ? j.state : t("job_" + j.state)}`,
      ]),
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
