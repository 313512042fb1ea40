import { useEffect, useRef } from "preact/hooks";
import { getJson, isAbort } from "./api";

/** Fetches `path` now and every `everyMs` while the page shows (and `enabled`), giving
 *  each answer to `onData` and each failure's message to `onError`; leaving the page
 *  stops the timer and cancels the request in flight. */
export function usePolling<T>(
  path: string,
  everyMs: number,
  onData: (data: T) => void,
  onError: (message: string) => void,
  enabled = true,
): void {
  // The latest callbacks, so that a render does not restart the timer.
  const handlers = useRef({ onData, onError });
  handlers.current = { onData, onError };
  useEffect(() => {
    if (!enabled) return;
    const abort = new AbortController();
    const load = () =>
      getJson<T>(path, {}, abort.signal).then(
        (data) => handlers.current.onData(data),
        (e) => !isAbort(e) && handlers.current.onError(String(e.message ?? e)),
      );
    load();
    const timer = setInterval(load, everyMs);
    return () => {
      clearInterval(timer);
      abort.abort();
    };
  }, [path, everyMs, enabled]);
}
