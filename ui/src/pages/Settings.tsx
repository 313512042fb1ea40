// The user's own settings: the time zone times are typed and shown in (UTC by
// default, as in forensic reports).

import { useState } from "preact/hooks";
import { ApiError, postForm, type User } from "../api";
import { useApp } from "../context";
import { formatDate, setTimeZone, timeZone } from "../format";

/** The zones the browser knows, for completion (older browsers: none). */
function knownZones(): string[] {
  const intl = Intl as unknown as { supportedValuesOf?: (key: string) => string[] };
  return intl.supportedValuesOf ? intl.supportedValuesOf("timeZone") : [];
}

export function Settings() {
  const { user, reportError } = useApp();
  const [zone, setZone] = useState(user.time_zone || "UTC");
  const [message, setMessage] = useState("");
  const [shown, setShown] = useState(timeZone());

  async function save() {
    try {
      const saved = await postForm<User>("/api/user/settings", { timezone: zone });
      setTimeZone(saved.time_zone);
      user.time_zone = saved.time_zone;
      setShown(saved.time_zone);
      setMessage(`Times are now typed and shown in ${saved.time_zone}.`);
    } catch (e) {
      const err = e instanceof ApiError ? e : new ApiError(String(e), 0);
      setMessage(err.message);
      reportError(err);
    }
  }

  return (
    <div class="page settings">
      <div class="hunt-form" role="form" aria-label="Settings">
        <label>
          Time zone{" "}
          <input
            id="settings-zone"
            list="settings-zones"
            value={zone}
            onInput={(e) => setZone((e.currentTarget as HTMLInputElement).value)}
          />
        </label>
        <datalist id="settings-zones">
          <option value="UTC" />
          {knownZones().map((z) => (
            <option value={z} />
          ))}
        </datalist>
        <button id="settings-save" onClick={save}>
          Save
        </button>
        <span id="settings-message" class="muted">
          {message}
        </span>
      </div>
      <p class="muted">
        Times in tables, and times typed in expressions (<code>starttime &gt;= "2024/05/01 10:00"</code>) and in the
        time range, are the wall clock of this zone; a time ending with <code>Z</code> is UTC. Now:{" "}
        <span id="settings-now">{formatDate(new Date())}</span> ({shown}).
      </p>
    </div>
  );
}
