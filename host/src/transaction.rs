//! The run's transaction: begun at the pipeline's first database call
//! (`BEGIN IMMEDIATE; SAVEPOINT run`), its SQL fenced as the plugin's while
//! it is open, and rolled back whole when the host cannot go on.
//!
//! [`crate::services`] begins it; [`crate::runner`] ends it, recording the
//! run's end in it.

use crate::db::Database;
use crate::fence::FencedPluginSql;
use anyhow::{Context as _, Result};

/// Where the run's transaction stands, begun lazily by the first database call.
pub(crate) enum RunTransaction {
    /// The pipeline has not touched the database: no lock is held.
    NotBegun,
    /// Begun (`BEGIN IMMEDIATE; SAVEPOINT run`), the run's SQL fenced while
    /// the guard lives.
    Open(FencedPluginSql),
    /// Beginning failed (the database stayed locked, or Ctrl-C while waiting
    /// for it); the plugin was told, and nothing of the run was written.
    Refused,
}

/// Begins the run's transaction and fences its SQL as plugin SQL of
/// `domain`; called at the pipeline's first database call. The run's writes
/// go in a savepoint, so that a failed run can undo them and record its end
/// while the transaction keeps the write lock. Waiting for another process's
/// write lock ends on Ctrl-C (the CLI's busy handler).
pub(crate) fn begin(db: &Database, domain: &str) -> Result<FencedPluginSql> {
    if let Err(e) = db.conn.execute_batch("BEGIN IMMEDIATE; SAVEPOINT run") {
        rollback(db)?;
        return Err(e).context("starting the run's transaction");
    }
    db.fence_plugin_sql(domain).or_else(|e| {
        rollback(db)?;
        Err(e.context("fencing the run's SQL"))
    })
}

/// Rolls back the run's transaction, if one is open.
pub(crate) fn rollback(db: &Database) -> Result<()> {
    if !db.conn.is_autocommit() {
        db.conn
            .execute_batch("ROLLBACK")
            .context("rolling back the run's transaction")?;
    }
    Ok(())
}
