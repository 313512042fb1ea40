// Calls to Tyto's API. Every call carries `X-Tyto-UI` (so a lapsed login answers 401
// without the browser's password dialog) and, on changes, the session's CSRF token.

export interface User {
  name: string;
  admin: boolean;
  export_pcap: boolean;
  see_packets: boolean;
  upload: boolean;
  remove_tags: boolean;
  expression: string | null;
  time_limit_hours: number | null;
  /** The IANA zone the user types and sees times in ("UTC" by default). */
  time_zone: string;
}

export interface Field {
  name: string;
  type: string;
  multi?: boolean;
  group?: string;
  description: string;
  aliases?: string[];
  members?: string[];
}

/** An error from the API: its message and, for an expression, the column (1-based). */
/** `/api/spiview`: the top values of each field asked for, with session counts. */
export interface SpiReply {
  recordsFiltered: number;
  spi: Record<string, { value: unknown; count: number }[]>;
  /** Fields whose counts were estimated from a sample: the percent of sessions read. */
  samplePercent?: Record<string, number>;
}

export class ApiError extends Error {
  constructor(
    message: string,
    public status: number,
    public column?: number,
  ) {
    super(message);
  }
}

let csrf: string | null = null;

export function setCsrf(token: string | null) {
  csrf = token;
}

export type Params = Record<string, string | number | undefined | null>;

export function queryString(params: Params): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : "";
}

function toLogin() {
  const next = location.pathname + location.search;
  location.assign(`/login?next=${encodeURIComponent(next)}`);
}

async function call(
  method: string,
  path: string,
  params: Params = {},
  signal?: AbortSignal,
  form?: Params,
): Promise<Response> {
  const headers: Record<string, string> = { "X-Tyto-UI": "1", Accept: "application/json" };
  if (method !== "GET" && csrf) headers["X-Tyto-CSRF"] = csrf;
  let body: string | undefined;
  if (form) {
    headers["Content-Type"] = "application/x-www-form-urlencoded";
    body = queryString(form).slice(1);
  }
  const resp = await fetch(path + queryString(params), { method, headers, signal, body, credentials: "same-origin" });
  if (resp.status === 401) {
    toLogin();
    throw new ApiError("not logged in", 401);
  }
  if (!resp.ok) {
    let message = `${resp.status} ${resp.statusText}`;
    let column: number | undefined;
    try {
      const body = await resp.json();
      if (body && typeof body.error === "string") message = body.error;
      if (body && typeof body.column === "number") column = body.column;
    } catch {
      // Not JSON: the status line says enough.
    }
    throw new ApiError(message, resp.status, column);
  }
  return resp;
}

export async function getJson<T>(path: string, params: Params = {}, signal?: AbortSignal): Promise<T> {
  return (await call("GET", path, params, signal)).json() as Promise<T>;
}

export async function getText(path: string, params: Params = {}, signal?: AbortSignal): Promise<string> {
  return (await call("GET", path, params, signal)).text();
}

export async function post(path: string): Promise<void> {
  await call("POST", path);
}

/** A DELETE; the answer's JSON. */
export async function del<T>(path: string): Promise<T> {
  return (await call("DELETE", path)).json() as Promise<T>;
}

/** A POST with its parameters as a form body (lists of ids are long for a URL). */
export async function postForm<T>(path: string, form: Params): Promise<T> {
  return (await call("POST", path, {}, undefined, form)).json() as Promise<T>;
}

/** Whether an error is only a fetch cancelled because a newer one replaced it. */
export function isAbort(e: unknown): boolean {
  return e instanceof DOMException && e.name === "AbortError";
}

/** An upload as `/api/uploads` lists it. */
export interface UploadJob {
  id: number;
  name: string;
  user: string;
  tags: string[];
  state: "receiving" | "waiting" | "ingesting" | "done" | "failed";
  created: string;
  finished: string | null;
  bytes: number;
  read_bytes: number;
  packets: number;
  sessions: number;
  error: string | null;
}

/**
 * Sends a capture file to `/api/upload`. XMLHttpRequest rather than fetch: only it
 * reports how much of the body has gone, which a large capture needs.
 */
export function uploadFile(file: File, tags: string, onSent: (sent: number) => void): Promise<UploadJob> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/upload" + queryString({ name: file.name, tags }));
    xhr.setRequestHeader("X-Tyto-UI", "1");
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    if (csrf) xhr.setRequestHeader("X-Tyto-CSRF", csrf);
    xhr.upload.onprogress = (e) => onSent(e.loaded);
    xhr.onload = () => {
      let body: { error?: string } & Partial<UploadJob> = {};
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        // Not JSON: the status says enough.
      }
      if (xhr.status === 401) toLogin();
      if (xhr.status === 202) resolve(body as UploadJob);
      else reject(new ApiError(body.error ?? `${xhr.status} ${xhr.statusText}`, xhr.status));
    };
    xhr.onerror = () => reject(new ApiError("the upload did not reach the server", 0));
    xhr.send(file);
  });
}
