// Connections: who talks to whom under the search, as a node-link graph laid out by
// d3-force (Barnes–Hut repulsion, link springs, a pull to the middle), which stops
// its timer once the layout has settled. Nodes can be dragged, the view panned and
// zoomed; a click on a node shows its totals and adds it to the search.

import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { forceCollide, forceLink, forceManyBody, forceSimulation, forceX, forceY } from "d3-force";
import type { Simulation, SimulationNodeDatum } from "d3-force";
import { useApp } from "../context";
import { formatBytes, formatCount } from "../format";
import { searchParams } from "../search";
import { useApi } from "../useApi";
import { FieldSelect } from "../components/FieldPicker";
import { SampleNote } from "../components/SampleNote";
import { useWidth } from "../components/useWidth";

interface NodeIn {
  id: unknown;
  type: number;
  sessions: number;
  packets: number;
  bytes: number;
}
interface LinkIn {
  src: unknown;
  dst: unknown;
  sessions: number;
  packets: number;
  bytes: number;
}
interface ConnectionsReply {
  srcField: string;
  dstField: string;
  recordsFiltered: number;
  nodes: NodeIn[];
  links: LinkIn[];
  /** The percent of sessions read when the links were estimated from a sample. */
  samplePercent: number | null;
}

interface SimNode extends NodeIn, SimulationNodeDatum {
  key: string;
  x: number;
  y: number;
}

type Weight = "sessions" | "packets" | "bytes";

const HEIGHT = 620;
const TYPE_CLASS = ["", "src", "dst", "both"];
/** Room kept between a node's centre and the drawing's edge. */
const MARGIN = 24;

/** Places nodes on a circle, then lets links pull and nodes push until it settles. */
function useSimulation(reply: ConnectionsReply | null, width: number) {
  const [, setFrame] = useState(0);
  const [settled, setSettled] = useState(false);
  const nodes = useRef<SimNode[]>([]);
  const links = useRef<[SimNode, SimNode, LinkIn][]>([]);
  const sim = useRef<Simulation<SimNode, undefined> | null>(null);
  const widthNow = useRef(width);
  widthNow.current = width;

  useEffect(() => {
    if (!reply) return;
    const n = reply.nodes.length;
    const w = widthNow.current;
    nodes.current = reply.nodes.map((node, i) => {
      const a = (2 * Math.PI * i) / Math.max(n, 1);
      const r = 40 + 8 * Math.sqrt(n);
      return { ...node, key: JSON.stringify(node.id), x: w / 2 + r * Math.cos(a), y: HEIGHT / 2 + r * Math.sin(a) };
    });
    const index = new Map(nodes.current.map((nd) => [nd.key, nd]));
    links.current = reply.links
      .map((l) => [index.get(JSON.stringify(l.src)), index.get(JSON.stringify(l.dst)), l] as [SimNode, SimNode, LinkIn])
      .filter(([a, b]) => a !== undefined && b !== undefined);
    setSettled(false);
    // Less repulsion when there are many nodes, or a crowded graph piles up
    // against the edges.
    const s = forceSimulation(nodes.current)
      .force("charge", forceManyBody<SimNode>().strength(-45 * Math.min(1, 120 / Math.max(n, 1)) - 4).distanceMax(400))
      .force("link", forceLink<SimNode, { source: SimNode; target: SimNode }>(links.current.map(([a, b]) => ({ source: a, target: b }))).distance(60))
      .force("collide", forceCollide<SimNode>(7))
      .force("x", forceX<SimNode>(w / 2).strength(0.05))
      .force("y", forceY<SimNode>(HEIGHT / 2).strength(0.08))
      .alphaDecay(0.04)
      .on("tick", () => {
        // Every node stays inside the drawing.
        const right = widthNow.current - MARGIN;
        for (const nd of nodes.current) {
          nd.x = Math.max(MARGIN, Math.min(right, nd.x));
          nd.y = Math.max(MARGIN, Math.min(HEIGHT - MARGIN, nd.y));
        }
        setFrame((f) => f + 1);
      })
      .on("end", () => setSettled(true));
    sim.current = s;
    return () => {
      s.stop();
    };
  }, [reply]);

  // A new width moves the middle nodes are pulled to.
  useEffect(() => {
    const s = sim.current;
    if (!s) return;
    s.force("x", forceX<SimNode>(width / 2).strength(0.05));
    setSettled(false);
    s.alpha(Math.max(s.alpha(), 0.3)).restart();
  }, [width]);

  return {
    nodes: nodes.current,
    links: links.current,
    /** The layout has stopped moving (tests wait for it before clicking a node). */
    settled,
    /** A node held at a place (dragged), or let go (`null`). */
    hold: (nd: SimNode, at: [number, number] | null) => {
      [nd.fx, nd.fy] = at ?? [null, null];
      const s = sim.current;
      if (at && s) {
        setSettled(false);
        s.alpha(Math.max(s.alpha(), 0.3)).restart();
      }
    },
  };
}

export function Connections() {
  const { search, addClause, fieldByName } = useApp();
  const [srcField, setSrcField] = useState("ip.src");
  const [dstField, setDstField] = useState("ip.dst");
  const [length, setLength] = useState(200);
  const [weight, setWeight] = useState<Weight>("sessions");
  const [picked, setPicked] = useState<SimNode | null>(null);
  const [view, setView] = useState({ x: 0, y: 0, k: 1 });
  const drag = useRef<{ node?: SimNode; panFrom?: [number, number, number, number] } | null>(null);
  const svg = useRef<SVGSVGElement>(null);
  const { ref, width } = useWidth<HTMLDivElement>(1000);
  const [exact, setExact] = useState(false);
  const r = useApi<ConnectionsReply>("/api/connections", {
    ...searchParams(search),
    srcField,
    dstField,
    length,
    ...(exact ? { exact: 1 } : {}),
  });
  const sim = useSimulation(r.data, width);

  const maxNode = useMemo(() => Math.max(1, ...(r.data?.nodes ?? []).map((n) => n[weight])), [r.data, weight]);
  const maxLink = useMemo(() => Math.max(1, ...(r.data?.links ?? []).map((l) => l[weight])), [r.data, weight]);
  const radius = (nd: SimNode) => 4 + 14 * Math.sqrt(nd[weight] / maxNode);

  const toGraph = (e: PointerEvent): [number, number] => {
    const box = svg.current!.getBoundingClientRect();
    return [(e.clientX - box.left - view.x) / view.k, (e.clientY - box.top - view.y) / view.k];
  };

  return (
    <div class="page connections">
      <div class="toolbar">
        <label>
          Source{" "}
          <FieldSelect value={srcField} label="Source field" onChange={setSrcField} />
        </label>
        <label>
          Destination{" "}
          <FieldSelect value={dstField} label="Destination field" onChange={setDstField} />
        </label>
        <select value={String(length)} aria-label="Links" onChange={(e) => setLength(Number((e.currentTarget as HTMLSelectElement).value))}>
          {[50, 100, 200, 500, 1000].map((n) => (
            <option value={String(n)}>{n} heaviest links</option>
          ))}
        </select>
        <span class="segmented">
          {(["sessions", "packets", "bytes"] as Weight[]).map((w) => (
            <button class={w === weight ? "on" : ""} onClick={() => setWeight(w)}>
              {w}
            </button>
          ))}
        </span>
        <button onClick={() => setView({ x: 0, y: 0, k: 1 })}>Reset view</button>
        <span class="muted" id="connections-count">
          {r.data ? `${r.data.nodes.length} nodes, ${r.data.links.length} links` : r.loading ? "…" : ""}
        </span>
        <SampleNote percent={r.data?.samplePercent} onExact={() => setExact(true)} />
      </div>
      <div class="graph-wrap" ref={ref}>
        <svg
          ref={svg}
          class="graph"
          data-settled={String(sim.settled)}
          width={width}
          height={HEIGHT}
          role="img"
          aria-label="Connections graph"
          onWheel={(e) => {
            e.preventDefault();
            const box = svg.current!.getBoundingClientRect();
            const mx = e.clientX - box.left;
            const my = e.clientY - box.top;
            const k = Math.min(8, Math.max(0.2, view.k * (e.deltaY < 0 ? 1.15 : 1 / 1.15)));
            setView({ k, x: mx - ((mx - view.x) * k) / view.k, y: my - ((my - view.y) * k) / view.k });
          }}
          onPointerDown={(e) => {
            if ((e.target as Element).tagName === "svg") drag.current = { panFrom: [e.clientX, e.clientY, view.x, view.y] };
          }}
          onPointerMove={(e) => {
            const d = drag.current;
            if (!d) return;
            if (d.node) {
              sim.hold(d.node, toGraph(e));
            } else if (d.panFrom) {
              const [cx, cy, vx, vy] = d.panFrom;
              setView({ ...view, x: vx + e.clientX - cx, y: vy + e.clientY - cy });
            }
          }}
          onPointerUp={() => {
            if (drag.current?.node) sim.hold(drag.current.node, null);
            drag.current = null;
          }}
          onPointerLeave={() => (drag.current = null)}
        >
          <g transform={`translate(${view.x},${view.y}) scale(${view.k})`}>
            {sim.links.map(([a, b, l]) => {
              return (
                <line class="link" x1={a.x} y1={a.y} x2={b.x} y2={b.y} stroke-width={1 + 5 * Math.sqrt(l[weight] / maxLink)}>
                  <title>
                    {String(l.src)} → {String(l.dst)}: {formatCount(l.sessions)} sessions, {formatCount(l.packets)} packets,{" "}
                    {formatBytes(l.bytes)}
                  </title>
                </line>
              );
            })}
            {/* The heaviest drawn last, on top: where nodes overlap, the one that matters is the one shown and clicked. */}
            {[...sim.nodes].sort((a, b) => a[weight] - b[weight]).map((nd) => (
              <g
                key={nd.key}
                class={`node ${TYPE_CLASS[nd.type] ?? ""}${picked?.key === nd.key ? " picked" : ""}`}
                data-id={String(nd.id)}
              >
                <circle
                  cx={nd.x}
                  cy={nd.y}
                  r={radius(nd)}
                  onPointerDown={(e) => {
                    e.stopPropagation();
                    (e.currentTarget as Element).setPointerCapture?.(e.pointerId);
                    sim.hold(nd, [nd.x, nd.y]);
                    drag.current = { node: nd };
                    setPicked(nd);
                  }}
                >
                  <title>{String(nd.id)}</title>
                </circle>
                {(sim.nodes.length <= 60 || nd[weight] / maxNode > 0.2 || picked?.key === nd.key) && (
                  <text x={nd.x + radius(nd) + 3} y={nd.y + 4}>
                    {String(nd.id)}
                  </text>
                )}
              </g>
            ))}
          </g>
        </svg>
        {picked && (
          <div class="node-info panel" role="dialog" aria-label="Node">
            <div class="panel-head">
              <strong>{String(picked.id)}</strong>
              <button class="link" onClick={() => setPicked(null)} aria-label="close">
                ✕
              </button>
            </div>
            <div class="muted">
              {picked.type === 3 ? "source and destination" : picked.type === 1 ? "source" : "destination"}
            </div>
            <div>
              {formatCount(picked.sessions)} sessions · {formatCount(picked.packets)} packets · {formatBytes(picked.bytes)}
            </div>
            <div class="node-actions">
              {(picked.type & 1) !== 0 && (
                <button onClick={() => addClause(srcField, picked.id)}>
                  {srcField} == {String(picked.id)}
                </button>
              )}
              {(picked.type & 2) !== 0 && (
                <button onClick={() => addClause(dstField, picked.id)}>
                  {dstField} == {String(picked.id)}
                </button>
              )}
            </div>
            {fieldByName.get(srcField)?.description && <div class="muted small">{fieldByName.get(srcField)!.description}</div>}
          </div>
        )}
      </div>
      <p class="legend">
        <span class="dot src" /> source only <span class="dot dst" /> destination only <span class="dot both" /> both · size and width by {weight} ·
        drag nodes, drag the background to pan, scroll to zoom
      </p>
    </div>
  );
}
