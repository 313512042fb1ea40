// Sessions per country on a world map (Natural Earth outlines from the world-atlas
// package, drawn with the Natural Earth projection), from the country.src and
// country.dst fields the GeoIP database fills. A click on a country adds it to the search.

import { useEffect, useMemo, useState } from "preact/hooks";
import countries from "i18n-iso-countries";
import english from "i18n-iso-countries/langs/en.json";
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

/** Natural Earth projection (Šavrič, Patterson, Jenny, Jenny 2011): longitude and
 *  latitude in degrees to x in [-2.73, 2.73] and y in [-1.42, 1.42]. */
function project(lon: number, lat: number): [number, number] {
  const l = (lon * Math.PI) / 180;
  const p = (lat * Math.PI) / 180;
  const p2 = p * p;
  const p4 = p2 * p2;
  const x = l * (0.8707 - 0.131979 * p2 + p4 * (-0.013791 + p4 * (0.003971 * p2 - 0.001529 * p4)));
  const y = p * (1.007226 + p2 * (0.015085 + p4 * (-0.044475 + 0.028874 * p2 - 0.005916 * p4)));
  return [x, -y];
}

function ringPath(ring: number[][], shift: number): string {
  let d = "";
  ring.forEach(([lon, lat], i) => {
    const [x, y] = project(lon + shift, lat);
    d += `${i ? "L" : "M"}${(x * 100).toFixed(1)},${(y * 100).toFixed(1)}`;
  });
  return `${d}Z`;
}

/** A ring that crosses the antimeridian jumps from +180 to -180: its longitudes are
 *  unwrapped so it stays whole, then drawn again a turn over so that the part beyond
 *  the edge shows on the other side (the map is clipped to the globe's outline). */
function pathOf(g: Geometry): string {
  const polys = g.type === "Polygon" ? [g.coordinates] : g.type === "MultiPolygon" ? g.coordinates : [];
  let d = "";
  for (const poly of polys) {
    for (const ring of poly) {
      let prev = ring[0]?.[0] ?? 0;
      let min = Infinity;
      let max = -Infinity;
      const unwrapped = ring.map(([lon, lat]) => {
        let l = lon;
        while (l - prev > 180) l -= 360;
        while (l - prev < -180) l += 360;
        prev = l;
        min = Math.min(min, l);
        max = Math.max(max, l);
        return [l, lat];
      });
      d += ringPath(unwrapped, 0);
      if (max > 180) d += ringPath(unwrapped, -360);
      if (min < -180) d += ringPath(unwrapped, 360);
    }
  }
  return d;
}

/** The globe's outline in the projection: the two edge meridians. */
function outline(): string {
  const pts: string[] = [];
  for (let lat = -90; lat <= 90; lat += 2) pts.push(project(180, lat).map((v) => (v * 100).toFixed(1)).join(","));
  for (let lat = 90; lat >= -90; lat -= 2) pts.push(project(-180, lat).map((v) => (v * 100).toFixed(1)).join(","));
  return `M${pts.join("L")}Z`;
}

const OUTLINE = outline();

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
          d: pathOf(f.geometry),
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
            <svg class="map" width={width} height={height} viewBox="-280 -145 560 290" role="img" aria-label="World map">
              <defs>
                <clipPath id="globe">
                  <path d={OUTLINE} />
                </clipPath>
              </defs>
              <path d={OUTLINE} class="globe" />
              <g clip-path="url(#globe)">
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
