//! Capture files into a store another Tyto process owns.
//!
//! [`PipelineIngester`] is what a viewer (`tyto serve`, `tyto run`) does with an
//! uploaded file: the same pipeline as `tyto ingest`, its rows pushed into the
//! process's own row queue (so they appear while the file is read) and its packets
//! into the process's pcap folder. [`send`] is `tyto ingest --server URL`: each file
//! goes to such a viewer's `/api/upload`, and its progress is followed until its
//! sessions are stored.

use std::io::{IsTerminal as _, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};
use base64::Engine as _;
use crossbeam_channel::bounded;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;
use tyto_flow::{PipelineConfig, Progress};
use tyto_pcapstore::{PcapDir, RotationPolicy};
use tyto_schema::DataDir;
use tyto_server::{Ingester, UploadJob};
use tyto_store::{RowPusher, RowQueue};

use crate::commands::{file_rows, RowConsumers};
use crate::config::Config;

/// Row batches queued between an upload's workers and the row queue.
const RECORD_QUEUE: usize = 64;
/// How long an upload's ingest waits for its last rows to be stored.
const STORE_WAIT: Duration = Duration::from_secs(600);

/// Reads uploaded files with this process's configuration into its store.
pub struct PipelineIngester {
    pub config: Config,
    pub node: String,
    /// The process's intelligence sources, shared with its capture.
    pub intel: Option<Arc<tyto_enrich::intel::Intel>>,
    pub pcap_dir: PcapDir,
    pub rotation: RotationPolicy,
    pub rows: RowPusher,
}

impl Ingester for PipelineIngester {
    fn ingest(&self, path: &Path, job: &UploadJob) -> Result<(), String> {
        // Errors name the file as it was sent, not where this process keeps it.
        self.run(path, job).map_err(|e| format!("{e:#}").replace(&path.display().to_string(), &job.name))
    }
}

impl PipelineIngester {
    fn run(&self, path: &Path, job: &UploadJob) -> Result<()> {
        let mut outputs = RowConsumers::start(&self.config)?;
        let cfg = PipelineConfig {
            flow: self.config.flow_config(),
            workers: self.config.flow.workers as usize,
            node: self.node.clone(),
            pcap: Some((self.pcap_dir.clone(), self.rotation)),
            analyzers: Arc::new(tyto_dissect::Dissectors::storing()),
            enrich: crate::config::enrichment(
                self.config.geoip.open()?,
                self.intel.as_ref(),
                self.config.flow.community_id,
            ),
        };
        let (tx, rx) = bounded::<Vec<tyto_schema::SessionRecord>>(RECORD_QUEUE);
        let progress = Progress::default();
        let done = AtomicBool::new(false);
        let rows = &self.rows;
        let (report, mark) = thread::scope(|s| {
            let consumer = s.spawn(|| {
                let mut mark = 0;
                for mut batch in rx {
                    for r in &mut batch {
                        for t in &job.tags {
                            if !r.tags.contains(t) {
                                r.tags.push(t.clone());
                            }
                        }
                    }
                    rows.add_alerts(outputs.sessions(&mut batch, false));
                    job.sessions.fetch_add(batch.len() as u64, Ordering::Relaxed);
                    mark = rows.push(batch);
                }
                mark
            });
            s.spawn(|| {
                while !done.load(Ordering::Relaxed) {
                    job.read_bytes.store(progress.bytes.load(Ordering::Relaxed), Ordering::Relaxed);
                    job.packets.store(progress.packets.load(Ordering::Relaxed), Ordering::Relaxed);
                    thread::sleep(Duration::from_millis(100));
                }
            });
            let report = tyto_flow::run(&[path.to_path_buf()], &cfg, tx, &progress);
            done.store(true, Ordering::Relaxed);
            (report, consumer.join().unwrap_or(0))
        });
        outputs.finish();
        // The reader counts records; a file read to its end was read whole (headers too).
        let read_whole = report.files.first().is_some_and(|f| f.error.is_none());
        let read = if read_whole {
            job.received_bytes.load(Ordering::Relaxed)
        } else {
            progress.bytes.load(Ordering::Relaxed)
        };
        job.read_bytes.store(read, Ordering::Relaxed);
        job.packets.store(report.packets, Ordering::Relaxed);
        rows.add_files(file_rows(&self.node, &report.pcap_files));
        if !rows.wait_done(mark, STORE_WAIT) {
            bail!(
                "the store did not take this file's sessions within {} s; they wait in its queue",
                STORE_WAIT.as_secs()
            );
        }
        if let Some(e) = report.files.first().and_then(|f| f.error.as_ref()) {
            if report.packets == 0 {
                bail!("{e}");
            }
            bail!("{e} (the {} packets before it are stored, with their sessions)", report.packets);
        }
        Ok(())
    }
}

/// `tyto serve`: the viewer over a store this process owns (DuckDB takes one writing
/// process), so it can take uploads; runs until Ctrl-C or SIGTERM.
pub fn serve(server: &tyto_server::ServerConfig, cfg: &Config) -> Result<()> {
    let data_dir = &server.data_dir;
    let store = &server.store;
    if !store.exists(data_dir) {
        bail!("no session store in {} (run `tyto ingest` first, or pass --data-dir)", data_dir.display());
    }
    let node = server.nodes.own.clone();
    let writer = store
        .open_owner(data_dir, &node)
        .with_context(|| format!("opening the session store {}", store.display(data_dir)))?;
    let spool = writer.spool();
    let reader = writer.reader()?;
    let queue = RowQueue::start(writer, cfg.queue_config_in(data_dir))?;
    let mut nodes = server.nodes.clone();
    nodes.all_local = store.is_embedded();
    let mut state = tyto_server::AppState::with_store(data_dir, reader, nodes, server.tls.is_some())?;
    state.spool = spool;
    state.queue = Some(queue.counters());
    let pcap_dir = PcapDir::open(&DataDir::new(data_dir).pcap(), &node).context("opening the pcap folder")?;
    let intel = cfg.open_intel()?;
    state.intel = intel.clone().map(|i| i as Arc<dyn tyto_schema::metrics::Metrics>);
    state.uploads = Some(start_uploads(data_dir, cfg, &node, pcap_dir, queue.pusher(), intel)?);
    state.alerts = Some(queue.pusher());
    let out = tyto_server::serve(server, state, tyto_server::shutdown_signal());
    let left = queue.flush(Duration::from_secs(30));
    if left > 0 {
        eprintln!("tyto: {left} session rows of uploads are left in the row spool; the next start stores them");
    }
    drop(queue.finish());
    out
}

/// The uploads of a viewer that owns its store, read into `rows` and `pcap_dir`.
pub fn start_uploads(
    data_dir: &Path,
    cfg: &Config,
    node: &str,
    pcap_dir: PcapDir,
    rows: RowPusher,
    intel: Option<Arc<tyto_enrich::intel::Intel>>,
) -> Result<Arc<tyto_server::Uploads>> {
    let ingester = PipelineIngester {
        config: cfg.clone(),
        node: node.to_string(),
        intel,
        pcap_dir,
        rotation: cfg.rotation(),
        rows,
    };
    let dir = DataDir::new(data_dir).uploads();
    tyto_server::Uploads::start(&dir, cfg.viewer.upload_limits(), Arc::new(ingester))
        .with_context(|| format!("preparing {}", dir.display()))
}

/// Where `tyto ingest --server` sends files, and as whom.
pub struct Server {
    pub url: String,
    pub user: String,
    pub password: String,
    pub tags: Option<String>,
}

/// Reads a password from `TYTO_PASSWORD`, else a prompt, else one line of standard input.
pub fn password_for(user: &str) -> Result<String> {
    if let Ok(p) = std::env::var("TYTO_PASSWORD") {
        return Ok(p);
    }
    if std::io::stdin().is_terminal() {
        return rpassword::prompt_password(format!("password of {user}: ")).context("reading the password");
    }
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).context("reading the password from standard input")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

/// Counts what is read through it, for the progress bar.
struct Counted<R> {
    inner: R,
    n: Arc<AtomicU64>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let k = self.inner.read(buf)?;
        self.n.fetch_add(k as u64, Ordering::Relaxed);
        Ok(k)
    }
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The text of an error answer (`{"error": …}` or the body as it came).
fn answer_text(resp: &mut ureq::http::Response<ureq::Body>) -> String {
    let text = resp.body_mut().with_config().limit(64 << 10).read_to_string().unwrap_or_default();
    serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_string))
        .unwrap_or(text)
        .trim()
        .to_string()
}

/// `tyto ingest --server URL FILE…`: each file uploaded, then followed until the
/// viewer has stored its sessions.
pub fn send(inputs: &[PathBuf], server: &Server) -> Result<ExitCode> {
    let files = tyto_capture::expand_inputs(inputs).context("listing the inputs")?;
    if files.is_empty() {
        bail!(
            "no capture files found in {}",
            inputs.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
        );
    }
    let base = server.url.trim_end_matches('/').to_string();
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_connect(Some(Duration::from_secs(10)))
        .build()
        .new_agent();
    let auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", server.user, server.password))
    );
    let mut clean = true;
    for path in &files {
        let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_else(|| "upload.pcap".into());
        let size = std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?.len();
        let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
        let sent = Arc::new(AtomicU64::new(0));
        let bar = bar(size, &format!("sending {name}"));
        let mut url = format!("{base}/api/upload?name={}", percent_encode(&name));
        if let Some(t) = &server.tags {
            url.push_str(&format!("&tags={}", percent_encode(t)));
        }
        let started = Instant::now();
        let stop = AtomicBool::new(false);
        let job: Value = thread::scope(|s| -> Result<Value> {
            s.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    bar.set_position(sent.load(Ordering::Relaxed));
                    thread::sleep(Duration::from_millis(100));
                }
            });
            let body = Counted { inner: file, n: sent.clone() };
            let result = agent
                .post(&url)
                .header("authorization", &auth)
                .header("content-type", "application/octet-stream")
                .send(ureq::SendBody::from_owned_reader(body));
            stop.store(true, Ordering::Relaxed);
            let mut resp = result.with_context(|| format!("sending {} to {base}", path.display()))?;
            let status = resp.status().as_u16();
            if status != 202 {
                bail!("{base} refused {} ({status}): {}", path.display(), answer_text(&mut resp));
            }
            let text = resp.body_mut().with_config().limit(64 << 10).read_to_string()?;
            Ok(serde_json::from_str(&text)?)
        })?;
        bar.finish_and_clear();
        let id = job["id"].as_u64().context("the viewer's answer holds no upload id")?;
        let job = follow(&agent, &base, &auth, id, &name)?;
        let get = |k: &str| job[k].as_u64().unwrap_or(0);
        match job["state"].as_str() {
            Some("done") => eprintln!(
                "{name}: {} packets into {} session rows in {:.1} s (upload {id} on {base})",
                get("packets"),
                get("sessions"),
                started.elapsed().as_secs_f64()
            ),
            _ => {
                clean = false;
                eprintln!("tyto: upload of {name} failed: {}", job["error"].as_str().unwrap_or("no reason given"));
            }
        }
    }
    Ok(if clean { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn bar(len: u64, what: &str) -> ProgressBar {
    let bar = if std::io::stderr().is_terminal() { ProgressBar::new(len) } else { ProgressBar::hidden() };
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {bytes}/{total_bytes} {msg} [{elapsed_precise}]")
            .expect("valid template"),
    );
    bar.set_message(what.to_string());
    bar
}

/// Polls an upload until it is done or failed, showing how far its ingest is.
fn follow(agent: &ureq::Agent, base: &str, auth: &str, id: u64, name: &str) -> Result<Value> {
    let mut shown: Option<ProgressBar> = None;
    loop {
        let mut resp = agent
            .get(format!("{base}/api/uploads/{id}"))
            .header("authorization", auth)
            .call()
            .with_context(|| format!("asking {base} how upload {id} goes"))?;
        if resp.status().as_u16() != 200 {
            bail!("{base} answered {} about upload {id}: {}", resp.status().as_u16(), answer_text(&mut resp));
        }
        let job: Value = serde_json::from_str(&resp.body_mut().with_config().limit(64 << 10).read_to_string()?)?;
        let get = |k: &str| job[k].as_u64().unwrap_or(0);
        let b = shown.get_or_insert_with(|| bar(get("bytes"), &format!("ingesting {name}")));
        b.set_position(get("read_bytes"));
        b.set_message(format!("{name}: {} packets, {} sessions", get("packets"), get("sessions")));
        if matches!(job["state"].as_str(), Some("done" | "failed")) {
            b.finish_and_clear();
            return Ok(job);
        }
        thread::sleep(Duration::from_millis(250));
    }
}
