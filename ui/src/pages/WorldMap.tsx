// Sessions per country on a world map (Natural Earth outlines from the world-atlas
// package, drawn by d3-geo in the Natural Earth projection, which cuts shapes at the
// antimeridian), from the country.src and country.dst fields the GeoIP database
// fills. A click on a country adds it to the search.

import { useEffect, useMemo, useState } from "preact/hooks";
import countries from "i18n-iso-countries";
import english from "i18n-iso-countries/langs/en.json";
import { geoNaturalEarth1, geoPath } from "d3-geo";
import { feature } from "topojson-client";
import type { Topology, GeometryCollection } from "topojson-specification";
import type { Feature, Geometry } from "geojson";
import type { SpiReply } from "../api";
import { useApp } from "../context";
import { formatCount } from "../format";
import { searchParams } from "../search";
import { useApi } from "../useApi";
import { useWidth } from "../components/useWidth";

countries.registerLocale(english);

type Side = "both" | "src" | "dst";

interface Shape {
  alpha3: string;
  name: string;
  d: string;
}

/** The map's own frame (the SVG's viewBox scales it to the page). */
const MAP_W = 560;
const MAP_H = 290;
const projection = geoNaturalEarth1().fitExtent(
  [
    [2, 2],
    [MAP_W - 2, MAP_H - 2],
  ],
  { type: "Sphere" },
);
const path = geoPath(projection);
/** The globe's outline. */
const OUTLINE = path({ type: "Sphere" }) ?? "";

function useShapes(): Shape[] | null {
  const [shapes, setShapes] = useState<Shape[] | null>(null);
  useEffect(() => {
    // The outlines are a separate file, fetched only when the map is opened.
    import("world-atlas/countries-110m.json").then((m) => {
      const topo = (m.default ?? m) as unknown as Topology<{ countries: GeometryCollection<{ name: string }> }>;
      const geo = feature(topo, topo.objects.countries) as unknown as { features: Feature<Geometry, { name: string }>[] };
      setShapes(
        geo.features.map((f) => ({
          alpha3: countries.numericToAlpha3(String(f.id ?? "")) ?? "",
          name: f.properties?.name ?? "",
          d: path(f) ?? "",
        })),
      );
    });
  }, []);
  return shapes;
}

/** Dark blue to bright for few to many sessions (log scale: counts span decades). */
function shade(count: number, max: number): string {
  if (!count) return "";
  const t = Math.log1p(count) / Math.log1p(max);
  const light = 25 + 45 * t;
  return `hsl(${210 - 20 * t}, 80%, ${light}%)`;
}

export function WorldMap() {
  const { search, addClause } = useApp();
  const [side, setSide] = useState<Side>("both");
  const [hover, setHover] = useState<string | null>(null);
  const shapes = useShapes();
  const { ref, width } = useWidth<HTMLDivElement>(1000);
  const r = useApi<SpiReply>("/api/spiview", { ...searchParams(search), spi: "country.src:300,country.dst:300" });

  const counts = useMemo(() => {
    const m = new Map<string, number>();
    if (!r.data) return m;
    for (const s of side === "both" ? ["src", "dst"] : [side]) {
      for (const v of r.data.spi[`country.${s}`] ?? []) m.set(String(v.value), (m.get(String(v.value)) ?? 0) + v.count);
    }
    return m;
  }, [r.data, side]);
  const max = Math.max(1, ...counts.values());
  const ranked = [...counts.entries()].sort((a, b) => b[1] - a[1]);
  const field = side === "both" ? "country" : `country.${side}`;
  const nameOf = (a3: string) => countries.getName(a3, "en") ?? shapes?.find((s) => s.alpha3 === a3)?.name ?? a3;
  const height = Math.round(width * 0.52);

  return (
    <div class="page worldmap">
      <div class="toolbar">
        <span class="segmented">
          {(["both", "src", "dst"] as Side[]).map((s) => (
            <button class={s === side ? "on" : ""} onClick={() => setSide(s)}>
              {s === "both" ? "source or destination" : s === "src" ? "source" : "destination"}
            </button>
          ))}
        </span>
        <span class="muted">
          {hover ? `${nameOf(hover)} (${hover}): ${formatCount(counts.get(hover) ?? 0)} sessions` : `${counts.size} countries`}
        </span>
      </div>
      <div class="map-layout">
        <div class="map-wrap" ref={ref}>
          {shapes && (
            <svg class="map" width={width} height={height} viewBox={`0 0 ${MAP_W} ${MAP_H}`} role="img" aria-label="World map">
              <path d={OUTLINE} class="globe" />
              <g>
              {shapes.map((s) => {
                const n = counts.get(s.alpha3) ?? 0;
                return (
                  <path
                    d={s.d}
                    class={`country-shape${n ? " has" : ""}`}
                    data-country={s.alpha3}
                    data-count={n}
                    style={n ? { fill: shade(n, max) } : undefined}
                    onMouseEnter={() => setHover(s.alpha3)}
                    onMouseLeave={() => setHover(null)}
                    onClick={() => s.alpha3 && addClause(field, s.alpha3)}
                  >
                    <title>
                      {s.name}: {formatCount(n)} sessions
                    </title>
                  </path>
                );
              })}
              </g>
            </svg>
          )}
        </div>
        <table class="country-table">
          <thead>
            <tr>
              <th>Country</th>
              <th>Sessions</th>
            </tr>
          </thead>
          <tbody>
            {ranked.slice(0, 30).map(([a3, n]) => (
              <tr onClick={() => addClause(field, a3)} data-country={a3}>
                <td>
                  {nameOf(a3)} <span class="muted">{a3}</span>
                </td>
                <td>{formatCount(n)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {r.data && !counts.size && (
        <p class="empty">
          No session has a country. Countries come from a MaxMind-format GeoIP database given to <code>tyto ingest</code>.
        </p>
      )}
    </div>
  );
}
