// Time range: presets (hours back, or all) and a custom start/stop in the user's
// time zone.

import { useEffect, useState } from "preact/hooks";
import { useApp } from "../context";
import { fromLocalInput, timeZone, toLocalInput } from "../format";
import { TIME_PRESETS } from "../search";

export function TimeRange() {
  const { search, setSearch } = useApp();
  const custom = search.startTime !== undefined && search.stopTime !== undefined;
  const [start, setStart] = useState("");
  const [stop, setStop] = useState("");
  const [editing, setEditing] = useState(false);
  const [problem, setProblem] = useState("");

  useEffect(() => {
    if (custom) {
      setStart(toLocalInput(search.startTime!));
      setStop(toLocalInput(search.stopTime!));
    }
  }, [search.startTime, search.stopTime]);

  function choose(v: string) {
    if (v === "custom") {
      const now = Math.floor(Date.now() / 1000);
      if (!start) setStart(toLocalInput(now - 3600));
      if (!stop) setStop(toLocalInput(now));
      setEditing(true);
      return;
    }
    setEditing(false);
    setSearch({ expression: search.expression, date: Number(v) });
  }

  function apply() {
    const a = fromLocalInput(start);
    const b = fromLocalInput(stop);
    if (a === undefined || b === undefined) return setProblem("start and stop must both be dates");
    if (b <= a) return setProblem("stop must come after start");
    setProblem("");
    setSearch({ ...search, startTime: a, stopTime: b });
  }

  return (
    <div class="time-range">
      <select
        aria-label="Time range"
        id="time-range"
        value={custom || editing ? "custom" : String(search.date)}
        onChange={(e) => choose((e.currentTarget as HTMLSelectElement).value)}
      >
        {TIME_PRESETS.map(([h, label]) => (
          <option value={String(h)}>{label}</option>
        ))}
        <option value="custom">Custom…</option>
      </select>
      {(custom || editing) && (
        <span class="custom-range">
          <UtcInput label={`Start (${timeZone()})`} value={start} onInput={setStart} />
          <span>to</span>
          <UtcInput label={`Stop (${timeZone()})`} value={stop} onInput={setStop} />
          <span class="muted">{timeZone()}</span>
          <button onClick={apply}>Apply</button>
          {problem && <span class="error-text">{problem}</span>}
        </span>
      )}
    </div>
  );
}

function UtcInput({ label, value, onInput }: { label: string; value: string; onInput: (v: string) => void }) {
  return (
    <input
      type="datetime-local"
      step="1"
      aria-label={label}
      value={value}
      onInput={(e) => onInput((e.currentTarget as HTMLInputElement).value)}
    />
  );
}
