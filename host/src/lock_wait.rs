//! Waiting for another process's write lock: a writer waits up to
//! [`BUSY_TIMEOUT`], the operator's Ctrl-C ends the wait (and interrupts the
//! SQL in flight), except for the one wait that records how a run ended.

use crate::db::{Database, BUSY_TIMEOUT};
use anyhow::{Context as _, Result};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Interrupts the SQL running on the connection, from another thread (the
/// Ctrl-C handler); the statement fails with "interrupted".
pub(crate) struct Interrupt(rusqlite::InterruptHandle);

impl Interrupt {
    /// Stops the statement running now, if any.
    pub(crate) fn interrupt(&self) {
        self.0.interrupt();
    }
}

/// Marks a wait for the write lock as one that records a run's end; see
/// [`Database::record_through_cancel`].
pub(crate) struct RecordingEnd(Arc<AtomicBool>);

impl Drop for RecordingEnd {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

impl Database {
    /// While the guard lives, a wait for the write lock is one to record a
    /// run's end: a run that wrote nothing (it was cancelled, or failed,
    /// before its first database call) still needs the lock to record how it
    /// ended. The CLI's busy handler keeps waiting then, through the first
    /// Ctrl-C that cancelled the run; a second one exits at once.
    pub(crate) fn record_through_cancel(&self) -> RecordingEnd {
        self.recording_end.store(true, Ordering::SeqCst);
        RecordingEnd(Arc::clone(&self.recording_end))
    }

    /// Lets the operator stop a wait: while another process holds the write
    /// lock, the connection waits for it up to [`BUSY_TIMEOUT`], and gives
    /// up as soon as `cancel` is set, except while a run's end is being
    /// recorded (see [`Database::record_through_cancel`]). `on_long_wait`
    /// is called once a wait has lasted a second. Returns what interrupts
    /// the SQL in flight.
    pub(crate) fn stop_waiting_on(
        &mut self,
        cancel: Arc<AtomicBool>,
        on_long_wait: fn(),
    ) -> Result<Interrupt> {
        let recording_end = Arc::clone(&self.recording_end);
        self.conn
            .busy_handler(Some(wait_unless_cancelled(cancel, recording_end, on_long_wait)))
            .context("installing the busy handler")?;
        Ok(Interrupt(self.conn.get_interrupt_handle()))
    }
}

/// A busy handler: waits for another process's write lock like the default
/// one, up to [`BUSY_TIMEOUT`], calls `on_long_wait` once a second has
/// passed, and gives up as soon as `cancel` is set, except while
/// `recording_end` is: a cancelled run that wrote nothing waits for the lock
/// to record its end.
fn wait_unless_cancelled(
    cancel: Arc<AtomicBool>,
    recording_end: Arc<AtomicBool>,
    on_long_wait: fn(),
) -> impl FnMut(i32) -> bool + Send + 'static {
    const POLL: Duration = Duration::from_millis(5);
    let mut since = Instant::now();
    let mut said = false;
    move |attempt| {
        if attempt == 0 {
            (since, said) = (Instant::now(), false);
        }
        let stop_waiting = cancel.load(Ordering::SeqCst) && !recording_end.load(Ordering::SeqCst);
        if stop_waiting || since.elapsed() >= BUSY_TIMEOUT {
            return false;
        }
        if !said && since.elapsed() >= Duration::from_secs(1) {
            on_long_wait();
            said = true;
        }
        std::thread::sleep(POLL);
        true
    }
}
