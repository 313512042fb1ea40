// Alerts: what the detectors raised, newest first, narrowed by severity, detector
// and text. Each alert links to its evidence: the sessions its expression finds.

import { useState } from "preact/hooks";
import { FilterInput } from "../components/FilterInput";
import { useApp } from "../context";
import { formatCount, formatTime, timeZone } from "../format";
import { useApi } from "../useApi";

export interface Alert {
  time: string;
  node: string;
  detector: string;
  severity: "low" | "medium" | "high";
  source: string;
  targets: string[];
  message: string;
  expression: string;
  first: string;
  last: string;
}

interface AlertsReply {
  data: Alert[];
  recordsFiltered: number;
}

const PAGE = 100;

export function Alerts() {
  const { openSearch } = useApp();
  const [severity, setSeverity] = useState("");
  const [detector, setDetector] = useState("");
  const [text, setText] = useState("");
  const [length, setLength] = useState(PAGE);
  const { data, loading } = useApi<AlertsReply>("/api/alerts", { date: -1, severity, detector, text, length });

  return (
    <div class="page alerts">
      <div class="toolbar">
        <label>
          Severity{" "}
          <select value={severity} onChange={(e) => setSeverity(e.currentTarget.value)} id="alert-severity">
            <option value="">any</option>
            <option value="medium">medium or high</option>
            <option value="high">high</option>
          </select>
        </label>
        <label>
          Detector{" "}
          <FilterInput id="alert-detector" placeholder="vertical-scan, rule:*…" value={detector} onCommit={setDetector} />
        </label>
        <label>
          Text{" "}
          <FilterInput id="alert-text" placeholder="address, domain…" value={text} onCommit={setText} />
        </label>
        <span class="counts" id="alert-count">
          {data ? `${formatCount(data.recordsFiltered)} alerts` : loading ? "Loading…" : ""}
        </span>
      </div>
      <table class="nodes alert-list">
        <thead>
          <tr>
            <th>Time ({timeZone()})</th>
            <th>Severity</th>
            <th>Detector</th>
            <th>Source</th>
            <th>Targets</th>
            <th>What</th>
            <th>Evidence</th>
          </tr>
        </thead>
        <tbody>
          {(data?.data ?? []).map((a) => (
            <tr class={`sev-${a.severity}`} data-detector={a.detector}>
              <td class="nowrap">{formatTime(a.time)}</td>
              <td class="severity">{a.severity}</td>
              <td class="nowrap">{a.detector}</td>
              <td class="nowrap">{a.source}</td>
              <td>{a.targets.join(", ")}</td>
              <td>{a.message}</td>
              <td>
                <a
                  class="evidence"
                  href={`/sessions?${new URLSearchParams({ expression: a.expression, date: "-1" })}`}
                  title={a.expression}
                  onClick={(e) => {
                    e.preventDefault();
                    openSearch("/sessions", { expression: a.expression, date: -1 });
                  }}
                >
                  sessions
                </a>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {data && data.data.length < data.recordsFiltered && (
        <button class="link" onClick={() => setLength(length + PAGE)}>
          more
        </button>
      )}
      {data && data.recordsFiltered === 0 && (
        <p class="muted">No alerts. Detectors run as sessions are written, on live capture and on ingested files alike.</p>
      )}
    </div>
  );
}
