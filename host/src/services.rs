//! The host's services ([`Services`]): what a running pipeline may ask for.
//!
//! Database calls run on the host's one connection, inside the run's
//! transaction, with prepared statements cached by SQL text (a bulk load
//! prepares its INSERT once). The transaction begins at the run's first
//! database call, not before the run: a pipeline that first waits on the
//! network (`otc.fetch`) holds no write lock meanwhile, and other processes'
//! runs go on. Once the operator presses Ctrl-C every call fails with
//! `host.cancelled`, so even a pipeline that never checks `cancelled()`
//! stops at its next database call.
//!
//! `execute` and `execute_many` run a single statement through
//! [`crate::raw_sqlite`], which binds text and blobs where the plugin holds
//! them instead of copying them (a bulk load binds millions); other SQL, and
//! `query`, go through rusqlite.

use crate::db::Database;
use crate::progress::Progress;
use crate::transaction::{self, RunTransaction};
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::ToSql;
use spine_plugin_api::host::{Rows, Services, Value};
use spine_plugin_api::{Error as PluginError, Level, SqlValue};
use std::sync::atomic::{AtomicBool, Ordering};

/// What the host lends one pipeline run.
pub(crate) struct RunServices<'r> {
    pub(crate) db: &'r Database,
    pub(crate) progress: &'r Progress,
    pub(crate) cancel: &'r AtomicBool,
    /// Answers the `execution.info` service: id, pipeline, parameters,
    /// today's date and the data folder (`execution_id`, `pipeline`,
    /// `params`, `today`, `data_dir`).
    pub(crate) execution_info: serde_json::Value,
    pub(crate) domain: &'r str,
    /// Where the run's transaction stands; the runner reads it after the run.
    pub(crate) transaction: RunTransaction,
}

/// Binds a plugin's value as a SQL parameter without copying text or blobs.
struct Bind<'v>(SqlValue<'v>);

impl ToSql for Bind<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self.0 {
            SqlValue::Null => ValueRef::Null,
            SqlValue::Integer(v) => ValueRef::Integer(v),
            SqlValue::Real(v) => ValueRef::Real(v),
            SqlValue::Text(v) => ValueRef::Text(v.as_bytes()),
            SqlValue::Blob(v) => ValueRef::Blob(v),
        }))
    }
}

/// The plugin's values bound as parameters, in order.
fn bound<'v>(params: &'v [Value<'v>]) -> impl Iterator<Item = Bind<'v>> + 'v {
    params.iter().map(|value| Bind(SqlValue::from(*value)))
}

fn error(code: &str, message: impl Into<String>) -> PluginError {
    PluginError::new(code, message)
}

fn cancelled_error() -> PluginError {
    error("host.cancelled", "the run was cancelled (Ctrl-C)")
}

impl RunServices<'_> {
    /// A SQL error as the plugin sees it: the fence's reason when the fence
    /// refused the statement, else SQLite's message, with the statement.
    fn sql_error(&self, sql: &str, err: rusqlite::Error) -> PluginError {
        let statement = crate::text::truncate(&crate::text::one_line(sql), 120);
        match self.db.take_fence_refusal() {
            Some(reason) => error("host.sql.refused", format!("{reason} (in `{statement}`)")),
            None => error("host.sql", format!("{err} (in `{statement}`)")),
        }
    }

    /// Begins the run's transaction at its first database call (see
    /// [`transaction::begin`]); a no-op once begun. Fails with
    /// `host.cancelled` when Ctrl-C ended the wait for the write lock.
    #[allow(clippy::result_large_err)] // the error as the ABI hands it to the plugin
    fn begin(&mut self) -> Result<(), PluginError> {
        match self.transaction {
            RunTransaction::Open(_) => return Ok(()),
            RunTransaction::Refused => {
                return Err(error(
                    "host.db.begin",
                    "the run's transaction could not begin (see the earlier error)",
                ))
            }
            RunTransaction::NotBegun => {}
        }
        match transaction::begin(self.db, self.domain) {
            Ok(fenced) => {
                self.transaction = RunTransaction::Open(fenced);
                Ok(())
            }
            Err(e) => {
                self.transaction = RunTransaction::Refused;
                if Services::cancelled(self) {
                    return Err(cancelled_error());
                }
                Err(error("host.db.begin", format!("{e:#}")))
            }
        }
    }

    /// What every database call does first: refuse after Ctrl-C, begin the
    /// run's transaction, and mark a new statement for the fence.
    #[allow(clippy::result_large_err)] // the error as the ABI hands it to the plugin
    fn enter_database_call(&mut self) -> Result<(), PluginError> {
        if Services::cancelled(self) {
            return Err(cancelled_error());
        }
        self.begin()?;
        self.db.new_plugin_statement();
        Ok(())
    }

    fn guarded<T>(
        &mut self,
        sql: &str,
        work: impl FnOnce() -> rusqlite::Result<T>,
    ) -> Result<T, PluginError> {
        self.enter_database_call()?;
        work().map_err(|e| self.sql_error(sql, e))
    }
}

/// A value SQLite returned, as the plugin reads it.
fn to_plugin(index: usize, value: ValueRef<'_>) -> rusqlite::Result<Value<'_>> {
    let value = match value {
        ValueRef::Null => SqlValue::Null,
        ValueRef::Integer(v) => SqlValue::Integer(v),
        ValueRef::Real(v) => SqlValue::Real(v),
        ValueRef::Text(bytes) => {
            SqlValue::Text(std::str::from_utf8(bytes).map_err(|e| rusqlite::Error::Utf8Error(index, e))?)
        }
        ValueRef::Blob(bytes) => SqlValue::Blob(bytes),
    };
    Ok(value.into())
}

impl Services for RunServices<'_> {
    fn execute(&mut self, sql: &str, params: &[Value<'_>]) -> Result<u64, PluginError> {
        let db = self.db;
        self.guarded(sql, || match db.plugin_statement(sql)? {
            Some(statement) => statement.run_rows(params.len(), params),
            None => {
                let mut stmt = db.conn.prepare_cached(sql)?;
                let changed = stmt.execute(rusqlite::params_from_iter(bound(params)))?;
                Ok(changed as u64)
            }
        })
    }

    fn execute_many(&mut self, sql: &str, columns: u32, params: &[Value<'_>]) -> Result<u64, PluginError> {
        let db = self.db;
        self.guarded(sql, || {
            let columns = columns as usize;
            match db.plugin_statement(sql)? {
                Some(statement) if columns > 0 => statement.run_rows(columns, params),
                _ => {
                    let mut stmt = db.conn.prepare_cached(sql)?;
                    if stmt.parameter_count() != columns {
                        return Err(rusqlite::Error::InvalidParameterCount(
                            columns,
                            stmt.parameter_count(),
                        ));
                    }
                    let mut changed = 0u64;
                    for row in params.chunks(columns.max(1)) {
                        for (index, value) in bound(row).enumerate() {
                            stmt.raw_bind_parameter(index + 1, value)?;
                        }
                        changed += stmt.raw_execute()? as u64;
                    }
                    Ok(changed)
                }
            }
        })
    }

    fn query(
        &mut self,
        sql: &str,
        params: &[Value<'_>],
        rows: &mut Rows<'_, '_>,
    ) -> Result<u64, PluginError> {
        self.enter_database_call()?;
        let conn = &self.db.conn;
        let mut stmt = conn.prepare_cached(sql).map_err(|e| self.sql_error(sql, e))?;
        let width = stmt.column_count();
        let mut found = stmt
            .query(rusqlite::params_from_iter(bound(params)))
            .map_err(|e| self.sql_error(sql, e))?;
        let mut seen = 0u64;
        while let Some(row) = found.next().map_err(|e| self.sql_error(sql, e))? {
            seen += 1;
            // The values of a row of up to 16 columns live on the stack: a
            // scan of 10^6 rows allocates nothing per row (callgrind: a Vec
            // per row costs otc.summarize 3% more instructions).
            let mut narrow = [Value::Null; 16];
            let mut wide;
            let values: &mut [Value<'_>] = if width <= narrow.len() {
                &mut narrow[..width]
            } else {
                wide = vec![Value::Null; width];
                &mut wide
            };
            for (index, slot) in values.iter_mut().enumerate() {
                *slot = row
                    .get_ref(index)
                    .and_then(|value| to_plugin(index, value))
                    .map_err(|e| self.sql_error(sql, e))?;
            }
            if !rows.send(values)? {
                break;
            }
            if self.cancel.load(Ordering::Relaxed) {
                return Err(cancelled_error());
            }
        }
        Ok(seen)
    }

    fn execute_batch(&mut self, sql: &str) -> Result<(), PluginError> {
        let db = self.db;
        self.guarded(sql, || db.execute_plugin_batch(sql))
    }

    fn log(&mut self, level: Level, message: &str) {
        let level = match level {
            Level::Error => log::Level::Error,
            Level::Warn => log::Level::Warn,
            Level::Info => log::Level::Info,
            Level::Debug => log::Level::Debug,
            Level::Trace => log::Level::Trace,
        };
        log::log!(target: self.domain, level, "{message}");
    }

    fn progress(&mut self, done: u64, total: u64, unit: &str) {
        self.progress.report(done, total, unit);
    }

    fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::SeqCst)
    }

    fn call(&mut self, service: &str, _request_json: &str) -> Result<String, PluginError> {
        match service {
            "execution.info" => Ok(self.execution_info.to_string()),
            "host.version" => Ok(serde_json::json!({
                "host": env!("CARGO_PKG_VERSION"),
                "plugin_api": spine_plugin_api::host::API_VERSION,
            })
            .to_string()),
            other => Err(error(
                "host.call.unknown",
                format!("this host has no service `{other}` (it offers: execution.info, host.version)"),
            )),
        }
    }
}
