//! Where logs go: the daemon writes its log file (and a terminal, when run in the foreground from
//! one); every other command writes to stderr. Nothing ever logs to stdout, which `maestro lsp`
//! uses for the protocol. `MAESTRO_LOG` overrides the level everywhere.

use maestro_engine::{Config, Paths};
use std::io::IsTerminal;
use std::sync::Mutex;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::writer::{BoxMakeWriter, MakeWriterExt};

/// A log file over this size is rotated to `daemon.log.1` when the daemon starts.
const ROTATE_AT: u64 = 8 << 20;

fn filter(default: &str) -> EnvFilter {
    EnvFilter::try_from_env("MAESTRO_LOG").unwrap_or_else(|_| EnvFilter::new(default))
}

/// The daemon's log: `daemon.log` under the state dir.
pub fn init_daemon(paths: &Paths, config: &Config) -> std::io::Result<()> {
    maestro_store::private::create_dir(&paths.log_dir())?;
    // The state directory of an older install may be 0755.
    if let Some(state) = paths.log_dir().parent() {
        maestro_store::private::restrict(state, 0o700)?;
    }
    let path = paths.log_file();
    if std::fs::metadata(&path).is_ok_and(|m| m.len() > ROTATE_AT) {
        let mut old = path.clone().into_os_string();
        old.push(".1");
        std::fs::rename(&path, old)?;
    }
    let file = maestro_store::private::file_options()
        .create(true)
        .append(true)
        .open(&path)?;
    maestro_store::private::restrict(&path, 0o600)?;
    let writer = if std::io::stderr().is_terminal() {
        BoxMakeWriter::new(Mutex::new(file).and(std::io::stderr))
    } else {
        BoxMakeWriter::new(Mutex::new(file))
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter(&config.settings().log_level))
        .with_writer(writer)
        .with_ansi(false)
        .try_init();
    Ok(())
}

/// Logs of short commands and of `maestro lsp`: stderr, warnings and errors unless `MAESTRO_LOG` says
/// otherwise.
pub fn init_stderr(default: &str) {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter(default))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}
