// How numbers, sizes and times are shown. Times are UTC, as in the CLI's output
// and in forensic reports.

const pad = (n: number, w = 2) => String(n).padStart(w, "0");

export function formatDate(d: Date, withMs = false): string {
  if (Number.isNaN(d.getTime())) return "";
  const s =
    `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
  return withMs ? `${s}.${pad(d.getUTCMilliseconds(), 3)}` : s;
}

/** A time from the API: an RFC 3339 string or nanoseconds since the epoch. */
export function formatTime(t: unknown, withMs = false): string {
  if (typeof t === "number") return formatDate(new Date(t / 1e6), withMs);
  if (typeof t === "string") return formatDate(new Date(t), withMs);
  return "";
}

export function formatCount(n: unknown): string {
  return typeof n === "number" ? n.toLocaleString("en-US") : String(n ?? "");
}

export function formatBytes(n: unknown): string {
  if (typeof n !== "number") return String(n ?? "");
  const units = ["B", "KB", "MB", "GB", "TB", "PB"];
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)} ${units[i]}`;
}

export function formatDuration(seconds: number): string {
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = Math.floor(seconds % 60);
  return d ? `${d}d ${h}h ${m}m` : h ? `${h}h ${m}m ${s}s` : m ? `${m}m ${s}s` : `${s}s`;
}

/** A field's value as text: lists joined, times formatted, durations in ms. */
export function formatValue(v: unknown, type?: string): string {
  if (Array.isArray(v)) return v.map((x) => formatValue(x, type)).join(", ");
  if (v === null || v === undefined) return "";
  if (type === "date") return formatTime(v, true);
  if (type === "duration" && typeof v === "number") return `${v} ms`;
  if (typeof v === "number") return type === "integer" ? String(v) : formatCount(v);
  return String(v);
}

/** `datetime-local` input text (read as UTC) ↔ epoch seconds. */
export function toLocalInput(epochS: number): string {
  return formatDate(new Date(epochS * 1000)).replace(" ", "T");
}

export function fromLocalInput(s: string): number | undefined {
  const ms = Date.parse(`${s}Z`);
  return Number.isNaN(ms) ? undefined : Math.floor(ms / 1000);
}
