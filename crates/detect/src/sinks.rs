//! Where alerts go besides the store: a webhook (Slack-compatible JSON), syslog
//! (RFC 5424 over UDP, or TCP with RFC 6587 octet counting), a JSON-lines file.
//!
//! Each sink has its own thread and a bounded queue, so a slow or dead sink delays
//! only itself and never whoever raises alerts: a full queue drops the alert and
//! counts it. A failed delivery is retried with doubling pauses, then given up and
//! counted. On close the sinks get a grace period to deliver what is queued; past it,
//! what a failing sink still holds is counted as failed instead of retried.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::net::{TcpStream, ToSocketAddrs, UdpSocket};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use serde::{Deserialize, Serialize};
use tyto_schema::metrics::{metric_name, Family, Metrics, Sample};
use tyto_schema::{AlertRecord, Severity};

/// The `[alerts]` section of the configuration file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SinksConfig {
    pub webhook_url: String,
    pub syslog: String,
    pub syslog_facility: u8,
    pub jsonl: PathBuf,
    pub queue: u32,
    pub attempts: u32,
    pub retry_ms: u32,
    pub timeout_ms: u32,
}

impl Default for SinksConfig {
    fn default() -> Self {
        SinksConfig {
            webhook_url: String::new(),
            syslog: String::new(),
            syslog_facility: 13,
            jsonl: PathBuf::new(),
            queue: 10_000,
            attempts: 5,
            retry_ms: 500,
            timeout_ms: 5_000,
        }
    }
}

impl SinksConfig {
    /// Checks what can be checked without connecting; the message names the setting.
    pub fn check(&self) -> Result<(), String> {
        if self.attempts == 0 || self.queue == 0 || self.timeout_ms == 0 {
            return Err("alerts: attempts, queue and timeout_ms must be at least 1".into());
        }
        if self.syslog_facility > 23 {
            return Err(format!("alerts.syslog_facility is 0 to 23, not {}", self.syslog_facility));
        }
        let url = &self.webhook_url;
        let http = url.starts_with("http://") || url.starts_with("https://");
        if !url.is_empty() && !http {
            return Err(format!("alerts.webhook_url '{url}' is not an http:// or https:// URL"));
        }
        self.syslog_target().map(|_| ())
    }

    fn syslog_target(&self) -> Result<Option<(SyslogTransport, &str)>, String> {
        let s = &self.syslog;
        if s.is_empty() {
            return Ok(None);
        }
        let (transport, target) = if let Some(t) = s.strip_prefix("udp://") {
            (SyslogTransport::Udp, t)
        } else if let Some(t) = s.strip_prefix("tcp://") {
            (SyslogTransport::Tcp(None), t)
        } else {
            return Err(format!("alerts.syslog '{s}' is not udp://HOST:PORT or tcp://HOST:PORT"));
        };
        if target.rsplit_once(':').is_none_or(|(_, p)| p.parse::<u16>().is_err()) {
            return Err(format!("alerts.syslog '{s}' needs a port (udp://HOST:514, tcp://HOST:601)"));
        }
        Ok(Some((transport, target)))
    }
}

/// What one sink did, for the logs, `/api/stats` and `/metrics`.
#[derive(Debug, Default)]
pub struct SinkCounters {
    /// `webhook`, `syslog` or `jsonl`.
    pub name: &'static str,
    pub sent: AtomicU64,
    /// Attempts that failed and were tried again.
    pub retries: AtomicU64,
    /// Alerts given up after every attempt failed.
    pub failed: AtomicU64,
    /// Alerts dropped because the sink's queue was full.
    pub dropped: AtomicU64,
}

type SinkCounter = fn(&SinkCounters) -> &AtomicU64;

/// Each counter of an alert sink once: key (`tyto_alert_sink_KEY_total`), meaning, where.
const SINK_COUNTERS: [(&str, &str, SinkCounter); 4] = [
    ("sent", "Alerts delivered.", |c| &c.sent),
    ("retries", "Deliveries that failed and were tried again.", |c| &c.retries),
    ("failed", "Alerts given up after every attempt failed.", |c| &c.failed),
    ("dropped", "Alerts dropped because the sink's queue was full.", |c| &c.dropped),
];

impl Metrics for SinkCounters {
    fn json(&self) -> serde_json::Value {
        let mut m = serde_json::Map::new();
        m.insert("sink".into(), self.name.into());
        for (key, _, counter) in SINK_COUNTERS {
            m.insert(key.into(), counter(self).load(Ordering::Relaxed).into());
        }
        serde_json::Value::Object(m)
    }

    fn families(&self) -> Vec<Family> {
        SINK_COUNTERS
            .iter()
            .map(|(key, help, counter)| Family {
                name: metric_name("tyto_alert_sink", key, false),
                gauge: false,
                help,
                samples: vec![Sample {
                    labels: vec![("sink", self.name.to_string())],
                    value: counter(self).load(Ordering::Relaxed),
                }],
            })
            .collect()
    }
}

/// One way of delivering an alert; `Err` says why, for the log.
trait Sink: Send {
    fn deliver(&mut self, alert: &AlertRecord) -> Result<(), String>;
}

struct Webhook {
    url: String,
    agent: ureq::Agent,
}

impl Sink for Webhook {
    fn deliver(&mut self, a: &AlertRecord) -> Result<(), String> {
        // Slack (and Mattermost, Teams' Slack-compatible hooks) show `text`; other
        // receivers read the alert itself.
        let body = serde_json::json!({
            "text": format!(
                "[{}] {} from {}: {}\nEvidence: `{}`",
                a.severity.as_str(),
                a.detector,
                a.source,
                a.message,
                a.expression
            ),
            "alert": a.to_json(),
        });
        let resp = self
            .agent
            .post(&self.url)
            .header("Content-Type", "application/json")
            .send(body.to_string())
            .map_err(|e| e.to_string())?;
        let status = resp.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("HTTP {status}"))
        }
    }
}

enum SyslogTransport {
    Udp,
    Tcp(Option<TcpStream>),
}

struct Syslog {
    target: String,
    transport: SyslogTransport,
    facility: u8,
    timeout: Duration,
}

/// RFC 5424 PRINTUSASCII, bounded; "-" when nothing is left.
fn print_ascii(s: &str, max: usize) -> String {
    let v: String = s.chars().filter(|c| c.is_ascii_graphic()).take(max).collect();
    if v.is_empty() {
        "-".into()
    } else {
        v
    }
}

/// One RFC 5424 message. The timestamp is the alert's (packet) time.
fn syslog_line(a: &AlertRecord, facility: u8) -> String {
    let level = match a.severity {
        Severity::High => 2,
        Severity::Medium => 4,
        Severity::Low => 5,
    };
    let mut msg =
        format!("{} {} {}: {} evidence: {}", a.severity.as_str(), a.detector, a.source, a.message, a.expression)
            .replace(['\n', '\r'], " ");
    const MAX_MSG: usize = 4000;
    if msg.len() > MAX_MSG {
        let mut cut = MAX_MSG;
        while !msg.is_char_boundary(cut) {
            cut -= 1;
        }
        msg.truncate(cut);
    }
    format!(
        "<{}>1 {} {} tyto {} {} - {msg}",
        u32::from(facility) * 8 + level,
        tyto_schema::time::format_rfc3339(a.time_ns),
        print_ascii(&a.node, 255),
        std::process::id(),
        print_ascii(&a.detector, 32),
    )
}

impl Syslog {
    fn resolve(&self) -> Result<std::net::SocketAddr, String> {
        self.target
            .to_socket_addrs()
            .map_err(|e| format!("{}: {e}", self.target))?
            .next()
            .ok_or_else(|| format!("{}: no address", self.target))
    }
}

impl Sink for Syslog {
    fn deliver(&mut self, a: &AlertRecord) -> Result<(), String> {
        let line = syslog_line(a, self.facility);
        let addr = self.resolve()?;
        match &mut self.transport {
            SyslogTransport::Udp => {
                let bind = if addr.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" };
                let sock = UdpSocket::bind(bind).map_err(|e| e.to_string())?;
                sock.send_to(line.as_bytes(), addr).map_err(|e| format!("{addr}: {e}"))?;
                Ok(())
            }
            SyslogTransport::Tcp(conn) => {
                if conn.is_none() {
                    let s = TcpStream::connect_timeout(&addr, self.timeout).map_err(|e| format!("{addr}: {e}"))?;
                    s.set_write_timeout(Some(self.timeout)).map_err(|e| e.to_string())?;
                    *conn = Some(s);
                }
                let framed = format!("{} {line}", line.len());
                let result = conn.as_mut().map(|s| s.write_all(framed.as_bytes()).and_then(|()| s.flush()));
                match result {
                    Some(Ok(())) => Ok(()),
                    Some(Err(e)) => {
                        *conn = None;
                        Err(format!("{addr}: {e}"))
                    }
                    None => Err("not connected".into()),
                }
            }
        }
    }
}

struct JsonLines {
    path: PathBuf,
    file: Option<File>,
}

impl JsonLines {
    fn open(path: &PathBuf) -> Result<File, String> {
        OpenOptions::new().create(true).append(true).open(path).map_err(|e| format!("{}: {e}", path.display()))
    }
}

impl Sink for JsonLines {
    fn deliver(&mut self, a: &AlertRecord) -> Result<(), String> {
        if self.file.is_none() {
            self.file = Some(Self::open(&self.path)?);
        }
        let line = format!("{}\n", a.to_json());
        let result = self.file.as_mut().map(|f| f.write_all(line.as_bytes()).and_then(|()| f.flush()));
        match result {
            Some(Ok(())) => Ok(()),
            Some(Err(e)) => {
                self.file = None;
                Err(format!("{}: {e}", self.path.display()))
            }
            None => Err("not open".into()),
        }
    }
}

struct Worker {
    tx: Option<Sender<Arc<AlertRecord>>>,
    thread: Option<JoinHandle<()>>,
    counters: Arc<SinkCounters>,
}

/// The configured sinks, each behind its own queue and thread.
pub struct AlertSinks {
    workers: Vec<Worker>,
    /// Set on close: past it, failing deliveries are not retried.
    deadline: Arc<Mutex<Option<Instant>>>,
}

struct Retry {
    attempts: u32,
    first_pause: Duration,
    deadline: Arc<Mutex<Option<Instant>>>,
}

impl Retry {
    fn past_deadline(&self) -> bool {
        self.deadline.lock().map(|d| d.is_some_and(|d| Instant::now() >= d)).unwrap_or(true)
    }
}

fn run(mut sink: Box<dyn Sink>, rx: Receiver<Arc<AlertRecord>>, counters: Arc<SinkCounters>, retry: Retry) {
    let name = counters.name;
    let mut last_log: Option<Instant> = None;
    let mut log = |msg: String| {
        // One line per 10 s per sink at most: a dead sink must not flood the log.
        if last_log.is_none_or(|at| at.elapsed() >= Duration::from_secs(10)) {
            eprintln!("tyto: warning: alert sink {name}: {msg}");
            last_log = Some(Instant::now());
        }
    };
    for alert in rx {
        let mut pause = retry.first_pause;
        let mut attempt = 1;
        loop {
            match sink.deliver(&alert) {
                Ok(()) => {
                    counters.sent.fetch_add(1, Ordering::Relaxed);
                    break;
                }
                Err(why) if attempt >= retry.attempts || retry.past_deadline() => {
                    counters.failed.fetch_add(1, Ordering::Relaxed);
                    log(format!("gave up an alert after {attempt} attempts: {why}"));
                    break;
                }
                Err(why) => {
                    counters.retries.fetch_add(1, Ordering::Relaxed);
                    log(format!("attempt {attempt} of {} failed ({why}); retrying", retry.attempts));
                    sleep_until_deadline(pause, &retry);
                    pause = (pause * 2).min(Duration::from_secs(30));
                    attempt += 1;
                }
            }
        }
    }
}

/// Sleeps `pause`, cut short by the close deadline.
fn sleep_until_deadline(pause: Duration, retry: &Retry) {
    let until = Instant::now() + pause;
    while Instant::now() < until && !retry.past_deadline() {
        std::thread::sleep((until - Instant::now()).min(Duration::from_millis(50)));
    }
}

impl AlertSinks {
    /// Starts the sinks the configuration names (none: an empty set).
    pub fn start(cfg: &SinksConfig) -> Result<AlertSinks, String> {
        cfg.check()?;
        let timeout = Duration::from_millis(cfg.timeout_ms.into());
        let mut sinks: Vec<(&'static str, Box<dyn Sink>)> = Vec::new();
        if !cfg.webhook_url.is_empty() {
            let agent: ureq::Agent =
                ureq::Agent::config_builder().timeout_global(Some(timeout)).http_status_as_error(false).build().into();
            sinks.push(("webhook", Box::new(Webhook { url: cfg.webhook_url.clone(), agent })));
        }
        if let Some((transport, target)) = cfg.syslog_target()? {
            let facility = cfg.syslog_facility;
            sinks.push(("syslog", Box::new(Syslog { target: target.into(), transport, facility, timeout })));
        }
        if !cfg.jsonl.as_os_str().is_empty() {
            // Opened now, so a path that cannot be written is said at start.
            let file = JsonLines::open(&cfg.jsonl).map_err(|e| format!("alerts.jsonl: {e}"))?;
            sinks.push(("jsonl", Box::new(JsonLines { path: cfg.jsonl.clone(), file: Some(file) })));
        }
        let deadline = Arc::new(Mutex::new(None));
        let workers = sinks
            .into_iter()
            .map(|(name, sink)| {
                let (tx, rx) = crossbeam_channel::bounded(cfg.queue as usize);
                let counters = Arc::new(SinkCounters { name, ..SinkCounters::default() });
                let retry = Retry {
                    attempts: cfg.attempts,
                    first_pause: Duration::from_millis(cfg.retry_ms.into()),
                    deadline: deadline.clone(),
                };
                let c = counters.clone();
                let thread = std::thread::Builder::new()
                    .name(format!("alert-{name}"))
                    .spawn(move || run(sink, rx, c, retry))
                    .map_err(|e| format!("alerts: starting the {name} sink: {e}"))?;
                Ok(Worker { tx: Some(tx), thread: Some(thread), counters })
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(AlertSinks { workers, deadline })
    }

    /// Queues an alert for every sink; never blocks (a full queue counts a drop).
    pub fn send(&self, alert: &AlertRecord) {
        let alert = Arc::new(alert.clone());
        for w in &self.workers {
            if w.tx.as_ref().is_some_and(|tx| tx.try_send(alert.clone()).is_err()) {
                w.counters.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    pub fn counters(&self) -> Vec<Arc<SinkCounters>> {
        self.workers.iter().map(|w| w.counters.clone()).collect()
    }

    /// Delivers what is queued, retrying for at most `grace`; then stops the threads.
    pub fn close(mut self, grace: Duration) {
        self.hang_up(Instant::now() + grace);
        for w in &mut self.workers {
            if let Some(t) = w.thread.take() {
                let _ = t.join();
            }
        }
    }

    /// No more alerts, and no retries past `deadline` (an earlier one stands): each
    /// thread ends once its queue is worked off.
    fn hang_up(&mut self, deadline: Instant) {
        if let Ok(mut d) = self.deadline.lock() {
            d.get_or_insert(deadline);
        }
        for w in &mut self.workers {
            w.tx = None;
        }
    }
}

impl Drop for AlertSinks {
    fn drop(&mut self) {
        self.hang_up(Instant::now());
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_sinks_counters_as_the_viewer_shows_them() {
        let c = SinkCounters { name: "webhook", ..SinkCounters::default() };
        c.sent.store(3, Ordering::Relaxed);
        c.dropped.store(1, Ordering::Relaxed);
        assert_eq!(
            c.json(),
            serde_json::json!({ "sink": "webhook", "sent": 3, "retries": 0, "failed": 0, "dropped": 1 })
        );
        let fams = c.families();
        let names: Vec<&str> = fams.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "tyto_alert_sink_sent_total",
                "tyto_alert_sink_retries_total",
                "tyto_alert_sink_failed_total",
                "tyto_alert_sink_dropped_total"
            ]
        );
        assert_eq!(fams[0].samples, vec![Sample { labels: vec![("sink", "webhook".into())], value: 3 }]);
        assert!(fams.iter().all(|f| !f.gauge));
    }

    use super::*;
    use std::io::{BufRead, BufReader, Read};
    use std::net::TcpListener;

    fn alert(i: usize) -> AlertRecord {
        AlertRecord {
            time_ns: 1_700_000_000_000_000_000 + i as i64,
            node: "sensor a".into(),
            detector: "vertical-scan".into(),
            severity: Severity::High,
            source: "10.0.0.2".into(),
            targets: vec!["10.0.0.1".into()],
            message: format!("alert {i}\nsecond line"),
            expression: "ip.src == 10.0.0.2".into(),
            first_ns: 0,
            last_ns: 0,
        }
    }

    #[test]
    fn syslog_lines_follow_rfc_5424() {
        let line = syslog_line(&alert(1), 13);
        // facility 13 × 8 + crit (2); the node's space removed; one line.
        assert!(line.starts_with("<106>1 2023-11-14T22:13:20.000000Z sensora tyto "), "{line}");
        assert!(
            line.contains(" vertical-scan - high vertical-scan 10.0.0.2: alert 1 second line evidence: "),
            "{line}"
        );
    }

    /// A webhook receiver that answers 503 to the first two requests, then 200.
    #[test]
    fn a_failing_webhook_is_retried_and_counted() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let server = std::thread::spawn(move || {
            let mut bodies = Vec::new();
            for (n, conn) in listener.incoming().enumerate() {
                let mut conn = conn.unwrap();
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let mut len = 0;
                loop {
                    let mut l = String::new();
                    reader.read_line(&mut l).unwrap();
                    if let Some(v) = l.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap();
                    }
                    if l == "\r\n" {
                        break;
                    }
                }
                let mut body = vec![0; len];
                reader.read_exact(&mut body).unwrap();
                let status = if n < 2 { "503 Busy" } else { "200 OK" };
                write!(conn, "HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").unwrap();
                if n >= 2 {
                    bodies.push(String::from_utf8(body).unwrap());
                }
                if bodies.len() == 2 {
                    return bodies;
                }
            }
            bodies
        });
        let cfg = SinksConfig { webhook_url: url, retry_ms: 10, ..SinksConfig::default() };
        let sinks = AlertSinks::start(&cfg).unwrap();
        sinks.send(&alert(1));
        sinks.send(&alert(2));
        let counters = sinks.counters();
        sinks.close(Duration::from_secs(10));
        let c = &counters[0];
        assert_eq!(c.sent.load(Ordering::Relaxed), 2);
        assert_eq!(c.retries.load(Ordering::Relaxed), 2);
        assert_eq!(c.failed.load(Ordering::Relaxed), 0);
        let bodies = server.join().unwrap();
        let first: serde_json::Value = serde_json::from_str(&bodies[0]).unwrap();
        assert!(first["text"].as_str().unwrap().starts_with("[high] vertical-scan from 10.0.0.2: alert 1"));
        assert_eq!(first["alert"]["detector"], "vertical-scan");
    }

    #[test]
    fn a_dead_sink_never_blocks_the_sender_and_counts_what_it_loses() {
        // Nothing listens on this port once the listener is gone.
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let cfg = SinksConfig {
            syslog: format!("tcp://127.0.0.1:{port}"),
            queue: 4,
            retry_ms: 200,
            attempts: 3,
            ..SinksConfig::default()
        };
        let sinks = AlertSinks::start(&cfg).unwrap();
        let started = Instant::now();
        for i in 0..100 {
            sinks.send(&alert(i));
        }
        assert!(started.elapsed() < Duration::from_secs(1), "sending waited for the sink");
        let counters = sinks.counters();
        sinks.close(Duration::from_millis(300));
        let c = &counters[0];
        let (sent, failed, dropped) =
            (c.sent.load(Ordering::Relaxed), c.failed.load(Ordering::Relaxed), c.dropped.load(Ordering::Relaxed));
        assert_eq!(sent, 0);
        assert!(dropped >= 90, "dropped {dropped}");
        assert_eq!(failed + dropped, 100, "every alert accounted for");
        assert!(c.retries.load(Ordering::Relaxed) >= 1);
    }

    #[test]
    fn bad_settings_are_named() {
        let err = |c: SinksConfig| AlertSinks::start(&c).err().unwrap();
        assert!(err(SinksConfig { webhook_url: "ftp://x".into(), ..SinksConfig::default() }).contains("webhook_url"));
        assert!(err(SinksConfig { syslog: "udp://host".into(), ..SinksConfig::default() }).contains("needs a port"));
        assert!(err(SinksConfig { syslog: "host:514".into(), ..SinksConfig::default() }).contains("udp://"));
        let e = err(SinksConfig { jsonl: "/nonexistent-dir/a.jsonl".into(), ..SinksConfig::default() });
        assert!(e.contains("/nonexistent-dir/a.jsonl"), "{e}");
    }
}
