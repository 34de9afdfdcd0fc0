//! Writing to stdout and stderr without ever panicking.
//!
//! `println!` panics when stdout is a closed pipe (`spine-host executions |
//! head -1`), and `eprintln!` when stderr is; inside a plugin's log callback
//! that panic would abort the process in the middle of a run. Here a closed
//! stdout ends the printing quietly, the exit code stays the command's own
//! (see [`output_error`]), and a closed stderr is ignored: logs and progress
//! are never worth a run.

use std::fmt;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// Set at the first failed write to stdout: nothing more is written.
static STDOUT_GONE: AtomicBool = AtomicBool::new(false);
/// The first write error that was not a closed pipe (a full disk, say).
static STDOUT_ERROR: Mutex<Option<std::io::Error>> = Mutex::new(None);

/// Writes to stdout; after a failed write, nothing.
pub(crate) fn write_stdout(args: fmt::Arguments<'_>) {
    if STDOUT_GONE.load(Ordering::Relaxed) {
        return;
    }
    if let Err(error) = std::io::stdout().lock().write_fmt(args) {
        STDOUT_GONE.store(true, Ordering::Relaxed);
        if !is_closed_pipe(&error) {
            if let Ok(mut first) = STDOUT_ERROR.lock() {
                first.get_or_insert(error);
            }
        }
    }
}

/// Writes to stderr, ignoring failure.
pub(crate) fn write_stderr(args: fmt::Arguments<'_>) {
    let _ = std::io::stderr().lock().write_fmt(args);
}

/// A write to stdout that failed for another reason than a closed pipe: the
/// output is incomplete, and the command must not report success.
pub(crate) fn output_error() -> Option<std::io::Error> {
    let _ = std::io::stdout().lock().flush().map_err(|error| {
        if !is_closed_pipe(&error) {
            if let Ok(mut first) = STDOUT_ERROR.lock() {
                first.get_or_insert(error);
            }
        }
    });
    STDOUT_ERROR.lock().ok()?.take()
}

/// Whether `error` says the reader of a pipe went away.
pub(crate) fn is_closed_pipe(error: &std::io::Error) -> bool {
    error.kind() == std::io::ErrorKind::BrokenPipe
}

/// `println!` to stdout that never panics: see the module documentation.
macro_rules! outln {
    () => { $crate::console::write_stdout(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::console::write_stdout(format_args!("{}\n", format_args!($($arg)*))) };
}

/// `eprintln!` to stderr that never panics.
macro_rules! errln {
    ($($arg:tt)*) => { $crate::console::write_stderr(format_args!("{}\n", format_args!($($arg)*))) };
}

/// `eprint!` to stderr that never panics.
macro_rules! err {
    ($($arg:tt)*) => { $crate::console::write_stderr(format_args!($($arg)*)) };
}
