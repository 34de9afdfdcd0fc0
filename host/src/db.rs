//! The one SQLite connection the host writes through: opened with WAL, a
//! busy timeout (see `lock_wait.rs` for how Ctrl-C ends a wait) and the
//! fence around plugin SQL installed (see `fence.rs` for what it allows),
//! with the entry points that run plugin SQL under the fence.

use crate::error::usage;
use crate::fence::{Fence, FencedPluginSql};
use crate::raw_sqlite::{RawStatement, RawStatements};
use anyhow::{Context as _, Result};
use rusqlite::{Connection, OpenFlags};
use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

/// How long a writer waits for another process's write transaction.
/// Long enough for another process's large ingest to finish first.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(600);

/// The page size of new databases.
const PAGE_SIZE: i64 = 64 * 1024;

/// Statements cached per connection: every plugin's hot statements fit.
const STATEMENT_CACHE_CAPACITY: usize = 128;

/// An open database: the connection plus the plugin-SQL fence.
pub(crate) struct Database {
    /// Plugin statements for `execute` and `execute_many`. Declared before
    /// `conn`, so that the statements are finalized before the connection
    /// closes.
    plugin_statements: RawStatements,
    /// The domain whose fence the cached statements were prepared under.
    statements_authorized_for: RefCell<Option<String>>,
    pub(crate) conn: Connection,
    pub(crate) path: PathBuf,
    fence: Arc<Fence>,
    /// True while the host waits for the write lock only to record a run's
    /// end (see `lock_wait.rs`).
    pub(crate) recording_end: Arc<AtomicBool>,
}

impl Database {
    /// Opens (creating if needed) the database at `path` with WAL, a busy
    /// timeout and foreign keys on.
    pub(crate) fn open(path: &Path) -> Result<Self> {
        refuse_a_folder(path)?;
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            if !parent.is_dir() {
                return Err(usage(format!(
                    "database {}: folder {} does not exist",
                    path.display(),
                    parent.display()
                )));
            }
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut conn = Connection::open_with_flags(path, flags)
            .with_context(|| format!("opening database {}", path.display()))?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        // Before anything is written: a new database gets 64 KiB pages (an
        // existing one keeps its own). A bulk load moves every page three
        // times (WAL write, checkpoint read, checkpoint write), a system call
        // each: 10^6 OTC lines took 300,000 calls at 4 KiB pages, 93,000 at
        // 16 KiB, 27,000 at 64 KiB, and ingest + normalize + summarize ran
        // 15-20% faster at 64 KiB than at 16 KiB. The page cache stays at
        // SQLite's 2 MB: loads append, so a bigger one measured no faster.
        conn.pragma_update(None, "page_size", PAGE_SIZE)
            .map_err(|e| not_a_database(path, e))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| not_a_database(path, e))?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE_CAPACITY);
        let fence = Fence::install(&mut conn).context("installing the SQL authorizer")?;
        Ok(Self {
            plugin_statements: RawStatements::default(),
            statements_authorized_for: RefCell::default(),
            conn,
            path: path.to_path_buf(),
            fence,
            recording_end: Arc::default(),
        })
    }

    /// The prepared statement of one statement of plugin SQL, from the cache
    /// or prepared now; `None` for SQL it does not hold exactly one statement
    /// of, which the caller runs through rusqlite instead (for its errors).
    pub(crate) fn plugin_statement(&self, sql: &str) -> rusqlite::Result<Option<Rc<RawStatement>>> {
        self.plugin_statements.get(&self.conn, sql)
    }

    /// Fences the SQL that runs from now until the guard drops as plugin SQL
    /// of `domain`. SQLite authorizes a statement when it is prepared, so
    /// statements cached for another domain are finalized first: a cached
    /// statement is never run for a domain it was not authorized for.
    pub(crate) fn fence_plugin_sql(&self, domain: &str) -> Result<FencedPluginSql> {
        let mut cached_for = self.statements_authorized_for.borrow_mut();
        if cached_for.as_deref() != Some(domain) {
            self.plugin_statements.clear();
            self.conn.flush_prepared_statement_cache();
            *cached_for = Some(domain.to_owned());
        }
        // The fence refuses TEMP objects named like these.
        let mut stmt = self
            .conn
            .prepare_cached("SELECT lower(name), type FROM main.sqlite_schema")?;
        let objects = stmt
            .query_map([], |row| {
                let kind = match row.get_ref(1)?.as_str()? {
                    "index" => "index",
                    "view" => "view",
                    "trigger" => "trigger",
                    _ => "table",
                };
                Ok((row.get::<_, String>(0)?, kind))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()
            .context("reading the database's objects")?;
        Ok(self.fence.enter(domain, objects))
    }

    /// Why the fence last refused a plugin statement, taken once.
    pub(crate) fn take_fence_refusal(&self) -> Option<String> {
        self.fence.take_refusal()
    }

    /// Marks the start of a new statement of plugin SQL for the fence; every
    /// call a plugin makes starts with this.
    pub(crate) fn new_plugin_statement(&self) {
        self.fence.new_statement();
    }

    /// Runs plugin SQL that may hold several statements, one at a time, each
    /// judged by the fence on its own.
    pub(crate) fn execute_plugin_batch(&self, sql: &str) -> rusqlite::Result<()> {
        use rusqlite::fallible_iterator::FallibleIterator as _;
        let mut batch = rusqlite::Batch::new(&self.conn, sql);
        loop {
            self.fence.new_statement();
            let Some(mut statement) = batch.next()? else {
                return Ok(());
            };
            // Stepped once, as rusqlite's `execute_batch` does: a statement
            // that returns rows (a read-only PRAGMA) is not read to the end.
            statement.raw_query().next()?;
        }
    }

    /// Drops every temporary object on the connection: what a run or a
    /// migration created in `temp` never outlives it.
    pub(crate) fn drop_temporary_objects(&self) -> Result<()> {
        for (kind, name) in self.temporary_objects()? {
            let sql = format!(
                "DROP {} IF EXISTS temp.\"{}\"",
                kind.to_ascii_uppercase(),
                name.replace('"', "\"\"")
            );
            self.conn
                .execute_batch(&sql)
                .with_context(|| format!("dropping temporary {kind} {name}"))?;
        }
        Ok(())
    }

    /// The temporary tables, views and triggers on the connection, as
    /// (type, name), tables last.
    pub(crate) fn temporary_objects(&self) -> Result<Vec<(String, String)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT type, name FROM temp.sqlite_schema WHERE type IN ('table', 'view', 'trigger')
             ORDER BY type = 'table'",
        )?;
        let rows = stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

/// Refuses a database path where there is no database. Only `db init` and
/// `run` create one: a typo in `--db` must not leave an empty database
/// behind a command that reports nothing.
pub(crate) fn require_database(path: &Path) -> Result<()> {
    refuse_a_folder(path)?;
    if path.exists() {
        return Ok(());
    }
    Err(usage(format!(
        "no database at {}: check --db or SPINE_DATABASE_PATH (`spine-host db init` creates one there)",
        path.display()
    )))
}

/// A database path that names a folder is bad usage (SQLite would only say
/// "unable to open database file").
pub(crate) fn refuse_a_folder(path: &Path) -> Result<()> {
    if path.is_dir() {
        return Err(usage(format!(
            "database {} is a folder, not a file",
            path.display()
        )));
    }
    Ok(())
}

fn not_a_database(path: &Path, error: rusqlite::Error) -> anyhow::Error {
    let is_not_db = matches!(
        &error,
        rusqlite::Error::SqliteFailure(e, _) if e.code == rusqlite::ErrorCode::NotADatabase
    );
    if is_not_db {
        usage(format!("database {} is not a SQLite database", path.display()))
    } else {
        anyhow::Error::new(error).context(format!("setting up database {}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_sqlite_is_built_without_memory_statistics() {
        // .cargo/config.toml sets the flag; without it every allocation takes a global mutex.
        let conn = Connection::open_in_memory().unwrap();
        let mut statement = conn.prepare("PRAGMA compile_options").unwrap();
        let options: Vec<String> = statement
            .query_map([], |row| row.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert!(options.iter().any(|o| o == "DEFAULT_MEMSTATUS=0"), "{options:?}");
    }

    #[test]
    fn a_statement_cached_for_one_domain_is_authorized_again_for_another() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(&dir.path().join("spine.db")).unwrap();
        db.conn.execute_batch("CREATE TABLE a_rows (n)").unwrap();
        let insert = "INSERT INTO a_rows VALUES (1)";
        {
            let _fenced = db.fence_plugin_sql("a").unwrap();
            assert!(db.plugin_statement(insert).unwrap().is_some());
            assert!(db.conn.prepare_cached(insert).is_ok());
        }
        let _fenced = db.fence_plugin_sql("b").unwrap();
        assert!(db.plugin_statement(insert).is_err());
        assert!(db.conn.prepare_cached(insert).is_err());
        assert!(db
            .take_fence_refusal()
            .unwrap()
            .contains("`a_rows` is not one of them"));
    }
}
