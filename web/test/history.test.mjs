// Opens the dashboard of a pipeline started with `telemetra dev --history 24h` in Debian's
// headless Chromium, picks "last 24 hours" and checks that the charts show the whole day: the
// API's windows of the selected channel reach back at least 22 hours, and the chat chart draws
// a bar for most of them. Saves a screenshot.
//   DASHBOARD_URL=http://127.0.0.1:8080/dashboard/ SCREENSHOT=out.png node test/history.test.mjs
import { chromium } from "playwright-core";

const url = process.env.DASHBOARD_URL;
const screenshot = process.env.SCREENSHOT || "dashboard-24h.png";
if (!url) {
  console.error("DASHBOARD_URL is not set");
  process.exit(2);
}

function check(ok, what) {
  if (!ok) throw new Error("history check failed: " + what);
  console.log("ok  " + what);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(url + "#/channel");
  await page.waitForSelector("#channels button[aria-selected=true]", { timeout: 60_000 });

  // the listed channel with the most windows over the day (each was live for part of it only)
  const end = new Date();
  const start = new Date(end - 24 * 3600_000);
  const listed = await page.locator("#channels button").evaluateAll((bs) => bs.map((b) => b.dataset.channel));
  let channel = "", earliest = end.getTime(), most = 0;
  for (const name of listed) {
    const api = new URL(`/v1/channels/${name}/metrics?page_size=1440&start_time=${start.toISOString()}&end_time=${end.toISOString()}`, url);
    const m = (await (await fetch(api)).json()).metrics || [];
    if (m.length > most) {
      [channel, most, earliest] = [name, m.length, Date.parse(m[0].windowStart)];
    }
  }
  const hours = (end - earliest) / 3600_000;
  check(hours >= 22, `${channel}'s final windows reach back ${hours.toFixed(1)} hours (${most} windows)`);
  await page.click(`#channels button[data-channel="${channel}"]`);
  await page.waitForFunction((c) => document.querySelector("#channel-name").textContent.includes(c), channel, { timeout: 10_000 });

  // the 24-hour view draws a bar for every window the dashboard's own request returned
  const daySpan = (u) => {
    const q = new URL(u).searchParams;
    return Date.parse(q.get("end_time")) - Date.parse(q.get("start_time")) > 23 * 3600_000;
  };
  const answered = page.waitForResponse((r) => r.url().includes(`/v1/channels/${channel}/metrics`) && daySpan(r.url()) && r.ok(), { timeout: 30_000 });
  await page.selectOption("#range", "1440");
  const windows = ((await (await answered).json()).metrics || []).length;
  await page.waitForFunction((n) => document.querySelectorAll("#chart-chat rect.bar").length >= n, windows, { timeout: 30_000 });
  const bars = await page.locator("#chart-chat rect.bar").count();
  check(windows >= 0.95 * most && bars >= windows, `the 24-hour chat chart draws ${bars} bars for the ${windows} windows of the day`);
  await page.waitForTimeout(500); // let the other charts finish drawing
  await page.screenshot({ path: screenshot, fullPage: true });
  console.log("screenshot: " + screenshot);
  check(errors.length === 0, "no errors in the page: " + errors.join("; "));
} finally {
  await browser.close();
}
