//! Live capture through the pipeline: one reading thread per packet source (an
//! AF_PACKET ring, several per interface when they share it by fanout), all feeding
//! the same workers by flow hash. Unlike a file, a live source never waits: a busy
//! worker's full queue drops the batch and counts it, and time goes on by the clock,
//! so idle sessions are written even when no packet comes.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use tyto_capture::Packet;
use tyto_pcapstore::WrittenFile;
use tyto_schema::SessionRecord;

use crate::counters::{LiveCounters, SourceCounters};
use crate::pipeline::{make_worker, Event, LiveHooks, PipelineConfig, Progress, Reader, RunReport, WorkerPool};

/// How long a reading thread waits for packets before looking at the clock.
const POLL_TIMEOUT: Duration = Duration::from_millis(100);
/// Partly filled batches go to the workers at least this often.
const FLUSH_EVERY: Duration = Duration::from_millis(50);
/// Kernel counters are read this often.
const STATS_EVERY: Duration = Duration::from_secs(1);

/// A live packet source.
pub trait LiveSource: Send {
    /// The interface, for counters and messages.
    fn name(&self) -> &str;
    /// Waits up to `timeout` for packets and delivers those that came.
    fn poll(&mut self, timeout: Duration, each: &mut dyn FnMut(Packet<'_>)) -> io::Result<usize>;
    /// The kernel's counters since the source opened: (packets, drops).
    fn kernel_stats(&mut self) -> io::Result<(u64, u64)>;
}

#[cfg(target_os = "linux")]
impl LiveSource for tyto_capture::afpacket::Ring {
    fn name(&self) -> &str {
        self.interface()
    }

    fn poll(&mut self, timeout: Duration, each: &mut dyn FnMut(Packet<'_>)) -> io::Result<usize> {
        tyto_capture::afpacket::Ring::poll(self, timeout, each)
    }

    fn kernel_stats(&mut self) -> io::Result<(u64, u64)> {
        self.stats().map(|s| (s.packets, s.drops))
    }
}

/// Captures from `sources` until `stop` is set, then writes every session still
/// open and flushes the pcap files. Rows go to `records` as sessions end (each second
/// at the latest); pcap files closed by rotation go to `files` as they close, the
/// rest are in the report. `counters` must have one entry per source, in order.
pub fn run_live(
    sources: Vec<Box<dyn LiveSource>>,
    cfg: &PipelineConfig,
    records: Sender<Vec<SessionRecord>>,
    files: Sender<Vec<WrittenFile>>,
    counters: Arc<LiveCounters>,
    stop: &AtomicBool,
) -> RunReport {
    let workers = counters.workers.len();
    let per_worker = (cfg.flow.max_sessions / workers).max(1);
    let pool = WorkerPool::start(workers, |index| {
        let hooks = LiveHooks { counters: counters.clone(), index, files: files.clone() };
        (make_worker(cfg, per_worker, records.clone()), Some(hooks))
    });
    drop(records);
    let mut report = RunReport::default();
    let readers: Vec<(u64, u64, u64)> = thread::scope(|s| {
        let handles: Vec<_> = sources
            .into_iter()
            .enumerate()
            .map(|(i, source)| {
                let dispatcher = pool.dispatcher(true);
                let c = &counters.sources[i];
                s.spawn(move || read_source(source, cfg, dispatcher, c, stop))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_default()).collect()
    });
    for (packets, bytes, decode_errors) in readers {
        report.packets += packets;
        report.bytes += bytes;
        report.decode_errors += decode_errors;
    }
    // Each worker published its final counters as it finished.
    pool.join(&mut report, &Progress::default());
    report.pcap_files.sort_by_key(|f| f.id);
    report
}

/// One reading thread: returns its (packets, bytes, decode errors).
fn read_source(
    mut source: Box<dyn LiveSource>,
    cfg: &PipelineConfig,
    mut dispatcher: crate::pipeline::Dispatcher,
    c: &SourceCounters,
    stop: &AtomicBool,
) -> (u64, u64, u64) {
    let mut reader = Reader::new(&cfg.flow);
    let seed = ahash::RandomState::with_seeds(1, 2, 3, 4).hash_one((source.name(), tyto_schema::time::now_ns()));
    let mut index: u64 = 0;
    let mut last_flush = Instant::now();
    let mut last_stats = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let polled = source.poll(POLL_TIMEOUT, &mut |pkt| {
            index += 1;
            reader
                .packet(pkt, seed ^ index.wrapping_mul(0x9e37_79b9_7f4a_7c15), &mut |e: Event<'_>| dispatcher.event(e));
        });
        if let Err(e) = polled {
            *c.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.to_string());
            thread::sleep(POLL_TIMEOUT);
        }
        reader.tick(tyto_schema::time::now_ns(), &mut |e| dispatcher.event(e));
        if last_flush.elapsed() >= FLUSH_EVERY {
            last_flush = Instant::now();
            dispatcher.flush();
        }
        c.packets.store(reader.packets, Ordering::Relaxed);
        c.bytes.store(reader.bytes, Ordering::Relaxed);
        c.decode_errors.store(reader.decode_errors + reader.unsupported_link, Ordering::Relaxed);
        c.queue_drops.store(dispatcher.dropped_packets, Ordering::Relaxed);
        if last_stats.elapsed() >= STATS_EVERY {
            last_stats = Instant::now();
            publish_kernel_stats(source.as_mut(), c);
        }
    }
    publish_kernel_stats(source.as_mut(), c);
    // Shutting down: every remaining packet reaches its worker, waiting if need be.
    dispatcher.wait_when_full();
    reader.finish(&mut |e| dispatcher.event(e));
    dispatcher.flush();
    c.packets.store(reader.packets, Ordering::Relaxed);
    c.bytes.store(reader.bytes, Ordering::Relaxed);
    (reader.packets, reader.bytes, reader.decode_errors + reader.unsupported_link)
}

fn publish_kernel_stats(source: &mut dyn LiveSource, c: &SourceCounters) {
    if let Ok((packets, drops)) = source.kernel_stats() {
        c.kernel_packets.store(packets, Ordering::Relaxed);
        c.kernel_drops.store(drops, Ordering::Relaxed);
    }
}
