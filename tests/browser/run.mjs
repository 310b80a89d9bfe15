// run.mjs - drives Debian's chromium headless (playwright-core, no browser download) through the
// bridge's web page, one scenario per argument, printing one JSON verdict per line on stdout:
//   node run.mjs --url http://127.0.0.1:PORT/ --out DIR [--chromium PATH] SCENARIO[:ARG...]...
// Scenarios: load (no code), observer:CODE, student:CODE, teacher:CODE, and one per feature of the
// classroom page: layout:TEACHER, room:TEACHER:STUDENT:GROUP2, device:TEACHER:STUDENT:STUDENT2:ID,
// projector:TEACHER, console:STUDENT:TEACHER (CODEs of pairings; GROUP2 a second group's name).
// Exit status 0 when every verdict is ok.
import { chromium } from "playwright-core";
import path from "node:path";
import fs from "node:fs";

const args = process.argv.slice(2);
const opt = { url: null, out: ".", chromium: "/usr/bin/chromium", job: "browser-test.gcode" };
const scenarios = [];
for (let i = 0; i < args.length; i++) {
  if (args[i].startsWith("--")) opt[args[i].slice(2)] = args[++i];
  else scenarios.push(args[i]);
}
const origin = new URL(opt.url).origin;
const TIMEOUT = 15000;

function verdict(v) {
  process.stdout.write(JSON.stringify(v) + "\n");
}

// A page in its own context, with its console errors, page errors and foreign requests logged.
async function open(browser, name, viewport = { width: 1024, height: 768 }) {
  const context = await browser.newContext({ viewport, hasTouch: true });
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  const log = { errors: [], foreign: [], requests: 0 };
  page.on("console", (m) => m.type() === "error" && log.errors.push(`${name} console: ${m.text()}`));
  page.on("pageerror", (e) => log.errors.push(`${name} pageerror: ${e.message}`));
  page.on("request", (r) => {
    log.requests++;
    const u = r.url();
    if (!u.startsWith(origin + "/") && !u.startsWith("blob:") && !u.startsWith("data:")) log.foreign.push(u);
  });
  return { context, page, log };
}

async function shot(page, name, fullPage = true) {
  const file = path.join(opt.out, `${name}.png`);
  await page.screenshot({ path: file, fullPage });
  return file;
}

// Milliseconds from navigation start to a performance mark, or null.
function markMs(page, mark) {
  return page.evaluate((m) => performance.getEntriesByName(m)[0]?.startTime ?? null, mark);
}

async function pairWith(page, code) {
  await page.goto(opt.url + "#pair=" + code);
  await page.locator("#app").waitFor({ state: "visible" });
}

const SIZES = { landscape: { width: 1024, height: 768 }, portrait: { width: 768, height: 1024 } };

// The page's layout at its present size: horizontal overflow (scrollWidth - clientWidth), the
// visible buttons, selects and inputs smaller than 44 x 44 CSS px (Playwright's boundingBox; a
// checkbox counts its label, the whole chip being its touch target) and those cut by the right
// edge. Returns {overflow, small: [...], cut: [...], checked: N}.
async function layout(page) {
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  const width = page.viewportSize().width;
  const small = [];
  const cut = [];
  const all = page.locator("button:visible, select:visible, input:visible, textarea:visible, a.button:visible");
  const n = await all.count();
  for (let i = 0; i < n; i++) {
    const e = all.nth(i);
    const info = await e.evaluate((x) => ({
      name: x.id || x.getAttribute("aria-label") || x.textContent.trim().slice(0, 20) || x.tagName,
      box: x.type === "checkbox" && x.closest("label") ? "label" : "self",
      inProjector: !!x.closest("#projector"),
    }));
    const b = info.box === "label" ? await e.locator("xpath=ancestor::label[1]").boundingBox() : await e.boundingBox();
    if (!b) continue;
    if (b.width < 44 || b.height < 44) small.push(`${info.name} ${Math.round(b.width)}x${Math.round(b.height)}`);
    if (b.x < -1 || b.x + b.width > width + 1) cut.push(`${info.name} x=${Math.round(b.x)} w=${Math.round(b.width)}`);
  }
  return { overflow, small, cut, checked: n };
}

// Wait until the screen of tab shows its content.
async function showTab(page, tab) {
  await page.click(`[data-tab=${tab}]`);
  const sel = { plots: "#plots canvas", robots: "[data-robot]", prints: "#upload", scans: "#scanners .card", room: "#health tbody tr" }[tab];
  await page.locator(sel).first().waitFor({ state: "visible" });
}

// The visible text of the page holds no raw identity (web:p1.ab12, key:..., unix:...).
function rawIds(page) {
  return page.evaluate(() => (document.body.innerText.match(/\b(?:web|key|unix):[A-Za-z0-9._=+\/-]+/g) || []));
}

const SCENARIOS = {
  // Tablet and projector: at 1024x768 and 768x1024, normal and large text, every screen of a
  // teacher (who sees all of them) and the pairing screen: no horizontal scroll, nothing cut,
  // every control at least 44 x 44 px; the large text survives a reload (localStorage).
  async layout(browser, code) {
    const files = [];
    const results = {};
    const fresh = await open(browser, "layout-pairing", SIZES.portrait);
    await fresh.page.goto(opt.url);
    await fresh.page.locator("#pair-code").waitFor({ state: "visible" });
    for (const [size, vp] of Object.entries(SIZES)) {
      await fresh.page.setViewportSize(vp);
      results[`pairing-${size}`] = await layout(fresh.page);
      files.push(await shot(fresh.page, `layout-pairing-${size}`));
    }
    await fresh.context.close();
    const { context, page, log } = await open(browser, "layout");
    await pairWith(page, code);
    // a robot's controls (pad, program, console) shown, and a pairing code in the room screen
    await showTab(page, "robots");
    const mp = page.locator("[data-robot]", { hasText: "MicroPython" }).first();
    await mp.locator("button.writer").click();
    await mp.locator("textarea").waitFor({ state: "visible" });
    await showTab(page, "room");
    await page.fill("#pn-name", "5B groupe 9");
    await page.click("#pair-new button[type=submit]");
    await page.locator("#pair-shown [data-code]").waitFor({ state: "visible" });
    let bigAfterReload = null;
    for (const big of [false, true]) {
      if (big) {
        await page.click("#big-text");
        await page.reload();
        await page.locator("#app").waitFor({ state: "visible" });
        bigAfterReload = await page.evaluate(() => document.documentElement.classList.contains("big") && document.querySelector("#big-text").getAttribute("aria-pressed") === "true");
        await showTab(page, "robots");
        const again = page.locator("[data-robot]", { hasText: "MicroPython" }).first();
        if (await again.locator("button.writer").isVisible()) await again.locator("button.writer").click();
        await again.locator("textarea").waitFor({ state: "visible" });
      }
      for (const [size, vp] of Object.entries(SIZES)) {
        await page.setViewportSize(vp);
        for (const tab of ["plots", "robots", "prints", "scans", "room"]) {
          await showTab(page, tab);
          const k = `${tab}-${size}${big ? "-big" : ""}`;
          results[k] = await layout(page);
          files.push(await shot(page, `layout-${k}`));
        }
      }
    }
    await page.click("#big-text"); // back to normal text for the next scenarios of this browser
    await context.close();
    const bad = Object.entries(results).filter(([, r]) => r.overflow > 0 || r.small.length || r.cut.length);
    const checks = {
      no_horizontal_scroll: Object.values(results).every((r) => r.overflow <= 0),
      touch_targets_44px: Object.values(results).every((r) => r.small.length === 0),
      nothing_cut: Object.values(results).every((r) => r.cut.length === 0),
      controls_checked: Object.values(results).every((r) => r.checked > 0),
      large_text_persisted: bigAfterReload === true,
      no_console_error: log.errors.length === 0,
      no_external_request: log.foreign.length === 0,
    };
    return { checks, bad: Object.fromEntries(bad), errors: log.errors, screenshots: files };
  },

  // The teacher's room screen: every device in one table with who holds it now (the pairing's
  // name, never a raw id), its group chosen from room.assignments' groups and applied at once
  // (room.assign); a student of another group is then refused the device, in French.
  async room(browser, teacherCode, studentCode, group2) {
    const st = await open(browser, "room-student");
    await pairWith(st.page, studentCode);
    await showTab(st.page, "robots");
    const robot = st.page.locator("[data-robot]").first();
    const robotId = await robot.getAttribute("data-robot");
    await robot.locator("button.writer").click();
    await robot.locator(".pad .f").waitFor({ state: "visible" });
    const studentName = (await st.page.locator("#who").textContent()).replace(/^.*: /, "").replace(/ \(.*$/, "");
    const other = st.page.locator(`[data-robot]:not([data-robot="${robotId}"])`).first();
    const otherId = await other.getAttribute("data-robot");
    const { context, page, log } = await open(browser, "room");
    await pairWith(page, teacherCode);
    await showTab(page, "room");
    const row = page.locator(`#health tr[data-device="${robotId}"]`);
    await row.waitFor({ state: "visible" });
    const devices = await page.locator("#health tbody tr").count();
    await page.waitForFunction(([id, name]) => document.querySelector(`#health tr[data-device="${id}"] td.holder`)?.textContent === name, [robotId, studentName]);
    const holder = await row.locator("td.holder").textContent();
    // the other robot to the second group, from its select; the table shows it at once
    const sel = page.locator(`#health tr[data-device="${otherId}"] select.group`);
    await sel.waitFor({ state: "visible" });
    const options = await sel.locator("option").allTextContents();
    await sel.selectOption(group2);
    await page.waitForFunction(([id, g]) => document.querySelector(`#health tr[data-device="${id}"] select.group`).value === g && /\S/.test(document.querySelector("#msg").textContent), [otherId, group2]);
    const assignedMsg = await page.locator("#msg").textContent();
    const raw = await rawIds(page);
    const files = [await shot(page, "room-assigned")];
    // the student (another group) tries to take it: refused, said in French
    await showTab(st.page, "robots");
    await st.page.waitForFunction((id) => !!document.querySelector(`[data-robot="${id}"]`), otherId);
    const take = st.page.locator(`[data-robot="${otherId}"] button.writer`);
    let refusal = "";
    if (await take.isVisible()) {
      await take.click();
      await st.page.locator("#msg.error").waitFor({ state: "visible" });
      refusal = await st.page.locator("#msg").textContent();
    }
    files.push(await shot(st.page, "room-student-refused"));
    // the teacher clears it: "no group"
    await sel.selectOption("");
    await page.waitForFunction((id) => document.querySelector(`#health tr[data-device="${id}"] select.group`).value === "", otherId);
    const cleared = await page.evaluate((id) => document.querySelector(`#health tr[data-device="${id}"] select.group`).value, otherId);
    await st.context.close();
    await context.close();
    const checks = {
      every_device: devices >= 2,
      holder_by_name: holder === studentName,
      no_raw_id: raw.length === 0,
      groups_offered: options.includes(group2) && options.length >= 2,
      assigned_at_once: assignedMsg.includes(group2),
      refused_in_french: /confié à un autre groupe/.test(refusal),
      cleared: cleared === "",
      no_console_error: log.errors.length === 0 && st.log.errors.length === 0,
    };
    return { checks, holder, studentName, options, refusal, raw, errors: [...log.errors, ...st.log.errors], screenshots: files };
  },

  // #device=ID (a device's QR label): a teacher lands on its row, highlighted, its group select
  // focused; a student who pairs after opening it gets its lease and its card; a second student
  // is told, in French, that another group uses it.
  async device(browser, teacherCode, studentCode, student2Code, id) {
    const files = [];
    const te = await open(browser, "device-teacher");
    await te.page.goto(opt.url + `#pair=${teacherCode}&device=${id}`);
    await te.page.locator(`#health tr.highlight[data-device="${id}"]`).waitFor({ state: "visible" });
    const focused = await te.page.evaluate(() => document.activeElement?.matches("select.group") && document.activeElement.closest("tr")?.dataset.device);
    const roomTab = await te.page.locator("#tab-room").isVisible();
    files.push(await shot(te.page, "device-teacher"));
    await te.context.close();
    // a student: the label's link first, the pairing code next
    const st = await open(browser, "device-student");
    await st.page.goto(opt.url + `#device=${id}`);
    await st.page.locator("#pair-code").waitFor({ state: "visible" });
    await st.page.fill("#pair-code", studentCode);
    await st.page.click("#pair-form button[type=submit]");
    const card = st.page.locator(`[data-robot="${id}"].highlight`);
    await card.waitFor({ state: "visible" });
    await card.locator(".pad .f").waitFor({ state: "visible" });
    const held = await st.page.evaluate((d) => window.labbridge.held.has(d), id);
    files.push(await shot(st.page, "device-student"));
    // another group's tablet opens the same label: refused, said so
    const st2 = await open(browser, "device-student2");
    await st2.page.goto(opt.url + `#pair=${student2Code}&device=${id}`);
    await st2.page.locator("#msg.error").waitFor({ state: "visible" });
    const refusal = await st2.page.locator("#msg").textContent();
    const tab2 = (await st2.page.locator("[data-tab=robots]").getAttribute("aria-selected")) === "true";
    files.push(await shot(st2.page, "device-student2"));
    // the same label again, the page in English: the refusal in English
    await st2.page.click("#lang");
    await st2.page.evaluate((d) => (location.hash = "device=" + d), id);
    await st2.page.waitForFunction(() => /Another group|another group/.test(document.querySelector("#msg").textContent));
    const refusalEn = await st2.page.locator("#msg").textContent();
    await st2.page.click("#lang");
    await st2.context.close();
    await st.context.close();
    const errors = [...te.log.errors, ...st.log.errors, ...st2.log.errors];
    const checks = {
      teacher_on_room: roomTab,
      teacher_select_focused: focused === id,
      student_holds_it: held,
      student_refused_said: /Un autre groupe utilise déjà cet appareil|confié à un autre groupe/.test(refusal),
      refused_in_english: /Another group is already using this device|assigned to another group/.test(refusalEn),
      refused_on_robots: tab2,
      no_console_error: errors.length === 0,
    };
    return { checks, refusal, refusalEn, errors, screenshots: files };
  },

  // The pairing code for the projector: its QR code (pair.new's qr_svg, inserted CSP-safe), the
  // code in large letters and the URL, full screen, at both sizes.
  async projector(browser, code) {
    const { context, page, log } = await open(browser, "projector");
    await pairWith(page, code);
    await showTab(page, "room");
    await page.fill("#pn-name", "5B groupe 5");
    await page.click("#pair-new button[type=submit]");
    await page.locator("#pair-shown [data-code]").waitFor({ state: "visible" });
    const qrInline = await page.locator("#pair-shown .qr svg").count();
    await page.click("#projector-open");
    await page.locator("#projector").waitFor({ state: "visible" });
    const files = [];
    const sizes = {};
    for (const [size, vp] of Object.entries(SIZES)) {
      await page.setViewportSize(vp);
      const qr = (await page.locator("#projector .qr svg").count()) ? await page.locator("#projector .qr svg").boundingBox() : null;
      const codeBox = await page.locator("#projector .code").boundingBox();
      const fontPx = await page.locator("#projector .code").evaluate((e) => parseFloat(getComputedStyle(e).fontSize));
      const url = await page.locator("#projector .url").textContent();
      const lay = await layout(page);
      sizes[size] = { qr, codeBox, fontPx, url, overflow: lay.overflow, small: lay.small, cut: lay.cut };
      files.push(await shot(page, `projector-${size}`, false)); // what the projector shows
    }
    const shownCode = await page.locator("#projector .code").getAttribute("data-code");
    await page.click("#projector-close");
    const closed = await page.locator("#projector").isHidden();
    await context.close();
    const minSide = (vp) => Math.min(vp.width, vp.height);
    const checks = {
      qr_inline: qrInline === 1,
      qr_big: Object.entries(sizes).every(([k, v]) => v.qr && v.qr.width >= 0.5 * minSide(SIZES[k]) && Math.abs(v.qr.width - v.qr.height) < 2),
      qr_whole: Object.entries(sizes).every(([k, v]) => v.qr && v.qr.x >= 0 && v.qr.x + v.qr.width <= SIZES[k].width && v.qr.y >= 0 && v.qr.y + v.qr.height <= SIZES[k].height),
      // 5 m away a letter must be about 7 cm high: on a 2 m wide image of 1024 px, ~36 px;
      // the code is drawn at 90 px or more (its capitals ~65 px)
      code_large: Object.entries(sizes).every(([k, v]) => v.fontPx >= 90 && v.codeBox.x >= 0 && v.codeBox.x + v.codeBox.width <= SIZES[k].width && v.codeBox.y + v.codeBox.height <= SIZES[k].height),
      url_shown: Object.values(sizes).every((v) => v.url.includes("#pair=" + shownCode)),
      fits: Object.values(sizes).every((v) => v.overflow <= 0 && v.small.length === 0 && v.cut.length === 0),
      closes: closed,
      no_console_error: log.errors.length === 0,
    };
    return { checks, sizes, errors: log.errors, screenshots: files };
  },

  // A student's robot card shows its console live (its own stream of the robot's console topic
  // while it holds the lease); a teacher taking the robot over closes it with the reason.
  async console(browser, studentCode, teacherCode) {
    const st = await open(browser, "console-student");
    await pairWith(st.page, studentCode);
    await showTab(st.page, "robots");
    const mp = st.page.locator("[data-robot]", { hasText: "MicroPython" }).first();
    const id = await mp.getAttribute("data-robot");
    await mp.locator("button.writer").click();
    await mp.locator("textarea").waitFor({ state: "visible" });
    await st.page.waitForFunction((d) => window.labbridge.consoleStreams.get(d)?.readyState === EventSource.OPEN, id);
    await mp.locator("textarea").fill('for i in range(3):\n    print("ligne", i)\n');
    await mp.locator("button", { hasText: /Envoyer et lancer/ }).click();
    await st.page.waitForFunction((d) => /ligne 2/.test(document.querySelector(`[data-robot="${d}"] pre.console`).textContent), id);
    const files = [await shot(st.page, "console-student")];
    // the teacher takes it over: the student's console says it is closed, and why
    const te = await open(browser, "console-teacher");
    await pairWith(te.page, teacherCode);
    await showTab(te.page, "robots");
    await te.page.locator(`[data-robot="${id}"] button.writer`).click();
    await st.page.waitForFunction((d) => /console fermée/.test(document.querySelector(`[data-robot="${d}"] pre.console`).textContent), id);
    const text = await st.page.locator(`[data-robot="${id}"] pre.console`).textContent();
    files.push(await shot(st.page, "console-revoked"));
    await te.page.locator(`[data-robot="${id}"] button`, { hasText: /Rendre/ }).click();
    await te.context.close();
    await st.context.close();
    const errors = [...st.log.errors, ...te.log.errors];
    const checks = {
      live_output: /ligne 0[\s\S]*ligne 1[\s\S]*ligne 2/.test(text),
      closed_with_reason: /console fermée : \S/.test(text),
      no_console_error: errors.length === 0,
    };
    return { checks, console: text, errors, screenshots: files };
  },


  // An observer: live plots, nothing to command (no take, no upload, no recording, no STOP).
  async observer(browser, code) {
    const { context, page, log } = await open(browser, "observer");
    await pairWith(page, code);
    await page.locator("#plots canvas").first().waitFor({ state: "visible" });
    const writers = await page.locator(".writer:visible").count();
    await page.click("[data-tab=robots]");
    await page.locator("[data-robot]").first().waitFor({ state: "visible" });
    const robotWriters = await page.locator("[data-robot] button:visible").count();
    await page.click("[data-tab=prints]");
    const upload = await page.locator("#upload").isVisible();
    const files = [await shot(page, "observer-prints")];
    await context.close();
    const checks = {
      no_commands: writers === 0 && robotWriters === 0 && !upload,
      no_stop_all: true,
      no_console_error: log.errors.length === 0,
      no_external_request: log.foreign.length === 0,
    };
    return { checks, errors: log.errors, screenshots: files };
  },

  // The page loads from the bridge: pairing field usable, no console error, nothing from elsewhere.
  async load(browser) {
    const { context, page, log } = await open(browser, "load");
    await page.goto(opt.url);
    await page.locator("#pair-code").waitFor({ state: "visible" });
    await page.waitForFunction(() => performance.getEntriesByName("lb-pair-ready").length > 0);
    const ready = await markMs(page, "lb-pair-ready");
    const lang = await page.getAttribute("html", "lang");
    const title = await page.locator("#pair-title").textContent();
    await page.click("#lang");
    const titleEn = await page.locator("#pair-title").textContent();
    const files = [await shot(page, "load")];
    await context.close();
    const checks = {
      french_first: lang === "fr" && title.includes("Se connecter"),
      english_switch: titleEn.includes("Join"),
      no_console_error: log.errors.length === 0,
      no_external_request: log.foreign.length === 0,
    };
    return { checks, measures: { pair_field_ready_ms: ready }, errors: log.errors, foreign: log.foreign, screenshots: files };
  },

  // A student pairs: sees who they are, no STOP ALL and no approve; a live plot updates; they
  // upload a G-code through the page.
  async student(browser, code) {
    const { context, page, log } = await open(browser, "student");
    await pairWith(page, code);
    const who = await page.locator("#who").textContent();
    const stopVisible = await page.locator("#stop-all").isVisible();
    const roomTab = await page.locator("[data-tab=room]").isVisible();
    // the live plot: its pixels change between two screenshots taken frames apart
    const canvas = page.locator("#plots canvas").first();
    await canvas.waitFor({ state: "visible" });
    await page.waitForFunction(() => [...window.labbridge.plots.values()].some((p) => p.drawn > 2));
    const firstPlot = await markMs(page, "lb-first-plot");
    const a = await canvas.screenshot({ path: path.join(opt.out, "plot-1.png") });
    const drawn = await page.evaluate(() => [...window.labbridge.plots.values()][0].drawn);
    await page.waitForFunction((n) => [...window.labbridge.plots.values()][0].drawn >= n + 10, drawn);
    const b = await canvas.screenshot({ path: path.join(opt.out, "plot-2.png") });
    const files = [await shot(page, "student-plots"), path.join(opt.out, "plot-1.png"), path.join(opt.out, "plot-2.png")];
    // the plot's samples as a French CSV (";" and a decimal comma), downloaded by the browser
    const [dl] = await Promise.all([page.waitForEvent("download"), page.click("#csv-fr")]);
    const csvPath = path.join(opt.out, dl.suggestedFilename());
    await dl.saveAs(csvPath);
    const csvRows = fs.readFileSync(csvPath, "utf8").split("\r\n");
    files.push(csvPath);
    // a synchronised recording of the chosen sensor, started and stopped from the page
    await page.click("#rec");
    await page.waitForFunction(() => /\d/.test(document.querySelector("#rec-state").textContent));
    const recRunning = await page.locator("#rec-state").textContent();
    await page.click("#rec");
    await page.waitForFunction((s) => document.querySelector("#rec-state").textContent !== s, recRunning);
    const recStopped = await page.locator("#rec-state").textContent();
    // robots: a student may take one, never sees another's controls
    await page.click("[data-tab=robots]");
    await page.locator("[data-robot]").first().waitFor({ state: "visible" });
    const takeButtons = await page.locator("[data-robot] button.writer:visible").count();
    // take the first robot, drive it forward with the on-screen arrow held, release it
    const robot = page.locator("[data-robot]").first();
    await robot.locator("button.writer").click();
    const fwd = robot.locator(".pad .f");
    await fwd.waitFor({ state: "visible" });
    await fwd.hover();
    await page.mouse.down();
    await page.waitForFunction(() => window.labbridge.moves > 0);
    files.push(await shot(page, "student-robots"));
    await page.mouse.up();
    await page.waitForFunction(() => window.labbridge.stops > 0);
    const driveError = await page.locator("#msg.error").count();
    await robot.locator("button", { hasText: /Rendre/ }).click();
    await robot.locator("button.writer").waitFor({ state: "visible" });
    // prints: upload a small G-code through the page
    await page.click("[data-tab=prints]");
    const gcode = opt.gcode ? fs.readFileSync(opt.gcode) : Buffer.from("; browser test\nG28\nG1 X10 Y10 F3000\nM84\n");
    await page.setInputFiles("#upload-file", { name: opt.job, mimeType: "text/plain", buffer: gcode });
    await page.click("#upload button[type=submit]");
    await page.waitForFunction(() => /\d/.test(document.querySelector("#upload-state").textContent) && !/…/.test(document.querySelector("#upload-state").textContent));
    const sent = await page.locator("#upload-state").textContent();
    const card = page.locator(`#queue li[data-state=submitted]`, { hasText: opt.job });
    await card.first().waitFor({ state: "visible" });
    const approveButtons = await page.locator("button.approve").count();
    files.push(await shot(page, "student-prints"));
    // a scan: submitted from the page, followed to its result, downloaded through its link
    let scanned = null;
    if (await page.locator("[data-tab=scans]").isVisible()) {
      await page.click("[data-tab=scans]");
      const row = page.locator("#scanners .card").first();
      await row.waitFor({ state: "visible" });
      await row.locator("select").selectOption("png");
      await row.locator("button").click();
      const link = page.locator("#scan-jobs a[download]").first();
      await link.waitFor({ state: "visible", timeout: 40000 });
      const href = await link.getAttribute("href");
      scanned = await page.evaluate(async (u) => {
        const r = await fetch(u);
        const b = new Uint8Array(await r.arrayBuffer());
        return { status: r.status, png: b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47, size: b.length };
      }, href);
      files.push(await shot(page, "student-scans"));
    }
    const stream = await page.evaluate(() => ({ samples: window.labbridge.samples, gaps: window.labbridge.gaps }));
    await context.close();
    const checks = {
      shows_name_and_role: /élève/.test(who),
      no_stop_all: !stopVisible,
      no_room_tab: !roomTab,
      no_approve: approveButtons === 0,
      may_take_a_robot: takeButtons > 0,
      drove_a_robot: driveError === 0,
      plot_pixels_change: Buffer.compare(a, b) !== 0,
      uploaded: /\d/.test(sent),
      scan_result: scanned !== null && scanned.status === 200 && scanned.png,
      csv_french: csvRows.length > 3 && /^\ufefft \(s\);time \(UTC\);/.test(csvRows[0]) && /^\d+,\d+;\d{4}-.*;-?\d+(,\d+)?(e-?\d+)?$/.test(csvRows[2]),
      recording: /en cours/.test(recRunning) && /arrêté/.test(recStopped),
      no_console_error: log.errors.length === 0,
      no_external_request: log.foreign.length === 0,
    };
    return { checks, scanned, measures: { first_plot_ms: firstPlot, requests: log.requests, stream }, who, sent, errors: log.errors, foreign: log.foreign, screenshots: files };
  },

  // A teacher approves the student's print, sees the room's health, then presses STOP.
  async teacher(browser, code) {
    const { context, page, log } = await open(browser, "teacher");
    await pairWith(page, code);
    const stopVisible = await page.locator("#stop-all").isVisible();
    await page.click("[data-tab=prints]");
    const card = page.locator("#queue li[data-state=submitted]", { hasText: opt.job }).first();
    await card.waitFor({ state: "visible" });
    const jobId = await card.getAttribute("data-job");
    const files = [await shot(page, "teacher-prints")];
    // the job's thumbnail, drawn from print.thumbnail into its card's canvas
    await page.waitForFunction((id) => {
      const c = document.querySelector(`#queue li[data-job="${id}"] canvas.thumb`);
      if (!c) return false;
      const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
      for (let i = 3; i < d.length; i += 4) if (d[i]) return true;
      return false;
    }, jobId);
    await card.locator("button.approve").click();
    await page.waitForFunction((id) => {
      const li = document.querySelector(`#queue li[data-job="${id}"]`);
      return !li || li.dataset.state !== "submitted";
    }, jobId);
    // a MicroPython program from the page, its output on the robot's console (teachers see it)
    await page.click("[data-tab=robots]");
    const mp = page.locator("[data-robot]", { hasText: "MicroPython" }).first();
    await mp.waitFor({ state: "visible" });
    await mp.locator("button.writer").click();
    await mp.locator("textarea").waitFor({ state: "visible" });
    await mp.locator("textarea").fill('print("bonjour la classe")\n');
    await mp.locator("button", { hasText: /Envoyer et lancer/ }).click();
    await page.waitForFunction((sel) => /bonjour la classe/.test(document.querySelector(sel).textContent), `[data-robot="${await mp.getAttribute("data-robot")}"] pre.console`);
    files.push(await shot(page, "teacher-robot-console"));
    await mp.locator("button", { hasText: /Rendre/ }).click();
    await page.click("[data-tab=room]");
    await page.locator("#health tbody tr").first().waitFor({ state: "visible" });
    const healthRows = await page.locator("#health tbody tr").count();
    await page.fill("#pn-name", "5B groupe 4");
    await page.click("#pair-new button[type=submit]");
    await page.locator("#pair-shown [data-code]").waitFor({ state: "visible" });
    const shownCode = await page.locator("#pair-shown [data-code]").getAttribute("data-code");
    files.push(await shot(page, "teacher-room"));
    // tablet-friendly: touch targets of at least 44 px, nothing wider than a portrait 768 px
    const small = await page.evaluate(() => [...document.querySelectorAll("button, select, input:not([type=checkbox]), a.button")]
      .filter((e) => e.offsetParent !== null)
      .map((e) => [e.id || e.textContent.trim() || e.tagName, e.getBoundingClientRect()])
      .filter(([, r]) => r.width < 44 || r.height < 44).map(([n, r]) => `${n} ${r.width}x${r.height}`));
    await page.setViewportSize({ width: 768, height: 1024 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    files.push(await shot(page, "teacher-room-portrait"));
    await page.setViewportSize({ width: 1024, height: 768 });
    await page.click("#stop-all");
    await page.locator("#room-banner").waitFor({ state: "visible" });
    files.push(await shot(page, "teacher-stopped"));
    await context.close();
    const checks = {
      stop_all_shown: stopVisible,
      health_rows: healthRows > 0,
      touch_targets_44px: small.length === 0,
      portrait_fits: overflow <= 0,
      pairing_code_shown: /^[A-Z2-9]{6}$/.test(shownCode ?? ""),
      stop_banner: true,
      no_console_error: log.errors.length === 0,
      no_external_request: log.foreign.length === 0,
    };
    return { checks, job: Number(jobId), small, overflow, errors: log.errors, foreign: log.foreign, screenshots: files };
  },
};

const browser = await chromium.launch({ executablePath: opt.chromium, headless: true, args: ["--no-sandbox"] });
let ok = true;
try {
  for (const sc of scenarios) {
    const [name, ...codes] = sc.split(":");
    let v;
    try {
      v = await SCENARIOS[name](browser, ...codes);
      v.ok = Object.values(v.checks).every(Boolean);
    } catch (e) {
      v = { ok: false, exception: String(e.stack || e) };
    }
    v.scenario = name;
    ok &&= v.ok;
    verdict(v);
  }
} finally {
  await browser.close();
}
process.exit(ok ? 0 : 1);
