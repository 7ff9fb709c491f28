// Opens the dashboard's pages in Debian's headless Chromium against a running pipeline with a few
// hours of history (so some channel is offline with finished streams) and checks what each shows:
//   overview  rank rows with numbers, a sparkline per visible row, trending lists; selecting two
//             channels opens the compare view with them
//   channel   legends with colour swatches, no chart label outside its chart, revenue as
//             localised currency, a brush zoom narrows the range (kept in the URL across a
//             reload), "Reset zoom" goes back
//   offline   an offline channel shows its last stream's summary, not live counts
//   report    the report's figures, charts and a CSV download sent with the token
//   compare   2+ series with a legend
//   health    the pipeline-health strip has its figures
// With AUTH_TOKEN (a gateway started with --auth-token) it first checks that each page asks for
// the token, then signs in. Screenshots go to SCREENSHOTS (a directory): overview.png,
// channel.png, offline-channel.png, report.png, compare.png.
//   DASHBOARD_URL=http://127.0.0.1:8080/dashboard/ SCREENSHOTS=../artifacts node test/pages.test.mjs
import { chromium } from "playwright-core";
import { readFile } from "node:fs/promises";
import { join } from "node:path";

const url = process.env.DASHBOARD_URL;
const shots = process.env.SCREENSHOTS || ".";
const token = process.env.AUTH_TOKEN || "";
if (!url) {
  console.error("DASHBOARD_URL is not set");
  process.exit(2);
}

function check(ok, what) {
  if (!ok) throw new Error("pages check failed: " + what);
  console.log("ok  " + what);
}

// the API, as the test's own client (with the token)
async function apiGet(path) {
  const r = await fetch(new URL(path, url), { headers: token ? { Authorization: "Bearer " + token } : {} });
  if (!r.ok) throw new Error(`GET ${path}: ${r.status} ${await r.text()}`);
  return r.json();
}

// a figure as the page writes it in en-US: digits with thousands separators
const COUNT = /^\d{1,3}(,\d{3})*(\.\d+)?$/;
const USD = /^\$\d{1,3}(,\d{3})*\.\d{2}$/;

// clippedLabels lists the text of every chart label (svg text) that reaches outside its svg
const clippedLabels = (page, selector) => page.evaluate((sel) => {
  const out = [];
  for (const svg of document.querySelectorAll(sel)) {
    const box = svg.getBoundingClientRect();
    if (!box.width) continue;
    for (const t of svg.querySelectorAll("text")) {
      const r = t.getBoundingClientRect();
      if (!t.textContent || !r.width) continue;
      if (r.left < box.left - 0.5 || r.right > box.right + 0.5 || r.top < box.top - 0.5 || r.bottom > box.bottom + 0.5) {
        out.push(`${svg.id}: "${t.textContent}"`);
      }
    }
  }
  return out;
}, selector);

// stats reads a stats block as {label: value}
const stats = (page, selector) => page.locator(`${selector} .stat`).evaluateAll((tiles) =>
  Object.fromEntries(tiles.map((t) => [t.querySelector("span").textContent, t.querySelector("b").textContent])));

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox"],
});
const errors = [];
let signingIn = token !== "";
const requestedURLs = [];
try {
  // en-US so the figures' format is known; 1280×800, the size the dashboard must work at
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: "en-US", acceptDownloads: true });
  const page = await context.newPage();
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => {
    if (m.type() !== "error") return;
    if (signingIn && /status of 401/.test(m.text())) return; // Chromium logs each 401 while signed out
    errors.push(m.text());
  });
  page.on("request", (r) => requestedURLs.push(r.url()));

  const channels = (await apiGet("/v1/channels?page_size=1000")).channels || [];
  const live = channels.filter((c) => c.status && c.status.live).map((c) => c.channelId).sort();
  const offline = channels.filter((c) => !(c.status && c.status.live)).map((c) => c.channelId).sort();
  check(live.length >= 2 && offline.length >= 1, `the pipeline has live (${live.join(", ")}) and offline (${offline.join(", ")}) channels`);
  const session = ((await apiGet(`/v1/channels/${offline[0]}/sessions?page_size=1&start_time=1970-01-01T00:00:00Z`)).sessions || [])[0];
  check(session, `${offline[0]} has a stream session (${session && session.name})`);
  const sessionID = session.name.split("/").pop();

  // ---- signing in: every page asks for the token first -------------------------------------
  if (token) {
    for (const hash of ["#/overview", `#/channel/${live[0]}`, `#/channel/${offline[0]}/report/${sessionID}`, `#/compare?c=${live[0]},${live[1]}`]) {
      await page.goto(url + hash);
      await page.waitForFunction(() => /token required/i.test(document.querySelector("#login-reason").textContent), null, { timeout: 15_000 });
      check(!(await page.locator("#dashboard").isVisible()) && !(await page.locator("#pages").isVisible()), `${hash} without a token shows only the form`);
    }
    await page.goto(url + "#/overview");
    await page.waitForSelector("#login", { state: "visible" });
    await page.fill("#token", token);
    await page.click("#login-submit");
    await page.waitForSelector("#login", { state: "hidden", timeout: 10_000 });
    check(await page.locator("#page-overview").isVisible(), "after Sign in the overview shows, without a reload");
    signingIn = false;
  } else {
    await page.goto(url + "#/overview");
  }

  // ---- overview ------------------------------------------------------------------------------
  await page.waitForSelector("#rankings-body tr", { timeout: 30_000 });
  const rows = await page.locator("#rankings-body tr").evaluateAll((trs) => trs.map((tr) => ({
    channel: tr.dataset.channel,
    rank: tr.querySelector(".rank").textContent.replace(/[▲▼\s]/g, ""),
    value: tr.querySelector(".value").textContent,
  })));
  check(rows.length >= 2, `the overview ranks ${rows.length} channels`);
  check(rows.every((r, k) => r.rank === String(k + 1)), `ranks run 1…${rows.length}`);
  check(rows.every((r) => COUNT.test(r.value)), `every row has its viewers as a localised number (${rows.map((r) => r.value).join(", ")})`);
  const values = rows.map((r) => Number(r.value.replace(/,/g, "")));
  check(values.every((v, k) => k === 0 || v <= values[k - 1]), "the rows are ordered by viewers, highest first");
  await page.waitForFunction(() => document.querySelectorAll("#rankings-body svg.spark path.line").length >= 2, null, { timeout: 30_000 });
  check(true, `sparklines drawn: ${await page.locator("#rankings-body svg.spark path.line").count()}`);
  await page.waitForFunction(() => document.querySelectorAll("#trending-emotes li b").length > 0 && document.querySelectorAll("#trending-categories li b").length > 0, null, { timeout: 30_000 });
  check(true, `trending: ${await page.locator("#trending-emotes li").count()} emotes, ${await page.locator("#trending-categories li").count()} categories`);
  await page.waitForFunction(() => /lag/.test(document.querySelector("#health-figures").textContent), null, { timeout: 20_000 });
  const health = await page.locator("#health").getAttribute("data-state");
  check(["ok", "degraded"].includes(health), `the health strip says "${health}": ${await page.locator("#health-figures").textContent()}`);
  await page.screenshot({ path: join(shots, "overview.png"), fullPage: true });

  // the rankings' metric selector ranks by another metric
  await page.selectOption("#rank-metric", "RANKING_METRIC_REVENUE");
  await page.waitForFunction(() => /Revenue/.test(document.querySelector("#rank-head").textContent) && document.querySelector("#rankings-body tr .value"), null, { timeout: 15_000 });
  const revenueValues = await page.locator("#rankings-body .value").allTextContents();
  check(revenueValues.every((v) => USD.test(v)), `ranked by revenue, the values are currency (${revenueValues.join(", ")})`);

  // select two rows and compare them
  const picked = rows.slice(0, 2).map((r) => r.channel);
  for (const c of picked) await page.check(`#rankings-body tr[data-channel="${c}"] input[type=checkbox]`);
  await page.click("#compare-selected");
  await page.waitForSelector("#page-compare", { state: "visible" });
  await page.waitForFunction(() => document.querySelectorAll("#chart-compare path.line").length >= 2, null, { timeout: 30_000 });
  const fromOverview = await page.locator("#legend-compare li").allTextContents();
  check(picked.every((c) => fromOverview.includes(c)), `"Compare selected" opens the compare view with ${fromOverview.join(", ")}`);

  // ---- compare -------------------------------------------------------------------------------
  const three = live.slice(0, 3);
  await page.goto(url + `#/compare?c=${three.join(",")}&range=60`);
  await page.waitForFunction((n) => document.querySelectorAll("#chart-compare path.line").length === n, three.length, { timeout: 30_000 });
  const strokes = await page.locator("#chart-compare path.line").evaluateAll((ps) => ps.map((p) => p.getAttribute("stroke")));
  check(new Set(strokes).size === three.length, `the compare chart draws ${three.length} series in ${new Set(strokes).size} colours`);
  const swatches = await page.locator("#legend-compare .swatch").evaluateAll((s) => s.map((e) => getComputedStyle(e).backgroundColor));
  check(swatches.length === three.length, `its legend has a swatch per channel (${swatches.join(", ")})`);
  await page.selectOption("#compare-metric", "messages");
  await page.waitForFunction(() => [...document.querySelectorAll("#chart-compare .axis-label")].some((t) => /messages/.test(t.textContent)), null, { timeout: 15_000 });
  check((await page.locator("#chart-compare path.line").count()) === three.length, "the metric selector redraws the chart (chat messages / min)");
  const compareClipped = await clippedLabels(page, "#chart-compare");
  check(compareClipped.length === 0, "no label of the compare chart is clipped " + compareClipped.join("; "));
  await page.screenshot({ path: join(shots, "compare.png"), fullPage: true });

  // ---- channel: a live one ---------------------------------------------------------------------
  await page.goto(url + `#/channel/${live[0]}?range=60`);
  await page.waitForFunction(() => document.querySelectorAll("#chart-chat rect.bar").length > 5, null, { timeout: 30_000 });
  await page.waitForFunction(() => document.querySelectorAll("#chart-moments .kinds .tick text").length === 5, null, { timeout: 10_000 });
  for (const id of ["viewers", "chat", "sentiment", "revenue", "moments"]) {
    const n = await page.locator(`#legend-${id} .swatch`).count();
    check(n >= 1, `the ${id} chart's legend has ${n} colour swatches`);
  }
  const clipped = await clippedLabels(page, "#page-channel svg.chart");
  check(clipped.length === 0, `no chart label reaches outside its chart${clipped.length ? ": " + clipped.join("; ") : ""}`);
  const kinds = await page.locator("#chart-moments .kinds .tick text").allTextContents();
  check(kinds.includes("viewer spike") && kinds.includes("viewer drop"), `the moments axis names every kind in full (${kinds.join(", ")})`);
  const liveStats = await stats(page, "#stats");
  check(USD.test(liveStats["revenue in range"]), `revenue is localised currency (${liveStats["revenue in range"]})`);
  check(COUNT.test(liveStats.viewers) && COUNT.test(liveStats["messages this minute"]), `counts are localised (${liveStats.viewers} viewers)`);
  await page.screenshot({ path: join(shots, "channel.png"), fullPage: true });

  // brush zoom: drag across the middle of the viewers chart
  const box = await page.locator("#chart-viewers").boundingBox();
  const zoomed = page.waitForResponse((r) => r.url().includes(`/v1/channels/${live[0]}/metrics`) && r.ok(), { timeout: 15_000 });
  await page.mouse.move(box.x + box.width * 0.45, box.y + box.height * 0.5);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.6, box.y + box.height * 0.5, { steps: 8 });
  await page.mouse.move(box.x + box.width * 0.75, box.y + box.height * 0.5, { steps: 8 });
  await page.mouse.up();
  const q = new URL((await zoomed).url()).searchParams;
  const span = (Date.parse(q.get("end_time")) - Date.parse(q.get("start_time"))) / 60_000;
  const hash = new URLSearchParams((await page.evaluate(() => location.hash)).split("?")[1]);
  check(hash.get("from") && hash.get("to") && !hash.get("range"), `the brush put its range in the URL (${hash.get("from")} – ${hash.get("to")})`);
  check(span > 1 && span < 40, `the brush narrowed the range from 60 to ${span.toFixed(1)} minutes`);
  check(await page.locator("#range").inputValue() === "custom" && await page.locator("#range-reset").isVisible(), "the range picker shows the custom range and a reset button");
  await page.reload();
  await page.waitForSelector("#page-channel", { state: "visible" });
  check(await page.locator("#range").inputValue() === "custom" && (await page.locator("#range-start").inputValue()) !== "", "a reload keeps the zoomed range");
  await page.click("#range-reset");
  await page.waitForFunction(() => /range=60/.test(location.hash), null, { timeout: 5000 });
  check(await page.locator("#range").inputValue() === "60", "Reset zoom goes back to the last hour");

  // a custom range from the picker
  await page.selectOption("#range", "custom");
  const customEnd = new Date(Date.now() - 30 * 60_000), customStart = new Date(Date.now() - 150 * 60_000);
  const local = (d) => new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
  await page.fill("#range-start", local(customStart));
  await page.fill("#range-end", local(customEnd));
  const custom = page.waitForResponse((r) => r.url().includes(`/v1/channels/${live[0]}/metrics`) && r.ok(), { timeout: 15_000 });
  await page.click("#range-apply");
  const cq = new URL((await custom).url()).searchParams;
  check(Math.abs(Date.parse(cq.get("end_time")) - customEnd.getTime()) < 60_000 && Math.abs(Date.parse(cq.get("start_time")) - customStart.getTime()) < 60_000,
    `the custom range asks for ${cq.get("start_time")} – ${cq.get("end_time")}`);

  // ---- channel: an offline one -----------------------------------------------------------------
  await page.goto(url + `#/channel/${offline[0]}?range=360`);
  await page.waitForSelector("#last-stream", { state: "visible", timeout: 30_000 });
  await page.waitForFunction(() => document.querySelectorAll("#last-stream-stats .stat").length > 0, null, { timeout: 30_000 });
  const last = await stats(page, "#last-stream-stats");
  check(/\d+ (h|min)/.test(last.duration) && COUNT.test(last["average viewers"]) && COUNT.test(last["peak viewers"]) && COUNT.test(last["hours watched"]),
    `the offline channel shows its last stream: ${JSON.stringify(last)}`);
  check(USD.test(last.revenue), `its revenue is currency (${last.revenue})`);
  const offlineStats = await stats(page, "#stats");
  check(!("viewers" in offlineStats) && !("chatters" in offlineStats) && !("messages this minute" in offlineStats),
    `no live counts while offline (${Object.keys(offlineStats).join(", ")})`);
  check(/offline/i.test(await page.locator("#channel-meta").textContent()), "the header says OFFLINE");
  await page.screenshot({ path: join(shots, "offline-channel.png"), fullPage: true });

  // ---- report ----------------------------------------------------------------------------------
  await page.click("#last-stream-report");
  await page.waitForSelector("#page-report", { state: "visible" });
  await page.waitForFunction(() => document.querySelectorAll("#report-stats .stat").length > 5, null, { timeout: 30_000 });
  const report = await stats(page, "#report-stats");
  check(COUNT.test(report["average viewers"]) && COUNT.test(report["peak viewers"]) && COUNT.test(report["hours watched"]) && COUNT.test(report["chat messages"]),
    `the report has its figures: ${JSON.stringify(report)}`);
  check(USD.test(report.revenue), `its revenue is currency (${report.revenue})`);
  check((await page.evaluate(() => location.hash)).startsWith(`#/channel/${offline[0]}/report/${sessionID}`), `Full report opens the last stream's report (${sessionID})`);
  const api = await apiGet(`/v1/channels/${offline[0]}/sessions/${sessionID}/report`);
  check(report["peak viewers"] === Number(api.peakViewers || 0).toLocaleString("en-US"), `the page's peak viewers are the API's (${api.peakViewers})`);
  await page.waitForFunction(() => document.querySelector("#chart-report-viewers path.line") && document.querySelectorAll("#report-revenue tbody tr").length === 5, null, { timeout: 30_000 });
  check((await page.locator("#report-changes li").count()) >= 1, `the report lists ${await page.locator("#report-changes li").count()} title/category entries`);
  const reportClipped = await clippedLabels(page, "#page-report svg.chart");
  check(reportClipped.length === 0, "no label of the report's charts is clipped " + reportClipped.join("; "));
  const [csv] = await Promise.all([page.waitForEvent("download", { timeout: 30_000 }), page.click("#csv-session")]);
  const text = await readFile(await csv.path(), "utf8");
  const lines = text.trim().split(/\r?\n/);
  const header = lines[0].split(",");
  const first = lines[1].split(","); // the columns before top_emotes hold no commas
  const col = (name) => first[header.indexOf(name)];
  check(lines.length >= 2 && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/.test(col("window_start")),
    `the session's CSV (${csv.suggestedFilename()}) has ${lines.length - 1} rows with ISO timestamps (${col("window_start")})`);
  check(/^\d+$/.test(col("chat_messages")) && /^\d+$/.test(col("revenue_cents")), `its counts are plain numbers (${col("chat_messages")} messages, ${col("revenue_cents")} cents)`);
  check(!/"\d{1,3}(,\d{3})+"/.test(text), "its numbers have no thousands separators");
  await page.screenshot({ path: join(shots, "report.png"), fullPage: true });

  if (token) check(!requestedURLs.some((u) => u.includes(token)), `the token is in no request URL (${requestedURLs.length} requests)`);
  check(errors.length === 0, "no errors in the page: " + errors.join("; "));
} finally {
  await browser.close();
}
