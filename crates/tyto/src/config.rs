//! The configuration file of `tyto run` and `tyto capture` (TOML). Every option has a
//! default; a unit, where there is one, is in its name. `tyto.example.toml` at the
//! top of the repository lists them all with their defaults, and a test keeps it
//! equal to [`Config::default`].

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use tyto_enrich::intel::Intel;
use tyto_flow::FlowConfig;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// This sensor's name, stored with every session.
    pub node: String,
    /// Where pcap files and the session store live.
    pub data_dir: PathBuf,
    /// The sessions store's URL ("": DuckDB in the data directory).
    pub store: String,
    /// Which log lines to write (`RUST_LOG`, when set, says instead).
    pub log: String,
    pub capture: CaptureConfig,
    pub flow: FlowSection,
    pub pcap: PcapSection,
    pub retention: RetentionSection,
    pub viewer: ViewerSection,
    pub queue: QueueSection,
    pub nodes: NodesSection,
    pub geoip: GeoIpSection,
    /// Threat-intelligence indicator sources, matched on every session.
    pub intel: tyto_enrich::intel::IntelConfig,
    pub detect: tyto_detect::DetectConfig,
    pub alerts: tyto_detect::SinksConfig,
    /// Flow records and protocol logs out: one `[[output]]` table per output (none
    /// by default, and then left out of the effective configuration). `[[export]]`,
    /// its name before, is still read.
    #[serde(skip_serializing_if = "Vec::is_empty", alias = "export")]
    pub output: Vec<tyto_outputs::OutputConfig>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CaptureConfig {
    /// Interfaces to capture on (`["eth1", "eth2"]`).
    pub interfaces: Vec<String>,
    /// Capture filter in tcpdump's syntax, applied in the kernel ("" keeps everything).
    pub filter: String,
    /// Reading threads per interface, sharing it by flow hash (AF_PACKET fanout).
    pub threads_per_interface: u32,
    /// Bytes kept of each packet.
    pub snaplen: u32,
    /// Receive every frame on the wire (a mirror port needs this).
    pub promiscuous: bool,
    /// Size of one ring block, KiB (a power of two, at least 4).
    pub block_size_kib: u32,
    /// Blocks per ring (the ring holds block_size_kib × blocks).
    pub blocks: u32,
    /// Milliseconds before a block that is not full is handed over anyway.
    pub block_timeout_ms: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FlowSection {
    /// Worker threads (sessions are shared out by a symmetric flow hash).
    pub workers: u32,
    pub tcp_timeout_s: u32,
    pub udp_timeout_s: u32,
    pub icmp_timeout_s: u32,
    pub other_timeout_s: u32,
    /// Packets per row before the session continues in a linked row.
    pub max_packets: u32,
    /// Seconds per row before the session continues in a linked row (long sessions
    /// become searchable while they last).
    pub max_age_s: u32,
    /// Sessions held at once; the least recently seen is written out past this.
    pub max_sessions: u64,
    /// Out-of-order TCP data one worker holds, all sessions together, in MiB (past
    /// it, holes are given up as gaps and counted).
    pub tcp_max_held_total_mib: u64,
    /// Fill `communityId`, the Community ID flow hash other tools give the same flow.
    /// Off unless asked (as in Suricata): a hash is unique to its flow and costs some
    /// 26 bytes a session on disk, a tenth of a whole row.
    pub community_id: bool,
    /// Fill `entropy.src` and `entropy.dst`, the Shannon entropy of each direction's
    /// TCP and UDP data bytes (times 100, as Arkime's entropy plugin). Off unless
    /// asked (as that plugin): every data byte is counted, which costs throughput,
    /// and a session keeps 2 KiB of counts from its first data byte on.
    pub entropy: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PcapSection {
    /// A pcap file is closed and a new one started past this size, MiB.
    pub max_file_mib: u64,
    /// ... or past this age, seconds (0: by size only).
    pub max_file_age_s: u64,
    /// Compress files with zstd at this level, 1–19 (`.pcap.zst`, still read by
    /// position); 0 keeps plain pcap.
    pub zstd_level: i32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionSection {
    /// Delete the oldest pcap files while the data directory's file system has less
    /// than this percentage free (0: no percentage limit).
    pub min_free_percent: f64,
    /// ... or less than this many GiB free (Arkime's `freeSpaceG`; 0: no limit).
    pub min_free_gib: f64,
    /// Delete pcap files older than this, days (0: keep).
    pub max_pcap_age_days: f64,
    /// Delete session rows that ended longer ago than this, days (0: keep).
    pub max_session_age_days: f64,
    /// How often the limits are checked, seconds.
    pub check_every_s: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ViewerSection {
    /// `tyto run` serves the viewer and API too.
    pub enabled: bool,
    pub listen: SocketAddr,
    /// Certificate chain and key (PEM) to serve HTTPS ("": HTTP).
    pub tls_cert: PathBuf,
    pub tls_key: PathBuf,
    /// Seconds a search or aggregation may run in the store before it is stopped.
    pub query_timeout_s: f64,
    /// Seconds a client has to send a request's headers (and a TLS handshake); an idle
    /// keep-alive connection is closed after as long.
    pub header_timeout_s: f64,
    /// Connections open at once; more are answered 503 and closed.
    pub max_connections: u32,
    /// MiB one uploaded capture file may hold (`/api/upload`, `tyto ingest --server`).
    pub max_upload_mib: u64,
    /// Sessions the SPI view, SPI graph and connections count exactly; over a store of
    /// more than four times as many they estimate from a sample of about this many
    /// and say so.
    pub sample_above: u64,
}

/// Session rows on their way to the store: capture never waits on it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QueueSection {
    /// Rows held in memory while the store is busy; past this they go to the spool.
    pub memory_rows: u64,
    /// MiB of rows the spool (`<data_dir>/spool/rows`) holds while the store is
    /// behind; past this rows are dropped (counted; their packets are kept).
    pub spool_mib: u64,
}

impl Default for QueueSection {
    fn default() -> Self {
        QueueSection { memory_rows: tyto_store::MAX_APPEND_ROWS as u64, spool_mib: 1024 }
    }
}

/// Sensors and viewers sharing one ClickHouse: where each node's packets are fetched.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NodesSection {
    /// The secret every node shares; node-to-node requests are signed with it ("":
    /// this node neither asks nor answers).
    pub secret: String,
    /// Node name → the URL its viewer/API answers on.
    pub peers: std::collections::BTreeMap<String, String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GeoIpSection {
    /// MaxMind-format Country or City database ("": none).
    pub country: PathBuf,
    /// MaxMind-format ASN database ("": none).
    pub asn: PathBuf,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            node: "local".into(),
            data_dir: "tyto-data".into(),
            store: String::new(),
            log: crate::logging::DEFAULT_LEVEL.into(),
            capture: CaptureConfig::default(),
            flow: FlowSection::default(),
            pcap: PcapSection::default(),
            retention: RetentionSection::default(),
            viewer: ViewerSection::default(),
            queue: QueueSection::default(),
            nodes: NodesSection::default(),
            geoip: GeoIpSection::default(),
            intel: tyto_enrich::intel::IntelConfig::default(),
            detect: tyto_detect::DetectConfig::default(),
            alerts: tyto_detect::SinksConfig::default(),
            output: Vec::new(),
        }
    }
}

impl Default for CaptureConfig {
    fn default() -> Self {
        CaptureConfig {
            interfaces: Vec::new(),
            filter: String::new(),
            threads_per_interface: 1,
            snaplen: 65535,
            promiscuous: true,
            block_size_kib: 1024,
            blocks: 64,
            block_timeout_ms: 100,
        }
    }
}

impl FlowSection {
    /// The flow layer's settings (the one mapping, for the file and the command line).
    pub fn flow_config(&self) -> FlowConfig {
        FlowConfig {
            tcp_idle_s: self.tcp_timeout_s,
            udp_idle_s: self.udp_timeout_s,
            icmp_idle_s: self.icmp_timeout_s,
            other_idle_s: self.other_timeout_s,
            max_packets_per_row: self.max_packets.max(1),
            max_row_age_s: self.max_age_s.max(1),
            max_row_age_other_s: self.max_age_s.max(1),
            max_sessions: (self.max_sessions as usize).max(1),
            tcp_max_held_total: self.tcp_max_held_total_mib.max(1) << 20,
            entropy: self.entropy,
            ..FlowConfig::default()
        }
    }
}

impl Default for FlowSection {
    fn default() -> Self {
        let f = FlowConfig::default();
        FlowSection {
            workers: 2,
            tcp_timeout_s: f.tcp_idle_s,
            udp_timeout_s: f.udp_idle_s,
            icmp_timeout_s: f.icmp_idle_s,
            other_timeout_s: f.other_idle_s,
            max_packets: f.max_packets_per_row,
            max_age_s: f.max_row_age_s,
            max_sessions: f.max_sessions as u64,
            tcp_max_held_total_mib: f.tcp_max_held_total >> 20,
            community_id: false,
            entropy: false,
        }
    }
}

impl Default for PcapSection {
    fn default() -> Self {
        PcapSection { max_file_mib: 1024, max_file_age_s: 3600, zstd_level: 0 }
    }
}

impl Default for RetentionSection {
    fn default() -> Self {
        RetentionSection {
            min_free_percent: 5.0,
            min_free_gib: 0.0,
            max_pcap_age_days: 0.0,
            max_session_age_days: 0.0,
            check_every_s: 60,
        }
    }
}

impl Default for ViewerSection {
    fn default() -> Self {
        ViewerSection {
            enabled: true,
            listen: SocketAddr::from(([127, 0, 0, 1], tyto_server::DEFAULT_PORT)),
            tls_cert: PathBuf::new(),
            tls_key: PathBuf::new(),
            query_timeout_s: tyto_server::Limits::default().query_timeout.as_secs_f64(),
            header_timeout_s: tyto_server::Limits::default().header_timeout.as_secs_f64(),
            max_connections: tyto_server::Limits::default().max_connections as u32,
            max_upload_mib: tyto_server::UploadLimits::default().max_bytes >> 20,
            sample_above: tyto_server::Limits::default().sample_above,
        }
    }
}

/// A positive number of seconds (at least a millisecond; absurd values capped at a day).
fn seconds(s: f64) -> Duration {
    Duration::from_secs_f64(if s.is_finite() { s.clamp(0.001, 86_400.0) } else { 86_400.0 })
}

impl Config {
    /// The threat-intelligence sources, read now and watched for changes from then
    /// on (`None` without sources). A source that cannot be read is left out, saying
    /// why; the others work.
    pub fn open_intel(&self) -> Result<Option<Arc<Intel>>> {
        if self.intel.source.is_empty() {
            return Ok(None);
        }
        let (intel, problems) = Intel::load(&self.intel).map_err(|e| anyhow::anyhow!("intel: {e}"))?;
        for p in problems {
            tracing::warn!("{p}; the other sources are in use");
        }
        tracing::info!("intel: {} indicators from {} sources", intel.indicators(), self.intel.source.len());
        intel.watch(|said| match said {
            Ok(s) => tracing::info!("{s}"),
            Err(e) => tracing::warn!("{e}"),
        });
        Ok(Some(intel))
    }
}

/// The pipeline's one enrichment: the registries (addresses' and Ethernet blocks'), the
/// application catalogue, the Community ID when asked for, GeoIP, then the intelligence
/// sources.
pub fn enrichment(
    geoip: Option<tyto_enrich::GeoIp>,
    intel: Option<&Arc<Intel>>,
    community_id: bool,
) -> Option<Arc<dyn tyto_flow::Enrich>> {
    let mut all: Vec<Arc<dyn tyto_flow::Enrich>> =
        vec![Arc::new(tyto_enrich::rir::Rir), Arc::new(tyto_enrich::oui::Oui), Arc::new(tyto_enrich::apps::Apps)];
    if community_id {
        all.push(Arc::new(tyto_enrich::community_id::CommunityId));
    }
    all.extend(geoip.map(|g| Arc::new(g) as Arc<dyn tyto_flow::Enrich>));
    all.extend(intel.map(|i| i.clone() as Arc<dyn tyto_flow::Enrich>));
    tyto_enrich::Enrichers(all).into_one()
}

impl ViewerSection {
    /// The server's bounds from this section.
    pub fn upload_limits(&self) -> tyto_server::UploadLimits {
        tyto_server::UploadLimits { max_bytes: self.max_upload_mib.max(1).saturating_mul(1 << 20) }
    }

    pub fn limits(&self) -> tyto_server::Limits {
        tyto_server::Limits {
            max_connections: (self.max_connections as usize).max(1),
            header_timeout: seconds(self.header_timeout_s),
            query_timeout: seconds(self.query_timeout_s),
            sample_above: self.sample_above.max(1),
            ..tyto_server::Limits::default()
        }
    }
}

impl Config {
    /// The store `store` names (DuckDB in the data directory when empty).
    pub fn store_url(&self) -> Result<tyto_store::StoreUrl> {
        if self.store.is_empty() {
            return Ok(tyto_store::StoreUrl::default());
        }
        Ok(tyto_store::StoreUrl::parse(&self.store)?)
    }

    /// This node and its peers, for the viewer.
    pub fn nodes_config(&self) -> tyto_server::NodesConfig {
        tyto_server::NodesConfig {
            own: self.node.clone(),
            all_local: false,
            peers: self.nodes.peers.clone(),
            secret: self.nodes.secret.clone(),
        }
    }

    /// Reads `path`; unknown keys and wrong types are errors that name the line. From
    /// then on the logs its `log` asks for are written.
    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let cfg: Config = toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        cfg.validate().with_context(|| format!("in {}", path.display()))?;
        crate::logging::use_configured(&cfg.log);
        Ok(cfg)
    }

    /// Checks what the types alone cannot.
    pub fn validate(&self) -> Result<()> {
        validate_node(&self.node)?;
        self.store_url()?;
        if let Err(e) = crate::logging::check_level(&self.log) {
            bail!("log = {:?}: a level (error, warn, info, debug, trace) or RUST_LOG's directives: {e}", self.log);
        }
        for (node, url) in &self.nodes.peers {
            validate_node(node).with_context(|| format!("nodes.peers.{node}"))?;
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                bail!("nodes.peers.{node} = {url:?}: an http:// or https:// URL");
            }
        }
        let c = &self.capture;
        if c.block_size_kib < 4 || !c.block_size_kib.is_power_of_two() {
            bail!("capture.block_size_kib = {}: a power of two, at least 4", c.block_size_kib);
        }
        if c.blocks == 0 || c.block_size_kib as u64 * c.blocks as u64 > 16 << 20 {
            bail!("capture.blocks = {}: at least 1, and a ring of at most 16 GiB", c.blocks);
        }
        if !(1..=64).contains(&c.threads_per_interface) {
            bail!("capture.threads_per_interface = {}: between 1 and 64", c.threads_per_interface);
        }
        if !(64..=262_144).contains(&c.snaplen) {
            bail!("capture.snaplen = {}: between 64 and 262144 bytes", c.snaplen);
        }
        tyto_capture::filter::compile(&c.filter, c.snaplen).map_err(|e| anyhow::anyhow!("capture.filter: {e}"))?;
        if !(1..=256).contains(&self.flow.workers) {
            bail!("flow.workers = {}: between 1 and 256", self.flow.workers);
        }
        if self.pcap.max_file_mib == 0 {
            bail!("pcap.max_file_mib must be at least 1");
        }
        for (key, v) in
            [("query_timeout_s", self.viewer.query_timeout_s), ("header_timeout_s", self.viewer.header_timeout_s)]
        {
            if !(v.is_finite() && v > 0.0) {
                bail!("viewer.{key} = {v}: a positive number of seconds");
            }
        }
        if self.viewer.max_connections == 0 {
            bail!("viewer.max_connections must be at least 1");
        }
        if self.flow.tcp_max_held_total_mib == 0 {
            bail!("flow.tcp_max_held_total_mib must be at least 1");
        }
        if !(0..=19).contains(&self.pcap.zstd_level) {
            bail!("pcap.zstd_level = {}: from 0 (no compression) to 19", self.pcap.zstd_level);
        }
        let r = &self.retention;
        if !(0.0..100.0).contains(&r.min_free_percent) {
            bail!("retention.min_free_percent = {}: from 0 to under 100", r.min_free_percent);
        }
        for (name, v) in [
            ("retention.min_free_gib", r.min_free_gib),
            ("retention.max_pcap_age_days", r.max_pcap_age_days),
            ("retention.max_session_age_days", r.max_session_age_days),
        ] {
            if !(v >= 0.0 && v.is_finite()) {
                bail!("{name} = {v}: a number of zero or more");
            }
        }
        self.detect.check().map_err(|e| anyhow::anyhow!("detect: {e}"))?;
        self.intel.check().map_err(|e| anyhow::anyhow!("intel: {e}"))?;
        self.alerts.check().map_err(anyhow::Error::msg)?;
        for o in &self.output {
            o.check().map_err(anyhow::Error::msg)?;
        }
        if r.check_every_s == 0 {
            bail!("retention.check_every_s must be at least 1");
        }
        if self.viewer.tls_cert.as_os_str().is_empty() != self.viewer.tls_key.as_os_str().is_empty() {
            bail!("viewer.tls_cert and viewer.tls_key go together");
        }
        Ok(())
    }

    pub fn flow_config(&self) -> FlowConfig {
        self.flow.flow_config()
    }

    /// The row queue's bounds. `TYTO_TEST_STORE_DELAY_MS` makes every store write
    /// that much slower: the tests' way to show capture does not wait on the store.
    pub fn queue_config(&self) -> tyto_store::QueueConfig {
        self.queue_config_in(&self.data_dir)
    }

    /// When pcap files are closed and how they are compressed.
    pub fn rotation(&self) -> tyto_pcapstore::RotationPolicy {
        tyto_pcapstore::RotationPolicy {
            max_file_bytes: self.pcap.max_file_mib << 20,
            max_file_age_s: self.pcap.max_file_age_s,
            zstd_level: (self.pcap.zstd_level > 0).then_some(self.pcap.zstd_level),
        }
    }

    /// The same for a data directory given apart (`tyto ingest --data-dir`).
    pub fn queue_config_in(&self, data_dir: &Path) -> tyto_store::QueueConfig {
        let mut q = tyto_store::QueueConfig::new(tyto_schema::DataDir::new(data_dir).row_spool());
        q.memory_rows = (self.queue.memory_rows as usize).max(1);
        q.spool_bytes = self.queue.spool_mib << 20;
        if let Some(ms) = std::env::var("TYTO_TEST_STORE_DELAY_MS").ok().and_then(|v| v.parse().ok()) {
            q.test_delay = Duration::from_millis(ms);
        }
        q
    }

    /// The effective configuration, as TOML.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("the configuration serialises")
    }
}

fn some_path(p: &Path) -> Option<&Path> {
    (!p.as_os_str().is_empty()).then_some(p)
}

impl GeoIpSection {
    pub fn open(&self) -> Result<Option<tyto_enrich::GeoIp>> {
        let (country, asn) = (some_path(&self.country), some_path(&self.asn));
        if country.is_none() && asn.is_none() {
            return Ok(None);
        }
        Ok(Some(tyto_enrich::GeoIp::open(country, asn)?))
    }
}

impl ViewerSection {
    pub fn tls(&self) -> Option<(PathBuf, PathBuf)> {
        Some((some_path(&self.tls_cert)?.to_path_buf(), some_path(&self.tls_key)?.to_path_buf()))
    }
}

/// Node names go into file names: keep them to a safe alphabet.
pub fn validate_node(node: &str) -> Result<()> {
    if node.is_empty() || node.len() > 64 || !node.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        bail!("--node {node:?}: use 1 to 64 letters, digits, '-' or '_'");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_file_lists_every_option_with_its_default() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tyto.example.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        let parsed: Config = toml::from_str(&text).unwrap();
        assert_eq!(parsed, Config::default());
        // Every key of the effective configuration appears in the example.
        let effective = Config::default().to_toml();
        for line in effective.lines().filter(|l| l.contains(" = ")) {
            let key = line.split(" = ").next().unwrap();
            assert!(text.lines().any(|l| l.starts_with(&format!("{key} = "))), "{key} is not in {}", path.display());
        }
    }

    /// The commented `[[output]]` table of the example, uncommented, is a valid output
    /// with every setting at its default.
    #[test]
    fn the_example_export_table_is_valid_and_at_its_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tyto.example.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        let table: String = text
            .lines()
            .skip_while(|l| *l != "# [[output]]")
            .map_while(|l| l.strip_prefix("# "))
            .map(|l| format!("{}\n", l.split("  #").next().unwrap()))
            .collect();
        let cfg: Config = toml::from_str(&table).unwrap();
        cfg.validate().unwrap();
        let defaults = tyto_outputs::OutputConfig { target: "127.0.0.1:24224".into(), ..Default::default() };
        assert_eq!(cfg.output, vec![defaults]);
    }

    #[test]
    fn mistakes_are_named() {
        let bad = |text: &str| {
            let cfg: Result<Config, _> = toml::from_str(text);
            match cfg {
                Err(e) => e.to_string(),
                Ok(c) => format!("{:#}", c.validate().unwrap_err()),
            }
        };
        assert!(bad("[capture]\nintrefaces = [\"eth0\"]").contains("unknown field `intrefaces`"));
        assert!(bad("[[output]]\nkind = \"fluentd\"\ntarget = \"nohost\"").contains("HOST:PORT"));
        assert!(
            bad("[[export]]\nkind = \"fluentd\"\ntarget = \"nohost\"").contains("HOST:PORT"),
            "the older name still read"
        );
        assert!(bad("[[output]]\nkind = \"kafka\"").contains("unknown variant `kafka`"));
        assert!(bad("[capture]\nsnaplen = \"big\"").contains("invalid type"));
        assert!(bad("[capture]\nfilter = \"port 99999\"").contains("capture.filter"));
        assert!(bad("[capture]\nblock_size_kib = 1000").contains("power of two"));
        assert!(bad("[retention]\nmin_free_percent = 150").contains("min_free_percent"));
        assert!(bad("node = \"a b\"").contains("node"));
        assert!(bad("[viewer]\ntls_cert = \"x.pem\"").contains("go together"));
    }
}
