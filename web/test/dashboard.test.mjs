// Opens the dashboard in Debian's headless Chromium against a running pipeline and checks that
// the channel list and the charts render with data, that a live update arrives over the event
// stream, and that the channel list works from the keyboard. Saves a screenshot.
//   DASHBOARD_URL=http://127.0.0.1:8080/dashboard/ SCREENSHOT=out.png node test/dashboard.test.mjs
import { chromium } from "playwright-core";

const url = process.env.DASHBOARD_URL;
const screenshot = process.env.SCREENSHOT || "dashboard.png";
if (!url) {
  console.error("DASHBOARD_URL is not set");
  process.exit(2);
}

function check(ok, what) {
  if (!ok) throw new Error("dashboard check failed: " + what);
  console.log("ok  " + what);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox"],
});
const errors = [];
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  await page.goto(url);

  await page.waitForSelector("#channels button", { timeout: 30_000 });
  const channels = await page.locator("#channels button").count();
  check(channels >= 1, `channel list shows ${channels} channels`);

  // a channel gets selected (the first live one) and its charts fill with data
  await page.waitForSelector("#channels button[aria-selected=true]", { timeout: 30_000 });
  const selected = await page.locator("#channels button[aria-selected=true]").getAttribute("data-channel");
  await page.waitForFunction(() => document.querySelectorAll("#chart-chat rect.bar").length > 0, null, { timeout: 60_000 });
  const bars = await page.locator("#chart-chat rect.bar").count();
  check(bars > 0, `chat chart of ${selected} has ${bars} bars`);
  const line = await page.locator("#chart-viewers path.line").first().getAttribute("d");
  check(line && line.length > 10, "viewers chart has a line");
  const axisLabel = await page.locator("#chart-revenue .axis-label").first().textContent();
  check(/USD/.test(axisLabel), `revenue axis has a unit (${axisLabel})`);

  // a live update arrives over the stream
  const before = Number(await page.evaluate(() => document.body.dataset.events || 0));
  await page.waitForFunction((n) => Number(document.body.dataset.events || 0) > n, before, { timeout: 30_000 });
  const after = Number(await page.evaluate(() => document.body.dataset.events || 0));
  check(after > before, `live updates arrived (${before} → ${after} events)`);
  check(/live/.test(await page.locator("#connection").textContent()), "connection shows live");

  // keyboard: focus the list, move down, select with Enter
  if (channels > 1) {
    await page.locator("#channels button[tabindex='0']").focus();
    await page.keyboard.press("Home");
    await page.keyboard.press("ArrowDown");
    await page.keyboard.press("Enter");
    const picked = await page.locator("#channels button[aria-selected=true]").getAttribute("data-channel");
    const second = await page.locator("#channels button").nth(1).getAttribute("data-channel");
    check(picked === second, `keyboard selected ${picked}`);
    await page.waitForFunction(() => document.querySelector("#channel-name").textContent !== "Pick a channel");
  }

  await page.screenshot({ path: screenshot, fullPage: true });
  console.log("screenshot: " + screenshot);
  check(errors.length === 0, "no errors in the page: " + errors.join("; "));
} finally {
  await browser.close();
}
