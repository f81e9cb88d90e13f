// Opens the Agent Connectors page in headless Chromium, enters the token,
// waits for connector ID to show Online, clicks its Stop button, waits for
// the status to read Stopped, opens its Details and takes a screenshot.
//
// usage: node dashboard.js BASE_URL TOKEN CONNECTOR_ID SCREENSHOT.png
"use strict";
const { chromium } = require("playwright-core");

const [base, token, id, screenshot] = process.argv.slice(2);

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
  } finally {
    await browser.close();
  }
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
