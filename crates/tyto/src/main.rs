//! The `tyto` command: ingest captures, dump sessions, list and export them.

mod bench;
mod bench_store;
mod capture;
mod commands;
mod config;
mod logging;
mod sample;
mod upload;
mod users;

/// Rust's allocations (session records, their strings, Arrow columns) go to mimalloc:
/// a store batch frees 200,000 records with a dozen allocations each, which glibc's
/// malloc took 0.8 µs a record to do (a fifth of the store's time; mimalloc 0.16 µs).
/// DuckDB's own C++ allocations stay with the system allocator, which suits its
/// large blocks better (measured: its appends were slower under mimalloc).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use tyto_flow::FlowConfig;

#[derive(Parser)]
#[command(
    name = "tyto",
    version = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("TYTO_COMMIT"), ")"),
    about = "Network forensics: packets to indexed sessions, search and PCAP export"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Read pcap/pcapng files (also .gz/.zst) into the data directory: packets into
    /// Tyto's pcap files, one row per session into the embedded store. With --server,
    /// send them to the `tyto serve` or `tyto run` that owns the store instead.
    Ingest {
        /// Capture files, or folders searched for them.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        #[command(flatten)]
        data: DataDir,
        /// A running viewer's address (http://HOST:8005): it ingests the files into the
        /// store it owns, with its own configuration; the password comes from
        /// TYTO_PASSWORD, else a prompt, else standard input.
        #[arg(long)]
        server: Option<String>,
        /// The viewer's user (an admin, or one added with --upload).
        #[arg(long, env = "TYTO_USER", requires = "server")]
        user: Option<String>,
        /// Tags given to every session of the files (comma-separated; with --server).
        #[arg(long, requires = "server")]
        tags: Option<String>,
        /// Name of this sensor, stored with every session.
        #[arg(long, default_value = "local")]
        node: String,
        /// Ingest files even if they were ingested before (their sessions are stored again).
        #[arg(long)]
        force: bool,
        /// Configuration file: its [intel], [detect], [alerts] and [[output]] sections apply (the other
        /// settings of ingest come from its flags).
        #[arg(short = 'c', long, env = "TYTO_CONFIG")]
        config: Option<PathBuf>,
        #[command(flatten)]
        flow: FlowArgs,
    },
    /// Run the pipeline without storing anything; print each session as one JSON
    /// object per line, keyed by field name (see `tyto fields`).
    Dump {
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        #[arg(long, default_value = "local")]
        node: String,
        #[command(flatten)]
        flow: FlowArgs,
    },
    /// List stored sessions, newest first.
    Sessions {
        #[command(flatten)]
        data: DataDir,
        #[command(flatten)]
        filter: FilterArgs,
        #[arg(long, default_value_t = 100)]
        limit: usize,
        #[arg(long, value_enum, default_value_t = commands::Format::Table)]
        format: commands::Format,
    },
    /// List the alerts detectors raised (scans…), oldest first, each with the
    /// expression that shows its evidence sessions.
    Alerts {
        #[command(flatten)]
        data: DataDir,
        /// Alerts raised at or after this time (same forms as `sessions --start`).
        #[arg(long, allow_hyphen_values = true)]
        start: Option<String>,
        #[arg(long, allow_hyphen_values = true)]
        stop: Option<String>,
        #[command(flatten)]
        filter: AlertFilterArgs,
        #[arg(long, default_value_t = 1000)]
        limit: usize,
        /// table or ndjson.
        #[arg(long, value_enum, default_value_t = commands::Format::Table)]
        format: commands::Format,
    },
    /// List transactions — each request and its answer: HTTP requests, DNS lookups,
    /// MySQL/PostgreSQL queries, Redis, MongoDB and Memcached commands — with their
    /// response times, newest first (or the slowest first).
    Transactions {
        #[command(flatten)]
        data: DataDir,
        /// The sessions whose transactions are listed (their expression), and the
        /// time range the transactions fall in.
        #[command(flatten)]
        filter: FilterArgs,
        /// Only this protocol's: dns, http, mysql, pgsql, tds, redis, mongodb, memcache.
        #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(tyto_schema::TRANSACTION_KINDS))]
        kind: Option<String>,
        /// Only those whose answer says they failed (an error reply, a DNS rcode other
        /// than NOERROR, an HTTP status of 400 or more).
        #[arg(long)]
        failed: bool,
        /// The N slowest (by response time) instead of the newest.
        #[arg(long, value_name = "N", conflicts_with = "limit")]
        slowest: Option<usize>,
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// table, ndjson or csv.
        #[arg(long, value_enum, default_value_t = commands::Format::Table)]
        format: commands::Format,
    },
    /// Count stored sessions that match an expression.
    Count {
        #[command(flatten)]
        data: DataDir,
        #[command(flatten)]
        filter: FilterArgs,
    },
    /// Write the packets of sessions to a pcap file, in capture order.
    Export {
        /// Session ids (from `tyto sessions`).
        #[arg(long = "session", num_args = 1.., required_unless_present = "expr", conflicts_with = "expr")]
        sessions: Vec<String>,
        /// The capture to write: a file (written whole, then put in place), `-` for
        /// standard output, or a pipe or device as it is
        #[arg(short = 'o', long)]
        output: PathBuf,
        #[command(flatten)]
        data: DataDir,
        /// Every packet of every session that matches, in time order (instead of --session).
        #[command(flatten)]
        filter: FilterArgs,
    },
    /// Print the field catalogue: every field's name, type and meaning.
    Fields {
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Write a sample capture of synthetic traffic (HTTP, DNS, ICMP, tunnels, fragments).
    Sample {
        #[arg(short = 'o', long)]
        output: PathBuf,
        /// Number of client hosts (each makes a handful of sessions).
        #[arg(long, default_value_t = 50)]
        hosts: u32,
        /// Add what the detectors look for: a port scan, lateral movement, an ARP
        /// sweep, a DNS tunnel, NXDOMAIN bursts, a session spike, a scanner's requests.
        #[arg(long)]
        incidents: bool,
    },
    /// Measure throughput on a large corpus built from real captures.
    Bench(bench::BenchArgs),
    /// Measure a session store alone: inserts/s of synthetic rows, then search, SPI
    /// view and histogram latency over them (run once per --store to compare).
    BenchStore(bench_store::BenchStoreArgs),
    /// Serve the web viewer and the HTTP API (Arkime's routes: /api/sessions,
    /// /sessions.json, /api/sessions.pcap…) over the data directory. Every route
    /// asks for a login: add users with `tyto user add`.
    Serve {
        #[command(flatten)]
        data: DataDir,
        /// Address and port to listen on.
        #[arg(long, env = "TYTO_LISTEN", default_value = "127.0.0.1:8005")]
        listen: std::net::SocketAddr,
        /// This node's name: its own packets are read from the data directory, other
        /// nodes' fetched from them ([nodes] of --config).
        #[arg(long)]
        node: Option<String>,
        /// Configuration file: its `node`, `store` and [nodes] apply (flags override).
        #[arg(short = 'c', long, env = "TYTO_CONFIG")]
        config: Option<PathBuf>,
        /// Serve HTTPS with this certificate chain (PEM); needs --tls-key.
        #[arg(long, env = "TYTO_TLS_CERT", requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// The certificate's private key (PEM).
        #[arg(long, env = "TYTO_TLS_KEY", requires = "tls_cert")]
        tls_key: Option<PathBuf>,
    },
    /// Capture live from network interfaces (AF_PACKET) into the data directory until
    /// Ctrl-C or SIGTERM, which write every open session and flush the pcap files.
    /// Settings come from --config (see tyto.example.toml); flags override them.
    Capture(capture::CaptureArgs),
    /// `capture` and `serve` in one process sharing one store: the sensor's service.
    Run(capture::CaptureArgs),
    /// The configuration file.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// The sessions store's tables: make them, bring them up to date, describe them.
    Db {
        #[command(subcommand)]
        action: DbAction,
        #[command(flatten)]
        data: DataDir,
    },
    /// Users of the viewer and the API (kept in users.json in the data directory; a
    /// running server sees changes at once).
    User {
        #[command(subcommand)]
        action: UserAction,
        #[command(flatten)]
        data: DataDir,
    },
    /// Print the shell completion script for bash, zsh or fish (for example
    /// `tyto completions bash > /etc/bash_completion.d/tyto`)
    Completions { shell: clap_complete::Shell },
    /// Write the manual pages, made from these same definitions: tyto.1 to standard
    /// output, or with --dir tyto.1 and a tyto-COMMAND.1 for every command into DIR
    Man {
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
pub enum ConfigAction {
    /// Validate a configuration file and print the effective configuration (every
    /// option, defaults filled in).
    Check { file: PathBuf },
    /// Print the default configuration.
    Default,
}

#[derive(Subcommand)]
pub enum DbAction {
    /// Make the tables (a ClickHouse database and its tables; the DuckDB file).
    Init,
    /// Bring the tables to this Tyto's layout (new fields become new columns).
    Upgrade,
    /// Layout version, tables, rows, partitions and size.
    Info,
    /// Delete sessions that ended before a time (what a capture's retention does on its
    /// schedule). In ClickHouse whole days go: a day's partition once all of it is older.
    Expire {
        /// Sessions that ended before this (a date, a time or -30d; see `sessions --start`).
        #[arg(long, allow_hyphen_values = true)]
        before: String,
    },
}

#[derive(Subcommand)]
pub enum UserAction {
    /// Add a user. The password comes from --password, else a prompt, else standard
    /// input (one line) when it is not a terminal.
    Add {
        name: String,
        /// May do everything, including listing users.
        #[arg(long)]
        admin: bool,
        #[arg(long)]
        password: Option<String>,
        /// May not download PCAP.
        #[arg(long)]
        no_pcap: bool,
        /// May not see packet bytes in a session's detail.
        #[arg(long)]
        no_packets: bool,
        /// May send capture files to the viewer to be ingested (admins always may).
        #[arg(long)]
        upload: bool,
        /// May take tags off sessions (admins always may; anyone may add them).
        #[arg(long)]
        remove_tags: bool,
        /// An expression AND-ed to every search the user makes (e.g. 'ip.src == 10.1.0.0/16').
        #[arg(long)]
        expression: Option<String>,
        /// The longest time range the user may search, in hours.
        #[arg(long)]
        time_limit: Option<u32>,
        /// Also allow HTTP Digest (what `curl --anyauth` picks): keeps an MD5 key of the
        /// password in users.json, worth the password to whoever reads that file.
        #[arg(long)]
        digest: bool,
    },
    /// Set a user's password (same sources as `add`); the user's open viewer
    /// sessions end.
    Passwd {
        name: String,
        #[arg(long)]
        password: Option<String>,
        /// Allow HTTP Digest from now on.
        #[arg(long, conflicts_with = "no_digest")]
        digest: bool,
        /// Refuse HTTP Digest from now on (and forget its key).
        #[arg(long)]
        no_digest: bool,
    },
    /// List users and what they may do.
    List,
    /// Remove a user.
    Remove { name: String },
}

/// Which sessions: a time range and an expression.
/// Which alerts `tyto alerts` lists.
#[derive(Args, Clone, Debug, Default)]
pub struct AlertFilterArgs {
    /// Only this detector (`vertical-scan`, `lateral-movement`, …; `rule:*` for every rule).
    #[arg(long)]
    pub detector: Option<String>,
    /// Only alerts about this source (an address, or a MAC for ARP sweeps).
    #[arg(long)]
    pub source: Option<String>,
    /// Only this severity or higher: low, medium or high.
    #[arg(long)]
    pub severity: Option<String>,
    /// Only alerts whose message, source or targets contain this text (any case).
    #[arg(long)]
    pub text: Option<String>,
}

#[derive(Args, Clone)]
pub struct FilterArgs {
    /// Arkime search expression, e.g. 'ip.src == 10.0.0.0/8 && port.dst == 443' (see `tyto fields`).
    #[arg(short = 'e', long, visible_alias = "expression")]
    pub expr: Option<String>,
    /// Sessions active at or after this time (UTC: 2024-05-01, 2024-05-01T13:00:00,
    /// 2024/05/01 13:00:00, epoch seconds, or relative: -1d, -2h, -30m).
    #[arg(long, allow_hyphen_values = true)]
    pub start: Option<String>,
    /// Sessions active at or before this time (same forms as --start).
    #[arg(long, allow_hyphen_values = true)]
    pub stop: Option<String>,
}

#[derive(Args, Clone)]
struct DataDir {
    /// Where Tyto keeps its pcap files and session store.
    #[arg(long, env = "TYTO_DATA_DIR", default_value = "tyto-data", global = true)]
    data_dir: PathBuf,
    /// The sessions store: duckdb:// (the data directory's, the default),
    /// duckdb:///DIR, or clickhouse://USER:PASSWORD@HOST:8123/DB[?cluster=NAME]
    /// (clickhouse+https:// for TLS).
    #[arg(long, env = "TYTO_STORE", global = true)]
    store: Option<String>,
}

impl DataDir {
    fn store_url(&self) -> anyhow::Result<tyto_store::StoreUrl> {
        match &self.store {
            None => Ok(tyto_store::StoreUrl::default()),
            Some(s) => Ok(tyto_store::StoreUrl::parse(s)?),
        }
    }
}

/// Session cutting and memory bounds (defaults as Arkime's).
#[derive(Args, Clone)]
pub struct FlowArgs {
    /// Worker threads (sessions are shared out by a symmetric flow hash).
    #[arg(long, default_value_t = default_workers())]
    workers: usize,
    /// Idle seconds before a TCP session is written.
    #[arg(long, default_value_t = 480)]
    tcp_timeout: u32,
    /// Idle seconds for UDP.
    #[arg(long, default_value_t = 60)]
    udp_timeout: u32,
    /// Idle seconds for ICMP.
    #[arg(long, default_value_t = 10)]
    icmp_timeout: u32,
    /// Idle seconds for other protocols and non-IP frames.
    #[arg(long, default_value_t = 60)]
    other_timeout: u32,
    /// Packets per row before the session continues in a linked row.
    #[arg(long, default_value_t = 10_000)]
    max_packets: u32,
    /// Seconds per row before the session continues in a linked row.
    #[arg(long, default_value_t = 180)]
    max_age: u32,
    /// Sessions held at once; the least recently seen is written out past this.
    #[arg(long, default_value_t = 1_000_000)]
    max_sessions: usize,
    /// Out-of-order TCP data one worker holds for all its sessions, MiB.
    #[arg(long, default_value_t = 64)]
    tcp_max_held_total_mib: u64,
    /// Fill `communityId`, the Community ID flow hash Zeek and Suricata give the same
    /// flow (some 26 bytes a session on disk).
    #[arg(long)]
    community_id: bool,
    /// Fill `entropy.src`/`entropy.dst`, the Shannon entropy of each direction's data
    /// bytes, times 100 (every data byte counted: slower, 2 KiB a live session).
    #[arg(long)]
    entropy: bool,
    #[command(flatten)]
    geoip: GeoIpArgs,
}

/// MaxMind-format databases for the `country.*` and `asn.*` fields (GeoLite2 or
/// GeoIP2 Country/City, and ASN). Without them those fields stay empty.
#[derive(Args, Clone)]
pub struct GeoIpArgs {
    /// Country or City database (`.mmdb`).
    #[arg(long, env = "TYTO_GEOIP_COUNTRY", value_name = "MMDB")]
    geoip_country: Option<PathBuf>,
    /// ASN database (`.mmdb`).
    #[arg(long, env = "TYTO_GEOIP_ASN", value_name = "MMDB")]
    geoip_asn: Option<PathBuf>,
}

impl GeoIpArgs {
    /// The databases opened, or `None` when none is given.
    pub fn open(&self) -> anyhow::Result<Option<tyto_enrich::GeoIp>> {
        if self.geoip_country.is_none() && self.geoip_asn.is_none() {
            return Ok(None);
        }
        Ok(Some(tyto_enrich::GeoIp::open(self.geoip_country.as_deref(), self.geoip_asn.as_deref())?))
    }
}

fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8)
}

impl FlowArgs {
    pub fn flow_config(&self) -> FlowConfig {
        config::FlowSection {
            tcp_timeout_s: self.tcp_timeout,
            udp_timeout_s: self.udp_timeout,
            icmp_timeout_s: self.icmp_timeout,
            other_timeout_s: self.other_timeout,
            max_packets: self.max_packets,
            max_age_s: self.max_age,
            max_sessions: self.max_sessions as u64,
            tcp_max_held_total_mib: self.tcp_max_held_total_mib,
            entropy: self.entropy,
            ..config::FlowSection::default()
        }
        .flow_config()
    }
}

/// `tyto serve`: the store and nodes from the flags, else the configuration file.
fn serve(
    data: DataDir,
    listen: std::net::SocketAddr,
    tls: Option<(PathBuf, PathBuf)>,
    node: Option<String>,
    config: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    let cfg = config.map(config::Config::load).transpose()?.unwrap_or_default();
    let store = match &data.store {
        Some(_) => data.store_url()?,
        None => cfg.store_url()?,
    };
    let mut nodes = cfg.nodes_config();
    if let Some(n) = node {
        config::validate_node(&n)?;
        nodes.own = n;
    }
    let limits = cfg.viewer.limits();
    let config = tyto_server::ServerConfig { listen, data_dir: data.data_dir, store, tls, nodes, limits };
    upload::serve(&config, &cfg)
}

/// `tyto man`: the page of `tyto` (to standard output), or with `dir` that page and
/// one per command (`tyto-ingest.1`, `tyto-user-add.1`…) written there.
fn man_pages(dir: Option<&std::path::Path>) -> anyhow::Result<()> {
    let cmd = <Cli as clap::CommandFactory>::command();
    let Some(dir) = dir else {
        clap_mangen::Man::new(cmd).render(&mut std::io::stdout())?;
        return Ok(());
    };
    use anyhow::Context;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    clap_mangen::generate_to(cmd, dir).with_context(|| format!("writing the pages into {}", dir.display()))?;
    Ok(())
}

fn main() -> ExitCode {
    logging::start();
    // Everything Tyto writes (sessions, packets, users, keys, spool, exports) holds
    // captured traffic or secrets: private to its owner unless made otherwise.
    #[cfg(unix)]
    // SAFETY: umask only sets the process's file creation mask; it cannot fail.
    unsafe {
        libc::umask(0o077);
    }
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Ingest { inputs, server: Some(url), user, tags, .. } => match user {
            None => Err(anyhow::anyhow!("--server needs --user NAME (or TYTO_USER): the viewer's user to send as")),
            Some(user) => upload::password_for(&user)
                .and_then(|password| upload::send(&inputs, &upload::Server { url, user, password, tags })),
        },
        Command::Ingest { inputs, data, node, force, config, flow, .. } => {
            match (config.as_deref().map(config::Config::load).transpose(), data.store_url()) {
                (Ok(cfg), Ok(store)) => {
                    commands::ingest(&inputs, &data.data_dir, &store, &node, &flow, force, &cfg.unwrap_or_default())
                }
                (Err(e), _) | (_, Err(e)) => Err(e),
            }
        }
        Command::Dump { inputs, node, flow } => commands::dump(&inputs, &node, &flow),
        Command::Sessions { data, filter, limit, format } => {
            data.store_url().and_then(|s| commands::sessions(&data.data_dir, &s, &filter, limit, format))
        }
        Command::Alerts { data, start, stop, filter, limit, format } => data.store_url().and_then(|s| {
            commands::alerts(&data.data_dir, &s, start.as_deref(), stop.as_deref(), &filter, limit, format)
        }),
        Command::Transactions { data, filter, kind, failed, slowest, limit, format } => {
            data.store_url().and_then(|s| {
                let want = commands::TransactionsWanted { kind, failed, slowest, limit, format };
                commands::transactions(&data.data_dir, &s, &filter, &want)
            })
        }
        Command::Count { data, filter } => data.store_url().and_then(|s| commands::count(&data.data_dir, &s, &filter)),
        Command::Export { sessions, output, data, filter } => data.store_url().and_then(|s| {
            if sessions.is_empty() {
                commands::export_matching(&data.data_dir, &s, &filter, &output)
            } else {
                commands::export(&data.data_dir, &s, &sessions, &output)
            }
        }),
        Command::Db { action, data } => data.store_url().and_then(|s| commands::db(action, &data.data_dir, &s)),
        Command::Fields { json } => commands::fields(json),
        Command::Sample { output, hosts, incidents } => {
            sample::write_sample(&output, hosts, incidents).map(|()| ExitCode::SUCCESS)
        }
        Command::Bench(args) => bench::run(&args),
        Command::BenchStore(args) => bench_store::run(&args),
        Command::Serve { data, listen, tls_cert, tls_key, node, config } => {
            serve(data, listen, tls_cert.zip(tls_key), node, config.as_deref()).map(|()| ExitCode::SUCCESS)
        }
        Command::User { action, data } => users::run(action, &data.data_dir),
        Command::Capture(args) => capture::run(&args, false),
        Command::Run(args) => capture::run(&args, true),
        Command::Config { action: ConfigAction::Check { file } } => capture::check_config(&file),
        Command::Config { action: ConfigAction::Default } => {
            print!("{}", config::Config::default().to_toml());
            Ok(ExitCode::SUCCESS)
        }
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut <Cli as clap::CommandFactory>::command(),
                "tyto",
                &mut std::io::stdout(),
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Man { dir } => man_pages(dir.as_deref()).map(|()| ExitCode::SUCCESS),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("tyto: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
