// DNS: what the searched DNS traffic asked and got — answers by status over time
// (NXDOMAIN and SERVFAIL bursts stand out), query types, the names and domains asked
// most, the names first seen in the time range, and, for a name picked, the clients
// that asked for it. The search bar's expression and time range apply.

import { useState } from "preact/hooks";
import type { SpiReply } from "../api";
import { TimeChart } from "../components/TimeChart";
import { useApp } from "../context";
import { formatCount } from "../format";
import { andClause, quoteValue, searchParams } from "../search";
import { useApi, useApiText } from "../useApi";
import { searchDomain } from "./Sessions";

interface SpiGraphReply {
  interval: number;
  items: { value: unknown; count: number; buckets: [number, number][] }[];
}

/** Names read at most to count domains and to find new names. */
const NAMES_READ = 100_000;
const STATUS_COLORS: Record<string, string> = { NXDOMAIN: "#f87171", SERVFAIL: "#f59e0b", NOERROR: "#60a5fa" };

/** A name's registered domain: the last two labels, three under a generic second
 *  level of a country (`example.co.uk`) — the rule the DNS detectors count by. */
export function baseDomain(name: string): string {
  const labels = name.split(".");
  if (labels.length <= 2) return name;
  const generic = ["co", "com", "net", "org", "gov", "edu", "ac", "or", "ne", "go", "gob", "mil", "nic"];
  const tld = labels[labels.length - 1];
  const take = tld.length === 2 && generic.includes(labels[labels.length - 2]) ? 3 : 2;
  return labels.length <= take ? name : labels.slice(-take).join(".");
}

/** `/api/unique`'s `value, count` lines. */
function counted(text: string | null): [string, number][] {
  if (!text) return [];
  return text
    .split("\n")
    .filter((l) => l.includes(", "))
    .map((l) => {
      const at = l.lastIndexOf(", ");
      return [l.slice(0, at), Number(l.slice(at + 2))] as [string, number];
    });
}

function Table({ id, title, rows, onPick, note }: {
  id: string;
  title: string;
  rows: [string, number][];
  onPick?: (v: string) => void;
  note?: string;
}) {
  return (
    <section class="panel dns-table" id={id}>
      <div class="panel-head">
        <strong>{title}</strong>
        {note && <span class="muted">{note}</span>}
      </div>
      <table class="nodes">
        <tbody>
          {rows.map(([v, n]) => (
            <tr data-value={v}>
              <td>{onPick ? <button class="value" onClick={() => onPick(v)}>{v}</button> : v}</td>
              <td class="count">{formatCount(n)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {rows.length === 0 && <p class="muted">none</p>}
    </section>
  );
}

export function Dns() {
  const { search, setSearch, addClause } = useApp();
  const [picked, setPicked] = useState<string | null>(null);
  const dns = { ...searchParams(search), expression: andClause(search.expression, "protocols == dns") };
  const statuses = useApi<SpiGraphReply>("/api/spigraph", { ...dns, field: "dns.status", size: 8 });
  const spi = useApi<SpiReply>("/api/spiview", { ...dns, spi: "dns.query.type:20,host.dns:50" });
  const names = useApiText("/api/unique", { ...dns, field: "host.dns", counts: 1, length: NAMES_READ });
  const range = searchDomain(search);
  // Names seen before the range began: what the range's names are new against.
  const before = useApiText(range ? "/api/unique" : null, {
    expression: dns.expression,
    startTime: 0,
    stopTime: range ? range[0] : 0,
    field: "host.dns",
    length: NAMES_READ,
  });
  const clients = useApi<SpiReply>(picked ? "/api/spiview" : null, {
    ...dns,
    expression: andClause(dns.expression, `host.dns == ${quoteValue(picked ?? "")}`),
    spi: "ip.src:50",
  });
  const zoom = (a: number, b: number) => setSearch({ ...search, startTime: a, stopTime: b });
  // One time axis for every status: the range searched, else the answers' own extent.
  const starts = (statuses.data?.items ?? []).flatMap((it) => it.buckets.map(([t]) => t / 1e9));
  const axis: [number, number] | undefined =
    range ?? (starts.length ? [Math.min(...starts), Math.max(...starts) + (statuses.data?.interval ?? 0)] : undefined);

  const all = counted(names.data);
  const domains = new Map<string, number>();
  for (const [name, n] of all) domains.set(baseDomain(name), (domains.get(baseDomain(name)) ?? 0) + n);
  const topDomains = [...domains.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, 50);
  const seen = new Set((before.data ?? "").split("\n").filter(Boolean));
  const fresh = range && before.data !== null ? all.filter(([n]) => !seen.has(n)).slice(0, 50) : [];
  const spiRows = (f: string): [string, number][] => (spi.data?.spi[f] ?? []).map((r) => [String(r.value), r.count]);

  return (
    <div class="page dns">
      <div class="toolbar">
        <span class="counts" id="dns-count">
          {spi.data ? `${formatCount(spi.data.recordsFiltered)} DNS sessions` : spi.loading ? "Loading…" : ""}
        </span>
      </div>
      <section class="panel" id="dns-statuses">
        <div class="panel-head">
          <strong>Answers by status</strong>
          <span class="muted">sessions per bucket; drag to zoom</span>
        </div>
        {(statuses.data?.items ?? []).map((it) => (
          <div class="dns-status" data-status={String(it.value)}>
            <div class="muted">
              {String(it.value)} · {formatCount(it.count)}
            </div>
            <TimeChart
              bars={it.buckets.map(([t, n]) => ({ start_ns: t, value: n }))}
              interval={statuses.data!.interval}
              domain={axis}
              height={70}
              label={`${String(it.value)} answers`}
              color={STATUS_COLORS[String(it.value)] ?? "#a78bfa"}
              onZoom={zoom}
            />
          </div>
        ))}
        {statuses.data && statuses.data.items.length === 0 && <p class="muted">No DNS answers in this search.</p>}
      </section>
      <div class="dns-grid">
        <Table id="dns-types" title="Query types" rows={spiRows("dns.query.type")} onPick={(v) => addClause("dns.query.type", v)} />
        <Table id="dns-names" title="Names asked most" rows={spiRows("host.dns")} onPick={setPicked} note="pick one for its clients" />
        <Table
          id="dns-domains"
          title="Domains asked most"
          rows={topDomains}
          onPick={(d) => addClause("host.dns", `*.${d}`)}
          note={all.length >= NAMES_READ ? `of the ${formatCount(NAMES_READ)} names asked most` : undefined}
        />
        <Table
          id="dns-new"
          title="Names first seen in this range"
          rows={fresh}
          onPick={setPicked}
          note={range ? "not asked before the range began" : "choose a time range"}
        />
      </div>
      {picked && (
        <Table
          id="dns-clients"
          title={`Clients asking for ${picked}`}
          rows={(clients.data?.spi["ip.src"] ?? []).map((r) => [String(r.value), r.count])}
          onPick={(ip) => addClause("ip.src", ip)}
        />
      )}
    </div>
  );
}
