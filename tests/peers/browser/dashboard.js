// Opens the Agent Connectors page in headless Chromium, enters the token,
// waits for connector ID to show Online, clicks its Stop button, waits for
// the status to read Stopped, opens its Details and takes a screenshot.
// Then, while the page refreshes every second, presses Start/Stop 20 times
// and Details 20 times like a person does, the mouse button held 100-200 ms
// with a refresh of the table answered while it is down, and checks that
// every press took effect (issue #13: a row rebuilt mid-click lost the click).
//
// usage: node dashboard.js BASE_URL TOKEN CONNECTOR_ID SCREENSHOT.png
"use strict";
const { chromium } = require("playwright-core");

const [base, token, id, screenshot] = process.argv.slice(2);
const PATIENCE = 15000;

// Fails with `what` if `promise` has not settled within PATIENCE.
function within(promise, what) {
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`never: ${what}`)), PATIENCE);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

// Set by `press`: the page's next request for the connector list waits until
// the mouse button is down, and is answered while it is still down.
let gate = null;

async function holdRefresh(route) {
  const refresh = gate;
  gate = null;
  if (!refresh) return route.continue();
  refresh.caught();
  await refresh.pressed;
  const response = await route.fetch();
  await route.fulfill({ response });
  refresh.answered();
}

// The mouse goes down on the button's centre, stays down `hold` ms and comes
// up at the same place; a refresh of the table is answered in between.
async function press(page, button, hold) {
  await button.scrollIntoViewIfNeeded();
  const box = await button.boundingBox();
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  const refresh = {};
  const caught = new Promise((resolve) => { refresh.caught = resolve; });
  refresh.pressed = new Promise((resolve) => { refresh.press = resolve; });
  const answered = new Promise((resolve) => { refresh.answered = resolve; });
  gate = refresh;
  await within(caught, "the page asks for the connectors again");
  await page.mouse.down();
  refresh.press();
  await within(Promise.all([answered, page.waitForTimeout(hold)]), "the refresh is answered");
  await page.mouse.up();
}

// The connector's status as the admin API reports it.
async function apiStatus() {
  const response = await fetch(`${base}/api/connectors/${encodeURIComponent(id)}`, {
    headers: { Authorization: `Bearer ${token}` },
  });
  return (await response.json()).status;
}

// Polls `check` until it holds, failing with `what` after PATIENCE.
async function until(what, check) {
  const deadline = Date.now() + PATIENCE;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`never: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

// Presses Start/Stop `times` times, starting from Stopped; after each press
// the API and the row show the state the press asked for.
async function startStop(page, times) {
  const row = `tr[data-connector="${id}"]`;
  for (let i = 0; i < times; i++) {
    const [label, action, next, expected] = i % 2 === 0
      ? ["Start", "start", "stop", "Online"] : ["Stop", "stop", "start", "Stopped"];
    const hold = 100 + (i * 37) % 101;
    const what = `press ${i + 1} of ${label} (held ${hold} ms) took effect`;
    const button = page.locator(`${row} button.${action}:enabled`);
    await button.waitFor({ timeout: PATIENCE });
    await press(page, button, hold);
    await until(`${what}: the API says ${expected}`, async () => (await apiStatus()) === expected);
    await page.locator(`${row} .status`).filter({ hasText: expected }).waitFor({ timeout: PATIENCE });
    await page.locator(`${row} button.${next}:enabled`).waitFor({ timeout: PATIENCE });
  }
}

// Presses Details `times` times, starting with the details shown; each
// press hides or shows them.
async function details(page, times) {
  const toggle = page.locator(`tr[data-connector="${id}"] td:last-child button`);
  const shown = page.locator(`tr[data-details-of="${id}"] li`).first();
  for (let i = 0; i < times; i++) {
    const showing = i % 2 === 1;
    const hold = 100 + (i * 37 + 50) % 101;
    await toggle.filter({ hasText: showing ? /^Details$/ : /^Hide details$/ }).waitFor({ timeout: PATIENCE });
    await press(page, toggle, hold);
    if (showing) {
      await shown.waitFor({ timeout: PATIENCE });
    } else {
      await page.locator(`tr[data-details-of="${id}"]`).waitFor({ state: "detached", timeout: PATIENCE });
    }
    await toggle.filter({ hasText: showing ? /^Hide details$/ : /^Details$/ }).waitFor({ timeout: PATIENCE });
  }
}

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: [
      "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1100, height: 520 } });
    await page.goto(base + "/");
    await page.fill("#token", token);
    await page.click("#login button");
    const status = page.locator(`tr[data-connector="${id}"] .status`);
    await status.filter({ hasText: "Online" }).waitFor({ timeout: 15000 });
    const before = await status.textContent();
    await page.click(`tr[data-connector="${id}"] button.stop`);
    await status.filter({ hasText: "Stopped" }).waitFor({ timeout: 15000 });
    const after = await status.textContent();
    await page.click(`tr[data-connector="${id}"] button:has-text("Details")`);
    await page.locator(`tr[data-details-of="${id}"] li`).first().waitFor({ timeout: 15000 });
    await page.locator(`tr[data-connector="${id}"] button.start`).waitFor({ timeout: 15000 });
    await page.screenshot({ path: screenshot, fullPage: true });
    console.log(`${id}: ${before} -> ${after}`);
    const buttons = await page.$$(`tr[data-connector="${id}"] button`);
    await page.route((url) => url.pathname === "/api/connectors", holdRefresh);
    await startStop(page, 20);
    await details(page, 20);
    await page.unrouteAll({ behavior: "ignoreErrors" });
    for (const button of buttons) {
      if (!(await button.evaluate((node) => node.isConnected))) {
        throw new Error("a refresh replaced a button of the row instead of updating it");
      }
    }
    console.log(`${id}: 20 held Start/Stop presses and 20 held Details presses took effect`);
  } finally {
    await browser.close();
  }
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
