// SPI Graph: the top values of one field, each with its sessions over time, beside
// the total; a click on a value adds it to the search.

import { useState } from "preact/hooks";
import { FieldNames } from "../components/FieldPicker";
import { approx, SampleNote } from "../components/SampleNote";
import { TimeChart } from "../components/TimeChart";
import { useApp } from "../context";
import { formatValue } from "../format";
import { searchParams } from "../search";
import { useApi } from "../useApi";
import { searchDomain, type HistogramReply } from "./Sessions";

interface SpiGraphReply {
  field: string;
  interval: number;
  items: { value: unknown; count: number; buckets: [number, number][] }[];
  /** The percent of sessions read when the items were estimated from a sample. */
  samplePercent: number | null;
  totals: HistogramReply["buckets"];
}

const PALETTE = ["#60a5fa", "#f59e0b", "#34d399", "#f472b6", "#a78bfa", "#f87171", "#22d3ee", "#facc15"];

export function SpiGraph() {
  const { search, setSearch, addClause, fieldByName } = useApp();
  const [field, setField] = useState(() => new URLSearchParams(location.search).get("field") ?? "protocols");
  const [typed, setTyped] = useState(field);
  const [size, setSize] = useState(10);
  const [exact, setExact] = useState(false);
  const r = useApi<SpiGraphReply>("/api/spigraph", { ...searchParams(search), field, size, ...(exact ? { exact: 1 } : {}) });
  const sampled = r.data?.samplePercent != null;
  const domain = searchDomain(search) ?? (r.data?.totals.length ? extent(r.data) : undefined);
  const zoom = (a: number, b: number) => setSearch({ ...search, startTime: a, stopTime: b });

  return (
    <div class="page spigraph">
      <div class="toolbar">
        <label>
          Field:{" "}
          <input
            list="spigraph-fields"
            value={typed}
            aria-label="Field to graph"
            onInput={(e) => setTyped((e.currentTarget as HTMLInputElement).value)}
            onChange={() => fieldByName.has(typed) && setField(typed)}
            onKeyDown={(e) => e.key === "Enter" && fieldByName.has(typed) && setField(typed)}
          />
        </label>
        <FieldNames id="spigraph-fields" />
        <select value={String(size)} aria-label="Values" onChange={(e) => setSize(Number((e.currentTarget as HTMLSelectElement).value))}>
          {[5, 10, 20, 50, 100].map((n) => (
            <option value={String(n)}>top {n}</option>
          ))}
        </select>
        {r.loading && <span class="muted">…</span>}
        <SampleNote percent={r.data?.samplePercent} onExact={() => setExact(true)} />
      </div>
      {r.data && (
        <>
          <section class="panel">
            <div class="panel-head">
              <strong>All sessions</strong>
            </div>
            <TimeChart
              bars={r.data.totals.map((b) => ({ start_ns: b.start_ns, value: b.sessions }))}
              interval={r.data.interval}
              domain={domain}
              height={110}
              onZoom={zoom}
            />
          </section>
          {r.data.items.map((it, i) => (
            <section class="panel spigraph-item" data-value={String(it.value)}>
              <div class="panel-head">
                <button class="value" onClick={() => addClause(field, it.value)}>
                  {formatValue(it.value, fieldByName.get(field)?.type)}
                </button>
                <span class="count">{approx(it.count, sampled)} sessions</span>
              </div>
              <TimeChart
                bars={it.buckets.map(([ns, n]) => ({ start_ns: ns, value: n }))}
                interval={r.data!.interval}
                domain={domain}
                height={80}
                color={PALETTE[i % PALETTE.length]}
                onZoom={zoom}
              />
            </section>
          ))}
          {!r.data.items.length && <p class="empty">No values.</p>}
        </>
      )}
    </div>
  );
}

function extent(r: SpiGraphReply): [number, number] {
  const s = r.totals.map((b) => b.start_ns / 1e9);
  return [Math.min(...s), Math.max(...s) + r.interval];
}
