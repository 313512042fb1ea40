// Bars over time (sessions, packets or bytes per bucket). Dragging across the chart
// selects a time range and zooms the search to it.

import { useState } from "preact/hooks";
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

const PAD_LEFT = 56;
const PAD_BOTTOM = 20;

function tickLabel(s: number, span: number): string {
  const t = formatDate(new Date(s * 1000));
  return span > 2 * 86400 ? t.slice(0, 16) : span > 120 ? t.slice(11, 16) : t.slice(11, 19);
}

export function TimeChart({ bars, interval, domain, height = 130, bytes, label, onZoom, color }: Props) {
  const { ref, width } = useWidth<HTMLDivElement>();
  const [drag, setDrag] = useState<[number, number] | null>(null);
  const starts = bars.map((b) => b.start_ns / 1e9);
  let [t0, t1] = domain ?? [Math.min(...starts), Math.max(...starts) + interval];
  if (!bars.length && !domain) [t0, t1] = [0, 1];
  if (t1 <= t0) t1 = t0 + interval;
  const plotW = Math.max(width - PAD_LEFT - 8, 10);
  const plotH = height - PAD_BOTTOM - 6;
  const x = (s: number) => PAD_LEFT + ((s - t0) / (t1 - t0)) * plotW;
  const timeAt = (px: number) => t0 + ((Math.min(Math.max(px, PAD_LEFT), PAD_LEFT + plotW) - PAD_LEFT) / plotW) * (t1 - t0);
  const max = Math.max(1, ...bars.map((b) => b.value));
  const barW = Math.max(1, (interval / (t1 - t0)) * plotW - 1);
  const fmt = bytes ? formatBytes : formatCount;
  const ticks = Array.from({ length: 6 }, (_, i) => t0 + ((t1 - t0) * i) / 5);

  const local = (e: MouseEvent) => e.clientX - (e.currentTarget as SVGElement).getBoundingClientRect().left;

  return (
    <div class="time-chart" ref={ref}>
      <svg
        width={width}
        height={height}
        role="img"
        aria-label={label ?? "histogram"}
        onMouseDown={(e) => onZoom && setDrag([local(e), local(e)])}
        onMouseMove={(e) => drag && setDrag([drag[0], local(e)])}
        onMouseLeave={() => setDrag(null)}
        onMouseUp={(e) => {
          if (!drag || !onZoom) return;
          const [a, b] = [drag[0], local(e)].sort((p, q) => p - q);
          setDrag(null);
          if (b - a >= 4) onZoom(Math.floor(timeAt(a)), Math.ceil(timeAt(b)));
        }}
      >
        <text x={PAD_LEFT - 6} y={12} text-anchor="end" class="axis">
          {fmt(max)}
        </text>
        <text x={PAD_LEFT - 6} y={plotH + 4} text-anchor="end" class="axis">
          0
        </text>
        <line x1={PAD_LEFT} x2={PAD_LEFT + plotW} y1={plotH + 6} y2={plotH + 6} class="axis-line" />
        {ticks.map((t, i) => (
          <text x={x(t)} y={height - 4} text-anchor={i === 0 ? "start" : i === ticks.length - 1 ? "end" : "middle"} class="axis">
            {tickLabel(t, t1 - t0)}
          </text>
        ))}
        {bars.map((b) => {
          const h = (b.value / max) * plotH;
          return (
            <rect class="bar" x={x(b.start_ns / 1e9)} y={plotH + 6 - h} width={barW} height={h} fill={color}>
              <title>
                {formatDate(new Date(b.start_ns / 1e6))}: {fmt(b.value)}
              </title>
            </rect>
          );
        })}
        {drag && Math.abs(drag[1] - drag[0]) > 1 && (
          <rect
            class="selection"
            x={Math.min(...drag)}
            y={0}
            width={Math.abs(drag[1] - drag[0])}
            height={plotH + 6}
          />
        )}
      </svg>
    </div>
  );
}
