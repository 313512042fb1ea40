// The sessions table's columns: fields of the catalogue, plus "Info", which shows
// whichever of the application fields a session has (as Arkime's info column).

export interface Column {
  id: string;
  title: string;
  /** Fields the column needs from the API. */
  fields: string[];
  /** The field it sorts by; none for Info. */
  sort?: string;
}

export const INFO_FIELDS = [
  "host.http",
  "http.uri",
  "http.user-agent",
  "host.dns",
  "dns.query.type",
  "host.tls",
  "tls.ja4",
  "host.quic",
  "ssh.ver",
  "rdp.cookie",
  "smb.share",
  "email.src",
  "dhcp.host",
  "socks.user",
  "sip.method",
  "mysql.user",
  "postgresql.user",
];

const BUILT_IN: Column[] = [
  { id: "starttime", title: "Start", fields: ["starttime"], sort: "starttime" },
  { id: "stoptime", title: "Stop", fields: ["stoptime"], sort: "stoptime" },
  { id: "ip.src", title: "Src IP / Country", fields: ["ip.src", "country.src"], sort: "ip.src" },
  { id: "port.src", title: "Src Port", fields: ["port.src"], sort: "port.src" },
  { id: "ip.dst", title: "Dst IP / Country", fields: ["ip.dst", "country.dst"], sort: "ip.dst" },
  { id: "port.dst", title: "Dst Port", fields: ["port.dst"], sort: "port.dst" },
  { id: "packets", title: "Packets", fields: ["packets"], sort: "packets" },
  { id: "bytes", title: "Bytes", fields: ["bytes"], sort: "bytes" },
  { id: "protocols", title: "Protocols", fields: ["protocols"] },
  { id: "info", title: "Info", fields: INFO_FIELDS },
];

export const DEFAULT_COLUMNS = BUILT_IN.map((c) => c.id);

export function column(id: string, multi: (name: string) => boolean | undefined): Column | null {
  const known = BUILT_IN.find((c) => c.id === id);
  if (known) return known;
  const m = multi(id);
  if (m === undefined) return null;
  return { id, title: id, fields: [id], sort: m ? undefined : id };
}

const KEY = "tyto.columns";

export function savedColumns(): string[] {
  try {
    const v = JSON.parse(localStorage.getItem(KEY) ?? "null");
    if (Array.isArray(v) && v.every((x) => typeof x === "string") && v.length) return v;
  } catch {
    // A damaged setting falls back to the defaults.
  }
  return DEFAULT_COLUMNS;
}

export function saveColumns(ids: string[]) {
  localStorage.setItem(KEY, JSON.stringify(ids));
}
