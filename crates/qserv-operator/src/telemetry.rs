//! Logging set-up shared by every subcommand: human-readable on a terminal, JSON for log
//! collectors. `RUST_LOG` filters as usual.

use tracing_subscriber::{EnvFilter, fmt};

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Installs the global subscriber; logs go to stderr so stdout stays clean for output
/// such as `crds`. Colours only on a terminal: a container's stderr is a pipe whose lines end
/// in a log file that `kubectl logs` prints as they are.
pub fn init(format: LogFormat, default_level: &str) {
    use std::io::IsTerminal as _;
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    let builder = fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
}

/// Installs the global subscriber writing to `file` (created, plain text without colours):
/// for the demo, whose terminal belongs to the person reading its progress.
pub fn init_to_file(
    format: LogFormat,
    default_level: &str,
    file: &std::path::Path,
) -> std::io::Result<()> {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    let writer = std::sync::Mutex::new(std::fs::File::create(file)?);
    let builder = fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(writer);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
    Ok(())
}
