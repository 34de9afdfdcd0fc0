//! Keeps the log lines of a harness run, per thread, instead of printing
//! them: tests run in parallel, each on its own thread, and a run logs on the
//! thread that started it.

use log::{LevelFilter, Log, Metadata, Record};
use std::cell::RefCell;
use std::sync::Once;

thread_local! {
    /// The lines logged on this thread since its capture began, if one did.
    static LINES: RefCell<Option<Vec<String>>> = const { RefCell::new(None) };
}

struct Capture;

impl Log for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        LINES.with(|lines| lines.borrow().is_some())
    }

    fn log(&self, record: &Record<'_>) {
        LINES.with(|lines| {
            if let Some(lines) = lines.borrow_mut().as_mut() {
                // The host's own format (spine_host::logging).
                lines.push(format!(
                    "{:<5} {}: {}",
                    record.level(),
                    record.target(),
                    record.args()
                ));
            }
        });
    }

    fn flush(&self) {}
}

static CAPTURE: Capture = Capture;

/// Runs `work`, returning what it logged on this thread beside its result.
pub(crate) fn capture<T>(work: impl FnOnce() -> T) -> (T, Vec<String>) {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        // Fails when the test installed a logger first: its logger then
        // gets the lines, and the runs' `logs` stay empty.
        if log::set_logger(&CAPTURE).is_ok() {
            log::set_max_level(LevelFilter::Trace);
        }
    });
    let outer = LINES.with(|lines| lines.borrow_mut().replace(Vec::new()));
    let result = work();
    let captured = LINES.with(|lines| std::mem::replace(&mut *lines.borrow_mut(), outer));
    (result, captured.unwrap_or_default())
}
