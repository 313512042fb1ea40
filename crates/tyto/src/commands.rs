use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use crossbeam_channel::{bounded, Receiver, RecvTimeoutError};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Map, Value};
use tyto_dissect::Dissectors;
use tyto_flow::{PipelineConfig, Progress, RunReport};
use tyto_pcapstore::{decode_positions, mixed_link_types, ExportWriter, PacketReader, PcapDir, RotationPolicy};
use tyto_query::{compile, parse_when};
use tyto_schema::time::now_ns;
use tyto_schema::{record_to_json, DataDir, FieldDef, SessionRecord, FIELDS, FIELD_SETS};
use tyto_server::csv;
use tyto_store::{FileRow, InputFile, ListQuery, QueueCounters, ReaderBox, RowQueue, SessionWriter, StoreUrl};

use crate::{FilterArgs, FlowArgs};

/// Row batches queued between the workers and the store.
const RECORD_QUEUE: usize = 64;

/// Runs the pipeline over `inputs` with a progress bar; rows go to `consume` on
/// its own thread, whose result comes back with the run's report.
pub fn run_with_progress<T: Send + 'static>(
    inputs: &[PathBuf],
    cfg: &PipelineConfig,
    consume: impl FnOnce(Receiver<Vec<SessionRecord>>) -> T + Send + 'static,
) -> Result<(RunReport, T, Duration)> {
    let files = tyto_capture::expand_inputs(inputs).context("listing the inputs")?;
    if files.is_empty() {
        bail!(
            "no capture files found in {}",
            inputs.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
        );
    }
    let total: u64 = files.iter().filter_map(|f| std::fs::metadata(f).ok()).map(|m| m.len()).sum();
    let (tx, rx) = bounded(RECORD_QUEUE);
    let consumer = thread::spawn(move || consume(rx));
    let progress = Arc::new(Progress::default());
    let bar = if io::stderr().is_terminal() { ProgressBar::new(total) } else { ProgressBar::hidden() };
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {bytes}/{total_bytes} {msg} [{elapsed_precise}, ETA {eta}]")
            .expect("valid template"),
    );
    let started = Instant::now();
    let report = thread::scope(|s| {
        let p = progress.clone();
        let bar2 = bar.clone();
        // The bar's thread waits on a channel rather than sleeping, so a short run
        // ends when the pipeline does, not up to one refresh period later.
        let (done, done_rx) = bounded::<()>(1);
        s.spawn(move || loop {
            let packets = p.packets.load(Ordering::Relaxed);
            let secs = started.elapsed().as_secs_f64().max(1e-3);
            bar2.set_position(p.bytes.load(Ordering::Relaxed).min(total));
            bar2.set_message(format!(
                "{packets} packets ({:.0}/s), {} files",
                packets as f64 / secs,
                p.files_done.load(Ordering::Relaxed)
            ));
            if done_rx.recv_timeout(Duration::from_millis(200)) != Err(RecvTimeoutError::Timeout) {
                break;
            }
        });
        let report = tyto_flow::run(&files, cfg, tx, &progress);
        let _ = done.send(());
        report
    });
    bar.finish_and_clear();
    let elapsed = started.elapsed();
    let out = consumer.join().map_err(|_| anyhow::anyhow!("the session writer failed"))?;
    Ok((report, out, elapsed))
}

fn pipeline_config(
    node: &str,
    flow: &FlowArgs,
    pcap: Option<(PcapDir, RotationPolicy)>,
    dissectors: Dissectors,
    intel: Option<&Arc<tyto_enrich::intel::Intel>>,
) -> Result<PipelineConfig> {
    let enrich = crate::config::enrichment(flow.geoip.open()?, intel, flow.community_id);
    Ok(PipelineConfig {
        flow: flow.flow_config(),
        workers: flow.workers.max(1),
        node: node.to_string(),
        pcap,
        analyzers: Arc::new(dissectors),
        enrich,
    })
}

/// Prints what went wrong per file and overall; true when every file read cleanly.
fn report_problems(report: &RunReport) -> bool {
    let mut clean = true;
    for f in &report.files {
        if let Some(e) = &f.error {
            clean = false;
            eprintln!("tyto: warning: {e}");
        }
    }
    if report.decode_errors > 0 {
        eprintln!(
            "tyto: note: {} frames could not be decoded (e.g. {}); they are stored in sessions of their own (protocols == undecoded)",
            report.decode_errors,
            report.decode_error_examples.join("; ")
        );
    }
    if report.unsupported_link_types > 0 {
        eprintln!(
            "tyto: note: {} frames of unsupported link types are stored undecoded (protocols == undecoded)",
            report.unsupported_link_types
        );
    }
    let budget: u64 = report.workers.iter().map(|w| w.held_budget_full).sum();
    if budget > 0 {
        eprintln!(
            "tyto: note: {budget} out-of-order TCP segments found the workers' budget for held data spent; their holes were given up as gaps ([flow] tcp_max_held_total_mib)"
        );
    }
    let evicted: u64 = report.workers.iter().map(|w| w.evicted).sum();
    if evicted > 0 {
        eprintln!("tyto: note: the session table was full {evicted} times; the least recently seen sessions were written early (--max-sessions)");
    }
    if report.fragments_abandoned > 0 {
        eprintln!(
            "tyto: note: {} fragmented datagrams never completed; their fragments were kept as packets of their address pair",
            report.fragments_abandoned
        );
    }
    for w in &report.workers {
        if let Some(e) = &w.first_pcap_error {
            clean = false;
            eprintln!("tyto: warning: {} packets could not be stored: {e}", w.pcap_write_errors.max(1));
        }
    }
    clean
}

/// What every written row goes through besides the store: the detectors (their
/// alerts logged and handed to the alert sinks) and the log outputs.
pub struct RowConsumers {
    detectors: tyto_detect::Detectors,
    sinks: tyto_detect::AlertSinks,
    outputs: tyto_outputs::Outputs,
}

/// How long alert sinks may keep retrying at the end of a run.
const SINK_GRACE: Duration = Duration::from_secs(20);

impl RowConsumers {
    pub fn start(config: &crate::config::Config) -> Result<RowConsumers> {
        let detectors =
            tyto_detect::Detectors::new(config.detect.clone()).map_err(|e| anyhow::anyhow!("detect: {e}"))?;
        let sinks = tyto_detect::AlertSinks::start(&config.alerts).map_err(|e| anyhow::anyhow!("{e}"))?;
        let outputs = tyto_outputs::Outputs::start(&config.output).map_err(anyhow::Error::msg)?;
        Ok(RowConsumers { detectors, sinks, outputs })
    }

    /// The alerts these rows raise, already queued for the sinks (`log` prints each);
    /// the rows, with what the detectors found of them (a beacon's calls marked
    /// `periodic-flow`), are queued for the log outputs.
    pub fn sessions(&mut self, rows: &mut [SessionRecord], log: bool) -> Vec<tyto_schema::AlertRecord> {
        let mut alerts = Vec::new();
        for r in rows.iter_mut() {
            let judged = self.detectors.judge(r);
            if judged.periodic {
                tyto_dissect::risk::add_assessed(r, tyto_dissect::risk::Risk::PeriodicFlow);
            }
            alerts.extend(judged.alerts);
        }
        for a in &alerts {
            if log {
                eprintln!("tyto: alert: {} {}: {}", a.detector, a.source, a.message);
            }
            self.sinks.send(a);
        }
        if !self.outputs.is_empty() {
            // Their documents are built on the outputs' own thread.
            self.outputs.sessions(Arc::new(rows.to_vec()));
        }
        alerts
    }

    pub fn sink_counters(&self) -> Vec<Arc<tyto_detect::SinkCounters>> {
        self.sinks.counters()
    }

    pub fn output_counters(&self) -> Vec<Arc<tyto_outputs::OutputCounters>> {
        self.outputs.counters()
    }

    /// Lets the sinks and outputs deliver what is queued (within a grace period)
    /// and says what could not be delivered.
    pub fn finish(mut self) {
        let counters = self.sinks.counters();
        let suppressed = self.detectors.suppressed();
        self.sinks.close(SINK_GRACE);
        self.outputs.close();
        if suppressed > 0 {
            eprintln!("tyto: note: {suppressed} alerts over detect.max_alerts_per_minute were not raised");
        }
        for c in counters {
            let load = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
            let (sent, failed, dropped) = (load(&c.sent), load(&c.failed), load(&c.dropped));
            if failed + dropped > 0 {
                eprintln!(
                    "tyto: warning: alert sink {}: {sent} alerts sent, {failed} failed after retries, {dropped} dropped (queue full)",
                    c.name
                );
            }
        }
        for c in self.outputs.counters() {
            let [sent, retries, rejected, dropped, _] = c.get().map(|(_, v)| v);
            eprintln!(
                "tyto: export to {}: {sent} records sent, {rejected} refused, {dropped} dropped, {retries} retries",
                c.label
            );
        }
    }
}

/// The store's records of pcap files a run wrote.
pub fn file_rows(node: &str, files: &[tyto_pcapstore::WrittenFile]) -> Vec<FileRow> {
    files
        .iter()
        .map(|f| FileRow {
            id: f.id,
            node: node.to_string(),
            path: f.path.display().to_string(),
            link_type: f.link_type,
            packets: f.packets,
            bytes: f.bytes,
            first_ns: f.first_ns,
            last_ns: f.last_ns,
        })
        .collect()
}

fn rate(n: u64, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64().max(1e-9)
}

pub fn ingest(
    inputs: &[PathBuf],
    data_dir: &Path,
    store_url: &StoreUrl,
    node: &str,
    flow: &FlowArgs,
    force: bool,
    config: &crate::config::Config,
) -> Result<ExitCode> {
    crate::config::validate_node(node)?;
    std::fs::create_dir_all(data_dir).with_context(|| format!("creating {}", data_dir.display()))?;
    let pcap_dir = PcapDir::open(&DataDir::new(data_dir).pcap(), node).context("opening the pcap folder")?;
    let store = match store_url.open_writer(data_dir, node) {
        Ok(s) => s,
        Err(e) if e.to_string().contains("Could not set lock") => bail!(
            "the session store {} is held by another Tyto process (a `tyto serve` or `tyto run`); \
             send the files to it instead: tyto ingest --server http://HOST:PORT --user NAME FILE…\n({e})",
            store_url.display(data_dir)
        ),
        Err(e) => return Err(e).with_context(|| format!("opening the session store {}", store_url.display(data_dir))),
    };
    // The same file twice would store its sessions twice: skip what was ingested.
    let mut todo = Vec::new();
    let mut identities = Vec::new();
    for path in tyto_capture::expand_inputs(inputs).context("listing the inputs")? {
        let identity = InputFile::of(&path).ok();
        if let (false, Some(id)) = (force, &identity) {
            if store.has_input(id)? {
                eprintln!("tyto: skipping {} (ingested already; --force ingests it again)", path.display());
                continue;
            }
        }
        identities.push(identity);
        todo.push(path);
    }
    if todo.is_empty() {
        eprintln!("tyto: nothing new to ingest");
        return Ok(ExitCode::SUCCESS);
    }
    let inputs = &todo[..];
    let mut outputs = RowConsumers::start(config)?;
    let intel = config.open_intel()?;
    let cfg = pipeline_config(
        node,
        flow,
        Some((pcap_dir, RotationPolicy::default())),
        Dissectors::storing(),
        intel.as_ref(),
    )?;
    // The store writes on its own thread, taking whatever waits at once, so the
    // pipeline never waits on it and the last rows are not a long tail.
    let queue_cfg = config.queue_config_in(data_dir);
    let queue = RowQueue::start(store, queue_cfg)?;
    let counters = queue.counters();
    let (report, (alerts, queue), elapsed) = run_with_progress(inputs, &cfg, move |rx| {
        // Detectors see every session as it is written, in packet time.
        let mut alerts = 0usize;
        for mut batch in rx {
            let raised = outputs.sessions(&mut batch, false);
            alerts += raised.len();
            queue.add_alerts(raised);
            queue.push(batch);
        }
        outputs.finish();
        (alerts, queue)
    })?;
    // The time reported runs until the store holds every row, not only until the
    // last packet was read.
    let tail = Instant::now();
    queue.flush(Duration::from_secs(u64::MAX / 4));
    let mut store = queue.finish()?;
    let get = QueueCounters::get;
    if get(&counters.failed_appends) > 0 {
        bail!("writing sessions to the store: {} writes failed (see the errors above)", get(&counters.failed_appends));
    }
    if get(&counters.dropped_rows) > 0 {
        eprintln!(
            "tyto: warning: {} session rows were dropped because the row spool was full ([queue] spool_mib)",
            get(&counters.dropped_rows)
        );
    }
    if alerts > 0 {
        eprintln!("tyto: {alerts} alerts raised (`tyto alerts` lists them)");
    }
    let rows = get(&counters.stored_rows);
    deliver_spool(store.as_mut())?;
    let files = file_rows(node, &report.pcap_files);
    store.add_files(&files).context("recording the pcap files")?;
    for (outcome, identity) in report.files.iter().zip(&identities) {
        if let (None, Some(id)) = (&outcome.error, identity) {
            store.add_input(id, outcome.packets).context("recording the input file")?;
        }
    }
    // Closing the store writes what it still holds in memory (DuckDB's checkpoint).
    drop(store);
    let elapsed = elapsed + tail.elapsed();
    let clean = report_problems(&report);
    eprintln!(
        "ingested {} packets ({} bytes) from {} files into {} session rows in {:.2}s ({:.0} packets/s); data in {}",
        report.packets,
        report.bytes,
        report.files.len(),
        rows,
        elapsed.as_secs_f64(),
        rate(report.packets, elapsed),
        store_url.display(data_dir)
    );
    Ok(if clean { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

pub fn dump(inputs: &[PathBuf], node: &str, flow: &FlowArgs) -> Result<ExitCode> {
    crate::config::validate_node(node)?;
    let cfg = pipeline_config(node, flow, None, Dissectors::default(), None)?;
    let (report, result, _) = run_with_progress(inputs, &cfg, |rx| -> io::Result<()> {
        let stdout = io::stdout();
        let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
        let mut failed = None;
        for batch in rx {
            if failed.is_some() {
                continue;
            }
            for rec in batch {
                let line = record_to_json(&rec);
                if let Err(e) =
                    serde_json::to_writer(&mut out, &line).map_err(io::Error::from).and_then(|()| out.write_all(b"\n"))
                {
                    failed = Some(e);
                    break;
                }
            }
        }
        match failed {
            Some(e) => Err(e),
            None => out.flush(),
        }
    })?;
    match result {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {}
        other => other.context("writing to standard output")?,
    }
    Ok(if report_problems(&report) { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Format {
    Table,
    Ndjson,
    Csv,
}

/// How long `ingest` waits at its end for ClickHouse to take rows it spooled.
const INGEST_SPOOL_WAIT: Duration = Duration::from_secs(600);

/// Waits (bounded) for rows held back while ClickHouse was away to be delivered.
fn deliver_spool(store: &mut dyn SessionWriter) -> Result<()> {
    let held = store.deliver_pending(Duration::ZERO)?;
    if held == 0 {
        return Ok(());
    }
    eprintln!(
        "tyto: {held} session rows wait for {} in the spool; waiting up to {} s for it (Ctrl-C leaves them for the next run)",
        store.describe(),
        INGEST_SPOOL_WAIT.as_secs()
    );
    let held = store.deliver_pending(INGEST_SPOOL_WAIT)?;
    if held > 0 {
        bail!("{held} session rows still wait in the spool: they are sent first by the next ingest or capture");
    }
    eprintln!("tyto: the spool is delivered");
    Ok(())
}

fn open_existing(data_dir: &Path, store: &StoreUrl) -> Result<ReaderBox> {
    if !store.exists(data_dir) {
        bail!("no session store in {} (run `tyto ingest` first, or pass --data-dir)", data_dir.display());
    }
    store.open_reader(data_dir).with_context(|| format!("opening the session store {}", store.display(data_dir)))
}

/// The node a pcap file's name (`NODE-00000001.pcap`) says wrote it.
fn node_of(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    tyto_pcapstore::parse_file_id(name)?;
    Some(name.rsplit_once('-')?.0.to_string())
}

/// `tyto db init|upgrade|info`.
pub fn db(action: crate::DbAction, data_dir: &Path, store: &StoreUrl) -> Result<ExitCode> {
    match action {
        crate::DbAction::Init | crate::DbAction::Upgrade => {
            let upgrade = matches!(action, crate::DbAction::Upgrade);
            for line in store.migrate(data_dir, upgrade)? {
                println!("{line}");
            }
        }
        crate::DbAction::Expire { before } => {
            let before_ns = parse_time_arg("before", Some(&before), now_ns())?.context("--before: a time")?;
            if !store.exists(data_dir) {
                bail!("no session store in {} (run `tyto ingest` first, or pass --data-dir)", data_dir.display());
            }
            let mut s = store
                .open_writer(data_dir, "")
                .with_context(|| format!("opening the session store {}", store.display(data_dir)))?;
            let n = s.expire_sessions(before_ns)?;
            println!("deleted {n} session rows that ended before {}", tyto_schema::time::format_rfc3339(before_ns));
        }
        crate::DbAction::Info => {
            let s = open_existing(data_dir, store)?;
            let info = s.info()?;
            let width = info.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
            for (k, v) in info {
                println!("{k:<width$}  {v}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn parse_time_arg(name: &str, v: Option<&str>, now: i64) -> Result<Option<i64>> {
    match v {
        None => Ok(None),
        Some(s) => match parse_when(s, now) {
            Some(t) => Ok(Some(t)),
            None => bail!(
                "--{name} {s:?} is not a time: use 2024-05-01, 2024-05-01T13:00:00 (UTC), epoch seconds, or -1d, -2h, -30m"
            ),
        },
    }
}

/// The time range and compiled expression of `sessions` and `count`.
fn list_query(filter: &FilterArgs, limit: usize) -> Result<ListQuery> {
    let now = now_ns();
    let start_ns = parse_time_arg("start", filter.start.as_deref(), now)?;
    let stop_ns = parse_time_arg("stop", filter.stop.as_deref(), now)?;
    let filter = match filter.expr.as_deref() {
        None => None,
        Some(text) => {
            Some(compile(text, now).map_err(|e| anyhow::anyhow!("bad expression: {e}\n{}", e.pointer(text)))?)
        }
    };
    Ok(ListQuery { start_ns, stop_ns, filter, limit, ..ListQuery::default() })
}

/// What `tyto transactions` lists, besides its sessions.
pub struct TransactionsWanted {
    pub kind: Option<String>,
    pub failed: bool,
    pub slowest: Option<usize>,
    pub limit: usize,
    pub format: Format,
}

/// `tyto transactions`: request/answer pairs of the sessions an expression matches.
pub fn transactions(
    data_dir: &Path,
    store_url: &StoreUrl,
    filter: &FilterArgs,
    want: &TransactionsWanted,
) -> Result<ExitCode> {
    let q = tyto_store::TransactionQuery {
        sessions: list_query(filter, 0)?,
        kind: want.kind.clone(),
        failed: want.failed,
        slowest: want.slowest.is_some(),
        limit: want.slowest.unwrap_or(want.limit),
    };
    let store = open_existing(data_dir, store_url)?;
    let rows = store.transactions(&q)?;
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let result = match want.format {
        Format::Ndjson => rows.iter().try_for_each(|r| writeln!(out, "{r}")),
        Format::Csv => {
            let mut text = String::new();
            csv::push_line(&mut text, TRANSACTION_COLUMNS.iter().map(|(_, key)| *key));
            for r in rows.iter().map(|t| transaction_cells(t, false)) {
                let cells: Vec<String> = TRANSACTION_COLUMNS.iter().map(|(_, key)| csv::cell(r.get(*key))).collect();
                csv::push_line(&mut text, cells.iter().map(String::as_str));
            }
            out.write_all(text.as_bytes())
        }
        Format::Table => {
            let flat: Vec<Map<String, Value>> = rows.iter().map(|t| transaction_cells(t, true)).collect();
            write_columns(&mut out, &TRANSACTION_COLUMNS, &flat)
        }
    };
    match result.and_then(|()| out.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {}
        other => other?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Characters of a request shown in the table.
const TABLE_REQUEST_CHARS: usize = 100;

const TRANSACTION_COLUMNS: [(&str, &str); 7] = [
    ("Time", "time"),
    ("Kind", "kind"),
    ("ms", "response-time"),
    ("Request", "request"),
    ("Answer", "answer"),
    ("Node", "node"),
    ("Session", "session"),
];

/// A transaction as one line: its time, what was asked and what came back.
/// `short`: for the table, where a long request is cut (ndjson and csv have it whole).
fn transaction_cells(t: &Value, short: bool) -> Map<String, Value> {
    let fields = &t["fields"];
    let values = |names: &[&str]| -> String {
        let mut parts = Vec::new();
        for n in names {
            for v in fields[*n].as_array().into_iter().flatten() {
                parts.push(v.as_str().map_or_else(|| v.to_string(), str::to_string));
            }
        }
        parts.join(" ")
    };
    let (request, answer): (&[&str], &[&str]) = match t["kind"].as_str().unwrap_or_default() {
        "http" => (&["http.method", "host.http", "http.uri.path"], &["http.statuscode"]),
        "dns" => (&["dns.query.type", "host.dns"], &["dns.status"]),
        "mysql" => (&["mysql.query"], &["mysql.error"]),
        "pgsql" => (&["pgsql.query"], &["pgsql.error"]),
        "tds" => (&["tds.query", "tds.rpc"], &["tds.error"]),
        "redis" => (&["redis.command", "redis.key"], &["redis.error"]),
        "mongodb" => (&["mongodb.command", "mongodb.db", "mongodb.collection"], &["mongodb.error"]),
        _ => (&["memcache.command", "memcache.key"], &["memcache.status"]),
    };
    let mut m = Map::new();
    let time = t["time"].as_f64().map(|ms| tyto_schema::time::format_rfc3339((ms * 1e6) as i64));
    m.insert("time".into(), time.map(Value::from).unwrap_or(Value::Null));
    m.insert("kind".into(), t["kind"].clone());
    m.insert("response-time".into(), t["response-time"].clone());
    m.insert("request".into(), Value::from(values(request)));
    if let Some(Value::String(r)) = m.get_mut("request").filter(|_| short) {
        if let Some((cut, _)) = r.char_indices().nth(TABLE_REQUEST_CHARS) {
            r.truncate(cut);
            r.push('…');
        }
    }
    let mut answer = values(answer);
    if t["answered"].is_null() {
        answer = "(unanswered)".into();
    } else if t["failed"] == Value::Bool(true) && answer.is_empty() {
        answer = "failed".into();
    }
    m.insert("answer".into(), Value::from(answer));
    m.insert("node".into(), t["node"].clone());
    m.insert("session".into(), t["session"].clone());
    m
}

/// `tyto alerts`: alerts raised in a time range, oldest first.
pub fn alerts(
    data_dir: &Path,
    store_url: &StoreUrl,
    start: Option<&str>,
    stop: Option<&str>,
    filter: &crate::AlertFilterArgs,
    limit: usize,
    format: Format,
) -> Result<ExitCode> {
    let q = list_query(&FilterArgs { expr: None, start: start.map(Into::into), stop: stop.map(Into::into) }, limit)?;
    let min_severity = match filter.severity.as_deref() {
        Some(s) => Some(
            tyto_schema::Severity::parse(s)
                .ok_or_else(|| anyhow::anyhow!("--severity is low, medium or high, not '{s}'"))?,
        ),
        None => None,
    };
    let store = open_existing(data_dir, store_url)?;
    let (_, rows) = store.alerts(&tyto_store::AlertQuery {
        start_ns: q.start_ns,
        stop_ns: q.stop_ns,
        detector: filter.detector.clone(),
        source: filter.source.clone(),
        min_severity,
        text: filter.text.clone(),
        offset: 0,
        limit,
        newest_first: false,
    })?;
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    match format {
        Format::Table => {
            writeln!(out, "{:<28} {:<18} {:<7} {:<40} MESSAGE", "TIME", "DETECTOR", "LEVEL", "SOURCE")?;
            for a in &rows {
                let text = |k: &str| a[k].as_str().unwrap_or("").to_string();
                writeln!(
                    out,
                    "{:<28} {:<18} {:<7} {:<40} {}",
                    text("time"),
                    text("detector"),
                    text("severity"),
                    text("source"),
                    text("message")
                )?;
                writeln!(out, "{:<28} evidence: {}", "", text("expression"))?;
            }
        }
        Format::Ndjson | Format::Csv => {
            for a in &rows {
                writeln!(out, "{a}")?;
            }
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

pub fn count(data_dir: &Path, store_url: &StoreUrl, filter: &FilterArgs) -> Result<ExitCode> {
    let q = list_query(filter, 0)?;
    let store = open_existing(data_dir, store_url)?;
    println!("{}", store.count_matching(&q)?);
    Ok(ExitCode::SUCCESS)
}

pub fn sessions(
    data_dir: &Path,
    store_url: &StoreUrl,
    filter: &FilterArgs,
    limit: usize,
    format: Format,
) -> Result<ExitCode> {
    let q = list_query(filter, limit)?;
    let store = open_existing(data_dir, store_url)?;
    let rows = store.list(&q)?;
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let result = match format {
        Format::Ndjson => rows.iter().try_for_each(|r| writeln!(out, "{}", Value::Object(r.clone()))),
        Format::Csv => write_csv(&mut out, &rows),
        Format::Table => write_table(&mut out, &rows),
    };
    match result.and_then(|()| out.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {}
        other => other?,
    }
    Ok(ExitCode::SUCCESS)
}

fn write_csv(out: &mut impl Write, rows: &[Map<String, Value>]) -> io::Result<()> {
    let fields: Vec<&FieldDef> = FIELDS.iter().filter(|f| f.in_dump).collect();
    let mut text = csv::header(&fields);
    for r in rows {
        csv::push_row(&mut text, &fields, r);
    }
    out.write_all(text.as_bytes())
}

fn write_table(out: &mut impl Write, rows: &[Map<String, Value>]) -> io::Result<()> {
    write_columns(out, &SESSION_COLUMNS, rows)
}

const SESSION_COLUMNS: [(&str, &str); 10] = [
    ("Start", "starttime"),
    ("Stop", "stoptime"),
    ("Src IP", "ip.src"),
    ("Sport", "port.src"),
    ("Dst IP", "ip.dst"),
    ("Dport", "port.dst"),
    ("Packets", "packets"),
    ("Bytes", "bytes"),
    ("Protocols", "protocols"),
    ("ID", "id"),
];

/// Rows as aligned columns of (heading, key).
fn write_columns(out: &mut impl Write, cols: &[(&str, &str)], rows: &[Map<String, Value>]) -> io::Result<()> {
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            cols.iter()
                .map(|(_, f)| {
                    let c = csv::cell(r.get(*f));
                    // Times to the second in the table; the full value is in ndjson/csv.
                    if (f.ends_with("time") && *f != "response-time") && c.len() > 19 {
                        c[..19].replace('T', " ")
                    } else {
                        c
                    }
                })
                .collect()
        })
        .collect();
    let widths: Vec<usize> = cols
        .iter()
        .enumerate()
        .map(|(i, (h, _))| table.iter().map(|r| r[i].len()).max().unwrap_or(0).max(h.len()))
        .collect();
    let line = |cells: Vec<&str>| -> String {
        cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect::<Vec<_>>().join("  ").trim_end().to_string()
    };
    writeln!(out, "{}", line(cols.iter().map(|(h, _)| *h).collect()))?;
    for r in &table {
        writeln!(out, "{}", line(r.iter().map(String::as_str).collect()))?;
    }
    Ok(())
}

pub fn export(data_dir: &Path, store_url: &StoreUrl, ids: &[String], output: &Path) -> Result<ExitCode> {
    let store = open_existing(data_dir, store_url)?;
    let found = store.packet_positions(ids)?;
    let missing: Vec<&String> = ids.iter().filter(|id| !found.iter().any(|f| &f.id == *id)).collect();
    if !missing.is_empty() {
        bail!("no session with id {}", missing.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "));
    }
    let node_dir = PcapDir::open(&DataDir::new(data_dir).pcap(), "local")?;
    if !store_url.is_embedded() {
        let here: std::collections::BTreeSet<String> =
            node_dir.files()?.iter().filter_map(|f| node_of(&f.path)).collect();
        if let Some(s) = found.iter().find(|s| !here.contains(&s.node)) {
            bail!(
                "the packets of session {} are on node {}: export them from a viewer (`/api/sessions.pcap?ids=…`), which fetches them",
                s.id,
                s.node
            );
        }
    }
    let mut reader = PacketReader::new(node_dir);
    let positions: Vec<_> = found.iter().flat_map(|s| decode_positions(&s.positions)).collect();
    let kept = reader.read_kept(&positions, usize::MAX).context("reading the sessions' packets")?;
    if kept.gone > 0 {
        if kept.packets.is_empty() {
            eprintln!("tyto: {}; nothing left to export", kept.gone_message());
            return Ok(ExitCode::from(1));
        }
        eprintln!("tyto: warning: {}; exporting the {} that remain", kept.gone_message(), kept.packets.len());
    }
    let packets = kept.packets;
    let target = ExportTarget::open(output)?;
    let mut w = ExportWriter::for_link_types(BufWriter::new(target.writer()?), mixed_link_types(&packets))?;
    for p in &packets {
        w.write(p)?;
    }
    w.finish()?;
    target.finish()?;
    eprintln!("wrote {} packets of {} sessions to {}", packets.len(), found.len(), output.display());
    Ok(ExitCode::SUCCESS)
}

/// Where an export goes. A regular file is written beside itself and renamed into
/// place, so no reader sees half a capture; `-` (standard output), a pipe or a
/// device (`/dev/null`) is written as it is — renaming over those would replace
/// them with a file.
struct ExportTarget {
    output: PathBuf,
    /// The side file renamed onto `output` at the end, for a regular file.
    side: Option<PathBuf>,
}

impl ExportTarget {
    fn open(output: &Path) -> Result<ExportTarget> {
        let special = output == Path::new("-") || std::fs::metadata(output).is_ok_and(|m| !m.is_file() && !m.is_dir());
        let side = (!special).then(|| output.with_extension("pcap.partial"));
        Ok(ExportTarget { output: output.to_path_buf(), side })
    }

    fn writer(&self) -> Result<Box<dyn Write + Send>> {
        Ok(match &self.side {
            Some(side) => Box::new(File::create(side).with_context(|| format!("creating {}", side.display()))?),
            None if self.output == Path::new("-") => Box::new(io::stdout()),
            None => Box::new(
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(&self.output)
                    .with_context(|| format!("opening {}", self.output.display()))?,
            ),
        })
    }

    fn finish(self) -> Result<()> {
        if let Some(side) = &self.side {
            std::fs::rename(side, &self.output).with_context(|| format!("writing {}", self.output.display()))?;
        }
        Ok(())
    }
}

/// Counts the bytes written through it (an export's size, whatever it went to).
struct Counted<W> {
    inner: W,
    bytes: Arc<std::sync::atomic::AtomicU64>,
}

impl<W: Write> Write for Counted<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// `tyto export --expr`: every packet of every matching session, in time order, as
/// the viewer's `/api/sessions.pcap` writes it (pcapng when link types mix).
pub fn export_matching(data_dir: &Path, store_url: &StoreUrl, filter: &FilterArgs, output: &Path) -> Result<ExitCode> {
    let store = open_existing(data_dir, store_url)?;
    let q = list_query(filter, 0)?;
    let nodes = tyto_server::Nodes::new(tyto_server::NodesConfig {
        own: "local".into(),
        all_local: store_url.is_embedded(),
        ..tyto_server::NodesConfig::default()
    });
    let target = ExportTarget::open(output)?;
    let started = Instant::now();
    let written = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let out = Counted { inner: target.writer()?, bytes: written.clone() };
    let packets = tyto_server::write_pcap(store.as_ref(), &q, &nodes, data_dir, BufWriter::with_capacity(1 << 20, out))
        .map_err(|e| anyhow::anyhow!("exporting: {e}"))?;
    target.finish()?;
    let bytes = written.load(Ordering::Relaxed);
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "wrote {packets} packets ({bytes} bytes) to {} in {secs:.2} s ({:.0} MB/s)",
        output.display(),
        bytes as f64 / secs.max(1e-9) / 1e6
    );
    Ok(ExitCode::SUCCESS)
}

/// The catalogue, as a table or as JSON (one object per field, then per field set).
pub fn fields(json: bool) -> Result<ExitCode> {
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut lines: Vec<String> = Vec::new();
    if json {
        lines.extend(FIELDS.iter().filter(|f| f.in_dump).map(|f| f.to_json().to_string()));
        lines.extend(FIELD_SETS.iter().map(|s| s.to_json().to_string()));
    } else {
        lines.push(format!("{:<24} {:<12} {:<10} {:<36} DESCRIPTION", "NAME", "TYPE", "GROUP", "ECS"));
        for f in FIELDS.iter().filter(|f| f.in_dump) {
            let kind = format!("{}{}", f.kind.name(), if f.multi { "[]" } else { "" });
            let aliases =
                if f.aliases.is_empty() { String::new() } else { format!(" (also: {})", f.aliases.join(", ")) };
            lines.push(format!(
                "{:<24} {:<12} {:<10} {:<36} {}{aliases}",
                f.name,
                kind,
                f.group,
                f.ecs.unwrap_or("-"),
                f.description
            ));
        }
        lines.push(String::new());
        lines.push("Names for several fields (== matches when any does, != when none does):".into());
        for s in FIELD_SETS {
            lines.push(format!(
                "{:<24} {:<12} {:<10} {}: {}",
                s.name,
                s.kind.name(),
                s.group,
                s.description,
                s.members.join(", ")
            ));
        }
    }
    for l in lines {
        if writeln!(out, "{l}").is_err() {
            break;
        }
    }
    let _ = out.flush();
    Ok(ExitCode::SUCCESS)
}
