// The viewer in headless Chromium, against a running `tyto serve`: log in, search
// (with completion and an error shown in place), sort, open a session and its
// packets, download PCAPs and count their packets, zoom by dragging the histogram,
// tags put on the opened session and on every match and taken off again, a saved
// view applied again, SPI View,
// SPI Graph, Connections, the map, Alerts, Services, Stats, an upload followed to its
// sessions, a hunt through every session's packets, a periodic query that tags what
// it finds, a shortcut used in a search, the history of what was asked, a time zone
// set and times shown on its clock,
// a user added, changed and removed on the Users page, a user without PCAP or upload
// rights, and logging out. What the page shows is checked against the API's own answers.
//
// TYTO_URL, TYTO_USER/TYTO_PASSWORD (an admin), TYTO_LIMITED_USER/_PASSWORD (a user
// who may neither export PCAP nor see packets), TYTO_UPLOAD_FILE (a capture to upload),
// TYTO_ARTIFACTS (screenshots and
// downloads), CHROMIUM (default /usr/bin/chromium).

import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const base = process.env.TYTO_URL ?? "http://127.0.0.1:8005";
const admin = [process.env.TYTO_USER ?? "demo", process.env.TYTO_PASSWORD ?? "demo-tyto"];
const limited = [process.env.TYTO_LIMITED_USER, process.env.TYTO_LIMITED_PASSWORD];
const artifacts = process.env.TYTO_ARTIFACTS ?? "browser-artifacts";
mkdirSync(artifacts, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
});
const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, acceptDownloads: true });
const page = await context.newPage();
const problems = [];
page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
page.on("console", (m) => m.type() === "error" && !/status of 4\d\d/.test(m.text()) && problems.push(`console: ${m.text()}`));
page.setDefaultTimeout(30_000);

let step = 0;
async function shot(name) {
  await page.screenshot({ path: join(artifacts, `${String(++step).padStart(2, "0")}-${name}.png`), fullPage: true });
}

/** The API, with the browser's cookie. */
async function api(path, params = {}) {
  return JSON.parse(await apiText(path, params));
}

async function apiText(path, params = {}) {
  const q = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined && v !== ""));
  const r = await context.request.get(`${base}${path}?${q}`, { headers: { "X-Tyto-UI": "1" } });
  assert.equal(r.status(), 200, `${path}?${q}: ${await r.text()}`);
  return r.text();
}

/** A count's text as a whole number: "4 requests" must not match "114 requests". */
function wholeCount(text) {
  return new RegExp(`(^|[^\\d,.])${text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`);
}

/** Packets in a pcap or pcapng file. */
function countPackets(buf) {
  const magic = buf.readUInt32LE(0);
  if (magic === 0x0a0d0d0a) {
    let n = 0;
    for (let off = 0; off + 12 <= buf.length; ) {
      const type = buf.readUInt32LE(off);
      const len = buf.readUInt32LE(off + 4);
      assert.ok(len >= 12 && off + len <= buf.length, `pcapng block at ${off} of length ${len}`);
      if (type === 6 || type === 3) n++;
      off += len;
    }
    return n;
  }
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  assert.ok(le || magic === 0xd4c3b2a1 || magic === 0x4d3cb2a1, `pcap magic ${magic.toString(16)}`);
  let n = 0;
  for (let off = 24; off < buf.length; n++) {
    assert.ok(off + 16 <= buf.length, `record header at ${off} cut short`);
    const incl = le ? buf.readUInt32LE(off + 8) : buf.readUInt32BE(off + 8);
    off += 16 + incl;
    assert.ok(off <= buf.length, `record data cut short`);
  }
  return n;
}

async function download(click, name) {
  const [dl] = await Promise.all([page.waitForEvent("download"), click()]);
  const path = join(artifacts, name);
  await dl.saveAs(path);
  return countPackets(readFileSync(path));
}


/** Waits until the table says it answers `n` sessions (the page renders asynchronously). */
async function expectCount(n) {
  const want = ` of ${n.toLocaleString("en-US")} sessions`;
  try {
    await page.locator("#session-count").filter({ hasText: want }).waitFor();
  } catch (e) {
    // Say what the page showed instead: a count, an error, or nothing.
    const shown = await page.locator("#session-count").innerText().catch(() => "(no count)");
    const errors = await page.locator(".error, .error-text, [role=alert]").allInnerTexts().catch(() => []);
    await shot("count-mismatch").catch(() => {});
    throw new Error(`wanted "${want}", the page showed "${shown}"; errors shown: ${JSON.stringify(errors)}\n${e}`);
  }
}

/** Runs an expression from the search bar and waits for the table to answer it. */
async function searchFor(expression) {
  await page.fill("#expression", expression);
  await page.press("#expression", "Enter");
  await page.waitForURL((u) => (new URL(u).searchParams.get("expression") ?? "") === expression);
  await rendered();
}

/** The address changes before the page re-renders with the new search: waits for that. */
async function rendered() {
  await page.waitForFunction(() => document.querySelector("nav a")?.getAttribute("href") === `/sessions${location.search}`);
}

async function login([user, password]) {
  await page.goto(`${base}/`);
  await page.waitForURL(/\/login/);
  await page.fill("#username", user);
  await page.fill("#password", password);
  await page.click("button[type=submit]");
}

// ---- log in (a wrong password first)
await page.goto(`${base}/sessions`);
await page.waitForURL(/\/login/);
await page.fill("#username", admin[0]);
await page.fill("#password", "not-the-password");
await page.click("button[type=submit]");
await page.locator(".error").filter({ hasText: "Wrong user or password" }).waitFor();
await shot("login-refused");
await login(admin);
await page.locator(".sessions-table tbody tr.session-row").first().waitFor();
const all = await api("/api/sessions", { date: -1, length: 1 });
await expectCount(all.recordsFiltered);
assert.equal(await page.locator(".sessions-table tbody tr.session-row").count(), Math.min(100, all.recordsFiltered));
await shot("sessions");

// ---- field-name completion, then value completion, then search
await page.click("#expression");
await page.keyboard.type("protoc");
await page.locator(".suggestions li").first().filter({ hasText: "protocols" }).waitFor();
await page.keyboard.press("Tab");
assert.equal(await page.inputValue("#expression"), "protocols ");
await page.keyboard.type("== d");
await page.locator(".suggestions li").filter({ hasText: /^dns/ }).first().waitFor();
await shot("completion");
await page.keyboard.press("Escape");
await page.keyboard.type("ns");
await page.keyboard.press("Enter");
await page.waitForURL(/expression=protocols/);
const dns = await api("/api/sessions", { date: -1, expression: "protocols == dns", length: 10000, fields: "protocols,packets" });
assert.ok(dns.recordsFiltered > 0, "the data has DNS sessions");
await expectCount(dns.recordsFiltered);
for (const text of await page.locator(".sessions-table td.col-protocols").allInnerTexts()) assert.match(text, /\bdns\b/);

// ---- the seed documents' queries, typed into the search bar as written
const SEED_QUERIES = [
  "port.dst == 3389 && protocols == rdp",
  "protocols == ftp && country.dst != JPN",
  "protocols == bittorrent",
  "http.user-agent == Acunetix || http.user-agent == pangolin",
  "http.uri == malware_site.com && ip.dst != 10.0.0.0/8",
  "packets == 1 && ip.protocol == tcp && ip.src != 131.206.0.0/16 && ip.dst != 131.206.0.0/16",
  "host == nhnent.com",
  "ip.dst == 10.0.0.0/8 && port.dst == [53, 80, 443]",
  "protocols == udp && !(port.dst == 53 || port.src == 53)",
  "protocols == ssh && port.dst != 22",
];
const seen = [];
for (const q of SEED_QUERIES) {
  await searchFor(q);
  const want = (await api("/api/sessions", { date: -1, expression: q, length: 1 })).recordsFiltered;
  await expectCount(want);
  seen.push(`${want} × ${q}`);
}
assert.ok(seen.some((l) => !l.startsWith("0 ")), "some seed query finds sessions");
console.log(`seed queries (sessions × expression):\n  ${seen.join("\n  ")}`);
await shot("seed-query");

// ---- errors shown in place, with the column
await searchFor("protocols == dns && (").catch(() => {});
await page.locator(".expression-error").filter({ hasText: /column \d+/ }).waitFor();
assert.equal(await page.locator(".expression-error .caret").count(), 1, "a caret under the column");
assert.equal(await page.getAttribute("#expression", "aria-invalid"), "true");
await shot("expression-error");
await page.fill("#expression", "prtocols == dns");
await page.press("#expression", "Enter");
await page.locator(".expression-error").filter({ hasText: /unknown field/ }).waitFor();

// ---- sort by bytes: the table shows the store's order
await searchFor("protocols == dns");
await expectCount(dns.recordsFiltered);
const bytesById = new Map(dns.data.map((r) => [r.id, r]));
const [sortedReply] = await Promise.all([
  page.waitForResponse((r) => r.url().includes("/api/sessions?") && r.url().includes("order=bytes%3Aasc")),
  page.click(".sessions-table th:has-text('Bytes')"),
]);
const sorted = (await sortedReply.json()).data;
await page.waitForFunction((id) => document.querySelector(".sessions-table tr.session-row")?.dataset.id === id, sorted[0].id);
assert.equal(await page.getAttribute(".sessions-table th:has-text('Bytes')", "aria-sort"), "ascending");
const sortedIds = await page.locator(".sessions-table tr.session-row").evaluateAll((rows) => rows.map((r) => r.dataset.id));
assert.deepEqual(sortedIds, sorted.map((r) => r.id));
for (let i = 1; i < sorted.length; i++) assert.ok(sorted[i - 1].bytes <= sorted[i].bytes, "rows in ascending bytes");
for (const i of sortedIds) assert.ok(bytesById.has(i), `row ${i} matches the search`);
await shot("sorted");

// ---- a session opened: fields, packets, its PCAP
const first = page.locator(".sessions-table tr.session-row").first();
const id = await first.getAttribute("data-id");
await first.click();
const detail = page.locator(`.session-detail[data-id="${id}"]`);
await detail.locator("table.packets tbody tr").first().waitFor();
const one = (await api(`/api/session/${id}/detail`)).session;
assert.equal(await detail.locator("table.packets tbody tr").count(), Math.min(one.packets, 500));
assert.ok((await detail.locator("table.fields th").allInnerTexts()).includes("ip.dst"));
await detail.locator(".payloads pre").first().waitFor();
await shot("session-detail");
assert.equal(await download(() => detail.locator("a:has-text('Download PCAP')").click(), "session.pcap"), one.packets, "session PCAP packets");

// ---- PCAP of the page and of every match
const pagePackets = sortedIds.reduce((a, i) => a + bytesById.get(i).packets, 0);
assert.equal(await download(() => page.click("#pcap-page"), "page.pcap"), pagePackets, "page PCAP packets");
const allPackets = dns.data.reduce((a, r) => a + r.packets, 0);
assert.equal(await download(() => page.click("#pcap-all"), "all.pcap"), allPackets, "all-matches PCAP packets");

// ---- tags: on the opened session, then on every match (and off again); the opened
// session shows its tag, a search finds what was tagged
await page.click("#tag-toggle");
await page.fill("#tag-names", "browser-one");
await page.selectOption("#tag-scope", "open");
await page.click("#tag-add");
await page.locator("#tag-result").filter({ hasText: "Tags added to 1 session" }).waitFor();
await detail.locator(`table.fields tr:has(th:text-is("tags"))`).filter({ hasText: "browser-one" }).waitFor();
assert.equal((await api("/api/sessions", { date: -1, expression: "tags == browser-one", length: 1 })).data[0].id, id);
assert.equal((await api("/api/sessions", { date: -1, expression: "tags == browser-one", length: 1 })).recordsFiltered, 1);
await page.fill("#tag-names", "browser-all");
await page.selectOption("#tag-scope", "all");
await page.click("#tag-add");
await page.locator("#tag-result").filter({ hasText: `Tags added to ${dns.recordsFiltered} sessions` }).waitFor();
const tagged = await api("/api/sessions", { date: -1, expression: "tags == browser-all", length: 1 });
assert.equal(tagged.recordsFiltered, dns.recordsFiltered, "every match tagged");
await shot("tags-added");
await page.click("#tag-remove");
await page.locator("#tag-result").filter({ hasText: `Tags removed from ${dns.recordsFiltered} sessions` }).waitFor();
assert.equal((await api("/api/sessions", { date: -1, expression: "tags == browser-all", length: 1 })).recordsFiltered, 0);
await page.click("#tag-toggle");

// ---- saved views: this search and its columns saved, another search run, the view
// applied again: its expression and columns come back
await page.click("#view-toggle");
const columnsBefore = await page.locator(".sessions-table > thead > tr > th").allInnerTexts();
await page.fill("#view-name", "browser-view");
await page.click("#view-save");
await page.locator("#view-result").filter({ hasText: "Saved view browser-view" }).waitFor();
const views = await api("/api/views");
assert.ok(views.data.some((v) => v.name === "browser-view" && v.expression === "protocols == dns" && v.columns.length > 0));
await searchFor("");
await expectCount(all.recordsFiltered);
// One column off, so the view has columns to bring back.
await page.click("button:has-text('Columns')");
await page.locator(".column-chooser label").filter({ hasText: /^protocols$/ }).locator("input").uncheck();
await page.click("button:has-text('Columns')");
assert.ok(!(await page.locator(".sessions-table > thead > tr > th").allInnerTexts()).includes("Protocols"));
await page.selectOption("#view-pick", { label: "browser-view" });
await page.waitForURL((u) => new URL(u).searchParams.get("expression") === "protocols == dns");
await rendered();
await expectCount(dns.recordsFiltered);
assert.deepEqual(await page.locator(".sessions-table > thead > tr > th").allInnerTexts(), columnsBefore);
await page.click("#view-toggle");
// The session opened before, opened again (a new search closed it).
await page.locator(`.sessions-table tr.session-row[data-id="${id}"]`).click();
await detail.locator("table.fields").first().waitFor();

// ---- a click on a field value adds it to the search
const dst = one["ip.dst"];
await detail.locator(`table.fields tr:has(th:text-is("ip.dst")) button.value`).first().click();
await page.waitForURL((u) => (new URL(u).searchParams.get("expression") ?? "").includes(`ip.dst == ${dst}`));
await rendered();
assert.equal(await page.inputValue("#expression"), `protocols == dns && ip.dst == ${dst}`);

// ---- TCP health in the session view: the handshake's round trips, in milliseconds
const timed = await api("/api/sessions", { date: -1, expression: "tcp.rtt.server == EXISTS!", length: 1 });
assert.ok(timed.recordsFiltered > 0, "sessions whose handshake was timed");
await searchFor("tcp.rtt.server == EXISTS!");
await expectCount(timed.recordsFiltered);
const tcpRow = page.locator(".sessions-table tr.session-row").first();
const tcpId = await tcpRow.getAttribute("data-id");
await tcpRow.click();
const tcpDetail = page.locator(`.session-detail[data-id="${tcpId}"]`);
const rtt = tcpDetail.locator(`table.fields tr:has(th:text-is("tcp.rtt.server")) button.value`);
await rtt.waitFor();
const tcpOne = (await api(`/api/session/${tcpId}/detail`)).session;
assert.equal(await rtt.innerText(), `${tcpOne["tcp.rtt.server"]} ms`);
assert.ok((await tcpDetail.locator("table.fields caption").allTextContents()).includes("tcp"));
assert.equal(
  await tcpDetail.locator(`table.fields tr:has(th:text-is("tcp.handshake")) button.value`).innerText(),
  tcpOne["tcp.handshake"],
);

// ---- drag across the histogram to zoom
await searchFor("");
await expectCount(all.recordsFiltered);
await page.locator(".histogram canvas").first().waitFor();
const chart = page.locator(".histogram .u-over");
await chart.waitFor({ state: "visible" });
const box = await chart.boundingBox();
await page.mouse.move(box.x + box.width * 0.3, box.y + box.height / 2);
await page.mouse.down();
await page.mouse.move(box.x + box.width * 0.5, box.y + box.height / 2, { steps: 5 });
await page.mouse.move(box.x + box.width * 0.7, box.y + box.height / 2, { steps: 5 });
await page.mouse.up();
await page.waitForURL(/startTime=\d+.*stopTime=\d+/);
const url = new URL(page.url());
assert.equal(url.searchParams.get("expression"), null, "zooming keeps the (empty) expression");
const zoomed = await api("/api/sessions", { ...Object.fromEntries(url.searchParams), length: 1 });
assert.ok(zoomed.recordsFiltered < all.recordsFiltered, "zooming narrows the sessions");
await expectCount(zoomed.recordsFiltered);
assert.equal(await page.inputValue("#time-range"), "custom");
await shot("zoomed");
await page.selectOption("#time-range", "-1");
await page.waitForURL((u) => new URL(u).searchParams.get("date") === "-1");

// ---- SPI View: counts per value; a click adds the value
await page.click("nav a:has-text('SPI View')");
const protocolsCard = page.locator('.spi-field[data-field="protocols"]');
await protocolsCard.locator("li").first().waitFor();
const spi = await api("/api/spiview", { date: -1, spi: "protocols:10" });
const shownValues = await protocolsCard.locator("li button.value").allInnerTexts();
assert.deepEqual(shownValues, spi.spi.protocols.map((v) => String(v.value)));
await shot("spiview");
await protocolsCard.locator("li button.value", { hasText: /^dns$/ }).click();
await page.waitForURL(/\/spiview\?.*expression=protocols/);
await rendered();
assert.equal(await page.inputValue("#expression"), "protocols == dns");

// ---- SPI Graph
await page.click("nav a:has-text('SPI Graph')");
await page.locator(".spigraph-item").first().waitFor();
const graph = await api("/api/spigraph", { date: -1, expression: "protocols == dns", field: "protocols", size: 10 });
assert.equal(await page.locator(".spigraph-item").count(), graph.items.length);
await shot("spigraph");

// ---- Connections: the graph's nodes, a click on one adds it
await searchFor("");
await page.click("nav a:has-text('Connections')");
await page.locator("svg.graph .node").first().waitFor();
const conn = await api("/api/connections", { date: -1, srcField: "ip.src", dstField: "ip.dst", length: 200 });
assert.equal(await page.locator("svg.graph .node").count(), conn.nodes.length);
assert.equal(await page.locator("svg.graph line.link").count(), conn.links.length);
await page.locator("svg.graph[data-settled=true]").waitFor(); // nodes stop moving before one is clicked
// Settled means stopped: no animation keeps running (and moving nodes) afterwards.
const positions = () => page.locator("svg.graph circle").evaluateAll((cs) => cs.map((c) => `${c.getAttribute("cx")},${c.getAttribute("cy")}`).join(" "));
const settledAt = await positions();
await page.waitForTimeout(700);
assert.equal(await positions(), settledAt, "the layout stops once settled");
// ... and asks for no more animation frames (d3-force's own timer stops at its "end", which sets data-settled).
const frames = await page.evaluate(
  () =>
    new Promise((done) => {
      let n = 0;
      const original = window.requestAnimationFrame;
      window.requestAnimationFrame = (cb) => (n++, original.call(window, cb));
      setTimeout(() => ((window.requestAnimationFrame = original), done(n)), 500);
    }),
);
assert.equal(frames, 0, "no animation loop left running");
await shot("connections");
const heaviest = [...conn.nodes].sort((a, b) => b.sessions - a.sessions)[0];
await page.locator(`svg.graph .node[data-id="${heaviest.id}"] circle`).click({ force: true });
await page.locator(".node-info").filter({ hasText: String(heaviest.id) }).waitFor();
await page.locator(".node-info .node-actions button").first().click();
await page.waitForURL((u) => (new URL(u).searchParams.get("expression") ?? "").includes(String(heaviest.id)));

// ---- the map: countries coloured by sessions, a click adds the country
await searchFor("");
await page.click("nav a:has-text('Map')");
await page.locator("svg.map path.country-shape").first().waitFor();
const geo = await api("/api/spiview", { date: -1, spi: "country.src:300,country.dst:300" });
const countries = new Set([...geo.spi["country.src"], ...geo.spi["country.dst"]].map((v) => v.value));
assert.ok(countries.size > 0, "the data has countries (GeoIP)");
await page.locator("svg.map path.country-shape.has").first().waitFor();
const coloured = await page.locator("svg.map path.country-shape.has").evaluateAll((ps) => ps.map((p) => p.dataset.country));
for (const c of coloured) assert.ok(countries.has(c), `${c} has sessions`);
assert.equal(await page.locator(".country-table tbody tr").count(), Math.min(30, countries.size));
await shot("map");
const top = await page.locator(".country-table tbody tr").first().getAttribute("data-country");
await page.locator(".country-table tbody tr").first().click();
await page.waitForURL((u) => new URL(u).searchParams.get("expression") === `country == ${top}`);

// ---- Alerts: the sample's incidents, narrowed by severity, and a link to the evidence
await page.click("nav a:has-text('Alerts')");
const raised = await api("/api/alerts", { date: -1 });
assert.ok(raised.recordsFiltered >= 7, `the sample's incidents raise alerts (${raised.recordsFiltered})`);
await page.locator("#alert-count").filter({ hasText: wholeCount(`${raised.recordsFiltered} alerts`) }).waitFor();
assert.equal(await page.locator("table.alert-list tbody tr").count(), raised.recordsFiltered);
const shownFirst = await page.locator("table.alert-list tbody tr").first().getAttribute("data-detector");
assert.equal(shownFirst, raised.data[0].detector, "newest first, as the API");
await page.selectOption("#alert-severity", "high");
const high = await api("/api/alerts", { date: -1, severity: "high" });
assert.ok(high.recordsFiltered > 0 && high.recordsFiltered < raised.recordsFiltered);
await page.locator("#alert-count").filter({ hasText: wholeCount(`${high.recordsFiltered} alerts`) }).waitFor();
assert.equal(await page.locator("table.alert-list tbody tr.sev-high").count(), high.recordsFiltered);
assert.equal(await page.locator("table.alert-list tbody tr:not(.sev-high)").count(), 0);
await shot("alerts");
await page.selectOption("#alert-severity", "");
const scan = raised.data.find((a) => a.detector === "vertical-scan");
await page.locator("tr[data-detector=vertical-scan] a.evidence").click();
await page.waitForURL((u) => new URL(u).searchParams.get("expression") === scan.expression);
const evidence = await api("/api/sessions", { expression: scan.expression, date: -1, length: 1 });
assert.ok(evidence.recordsFiltered >= 50, `the scan's evidence: ${evidence.recordsFiltered} sessions`);
await expectCount(evidence.recordsFiltered);
await shot("alert-evidence");

// ---- Services: each busiest service's requests, failures and latency as the API
// counts them, two charts each; the slowest transactions, one opened as its session
await page.goto(`${base}/services?date=-1`);
const served = await api("/api/services", { date: -1, length: 20 });
assert.ok(served.services.length >= 2, `the sample's HTTP and DNS servers (${served.services.length})`);
await page.locator("#service-count").filter({ hasText: wholeCount(`${served.services.length} services`) }).waitFor();
for (const s of served.services) {
  const panel = page.locator(`section.service[data-service="${s.server}:${s.port} ${s.kind}"]`);
  assert.equal(await panel.locator("[data-requests]").getAttribute("data-requests"), String(s.requests));
  assert.equal(await panel.locator("[data-failed]").getAttribute("data-failed"), String(s.failed));
  for (const p of ["p50", "p95", "p99"]) {
    assert.equal(await panel.locator(`[data-${p}]`).getAttribute(`data-${p}`), String(s[p] ?? ""), `${p} of ${s.server}`);
  }
  assert.equal(await panel.locator(".time-chart canvas").count(), 2, "requests and p95 over time");
  assert.ok(s.buckets.length > 0 && s.buckets.reduce((n, b) => n + b.requests, 0) === s.requests);
}
const slow = await api("/api/transactions", { date: -1, slowest: 20 });
await page.locator("table.slowest tbody tr").first().waitFor();
assert.equal(await page.locator("table.slowest tbody tr").count(), slow.data.length);
const shownTimes = await page.locator("table.slowest td.response-time").allTextContents();
assert.deepEqual(shownTimes, slow.data.map((t) => `${t["response-time"].toFixed(3)} ms`), "slowest first, as the API");
await shot("services");
await page.selectOption("#service-kind", "dns");
const lookups = await api("/api/services", { date: -1, length: 20, kind: "dns" });
await page.locator("#service-count").filter({ hasText: wholeCount(`${lookups.services.length} services`) }).waitFor();
await page.waitForFunction(() => [...document.querySelectorAll("section.service")].every((s) => s.dataset.service.endsWith(" dns")));
const slowestSession = (await api("/api/transactions", { date: -1, slowest: 1, kind: "dns" })).data[0].session;
await page.locator(`table.slowest tr[data-session="${slowestSession}"] a.evidence`).first().click();
await page.waitForURL((u) => new URL(u).searchParams.get("expression") === `id == ${slowestSession}`);
await expectCount(1);

// ---- DNS: answers by status over time, query types, names and domains asked most,
// a name's clients, names first seen in a range — each as the API answers
const dnsAll = { expression: "protocols == dns", date: -1 };
await page.goto(`${base}/dns?date=-1`);
const dnsSpi = await api("/api/spiview", { ...dnsAll, spi: "dns.query.type:20,host.dns:50" });
await page.locator("#dns-count").filter({ hasText: wholeCount(`${dnsSpi.recordsFiltered.toLocaleString("en-US")} DNS sessions`) }).waitFor();
const byStatus = await api("/api/spigraph", { ...dnsAll, field: "dns.status", size: 8 });
assert.ok(byStatus.items.some((i) => i.value === "NXDOMAIN"), "the captures hold NXDOMAIN answers");
for (const it of byStatus.items) await page.locator(`#dns-statuses .dns-status[data-status="${it.value}"] canvas`).first().waitFor();
const topType = dnsSpi.spi["dns.query.type"][0];
await page.locator(`#dns-types tr[data-value="${topType.value}"]`).filter({ hasText: topType.count.toLocaleString("en-US") }).waitFor();
const topName = dnsSpi.spi["host.dns"][0];
await page.locator(`#dns-names tr[data-value="${topName.value}"]`).filter({ hasText: topName.count.toLocaleString("en-US") }).waitFor();
// Domains: every name's sessions summed under its registered domain.
const perName = (await apiText("/api/unique", { ...dnsAll, field: "host.dns", counts: 1 }))
  .split("\n")
  .filter(Boolean)
  .map((l) => [l.slice(0, l.lastIndexOf(", ")), Number(l.slice(l.lastIndexOf(", ") + 2))]);
const firstDomain = (await page.locator("#dns-domains tr").first().getAttribute("data-value")) ?? "";
const domainCount = perName.filter(([n]) => n === firstDomain || n.endsWith(`.${firstDomain}`)).reduce((a, [, c]) => a + c, 0);
await page.locator(`#dns-domains tr[data-value="${firstDomain}"]`).filter({ hasText: domainCount.toLocaleString("en-US") }).waitFor();
// A name picked: the clients that asked for it.
await page.click(`#dns-names tr[data-value="${topName.value}"] button`);
const askers = await api("/api/spiview", { expression: `protocols == dns && host.dns == "${topName.value}"`, date: -1, spi: "ip.src:50" });
const asker = askers.spi["ip.src"][0];
await page.locator(`#dns-clients tr[data-value="${asker.value}"]`).filter({ hasText: asker.count.toLocaleString("en-US") }).waitFor();
await shot("dns");
// New names: in the second half of the data's time, not asked in the first.
const span = (await api("/api/stats")).store;
const mid = Math.floor((span.first_ns + span.last_ns) / 2e9);
const end = Math.ceil(span.last_ns / 1e9) + 1;
const later = await apiText("/api/unique", { expression: "protocols == dns", startTime: mid, stopTime: end, field: "host.dns" });
const earlier = new Set((await apiText("/api/unique", { expression: "protocols == dns", startTime: 0, stopTime: mid, field: "host.dns" })).split("\n"));
const fresh = later.split("\n").filter((n) => n && !earlier.has(n));
await page.goto(`${base}/dns?startTime=${mid}&stopTime=${end}`);
await page.locator("#dns-new").filter({ hasText: "not asked before the range began" }).waitFor();
await page.waitForFunction((n) => document.querySelectorAll("#dns-new tr").length === n, Math.min(50, fresh.length));
for (const v of await page.locator("#dns-new tr").evaluateAll((rows) => rows.map((r) => r.dataset.value))) {
  assert.ok(fresh.includes(v), `${v} was asked before the range`);
}
console.log(`dns: ${dnsSpi.recordsFiltered} sessions, ${perName.length} names, ${fresh.length} first seen after ${mid}`);

// ---- Stats
await page.click("nav a:has-text('Stats')");
const stats = await api("/api/stats");
await page.locator("#stat-sessions").filter({ hasText: stats.store.sessions.toLocaleString("en-US") }).waitFor();
// The server's indicator source, as the API describes it.
assert.equal(stats.intel.sources[0].name, "docs");
assert.equal(stats.intel.sources[0].indicators, 1);
await page.locator("#intel-stats tr").filter({ hasText: "docs" }).filter({ hasText: "list" }).waitFor();
await shot("stats");

// ---- Upload: a capture sent from the page, followed through its ingest to its sessions
const toUpload = process.env.TYTO_UPLOAD_FILE;
if (toUpload) {
  await page.click("nav a:has-text('Upload')");
  await page.setInputFiles("#upload-files", toUpload);
  await page.fill("#upload-tags", "from-browser");
  await page.click("#upload-send");
  await page.locator(".upload-sending").filter({ hasText: "sent" }).waitFor();
  const row = page.locator("table.upload-list tbody tr").filter({ hasText: "from-browser" }).first();
  await row.filter({ hasText: "done" }).waitFor();
  const jobs = await api("/api/uploads");
  const job = jobs.data.find((j) => j.tags.includes("from-browser"));
  assert.equal(job.state, "done");
  assert.equal(job.read_bytes, job.bytes);
  const sent = await api("/api/sessions", { expression: "tags == from-browser", date: -1, length: 1 });
  assert.ok(sent.recordsFiltered > 0, "the uploaded file's sessions are searchable");
  assert.equal(sent.recordsFiltered, job.sessions);
  await shot("upload");
  await row.locator("a").click();
  await page.waitForURL((u) => new URL(u).searchParams.get("expression") === "tags == from-browser");
  await expectCount(sent.recordsFiltered);
  // Its sessions with the listed network were marked as they were written, and the
  // session view shows the match.
  const docs = await api("/api/sessions", { expression: "tags == from-browser && ip == 192.0.2.0/24", date: -1, length: 1 });
  const marked = await api("/api/sessions", { expression: "tags == from-browser && intel == \"docs:192.0.2.0/24\"", date: -1, length: 1 });
  assert.ok(docs.recordsFiltered > 0);
  assert.equal(marked.recordsFiltered, docs.recordsFiltered);
  await searchFor("tags == from-browser && intel.source == docs");
  await expectCount(docs.recordsFiltered);
  await page.locator(".sessions-table tr.session-row").first().click();
  await page.locator(".session-detail table.fields").filter({ hasText: "docs:192.0.2.0/24" }).waitFor();
}

// ---- Hunts: a request path that one session alone has, searched for in every
// session's packets from the Hunts page: the hunt finishes with that session, tagged
const quoted = (v) => `"${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
const withPath = await api("/api/sessions", { date: -1, expression: "http.uri.path == EXISTS!", fields: "http.uri.path", length: 200 });
let target = null;
for (const r of withPath.data) {
  const p = (r["http.uri.path"] ?? []).find((p) => p.length >= 12 && /^[\x21-\x7e]+$/.test(p));
  if (!p) continue;
  const n = (await api("/api/sessions", { date: -1, expression: `http.uri.path == ${quoted(p)}`, length: 1 })).recordsFiltered;
  if (n === 1) {
    target = { id: r.id, path: p };
    break;
  }
}
assert.ok(target, "a request path of one session");
await searchFor("");
await page.click("nav a:has-text('Hunts')");
await page.fill("#hunt-name", "browser-hunt");
await page.fill("#hunt-search", target.path);
await page.selectOption("#hunt-type", "asciicase");
await page.click("#hunt-start");
const huntRow = page.locator('.hunt-list tr[data-name="browser-hunt"][data-state="finished"]');
await huntRow.waitFor({ timeout: 60000 });
const hunt = (await api("/api/hunts")).data.find((h) => h.spec.name === "browser-hunt");
assert.equal(hunt.progress.matched, 1, JSON.stringify(hunt));
assert.deepEqual(hunt.progress.matches, [target.id]);
const everySession = await api("/api/sessions", { date: -1, length: 1 });
assert.equal(hunt.progress.sessions_searched, everySession.recordsFiltered, "every session searched");
assert.equal((await huntRow.locator(".hunt-matches").innerText()).trim(), "1");
await shot("hunt");
await huntRow.locator(".hunt-matches a").click();
await page.waitForURL((u) => new URL(u).pathname === "/sessions" && (new URL(u).searchParams.get("expression") ?? "").includes("hunt:browser-hunt"));
await rendered();
await expectCount(1);
assert.equal(await page.locator(".sessions-table tr.session-row").first().getAttribute("data-id"), target.id);

// ---- Periodic queries: one made from the Periodic page over every session stored
// (its expression the search bar's) runs at once and tags exactly what the
// expression finds; its total opens them; paused and deleted from the page
{
  // Sessions stored in the last few seconds wait for a later run: let them age.
  const newest = await api("/api/sessions", { date: -1, length: 1, order: "dbTimestamp:desc", fields: "dbTimestamp" });
  const age = Date.now() - Date.parse(newest.data[0].dbTimestamp);
  if (age < 11000) await page.waitForTimeout(11000 - age);
  const dnsCount = (await api("/api/sessions", { date: -1, expression: "protocols == dns", length: 1 })).recordsFiltered;
  assert.ok(dnsCount > 0);
  await searchFor("protocols == dns");
  await page.click("nav a:has-text('Periodic')");
  assert.equal(await page.inputValue("#periodic-expression"), "protocols == dns");
  await page.fill("#periodic-name", "browser-periodic");
  await page.fill("#periodic-tags", "browser-cron");
  await page.selectOption("#periodic-since", "0");
  await page.click("#periodic-create");
  const cronRow = page.locator('.periodic-list tr[data-name="browser-periodic"]');
  await cronRow.locator(".periodic-total").filter({ hasText: new RegExp(`^\\s*${dnsCount.toLocaleString("en-US")}\\s*$`) }).waitFor({ timeout: 30000 });
  const made = (await api("/api/crons")).data.find((q) => q.name === "browser-periodic");
  assert.equal(made.total_matched, dnsCount, JSON.stringify(made));
  assert.equal(made.last_error, null);
  assert.equal((await api("/api/sessions", { date: -1, expression: "tags == browser-cron", length: 1 })).recordsFiltered, dnsCount);
  assert.equal((await api("/api/sessions", { date: -1, expression: "tags == browser-cron && protocols != dns", length: 1 })).recordsFiltered, 0);
  await shot("periodic");
  await cronRow.getByRole("button", { name: "Pause" }).click();
  await page.locator('.periodic-list tr[data-name="browser-periodic"][data-enabled="false"]').waitFor();
  assert.equal((await api("/api/crons")).data.find((q) => q.name === "browser-periodic").enabled, false);
  await cronRow.locator(".periodic-total a").click();
  await page.waitForURL((u) => new URL(u).pathname === "/sessions" && new URL(u).searchParams.get("expression") === "tags == browser-cron");
  await rendered();
  await expectCount(dnsCount);
  await page.click("nav a:has-text('Periodic')");
  await cronRow.getByRole("button", { name: "Delete" }).click();
  await cronRow.waitFor({ state: "detached" });
  assert.ok(!(await api("/api/crons")).data.some((q) => q.name === "browser-periodic"));
}

// ---- Shortcuts: a list of ports made on the Shortcuts page; its name opens a
// search that finds what the list typed out finds; the search bar completes it after
// `$`; changed, it holds the new values; deleted from the page
{
  await page.click("nav a:has-text('Shortcuts')");
  await page.fill("#shortcut-name", "browser-ports");
  await page.selectOption("#shortcut-type", "number");
  await page.fill("#shortcut-value", "53\n443");
  await page.fill("#shortcut-description", "DNS and TLS");
  await page.click("#shortcut-save");
  const row = page.locator('.shortcut-list tr[data-name="browser-ports"]');
  await row.locator(".shortcut-count").filter({ hasText: /^\s*2\s*$/ }).waitFor();
  const typed = (await api("/api/sessions", { date: -1, expression: "port.dst == [53, 443]", length: 1 })).recordsFiltered;
  assert.ok(typed > 0);
  await shot("shortcuts");
  await row.locator("a").first().click();
  await page.waitForURL((u) => new URL(u).pathname === "/sessions" && new URL(u).searchParams.get("expression") === "port.dst == $browser-ports");
  await rendered();
  await expectCount(typed);
  // After `$`, the search bar offers the shortcuts of the field's type.
  await page.fill("#expression", "");
  await page.click("#expression");
  await page.keyboard.type("port.src == $brow");
  await page.locator(".suggestions li").filter({ hasText: "$browser-ports" }).first().waitFor();
  await page.keyboard.press("Tab");
  assert.equal(await page.inputValue("#expression"), "port.src == $browser-ports");
  await page.keyboard.press("Escape");
  await page.click("nav a:has-text('Shortcuts')");
  await row.getByRole("button", { name: "Edit" }).click();
  assert.equal(await page.inputValue("#shortcut-value"), "53\n443");
  await page.fill("#shortcut-value", "53");
  await page.click("#shortcut-save");
  await row.locator(".shortcut-count").filter({ hasText: /^\s*1\s*$/ }).waitFor();
  assert.equal(
    (await api("/api/sessions", { date: -1, expression: "port.dst == $browser-ports", length: 1 })).recordsFiltered,
    (await api("/api/sessions", { date: -1, expression: "port.dst == 53", length: 1 })).recordsFiltered,
  );
  await row.getByRole("button", { name: "Delete" }).click();
  await row.waitFor({ state: "detached" });
  assert.ok(!(await api("/api/shortcuts")).data.some((s) => s.name === "browser-ports"));
}

// ---- History: the tag changes above, with the tags their form bodies held; an
// expression there opens its search again
// The history is written as requests end: the page asks once the API's answer has
// stopped growing, so both count the same lines.
let hist = await api("/api/histories", { searchTerm: "browser-all", length: 1000 });
for (let i = 0; i < 20; i++) {
  await new Promise((r) => setTimeout(r, 300));
  const again = await api("/api/histories", { searchTerm: "browser-all", length: 1000 });
  if (again.recordsFiltered === hist.recordsFiltered) break;
  hist = again;
}
await page.click("nav a:has-text('History')");
await page.fill("#history-text", "browser-all");
await page.press("#history-text", "Enter");
assert.ok(hist.data.some((e) => e.path === "/api/sessions/addtags" && e.detail.tags.includes("browser-all")), "the tag change is recorded");
assert.ok(hist.data.some((e) => e.path === "/api/sessions/removetags"), "the removal is recorded");
await page.locator("#history-count").filter({ hasText: wholeCount(`${hist.recordsFiltered} requests`) }).waitFor();
assert.equal(await page.locator(".history-list tbody tr").count(), hist.data.length);
await page.locator(".history-list tbody tr").filter({ hasText: "/api/sessions/addtags" }).filter({ hasText: "browser-all" }).first().waitFor();
await shot("history");
await page.locator(".history-list td.expression a").filter({ hasText: "tags == browser-all" }).first().click();
await page.waitForURL((u) => new URL(u).pathname === "/sessions" && new URL(u).searchParams.get("expression") === "tags == browser-all");
await rendered();
await expectCount(0);

// ---- Users (admins): one added from the page, a right taken off at once, a new
// password, removed
await page.click("nav a:has-text('Users')");
await page.fill("#new-user-name", "browser-user");
await page.fill("#new-user-password", "browser-secret-1");
await page.click("#new-user-add");
await page.locator("#users-message").filter({ hasText: "Added browser-user" }).waitFor();
const userRow = page.locator('.user-list tr[data-user="browser-user"]');
await userRow.waitFor();
assert.ok((await api("/api/users")).some((u) => u.name === "browser-user" && u.export_pcap && !u.admin));
await userRow.locator("input.right-export_pcap").uncheck();
await page.locator("#users-message").filter({ hasText: "Changed browser-user" }).waitFor();
assert.ok((await api("/api/users")).some((u) => u.name === "browser-user" && !u.export_pcap));
await shot("users");
await userRow.locator("button.user-remove").click();
await page.locator("#users-message").filter({ hasText: "Removed browser-user" }).waitFor();
await userRow.waitFor({ state: "detached" });
assert.ok(!(await api("/api/users")).some((u) => u.name === "browser-user"));

// ---- Settings: a time zone (Asia/Kolkata, +05:30); the Sessions table then shows
// start times on its clock; back to UTC
{
  await page.click("nav a:has-text('Settings')");
  await page.fill("#settings-zone", "Asia/Kolkata");
  await page.click("#settings-save");
  await page.locator("#settings-message").filter({ hasText: "Asia/Kolkata" }).waitFor();
  assert.equal((await api("/api/user/current")).user.time_zone, "Asia/Kolkata");
  await shot("settings");
  await page.click("nav a:has-text('Sessions')");
  await searchFor("protocols == dns");
  const first = page.locator(".sessions-table tr.session-row").first();
  await first.waitFor();
  const id = await first.getAttribute("data-id");
  const one = await api("/api/sessions", { date: -1, expression: `id == "${id}"`, fields: "starttime", length: 1 });
  const kolkata = new Date(Date.parse(one.data[0].starttime) + 5.5 * 3600 * 1000).toISOString().slice(0, 19).replace("T", " ");
  const shown = await first.locator("td.col-starttime").innerText();
  assert.ok(shown.startsWith(kolkata), `${shown} is not ${kolkata} (Kolkata's clock at ${one.data[0].starttime})`);
  await page.click("nav a:has-text('Settings')");
  await page.fill("#settings-zone", "UTC");
  await page.click("#settings-save");
  await page.locator("#settings-message").filter({ hasText: "in UTC" }).waitFor();
  assert.equal((await api("/api/user/current")).user.time_zone, "UTC");
}

// ---- a user who may not export PCAP nor see packets
if (limited[0]) {
  await page.click("header button:has-text('Log out')");
  await page.waitForURL(/\/login/);
  await login(limited);
  await page.locator(".sessions-table tbody tr.session-row").first().waitFor();
  assert.equal(await page.locator("#pcap-all").count(), 0, "no PCAP download offered");
  assert.equal(await page.locator("nav a:has-text('Users')").count(), 0, "no Users page offered");
  await page.locator(".sessions-table tr.session-row").first().click();
  await page.locator(".session-detail").filter({ hasText: "may not see packet contents" }).waitFor();
  assert.equal(await page.locator(".session-detail a:has-text('Download PCAP')").count(), 0);
  await shot("limited-user");
  await page.click("nav a:has-text('Upload')");
  await page.locator(".page").filter({ hasText: "may not upload captures" }).waitFor();
}

// ---- log out: the API answers 401 again
await page.click("header button:has-text('Log out')");
await page.waitForURL(/\/login/);
const after = await context.request.get(`${base}/api/sessions`, { headers: { "X-Tyto-UI": "1" } });
assert.equal(after.status(), 401);

await browser.close();
assert.deepEqual(problems, [], "no script errors in the page");
console.log(`browser: every check passed; screenshots in ${artifacts}`);
