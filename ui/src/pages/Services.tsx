// Services: who answers the searched sessions' requests (server address, port and
// protocol) — how many requests, how many failed, how fast (p50/p95/p99) — each with
// its requests and its 95th percentile over time; then the slowest transactions,
// each linking to its session. The search bar's expression and time range apply.

import { useState } from "preact/hooks";
import { TimeChart } from "../components/TimeChart";
import { useApp } from "../context";
import { formatCount, formatTime, timeZone } from "../format";
import { searchParams } from "../search";
import { useApi } from "../useApi";
import { searchDomain } from "./Sessions";

export interface Service {
  server: string;
  port: number;
  kind: string;
  requests: number;
  failed: number;
  answered: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
  /** Width of its buckets, in seconds. */
  interval: number;
  buckets: { start_ns: number; requests: number; failed: number; p95: number | null }[];
}

interface ServicesReply {
  services: Service[];
}

export interface Transaction {
  session: string;
  node: string;
  server: string;
  port: number;
  kind: string;
  time: number;
  answered: number | null;
  "response-time": number | null;
  failed: boolean | null;
  fields: Record<string, unknown[]>;
}

const KINDS = ["http", "dns", "mysql", "pgsql", "tds", "redis", "mongodb", "memcache"];

/** What a transaction asked and what came back, by its kind. */
const SHOWN: Record<string, [string[], string[]]> = {
  http: [["http.method", "host.http", "http.uri.path"], ["http.statuscode"]],
  dns: [["dns.query.type", "host.dns"], ["dns.status"]],
  mysql: [["mysql.query"], ["mysql.error"]],
  pgsql: [["pgsql.query"], ["pgsql.error"]],
  tds: [["tds.query", "tds.rpc"], ["tds.error"]],
  redis: [["redis.command", "redis.key"], ["redis.error"]],
  mongodb: [["mongodb.command", "mongodb.db", "mongodb.collection"], ["mongodb.error"]],
  memcache: [["memcache.command", "memcache.key"], ["memcache.status"]],
};

function values(t: Transaction, names: string[]): string {
  return names.flatMap((n) => (t.fields?.[n] ?? []).map(String)).join(" ");
}

function ms(v: number | null): string {
  return v == null ? "–" : `${v.toFixed(3)} ms`;
}

export function Services() {
  const { search, setSearch, openSearch } = useApp();
  const [kind, setKind] = useState("");
  const params = { ...searchParams(search), ...(kind ? { kind } : {}) };
  const services = useApi<ServicesReply>("/api/services", { ...params, length: 20 });
  const slowest = useApi<{ data: Transaction[] }>("/api/transactions", { ...params, slowest: 20 });
  const domain = searchDomain(search);
  const zoom = (a: number, b: number) => setSearch({ ...search, startTime: a, stopTime: b });
  const list = services.data?.services ?? [];

  return (
    <div class="page services">
      <div class="toolbar">
        <label>
          Protocol{" "}
          <select id="service-kind" value={kind} onChange={(e) => setKind(e.currentTarget.value)}>
            <option value="">any</option>
            {KINDS.map((k) => (
              <option value={k}>{k}</option>
            ))}
          </select>
        </label>
        <span class="counts" id="service-count">
          {services.data ? `${formatCount(list.length)} services` : services.loading ? "Loading…" : ""}
        </span>
      </div>
      {list.map((s) => {
        const name = `${s.server}:${s.port} ${s.kind}`;
        const failedPct = s.requests ? (100 * s.failed) / s.requests : 0;
        return (
          <section class="panel service" data-service={name}>
            <div class="panel-head">
              <strong>{name}</strong>
              <span class="count" data-requests={s.requests}>
                {formatCount(s.requests)} requests
              </span>
              <span class="count" data-failed={s.failed}>
                {failedPct.toFixed(1)}% failed
              </span>
              <span class="count latency">
                p50 <b data-p50={s.p50 ?? ""}>{ms(s.p50)}</b> · p95 <b data-p95={s.p95 ?? ""}>{ms(s.p95)}</b> · p99{" "}
                <b data-p99={s.p99 ?? ""}>{ms(s.p99)}</b>
              </span>
            </div>
            <TimeChart
              bars={s.buckets.map((b) => ({ start_ns: b.start_ns, value: b.requests }))}
              interval={s.interval}
              domain={domain}
              height={80}
              label={`${name}: requests`}
              onZoom={zoom}
            />
            <TimeChart
              bars={s.buckets.map((b) => ({ start_ns: b.start_ns, value: b.p95 ?? 0 }))}
              interval={s.interval}
              domain={domain}
              height={80}
              label={`${name}: p95 ms`}
              color="#f59e0b"
              onZoom={zoom}
            />
          </section>
        );
      })}
      {services.data && list.length === 0 && (
        <p class="muted">No transactions: HTTP, DNS and database requests with their answers appear here.</p>
      )}
      <h3>Slowest transactions</h3>
      <table class="nodes slowest">
        <thead>
          <tr>
            <th>Time ({timeZone()})</th>
            <th>Service</th>
            <th>Response</th>
            <th>Request</th>
            <th>Answer</th>
            <th>Session</th>
          </tr>
        </thead>
        <tbody>
          {(slowest.data?.data ?? []).map((t) => {
            const [asked, answer] = SHOWN[t.kind] ?? [[], []];
            const expression = `id == ${t.session}`;
            return (
              <tr class={t.failed ? "failed" : ""} data-session={t.session}>
                <td class="nowrap">{formatTime(new Date(t.time).toISOString(), true)}</td>
                <td class="nowrap">
                  {t.server}:{t.port} {t.kind}
                </td>
                <td class="nowrap response-time">{ms(t["response-time"])}</td>
                <td class="request">{values(t, asked)}</td>
                <td>{t.answered == null ? "(unanswered)" : values(t, answer)}</td>
                <td>
                  <a
                    class="evidence"
                    href={`/sessions?${new URLSearchParams({ expression, date: "-1" })}`}
                    onClick={(e) => {
                      e.preventDefault();
                      openSearch("/sessions", { expression, date: -1 });
                    }}
                  >
                    session
                  </a>
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
