//! `db reset`: emptying a Market Spine database in place.
//!
//! The file is never deleted: another process may open it between any check
//! and the unlink, and would then write into a file nobody sees again. The
//! reset happens inside the file, through SQLite, under an exclusive lock
//! that no other connection can hold at the same time, and only on a file
//! that is a Market Spine database (or an empty one).

use crate::error::{conflict, usage};
use anyhow::{Context as _, Result};
use rusqlite::config::DbConfig;
use rusqlite::{Connection, ErrorCode, OpenFlags};
use std::path::Path;

/// The host's migration tracking table: what makes a SQLite file Market Spine's.
const TRACKING_TABLE: &str = "core_migrations";

/// Empties the existing database at `path`: every table, index, view and
/// trigger goes, and the file stays where it is (same inode).
pub(crate) fn reset_in_place(path: &Path) -> Result<()> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE)
        .with_context(|| format!("opening database {}", path.display()))?;
    // Another process that has the database open holds a shared lock on it
    // for as long as its connection lives (WAL mode): the exclusive lock
    // below then fails at once instead of waiting.
    conn.busy_timeout(std::time::Duration::ZERO)?;
    conn.pragma_update(None, "locking_mode", "EXCLUSIVE")?;
    let in_use = || {
        conflict(format!(
            "database {} is open in another process (a run, a shell, a reader); \
             db reset needs it idle, and left it as it was",
            path.display()
        ))
    };
    let tables = match tables(&conn) {
        Ok(tables) => tables,
        Err(e) if error_code(&e) == Some(ErrorCode::NotADatabase) => {
            return Err(usage(format!(
                "{} is not a SQLite database; db reset empties only a Market Spine database, \
                 and left it as it was",
                path.display()
            )))
        }
        Err(e) if error_code(&e) == Some(ErrorCode::DatabaseBusy) => return Err(in_use()),
        Err(e) => return Err(e).with_context(|| format!("reading database {}", path.display())),
    };
    if !tables.is_empty() && !tables.iter().any(|t| t == TRACKING_TABLE) {
        return Err(usage(format!(
            "{} is a SQLite database, but not Market Spine's (it has no {TRACKING_TABLE} table); \
             db reset left it as it was",
            path.display()
        )));
    }
    // In exclusive locking mode the lock taken here is kept after COMMIT,
    // until the connection closes.
    match conn.execute_batch("BEGIN EXCLUSIVE; COMMIT;") {
        Err(e) if error_code(&e) == Some(ErrorCode::DatabaseBusy) => return Err(in_use()),
        other => other.with_context(|| format!("locking database {}", path.display()))?,
    }
    // SQLite's documented way to empty a database in place.
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_RESET_DATABASE, true)?;
    conn.execute_batch("VACUUM")
        .with_context(|| format!("emptying database {}", path.display()))?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_RESET_DATABASE, false)?;
    Ok(())
}

fn tables(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut statement = conn.prepare("SELECT name FROM main.sqlite_master WHERE type = 'table'")?;
    let names = statement.query_map([], |row| row.get(0))?;
    names.collect()
}

fn error_code(error: &rusqlite::Error) -> Option<ErrorCode> {
    error.sqlite_error_code()
}
