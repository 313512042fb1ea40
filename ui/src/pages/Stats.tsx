// Stats: what the store holds per capture node, sessions per second (over the data's
// own time span, and live between refreshes while something writes), disk use.

import { useRef, useState } from "preact/hooks";
import { formatBytes, formatCount, formatDuration, formatTime, timeZone } from "../format";
import { usePolling } from "../usePolling";

interface StatsReply {
  version: string;
  uptime_s: number;
  /** A user who sees part of the sessions gets only how many of them they can see. */
  restricted?: boolean;
  db_bytes: number;
  disk_free_bytes: number;
  disk_total_bytes: number;
  store: {
    sessions: number;
    first_ns: number | null;
    last_ns: number | null;
    link_types: number[];
    nodes: { node: string; packets: number; bytes: number; files: number }[];
  };
  /** Present while this process captures live (`tyto run`). */
  capture?: CaptureStats | null;
  /** Rows on their way to the store from a capture in this process. */
  queue?: {
    waiting_rows: number;
    spooled_rows: number;
    spooled_bytes: number;
    stored_rows: number;
    replayed_rows: number;
    dropped_rows: number;
    failed_appends: number;
  } | null;
  /** Rows held on disk while ClickHouse is away (a capture writing to ClickHouse). */
  spool?: {
    batches: number;
    rows: number;
    bytes: number;
    replayed_rows: number;
    dropped_rows: number;
    refused_rows: number;
  } | null;
  /** The threat-intelligence sources this process matches sessions against. */
  intel?: {
    indicators: number;
    matched_sessions: number;
    reloads: number;
    sources: {
      name: string;
      path: string;
      format: string;
      indicators: number;
      skipped: number;
      loaded: string | null;
      error: string | null;
    }[];
  } | null;
}

interface SourceStats {
  interface: string;
  packets: number;
  bytes: number;
  kernel_packets: number;
  kernel_drops: number;
  queue_drops: number;
  decode_errors: number;
}

interface CaptureStats {
  node: string;
  started_ns: number;
  interfaces: SourceStats[];
  threads: (SourceStats & { thread: number; error: string | null })[];
  workers: {
    worker: number;
    packets: number;
    sessions_live: number;
    sessions_written: number;
    evicted: number;
    pcap_write_errors: number;
  }[];
}

const REFRESH_MS = 5000;

export function Stats() {
  const [stats, setStats] = useState<StatsReply | null>(null);
  const [error, setError] = useState("");
  const [rate, setRate] = useState<number | null>(null);
  const last = useRef<{ at: number; sessions: number } | null>(null);

  usePolling<StatsReply>(
    "/api/stats",
    REFRESH_MS,
    (s) => {
      const now = performance.now();
      if (last.current) {
        const dt = (now - last.current.at) / 1000;
        setRate(dt > 0 ? (s.store.sessions - last.current.sessions) / dt : null);
      }
      last.current = { at: now, sessions: s.store.sessions };
      setStats(s);
      setError("");
    },
    setError,
  );

  if (error) return <div class="page error-text">{error}</div>;
  if (!stats) return <div class="page muted">Loading…</div>;
  if (stats.restricted) {
    return (
      <div class="page stats">
        <div class="stat-cards">
          <Card label="Sessions you can see" value={formatCount(stats.store.sessions)} id="stat-sessions" />
        </div>
      </div>
    );
  }
  const st = stats.store;
  const span = st.first_ns !== null && st.last_ns !== null ? (st.last_ns - st.first_ns) / 1e9 : 0;
  const packets = st.nodes.reduce((a, n) => a + n.packets, 0);
  const bytes = st.nodes.reduce((a, n) => a + n.bytes, 0);
  const used = stats.disk_total_bytes - stats.disk_free_bytes;
  const usedPct = stats.disk_total_bytes ? (100 * used) / stats.disk_total_bytes : 0;
  const capture = stats.capture ?? null;

  return (
    <div class="page stats">
      <div class="stat-cards">
        <Card label="Sessions" value={formatCount(st.sessions)} id="stat-sessions" />
        <Card label="Packets" value={formatCount(packets)} id="stat-packets" />
        <Card label="Bytes" value={formatBytes(bytes)} />
        <Card
          label="Sessions/s in the data"
          value={span > 0 ? (st.sessions / span).toFixed(1) : "—"}
          note={span > 0 ? `over ${formatDuration(span)}` : ""}
        />
        <Card label="Sessions/s now" value={rate === null ? "…" : rate.toFixed(1)} note={`refreshed every ${REFRESH_MS / 1000} s`} />
        <Card
          label="Drops"
          value={capture ? formatCount(drops(capture.interfaces)) : "—"}
          note={capture ? "kernel + queue, since the capture started" : "no live capture"}
          id="stat-drops"
        />
      </div>
      {capture && <Capture capture={capture} />}
      {stats.queue && (
        <section class="panel" id="queue-stats">
          <div class="panel-head">
            <strong>Rows to the store</strong>
            <span class="muted">capture never waits on the store: a backlog waits here</span>
          </div>
          <div class={stats.queue.dropped_rows > 0 || stats.queue.failed_appends > 0 ? "error-text" : ""}>
            {formatCount(stats.queue.stored_rows)} stored · {formatCount(stats.queue.waiting_rows)} waiting (
            {formatCount(stats.queue.spooled_rows)} on disk, {formatBytes(stats.queue.spooled_bytes)}) ·{" "}
            {formatCount(stats.queue.replayed_rows)} stored from disk · {formatCount(stats.queue.dropped_rows)} dropped
            (spool full; packets kept) · {formatCount(stats.queue.failed_appends)} failed writes
          </div>
        </section>
      )}
      {stats.spool && (
        <section class="panel" id="spool-stats">
          <div class="panel-head">
            <strong>ClickHouse spool</strong>
            <span class="muted">rows held while ClickHouse does not take them</span>
          </div>
          <div class={stats.spool.rows > 0 || stats.spool.dropped_rows > 0 ? "error-text" : ""}>
            {formatCount(stats.spool.rows)} rows held ({formatBytes(stats.spool.bytes)} in{" "}
            {formatCount(stats.spool.batches)} batches) · {formatCount(stats.spool.replayed_rows)} sent after an
            outage · {formatCount(stats.spool.dropped_rows)} dropped (spool full) ·{" "}
            {formatCount(stats.spool.refused_rows)} refused
          </div>
        </section>
      )}
      {stats.intel && (
        <section class="panel" id="intel-stats">
          <div class="panel-head">
            <strong>Threat intelligence</strong>
            <span class="muted">
              {formatCount(stats.intel.indicators)} indicators · {formatCount(stats.intel.matched_sessions)} sessions
              matched · {formatCount(stats.intel.reloads)} reloads
            </span>
          </div>
          <table class="nodes">
            <thead>
              <tr>
                <th>Source</th>
                <th>Format</th>
                <th>Indicators</th>
                <th>Read</th>
                <th>Problem</th>
              </tr>
            </thead>
            <tbody>
              {stats.intel.sources.map((s) => (
                <tr>
                  <td title={s.path}>{s.name}</td>
                  <td>{s.format}</td>
                  <td title={`${formatCount(s.skipped)} entries of kinds not matched`}>{formatCount(s.indicators)}</td>
                  <td>{s.loaded ?? "never"}</td>
                  <td class={s.error ? "error-text" : "muted"}>{s.error ?? "—"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      )}
      <section class="panel">
        <div class="panel-head">
          <strong>Disk</strong>
          <span class="muted">database {formatBytes(stats.db_bytes)}</span>
        </div>
        <div class="disk-bar" title={`${usedPct.toFixed(1)}% used`}>
          <span style={{ width: `${usedPct}%` }} />
        </div>
        <div class="muted">
          {formatBytes(stats.disk_free_bytes)} free of {formatBytes(stats.disk_total_bytes)}
        </div>
      </section>
      <section class="panel">
        <div class="panel-head">
          <strong>Nodes</strong>
        </div>
        <table class="nodes">
          <thead>
            <tr>
              <th>Node</th>
              <th>Packets</th>
              <th>Bytes</th>
              <th>PCAP files</th>
            </tr>
          </thead>
          <tbody>
            {st.nodes.map((n) => (
              <tr>
                <td>{n.node}</td>
                <td>{formatCount(n.packets)}</td>
                <td>{formatBytes(n.bytes)}</td>
                <td>{formatCount(n.files)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
      <p class="muted">
        Data from {st.first_ns !== null ? formatTime(st.first_ns) : "—"} to {st.last_ns !== null ? formatTime(st.last_ns) : "—"} {timeZone()} ·
        Tyto {stats.version}, up {formatDuration(stats.uptime_s)}
      </p>
    </div>
  );
}

function drops(rows: SourceStats[]): number {
  return rows.reduce((a, r) => a + r.kernel_drops + r.queue_drops, 0);
}

/** Live capture: per interface, per reading thread and per worker. */
function Capture({ capture }: { capture: CaptureStats }) {
  const sourceRow = (r: SourceStats, name: string, error?: string | null) => (
    <tr>
      <td>{name}</td>
      <td>{formatCount(r.packets)}</td>
      <td>{formatBytes(r.bytes)}</td>
      <td>{formatCount(r.kernel_drops)}</td>
      <td>{formatCount(r.queue_drops)}</td>
      <td>{formatCount(r.decode_errors)}</td>
      <td class="error-text">{error ?? ""}</td>
    </tr>
  );
  return (
    <section class="panel" id="capture-stats">
      <div class="panel-head">
        <strong>Live capture on {capture.node}</strong>
        <span class="muted">since {formatTime(capture.started_ns)} {timeZone()}</span>
      </div>
      <table class="nodes">
        <thead>
          <tr>
            <th>Interface / thread</th>
            <th>Packets</th>
            <th>Bytes</th>
            <th>Kernel drops</th>
            <th>Queue drops</th>
            <th>Undecodable</th>
            <th></th>
          </tr>
        </thead>
        <tbody>
          {capture.interfaces.map((r) => sourceRow(r, r.interface))}
          {capture.threads.length > capture.interfaces.length &&
            capture.threads.map((t) => sourceRow(t, `${t.interface} #${t.thread}`, t.error))}
        </tbody>
      </table>
      <table class="nodes">
        <thead>
          <tr>
            <th>Worker</th>
            <th>Packets</th>
            <th>Sessions live</th>
            <th>Sessions written</th>
            <th>Evicted early</th>
            <th>PCAP write errors</th>
          </tr>
        </thead>
        <tbody>
          {capture.workers.map((w) => (
            <tr>
              <td>{w.worker}</td>
              <td>{formatCount(w.packets)}</td>
              <td>{formatCount(w.sessions_live)}</td>
              <td>{formatCount(w.sessions_written)}</td>
              <td>{formatCount(w.evicted)}</td>
              <td>{formatCount(w.pcap_write_errors)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function Card({ label, value, note, id }: { label: string; value: string; note?: string; id?: string }) {
  return (
    <div class="stat-card">
      <div class="muted">{label}</div>
      <div class="stat-value" id={id}>
        {value}
      </div>
      {note && <div class="muted small">{note}</div>}
    </div>
  );
}
