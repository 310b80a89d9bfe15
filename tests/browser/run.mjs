// run.mjs - drives Debian's chromium headless (playwright-core, no browser download) through the
// bridge's web page, one scenario per argument, printing one JSON verdict per line on stdout:
//   node run.mjs --url http://127.0.0.1:PORT/ --out DIR [--chromium PATH] SCENARIO[:CODE]...
// Scenarios: load (no code), student:CODE, teacher:CODE. Exit status 0 when every verdict is ok.
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
async function open(browser, name) {
  const context = await browser.newContext({ viewport: { width: 1024, height: 768 }, hasTouch: true });
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

async function shot(page, name) {
  const file = path.join(opt.out, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
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

const SCENARIOS = {
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
    const [name, code] = sc.split(":");
    let v;
    try {
      v = await SCENARIOS[name](browser, code);
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
