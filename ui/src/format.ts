// How numbers, sizes and times are shown. Times are shown in the user's time zone
// (their setting; UTC, as in the CLI's output and in forensic reports, by default).

const pad = (n: number, w = 2) => String(n).padStart(w, "0");

let zone = "UTC";
let wallClock: Intl.DateTimeFormat | null = null;

/** The zone times are shown and typed in (an IANA name). */
export function timeZone(): string {
  return zone;
}

export function setTimeZone(name: string) {
  zone = name || "UTC";
  wallClock =
    zone === "UTC"
      ? null
      : new Intl.DateTimeFormat("en-US", {
          timeZone: zone,
          hourCycle: "h23",
          year: "numeric",
          month: "2-digit",
          day: "2-digit",
          hour: "2-digit",
          minute: "2-digit",
          second: "2-digit",
        });
}

/** The zone's wall clock at `d`, as [year, month, day, hour, minute, second]. */
function wall(d: Date): number[] {
  if (!wallClock) {
    return [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()];
  }
  const part = Object.fromEntries(wallClock.formatToParts(d).map((p) => [p.type, p.value]));
  return [part.year, part.month, part.day, part.hour, part.minute, part.second].map(Number);
}

export function formatDate(d: Date, withMs = false): string {
  if (Number.isNaN(d.getTime())) return "";
  const [y, mo, da, h, mi, se] = wall(d);
  const s = `${y}-${pad(mo)}-${pad(da)} ${pad(h)}:${pad(mi)}:${pad(se)}`;
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

/** `datetime-local` input text (the user's zone's wall clock) ↔ epoch seconds. */
export function toLocalInput(epochS: number): string {
  return formatDate(new Date(epochS * 1000)).replace(" ", "T");
}

export function fromLocalInput(s: string): number | undefined {
  // The wall time read as if UTC, then moved by the zone's offset there; once more
  // with the offset at the result, for times near a change of the zone's clocks.
  const asUtc = Date.parse(`${s}Z`);
  if (Number.isNaN(asUtc)) return undefined;
  const offset = (ms: number) => {
    const [y, mo, d, h, mi, se] = wall(new Date(ms));
    return Date.UTC(y, mo - 1, d, h, mi, se) - Math.floor(ms / 1000) * 1000;
  };
  let ms = asUtc - offset(asUtc);
  ms = asUtc - offset(ms);
  return Math.floor(ms / 1000);
}
