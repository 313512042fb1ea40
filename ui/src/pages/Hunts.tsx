// Hunts: the payloads of the searched sessions' first packets searched for text, hex
// bytes or a regular expression, in the background. Each hunt shows its progress, can
// be cancelled, and its matches (tagged hunt:NAME) open as a search.

import { useState } from "preact/hooks";
import { ApiError, postForm } from "../api";
import { useApp } from "../context";
import { formatBytes, formatCount, formatTime, timeZone } from "../format";
import { quoteValue, searchParams } from "../search";
import { usePolling } from "../usePolling";

interface Hunt {
  id: number;
  user: string;
  created_ms: number;
  state: "queued" | "running" | "finished" | "cancelled" | "failed";
  tag: string;
  spec: { name: string; search: string; searchType: string; direction: string; size: number; expression: string | null };
  progress: {
    sessions_total: number;
    sessions_searched: number;
    packets_searched: number;
    bytes_searched: number;
    matched: number;
    seconds: number;
    message: string | null;
  };
}

const REFRESH_MS = 1000;

export function Hunts() {
  const { user, search, openSearch, reportError } = useApp();
  const [name, setName] = useState("");
  const [text, setText] = useState("");
  const [kind, setKind] = useState("ascii");
  const [direction, setDirection] = useState("both");
  const [size, setSize] = useState(50);
  const [hunts, setHunts] = useState<Hunt[]>([]);
  const [message, setMessage] = useState("");

  usePolling<{ data: Hunt[] }>("/api/hunts", REFRESH_MS, (r) => setHunts(r.data), setMessage, user.see_packets);

  if (!user.see_packets) return <div class="page hunts muted">User {user.name} may not see packets, so may not hunt in them.</div>;

  async function act(path: string, form: Record<string, string | number | undefined>) {
    try {
      await postForm(path, form);
      setMessage("");
    } catch (e) {
      const err = e instanceof ApiError ? e : new ApiError(String(e), 0);
      setMessage(err.message);
      reportError(err);
    }
  }

  const start = () =>
    act("/api/hunt", {
      ...searchParams(search),
      name,
      search: text,
      searchType: kind,
      src: direction === "dst" ? "false" : "true",
      dst: direction === "src" ? "false" : "true",
      size,
    });

  return (
    <div class="page hunts">
      <div class="hunt-form" role="form" aria-label="New hunt">
        <p class="muted">
          Searches the packets of the sessions the search bar selects ({search.expression ? <code>{search.expression}</code> : "every session"}{" "}
          in its time range); matches are tagged <code>hunt:{name || "NAME"}</code>.
        </p>
        <label>
          Name <input id="hunt-name" value={name} onInput={(e) => setName((e.currentTarget as HTMLInputElement).value)} />
        </label>
        <label>
          Search <input id="hunt-search" value={text} onInput={(e) => setText((e.currentTarget as HTMLInputElement).value)} />
        </label>
        <select id="hunt-type" aria-label="Search type" value={kind} onChange={(e) => setKind((e.currentTarget as HTMLSelectElement).value)}>
          <option value="ascii">text, any case</option>
          <option value="asciicase">text, exact case</option>
          <option value="hex">hex bytes</option>
          <option value="regex">regular expression</option>
        </select>
        <select id="hunt-direction" aria-label="Direction" value={direction} onChange={(e) => setDirection((e.currentTarget as HTMLSelectElement).value)}>
          <option value="both">both directions</option>
          <option value="src">from the client</option>
          <option value="dst">from the server</option>
        </select>
        <label>
          Packets per session{" "}
          <input id="hunt-size" type="number" min={1} max={10000} value={size} onInput={(e) => setSize(Number((e.currentTarget as HTMLInputElement).value))} />
        </label>
        <button id="hunt-start" onClick={start}>
          Start hunt
        </button>
        <span class="error-text">{message}</span>
      </div>
      <table class="nodes hunt-list">
        <thead>
          <tr>
            <th>Created ({timeZone()})</th>
            <th>User</th>
            <th>Name</th>
            <th>Search</th>
            <th>State</th>
            <th>Sessions</th>
            <th>Searched</th>
            <th>Matches</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {hunts.map((h) => {
            const p = h.progress;
            const busy = h.state === "queued" || h.state === "running";
            return (
              <tr data-name={h.spec.name} data-state={h.state}>
                <td class="nowrap">{formatTime(h.created_ms * 1e6)}</td>
                <td>{h.user}</td>
                <td>{h.spec.name}</td>
                <td>
                  <code>{h.spec.search}</code> ({h.spec.searchType}, {h.spec.direction}, {h.spec.size} packets)
                  {h.spec.expression ? <div class="muted">in {h.spec.expression}</div> : null}
                </td>
                <td class="hunt-state">
                  {h.state}
                  {p.message ? <div class="muted">{p.message}</div> : null}
                </td>
                <td class="hunt-sessions">
                  {formatCount(p.sessions_searched)} of {formatCount(p.sessions_total)}
                </td>
                <td>
                  {formatBytes(p.bytes_searched)} in {p.seconds.toFixed(1)} s
                  {p.seconds > 0 ? ` (${formatBytes(p.bytes_searched / p.seconds)}/s)` : ""}
                </td>
                <td class="hunt-matches">
                  <a
                    href={`/sessions?${new URLSearchParams({ expression: `tags == ${quoteValue(h.tag)}`, date: "-1" })}`}
                    onClick={(e) => {
                      e.preventDefault();
                      openSearch("/sessions", { expression: `tags == ${quoteValue(h.tag)}`, date: -1 });
                    }}
                  >
                    {formatCount(p.matched)}
                  </a>
                </td>
                <td>
                  {busy ? (
                    <button onClick={() => act(`/api/hunt/${h.id}/cancel`, {})}>Cancel</button>
                  ) : null}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {!hunts.length && <p class="muted">No hunts yet.</p>}
    </div>
  );
}
