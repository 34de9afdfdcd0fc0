//! A small logger: `LEVEL target: message` lines on stderr, filtered by level.

use log::{LevelFilter, Log, Metadata, Record};

struct StderrLogger;

impl Log for StderrLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if self.enabled(record.metadata()) {
            // A message may carry what a user typed: no control character
            // reaches the terminal raw.
            let message = record.args().to_string();
            errln!(
                "{:<5} {}: {}",
                record.level(),
                record.target(),
                crate::text::escape_controls(&message)
            );
        }
    }

    fn flush(&self) {}
}

static LOGGER: StderrLogger = StderrLogger;

/// Installs the logger (once per process; later calls only change the level).
pub(crate) fn init(level: LevelFilter) {
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(level);
}
