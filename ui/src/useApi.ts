import { useEffect, useState } from "preact/hooks";
import { ApiError, getJson, getText, isAbort, type Params } from "./api";
import { useApp } from "./context";

export interface Loaded<T> {
  data: T | null;
  loading: boolean;
  error: ApiError | null;
}

/** Fetches `path` with `params` whenever they change (or `version` does: a change
 *  made elsewhere); a newer call cancels an older one. Errors go to the application's
 *  error display as well as to the caller. */
export function useApi<T>(path: string | null, params: Params, version = 0): Loaded<T> {
  return useFetched<T>(path, params, getJson, version);
}

/** The same for an answer in plain text (`/api/unique`). */
export function useApiText(path: string | null, params: Params): Loaded<string> {
  return useFetched(path, params, getText, 0);
}

function useFetched<T>(
  path: string | null,
  params: Params,
  fetcher: (path: string, params: Params, signal: AbortSignal) => Promise<T>,
  version: number,
): Loaded<T> {
  const { reportError } = useApp();
  const [state, setState] = useState<Loaded<T>>({ data: null, loading: path !== null, error: null });
  const key = path === null ? "" : `${version} ${path}${JSON.stringify(params)}`;
  useEffect(() => {
    if (path === null) return;
    const abort = new AbortController();
    setState((s) => ({ ...s, loading: true }));
    fetcher(path, params, abort.signal).then(
      (data) => {
        // An answer to a request already replaced must not overwrite the newer one.
        if (abort.signal.aborted) return;
        reportError(null);
        setState({ data, loading: false, error: null });
      },
      (e) => {
        if (isAbort(e)) return;
        const err = e instanceof ApiError ? e : new ApiError(String(e), 0);
        reportError(err);
        setState({ data: null, loading: false, error: err });
      },
    );
    return () => abort.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key]);
  return state;
}
