// Sessions: the histogram over time (drag to zoom), the sortable, pageable table with
// chosen columns, a row that opens on every field and the packets, and downloads.

import { useEffect, useMemo, useState } from "preact/hooks";
import { ApiError, del, postForm, queryString, type Params } from "../api";
import { TimeChart } from "../components/TimeChart";
import { useApp } from "../context";
import { formatBytes, formatCount, formatTime, formatValue } from "../format";
import { searchParams } from "../search";
import { useApi } from "../useApi";
import { column, INFO_FIELDS, saveColumns, savedColumns, type Column } from "./columns";
import { SessionDetail } from "./SessionDetail";

type Row = Record<string, unknown> & { id: string };

interface SessionsReply {
  data: Row[];
  recordsFiltered: number;
  recordsTotal: number;
}

export interface HistogramReply {
  interval: number;
  buckets: { start_ns: number; sessions: number; packets: number; bytes: number; databytes: number }[];
}

type Metric = "sessions" | "packets" | "bytes";

/** The range a search covers, in epoch seconds, when it has one. */
export function searchDomain(s: { date: number; startTime?: number; stopTime?: number }): [number, number] | undefined {
  if (s.startTime !== undefined && s.stopTime !== undefined) return [s.startTime, s.stopTime];
  if (s.date > 0) {
    const now = Math.floor(Date.now() / 1000);
    return [now - s.date * 3600, now];
  }
  return undefined;
}

export function Histogram() {
  const { search, setSearch } = useApp();
  const [metric, setMetric] = useState<Metric>("sessions");
  const h = useApi<HistogramReply>("/api/histogram", searchParams(search));
  return (
    <section class="panel histogram" aria-label="Sessions over time">
      <div class="panel-head">
        <span>
          {metric[0].toUpperCase() + metric.slice(1)} per {h.data ? `${formatCount(h.data.interval)} s` : "…"}{" "}
          <span class="muted">(drag across the chart to zoom)</span>
        </span>
        <span class="segmented">
          {(["sessions", "packets", "bytes"] as Metric[]).map((m) => (
            <button class={m === metric ? "on" : ""} onClick={() => setMetric(m)}>
              {m}
            </button>
          ))}
        </span>
      </div>
      {h.data && (
        <TimeChart
          bars={h.data.buckets.map((b) => ({ start_ns: b.start_ns, value: b[metric] }))}
          interval={h.data.interval}
          domain={searchDomain(search)}
          bytes={metric === "bytes"}
          label={`${metric} over time`}
          onZoom={(a, b) => setSearch({ ...search, startTime: a, stopTime: b })}
        />
      )}
    </section>
  );
}

function countryFlag(code: unknown) {
  return typeof code === "string" && code ? <span class="country">{code}</span> : null;
}

function infoCell(row: Row) {
  const parts: string[] = [];
  for (const f of INFO_FIELDS) {
    const v = row[f];
    if (v === undefined || v === null || (Array.isArray(v) && !v.length)) continue;
    parts.push(`${f}: ${formatValue(v)}`);
    if (parts.length >= 3) break;
  }
  return parts.join(" · ");
}

function cell(c: Column, row: Row, type?: string) {
  switch (c.id) {
    case "starttime":
    case "stoptime":
      return formatTime(row[c.id], true);
    case "ip.src":
      return (
        <>
          {String(row["ip.src"] ?? "")} {countryFlag(row["country.src"])}
        </>
      );
    case "ip.dst":
      return (
        <>
          {String(row["ip.dst"] ?? "")} {countryFlag(row["country.dst"])}
        </>
      );
    case "bytes":
      return formatBytes(row.bytes);
    case "packets":
      return formatCount(row.packets);
    case "port.src":
    case "port.dst":
      return String(row[c.id] ?? "");
    case "protocols":
      return formatValue(row.protocols);
    case "info":
      return infoCell(row);
    default:
      return formatValue(row[c.id], type);
  }
}

const PAGE_SIZES = [50, 100, 500, 1000];

interface SavedView {
  id: number;
  name: string;
  user: string;
  shared: boolean;
  expression: string;
  columns: string[] | null;
}

/** Saved views: a view applied sets the search's expression (and the columns, if it
 *  has them); the current expression and columns saved under a name, shared or not. */
function ViewBar(props: { columns: string[]; onColumns: (c: string[]) => void }) {
  const { user, search, setSearch, reportError } = useApp();
  const [version, setVersion] = useState(0);
  const views = useApi<{ data: SavedView[] }>("/api/views", {}, version);
  const [picked, setPicked] = useState("");
  const [name, setName] = useState("");
  const [shared, setShared] = useState(false);
  const [withColumns, setWithColumns] = useState(true);
  const [result, setResult] = useState("");
  const list = views.data?.data ?? [];
  const chosen = list.find((v) => String(v.id) === picked);

  async function run(what: () => Promise<string>) {
    try {
      setResult(await what());
      setVersion((v) => v + 1);
    } catch (e) {
      const err = e instanceof ApiError ? e : new ApiError(String(e), 0);
      setResult(err.message);
      reportError(err);
    }
  }

  function apply(id: string) {
    setPicked(id);
    const v = list.find((x) => String(x.id) === id);
    if (!v) return;
    if (v.columns) props.onColumns(v.columns);
    setSearch({ ...search, expression: v.expression });
  }

  return (
    <div class="tag-bar view-bar" role="form" aria-label="Views">
      <select id="view-pick" aria-label="Apply a view" value={picked} onChange={(e) => apply((e.currentTarget as HTMLSelectElement).value)}>
        <option value="">apply a view…</option>
        {list.map((v) => (
          <option value={String(v.id)}>
            {v.name}
            {v.user !== user.name ? ` (${v.user})` : ""}
          </option>
        ))}
      </select>
      {chosen && (chosen.user === user.name || user.admin) && (
        <button
          id="view-delete"
          onClick={() =>
            run(async () => {
              await del(`/api/view/${chosen.id}`);
              setPicked("");
              return `Deleted view ${chosen.name}`;
            })
          }
        >
          Delete view
        </button>
      )}
      <input id="view-name" placeholder="name for this search" value={name} onInput={(e) => setName((e.currentTarget as HTMLInputElement).value)} />
      <label>
        <input type="checkbox" id="view-columns" checked={withColumns} onChange={(e) => setWithColumns((e.currentTarget as HTMLInputElement).checked)} />{" "}
        with columns
      </label>
      <label>
        <input type="checkbox" id="view-shared" checked={shared} onChange={(e) => setShared((e.currentTarget as HTMLInputElement).checked)} /> shared
      </label>
      <button
        id="view-save"
        onClick={() =>
          run(async () => {
            const saved = await postForm<SavedView>("/api/view", {
              name,
              expression: search.expression ?? "",
              columns: withColumns ? props.columns.join(",") : undefined,
              shared: shared ? "true" : "false",
            });
            return `Saved view ${saved.name}`;
          })
        }
      >
        Save view
      </button>
      <span class="muted" id="view-result" role="status">
        {result}
      </span>
    </div>
  );
}

type TagScope = "open" | "page" | "all";

/** Tags put on or taken off the opened sessions, the page's, or every match of the
 *  search (Arkime's addTags/removeTags); `onChanged` reloads what shows them. */
function TagBar(props: { base: Params; openIds: string[]; pageIds: string[]; matched: number; onChanged: () => void }) {
  const { user, reportError } = useApp();
  const [tags, setTags] = useState("");
  const [scope, setScope] = useState<TagScope>(props.openIds.length ? "open" : "page");
  const [result, setResult] = useState("");
  const [busy, setBusy] = useState(false);
  const ids = scope === "open" ? props.openIds : scope === "page" ? props.pageIds : null;

  async function change(adding: boolean) {
    if (!tags.trim()) {
      setResult("Type one or more tags, separated by commas.");
      return;
    }
    if (ids !== null && !ids.length) {
      setResult("No sessions to tag.");
      return;
    }
    setBusy(true);
    setResult(adding ? "Adding…" : "Removing…");
    try {
      // With ids the search's time range still applies (as to any search); without,
      // the search's expression picks the sessions.
      const form = ids === null ? { ...props.base, tags } : { ...props.base, expression: undefined, ids: ids.join(","), tags };
      const reply = await postForm<{ text: string }>(`/api/sessions/${adding ? "addtags" : "removetags"}`, form);
      setResult(reply.text);
      props.onChanged();
    } catch (e) {
      const err = e instanceof ApiError ? e : new ApiError(String(e), 0);
      setResult(err.message);
      reportError(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <div class="tag-bar" role="form" aria-label="Tags">
      <input
        id="tag-names"
        placeholder="tags, comma-separated"
        value={tags}
        onInput={(e) => setTags((e.currentTarget as HTMLInputElement).value)}
      />
      <select id="tag-scope" aria-label="Sessions to tag" value={scope} onChange={(e) => setScope((e.currentTarget as HTMLSelectElement).value as TagScope)}>
        <option value="open">opened sessions ({props.openIds.length})</option>
        <option value="page">this page ({props.pageIds.length})</option>
        <option value="all">every match ({formatCount(props.matched)})</option>
      </select>
      <button id="tag-add" disabled={busy} onClick={() => change(true)}>
        Add tags
      </button>
      {user.remove_tags && (
        <button id="tag-remove" disabled={busy} onClick={() => change(false)}>
          Remove tags
        </button>
      )}
      <span class="muted" id="tag-result" role="status">
        {result}
      </span>
    </div>
  );
}

function ColumnChooser({ chosen, onChange }: { chosen: string[]; onChange: (c: string[]) => void }) {
  const { fields } = useApp();
  const [filter, setFilter] = useState("");
  const names = ["info", ...fields.filter((f) => !f.members).map((f) => f.name)].filter((n) =>
    n.toLowerCase().includes(filter.toLowerCase()),
  );
  return (
    <div class="column-chooser" role="dialog" aria-label="Columns">
      <input placeholder="Filter fields" value={filter} onInput={(e) => setFilter((e.currentTarget as HTMLInputElement).value)} />
      <div class="column-list">
        {names.map((n) => (
          <label>
            <input
              type="checkbox"
              checked={chosen.includes(n)}
              onChange={(e) =>
                onChange((e.currentTarget as HTMLInputElement).checked ? [...chosen, n] : chosen.filter((c) => c !== n))
              }
            />
            {n}
          </label>
        ))}
      </div>
    </div>
  );
}

export function Sessions() {
  const { search, fieldByName, user } = useApp();
  const [columnIds, setColumnIds] = useState<string[]>(savedColumns);
  const [choosing, setChoosing] = useState(false);
  const [start, setStart] = useState(0);
  const [length, setLength] = useState(100);
  const [order, setOrder] = useState<[string, "asc" | "desc"]>(["starttime", "desc"]);
  const [open, setOpen] = useState<Set<string>>(new Set());
  const [tagging, setTagging] = useState(false);
  const [viewing, setViewing] = useState(false);
  // Bumped when tags change, so the page and opened sessions are read again.
  const [version, setVersion] = useState(0);

  const columns = useMemo(
    () => columnIds.map((id) => column(id, (n) => fieldByName.get(n)?.multi)).filter((c): c is Column => c !== null),
    [columnIds, fieldByName],
  );
  const wanted = useMemo(
    () => [...new Set(columns.flatMap((c) => c.fields))].filter((f) => fieldByName.has(f)).join(","),
    [columns, fieldByName],
  );

  useEffect(() => {
    setStart(0);
    setOpen(new Set());
  }, [search]);

  const base = searchParams(search);
  const params = { ...base, start, length, order: `${order[0]}:${order[1]}`, fields: wanted };
  const s = useApi<SessionsReply>("/api/sessions", params, version);

  function sortBy(c: Column) {
    if (!c.sort) return;
    setOrder(([f, d]) => (f === c.sort ? [f, d === "asc" ? "desc" : "asc"] : [c.sort!, "asc"]));
  }

  function chooseColumns(ids: string[]) {
    setColumnIds(ids);
    saveColumns(ids);
  }

  const rows = s.data?.data ?? [];
  const matched = s.data?.recordsFiltered ?? 0;
  const pageIds = rows.map((r) => r.id).join(",");

  return (
    <div class="page sessions">
      <Histogram />
      <div class="toolbar">
        <span class="counts" id="session-count">
          {s.data
            ? `${matched ? start + 1 : 0}–${start + rows.length} of ${formatCount(matched)} sessions (${formatCount(s.data.recordsTotal)} in range)`
            : s.loading
              ? "Searching…"
              : ""}
        </span>
        <span class="pager">
          <button disabled={start === 0} onClick={() => setStart(Math.max(0, start - length))} aria-label="Previous page">
            ‹ Prev
          </button>
          <button disabled={start + length >= matched} onClick={() => setStart(start + length)} aria-label="Next page">
            Next ›
          </button>
          <select
            aria-label="Sessions per page"
            value={String(length)}
            onChange={(e) => {
              setLength(Number((e.currentTarget as HTMLSelectElement).value));
              setStart(0);
            }}
          >
            {PAGE_SIZES.map((n) => (
              <option value={String(n)}>{n} per page</option>
            ))}
          </select>
        </span>
        <span class="downloads">
          <button onClick={() => setChoosing(!choosing)} aria-expanded={choosing}>
            Columns
          </button>
          <button id="view-toggle" onClick={() => setViewing(!viewing)} aria-expanded={viewing}>
            Views
          </button>
          <button id="tag-toggle" onClick={() => setTagging(!tagging)} aria-expanded={tagging}>
            Tags
          </button>
          <a class="button" href={`/api/sessions.csv${queryString({ ...base, order: params.order, fields: wanted })}`} download>
            CSV
          </a>
          {user.export_pcap && (
            <>
              <a
                class="button"
                id="pcap-page"
                href={rows.length ? `/api/sessions.pcap${queryString({ ids: pageIds })}` : undefined}
                download="sessions-page.pcap"
              >
                PCAP (page)
              </a>
              <a class="button" id="pcap-all" href={`/api/sessions.pcap${queryString(base)}`} download="sessions.pcap">
                PCAP (all matches)
              </a>
            </>
          )}
        </span>
      </div>
      {choosing && <ColumnChooser chosen={columnIds} onChange={chooseColumns} />}
      {viewing && <ViewBar columns={columnIds} onColumns={chooseColumns} />}
      {tagging && (
        <TagBar
          base={base}
          openIds={rows.map((r) => r.id).filter((id) => open.has(id))}
          pageIds={rows.map((r) => r.id)}
          matched={matched}
          onChanged={() => setVersion((v) => v + 1)}
        />
      )}
      <div class="table-wrap">
        <table class="sessions-table">
          <thead>
            <tr>
              <th class="opener" />
              {columns.map((c) => (
                <th
                  class={c.sort ? "sortable" : ""}
                  onClick={() => sortBy(c)}
                  aria-sort={order[0] === c.sort ? (order[1] === "asc" ? "ascending" : "descending") : undefined}
                >
                  {c.title}
                  {order[0] === c.sort ? (order[1] === "asc" ? " ▲" : " ▼") : ""}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => {
              const isOpen = open.has(r.id);
              const toggle = () => {
                const next = new Set(open);
                if (isOpen) next.delete(r.id);
                else next.add(r.id);
                setOpen(next);
              };
              return (
                <>
                  <tr class={`session-row${isOpen ? " open" : ""}`} data-id={r.id} onClick={toggle}>
                    <td class="opener">{isOpen ? "−" : "+"}</td>
                    {columns.map((c) => (
                      <td class={`col-${c.id.replace(/\W/g, "-")}`}>{cell(c, r, fieldByName.get(c.id)?.type)}</td>
                    ))}
                  </tr>
                  {isOpen && (
                    <tr class="detail-row">
                      <td colSpan={columns.length + 1}>
                        <SessionDetail id={r.id} range={{ ...base, expression: undefined }} version={version} />
                      </td>
                    </tr>
                  )}
                </>
              );
            })}
          </tbody>
        </table>
        {s.data && !rows.length && <p class="empty">No sessions match.</p>}
      </div>
    </div>
  );
}
