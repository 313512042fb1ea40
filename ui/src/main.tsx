// The viewer's shell: who is logged in, the pages, the shared search bar, and the
// address that keeps the page and the search.

import { render } from "preact";
import { useCallback, useEffect, useMemo, useState } from "preact/hooks";
import { ApiError, getJson, post, queryString, setCsrf, type Field, type User } from "./api";
import { ExpressionBar } from "./components/ExpressionBar";
import { TimeRange } from "./components/TimeRange";
import { Ctx, type AppContext } from "./context";
import { Connections } from "./pages/Connections";
import { Sessions } from "./pages/Sessions";
import { SpiGraph } from "./pages/SpiGraph";
import { SpiView } from "./pages/SpiView";
import { Alerts } from "./pages/Alerts";
import { Services } from "./pages/Services";
import { Dns } from "./pages/Dns";
import { Stats } from "./pages/Stats";
import { Upload } from "./pages/Upload";
import { History } from "./pages/History";
import { Hunts } from "./pages/Hunts";
import { Periodic } from "./pages/Periodic";
import { Shortcuts } from "./pages/Shortcuts";
import { Settings } from "./pages/Settings";
import { setTimeZone } from "./format";
import { Users } from "./pages/Users";
import { WorldMap } from "./pages/WorldMap";
import { andClause, quoteValue, readSearch, searchParams, type Search } from "./search";
import "./style.css";

const PAGES: { path: string; title: string; view: () => preact.JSX.Element; searches: boolean; admin?: boolean }[] = [
  { path: "/sessions", title: "Sessions", view: Sessions, searches: true },
  { path: "/spiview", title: "SPI View", view: SpiView, searches: true },
  { path: "/spigraph", title: "SPI Graph", view: SpiGraph, searches: true },
  { path: "/connections", title: "Connections", view: Connections, searches: true },
  { path: "/map", title: "Map", view: WorldMap, searches: true },
  { path: "/services", title: "Services", view: Services, searches: true },
  { path: "/dns", title: "DNS", view: Dns, searches: true },
  { path: "/alerts", title: "Alerts", view: Alerts, searches: false },
  { path: "/stats", title: "Stats", view: Stats, searches: false },
  { path: "/upload", title: "Upload", view: Upload, searches: false },
  { path: "/hunts", title: "Hunts", view: Hunts, searches: true },
  { path: "/periodic", title: "Periodic", view: Periodic, searches: true },
  { path: "/shortcuts", title: "Shortcuts", view: Shortcuts, searches: false },
  { path: "/history", title: "History", view: History, searches: false },
  { path: "/users", title: "Users", view: Users, searches: false, admin: true },
  { path: "/settings", title: "Settings", view: Settings, searches: false },
];

function pageFor(path: string) {
  return PAGES.find((p) => p.path === path) ?? PAGES[0];
}

function App() {
  const [user, setUser] = useState<User | null>(null);
  const [fields, setFields] = useState<Field[]>([]);
  const [fatal, setFatal] = useState("");
  const [banner, setBanner] = useState<string>("");
  const [expressionError, setExpressionError] = useState<ApiError | null>(null);
  const [path, setPath] = useState(location.pathname);
  const [search, setSearchState] = useState<Search>(() => readSearch(location.search));

  useEffect(() => {
    Promise.all([
      getJson<{ user: User; csrf: string | null }>("/api/user/current"),
      getJson<Field[]>("/api/fields"),
    ]).then(
      ([me, f]) => {
        setCsrf(me.csrf);
        setTimeZone(me.user.time_zone);
        setUser(me.user);
        setFields(f);
      },
      (e) => setFatal(String(e.message ?? e)),
    );
    const onPop = () => {
      setPath(location.pathname);
      setSearchState(readSearch(location.search));
    };
    addEventListener("popstate", onPop);
    return () => removeEventListener("popstate", onPop);
  }, []);

  const navigate = useCallback((p: string, s: Search) => {
    const url = p + queryString(searchParams(s));
    if (url !== location.pathname + location.search) history.pushState(null, "", url);
    setPath(p);
    setSearchState(s);
  }, []);

  const fieldByName = useMemo(() => new Map(fields.map((f) => [f.name, f])), [fields]);

  const ctx: AppContext | null = useMemo(() => {
    if (!user) return null;
    return {
      user,
      fields,
      fieldByName,
      search,
      expressionError,
      setSearch: (s) => navigate(pageFor(path).path, s),
      addClause: (field, value, op = "==") =>
        navigate(pageFor(path).path, { ...search, expression: andClause(search.expression, `${field} ${op} ${quoteValue(value)}`) }),
      reportError: (e: ApiError | null) => {
        const isExpression = e && e.status === 400 && /^expression/.test(e.message);
        setExpressionError(isExpression ? e : null);
        setBanner(e && !isExpression ? e.message : "");
      },
      go: (p) => navigate(p, search),
      openSearch: (p, s) => navigate(p, s),
    };
  }, [user, fields, fieldByName, search, expressionError, path, navigate]);

  if (fatal) return <div class="fatal">Tyto could not start: {fatal}</div>;
  if (!ctx) return <div class="loading">Loading…</div>;
  const page = pageFor(path);
  const View = page.view;

  return (
    <Ctx.Provider value={ctx}>
      <header class="top">
        <span class="brand">Tyto</span>
        <nav>
          {PAGES.filter((p) => !p.admin || ctx.user.admin).map((p) => (
            <a
              href={p.path + queryString(searchParams(search))}
              class={p === page ? "on" : ""}
              aria-current={p === page ? "page" : undefined}
              onClick={(e) => {
                e.preventDefault();
                ctx.go(p.path);
              }}
            >
              {p.title}
            </a>
          ))}
        </nav>
        <span class="who">
          {ctx.user.name}
          {ctx.user.admin ? " (admin)" : ""}
          <button
            class="link"
            onClick={() => post("/api/logout").finally(() => location.assign("/login"))}
          >
            Log out
          </button>
        </span>
      </header>
      {page.searches && (
        <div class="search-bar">
          <ExpressionBar />
          <TimeRange />
        </div>
      )}
      {banner && (
        <div class="banner" role="alert">
          {banner}
        </div>
      )}
      <main>
        <View key={page.path} />
      </main>
    </Ctx.Provider>
  );
}

render(<App />, document.getElementById("app")!);
