//! `tyto capture` and `tyto run`: live capture into the data directory, with retention,
//! and (for `run`) the viewer served from the same process and database.
//!
//! Threads: one per ring (reading), the workers, one store writer (rows, pcap file
//! records, retention), and the viewer's runtime. SIGINT or SIGTERM sets one flag:
//! reading stops, every open session is written, pcap buffers are flushed, the
//! writer drains, the viewer stops, and the process exits 0.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{bail, Context, Result};
use clap::Args;
use crossbeam_channel::{bounded, select, Receiver};
use tyto_dissect::Dissectors;
use tyto_flow::{LiveCounters, LiveSource, PipelineConfig};
use tyto_pcapstore::{PcapDir, RetentionPolicy, WrittenFile};
use tyto_schema::metrics::Metrics;
use tyto_schema::time::now_ns;
use tyto_schema::{DataDir, SessionRecord};
use tyto_store::{QueueCounters, RowQueue};

use crate::config::Config;

/// Rows queued between the workers and the store writer.
const RECORD_QUEUE: usize = 256;

#[derive(Args, Clone, Debug)]
pub struct CaptureArgs {
    /// Interfaces, comma-separated or repeated (overrides `capture.interfaces`).
    #[arg(short = 'i', long = "interface", value_delimiter = ',')]
    pub interfaces: Vec<String>,
    /// Capture filter in tcpdump's syntax, e.g. 'not port 22' (overrides `capture.filter`).
    #[arg(short = 'f', long)]
    pub filter: Option<String>,
    /// Configuration file (TOML; see tyto.example.toml). Without one, defaults apply.
    #[arg(short = 'c', long, env = "TYTO_CONFIG")]
    pub config: Option<PathBuf>,
    /// Overrides `data_dir`.
    #[arg(long, env = "TYTO_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Overrides `node`.
    #[arg(long)]
    pub node: Option<String>,
    /// Overrides `store` (duckdb://…, clickhouse://…).
    #[arg(long, env = "TYTO_STORE")]
    pub store: Option<String>,
    /// Overrides `viewer.listen` (`tyto run`).
    #[arg(long)]
    pub listen: Option<std::net::SocketAddr>,
}

impl CaptureArgs {
    /// The configuration file (or defaults) with the command line's overrides.
    pub fn config(&self) -> Result<Config> {
        let mut cfg = match &self.config {
            Some(path) => Config::load(path)?,
            None => Config::default(),
        };
        if !self.interfaces.is_empty() {
            cfg.capture.interfaces = self.interfaces.clone();
        }
        if let Some(f) = &self.filter {
            cfg.capture.filter = f.clone();
        }
        if let Some(d) = &self.data_dir {
            cfg.data_dir = d.clone();
        }
        if let Some(n) = &self.node {
            cfg.node = n.clone();
        }
        if let Some(s) = &self.store {
            cfg.store = s.clone();
        }
        if let Some(l) = self.listen {
            cfg.viewer.listen = l;
        }
        cfg.validate()?;
        Ok(cfg)
    }
}

/// Captures until SIGINT/SIGTERM; with `serve`, the viewer runs too.
pub fn run(args: &CaptureArgs, serve: bool) -> Result<ExitCode> {
    let cfg = args.config()?;
    if cfg.capture.interfaces.is_empty() {
        bail!("no interface to capture on: give -i IFACE or capture.interfaces in the configuration");
    }
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, stop.clone()).context("installing the signal handler")?;
    }
    run_until(&cfg, serve, stop)
}

/// The rings opened, and for each its interface's name.
type Sources = (Vec<Box<dyn LiveSource>>, Vec<String>);

fn open_sources(cfg: &Config) -> Result<Sources> {
    #[cfg(target_os = "linux")]
    {
        let c = &cfg.capture;
        let filter = tyto_capture::filter::compile(&c.filter, c.snaplen)?;
        let mut sources: Vec<Box<dyn LiveSource>> = Vec::new();
        let mut names = Vec::new();
        for (n, iface) in c.interfaces.iter().enumerate() {
            // A fanout group per interface, unique to this process.
            let group = (std::process::id() as u16).wrapping_mul(31).wrapping_add(n as u16);
            for _ in 0..c.threads_per_interface {
                let ring_cfg = tyto_capture::afpacket::RingConfig {
                    block_size: c.block_size_kib * 1024,
                    block_count: c.blocks,
                    block_timeout_ms: c.block_timeout_ms,
                    snaplen: c.snaplen,
                    promiscuous: c.promiscuous,
                    fanout_group: (c.threads_per_interface > 1).then_some(group),
                    filter: Some(filter.clone()),
                };
                sources.push(Box::new(tyto_capture::afpacket::Ring::open(iface, &ring_cfg)?));
                names.push(iface.clone());
            }
        }
        Ok((sources, names))
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = cfg;
        bail!("live capture needs Linux (AF_PACKET)")
    }
}

/// The whole run, until `stop` is set (by SIGINT/SIGTERM, or by the viewer failing).
pub fn run_until(cfg: &Config, serve: bool, stop: Arc<AtomicBool>) -> Result<ExitCode> {
    let data_dir = &cfg.data_dir;
    std::fs::create_dir_all(data_dir).with_context(|| format!("creating {}", data_dir.display()))?;
    let pcap_dir = PcapDir::open(&DataDir::new(data_dir).pcap(), &cfg.node).context("opening the pcap folder")?;
    let store_url = cfg.store_url()?;
    let store = store_url
        .open_writer(data_dir, &cfg.node)
        .with_context(|| format!("opening the session store {}", store_url.display(data_dir)))?;
    let (sources, names) = open_sources(cfg)?;
    let spool = store.spool();
    let viewer_store = store.reader()?;
    let queue = RowQueue::start(store, cfg.queue_config())?;
    let queue_counters = queue.counters();
    let workers = cfg.flow.workers as usize;
    let counters = LiveCounters::new(&cfg.node, &names, workers);
    let rotation = cfg.rotation();
    let outputs = crate::commands::RowConsumers::start(cfg)?;
    let intel = cfg.open_intel()?;
    let pipeline = PipelineConfig {
        flow: cfg.flow_config(),
        workers,
        node: cfg.node.clone(),
        pcap: Some((pcap_dir.clone(), rotation)),
        analyzers: Arc::new(Dissectors::storing()),
        enrich: crate::config::enrichment(cfg.geoip.open()?, intel.as_ref(), cfg.flow.community_id),
    };
    let viewer = if serve && cfg.viewer.enabled {
        let mut nodes = cfg.nodes_config();
        nodes.all_local = store_url.is_embedded();
        let mut state =
            tyto_server::AppState::with_store(data_dir, viewer_store, nodes.clone(), cfg.viewer.tls().is_some())?;
        state.live = Some(counters.clone());
        state.spool = spool;
        state.queue = Some(queue_counters.clone());
        state.uploads = Some(crate::upload::start_uploads(
            data_dir,
            cfg,
            &cfg.node,
            pcap_dir.clone(),
            queue.pusher(),
            intel.clone(),
        )?);
        state.alerts = Some(queue.pusher());
        state.intel = intel.clone().map(|i| i as Arc<dyn Metrics>);
        state.alert_sinks = outputs.sink_counters().into_iter().map(|c| c as Arc<dyn Metrics>).collect();
        state.outputs = outputs.output_counters().into_iter().map(|c| c as Arc<dyn Metrics>).collect();
        let server_cfg = tyto_server::ServerConfig {
            listen: cfg.viewer.listen,
            data_dir: data_dir.clone(),
            store: store_url.clone(),
            tls: cfg.viewer.tls(),
            nodes,
            limits: cfg.viewer.limits(),
        };
        let stop_viewer = stop.clone();
        Some(thread::spawn(move || {
            let out = tyto_server::serve(&server_cfg, state, tyto_server::until_set(stop_viewer.clone()));
            if out.is_err() {
                // The viewer could not start (a port in use…): the run stops too.
                stop_viewer.store(true, Ordering::Relaxed);
            }
            out
        }))
    } else {
        None
    };
    eprintln!(
        "tyto: capturing on {} ({} reading thread(s), {workers} worker(s)) into {}; Ctrl-C stops",
        cfg.capture.interfaces.join(", "),
        names.len(),
        data_dir.display()
    );
    let (rec_tx, rec_rx) = bounded::<Vec<SessionRecord>>(RECORD_QUEUE);
    let (file_tx, file_rx) = bounded::<Vec<WrittenFile>>(RECORD_QUEUE);
    let writer = {
        let w = StoreWriter { queue, outputs, node: cfg.node.clone(), pcap_dir: pcap_dir.clone(), cfg: cfg.clone() };
        thread::spawn(move || w.run(rec_rx, file_rx))
    };
    let started = Instant::now();
    let mut report = tyto_flow::run_live(sources, &pipeline, rec_tx, file_tx.clone(), counters.clone(), &stop);
    // Files closed at the end come with the report.
    let _ = file_tx.send(std::mem::take(&mut report.pcap_files));
    drop(file_tx);
    let written = writer.join().map_err(|_| anyhow::anyhow!("the store writer failed"))??;
    let viewer_result = viewer.map(|v| v.join());
    let elapsed = started.elapsed();
    let drops: u64 = counters.sources.iter().map(|s| s.kernel_drops.load(Ordering::Relaxed)).sum();
    let queue_drops: u64 = counters.sources.iter().map(|s| s.queue_drops.load(Ordering::Relaxed)).sum();
    eprintln!(
        "tyto: stopped after {:.1} s: {} packets, {} sessions ({written} rows stored), {drops} dropped by the kernel, {queue_drops} by full queues",
        elapsed.as_secs_f64(),
        report.packets,
        report.sessions(),
    );
    for w in &report.workers {
        if let Some(e) = &w.first_pcap_error {
            eprintln!("tyto: warning: {} packets could not be stored: {e}", w.pcap_write_errors.max(1));
        }
    }
    if let Some(r) = viewer_result {
        r.map_err(|_| anyhow::anyhow!("the viewer failed"))?.context("the viewer")?;
    }
    Ok(ExitCode::SUCCESS)
}

/// How long a stopping capture waits for the store to take the rows still waiting.
const STOP_SPOOL_WAIT: Duration = Duration::from_secs(30);

/// The thread between the workers and the store: session rows as they come (through
/// the detectors and log outputs), pcap files as they close, and retention on its
/// schedule. It never waits on the store: everything goes into the store's
/// [`RowQueue`], whose own thread writes it (spilling rows to disk while the store
/// is behind), so a slow store costs rows in a spool, never packets.
struct StoreWriter {
    queue: RowQueue,
    outputs: crate::commands::RowConsumers,
    node: String,
    pcap_dir: PcapDir,
    cfg: Config,
}

impl StoreWriter {
    /// Runs until both channels close; returns the rows stored.
    fn run(mut self, records: Receiver<Vec<SessionRecord>>, files: Receiver<Vec<WrittenFile>>) -> Result<u64> {
        let every = Duration::from_secs(self.cfg.retention.check_every_s);
        let mut next_check = Instant::now();
        let (mut records_open, mut files_open) = (true, true);
        while records_open || files_open {
            if Instant::now() >= next_check {
                next_check = Instant::now() + every;
                self.retention();
            }
            let wait = next_check.saturating_duration_since(Instant::now()).min(Duration::from_secs(1));
            let (no_rows, no_files) = (crossbeam_channel::never(), crossbeam_channel::never());
            select! {
                recv(if records_open { &records } else { &no_rows }) -> batch => match batch {
                    Ok(mut rows) => {
                        let alerts = self.outputs.sessions(&mut rows, true);
                        self.queue.add_alerts(alerts);
                        self.queue.push(rows);
                    }
                    Err(_) => records_open = false,
                },
                recv(if files_open { &files } else { &no_files }) -> batch => match batch {
                    Ok(done) => self.queue.add_files(crate::commands::file_rows(&self.node, &done)),
                    Err(_) => files_open = false,
                },
                default(wait) => {}
            }
        }
        self.outputs.finish();
        let counters = self.queue.counters();
        let left = self.queue.flush(STOP_SPOOL_WAIT);
        let mut store = self.queue.finish()?;
        if left > 0 {
            eprintln!("tyto: {left} session rows still wait in the row spool; the next start stores them first");
        }
        match store.deliver_pending(STOP_SPOOL_WAIT) {
            Ok(0) => {}
            Ok(held) => eprintln!(
                "tyto: {held} session rows still wait in the spool for {}; the next start sends them first",
                store.describe()
            ),
            Err(e) => eprintln!("tyto: error: sending the spool: {e}"),
        }
        let get = QueueCounters::get;
        if get(&counters.dropped_rows) > 0 {
            eprintln!(
                "tyto: warning: {} session rows were dropped because the row spool was full (their packets are kept)",
                get(&counters.dropped_rows)
            );
        }
        if get(&counters.failed_appends) > 0 {
            bail!("{} writes to the store failed (see the errors above)", get(&counters.failed_appends));
        }
        Ok(get(&counters.stored_rows))
    }

    fn retention(&mut self) {
        let r = &self.cfg.retention;
        let data_dir = self.cfg.data_dir.clone();
        let total = tyto_pcapstore::disk_space(&data_dir).map_or(0, |(_, t)| t);
        let min_free = ((r.min_free_percent / 100.0) * total as f64).max(r.min_free_gib * (1u64 << 30) as f64) as u64;
        let policy = RetentionPolicy {
            min_free_bytes: min_free,
            max_age: (r.max_pcap_age_days > 0.0).then(|| Duration::from_secs_f64(r.max_pcap_age_days * 86_400.0)),
        };
        match tyto_pcapstore::enforce_retention(&self.pcap_dir, &policy, SystemTime::now(), &mut || {
            tyto_pcapstore::disk_space(&data_dir).map(|(free, _)| free)
        }) {
            Ok(out) => {
                if !out.deleted.is_empty() {
                    let bytes: u64 = out.deleted.iter().map(|f| f.bytes).sum();
                    eprintln!(
                        "tyto: retention deleted {} pcap files ({} MiB), oldest first",
                        out.deleted.len(),
                        bytes >> 20
                    );
                    self.queue.remove_files(&self.node, out.deleted.iter().map(|f| f.id).collect());
                }
                if out.still_short {
                    eprintln!(
                        "tyto: warning: free space is under the retention limit ({} MiB) and only files being written are left",
                        min_free >> 20
                    );
                }
            }
            Err(e) => eprintln!("tyto: error: retention: {e}"),
        }
        if r.max_session_age_days > 0.0 {
            self.queue.expire_sessions(now_ns().saturating_sub((r.max_session_age_days * 86_400e9) as i64));
        }
    }
}

/// `tyto config check FILE`: validates and prints the effective configuration.
pub fn check_config(path: &Path) -> Result<ExitCode> {
    let cfg = Config::load(path)?;
    print!("{}", cfg.to_toml());
    Ok(ExitCode::SUCCESS)
}
