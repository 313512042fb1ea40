//! `tyto bench`: builds a large corpus by replicating real captures with rewritten
//! addresses and shifted times (so the copies are distinct sessions), then measures
//! the pipeline on it: decode + sessions, + dissectors, + pcap write, + the session
//! store; and nDPI's `ndpiReader` on the same file, for comparison.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Args;
use tyto_capture::FileReader;
use tyto_dissect::Dissectors;
use tyto_enrich::intel::{Format, Intel, IntelConfig, IntelSource};
use tyto_flow::analyzer::NoAnalysis;
use tyto_flow::{FlowConfig, PipelineConfig, Progress};
use tyto_packet::{decode, LinkType};
use tyto_pcapstore::{pcap_file_header, record_header, PcapDir, RotationPolicy};
use tyto_store::{DuckStore, QueueConfig, QueueCounters, RowQueue};

#[derive(Args)]
pub struct BenchArgs {
    /// The corpus file (built when missing or with --rebuild).
    #[arg(long, default_value = "/tmp/tyto-bench-corpus.pcap")]
    corpus: PathBuf,
    /// Captures to replicate (Ethernet ones are used).
    #[arg(long, default_value = "../shared/pcaps")]
    source: PathBuf,
    /// Corpus size in MiB.
    #[arg(long, default_value_t = 512)]
    size_mb: u64,
    #[arg(long)]
    rebuild: bool,
    /// Worker threads (1 measures one core's worth of pipeline, plus the reading thread's share).
    #[arg(long, default_value_t = 1)]
    workers: usize,
    /// Skip the run with the session store.
    #[arg(long)]
    skip_store: bool,
    /// Where the runs write pcap files and the store (a tmpfs such as /dev/shm
    /// measures the CPU's cost; a disk measures the disk).
    #[arg(long, default_value_os_t = std::env::temp_dir())]
    out: PathBuf,
    /// nDPI's `ndpiReader` (Debian's libndpi-bin), run on the same corpus in the same
    /// run for comparison; skipped when it is not installed.
    #[arg(long, default_value = "ndpiReader")]
    ndpi_reader: PathBuf,
    /// An indicator list (one a line, as `[[intel.source]]` reads it): timed as it
    /// loads, then matched on every session in one more run, to measure what
    /// threat intelligence costs (`scripts/make-indicators.py` writes one).
    #[arg(long, value_name = "FILE")]
    intel: Option<PathBuf>,
}

pub fn run(args: &BenchArgs) -> Result<ExitCode> {
    if args.rebuild || !args.corpus.exists() {
        build_corpus(&args.source, &args.corpus, args.size_mb << 20)?;
    }
    // Read the file once so the runs measure the pipeline, not the disk.
    let mut f = File::open(&args.corpus)?;
    let mut buf = vec![0u8; 1 << 20];
    while f.read(&mut buf)? > 0 {}
    let size = std::fs::metadata(&args.corpus)?.len();
    println!(
        "corpus: {} ({} MiB), workers: {}, output under {}",
        args.corpus.display(),
        size >> 20,
        args.workers,
        args.out.display()
    );
    let tmp = scratch_dir(&args.out)?;
    let inputs = vec![args.corpus.clone()];
    let plain = |pcap| PipelineConfig {
        flow: FlowConfig::default(),
        workers: args.workers,
        node: "bench".into(),
        pcap,
        analyzers: Arc::new(NoAnalysis),
        enrich: None,
    };
    let cfg = |pcap| PipelineConfig { analyzers: Arc::new(Dissectors::default()), ..plain(pcap) };

    let (report, rows, t) = measure(&inputs, &plain(None), |_| Ok(()))?;
    print_line("decode + sessions", report.packets, report.bytes, rows, t);
    let (report, rows, t) = measure(&inputs, &cfg(None), |_| Ok(()))?;
    print_line("+ dissectors (dump)", report.packets, report.bytes, rows, t);
    let ours = (report.packets, t);
    if let Some(path) = &args.intel {
        let source =
            IntelSource { name: "bench".into(), path: path.clone(), format: Format::List, column: String::new() };
        let started = Instant::now();
        let (intel, problems) =
            Intel::load(&IntelConfig { reload_every_s: 0, source: vec![source] }).map_err(anyhow::Error::msg)?;
        if let Some(p) = problems.first() {
            bail!("{p}");
        }
        println!(
            "intel: {} indicators read and indexed in {:.2} s",
            intel.indicators(),
            started.elapsed().as_secs_f64()
        );
        let timed = Arc::new(TimedEnrich { inner: intel, ns: AtomicU64::new(0) });
        let with_intel = PipelineConfig { enrich: Some(timed.clone() as Arc<dyn tyto_flow::Enrich>), ..cfg(None) };
        let (report, rows, t) = measure(&inputs, &with_intel, |_| Ok(()))?;
        print_line("+ dissectors + intel (dump)", report.packets, report.bytes, rows, t);
        let matching = timed.ns.load(Ordering::Relaxed) as f64 / 1e9;
        println!(
            "intel matching: {:.2} µs a session, {:.1}% of that run's CPU time",
            matching * 1e6 / rows.max(1) as f64,
            100.0 * matching / t.cpu.max(1e-9)
        );
    }

    let pcap = PcapDir::open(&tmp.join("pcap-a"), "bench")?;
    let (report, rows, t) = measure(&inputs, &cfg(Some((pcap, RotationPolicy::default()))), |_| Ok(()))?;
    print_line("+ dissectors + pcap write", report.packets, report.bytes, rows, t);

    if !args.skip_store {
        // As `tyto ingest` writes: through the row queue, on the store's own thread.
        let pcap = PcapDir::open(&tmp.join("pcap-b"), "bench")?;
        let store = DuckStore::open(&tmp)?.for_writing()?;
        let queue = RowQueue::start(Box::new(store), QueueConfig::new(tmp.join("spool")))?;
        let counters = queue.counters();
        let queue = std::sync::Mutex::new(Some(queue));
        // Transactions filed, as `tyto ingest` files them for the store's table.
        let ingest = PipelineConfig {
            analyzers: Arc::new(Dissectors::storing()),
            ..plain(Some((pcap, RotationPolicy::default())))
        };
        let (report, _, t) = measure(&inputs, &ingest, move |batch| {
            if batch.is_empty() {
                // The end: wait for the store to take everything.
                if let Some(q) = queue.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.take() {
                    q.flush(Duration::from_secs(3600));
                    q.finish()?;
                }
            } else if let Some(q) = queue.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.as_mut() {
                q.push(batch);
            }
            Ok(())
        })?;
        let stored = QueueCounters::get(&counters.stored_rows);
        print_line("ingest (+ DuckDB)", report.packets, report.bytes, stored, t);
    }
    println!("peak memory (VmHWM): {} MiB", peak_rss_kib() / 1024);
    ndpi_reader(&args.ndpi_reader, &args.corpus, ours);
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(ExitCode::SUCCESS)
}

/// An enrichment that keeps the time it takes (the clock read twice a session
/// costs ~50 ns, counted in).
struct TimedEnrich {
    inner: Arc<Intel>,
    ns: AtomicU64,
}

impl tyto_flow::Enrich for TimedEnrich {
    fn enrich(&self, rec: &mut tyto_schema::SessionRecord) {
        let started = Instant::now();
        self.inner.enrich(rec);
        self.ns.fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
    }
}

/// Runs nDPI's reader on the same corpus: packets/s by the wall clock and per CPU
/// second (user + system, all its threads), next to ours with dissectors.
fn ndpi_reader(program: &Path, corpus: &Path, (our_packets, our_time): (u64, Timed)) {
    let before = children_cpu();
    let started = Instant::now();
    let out = match std::process::Command::new(program).arg("-i").arg(corpus).output() {
        Ok(o) if o.status.success() => o,
        Ok(o) => {
            println!("{} failed ({}): {}", program.display(), o.status, String::from_utf8_lossy(&o.stderr).trim());
            return;
        }
        Err(e) => {
            println!("{} not run ({e}); `apt-get install libndpi-bin` to compare", program.display());
            return;
        }
    };
    let wall = started.elapsed();
    let cpu = children_cpu() - before;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = |key: &str| text.lines().find(|l| l.trim_start().starts_with(key)).map(|l| l.trim().to_string());
    // `IP packets:   34   of 34 packets total`
    let packets =
        line("IP packets:").and_then(|l| l.split_whitespace().nth(2).and_then(|n| n.parse::<u64>().ok())).unwrap_or(0);
    // `Using nDPI (4.2.0) [1 thread(s)]`
    let version =
        text.lines().find_map(|l| l.strip_prefix("Using nDPI ")).and_then(|l| l.split(['(', ')']).nth(1)).unwrap_or("");
    let per = |n: u64, s: f64| n as f64 / s.max(1e-9) / 1e6;
    println!(
        "ndpiReader {version}: {packets} packets in {:.2}s: {:.2} M packets/s, {:.2} M packets per CPU second; \
         its own figure: {}; peak memory {} MiB",
        wall.as_secs_f64(),
        per(packets, wall.as_secs_f64()),
        per(packets, cpu),
        line("nDPI throughput:").unwrap_or_default(),
        children_peak_kib() / 1024
    );
    println!(
        "tyto with dissectors: {:.2} M packets/s, {:.2} M packets per CPU second",
        per(our_packets, our_time.wall.as_secs_f64()),
        per(our_packets, our_time.cpu)
    );
}

fn rusage(who: libc::c_int) -> libc::rusage {
    // SAFETY: getrusage fills the struct it is given; a zeroed rusage is valid.
    unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(who, &mut u);
        u
    }
}

fn cpu_of(u: &libc::rusage) -> f64 {
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    t(u.ru_utime) + t(u.ru_stime)
}

fn children_cpu() -> f64 {
    cpu_of(&rusage(libc::RUSAGE_CHILDREN))
}

fn children_peak_kib() -> i64 {
    rusage(libc::RUSAGE_CHILDREN).ru_maxrss
}

/// How long a run took by the wall clock, and the CPU seconds this process spent on it.
#[derive(Clone, Copy)]
struct Timed {
    wall: Duration,
    cpu: f64,
}

fn measure(
    inputs: &[PathBuf],
    cfg: &PipelineConfig,
    mut sink: impl FnMut(Vec<tyto_schema::SessionRecord>) -> Result<()> + Send + 'static,
) -> Result<(tyto_flow::RunReport, u64, Timed)> {
    let (tx, rx) = crossbeam_channel::bounded::<Vec<tyto_schema::SessionRecord>>(64);
    // Each batch as it comes, then an empty one for the end.
    let consumer = std::thread::spawn(move || -> Result<u64> {
        let mut n = 0u64;
        for batch in rx {
            n += batch.len() as u64;
            if !batch.is_empty() {
                sink(batch)?;
            }
        }
        sink(Vec::new())?;
        Ok(n)
    });
    let started = Instant::now();
    let cpu = cpu_of(&rusage(libc::RUSAGE_SELF));
    let report = tyto_flow::run(inputs, cfg, tx, &Progress::default());
    let rows = consumer.join().map_err(|_| anyhow::anyhow!("the consumer failed"))??;
    Ok((report, rows, Timed { wall: started.elapsed(), cpu: cpu_of(&rusage(libc::RUSAGE_SELF)) - cpu }))
}

fn print_line(what: &str, packets: u64, bytes: u64, rows: u64, t: Timed) {
    let s = t.wall.as_secs_f64().max(1e-9);
    println!(
        "{what:<32} {packets} packets in {s:.2}s ({:.2} CPU s): {:.2} M packets/s, {:.2} Gbit/s, {:.0} sessions/s ({rows} rows)",
        t.cpu,
        packets as f64 / s / 1e6,
        bytes as f64 * 8.0 / s / 1e9,
        rows as f64 / s
    );
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(|l| l.to_string()))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

fn scratch_dir(under: &Path) -> Result<PathBuf> {
    let p = under.join(format!("tyto-bench-{}", std::process::id()));
    std::fs::create_dir_all(&p)?;
    Ok(p)
}

struct SourcePacket {
    rel_ns: i64,
    wire_len: u32,
    data: Vec<u8>,
    /// Where the innermost IP addresses sit (v4: 4 bytes each, v6: 16).
    addrs: Option<(usize, usize, usize)>,
}

/// Replicates every Ethernet capture under `source` until the corpus reaches `target`
/// bytes; copy `k` has its addresses changed in the second and third bytes and its
/// times moved past the previous copy.
fn build_corpus(source: &Path, out: &Path, target: u64) -> Result<()> {
    let files = tyto_capture::expand_inputs(&[source.to_path_buf()])
        .with_context(|| format!("listing {} (pass --source)", source.display()))?;
    let mut sources: Vec<(i64, Vec<SourcePacket>)> = Vec::new();
    for path in files {
        let Ok(reader) = FileReader::open(&path) else {
            continue;
        };
        let mut pkts = Vec::new();
        let mut first = None;
        let mut last = 0i64;
        let _ = reader.for_each_packet(|p| {
            if p.link != LinkType::ETHERNET {
                return;
            }
            let t0 = *first.get_or_insert(p.ts_ns);
            last = last.max(p.ts_ns - t0);
            let addrs = decode(p.link, p.data).ok().and_then(|d| d.ip).map(|ip| {
                let h = ip.header_offset as usize;
                if ip.v6 {
                    (h + 8, h + 24, 16)
                } else {
                    (h + 12, h + 16, 4)
                }
            });
            pkts.push(SourcePacket {
                rel_ns: (p.ts_ns - t0).max(0),
                wire_len: p.wire_len,
                data: p.data.to_vec(),
                addrs,
            });
        });
        if !pkts.is_empty() {
            sources.push((last, pkts));
        }
    }
    if sources.is_empty() {
        bail!("no Ethernet captures under {}", source.display());
    }
    let mut w =
        BufWriter::with_capacity(1 << 20, File::create(out).with_context(|| format!("creating {}", out.display()))?);
    let hdr = pcap_file_header(1);
    w.write_all(&hdr)?;
    let mut written = hdr.len() as u64;
    let mut base: i64 = 1_700_000_000_000_000_000;
    let mut copy: u32 = 0;
    let mut frame = Vec::new();
    'outer: loop {
        let (x, y) = ((copy & 0xff) as u8, ((copy >> 8) & 0xff) as u8);
        for (span, pkts) in &sources {
            for p in pkts {
                frame.clear();
                frame.extend_from_slice(&p.data);
                if let Some((s, d, len)) = p.addrs {
                    for at in [s, d] {
                        if at + len <= frame.len() {
                            frame[at + 1] ^= x;
                            frame[at + 2] ^= y;
                        }
                    }
                }
                let ts = base + p.rel_ns;
                w.write_all(&record_header(ts, frame.len() as u32, p.wire_len))?;
                w.write_all(&frame)?;
                written += 16 + frame.len() as u64;
            }
            // Past every session's idle timeout, so the next capture starts fresh.
            base += span.min(&(3600 * 1_000_000_000)) + 600 * 1_000_000_000;
            if written >= target {
                break 'outer;
            }
        }
        copy += 1;
    }
    w.flush()?;
    println!("built corpus {} ({} MiB, {} copies)", out.display(), written >> 20, copy + 1);
    Ok(())
}
