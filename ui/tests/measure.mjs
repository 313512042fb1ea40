// How long the viewer's pages take to show their answer in headless Chromium, against
// a running `tyto serve` (TYTO_URL, TYTO_USER, TYTO_PASSWORD). Prints one line per
// page: milliseconds from navigation to the answer on screen. Figures, not a test.
//   node tests/measure.mjs [EXPRESSION]

import { chromium } from "playwright-core";

const base = process.env.TYTO_URL ?? "http://127.0.0.1:8005";
const expression = process.argv[2] ?? "";
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
});
const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
page.setDefaultTimeout(300_000);
await page.goto(`${base}/login`);
await page.fill("#username", process.env.TYTO_USER ?? "demo");
await page.fill("#password", process.env.TYTO_PASSWORD ?? "demo-tyto");
await page.click("button[type=submit]");
await page.waitForURL((u) => !u.pathname.startsWith("/login"));

const q = new URLSearchParams({ date: "-1", expression }).toString();
const pages = [
  ["sessions (table)", `/sessions?${q}`, ".sessions-table tr.session-row"],
  ["sessions (histogram)", `/sessions?${q}`, ".histogram canvas"],
  ["SPI view (protocols)", `/spiview?${q}`, '.spi-field[data-field="protocols"] li'],
  ["SPI graph", `/spigraph?${q}`, ".spigraph-item"],
  ["connections", `/connections?${q}`, "svg.graph .node"],
  ["map", `/map?${q}`, "svg.map path.country-shape"],
];
for (const [name, path, selector] of pages) {
  const t0 = performance.now();
  await page.goto(base + path);
  await page.locator(selector).first().waitFor();
  console.log(`${name.padEnd(22)} ${Math.round(performance.now() - t0)} ms`);
}
await browser.close();
