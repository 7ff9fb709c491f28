// Opens the dashboard's channel page in Debian's headless Chromium against a running pipeline and
// checks that the channel list and the charts render with data, that a live update arrives over the event
// stream, and that the channel list works from the keyboard. Saves a screenshot.
//   DASHBOARD_URL=http://127.0.0.1:8080/dashboard/ SCREENSHOT=out.png node test/dashboard.test.mjs
// Against a gateway started with --auth-token, set AUTH_TOKEN to that token: the test first
// checks the token form ("token required", then "token rejected" for a wrong token, screenshot
// in REJECTED_SCREENSHOT), signs in, runs the checks above, and finally signs out. Without
// AUTH_TOKEN it checks that no form is shown.
import { chromium } from "playwright-core";

const url = process.env.DASHBOARD_URL;
const screenshot = process.env.SCREENSHOT || "dashboard.png";
const token = process.env.AUTH_TOKEN || "";
const rejectedScreenshot = process.env.REJECTED_SCREENSHOT || "dashboard-token-rejected.png";
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
// Chromium logs every 401 answer as a console error; they are expected while signing in
let signingIn = token !== "";
let unauthorizedLogged = 0;
const requestedURLs = [];
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => {
    if (m.type() !== "error") return;
    if (signingIn && /status of 401/.test(m.text())) unauthorizedLogged++;
    else errors.push(m.text());
  });
  page.on("request", (r) => requestedURLs.push(r.url()));
  await page.goto(url + "#/channel"); // the channel page (the overview is tested in pages.test.mjs)

  const connection = () => page.locator("#connection").textContent();
  // what a page without its token must never claim
  const noFalseState = async (when) => {
    check(!(await page.locator("#channels-empty").isVisible()), `${when}: "No channels yet" is not shown`);
    check(!/disconnected|retrying/.test(await connection()), `${when}: the connection does not say disconnected (${await connection()})`);
  };

  if (token) {
    await page.waitForSelector("#login", { state: "visible", timeout: 30_000 });
    await page.waitForFunction(() => /token required/i.test(document.querySelector("#login-reason").textContent), null, { timeout: 10_000 });
    check(/token required/.test(await connection()), `without a token the page asks for one (${await connection()})`);
    check(await page.locator("#token").getAttribute("type") === "password", "the token input is a password field");
    check(!(await page.locator("#dashboard").isVisible()), "the dashboard is hidden behind the form");
    await noFalseState("token required");

    await page.fill("#token", "not-" + token);
    await page.click("#login-submit");
    await page.waitForFunction(() => /token rejected/i.test(document.querySelector("#login-reason").textContent), null, { timeout: 10_000 });
    check(/token rejected/.test(await connection()), `a wrong token is rejected (${await connection()})`);
    check(await page.evaluate(() => sessionStorage.getItem("telemetra.token")) === null, "a rejected token is not kept");
    await noFalseState("token rejected");
    await page.waitForTimeout(2500); // longer than the first reconnect delay: nothing retries behind the form
    await noFalseState("token rejected, later");
    await page.screenshot({ path: rejectedScreenshot, fullPage: true });
    console.log("screenshot: " + rejectedScreenshot);

    await page.fill("#token", token);
    await page.press("#token", "Enter");
    await page.waitForSelector("#login", { state: "hidden", timeout: 10_000 });
    check(await page.evaluate(() => sessionStorage.getItem("telemetra.token")) === token, "the token is kept in sessionStorage");
    check(await page.locator("#sign-out").isVisible(), "a sign-out link is shown");
    signingIn = false;
    console.log(`    (${unauthorizedLogged} 401 answers logged by Chromium while signing in, as expected)`);
  } else {
    await page.waitForSelector("#dashboard", { state: "visible", timeout: 30_000 });
    check(!(await page.locator("#login").isVisible()), "no token form without --auth-token");
    check(!(await page.locator("#sign-out").isVisible()), "no sign-out link without a token");
  }

  await page.waitForSelector("#channels button", { timeout: 30_000 });
  const channels = await page.locator("#channels button").count();
  check(channels >= 1, `channel list shows ${channels} channels`);

  // a channel gets selected (the first live one) and its charts fill with data
  await page.waitForSelector("#channels button[aria-selected=true]", { timeout: 30_000 });
  const selected = await page.locator("#channels button[aria-selected=true]").getAttribute("data-channel");
  await page.waitForFunction(() => document.querySelectorAll("#chart-chat rect.bar").length > 0, null, { timeout: 60_000 });
  const bars = await page.locator("#chart-chat rect.bar").count();
  check(bars > 0, `chat chart of ${selected} has ${bars} bars`);
  // the viewers line needs two samples: under load the first chat bar can come before them
  await page.waitForFunction(() => (document.querySelector("#chart-viewers path.line")?.getAttribute("d") ?? "").length > 10, null, { timeout: 60_000 });
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

  if (token) {
    check(!requestedURLs.some((u) => u.includes(token)), `the token is in no request URL (${requestedURLs.length} requests)`);

    // a reload keeps the session: no form, the list comes back
    await page.reload();
    await page.waitForSelector("#channels button", { timeout: 30_000 });
    check(!(await page.locator("#login").isVisible()), "after a reload the tab is still signed in");

    signingIn = true;
    await page.click("#sign-out");
    await page.waitForSelector("#login", { state: "visible", timeout: 10_000 });
    check(/token required/i.test(await page.locator("#login-reason").textContent()), "signing out forgets the token and asks again");
    check(await page.evaluate(() => sessionStorage.getItem("telemetra.token")) === null, "sessionStorage no longer holds the token");
    await noFalseState("signed out");
  }
  check(errors.length === 0, "no errors in the page: " + errors.join("; "));
} finally {
  await browser.close();
}
