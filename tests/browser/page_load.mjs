// page_load.mjs - how soon the tablet page is usable, measured in Debian's chromium (headless,
// playwright-core): N fresh browser contexts (no cache, no storage) each for
//   blank    a blank HTML file served by the same bridge: the reference (its load event);
//   pairing  the page with no session: its "lb-ready" mark (the pairing field accepts input);
//   paired   the page with a session token (set before the page's scripts run): its "lb-ready"
//            mark (the first live values drawn on a plot);
// every time in ms from the navigation's start (performance.timeOrigin). Prints one JSON line
// {"blank": [...], "pairing": [...], "paired": [...]} on stdout. Used by tests/bench/page_load.py:
//   node page_load.mjs --url http://127.0.0.1:PORT/ --code CODE [--runs 10] [--chromium PATH]
import { chromium } from "playwright-core";

const opt = { url: null, code: null, runs: "10", chromium: "/usr/bin/chromium" };
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i += 2) opt[args[i].replace(/^--/, "")] = args[i + 1];
const runs = Number(opt.runs);
const TIMEOUT = 15000;

// A session token for a fresh tablet (each run pairs with the same many-use code).
async function pairToken() {
  const r = await fetch(new URL("/api/pair", opt.url), {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ code: opt.code }),
  });
  if (!r.ok) throw new Error(`pairing: HTTP ${r.status} ${await r.text()}`);
  return (await r.json()).token;
}

// Milliseconds from navigation start to the mark (or to the load event for "load") in a fresh
// context; init: a script run before the page's own.
async function once(browser, path, mark, init) {
  const context = await browser.newContext({ viewport: { width: 1024, height: 768 }, hasTouch: true });
  try {
    if (init) await context.addInitScript(init.fn, init.arg);
    const page = await context.newPage();
    page.setDefaultTimeout(TIMEOUT);
    const errors = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(new URL(path, opt.url).href, { waitUntil: "commit" });
    if (mark === "load") {
      await page.waitForFunction(() => performance.getEntriesByType("navigation")[0]?.loadEventEnd > 0);
      return await page.evaluate(() => performance.getEntriesByType("navigation")[0].loadEventEnd);
    }
    await page.waitForFunction((m) => performance.getEntriesByName(m).length > 0, mark);
    if (errors.length) throw new Error(errors.join("; "));
    return await page.evaluate((m) => performance.getEntriesByName(m)[0].startTime, mark);
  } finally {
    await context.close();
  }
}

const browser = await chromium.launch({ executablePath: opt.chromium, headless: true, args: ["--no-sandbox"] });
const out = { blank: [], pairing: [], paired: [] };
try {
  await once(browser, "blank.html", "load"); // warm the browser process itself (not counted)
  for (let i = 0; i < runs; i++) {
    // interleaved, so that a slow moment of the machine touches all three alike
    out.blank.push(await once(browser, "blank.html", "load"));
    out.pairing.push(await once(browser, "./", "lb-pair-ready"));
    const token = await pairToken();
    const init = { fn: (tok) => location.pathname === "/" && sessionStorage.setItem("lb.token", tok), arg: token };
    out.paired.push(await once(browser, "./", "lb-first-plot", init));
  }
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(out) + "\n");
