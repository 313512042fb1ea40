//! The web UI end to end in headless Chromium: Arkime's captures and the sample are
//! ingested with a small GeoIP database built here, `tyto serve` runs on loopback, and
//! `ui/tests/browser.mjs` (playwright-core) drives the pages and checks them against
//! the API. It needs Node.js, `ui/node_modules` and Chromium (`scripts/build-ui.sh`
//! installs them) and a binary built after the UI; without them it says so and
//! passes, unless `TYTO_BROWSER_TESTS=1` (set by `scripts/test.sh`) makes them required.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use mmdb_writer::{ipnet::IpNet, Value, Writer};

fn repo_root() -> PathBuf {
    common::manifest_dir().join("../..")
}

/// What stops the browser test from running here, if anything.
fn missing_piece(root: &Path, chromium: &Path) -> Option<String> {
    if Command::new("node").arg("--version").output().map(|o| !o.status.success()).unwrap_or(true) {
        return Some("node is not installed (scripts/build-ui.sh installs it)".into());
    }
    if !root.join("ui/node_modules/playwright-core").is_dir() {
        return Some("ui/node_modules is missing (run scripts/build-ui.sh)".into());
    }
    if !chromium.is_file() {
        return Some(format!("{} is missing (scripts/build-ui.sh installs Debian's chromium)", chromium.display()));
    }
    None
}

/// A country database covering every IPv4 address in eight blocks (so every public
/// and private address of the captures gets one), and the sample's documentation
/// networks on their own; and an ASN database for a few of them.
fn geoip(dir: &Path) -> (PathBuf, PathBuf) {
    let record = |code: &str| Value::map([("country", Value::map([("iso_code", Value::from(code))]))]);
    let mut country = Writer::builder("Tyto-Test-Country").build();
    let blocks = ["US", "DE", "FR", "JP", "BR", "IN", "AU", "ZA"]
        .iter()
        .enumerate()
        .map(|(i, c)| (format!("{}.0.0.0/3", i * 32), *c));
    // The broad blocks first: a narrower network inserted later takes its part.
    for (net, code) in blocks.chain([("192.0.2.0/24".to_string(), "NL"), ("10.1.0.0/16".to_string(), "CA")]) {
        country.insert_value(net.parse::<IpNet>().unwrap(), record(code)).unwrap();
    }
    let mut asn = Writer::builder("Tyto-Test-ASN").build();
    asn.insert_value(
        "192.0.2.0/24".parse::<IpNet>().unwrap(),
        Value::map([
            ("autonomous_system_number", Value::from(64_496u32)),
            ("autonomous_system_organization", Value::from("Documentation Net")),
        ]),
    )
    .unwrap();
    let (c, a) = (dir.join("country.mmdb"), dir.join("asn.mmdb"));
    std::fs::write(&c, country.to_bytes().unwrap()).unwrap();
    std::fs::write(&a, asn.to_bytes().unwrap()).unwrap();
    (c, a)
}

/// The browser tests run one at a time: three Chromiums with their servers (and
/// ClickHouse) at once on a 2-core machine stretched single steps past the scripts'
/// 30 s waits.
static ONE_BROWSER: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_browser_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    // A test that failed holding it leaves nothing behind for the next.
    ONE_BROWSER.lock().unwrap_or_else(|p| p.into_inner())
}

#[test]
fn viewer_in_a_browser() {
    let _alone = one_browser_at_a_time();
    check_viewer(None);
}

/// The same pages over sessions in ClickHouse.
#[test]
fn viewer_in_a_browser_from_clickhouse() {
    let required = std::env::var("TYTO_BROWSER_TESTS").is_ok_and(|v| v == "1");
    if !required && missing_piece(&repo_root(), Path::new("/usr/bin/chromium")).is_some() {
        return; // said by the other test
    }
    let _alone = one_browser_at_a_time();
    let Some(ch) = common::ClickHouse::start() else { return };
    check_viewer(Some(ch));
}

/// Over a store larger than `[viewer] sample_above`, the pages say their counts are
/// estimates and give the exact ones on request (`ui/tests/estimates.mjs`).
#[test]
fn estimates_in_a_browser() {
    let root = repo_root();
    let chromium = std::env::var_os("CHROMIUM").map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    let required = std::env::var("TYTO_BROWSER_TESTS").is_ok_and(|v| v == "1");
    if missing_piece(&root, &chromium).is_some() {
        assert!(!required, "browser tests required (TYTO_BROWSER_TESTS=1): see viewer_in_a_browser");
        return; // said by the other test
    }
    let _alone = one_browser_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let (pcap, data, config) = (dir.path().join("many.pcap"), dir.path().join("data"), dir.path().join("tyto.toml"));
    common::ok(common::tyto().args(["sample", "--hosts", "10000", "-o"]).arg(&pcap).output().unwrap());
    common::ok(common::tyto().args(["ingest", "--data-dir"]).arg(&data).arg(&pcap).output().unwrap());
    common::add_user(&data, &["ann", "--admin"], "ann-secret");
    std::fs::write(&config, "[viewer]\nsample_above = 6000\n").unwrap();
    let (server, base) = common::serve(&data, &["--config", config.to_str().unwrap()]);
    run_ui_script("estimates.mjs", server, &base, &[], &chromium, "estimates");
}

/// Runs `ui/tests/SCRIPT` in node against the server at `base` (as the admin `ann`,
/// with `env` besides), then stops the server; fails with the script's output if it
/// failed. Screenshots go to `TYTO_ARTIFACTS/SUBDIR`.
fn run_ui_script(
    script: &str,
    mut server: std::process::Child,
    base: &str,
    env: &[(&str, &std::ffi::OsStr)],
    chromium: &Path,
    subdir: &str,
) -> String {
    let root = repo_root();
    let artifacts = std::env::var_os("TYTO_ARTIFACTS")
        .map_or_else(|| std::env::temp_dir().join("tyto-browser-artifacts"), PathBuf::from)
        .join(subdir);
    let run = Command::new("node")
        .arg(root.join("ui/tests").join(script))
        .current_dir(root.join("ui"))
        .env("TYTO_URL", base)
        .env("TYTO_USER", "ann")
        .env("TYTO_PASSWORD", "ann-secret")
        .env("TYTO_ARTIFACTS", &artifacts)
        .env("CHROMIUM", chromium)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let _ = server.kill();
    let _ = server.wait();
    assert!(
        run.status.success(),
        "{script} failed (screenshots in {}):\n{}\n{}",
        artifacts.display(),
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    String::from_utf8_lossy(&run.stdout).into_owned()
}

fn check_viewer(clickhouse: Option<common::ClickHouse>) {
    let store = clickhouse.as_ref().map_or_else(|| "duckdb://".to_string(), |c| c.url("browser"));
    let root = repo_root();
    let chromium = std::env::var_os("CHROMIUM").map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    let required = std::env::var("TYTO_BROWSER_TESTS").is_ok_and(|v| v == "1");
    if let Some(why) = missing_piece(&root, &chromium) {
        assert!(!required, "browser tests required (TYTO_BROWSER_TESTS=1) but {why}");
        eprintln!("skipping the browser test: {why}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (country, asn) = geoip(dir.path());
    let sample = dir.path().join("sample.pcap");
    common::ok(common::tyto().args(["sample", "--incidents", "-o"]).arg(&sample).output().unwrap());
    let mut inputs = vec![sample.clone()];
    // Sent again from the Upload page, tagged: its sessions are counted apart.
    let upload = sample;
    inputs.extend(common::arkime_captures().unwrap_or_default());
    common::ok(
        common::tyto()
            .args(["ingest", "--store", &store, "--data-dir"])
            .arg(&data)
            .arg("--geoip-country")
            .arg(&country)
            .arg("--geoip-asn")
            .arg(&asn)
            .args(&inputs)
            .output()
            .unwrap(),
    );
    // GeoIP reached the store: the sample's servers are in the documentation network.
    let out = common::ok(
        common::tyto()
            .args(["sessions", "--store", &store, "--data-dir"])
            .arg(&data)
            .args(["--expr", "country.dst == NLD && asn.dst == \"AS64496 Documentation Net\"", "--limit", "1"])
            .output()
            .unwrap(),
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("192.0.2."), "{}", String::from_utf8_lossy(&out.stdout));

    common::add_user(&data, &["ann", "--admin"], "ann-secret");
    common::add_user(&data, &["bob", "--no-pcap", "--no-packets"], "bob-secret");
    // Uploads are matched against an indicator list: the sample's servers' network.
    let (feed, config) = (dir.path().join("docs.txt"), dir.path().join("tyto.toml"));
    std::fs::write(&feed, "# the documentation network\n192.0.2.0/24\n").unwrap();
    std::fs::write(&config, format!("[[intel.source]]\nname = \"docs\"\npath = \"{}\"\n", feed.display())).unwrap();
    let (mut server, base) = common::serve(&data, &["--store", &store, "--config", config.to_str().unwrap()]);
    let front = Command::new("curl").args(["-s", "-u", "ann:ann-secret", &format!("{base}/")]).output().unwrap();
    let front = String::from_utf8_lossy(&front.stdout).to_string();
    if front.contains("built without the web UI") {
        let _ = server.kill();
        let why = "this tyto was built before the UI (run scripts/build-ui.sh, then build again)";
        assert!(!required, "browser tests required but {why}");
        eprintln!("skipping the browser test: {why}");
        return;
    }
    let out = run_ui_script(
        "browser.mjs",
        server,
        &base,
        &[
            ("TYTO_LIMITED_USER", "bob".as_ref()),
            ("TYTO_LIMITED_PASSWORD", "bob-secret".as_ref()),
            ("TYTO_UPLOAD_FILE", upload.as_os_str()),
        ],
        &chromium,
        if clickhouse.is_some() { "clickhouse" } else { "duckdb" },
    );
    eprintln!("{out}");
}
