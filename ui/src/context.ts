// What every page shares: the user, the field catalogue, the search and how to change it.

import { createContext } from "preact";
import { useContext } from "preact/hooks";
import type { ApiError, Field, User } from "./api";
import type { Search } from "./search";

export interface AppContext {
  user: User;
  fields: Field[];
  fieldByName: Map<string, Field>;
  search: Search;
  /** Runs a new search (and records it in the browser's history). */
  setSearch: (s: Search) => void;
  /** ANDs `field == value` to the expression and runs it. */
  addClause: (field: string, value: unknown, op?: "==" | "!=") => void;
  /** The last search's expression error, shown in the expression bar. */
  expressionError: ApiError | null;
  /** Shows an API error: an expression error in the expression bar, others in a banner. */
  reportError: (e: ApiError | null) => void;
  /** Switches page, keeping the search. */
  go: (page: string) => void;
  /** Switches page with a new search. */
  openSearch: (page: string, s: Search) => void;
}

export const Ctx = createContext<AppContext | null>(null);

export function useApp(): AppContext {
  const c = useContext(Ctx);
  if (!c) throw new Error("useApp outside the application");
  return c;
}
