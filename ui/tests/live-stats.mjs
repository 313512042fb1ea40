// The Stats page of a `tyto run` that captures live, in headless Chromium: the
// capture panel lists the interface with the same counters the API gives.
//
// TYTO_URL, TYTO_USER/TYTO_PASSWORD, TYTO_INTERFACE, TYTO_ARTIFACTS, CHROMIUM.

import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const base = process.env.TYTO_URL;
const artifacts = process.env.TYTO_ARTIFACTS ?? "browser-artifacts";
const iface = process.env.TYTO_INTERFACE;
mkdirSync(artifacts, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
});
const page = await (await browser.newContext({ viewport: { width: 1400, height: 900 } })).newPage();
const problems = [];
page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
page.setDefaultTimeout(30_000);

await page.goto(`${base}/stats`);
await page.waitForURL(/\/login/);
await page.fill("#username", process.env.TYTO_USER);
await page.fill("#password", process.env.TYTO_PASSWORD);
await page.click("button[type=submit]");
await page.waitForURL((u) => !u.pathname.startsWith("/login"));
await page.click("nav a:has-text('Stats')");
await page.locator("#capture-stats").waitFor();
const r = await page.request.get(`${base}/api/stats`, { headers: { "X-Tyto-UI": "1" } });
const stats = await r.json();
const row = page.locator("#capture-stats tr", { hasText: iface }).first();
const cells = await row.locator("td").allInnerTexts();
assert.equal(cells[0], iface);
const shown = Number(cells[1].replace(/,/g, ""));
const api = stats.capture.interfaces.find((i) => i.interface === iface).packets;
// The page and this request read the counters a moment apart; the capture is idle.
assert.ok(shown > 0 && Math.abs(shown - api) <= 10, `page ${shown}, API ${api}`);
assert.match(await page.locator("#stat-drops").innerText(), /^\d/);
await page.screenshot({ path: join(artifacts, "live-stats.png"), fullPage: true });
await browser.close();
assert.deepEqual(problems, []);
console.log(`live Stats page: ${iface} ${shown} packets, as the API says`);
