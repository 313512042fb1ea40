// What every page searches: an expression and a time range, kept in the address
// (`?expression=…&date=…` or `&startTime=…&stopTime=…`, as Arkime's) so a search can
// be bookmarked, shared and walked back through with the browser's history.

import type { Params } from "./api";

export interface Search {
  expression: string;
  /** Hours back from now; -1 = everything. Ignored when start and stop are set. */
  date: number;
  /** Epoch seconds, both set for a custom range. */
  startTime?: number;
  stopTime?: number;
}

export const TIME_PRESETS: [number, string][] = [
  [1, "Last hour"],
  [6, "Last 6 hours"],
  [24, "Last 24 hours"],
  [48, "Last 2 days"],
  [72, "Last 3 days"],
  [168, "Last week"],
  [336, "Last 2 weeks"],
  [744, "Last 31 days"],
  [-1, "All"],
];

function int(v: string | null): number | undefined {
  if (v === null || v.trim() === "") return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? Math.trunc(n) : undefined;
}

export function readSearch(qs: string): Search {
  const p = new URLSearchParams(qs);
  const startTime = int(p.get("startTime"));
  const stopTime = int(p.get("stopTime"));
  const custom = startTime !== undefined && stopTime !== undefined;
  return {
    expression: p.get("expression") ?? "",
    date: int(p.get("date")) ?? -1,
    startTime: custom ? startTime : undefined,
    stopTime: custom ? stopTime : undefined,
  };
}

/** The API parameters for a search. */
export function searchParams(s: Search): Params {
  const custom = s.startTime !== undefined && s.stopTime !== undefined;
  return custom
    ? { expression: s.expression, startTime: s.startTime, stopTime: s.stopTime }
    : { expression: s.expression, date: s.date };
}

/** A value as the expression language reads it exactly: bare when it is one plain
 * word, else quoted; one holding `*` (a wildcard even quoted, as in Arkime) as a
 * regular expression of itself. */
export function quoteValue(v: unknown): string {
  const s = String(v);
  if (/^[A-Za-z0-9_.:\-/]+$/.test(s) && !s.includes("//")) return s;
  if (s.includes("*")) return `/${s.replace(/[\\.+*?()|[\]{}^$#&~-]/g, "\\$&").replace(/\//g, "\\/")}/`;
  return `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

/** `base && clause`, with `base` parenthesised when it has an `||` of its own. */
export function andClause(base: string, clause: string): string {
  const b = base.trim();
  if (!b) return clause;
  return /\|/.test(b) ? `(${b}) && ${clause}` : `${b} && ${clause}`;
}
