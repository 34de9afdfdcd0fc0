//! The one SQLite connection, and the fence around plugin SQL.
//!
//! The host owns transactions: while plugin SQL runs, an authorizer refuses
//! transaction control, `ATTACH`/`DETACH` and every `PRAGMA` except a few
//! read-only ones, so a plugin cannot commit half a run or change the
//! connection under the host.

use crate::error::usage;
use anyhow::{Context as _, Result};
use rusqlite::hooks::{AuthAction, AuthContext, Authorization};
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long a writer waits for another process's write transaction.
/// Long enough for another process's large ingest to finish first.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(600);

/// Statements cached per connection: every plugin's hot statements fit.
const STATEMENT_CACHE_CAPACITY: usize = 128;

/// Read-only pragmas plugin SQL may use to inspect tables.
const PLUGIN_READABLE_PRAGMAS: &[&str] = &["table_info", "table_xinfo", "index_list", "index_info"];

/// An open database: the connection plus the plugin-SQL fence.
pub struct Database {
    pub conn: Connection,
    pub path: PathBuf,
    fence: Arc<Fence>,
}

#[derive(Default)]
struct Fence {
    plugin_sql_active: AtomicBool,
    last_refusal: Mutex<Option<String>>,
}

impl Database {
    /// Opens (creating if needed) the database at `path` with WAL, a busy
    /// timeout and foreign keys on.
    pub fn open(path: &Path) -> Result<Self> {
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
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| not_a_database(path, e))?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE_CAPACITY);
        let fence = Arc::new(Fence::default());
        install_fence(&mut conn, Arc::clone(&fence)).context("installing the SQL authorizer")?;
        Ok(Self {
            conn,
            path: path.to_path_buf(),
            fence,
        })
    }

    /// Marks the start or end of plugin SQL; the fence applies in between.
    pub fn set_plugin_sql_active(&self, active: bool) {
        self.fence.plugin_sql_active.store(active, Ordering::SeqCst);
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
        if !fence.plugin_sql_active.load(Ordering::SeqCst) {
            return Authorization::Allow;
        }
        match refusal_reason(&context.action) {
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

fn refusal_reason(action: &AuthAction<'_>) -> Option<String> {
    match action {
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
        _ => None,
    }
}
