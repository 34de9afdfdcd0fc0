//! The one SQLite connection, and the fence around plugin SQL.
//!
//! The host owns transactions: while plugin SQL runs, an authorizer refuses
//! transaction control, `ATTACH`/`DETACH` and every `PRAGMA` except a few
//! read-only ones, so a plugin cannot commit half a run or change the
//! connection under the host. It also keeps each plugin to its own tables:
//! the SQL of domain `d`, its migrations' and its pipelines', may create,
//! change and write only objects named `d_…` (and temporary ones); it may
//! read every table.

use crate::error::usage;
use anyhow::{Context as _, Result};
use rusqlite::hooks::{AuthAction, AuthContext, Authorization};
use rusqlite::{ffi, Connection, OpenFlags};
use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::{c_int, c_uint, CStr};
use std::path::{Path, PathBuf};
use std::ptr::NonNull;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long a writer waits for another process's write transaction.
/// Long enough for another process's large ingest to finish first.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(600);

/// The page size of new databases.
const PAGE_SIZE: i64 = 64 * 1024;

/// Statements cached per connection: every plugin's hot statements fit.
const STATEMENT_CACHE_CAPACITY: usize = 128;

/// Plugin statements for `execute` and `execute_many` kept prepared; the
/// cache starts over when full.
const PLUGIN_STATEMENT_CAPACITY: usize = 64;

/// Read-only pragmas plugin SQL may use to inspect tables.
const PLUGIN_READABLE_PRAGMAS: &[&str] = &["table_info", "table_xinfo", "index_list", "index_info"];

/// An open database: the connection plus the plugin-SQL fence.
pub struct Database {
    /// Declared before `conn`, so that the statements are finalized before
    /// the connection closes.
    plugin_statements: RefCell<HashMap<String, Rc<RawStatement>>>,
    /// The domain whose fence the cached statements were prepared under.
    statements_authorized_for: RefCell<Option<String>>,
    _writeback: Writeback,
    pub conn: Connection,
    pub path: PathBuf,
    fence: Arc<Fence>,
}

#[derive(Default)]
struct Fence {
    /// The domain whose plugin SQL is running; `None` while the host's own runs.
    plugin_domain: Mutex<Option<String>>,
    last_refusal: Mutex<Option<String>>,
}

/// Plugin SQL of one domain is fenced while this lives.
pub struct FencedPluginSql {
    fence: Arc<Fence>,
}

impl Drop for FencedPluginSql {
    fn drop(&mut self) {
        if let Ok(mut domain) = self.fence.plugin_domain.lock() {
            *domain = None;
        }
    }
}

impl Database {
    /// Opens (creating if needed) the database at `path` with WAL, a busy
    /// timeout and foreign keys on.
    pub fn open(path: &Path) -> Result<Self> {
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
        disable_memory_statistics();
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
        let fence = Arc::new(Fence::default());
        install_fence(&mut conn, Arc::clone(&fence)).context("installing the SQL authorizer")?;
        Ok(Self {
            plugin_statements: RefCell::default(),
            statements_authorized_for: RefCell::default(),
            _writeback: Writeback::start(path),
            conn,
            path: path.to_path_buf(),
            fence,
        })
    }

    /// The prepared statement of one statement of plugin SQL, from the cache
    /// or prepared now; `None` for SQL it does not hold exactly one statement
    /// of, which the caller runs through rusqlite instead (for its errors).
    pub(crate) fn plugin_statement(&self, sql: &str) -> rusqlite::Result<Option<Rc<RawStatement>>> {
        if let Some(statement) = self.plugin_statements.borrow().get(sql) {
            return Ok(Some(Rc::clone(statement)));
        }
        let Some(statement) = RawStatement::prepare(&self.conn, sql)? else {
            return Ok(None);
        };
        let statement = Rc::new(statement);
        let mut statements = self.plugin_statements.borrow_mut();
        if statements.len() >= PLUGIN_STATEMENT_CAPACITY {
            statements.clear();
        }
        statements.insert(sql.to_owned(), Rc::clone(&statement));
        Ok(Some(statement))
    }

    /// Fences the SQL that runs from now until the guard drops as plugin SQL
    /// of `domain`. SQLite authorizes a statement when it is prepared, so
    /// statements cached for another domain are finalized first: a cached
    /// statement is never run for a domain it was not authorized for.
    pub fn fence_plugin_sql(&self, domain: &str) -> FencedPluginSql {
        let mut cached_for = self.statements_authorized_for.borrow_mut();
        if cached_for.as_deref() != Some(domain) {
            self.plugin_statements.borrow_mut().clear();
            self.conn.flush_prepared_statement_cache();
            *cached_for = Some(domain.to_owned());
        }
        if let Ok(mut fenced) = self.fence.plugin_domain.lock() {
            *fenced = Some(domain.to_owned());
        }
        FencedPluginSql {
            fence: Arc::clone(&self.fence),
        }
    }

    /// Why the fence last refused a plugin statement, taken once.
    pub fn take_fence_refusal(&self) -> Option<String> {
        self.fence
            .last_refusal
            .lock()
            .ok()
            .and_then(|mut last| last.take())
    }
}

/// A database path that names a folder is bad usage (SQLite would only say
/// "unable to open database file").
pub fn refuse_a_folder(path: &Path) -> Result<()> {
    if path.is_dir() {
        return Err(usage(format!(
            "database {} is a folder, not a file",
            path.display()
        )));
    }
    Ok(())
}

/// A statement prepared through SQLite's C API, so that values can be bound
/// where they are (`SQLITE_STATIC`) instead of copied (rusqlite copies every
/// text and blob it binds). See `services.rs` for the rules that make that
/// sound.
pub(crate) struct RawStatement {
    statement: NonNull<ffi::sqlite3_stmt>,
    db: NonNull<ffi::sqlite3>,
}

impl RawStatement {
    /// Prepares `sql`; `None` when it holds no statement or more than one.
    fn prepare(conn: &Connection, sql: &str) -> rusqlite::Result<Option<RawStatement>> {
        let Ok(length) = c_int::try_from(sql.len()) else {
            return Ok(None);
        };
        // SAFETY: the handle is the live connection's; SQLite reads `length`
        // bytes of `sql` and writes the statement and tail pointers.
        let db = unsafe { conn.handle() };
        let (mut statement, mut tail) = (std::ptr::null_mut(), std::ptr::null());
        let code = unsafe {
            ffi::sqlite3_prepare_v3(
                db,
                sql.as_ptr().cast(),
                length,
                ffi::SQLITE_PREPARE_PERSISTENT as c_uint,
                &mut statement,
                &mut tail,
            )
        };
        let db = NonNull::new(db).expect("an open connection has a handle");
        if code != ffi::SQLITE_OK {
            return Err(sqlite_error(db, code));
        }
        let Some(statement) = NonNull::new(statement) else {
            return Ok(None);
        };
        let statement = RawStatement { statement, db };
        // SAFETY: SQLite points `tail` into `sql`, at or after its start.
        let used = usize::try_from(unsafe { tail.cast::<u8>().offset_from(sql.as_ptr()) }).unwrap_or(0);
        if !sql.get(used..).unwrap_or_default().trim().is_empty() {
            return Ok(None);
        }
        Ok(Some(statement))
    }

    pub(crate) fn as_ptr(&self) -> *mut ffi::sqlite3_stmt {
        self.statement.as_ptr()
    }

    /// The connection's error for result code `code`, as rusqlite words it.
    pub(crate) fn error(&self, code: c_int) -> rusqlite::Error {
        sqlite_error(self.db, code)
    }

    /// Rows changed by the statement that completed last on the connection.
    pub(crate) fn changes(&self) -> u64 {
        // SAFETY: the connection outlives its statements (see `Database`).
        let changes = unsafe { ffi::sqlite3_changes64(self.db.as_ptr()) };
        u64::try_from(changes).unwrap_or(0)
    }
}

impl Drop for RawStatement {
    fn drop(&mut self) {
        // SAFETY: the statement is finalized once, before its connection closes.
        unsafe { ffi::sqlite3_finalize(self.statement.as_ptr()) };
    }
}

fn sqlite_error(db: NonNull<ffi::sqlite3>, code: c_int) -> rusqlite::Error {
    // SAFETY: sqlite3_errmsg returns a NUL-terminated string owned by the
    // connection, read at once.
    let message = unsafe { CStr::from_ptr(ffi::sqlite3_errmsg(db.as_ptr())) };
    rusqlite::Error::SqliteFailure(
        ffi::Error::new(code),
        Some(message.to_string_lossy().into_owned()),
    )
}

/// Starts the writing to disk of what SQLite has written to the database
/// and its WAL while a run goes on, so that the fsync of a checkpoint does not
/// find hundreds of megabytes still to write. A bulk load is CPU work; this
/// lets the disk work at the same time. Only the start of writeback
/// (`sync_file_range`): durability still rests on SQLite's own fsyncs.
struct Writeback {
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Writeback {
    fn start(path: &Path) -> Self {
        if !cfg!(target_os = "linux") {
            return Writeback {
                stop: None,
                thread: None,
            };
        }
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
        let files = [path.to_path_buf(), PathBuf::from(wal)];
        let thread = std::thread::Builder::new()
            .name("writeback".to_owned())
            .spawn(move || {
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(Duration::from_millis(100))
                {
                    for file in &files {
                        start_writeback(file);
                    }
                }
            })
            .ok();
        Writeback {
            stop: Some(stop),
            thread,
        }
    }
}

impl Drop for Writeback {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(target_os = "linux")]
fn start_writeback(file: &Path) {
    use std::os::fd::AsRawFd;
    if let Ok(file) = std::fs::File::open(file) {
        // SAFETY: a valid descriptor; the call only starts writeback.
        unsafe { libc::sync_file_range(file.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE) };
    }
}

#[cfg(not(target_os = "linux"))]
fn start_writeback(_file: &Path) {}

/// Turns off SQLite's memory statistics, which take a global mutex on every
/// allocation (binding a text value allocates). They must be configured
/// before SQLite initialises, so this runs before the first connection; a
/// later call is refused by SQLite and changes nothing.
fn disable_memory_statistics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: SQLITE_CONFIG_MEMSTATUS takes one int; sqlite3_config is
        // called before any other SQLite call of this process, on one thread.
        unsafe {
            rusqlite::ffi::sqlite3_config(rusqlite::ffi::SQLITE_CONFIG_MEMSTATUS, 0 as std::ffi::c_int);
        }
    });
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

fn install_fence(conn: &mut Connection, fence: Arc<Fence>) -> rusqlite::Result<()> {
    conn.authorizer(Some(move |context: AuthContext<'_>| {
        let Ok(domain) = fence.plugin_domain.lock() else {
            return Authorization::Deny;
        };
        let Some(domain) = domain.as_deref() else {
            return Authorization::Allow;
        };
        match refusal_reason(domain, &context) {
            None => Authorization::Allow,
            Some(reason) => {
                if let Ok(mut last) = fence.last_refusal.lock() {
                    *last = Some(reason);
                }
                Authorization::Deny
            }
        }
    }))
}

fn refusal_reason(domain: &str, context: &AuthContext<'_>) -> Option<String> {
    match &context.action {
        AuthAction::Transaction { .. } | AuthAction::Savepoint { .. } => Some(
            "plugin SQL may not begin, commit or roll back transactions: the host runs each \
             pipeline in one transaction of its own"
                .to_owned(),
        ),
        AuthAction::Attach { .. } | AuthAction::Detach { .. } => {
            Some("plugin SQL may not ATTACH or DETACH databases".to_owned())
        }
        AuthAction::Pragma { pragma_name, .. } => {
            (!PLUGIN_READABLE_PRAGMAS.contains(pragma_name)).then(|| {
                format!(
                    "plugin SQL may not run PRAGMA {pragma_name}: the host owns the connection's settings"
                )
            })
        }
        action => {
            if context.database_name == Some("temp") {
                return None;
            }
            let foreign = changed_objects(action)
                .into_iter()
                .find(|name| !owned_by(domain, name))?;
            Some(format!(
                "plugin SQL of domain `{domain}` may change only its own tables, named `{domain}_…`; \
                 `{foreign}` is not one of them"
            ))
        }
    }
}

/// The tables, views, indexes and triggers that `action` writes, creates,
/// alters or drops; none for reads.
fn changed_objects<'a>(action: &AuthAction<'a>) -> Vec<&'a str> {
    match *action {
        AuthAction::Insert { table_name }
        | AuthAction::Update { table_name, .. }
        | AuthAction::Delete { table_name }
        | AuthAction::CreateTable { table_name }
        | AuthAction::DropTable { table_name }
        | AuthAction::AlterTable { table_name, .. }
        | AuthAction::CreateVtable { table_name, .. }
        | AuthAction::DropVtable { table_name, .. } => vec![table_name],
        AuthAction::CreateView { view_name } | AuthAction::DropView { view_name } => vec![view_name],
        AuthAction::CreateIndex {
            index_name,
            table_name,
        }
        | AuthAction::DropIndex {
            index_name,
            table_name,
        } => vec![index_name, table_name],
        AuthAction::CreateTrigger {
            trigger_name,
            table_name,
        }
        | AuthAction::DropTrigger {
            trigger_name,
            table_name,
        } => vec![trigger_name, table_name],
        _ => Vec::new(),
    }
}

/// True when `name` is one of `domain`'s objects, or SQLite's own (the
/// schema and `sqlite_sequence`, which DDL and AUTOINCREMENT write).
fn owned_by(domain: &str, name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name.starts_with("sqlite_")
        || name
            .strip_prefix(&domain.to_ascii_lowercase())
            .is_some_and(|rest| rest.starts_with('_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_statement_cached_for_one_domain_is_authorized_again_for_another() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(&dir.path().join("spine.db")).unwrap();
        db.conn.execute_batch("CREATE TABLE a_rows (n)").unwrap();
        let insert = "INSERT INTO a_rows VALUES (1)";
        {
            let _fenced = db.fence_plugin_sql("a");
            assert!(db.plugin_statement(insert).unwrap().is_some());
            assert!(db.conn.prepare_cached(insert).is_ok());
        }
        let _fenced = db.fence_plugin_sql("b");
        assert!(db.plugin_statement(insert).is_err());
        assert!(db.conn.prepare_cached(insert).is_err());
        assert!(db
            .take_fence_refusal()
            .unwrap()
            .contains("`a_rows` is not one of them"));
    }
}
