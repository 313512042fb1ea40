// One session opened: every field (a click on a value adds it to the search), the
// packets (time, direction, length, hex or text) and each direction's reassembled
// payload, and the session's PCAP.

import { useMemo, useState } from "preact/hooks";
import { queryString, type Params } from "../api";
import { useApp } from "../context";
import { formatValue } from "../format";
import { useApi } from "../useApi";

interface PacketView {
  ts: string;
  relative_us: number;
  direction: "src" | "dst";
  len: number;
  caplen: number;
  payload_len: number;
  hex: string;
  text: string;
  truncated: boolean;
}

interface Payload {
  bytes: number;
  shown: number;
  gaps: number;
  gap_bytes: number;
  hex: string;
  text: string;
}

interface DetailReply {
  session: Record<string, unknown>;
  packets: PacketView[] | null;
  packets_total?: number;
  packets_read?: number;
  /** Packets whose pcap files retention deleted, and a sentence saying so. */
  packets_gone?: number;
  packets_gone_message?: string | null;
  payload: { src: Payload; dst: Payload } | null;
}

/** Hex as `xxd` shows it: offset, 16 bytes in hex, the same bytes as text. */
function hexDump(hex: string): string {
  const lines: string[] = [];
  for (let off = 0; off < hex.length / 2; off += 16) {
    const chunk = hex.slice(off * 2, off * 2 + 32);
    const bytes = chunk.match(/../g) ?? [];
    const hexPart = bytes.map((b, i) => (i === 8 ? ` ${b}` : b)).join(" ");
    const text = bytes.map((b) => {
      const c = parseInt(b, 16);
      return c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : ".";
    });
    lines.push(`${off.toString(16).padStart(6, "0")}  ${hexPart.padEnd(48)}  ${text.join("")}`);
  }
  return lines.join("\n");
}

function FieldTable({ session }: { session: Record<string, unknown> }) {
  const { fields, fieldByName, addClause } = useApp();
  const groups = useMemo(() => {
    const out = new Map<string, [string, unknown][]>();
    for (const f of fields) {
      if (f.members) continue;
      const v = session[f.name];
      if (v === undefined || v === null || (Array.isArray(v) && !v.length) || v === "") continue;
      const g = f.group ?? "general";
      if (!out.has(g)) out.set(g, []);
      out.get(g)!.push([f.name, v]);
    }
    return [...out.entries()];
  }, [session, fields]);
  return (
    <div class="field-groups">
      {groups.map(([group, entries]) => (
        <table class="fields">
          <caption>{group}</caption>
          {entries.map(([name, v]) => (
            <tr>
              <th title={fieldByName.get(name)?.description}>{name}</th>
              <td>
                {(Array.isArray(v) ? v : [v]).map((x) => (
                  <button
                    class="value"
                    title={`add ${name} == ${String(x)} to the search`}
                    onClick={() => addClause(name, x)}
                  >
                    {formatValue(x, fieldByName.get(name)?.type)}
                  </button>
                ))}
              </td>
            </tr>
          ))}
        </table>
      ))}
    </div>
  );
}

/** `range`: the search's time range, within which a time-limited user may open a session. */
export function SessionDetail({ id, range, version = 0 }: { id: string; range: Params; version?: number }) {
  const { user } = useApp();
  const d = useApi<DetailReply>(`/api/session/${encodeURIComponent(id)}/detail`, range, version);
  const [view, setView] = useState<"text" | "hex">("text");
  const [showPackets, setShowPackets] = useState(true);

  if (d.error) return <div class="error-text">{d.error.message}</div>;
  if (!d.data) return <div class="muted">Loading…</div>;
  const { session, packets, payload } = d.data;

  return (
    <div class="session-detail" data-id={id}>
      <div class="detail-head">
        <strong>Session {id}</strong>
        {user.export_pcap && (
          <a
            class="button"
            href={`/api/session/${encodeURIComponent(id)}.pcap${queryString(range)}`}
            download={`${id}.pcap`}
          >
            Download PCAP
          </a>
        )}
      </div>
      <FieldTable session={session} />
      {packets === null ? (
        <p class="muted">Your account may not see packet contents.</p>
      ) : (
        <>
          {d.data.packets_gone_message && <p class="muted">{d.data.packets_gone_message}.</p>}
          <div class="detail-head">
            <strong>
              Packets ({packets.length} shown of {d.data.packets_total})
            </strong>
            <span class="segmented">
              <button class={view === "text" ? "on" : ""} onClick={() => setView("text")}>
                text
              </button>
              <button class={view === "hex" ? "on" : ""} onClick={() => setView("hex")}>
                hex
              </button>
            </span>
            <label>
              <input type="checkbox" checked={showPackets} onChange={() => setShowPackets(!showPackets)} /> each packet
            </label>
          </div>
          {payload && (
            <div class="payloads">
              {(["src", "dst"] as const).map((side) => (
                <div class={`payload ${side}`}>
                  <div class="muted">
                    {side === "src" ? "Source → destination" : "Destination → source"}: {payload[side].bytes} bytes
                    {payload[side].gaps ? `, ${payload[side].gaps} gaps (${payload[side].gap_bytes} bytes missing)` : ""}
                    {payload[side].shown < payload[side].bytes ? `, first ${payload[side].shown} shown` : ""}
                  </div>
                  <pre>{view === "hex" ? hexDump(payload[side].hex) : payload[side].text}</pre>
                </div>
              ))}
            </div>
          )}
          {showPackets && (
            <table class="packets">
              <thead>
                <tr>
                  <th>#</th>
                  <th>Time</th>
                  <th>+ms</th>
                  <th>Dir</th>
                  <th>Len</th>
                  <th>Data</th>
                </tr>
              </thead>
              <tbody>
                {packets.map((p, i) => (
                  <tr class={`packet ${p.direction}`}>
                    <td>{i + 1}</td>
                    <td>{p.ts.replace("T", " ").replace("Z", "")}</td>
                    <td>{(p.relative_us / 1000).toFixed(3)}</td>
                    <td>{p.direction === "src" ? "→" : "←"}</td>
                    <td>
                      {p.len}
                      {p.truncated ? "*" : ""}
                    </td>
                    <td>
                      <pre>{view === "hex" ? hexDump(p.hex) : p.text}</pre>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </>
      )}
    </div>
  );
}
