// Estimates over a large store, in headless Chromium: against a `tyto serve` whose
// `[viewer] sample_above` is below the sessions it holds, the SPI view, SPI graph and
// connections say their counts come from a sample and mark them "≈"; "count every
// session" asks again with `exact=1`, and the page then shows the exact answer.
//
// TYTO_URL, TYTO_USER/TYTO_PASSWORD, TYTO_ARTIFACTS, CHROMIUM.

import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const base = process.env.TYTO_URL;
const artifacts = process.env.TYTO_ARTIFACTS ?? "browser-artifacts";
mkdirSync(artifacts, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
});
const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
const page = await context.newPage();
const problems = [];
page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
page.on("console", (m) => m.type() === "error" && problems.push(`console: ${m.text()}`));
page.setDefaultTimeout(30_000);

async function api(path, params) {
  const r = await context.request.get(`${base}${path}?${new URLSearchParams(params)}`, { headers: { "X-Tyto-UI": "1" } });
  assert.equal(r.status(), 200, `${path}: ${await r.text()}`);
  return r.json();
}

await page.goto(`${base}/spiview?date=-1`);
await page.waitForURL(/\/login/);
await page.fill("#username", process.env.TYTO_USER);
await page.fill("#password", process.env.TYTO_PASSWORD);
await page.click("button[type=submit]");
await page.waitForURL((u) => !u.pathname.startsWith("/login"));
if (!page.url().includes("/spiview")) await page.goto(`${base}/spiview?date=-1`);

// ---- SPI View: an estimated card says so, and each of its counts is marked.
const card = page.locator('.spi-field[data-field="port.dst"]');
const note = card.locator(".sample-note");
await note.waitFor();
assert.match(await note.innerText(), /≈ estimated from a [0-9.]+% sample/);
await card.locator("li").first().waitFor();
const estimated = await card.locator("li .count").allInnerTexts();
assert.ok(estimated.length > 0 && estimated.every((c) => c.startsWith("≈")), `counts ${estimated}`);
await page.screenshot({ path: join(artifacts, "estimates-spiview.png"), fullPage: true });

// "count every session": the exact answer, unmarked, as the API gives it.
await note.locator("button", { hasText: "count every session" }).click();
await note.waitFor({ state: "detached" });
const exact = await api("/api/spiview", { date: -1, spi: "port.dst:10", exact: 1 });
assert.deepEqual(exact.samplePercent, {});
const want = exact.spi["port.dst"];
await card.locator("li .count", { hasText: want[0].count.toLocaleString("en-US") }).first().waitFor();
assert.deepEqual(await card.locator("li button.value").allInnerTexts(), want.map((v) => String(v.value)));
assert.deepEqual(await card.locator("li .count").allInnerTexts(), want.map((v) => v.count.toLocaleString("en-US")));

// ---- SPI Graph and Connections say so too.
await page.click("nav a:has-text('SPI Graph')");
await page.locator(".spigraph-item").first().waitFor();
await page.locator(".toolbar .sample-note").waitFor();
const counts = await page.locator(".spigraph-item .count").allInnerTexts();
assert.ok(counts.every((c) => c.startsWith("≈")), `graph counts ${counts}`);
await page.locator(".toolbar .sample-note button").click();
await page.locator(".toolbar .sample-note").waitFor({ state: "detached" });
await page.locator(".spigraph-item .count").first().waitFor();
assert.ok((await page.locator(".spigraph-item .count").allInnerTexts()).every((c) => !c.startsWith("≈")));

await page.click("nav a:has-text('Connections')");
await page.locator(".toolbar .sample-note").waitFor();
await page.screenshot({ path: join(artifacts, "estimates-connections.png"), fullPage: true });

await browser.close();
assert.deepEqual(problems, []);
console.log("estimates: SPI view, SPI graph and connections marked, exact on request");
