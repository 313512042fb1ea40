//! The run of a list of capture files through decode, defrag, workers and out.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::Duration;

use crossbeam_channel::{bounded, Receiver, Sender};
use tyto_capture::{FileReader, Packet, ReadError};
use tyto_packet::{decode, DecodeError, Decoded, LinkType};
use tyto_pcapstore::{PcapDir, RotationPolicy, WrittenFile};
use tyto_schema::SessionRecord;

use crate::analyzer::AnalyzerFactory;
use crate::config::FlowConfig;
use crate::defrag::{Defragmenter, Piece};
use crate::key::{FlowKey, KeyedPacket};
use crate::worker::{PacketIn, PieceIn, RecordSink, Worker, WorkerStats};

/// Packets per batch handed to a worker thread.
const BATCH_PACKETS: usize = 512;
/// Batches queued per worker before the reader waits (bounds memory: ~64 × 512 packets).
const QUEUE_BATCHES: usize = 64;
/// Idle sessions and stale fragments are looked for once a second of packet time.
const SWEEP_EVERY_NS: i64 = 1_000_000_000;
/// Packets between updates of the shared progress counters.
const PROGRESS_EVERY: u64 = 4096;
/// Rows per message to the record consumer.
const RECORD_BATCH: usize = 256;

/// Everything a run needs besides its inputs.
#[derive(Clone)]
pub struct PipelineConfig {
    pub flow: FlowConfig,
    /// Worker threads; 1 runs the worker on the reading thread.
    pub workers: usize,
    pub node: String,
    /// Where packets are stored, if anywhere.
    pub pcap: Option<(PcapDir, RotationPolicy)>,
    pub analyzers: Arc<dyn AnalyzerFactory>,
    /// Adds what is known about a session's addresses (GeoIP, ASN) as it is written.
    pub enrich: Option<Arc<dyn Enrich>>,
}

/// Fills fields from outside knowledge (country, AS) into a finished session, on the
/// worker's thread, before it is batched for the store.
pub trait Enrich: Send + Sync {
    fn enrich(&self, rec: &mut SessionRecord);
}

/// Live counters for a progress display, updated as the run goes.
#[derive(Default, Debug)]
pub struct Progress {
    pub packets: AtomicU64,
    /// Capture bytes read (record headers and data).
    pub bytes: AtomicU64,
    pub sessions: AtomicU64,
    pub files_done: AtomicU64,
}

/// How one input file went.
#[derive(Debug)]
pub struct FileOutcome {
    pub path: PathBuf,
    pub packets: u64,
    pub error: Option<ReadError>,
}

/// What a run did.
#[derive(Debug, Default)]
pub struct RunReport {
    pub files: Vec<FileOutcome>,
    pub packets: u64,
    pub bytes: u64,
    /// Frames that could not be decoded, by reason (first few reasons kept).
    pub decode_errors: u64,
    pub decode_error_examples: Vec<String>,
    pub unsupported_link_types: u64,
    pub fragments: u64,
    pub datagrams_reassembled: u64,
    pub fragments_abandoned: u64,
    pub workers: Vec<WorkerStats>,
    pub pcap_files: Vec<WrittenFile>,
}

impl RunReport {
    pub fn sessions(&self) -> u64 {
        self.workers.iter().map(|w| w.sessions_written).sum()
    }
}

/// Runs `inputs` through the pipeline. Rows go to `records` in batches as sessions are
/// written; the caller consumes them on another thread. Bad files are reported in
/// the result and skipped; the run goes on.
pub fn run(
    inputs: &[PathBuf],
    cfg: &PipelineConfig,
    records: Sender<Vec<SessionRecord>>,
    progress: &Progress,
) -> RunReport {
    let workers = cfg.workers.max(1);
    let per_worker = (cfg.flow.max_sessions / workers).max(1);
    // `file` names each input by its absolute path, links and `..` resolved.
    let names: std::sync::Arc<[String]> = inputs
        .iter()
        .map(|p| {
            let path = std::fs::canonicalize(p).or_else(|_| std::path::absolute(p)).unwrap_or_else(|_| p.clone());
            path.to_string_lossy().into_owned()
        })
        .collect();
    let make_worker = |records: Sender<Vec<SessionRecord>>| {
        let mut w = make_worker(cfg, per_worker, records);
        w.set_input_names(names.clone());
        w
    };
    let mut reader = Reader::new(&cfg.flow);
    let mut report = RunReport::default();
    if workers == 1 {
        let mut worker = make_worker(records.clone());
        let mut deliver = |event: Event<'_>| match event {
            Event::Packet(packet) => worker.packet(&packet),
            Event::Sweep(now) => worker.sweep(now),
        };
        for (i, path) in inputs.iter().enumerate() {
            reader.input = i as u32;
            report.files.push(reader.read_file(path, progress, &mut deliver));
            progress.files_done.fetch_add(1, Ordering::Relaxed);
        }
        reader.finish(&mut deliver);
        let (stats, pcap) = worker.finish();
        progress.sessions.fetch_add(stats.sessions_written, Ordering::Relaxed);
        report.workers.push(stats);
        collect_files(&mut report, pcap);
    } else {
        let pool = WorkerPool::start(workers, |_| (make_worker(records.clone()), None));
        let mut dispatcher = pool.dispatcher(false);
        {
            let mut dispatch = |event: Event<'_>| dispatcher.event(event);
            for (i, path) in inputs.iter().enumerate() {
                reader.input = i as u32;
                report.files.push(reader.read_file(path, progress, &mut dispatch));
                progress.files_done.fetch_add(1, Ordering::Relaxed);
            }
            reader.finish(&mut dispatch);
        }
        dispatcher.flush();
        drop(dispatcher);
        pool.join(&mut report, progress);
    }
    report.packets = reader.packets;
    report.bytes = reader.bytes;
    report.decode_errors = reader.decode_errors;
    report.decode_error_examples = reader.error_examples;
    report.unsupported_link_types = reader.unsupported_link;
    report.fragments = reader.defrag.stats.fragments;
    report.datagrams_reassembled = reader.defrag.stats.reassembled;
    report.fragments_abandoned = reader.defrag.stats.abandoned;
    report.pcap_files.sort_by_key(|f| f.id);
    report
}

pub(crate) fn collect_files(report: &mut RunReport, pcap: Option<tyto_pcapstore::PcapWriter>) {
    if let Some(w) = pcap {
        match w.finish() {
            Ok(files) => report.pcap_files.extend(files),
            Err(e) => report.workers.push(WorkerStats {
                pcap_write_errors: 1,
                first_pcap_error: Some(e.to_string()),
                ..WorkerStats::default()
            }),
        }
    }
}

pub(crate) fn make_worker(cfg: &PipelineConfig, max_sessions: usize, records: Sender<Vec<SessionRecord>>) -> Worker {
    Worker::new(
        cfg.flow.clone(),
        cfg.node.clone(),
        max_sessions,
        cfg.analyzers.clone(),
        cfg.pcap.as_ref().map(|(dir, policy)| dir.writer(*policy)),
        Box::new(RecordBatcher { pending: Vec::new(), tx: records, enrich: cfg.enrich.clone() }),
    )
}

/// Enriches rows and groups them for the consumer; sends what is left when the
/// worker is dropped.
struct RecordBatcher {
    pending: Vec<SessionRecord>,
    tx: Sender<Vec<SessionRecord>>,
    enrich: Option<Arc<dyn Enrich>>,
}

impl RecordSink for RecordBatcher {
    fn push(&mut self, mut rec: SessionRecord) {
        if let Some(e) = &self.enrich {
            e.enrich(&mut rec);
        }
        self.pending.push(rec);
        if self.pending.len() >= RECORD_BATCH {
            let _ = self.tx.send(std::mem::take(&mut self.pending));
        }
    }

    fn flush(&mut self) {
        if !self.pending.is_empty() {
            let _ = self.tx.send(std::mem::take(&mut self.pending));
        }
    }
}

impl Drop for RecordBatcher {
    fn drop(&mut self) {
        self.flush();
    }
}

/// The threads of the workers and their queues.
pub(crate) struct WorkerPool {
    txs: Vec<Sender<Batch>>,
    recycle: Vec<Receiver<Batch>>,
    handles: Vec<thread::JoinHandle<(WorkerStats, Option<tyto_pcapstore::PcapWriter>)>>,
}

impl WorkerPool {
    /// Starts `n` worker threads; `make(i)` builds worker `i` and, for live capture,
    /// the hooks it reports through.
    pub(crate) fn start(n: usize, mut make: impl FnMut(usize) -> (Worker, Option<LiveHooks>)) -> WorkerPool {
        let mut pool = WorkerPool { txs: Vec::new(), recycle: Vec::new(), handles: Vec::new() };
        let finish_line = Arc::new(FinishLine { arrived: Mutex::new(0), all: Condvar::new(), workers: n });
        for i in 0..n {
            let (tx, rx) = bounded::<Batch>(QUEUE_BATCHES);
            let (recycle_tx, recycle_rx) = bounded::<Batch>(QUEUE_BATCHES + 2);
            let (worker, hooks) = make(i);
            let line = Arc::clone(&finish_line);
            pool.handles.push(thread::spawn(move || worker_thread(worker, rx, recycle_tx, hooks, &line)));
            pool.txs.push(tx);
            pool.recycle.push(recycle_rx);
        }
        pool
    }

    /// A feeder of the workers' queues; one per reading thread.
    pub(crate) fn dispatcher(&self, drop_when_full: bool) -> Dispatcher {
        Dispatcher {
            txs: self.txs.clone(),
            recycle: self.recycle.clone(),
            batches: (0..self.txs.len()).map(|_| Batch::default()).collect(),
            drop_when_full,
            dropped_packets: 0,
        }
    }

    /// Waits for every worker to drain its queue and finish (every dispatcher must
    /// have been dropped), and adds their results to `report`.
    pub(crate) fn join(self, report: &mut RunReport, progress: &Progress) {
        drop(self.txs);
        for h in self.handles {
            match h.join() {
                Ok((stats, pcap)) => {
                    progress.sessions.fetch_add(stats.sessions_written, Ordering::Relaxed);
                    report.workers.push(stats);
                    collect_files(report, pcap);
                }
                Err(_) => report.workers.push(WorkerStats {
                    first_pcap_error: Some("a worker thread failed".into()),
                    ..WorkerStats::default()
                }),
            }
        }
    }
}

/// Shares packets out to the workers by flow hash, in batches.
pub(crate) struct Dispatcher {
    txs: Vec<Sender<Batch>>,
    recycle: Vec<Receiver<Batch>>,
    batches: Vec<Batch>,
    /// Live capture never waits for a busy worker: a full queue drops the batch
    /// (counted), as the kernel would drop packets if the ring were not read.
    drop_when_full: bool,
    pub(crate) dropped_packets: u64,
}

impl Dispatcher {
    pub(crate) fn event(&mut self, event: Event<'_>) {
        let workers = self.txs.len();
        match event {
            Event::Packet(packet) => {
                let w = (packet.keyed.key.stable_hash() % workers as u64) as usize;
                self.batches[w].push(&packet);
                if self.batches[w].entries.len() >= BATCH_PACKETS {
                    self.send(w);
                }
            }
            // Every worker sweeps at the same point of the packet stream as a
            // single worker would, so results do not depend on the thread count.
            Event::Sweep(now) => {
                for w in 0..workers {
                    self.batches[w].entries.push(BatchedEvent::Sweep(now));
                    self.send(w);
                }
            }
        }
    }

    fn send(&mut self, w: usize) {
        let fresh = self.recycle[w].try_recv().map(Batch::reset).unwrap_or_default();
        let full = std::mem::replace(&mut self.batches[w], fresh);
        if self.drop_when_full {
            if let Err(crossbeam_channel::TrySendError::Full(lost)) = self.txs[w].try_send(full) {
                self.dropped_packets +=
                    lost.entries.iter().filter(|e| matches!(e, BatchedEvent::Packet(_))).count() as u64;
            }
        } else {
            let _ = self.txs[w].send(full);
        }
    }

    /// From now on a full queue is waited for, not dropped (shutdown: nothing is lost).
    pub(crate) fn wait_when_full(&mut self) {
        self.drop_when_full = false;
    }

    /// Sends every partly filled batch.
    pub(crate) fn flush(&mut self) {
        for w in 0..self.txs.len() {
            if !self.batches[w].entries.is_empty() {
                self.send(w);
            }
        }
    }
}

/// What a worker of a live capture reports, and where.
pub(crate) struct LiveHooks {
    pub(crate) counters: Arc<crate::counters::LiveCounters>,
    pub(crate) index: usize,
    pub(crate) files: Sender<Vec<WrittenFile>>,
}

/// Where the workers wait for each other before writing their last rows: a session
/// may learn about itself from one another worker holds (an FTP data connection
/// from its control connection's announcement), which must have been read first.
struct FinishLine {
    arrived: Mutex<usize>,
    all: Condvar,
    workers: usize,
}

/// A worker that never arrives (it died) holds the others up this long at most.
const FINISH_LINE_WAIT: Duration = Duration::from_secs(10);

impl FinishLine {
    fn arrive(&self) {
        let mut n = self.arrived.lock().unwrap_or_else(|e| e.into_inner());
        *n += 1;
        self.all.notify_all();
        let _ = self.all.wait_timeout_while(n, FINISH_LINE_WAIT, |n| *n < self.workers);
    }
}

fn worker_thread(
    mut worker: Worker,
    rx: Receiver<Batch>,
    recycle: Sender<Batch>,
    live: Option<LiveHooks>,
    finish_line: &FinishLine,
) -> (WorkerStats, Option<tyto_pcapstore::PcapWriter>) {
    for batch in rx {
        // Fragments of rebuilt datagrams (rare): no allocation unless there are some.
        let mut pieces: Vec<PieceIn<'_>> = Vec::new();
        for entry in &batch.entries {
            let it = match entry {
                BatchedEvent::Sweep(now) => {
                    worker.sweep(*now);
                    if let Some(h) = &live {
                        // Live capture: packets to disk and rows on their way each second.
                        worker.flush();
                        h.counters.workers[h.index].publish(&worker);
                        let closed = worker.take_closed_files();
                        if !closed.is_empty() {
                            let _ = h.files.send(closed);
                        }
                    }
                    continue;
                }
                BatchedEvent::Packet(it) => it,
            };
            let data = &batch.data[it.data.0 as usize..(it.data.0 + it.data.1) as usize];
            pieces.clear();
            pieces.extend(batch.pieces[it.pieces.0 as usize..(it.pieces.0 + it.pieces.1) as usize].iter().map(|p| {
                PieceIn {
                    ts_ns: p.ts_ns,
                    wire_len: p.wire_len,
                    link: p.link,
                    data: &batch.data[p.data.0 as usize..(p.data.0 + p.data.1) as usize],
                }
            }));
            worker.packet(&PacketIn {
                ts_ns: it.ts_ns,
                wire_len: it.wire_len,
                link: it.link,
                data,
                decoded: it.decoded,
                keyed: it.keyed,
                origin: it.origin,
                input: it.input,
                pieces: &pieces,
            });
        }
        drop(pieces);
        let _ = recycle.try_send(batch);
    }
    finish_line.arrive();
    let out = worker.finish();
    if let Some(h) = &live {
        h.counters.workers[h.index].publish_final(&out.0);
    }
    out
}

/// Packets copied for a worker thread: one byte arena, fixed-size entries.
#[derive(Default)]
pub(crate) struct Batch {
    data: Vec<u8>,
    entries: Vec<BatchedEvent>,
    pieces: Vec<BatchedPiece>,
}

/// An [`Event`] as a batch holds it.
// Packets are nearly every entry: boxing them would cost an allocation each.
#[allow(clippy::large_enum_variant)]
enum BatchedEvent {
    Packet(BatchedPacket),
    /// Expire what idled out by this packet time.
    Sweep(i64),
}

/// What the reader hands on: packets, and the moments to expire idle sessions.
// As above: an event is almost always a packet, passed by value without allocating.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Event<'a> {
    Packet(PacketIn<'a>),
    Sweep(i64),
}

/// A [`PacketIn`] as a batch holds it: its bytes (and its pieces') in the batch's
/// arena.
struct BatchedPacket {
    ts_ns: i64,
    wire_len: u32,
    link: LinkType,
    /// (start, len) in `data`.
    data: (u32, u32),
    decoded: Decoded,
    keyed: KeyedPacket,
    origin: u64,
    input: u32,
    /// (start, count) in `pieces`.
    pieces: (u32, u32),
}

/// A [`PieceIn`] as a batch holds it.
struct BatchedPiece {
    ts_ns: i64,
    wire_len: u32,
    link: LinkType,
    data: (u32, u32),
}

impl Batch {
    fn reset(mut self) -> Batch {
        self.data.clear();
        self.entries.clear();
        self.pieces.clear();
        self
    }

    fn push(&mut self, it: &PacketIn<'_>) {
        let start = self.pieces.len() as u32;
        for p in it.pieces {
            let at = self.data.len() as u32;
            self.data.extend_from_slice(p.data);
            self.pieces.push(BatchedPiece {
                ts_ns: p.ts_ns,
                wire_len: p.wire_len,
                link: p.link,
                data: (at, p.data.len() as u32),
            });
        }
        let at = self.data.len() as u32;
        self.data.extend_from_slice(it.data);
        self.entries.push(BatchedEvent::Packet(BatchedPacket {
            ts_ns: it.ts_ns,
            wire_len: it.wire_len,
            link: it.link,
            data: (at, it.data.len() as u32),
            decoded: it.decoded,
            keyed: it.keyed,
            origin: it.origin,
            input: it.input,
            pieces: (start, it.pieces.len() as u32),
        }));
    }
}

/// The reading side: files in, decoded and keyed packets out.
pub(crate) struct Reader {
    defrag: Defragmenter,
    pub(crate) packets: u64,
    pub(crate) bytes: u64,
    pub(crate) decode_errors: u64,
    pub(crate) unsupported_link: u64,
    error_examples: Vec<String>,
    last_sweep_ns: i64,
    now_ns: i64,
    /// Fragments whose datagram never completed, waiting to be handed on.
    orphan_origin: u64,
    /// The input file being read ([`PacketIn::input`]).
    pub(crate) input: u32,
}

/// Distinct decode-error messages kept for the report.
const MAX_ERROR_EXAMPLES: usize = 10;

impl Reader {
    pub(crate) fn new(cfg: &FlowConfig) -> Reader {
        Reader {
            defrag: Defragmenter::new(cfg.frag_max_datagrams, cfg.frag_timeout_s),
            packets: 0,
            bytes: 0,
            decode_errors: 0,
            unsupported_link: 0,
            error_examples: Vec::new(),
            last_sweep_ns: i64::MIN,
            now_ns: i64::MIN,
            orphan_origin: 0,
            input: crate::worker::NO_INPUT,
        }
    }

    fn read_file(&mut self, path: &Path, progress: &Progress, emit: &mut dyn FnMut(Event<'_>)) -> FileOutcome {
        let reader = match FileReader::open(path) {
            Ok(r) => r,
            Err(e) => return FileOutcome { path: path.to_path_buf(), packets: 0, error: Some(e) },
        };
        let file_seed =
            ahash::RandomState::with_seeds(9, 10, 11, 12).hash_one(path.file_name().map(|n| n.as_encoded_bytes()));
        // Each file keeps its own clock: captures of other days, read one after the
        // other, must not expire each other's sessions.
        self.now_ns = i64::MIN;
        self.last_sweep_ns = i64::MIN;
        let mut index: u64 = 0;
        let mut unpublished = (0u64, 0u64);
        let (summary, error) = reader.for_each_packet(|pkt| {
            index += 1;
            // Progress is shared with another thread: publish it now and then, not per packet.
            unpublished.0 += 1;
            unpublished.1 += pkt.data.len() as u64 + 16;
            if unpublished.0 >= PROGRESS_EVERY {
                progress.packets.fetch_add(unpublished.0, Ordering::Relaxed);
                progress.bytes.fetch_add(unpublished.1, Ordering::Relaxed);
                unpublished = (0, 0);
            }
            self.packet(pkt, file_seed ^ index.wrapping_mul(0x9e37_79b9_7f4a_7c15), emit);
        });
        progress.packets.fetch_add(unpublished.0, Ordering::Relaxed);
        progress.bytes.fetch_add(unpublished.1, Ordering::Relaxed);
        FileOutcome { path: path.to_path_buf(), packets: summary.packets, error }
    }

    /// Decodes one packet, rebuilds fragmented datagrams, hands the result on, and
    /// sweeps when a second of packet time has passed.
    pub(crate) fn packet(&mut self, pkt: Packet<'_>, origin: u64, emit: &mut dyn FnMut(Event<'_>)) {
        self.packets += 1;
        self.bytes += pkt.data.len() as u64;
        self.now_ns = self.now_ns.max(pkt.ts_ns);
        let decoded = match decode(pkt.link, pkt.data) {
            Ok(d) => d,
            Err(e) => {
                // Counted, and still stored: traffic must not hide from the sensor by
                // being malformed.
                self.note_error(&e);
                let decoded = undecoded(pkt.link, pkt.data);
                emit(Event::Packet(PacketIn {
                    ts_ns: pkt.ts_ns,
                    wire_len: pkt.wire_len,
                    link: pkt.link,
                    data: pkt.data,
                    decoded,
                    keyed: FlowKey::undecoded(pkt.link),
                    origin,
                    input: self.input,
                    pieces: &[],
                }));
                return;
            }
        };
        if decoded.ip.is_some_and(|ip| ip.fragment.is_some()) {
            let piece =
                Piece { ts_ns: pkt.ts_ns, wire_len: pkt.wire_len, link: pkt.link, frame: pkt.data.to_vec(), decoded };
            let whole = self.defrag.add(piece);
            // Fragments pushed out to make room go on at once, not at the next sweep:
            // held until then, they would be the memory the bound was to save.
            self.emit_orphans(emit);
            if let Some(whole) = whole {
                let keyed = FlowKey::of(&whole.decoded, &whole.frame);
                let pieces: Vec<PieceIn<'_>> = whole
                    .pieces
                    .iter()
                    .map(|p| PieceIn { ts_ns: p.ts_ns, wire_len: p.wire_len, link: p.link, data: &p.frame })
                    .collect();
                emit(Event::Packet(PacketIn {
                    ts_ns: pkt.ts_ns,
                    wire_len: whole.frame.len() as u32,
                    link: whole.link,
                    data: &whole.frame,
                    decoded: whole.decoded,
                    keyed,
                    origin,
                    input: self.input,
                    pieces: &pieces,
                }));
            }
        } else {
            emit(Event::Packet(PacketIn {
                ts_ns: pkt.ts_ns,
                wire_len: pkt.wire_len,
                link: pkt.link,
                data: pkt.data,
                decoded,
                keyed: FlowKey::of(&decoded, pkt.data),
                origin,
                input: self.input,
                pieces: &[],
            }));
        }
        if self.now_ns.saturating_sub(self.last_sweep_ns) >= SWEEP_EVERY_NS {
            self.last_sweep_ns = self.now_ns;
            self.sweep(emit);
        }
    }

    /// Live capture: time goes on even when no packet comes, so idle sessions are
    /// written by the clock too.
    pub(crate) fn tick(&mut self, now_ns: i64, emit: &mut dyn FnMut(Event<'_>)) {
        self.now_ns = self.now_ns.max(now_ns);
        if self.now_ns.saturating_sub(self.last_sweep_ns) >= SWEEP_EVERY_NS {
            self.last_sweep_ns = self.now_ns;
            self.sweep(emit);
        }
    }

    fn note_error(&mut self, e: &DecodeError) {
        if matches!(e, DecodeError::UnsupportedLinkType(_)) {
            self.unsupported_link += 1;
        } else {
            self.decode_errors += 1;
        }
        let msg = e.to_string();
        if self.error_examples.len() < MAX_ERROR_EXAMPLES && !self.error_examples.contains(&msg) {
            self.error_examples.push(msg);
        }
    }

    /// Expires pending fragments and idle sessions at the current packet time.
    fn sweep(&mut self, emit: &mut dyn FnMut(Event<'_>)) {
        self.defrag.expire(self.now_ns);
        self.emit_orphans(emit);
        emit(Event::Sweep(self.now_ns));
    }

    fn emit_orphans(&mut self, emit: &mut dyn FnMut(Event<'_>)) {
        for orphan in self.defrag.take_orphans() {
            self.orphan_origin += 1;
            emit(Event::Packet(orphan_packet(&orphan, self.orphan_origin, self.input)));
        }
    }

    /// The input ended: fragments still waiting become packets, and one last sweep
    /// at the last packet's time.
    pub(crate) fn finish(&mut self, emit: &mut dyn FnMut(Event<'_>)) {
        self.defrag.abandon_all();
        self.emit_orphans(emit);
        if self.now_ns != i64::MIN {
            emit(Event::Sweep(self.now_ns));
        }
    }
}

/// What is known of a frame that could not be decoded: its Ethernet addresses when
/// it has them, so its session can be found by MAC.
fn undecoded(link: tyto_packet::LinkType, frame: &[u8]) -> tyto_packet::Decoded {
    let mut d = tyto_packet::Decoded { ethertype: crate::key::UNDECODED, ..Default::default() };
    if link == tyto_packet::LinkType::ETHERNET && frame.len() >= 12 {
        let mac = |at: usize| {
            let mut m = [0u8; 6];
            m.copy_from_slice(&frame[at..at + 6]);
            tyto_packet::MacAddr(m)
        };
        d.mac_dst = Some(mac(0));
        d.mac_src = Some(mac(6));
    }
    d
}

/// A fragment whose datagram never completed: it becomes a packet of the session
/// between its two addresses (no ports are known).
fn orphan_packet(p: &Piece, origin: u64, input: u32) -> PacketIn<'_> {
    let mut decoded = p.decoded;
    if let Some(ip) = decoded.ip.as_mut() {
        ip.transport = tyto_packet::Transport::None;
        if let Some(f) = ip.fragment {
            let end = ip.payload_offset + ip.payload_len;
            ip.payload_offset = f.data_offset.min(end);
            ip.payload_len = end - ip.payload_offset;
        }
    }
    PacketIn {
        ts_ns: p.ts_ns,
        wire_len: p.wire_len,
        link: p.link,
        data: &p.frame,
        keyed: FlowKey::of(&decoded, &p.frame),
        decoded,
        origin,
        input,
        pieces: &[],
    }
}
