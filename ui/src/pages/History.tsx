// History: what the viewer's users asked of it — searches, views, exports, tag
// changes, uploads — newest first (an admin sees everyone's, others their own). A
// search's expression opens it again.

import { useState } from "preact/hooks";
import { FilterInput } from "../components/FilterInput";
import { useApp } from "../context";
import { formatCount, formatTime, timeZone } from "../format";
import { useApi } from "../useApi";

interface Entry {
  time_ms: number;
  user: string;
  method: string;
  path: string;
  params: Record<string, string>;
  detail?: Record<string, unknown>;
  status: number;
  ms: number;
}

interface HistoryReply {
  data: Entry[];
  recordsFiltered: number;
}

const PAGE = 100;

/** The parameters worth a glance, the expression and time range aside. */
function otherParams(e: Entry): string {
  const skip = new Set(["expression", "date", "startTime", "stopTime"]);
  const parts = Object.entries(e.params)
    .filter(([k]) => !skip.has(k))
    .map(([k, v]) => `${k}=${v}`);
  if (e.detail) parts.push(...Object.entries(e.detail).filter(([, v]) => v !== null).map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(", ") : String(v)}`));
  return parts.join(" · ");
}

function range(e: Entry): string {
  const p = e.params;
  if (p.startTime || p.stopTime) return `${p.startTime ?? "…"} – ${p.stopTime ?? "…"}`;
  if (p.date) return p.date === "-1" ? "all" : `${p.date} h`;
  return "";
}

export function History() {
  const { user, openSearch } = useApp();
  const [text, setText] = useState("");
  const [who, setWho] = useState("");
  const [length, setLength] = useState(PAGE);
  const { data, loading } = useApi<HistoryReply>("/api/histories", { searchTerm: text, user: who, length });

  return (
    <div class="page history">
      <div class="toolbar">
        <label>
          Text{" "}
          <FilterInput id="history-text" placeholder="route, expression, tag…" value={text} onCommit={setText} />
        </label>
        {user.admin && (
          <label>
            User <FilterInput id="history-user" placeholder="everyone" value={who} onCommit={setWho} />
          </label>
        )}
        <span class="counts" id="history-count">
          {data ? `${formatCount(data.recordsFiltered)} requests` : loading ? "Loading…" : ""}
        </span>
      </div>
      <table class="nodes history-list">
        <thead>
          <tr>
            <th>Time ({timeZone()})</th>
            <th>User</th>
            <th>Route</th>
            <th>Expression</th>
            <th>Range</th>
            <th>Other</th>
            <th>Status</th>
            <th>ms</th>
          </tr>
        </thead>
        <tbody>
          {(data?.data ?? []).map((e) => (
            <tr data-path={e.path}>
              <td class="nowrap">{formatTime(e.time_ms * 1e6)}</td>
              <td class="nowrap">{e.user}</td>
              <td class="nowrap">
                {e.method === "GET" ? "" : `${e.method} `}
                {e.path}
              </td>
              <td class="expression">
                {e.params.expression ? (
                  <a
                    href={`/sessions?${new URLSearchParams({ expression: e.params.expression, date: "-1" })}`}
                    onClick={(ev) => {
                      ev.preventDefault();
                      openSearch("/sessions", { expression: e.params.expression, date: -1 });
                    }}
                  >
                    {e.params.expression}
                  </a>
                ) : (
                  ""
                )}
              </td>
              <td class="nowrap">{range(e)}</td>
              <td>{otherParams(e)}</td>
              <td>{e.status}</td>
              <td>{e.ms}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {data && data.data.length < data.recordsFiltered && (
        <button class="link" onClick={() => setLength(length + PAGE)}>
          more
        </button>
      )}
      {data && data.recordsFiltered === 0 && <p class="muted">No requests recorded yet.</p>}
    </div>
  );
}
