// Bars over time (sessions, packets or bytes per bucket), drawn by uPlot on a canvas:
// thousands of buckets stay cheap, and hovering shows a bucket's time and value.
// Dragging across the chart selects a time range and zooms the search to it.

import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { formatBytes, formatCount, formatDate } from "../format";
import { useWidth } from "./useWidth";

export interface Bar {
  start_ns: number;
  value: number;
}

interface Props {
  bars: Bar[];
  interval: number;
  /** The range asked for (epoch seconds), when known; else the bars' own extent. */
  domain?: [number, number];
  height?: number;
  bytes?: boolean;
  label?: string;
  onZoom?: (startS: number, stopS: number) => void;
  color?: string;
}

/** Buckets drawn at most; past this the bars are drawn as given (gaps stay gaps). */
const MAX_BUCKETS = 20_000;

function tickLabel(s: number, span: number): string {
  const t = formatDate(new Date(s * 1000));
  return span > 2 * 86400 ? t.slice(0, 16) : span > 120 ? t.slice(11, 16) : t.slice(11, 19);
}

/** Every bucket over [t0, t1) with its value (0 where the answer has none), so that
 *  each bar is one interval wide: uPlot sizes bars by the spacing of the points. The
 *  grid keeps the buckets' own phase (a range asked for need not start on one). */
function series(bars: Bar[], interval: number, t0: number, t1: number): [number[], number[]] {
  const phase = bars.length && interval > 0 ? (bars[0].start_ns / 1e9) % interval : 0;
  const g0 = interval > 0 ? t0 - ((((t0 - phase) % interval) + interval) % interval) : t0;
  const n = Math.ceil((t1 - g0) / interval);
  if (interval <= 0 || n > MAX_BUCKETS) return [bars.map((b) => b.start_ns / 1e9), bars.map((b) => b.value)];
  const xs = Array.from({ length: n }, (_, i) => g0 + i * interval);
  const ys = new Array<number>(n).fill(0);
  for (const b of bars) {
    const i = Math.round((b.start_ns / 1e9 - g0) / interval);
    if (i >= 0 && i < n) ys[i] += b.value;
  }
  return [xs, ys];
}

export function TimeChart({ bars, interval, domain, height = 130, bytes, label, onZoom, color }: Props) {
  const { ref, width } = useWidth<HTMLDivElement>();
  const holder = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  // The latest handler, for the plot made with an earlier one.
  const zoom = useRef(onZoom);
  zoom.current = onZoom;

  // The extent shown, read by the plot's x scale (which outlives a change of data).
  const starts = bars.map((b) => b.start_ns / 1e9);
  let [t0, t1] = domain ?? [Math.min(...starts), Math.max(...starts) + interval];
  if (!bars.length && !domain) [t0, t1] = [0, 1];
  if (t1 <= t0) t1 = t0 + interval;
  const extent = useRef<[number, number]>([t0, t1]);
  extent.current = [t0, t1];
  const fmt = bytes ? formatBytes : formatCount;
  // The callers map their buckets afresh on every render: the data is set again
  // only when what it shows changed.
  const shown = `${t0}-${t1}/${interval}:` + bars.map((b) => `${b.start_ns}:${b.value}`).join(",");

  // The plot, made again only when how it looks changes; new data is set into it.
  useEffect(() => {
    const el = holder.current;
    if (!el) return;
    const span = () => extent.current[1] - extent.current[0];
    const css = getComputedStyle(el);
    const muted = css.getPropertyValue("--muted").trim() || "#8f9bad";
    const line = css.getPropertyValue("--line").trim() || "#2a3441";
    const fill = color ?? (css.getPropertyValue("--accent").trim() || "#3b82f6");
    const axis = { stroke: muted, grid: { stroke: line, width: 1 }, ticks: { stroke: line, width: 1 }, font: "11px sans-serif" };
    const opts: uPlot.Options = {
      width: Math.max(width, 50),
      height,
      legend: { show: false },
      scales: {
        x: { time: false, range: () => extent.current },
        y: { range: (_u, _min, max) => [0, Math.max(1, max)] },
      },
      axes: [
        {
          ...axis,
          grid: { show: false },
          // Room for the labels: a date and time is twice as wide as a time.
          space: () => (span() > 2 * 86400 ? 130 : 70),
          values: (_u, splits) => splits.map((s) => tickLabel(s, span())),
        },
        { ...axis, size: 56, space: 18, values: (_u, splits) => splits.map((v) => fmt(v)) },
      ],
      series: [
        {},
        {
          label: label ?? "sessions",
          fill,
          stroke: fill,
          width: 0,
          paths: uPlot.paths.bars!({ size: [1, Infinity], align: 1, gap: 1 }),
          points: { show: false },
        },
      ],
      cursor: { drag: { x: true, y: false, setScale: false }, points: { show: false } },
      hooks: {
        setSelect: [
          (u) => {
            const { left, width: w } = u.select;
            if (w >= 4 && zoom.current) {
              zoom.current(Math.floor(u.posToVal(left, "x")), Math.ceil(u.posToVal(left + w, "x")));
            }
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
          },
        ],
        setCursor: [
          (u) => {
            // The hovered bucket's time and value, as a tooltip.
            const i = u.cursor.idx;
            const xs = u.data[0];
            u.over.title = i == null ? "" : `${formatDate(new Date(xs[i] * 1000))}: ${fmt(u.data[1][i] ?? 0)}`;
          },
        ],
      },
    };
    const [a, b] = extent.current;
    const u = new uPlot(opts, series(bars, interval, a, b), el);
    u.root.setAttribute("role", "img");
    u.root.setAttribute("aria-label", label ?? "histogram");
    plot.current = u;
    return () => {
      u.destroy();
      plot.current = null;
    };
  }, [height, bytes, label, color]);

  const first = useRef(true);
  useEffect(() => {
    // The plot was just made with this data.
    if (first.current) {
      first.current = false;
      return;
    }
    plot.current?.setData(series(bars, interval, t0, t1));
  }, [shown]);

  useEffect(() => plot.current?.setSize({ width: Math.max(width, 50), height }), [width, height]);

  return (
    <div class="time-chart" ref={ref}>
      <div ref={holder} />
    </div>
  );
}
