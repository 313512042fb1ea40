//! Packets out: one session's PCAP, every matching session's packets as one PCAP
//! (streamed, in time order), and a session's detail with its packets decoded.

use std::io::Write;

use axum::body::Body;
use axum::extract::{Path as UrlPath, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use bytes::Bytes;
use serde_json::{json, Map, Value};
use tokio::sync::mpsc::Sender;
use tyto_packet::{decode, Ip, LinkType, Transport};
use tyto_pcapstore::{decode_positions, ExportWriter, PacketPos, PacketReader, StoredPacket};
use tyto_store::{ListQuery, SessionPositions, SessionReader};

use crate::auth::Authed;
use crate::body::stream_body;
use crate::nodes::Nodes;
use crate::params::{check_id, Params};
use crate::users::hex;
use crate::{ApiError, AppState};

/// Bytes of packets held to put them in time order before they are sent; past it,
/// the oldest go out first even if a later session might hold an older packet.
const ORDER_BUFFER: usize = 64 << 20;
/// Sessions fetched per step of a query-wide export.
const SESSIONS_PER_STEP: usize = 10_000;
/// Bytes gathered before a chunk goes to the client.
const CHUNK: usize = 256 << 10;
/// A session's detail: packets listed, bytes shown per packet, packet bytes read,
/// and reassembled bytes kept per direction.
const DETAIL_PACKETS: usize = 500;
const DETAIL_PACKET_BYTES: usize = 4096;
const DETAIL_READ_BYTES: usize = 64 << 20;
const DETAIL_PAYLOAD_BYTES: usize = 256 << 10;

fn may_export(authed: &Authed) -> Result<(), ApiError> {
    if authed.user.export_pcap {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!("user {} may not download PCAP", authed.user.name)))
    }
}

/// A `Write` that sends what it is given to the response in chunks.
struct ChunkSender<'a> {
    tx: &'a Sender<Result<Bytes, std::io::Error>>,
    buf: Vec<u8>,
}

impl Write for ChunkSender<'_> {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(b);
        if self.buf.len() >= CHUNK {
            self.flush()?;
        }
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::take(&mut self.buf));
        self.tx.blocking_send(Ok(chunk)).map_err(|_| std::io::Error::other("the client went away"))
    }
}

fn attachment(name: &str, pcapng: bool, body: Body) -> Response {
    let ext = if pcapng { "pcapng" } else { "pcap" };
    (
        [
            (header::CONTENT_TYPE, "application/vnd.tcpdump.pcap".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}.{ext}\"")),
        ],
        body,
    )
        .into_response()
}

/// `GET /api/session/ID.pcap`: the packets of one session (if the user may see it),
/// streamed; when retention deleted every one of them, says so (410 Gone).
pub async fn session_pcap(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    UrlPath(file): UrlPath<String>,
    params: Params,
) -> Result<Response, ApiError> {
    let id = file
        .strip_suffix(".pcap")
        .ok_or_else(|| ApiError::not_found(format!("/api/session/{file}: ask for ID.pcap or ID/detail")))?
        .to_string();
    let q = params.one_session(&authed.user, &id)?;
    may_export(&authed)?;
    let st = state.clone();
    let found = q.clone();
    state
        .stores
        .run(move |store| {
            let Some(s) = store.positions_in_order(&found, None, 1)?.pop() else {
                return Err(ApiError::not_found(format!("no session with id {id}")));
            };
            // One packet read first says whether any is left and whether the node that
            // holds them answers; the stream cannot change its status once it started.
            let first = st.nodes.read(&st.data_dir, &s.node, &s.positions, 1)?;
            if first.packets.is_empty() && first.gone > 0 {
                let all = decode_positions(&s.positions).len() as u64;
                let gone = tyto_pcapstore::KeptPackets { gone: all, ..first };
                return Err(ApiError { status: StatusCode::GONE, message: gone.gone_message(), column: None });
            }
            Ok(())
        })
        .await?;
    stream_pcap(&state, q, "session").await
}

/// A packet waiting to go out in time order: where it lies in this node's files (its
/// bytes are read when it goes out), or, sent by another node, its bytes.
struct Waiting {
    ts_ns: i64,
    pos: PacketPos,
    held: Held,
}

enum Held {
    /// Bytes of the whole record in its file (header included).
    Local {
        record_len: u64,
    },
    Remote(Box<StoredPacket>),
}

/// Memory a waiting local packet takes.
const LOCAL_WAITING_BYTES: usize = std::mem::size_of::<Waiting>();

/// Packets waiting to go out in time order (ties by place, as they were captured).
struct OrderedPackets {
    waiting: Vec<Waiting>,
    /// Memory the waiting packets take.
    bytes: usize,
    /// Packets sent after a newer one (when the buffer overflowed).
    pub out_of_order: u64,
    last_sent: i64,
}

impl OrderedPackets {
    fn new() -> OrderedPackets {
        OrderedPackets { waiting: Vec::new(), bytes: 0, out_of_order: 0, last_sent: i64::MIN }
    }

    fn push(&mut self, p: Waiting) {
        self.bytes += p.bytes();
        self.waiting.push(p);
    }

    fn push_local(&mut self, ts_ns: i64, pos: PacketPos, record_len: u64) {
        self.push(Waiting { ts_ns, pos, held: Held::Local { record_len } });
    }

    fn push_remote(&mut self, p: StoredPacket) {
        self.push(Waiting { ts_ns: p.ts_ns, pos: p.pos, held: Held::Remote(Box::new(p)) });
    }

    fn full(&self) -> bool {
        self.bytes > ORDER_BUFFER
    }

    /// The waiting packets older than `before`, oldest first, into `going` (emptied
    /// first); when the buffer is full, also the oldest of the rest until it is half
    /// empty, whatever their time.
    fn take_before(&mut self, before: i64, going: &mut Vec<Waiting>) {
        // What was left waiting is sorted already, and the packets added since are
        // mostly in order: the (stable) sort finds and merges those runs.
        self.waiting.sort_by_key(|p| (p.ts_ns, p.pos));
        let mut n = self.waiting.partition_point(|p| p.ts_ns < before);
        let mut left: usize = self.waiting[n..].iter().map(Waiting::bytes).sum();
        while left > ORDER_BUFFER / 2 && n < self.waiting.len() {
            left -= self.waiting[n].bytes();
            n += 1;
        }
        self.bytes = left;
        going.clear();
        going.extend(self.waiting.drain(..n));
        for p in going.iter() {
            if p.ts_ns < self.last_sent {
                self.out_of_order += 1;
            }
            self.last_sent = self.last_sent.max(p.ts_ns);
        }
    }
}

impl Waiting {
    fn bytes(&self) -> usize {
        match &self.held {
            Held::Local { .. } => LOCAL_WAITING_BYTES,
            Held::Remote(p) => LOCAL_WAITING_BYTES + p.data.len() + 64,
        }
    }
}

/// Bytes of back-to-back records copied at once (at most a quarter of what the packet
/// reader keeps, see [`PacketReader::copy_records`]).
const RUN_BYTES: u64 = 4 << 20;

/// Writes packets taken from the order buffer: runs of local records that lie back
/// to back in one file are copied whole where the file allows it; the rest are read
/// one by one. A packet that cannot be read is skipped and said in the log.
fn send<W: Write>(going: &[Waiting], reader: &mut PacketReader, w: &mut ExportWriter<W>) -> Result<(), String> {
    let mut i = 0;
    while i < going.len() {
        let first = &going[i];
        let Held::Local { record_len } = first.held else {
            if let Held::Remote(p) = &first.held {
                w.write(p).map_err(|e| e.to_string())?;
            }
            i += 1;
            continue;
        };
        // The run: the next packets that follow this one in its file.
        let (mut end, mut j) = (first.pos.offset + record_len, i + 1);
        while let Some(Waiting { pos, held: Held::Local { record_len }, .. }) = going.get(j) {
            if pos.file != first.pos.file || pos.offset != end || end - first.pos.offset + record_len > RUN_BYTES {
                break;
            }
            end += record_len;
            j += 1;
        }
        let copied =
            reader.copy_records(first.pos, end - first.pos.offset, (j - i) as u64, w).map_err(|e| e.to_string())?;
        if !copied {
            for p in &going[i..j] {
                match reader.read(p.pos) {
                    Ok(p) => w.write(&p).map_err(|e| e.to_string())?,
                    Err(e) => tracing::warn!("export: {e}"),
                }
            }
        }
        i = j;
    }
    Ok(())
}

/// Walks matching sessions in start order and writes their packets in time order.
/// The store is walked on this thread while the packets of the pages already found
/// are read and written on another: on two cores the walk then costs no time.
fn export_matching<W: Write + Send>(
    store: &dyn SessionReader,
    q: &tyto_store::ListQuery,
    nodes: &Nodes,
    reader: &mut PacketReader,
    w: &mut ExportWriter<W>,
) -> Result<OrderedPackets, String> {
    let (pages, found) = std::sync::mpsc::sync_channel::<Vec<SessionPositions>>(1);
    // Pages written come back to be freed here, where they were made: freed on the
    // writer's thread, their memory could not serve the next page, and each page
    // cost fresh pages of memory from the system (a fifth of the walk's time).
    let (spent, done) = std::sync::mpsc::sync_channel::<Vec<SessionPositions>>(2);
    std::thread::scope(|scope| {
        let writer = std::thread::Builder::new()
            .name("export".into())
            .spawn_scoped(scope, move || write_pages(found, spent, nodes, reader, w))
            .map_err(|e| format!("starting the export: {e}"))?;
        let mut after: Option<SessionPositions> = None;
        let walked = loop {
            done.try_iter().for_each(drop);
            let page = match store.positions_in_order(q, after.as_ref(), SESSIONS_PER_STEP) {
                Ok(page) => page,
                Err(e) => break Err(e.to_string()),
            };
            let Some(last) = page.last().cloned() else { break Ok(()) };
            // The writer stopped (its answer says why).
            if pages.send(page).is_err() {
                break Ok(());
            }
            after = Some(last);
        };
        drop(pages);
        let written = writer.join().map_err(|_| "the export's writer failed".to_string())?;
        walked.and(written)
    })
}

/// Packet places whose headers are read before the packets older than the next
/// session's start go out: few enough that the blocks read for the headers are still
/// in the reader's cache when the packets are copied.
const PLACES_PER_STEP: usize = 16_384;

/// A packet's place as one number, file then offset, which sorts faster.
fn place_key(pos: PacketPos) -> u128 {
    (pos.file as u128) << 64 | pos.offset as u128
}

/// Writes the packets of the pages of sessions `found` sends, in time order. Every
/// later session starts at or after the current one, so every waiting packet older
/// than its start can go once the packets of the sessions before it wait too.
fn write_pages<W: Write>(
    found: std::sync::mpsc::Receiver<Vec<SessionPositions>>,
    spent: std::sync::mpsc::SyncSender<Vec<SessionPositions>>,
    nodes: &Nodes,
    reader: &mut PacketReader,
    w: &mut ExportWriter<W>,
) -> Result<OrderedPackets, String> {
    let mut waiting = OrderedPackets::new();
    let (mut going, mut places) = (Vec::new(), Vec::new());
    for page in found {
        let Some(last) = page.last() else { continue };
        // Other sensors' packets of the page, asked of each node at once; they wait
        // with the rest (none is older than its session's start).
        fetch_remote(&page, nodes, &mut waiting, reader, w)?;
        let mut sessions = page.iter().enumerate().filter(|(_, s)| !nodes.is_remote(&s.node)).peekable();
        // The first session of the step (whose packets are being read).
        let mut from = 0;
        while let Some((i, s)) = sessions.next() {
            places.extend(decode_positions(&s.positions).into_iter().map(place_key));
            // Enough gathered (more when many wait, so that sorting what waits costs
            // about as much as what is added), or the page's end.
            let next_start = match sessions.peek() {
                Some(_) if places.len() < PLACES_PER_STEP.max(waiting.waiting.len() / 2) => continue,
                Some((_, next)) => next.start_ns,
                None => last.start_ns,
            };
            // Headers read in file order, then the packets go out in time order.
            places.sort_unstable();
            for &key in &places {
                let pos = PacketPos { file: (key >> 64) as u32, offset: key as u64 };
                match reader.head(pos) {
                    Ok(h) => waiting.push_local(h.ts_ns, pos, h.record_len()),
                    Err(e) => {
                        let session = page[from..=i].iter().find(|s| decode_positions(&s.positions).contains(&pos));
                        tracing::warn!("export: session {}: {e}", session.map_or("?", |s| s.id.as_str()));
                    }
                }
            }
            places.clear();
            from = i + 1;
            waiting.take_before(next_start, &mut going);
            send(&going, reader, w)?;
        }
        let _ = spent.try_send(page);
    }
    waiting.take_before(i64::MAX, &mut going);
    send(&going, reader, w)?;
    Ok(waiting)
}

/// Positions asked of a node per request.
const REMOTE_POSITIONS_PER_REQUEST: usize = 50_000;

fn fetch_remote<W: Write>(
    page: &[SessionPositions],
    nodes: &Nodes,
    waiting: &mut OrderedPackets,
    reader: &mut PacketReader,
    w: &mut ExportWriter<W>,
) -> Result<(), String> {
    let mut by_node: std::collections::BTreeMap<&str, Vec<i64>> = std::collections::BTreeMap::new();
    for s in page.iter().filter(|s| nodes.is_remote(&s.node)) {
        by_node.entry(&s.node).or_default().extend_from_slice(&s.positions);
    }
    let mut failed: Option<String> = None;
    for (node, positions) in by_node {
        // Cut only at a file marker, so each request's positions decode alone.
        let mut start = 0;
        while start < positions.len() {
            let mut end = (start + REMOTE_POSITIONS_PER_REQUEST).min(positions.len());
            while end < positions.len() && positions[end] >= 0 {
                end += 1;
            }
            // Packets arrive one at a time; past the order buffer's bound the oldest go out.
            let mut each = |p: StoredPacket| {
                waiting.push_remote(p);
                if failed.is_none() && waiting.full() {
                    let mut going = Vec::new();
                    waiting.take_before(i64::MIN, &mut going);
                    if let Err(e) = send(&going, reader, w) {
                        failed = Some(e);
                    }
                }
            };
            if let Err(e) = nodes.read_remote(node, &positions[start..end], usize::MAX, &mut each) {
                tracing::warn!("export: {}", e.message);
            }
            if let Some(e) = failed.take() {
                return Err(e);
            }
            start = end;
        }
    }
    Ok(())
}

/// `GET /api/sessions.pcap`: every packet of every matching session (or of the
/// sessions listed in `ids`), in time order, streamed.
pub async fn sessions_pcap(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    params: Params,
) -> Result<Response, ApiError> {
    may_export(&authed)?;
    let q = match params.get("ids") {
        None => params.search(&authed.user)?,
        Some(ids) => {
            let ids: Vec<&str> = ids.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
            if ids.len() > tyto_query::MAX_LIST_ITEMS {
                return Err(ApiError::bad_request(format!("ids: at most {} sessions", tyto_query::MAX_LIST_ITEMS)));
            }
            for id in &ids {
                check_id(id)?;
            }
            let list = ids.iter().map(|i| format!("\"{i}\"")).collect::<Vec<_>>().join(",");
            let text = match params.get("expression") {
                Some(e) => format!("id == [{list}] && ({e})"),
                None => format!("id == [{list}]"),
            };
            params.with("expression", text).search(&authed.user)?
        }
    };
    stream_pcap(&state, q, "sessions").await
}

/// A query-wide export is pcapng when the store holds more than one link type
/// (classic pcap names one per file).
fn needs_pcapng(store: &dyn SessionReader) -> Result<bool, tyto_store::StoreError> {
    Ok(store.stats()?.link_types.len() > 1)
}

/// Every packet of the sessions `q` selects, in time order, written to `out` (what
/// `tyto export --expr` does), as `/api/sessions.pcap` writes it. Returns the packets
/// written.
pub fn write_pcap<W: Write + Send>(
    store: &dyn SessionReader,
    q: &tyto_store::ListQuery,
    nodes: &Nodes,
    data_dir: &std::path::Path,
    out: W,
) -> Result<u64, String> {
    let pcapng = needs_pcapng(store).map_err(|e| e.to_string())?;
    let mut reader = crate::nodes::local_reader(data_dir).map_err(|e| e.message)?;
    let mut w = ExportWriter::for_link_types(out, pcapng).map_err(|e| e.to_string())?;
    let done = export_matching(store, q, nodes, &mut reader, &mut w)?;
    if done.out_of_order > 0 {
        tracing::warn!("export: {} packets left the order buffer early", done.out_of_order);
    }
    let packets = w.packets;
    w.finish().map_err(|e| e.to_string())?;
    Ok(packets)
}

/// Every packet of the sessions `q` selects, in time order, streamed as `NAME.pcap`
/// (pcapng when the store holds more than one link type).
async fn stream_pcap(state: &AppState, q: tyto_store::ListQuery, name: &str) -> Result<Response, ApiError> {
    let pcapng = state.stores.run(|store| Ok(needs_pcapng(store)?)).await?;
    let handle = state.stores.for_export()?;
    let data_dir = state.data_dir.clone();
    let nodes = state.nodes.clone();
    let body = stream_body(move |tx| {
        let mut reader = match crate::nodes::local_reader(&data_dir) {
            Ok(r) => r,
            Err(e) => {
                let _ = tx.blocking_send(Err(std::io::Error::other(e.message)));
                return;
            }
        };
        let out = ChunkSender { tx, buf: Vec::with_capacity(CHUNK) };
        let Ok(mut w) = ExportWriter::for_link_types(out, pcapng) else {
            return;
        };
        match export_matching(handle.store.as_ref(), &q, &nodes, &mut reader, &mut w) {
            Ok(b) if b.out_of_order > 0 => {
                tracing::warn!("export: {} packets left the order buffer early", b.out_of_order);
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!("export stopped: {e}");
                let _ = tx.blocking_send(Err(std::io::Error::other(e)));
                return;
            }
        }
        // Sends the last chunk (and a header, when no packet matched).
        let _ = w.finish();
    });
    Ok(attachment(name, pcapng, body))
}

/// Bytes as text a person can read: printable ASCII and line breaks kept, the rest dots.
fn printable(b: &[u8]) -> String {
    b.iter()
        .filter(|&&c| c != b'\r')
        .map(|&c| if c == b'\n' || c == b'\t' || (0x20..0x7f).contains(&c) { c as char } else { '.' })
        .collect()
}

/// One direction's payload put back in order: TCP by sequence number (retransmitted
/// bytes once, holes counted), other transports datagram after datagram.
#[derive(Default)]
struct Stream {
    base: Option<u32>,
    segments: Vec<(i64, Vec<u8>)>,
    kept: usize,
}

impl Stream {
    fn add(&mut self, seq: Option<u32>, payload: &[u8]) {
        if payload.is_empty() || self.kept >= DETAIL_PAYLOAD_BYTES * 2 {
            return;
        }
        let rel = match seq {
            Some(s) => {
                let base = *self.base.get_or_insert(s);
                i64::from(s.wrapping_sub(base) as i32)
            }
            None => self.segments.last().map_or(0, |(o, d)| o + d.len() as i64),
        };
        self.kept += payload.len();
        self.segments.push((rel, payload.to_vec()));
    }

    fn assemble(mut self) -> Value {
        self.segments.sort_by_key(|(o, _)| *o);
        let mut out: Vec<u8> = Vec::new();
        let mut next: Option<i64> = None;
        let (mut gaps, mut gap_bytes) = (0u64, 0i64);
        for (off, data) in &self.segments {
            let end = off + data.len() as i64;
            let from = match next {
                None => *off,
                Some(n) if end <= n => continue,
                Some(n) if *off > n => {
                    gaps += 1;
                    gap_bytes += off - n;
                    *off
                }
                Some(n) => n,
            };
            out.extend_from_slice(&data[(from - off) as usize..]);
            next = Some(end);
            if out.len() >= DETAIL_PAYLOAD_BYTES {
                break;
            }
        }
        let total = out.len();
        out.truncate(DETAIL_PAYLOAD_BYTES);
        json!({
            "bytes": total,
            "shown": out.len(),
            "gaps": gaps,
            "gap_bytes": gap_bytes,
            "text": printable(&out),
            "hex": hex(&out),
        })
    }
}

/// Whether a packet was sent by the session's client (`ip.src`, `port.src`); a port
/// of 0 (a session without ports) leaves the address alone to decide.
pub(crate) fn sent_by(ip: &Ip, client_ip: &str, client_port: u16) -> bool {
    ip.src.to_string() == client_ip && (client_port == 0 || ip.transport.ports().0 == client_port)
}

/// Packets of a session decoded for its detail view, and each direction's payload.
fn decode_packets(session: &Map<String, Value>, packets: &[StoredPacket]) -> (Vec<Value>, Value) {
    let src_ip = session.get("ip.src").and_then(Value::as_str).unwrap_or("");
    let src_port = session.get("port.src").and_then(Value::as_u64).and_then(|p| u16::try_from(p).ok()).unwrap_or(0);
    let mut shown = Vec::new();
    let (mut up, mut down) = (Stream::default(), Stream::default());
    let first_ts = packets.first().map_or(0, |p| p.ts_ns);
    for p in packets {
        let decoded = decode(LinkType(p.link_type), &p.data).ok();
        let ip = decoded.as_ref().and_then(|d| d.ip.as_ref());
        let (mut from_src, mut seq, mut payload): (bool, Option<u32>, &[u8]) = (true, None, &[]);
        if let Some(ip) = ip {
            from_src = sent_by(ip, src_ip, src_port);
            if let Transport::Tcp { seq: s, .. } = ip.transport {
                seq = Some(s);
            }
            payload = ip.payload(&p.data);
        }
        if from_src { &mut up } else { &mut down }.add(seq, payload);
        if shown.len() < DETAIL_PACKETS {
            let bytes = &p.data[..p.data.len().min(DETAIL_PACKET_BYTES)];
            shown.push(json!({
                "ts": tyto_schema::time::format_rfc3339(p.ts_ns),
                "relative_us": (p.ts_ns - first_ts) / 1000,
                "direction": if from_src { "src" } else { "dst" },
                "len": p.wire_len,
                "caplen": p.data.len(),
                "payload_len": payload.len(),
                "hex": hex(bytes),
                "text": printable(bytes),
                "truncated": bytes.len() < p.data.len(),
            }));
        }
    }
    (shown, json!({ "src": up.assemble(), "dst": down.assemble() }))
}

/// `GET /api/session/ID/detail`: every field, and (if the user may see packets)
/// the packets decoded and the payload of each direction reassembled. Only a session
/// the user may see (forced expression, time limit) is found.
pub async fn detail(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    UrlPath(id): UrlPath<String>,
    params: Params,
) -> Result<Json<Value>, ApiError> {
    let q = params.one_session(&authed.user, &id)?;
    let see_packets = authed.user.see_packets;
    let st = state.clone();
    let out = state
        .stores
        .run(move |store| {
            let not_found = || ApiError::not_found(format!("no session with id {id}"));
            let session = store.list(&ListQuery { limit: 1, ..q.clone() })?.pop().ok_or_else(not_found)?;
            if !see_packets {
                return Ok(json!({ "session": session, "packets": Value::Null, "payload": Value::Null }));
            }
            let at = store.positions_in_order(&q, None, 1)?.pop().ok_or_else(not_found)?;
            let all = decode_positions(&at.positions);
            let kept = st.nodes.read(&st.data_dir, &at.node, &at.positions, DETAIL_READ_BYTES)?;
            let (shown, payload) = decode_packets(&session, &kept.packets);
            Ok(json!({
                "session": session,
                "packets": shown,
                "packets_total": all.len(),
                "packets_read": kept.packets.len(),
                "packets_gone": kept.gone,
                "packets_gone_message": (kept.gone > 0).then(|| kept.gone_message()),
                "payload": payload,
            }))
        })
        .await?;
    Ok(Json(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcp_payload_is_reassembled_by_sequence() {
        let mut s = Stream::default();
        s.add(Some(u32::MAX - 1), b"GE");
        s.add(Some(5), b"ST"); // beyond a one-byte hole
        s.add(Some(u32::MAX - 1), b"GE"); // retransmitted
        s.add(Some(0), b"T /");
        s.add(Some(1), b" /x"); // overlaps what was seen
        let v = s.assemble();
        assert_eq!(v["text"], "GET /xST");
        assert_eq!(v["gaps"], 1);
        assert_eq!(v["gap_bytes"], 1);
        assert_eq!(printable(b"a\r\nb\x00"), "a\nb.");
    }

    #[test]
    fn ordered_packets_come_out_oldest_first() {
        let mut o = OrderedPackets::new();
        let pos = |offset| PacketPos { file: 1, offset };
        let mut going = Vec::new();
        let mut take = |o: &mut OrderedPackets, before| {
            o.take_before(before, &mut going);
            going.iter().map(|p| (p.ts_ns, p.pos.offset)).collect::<Vec<_>>()
        };
        o.push_local(30, pos(100), 20);
        o.push_local(10, pos(200), 20);
        o.push_remote(StoredPacket { pos: pos(50), link_type: 1, ts_ns: 20, wire_len: 1, data: vec![0] });
        o.push_local(20, pos(40), 20);
        assert_eq!(take(&mut o, 15), [(10, 200)]);
        assert!(take(&mut o, 15).is_empty());
        assert_eq!(take(&mut o, i64::MAX), [(20, 40), (20, 50), (30, 100)]);
        assert_eq!(o.bytes, 0);
        o.push_local(5, pos(300), 20);
        assert_eq!(take(&mut o, i64::MAX), [(5, 300)]);
        assert_eq!(o.out_of_order, 1);
    }
}
