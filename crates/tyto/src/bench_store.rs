//! `tyto bench-store`: the session store alone, any backend. Synthetic session rows
//! (the mix of protocols, hosts, ports and countries the viewer's searches meet) go
//! in through the store's own write path, batch by batch, then the searches an
//! analyst makes and the SPI view's value counts are timed on them. Run it with
//! `--store duckdb:///DIR` and `--store clickhouse://…` to set the two side by side.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use tyto_packet::Addr;
use tyto_schema::{DirStats, SessionRecord};
use tyto_store::{ListQuery, ReaderBox, StoreUrl};

#[derive(Args)]
pub struct BenchStoreArgs {
    /// The store to fill and search (an empty one: its rows are counted).
    #[arg(long)]
    store: String,
    /// Session rows to write (0: search what the store holds).
    #[arg(long, default_value_t = 10_000_000)]
    rows: u64,
    /// Rows per append: by default what a sensor's row queue hands the store at once
    /// when the store is behind (everything waiting, up to this many).
    #[arg(long, default_value_t = tyto_store::MAX_APPEND_ROWS)]
    batch: usize,
    /// Days the rows' start times spread over.
    #[arg(long, default_value_t = 10)]
    days: u64,
    /// Where the spool (ClickHouse) goes.
    #[arg(long, default_value_os_t = std::env::temp_dir().join("tyto-bench-store"))]
    data_dir: std::path::PathBuf,
}

/// A cheap, well-mixed hash (splitmix64): the same rows on every run.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

const START_NS: i64 = 1_700_000_000_000_000_000;

fn row(i: u64, spacing_ns: i64) -> SessionRecord {
    let h = mix(i);
    let kind = i % 10;
    let (proto, protocols): (u8, &[&str]) = match kind {
        0..=3 => (6, &["tcp", "http"]),
        4..=6 => (6, &["tcp", "tls"]),
        7..=8 => (17, &["udp", "dns"]),
        _ => (1, &["icmp"]),
    };
    let start = START_NS + i as i64 * spacing_ns;
    let packets = 1 + mix(i * 11) % 200;
    let bytes = mix(i * 13) % 1_000_000;
    let mut r = SessionRecord {
        id: format!("{:06}-{:024x}", 231114 + i / 8_640_000, h as u128 * 31 + i as u128),
        node: "bench".into(),
        segment: 1,
        ip_protocol: proto,
        ethertype: 0x0800,
        src_ip: Some(Addr::from_v4([10, 0, (h % 256) as u8, ((h >> 8) % 256) as u8])),
        dst_ip: Some(Addr::from_v4(((mix(i * 7) % (1 << 32)) as u32).to_be_bytes())),
        src_port: (1024 + mix(i * 3) % 60_000) as u16,
        dst_port: [80, 443, 53, 22, 3389, 445, 8080, 25][(mix(i * 5) % 8) as usize],
        start_ns: start,
        stop_ns: start + (h % 60_000_000_000) as i64,
        src: DirStats { packets: packets / 2 + 1, bytes: bytes / 2, databytes: bytes / 3 },
        dst: DirStats { packets: packets / 2, bytes: bytes / 2, databytes: bytes / 3 },
        protocols: protocols.iter().map(|s| s.to_string()).collect(),
        packet_pos: vec![-1, 24 + (i % 1000) as i64 * 100, 124 + (i % 1000) as i64 * 100],
        ..SessionRecord::default()
    };
    r.root_id = r.id.clone();
    let country = ["USA", "JPN", "DEU", "FRA", "BRA"][(mix(i * 17) % 5) as usize];
    let _ = r.extra.add_text("country.dst", country);
    if kind <= 3 {
        let host = format!("host{}.example.com", h % 10_000);
        let _ = r.extra.add_text("http.uri", &format!("{host}/p/{}", i % 100));
        let _ = r.extra.add_text("host.http", &host);
    } else if (7..=8).contains(&kind) {
        let _ = r.extra.add_text("host.dns", &format!("q{}.example.net", h % 50_000));
    }
    r
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

/// The best of three runs (the first warms caches), in ms, and its answer.
fn best<T>(mut f: impl FnMut() -> Result<T>) -> Result<(f64, T)> {
    let mut best: Option<(f64, T)> = None;
    for _ in 0..3 {
        let t = Instant::now();
        let out = f()?;
        let took = ms(t);
        if best.as_ref().is_none_or(|(b, _)| took < *b) {
            best = Some((took, out));
        }
    }
    best.context("no run")
}

pub fn run(args: &BenchStoreArgs) -> Result<ExitCode> {
    let url = StoreUrl::parse(&args.store)?;
    insert_rows(args, &url)?;
    // Searches as the viewer runs them: `tyto serve` holds DuckDB with a thread per
    // core, where a sensor's writer holds it with one.
    let store = url.open_reader(&args.data_dir)?;
    time_searches(&store)?;
    // The SPI view, graph and connections under one expression: as the viewer asks
    // (estimated from a sample over a large store), then with every session counted.
    let exact = ListQuery { filter: Some(tyto_query::compile("protocols == http", 0)?), ..ListQuery::default() };
    let viewer = ListQuery { sample_above: Some(tyto_store::SAMPLE_ABOVE), ..exact.clone() };
    let estimated = time_spi_view(&store, &viewer, &exact)?;
    time_graphs(&store, &viewer, &exact, estimated)?;
    Ok(ExitCode::SUCCESS)
}

/// Writes the generated rows; prints rows/s of store time (making rows not counted).
fn insert_rows(args: &BenchStoreArgs, url: &StoreUrl) -> Result<()> {
    std::fs::create_dir_all(&args.data_dir)?;
    let mut writer = url.open_writer(&args.data_dir, "bench")?;
    let store = writer.reader()?;
    let before = store.count()?;
    println!("store: {}; {} rows there before", store.describe(), before);
    let spacing_ns = (args.days as i64 * 86_400_000_000_000) / args.rows.max(1) as i64;
    let t = Instant::now();
    let mut written = 0u64;
    let mut make_s = 0.0;
    while written < args.rows {
        let n = (args.rows - written).min(args.batch as u64);
        let tm = Instant::now();
        let rows: Vec<SessionRecord> = (written..written + n).map(|i| row(i, spacing_ns)).collect();
        make_s += tm.elapsed().as_secs_f64();
        writer.append(&rows.iter().collect::<Vec<_>>())?;
        written += n;
    }
    let held = writer.deliver_pending(std::time::Duration::from_secs(600))?;
    let total_s = t.elapsed().as_secs_f64();
    let store_s = (total_s - make_s).max(1e-9);
    let stats = store.stats()?;
    if written > 0 {
        println!(
            "inserted {written} rows in {store_s:.1} s of store time: {:.0} rows/s ({} MB on disk{})",
            written as f64 / store_s,
            stats.stored_bytes / 1_000_000,
            if held > 0 { format!(", {held} rows still spooled") } else { String::new() }
        );
    }
    Ok(())
}

/// Counts and first pages of the searches analysts run most.
fn time_searches(store: &ReaderBox) -> Result<()> {
    let day = START_NS;
    let searches: [(&str, Option<(i64, i64)>); 8] = [
        ("port.dst == 443", None),
        ("ip.src == 10.0.1.0/24 && port.dst == [80, 443]", None),
        ("protocols == http && country.dst != JPN && bytes > 100000", None),
        ("host == host123.example.com", None),
        ("host == *.example.net", None),
        ("http.uri == /host1[0-9]+\\.example\\.com\\/p\\/4.*/", None),
        ("port.dst == 3389 && ip.protocol == tcp", Some((day + 3_600_000_000_000, day + 7_200_000_000_000))),
        ("ip.dst == 1.2.3.0/24", Some((day, day + 86_400_000_000_000))),
    ];
    println!("{:>10} {:>10} {:>10}  search", "count ms", "rows", "page ms");
    for (expr, window) in searches {
        let filter = tyto_query::compile(expr, 0).with_context(|| expr.to_string())?;
        let mut q = ListQuery { filter: Some(filter), limit: 100, ..ListQuery::default() };
        if let Some((a, b)) = window {
            q.start_ns = Some(a);
            q.stop_ns = Some(b);
        }
        let (count_ms, n) = best(|| Ok(store.count_matching(&q)?))?;
        let (page_ms, _) = best(|| Ok(store.list(&q)?))?;
        println!(
            "{count_ms:>10.1} {n:>10} {page_ms:>10.1}  {expr}{}",
            if window.is_some() { "  [time window]" } else { "" }
        );
    }
    Ok(())
}

/// The top values of several fields, in turn, under `viewer` then `exact`; the
/// estimate's top ten set beside the exact ones. Whether anything was estimated.
fn time_spi_view(store: &ReaderBox, viewer: &ListQuery, exact: &ListQuery) -> Result<bool> {
    // The SPI view: the top values of several fields under an expression, in turn,
    // as the viewer asks (estimated from a sample over a large store), then with
    // every session counted; the estimate's top ten are set beside the exact ones.
    let fields = ["ip.dst", "port.dst", "host.http", "protocols", "country.dst"];
    let mut answers = Vec::new();
    // Whether the store estimated anything (a store too small, or one that cannot
    // sample, counts every session either way: the exact runs would repeat the first).
    let mut estimated = false;
    for (q, how) in [(viewer, "as the viewer asks"), (exact, "every session counted")] {
        if answers.len() == 1 && !estimated {
            println!("{:>10} (nothing was estimated: every session was counted)", "");
            break;
        }
        let (spi_ms, (each, tops)) = best(|| {
            let (mut each, mut tops) = (Vec::new(), Vec::new());
            for name in fields {
                let f = tyto_schema::field(name).context("a catalogue field")?;
                let t = Instant::now();
                let top = store.top_values(q, f, 100)?;
                estimated |= top.sample_percent.is_some();
                let sample = top.sample_percent.map_or(String::new(), |p| format!(" ({p:.1}% sample)"));
                each.push(format!("{name} {:.0}{sample}", ms(t)));
                tops.push(top.rows);
            }
            Ok((each, tops))
        })?;
        println!(
            "{spi_ms:>10.1} ms SPI view, {how}: top 100 of {} (protocols == http; ms each: {})",
            fields.join(", "),
            each.join(", ")
        );
        answers.push(tops);
    }
    // How near the estimate came: of each field's ten most frequent values, how many
    // both name, and the largest error of a count among those.
    if let [estimates, counted] = answers.as_slice() {
        let top10 =
            |v: &[tyto_store::ValueCount]| v.iter().take(10).map(|c| (c.value.clone(), c.count)).collect::<Vec<_>>();
        let mut agreement = Vec::new();
        for (name, (est, all)) in fields.iter().zip(estimates.iter().zip(counted)) {
            let (est, all) = (top10(est), top10(all));
            let shared: Vec<f64> = est
                .iter()
                .filter_map(|(v, n)| {
                    let (_, m) = all.iter().find(|(w, _)| w == v)?;
                    Some((*n as f64 - *m as f64).abs() / (*m).max(1) as f64)
                })
                .collect();
            let worst = shared.iter().copied().fold(0.0, f64::max);
            agreement.push(format!("{name} {}/{} ±{:.1}%", shared.len(), all.len(), worst * 100.0));
        }
        println!(
            "{:>10} estimate vs exact, top 10 named by both and the largest count error: {}",
            "",
            agreement.join(", ")
        );
    }
    Ok(estimated)
}

/// The SPI graph and the connections graph, as the viewer asks and exactly, and the
/// histogram by hour.
fn time_graphs(store: &ReaderBox, viewer: &ListQuery, exact: &ListQuery, estimated: bool) -> Result<()> {
    // The SPI graph and the connections graph, as the viewer asks and exactly.
    let sampled = |p: Option<f64>| p.map_or(String::new(), |p| format!(", from a {p:.1}% sample"));
    let port = tyto_schema::field("port.dst").context("a catalogue field")?;
    let (src, dst) =
        (tyto_schema::field("ip.src").context("a field")?, tyto_schema::field("ip.dst").context("a field")?);
    let ways = [(viewer, "as the viewer asks"), (exact, "every session counted")];
    for (q, how) in ways.into_iter().take(if estimated { 2 } else { 1 }) {
        let (graph_ms, series) = best(|| Ok(store.value_histogram(q, port, 10, 3_600_000_000_000)?))?;
        println!(
            "{graph_ms:>10.1} ms SPI graph, {how}: port.dst's top 10 by hour (protocols == http{})",
            sampled(series.sample_percent)
        );
        let (links_ms, links) = best(|| Ok(store.connections(q, src, dst, 100)?))?;
        println!(
            "{links_ms:>10.1} ms connections, {how}: 100 heaviest ip.src → ip.dst links (protocols == http{})",
            sampled(links.sample_percent)
        );
    }
    let (hist_ms, buckets) = best(|| Ok(store.histogram(&ListQuery::default(), 3_600_000_000_000)?))?;
    println!("{hist_ms:>10.1} ms histogram by hour ({} buckets)", buckets.len());
    Ok(())
}
