// SPI View: the most frequent values of chosen fields under the search, each with
// its count; a click on a value adds `field == value` to the expression. Each field
// is its own request, so they load side by side and a slow one holds up no other.

import { useState } from "preact/hooks";
import type { SpiReply } from "../api";
import { FieldNames } from "../components/FieldPicker";
import { approx, SampleNote } from "../components/SampleNote";
import { useApp } from "../context";
import { formatValue } from "../format";
import { searchParams } from "../search";
import { useApi } from "../useApi";

const DEFAULT_FIELDS = ["protocols", "ip.src", "ip.dst", "port.dst", "host.http", "host.dns", "host.tls", "http.user-agent", "country.dst"];
const KEY = "tyto.spiview";

function saved(): string[] {
  try {
    const v = JSON.parse(localStorage.getItem(KEY) ?? "null");
    if (Array.isArray(v) && v.every((x) => typeof x === "string")) return v;
  } catch {
    // Fall back to the defaults.
  }
  return DEFAULT_FIELDS;
}

function FieldCard({ name, onRemove }: { name: string; onRemove: () => void }) {
  const { search, addClause, fieldByName } = useApp();
  const [size, setSize] = useState(10);
  const [exact, setExact] = useState(false);
  const r = useApi<SpiReply>("/api/spiview", { ...searchParams(search), spi: `${name}:${size}`, ...(exact ? { exact: 1 } : {}) });
  const values = r.data?.spi[name] ?? [];
  const sample = r.data?.samplePercent?.[name];
  const total = r.data?.recordsFiltered ?? 0;
  const max = Math.max(1, ...values.map((v) => v.count));
  return (
    <section class="panel spi-field" data-field={name}>
      <div class="panel-head">
        <strong title={fieldByName.get(name)?.description}>{name}</strong>
        <span>
          {r.loading && <span class="muted">…</span>}
          <button class="link" onClick={onRemove} aria-label={`hide ${name}`}>
            ✕
          </button>
        </span>
      </div>
      <SampleNote percent={sample} onExact={() => setExact(true)} />
      {r.error && <div class="error-text">{r.error.message}</div>}
      {r.data && !values.length && <div class="muted">no values</div>}
      <ul class="spi-values">
        {values.map((v) => (
          <li>
            <button class="value" onClick={() => addClause(name, v.value)} title={`add ${name} == ${String(v.value)}`}>
              {formatValue(v.value, fieldByName.get(name)?.type)}
            </button>
            <span class="count" title={total ? `${((100 * v.count) / total).toFixed(1)}% of sessions` : ""}>
              {approx(v.count, sample !== undefined)}
            </span>
            <span class="meter" style={{ width: `${(100 * v.count) / max}%` }} />
          </li>
        ))}
      </ul>
      {values.length === size && size < 1000 && (
        <button class="link" onClick={() => setSize(size * 5)}>
          more…
        </button>
      )}
    </section>
  );
}

export function SpiView() {
  const { fields } = useApp();
  const [chosen, setChosen] = useState<string[]>(saved);
  const [adding, setAdding] = useState("");
  const update = (next: string[]) => {
    setChosen(next);
    localStorage.setItem(KEY, JSON.stringify(next));
  };
  const known = new Set(fields.map((f) => f.name));
  return (
    <div class="page spiview">
      <div class="toolbar">
        <label>
          Add a field:{" "}
          <input
            list="spi-field-names"
            value={adding}
            aria-label="Add a field"
            onInput={(e) => setAdding((e.currentTarget as HTMLInputElement).value)}
            onKeyDown={(e) => {
              if (e.key === "Enter" && known.has(adding) && !chosen.includes(adding)) {
                update([...chosen, adding]);
                setAdding("");
              }
            }}
          />
        </label>
        <FieldNames id="spi-field-names" />
        <button class="link" onClick={() => update(DEFAULT_FIELDS)}>
          reset fields
        </button>
      </div>
      <div class="spi-grid">
        {chosen
          .filter((n) => known.has(n))
          .map((n) => (
            <FieldCard key={n} name={n} onRemove={() => update(chosen.filter((c) => c !== n))} />
          ))}
      </div>
    </div>
  );
}
