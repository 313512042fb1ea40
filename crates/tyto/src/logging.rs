//! Log lines to standard error: for a person at a terminal (colours), for a file, or
//! for systemd's journal (each line with its syslog priority); which ones are
//! written is `RUST_LOG`'s choice, else the configuration's `log`, else warnings and
//! errors.

use std::sync::OnceLock;

use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{reload, EnvFilter, Registry};

/// What logs are written when neither `RUST_LOG` nor the configuration says.
pub const DEFAULT_LEVEL: &str = "warn";

/// Changes which log lines are written, once the configuration is read.
static LEVEL: OnceLock<reload::Handle<EnvFilter, Registry>> = OnceLock::new();

/// Starts logging, before the command line and the configuration are read.
pub fn start() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| DEFAULT_LEVEL.into());
    let (filter, handle) = reload::Layer::new(filter);
    let _ = LEVEL.set(handle);
    let lines = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    if stderr_is_the_journal() {
        tracing_subscriber::registry().with(filter).with(lines.event_format(JournalLine)).init();
    } else {
        // Colours only for a person at a terminal, not in files and pipes.
        let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
        tracing_subscriber::registry().with(filter).with(lines.with_ansi(ansi)).init();
    }
}

/// The configuration's `log` (checked by [`check_level`]), unless `RUST_LOG` is set:
/// the environment of one run says more than the file every run reads.
pub fn use_configured(level: &str) {
    if std::env::var_os("RUST_LOG").is_some() || level == DEFAULT_LEVEL {
        return;
    }
    if let (Some(handle), Ok(filter)) = (LEVEL.get(), EnvFilter::try_new(level)) {
        let _ = handle.reload(filter);
    }
}

/// Whether `level` says which logs to write: a level (`error`, `warn`, `info`,
/// `debug`, `trace`) or `RUST_LOG`'s directives (`warn,tyto_flow=debug`).
pub fn check_level(level: &str) -> Result<(), String> {
    // A bare word would be taken as a module name whose every log is written: a
    // misspelt level ("warning") would then silence all others.
    const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];
    if !level.contains(['=', ',', '[']) && !LEVELS.contains(&level.trim().to_ascii_lowercase().as_str()) {
        return Err(format!("{level:?} is not one of {}", LEVELS.join(", ")));
    }
    EnvFilter::builder().parse(level).map(|_| ()).map_err(|e| e.to_string())
}

/// Whether standard error is systemd's journal: `JOURNAL_STREAM` names its device
/// and inode, and standard error must still be that stream (a shell under the
/// service may have redirected it), as systemd.exec(5) advises.
fn stderr_is_the_journal() -> bool {
    use std::os::fd::AsFd;
    use std::os::unix::fs::MetadataExt;
    let Some((dev, ino)) = std::env::var("JOURNAL_STREAM").ok().and_then(|v| {
        let (d, i) = v.split_once(':')?;
        Some((d.parse::<u64>().ok()?, i.parse::<u64>().ok()?))
    }) else {
        return false;
    };
    let Ok(fd) = std::io::stderr().as_fd().try_clone_to_owned() else { return false };
    std::fs::File::from(fd).metadata().is_ok_and(|m| m.dev() == dev && m.ino() == ino)
}

/// A log line for the journal: the syslog priority first (`<3>` error, `<4>` warning,
/// `<6>` info, `<7>` debug and trace), which journald takes as the entry's level
/// (sd-daemon(3)); no time (journald stamps each entry) and no colours.
struct JournalLine;

impl<S, N> tracing_subscriber::fmt::FormatEvent<S, N> for JournalLine
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    N: for<'a> tracing_subscriber::fmt::FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &tracing_subscriber::fmt::FmtContext<'_, S, N>,
        mut writer: tracing_subscriber::fmt::format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let meta = event.metadata();
        let priority = match *meta.level() {
            tracing::Level::ERROR => 3,
            tracing::Level::WARN => 4,
            tracing::Level::INFO => 6,
            _ => 7,
        };
        write!(writer, "<{priority}>{}: ", meta.target())?;
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}
