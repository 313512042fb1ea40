// Periodic queries (Arkime's cron queries): an expression run every few minutes over
// the sessions stored since its last run, tagging them and/or raising an alert. Each
// query shows how far it has got, what its last run found, and its error if any.

import { useState } from "preact/hooks";
import { ApiError, del, postForm } from "../api";
import { useApp } from "../context";
import { formatCount, formatTime, timeZone } from "../format";
import { quoteValue } from "../search";
import { usePolling } from "../usePolling";

interface PeriodicQuery {
  id: number;
  name: string;
  user: string;
  expression: string;
  tags: string[];
  alert: string | null;
  every_minutes: number;
  enabled: boolean;
  processed_to: string;
  last_run_ms: number | null;
  last_matched: number;
  total_matched: number;
  last_error: string | null;
}

const REFRESH_MS = 2000;

export function Periodic() {
  const { user, search, openSearch, reportError } = useApp();
  const [name, setName] = useState("");
  const [expression, setExpression] = useState(search.expression);
  const [tags, setTags] = useState("");
  const [alert, setAlert] = useState("none");
  const [every, setEvery] = useState(5);
  const [since, setSince] = useState("");
  const [queries, setQueries] = useState<PeriodicQuery[]>([]);
  const [canAlert, setCanAlert] = useState(false);
  const [message, setMessage] = useState("");

  usePolling<{ data: PeriodicQuery[]; alerts: boolean }>(
    "/api/crons",
    REFRESH_MS,
    (r) => {
      setQueries(r.data);
      setCanAlert(r.alerts);
    },
    setMessage,
    true,
  );

  async function act(run: () => Promise<unknown>) {
    try {
      await run();
      setMessage("");
    } catch (e) {
      const err = e instanceof ApiError ? e : new ApiError(String(e), 0);
      setMessage(err.message);
      reportError(err);
    }
  }

  const create = () =>
    act(() =>
      postForm("/api/cron", {
        name,
        expression,
        tags,
        alert,
        every,
        ...(since ? { since } : {}),
      }),
    );

  return (
    <div class="page periodic">
      <div class="hunt-form" role="form" aria-label="New periodic query">
        <p class="muted">
          Runs an expression every few minutes over the sessions stored since its last run ({user.name}'s view of them), and tags
          what it finds and/or raises an alert.
        </p>
        <label>
          Name <input id="periodic-name" value={name} onInput={(e) => setName((e.currentTarget as HTMLInputElement).value)} />
        </label>
        <label>
          Expression{" "}
          <input
            id="periodic-expression"
            class="wide"
            value={expression}
            onInput={(e) => setExpression((e.currentTarget as HTMLInputElement).value)}
          />
        </label>
        <label>
          Tags <input id="periodic-tags" value={tags} onInput={(e) => setTags((e.currentTarget as HTMLInputElement).value)} />
        </label>
        <select
          id="periodic-alert"
          aria-label="Alert"
          value={alert}
          disabled={!canAlert}
          title={canAlert ? "" : "this viewer does not write the store, so it cannot raise alerts"}
          onChange={(e) => setAlert((e.currentTarget as HTMLSelectElement).value)}
        >
          <option value="none">no alert</option>
          <option value="low">alert: low</option>
          <option value="medium">alert: medium</option>
          <option value="high">alert: high</option>
        </select>
        <label>
          Every{" "}
          <input
            id="periodic-every"
            type="number"
            min={1}
            value={every}
            onInput={(e) => setEvery(Number((e.currentTarget as HTMLInputElement).value))}
          />{" "}
          minutes
        </label>
        <select id="periodic-since" aria-label="From" value={since} onChange={(e) => setSince((e.currentTarget as HTMLSelectElement).value)}>
          <option value="">sessions stored from now on</option>
          <option value="-1h">… and in the last hour</option>
          <option value="-1d">… and in the last day</option>
          <option value="0">… and every session stored</option>
        </select>
        <button id="periodic-create" onClick={create}>
          Create
        </button>
        <span class="error-text">{message}</span>
      </div>
      <table class="nodes periodic-list">
        <thead>
          <tr>
            <th>Name</th>
            <th>User</th>
            <th>Expression</th>
            <th>Does</th>
            <th>Every</th>
            <th>Processed to ({timeZone()})</th>
            <th>Last run</th>
            <th>Last</th>
            <th>Total</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {queries.map((q) => {
            const tagged = q.tags.length ? `tags == ${quoteValue(q.tags[0])}` : "";
            return (
              <tr data-name={q.name} data-enabled={String(q.enabled)}>
                <td>{q.name}</td>
                <td>{q.user}</td>
                <td>
                  <code>{q.expression || "(every session)"}</code>
                </td>
                <td>
                  {q.tags.length ? `tag ${q.tags.join(", ")}` : ""}
                  {q.tags.length && q.alert ? "; " : ""}
                  {q.alert ? `alert (${q.alert})` : ""}
                </td>
                <td>{q.every_minutes} min</td>
                <td class="nowrap">{q.processed_to.replace("T", " ").replace(/\.\d+Z$/, "")}</td>
                <td class="nowrap periodic-last-run">
                  {q.last_run_ms ? formatTime(q.last_run_ms * 1e6) : "not yet"}
                  {q.last_error ? <div class="error-text">{q.last_error}</div> : null}
                </td>
                <td class="periodic-last">{formatCount(q.last_matched)}</td>
                <td class="periodic-total">
                  {tagged ? (
                    <a
                      href={`/sessions?${new URLSearchParams({ expression: tagged, date: "-1" })}`}
                      onClick={(e) => {
                        e.preventDefault();
                        openSearch("/sessions", { expression: tagged, date: -1 });
                      }}
                    >
                      {formatCount(q.total_matched)}
                    </a>
                  ) : (
                    formatCount(q.total_matched)
                  )}
                </td>
                <td class="nowrap">
                  <button onClick={() => act(() => postForm(`/api/cron/${q.id}/run`, {}))}>Run now</button>{" "}
                  <button onClick={() => act(() => postForm(`/api/cron/${q.id}`, { enabled: q.enabled ? "false" : "true" }))}>
                    {q.enabled ? "Pause" : "Resume"}
                  </button>{" "}
                  <button onClick={() => act(() => del(`/api/cron/${q.id}`))}>Delete</button>
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {!queries.length && <p class="muted">No periodic queries yet.</p>}
    </div>
  );
}
