//! The host side of `HostServices`: what a running pipeline may ask for.
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
use abi_stable::{
    sabi_types::RMut,
    std_types::{RResult, RSlice, RStr, RString},
};
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::ToSql;
use spine_plugin_api::abi::{HostServices, LogLevel, PluginError, RowSink_TO, Value};
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

/// Binds an ABI value as a SQL parameter without copying text or blobs.
struct Bind<'v>(&'v Value<'v>);

impl ToSql for Bind<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self.0 {
            Value::Null => ValueRef::Null,
            Value::Integer(v) => ValueRef::Integer(*v),
            Value::Real(v) => ValueRef::Real(*v),
            Value::Text(v) => ValueRef::Text(v.as_str().as_bytes()),
            Value::Blob(v) => ValueRef::Blob(v.as_slice()),
        }))
    }
}

fn error(code: &str, message: impl Into<String>) -> PluginError {
    PluginError {
        code: code.into(),
        message: RString::from(message.into()),
        help: None.into(),
        location: None.into(),
    }
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
                if HostServices::cancelled(self) {
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
        if HostServices::cancelled(self) {
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
    ) -> RResult<T, PluginError> {
        if let Err(e) = self.enter_database_call() {
            return RResult::RErr(e);
        }
        work().map_err(|e| self.sql_error(sql, e)).into()
    }
}

fn to_abi(index: usize, value: ValueRef<'_>) -> rusqlite::Result<Value<'_>> {
    Ok(match value {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(v) => Value::Integer(v),
        ValueRef::Real(v) => Value::Real(v),
        ValueRef::Text(bytes) => Value::Text(
            std::str::from_utf8(bytes)
                .map_err(|e| rusqlite::Error::Utf8Error(index, e))?
                .into(),
        ),
        ValueRef::Blob(bytes) => Value::Blob(bytes.into()),
    })
}

impl HostServices for RunServices<'_> {
    fn execute(&mut self, sql: RStr<'_>, params: RSlice<'_, Value<'_>>) -> RResult<u64, PluginError> {
        let db = self.db;
        self.guarded(sql.as_str(), || match db.plugin_statement(sql.as_str())? {
            Some(statement) => statement.run_rows(params.len(), params.as_slice()),
            None => {
                let mut stmt = db.conn.prepare_cached(sql.as_str())?;
                let changed = stmt.execute(rusqlite::params_from_iter(params.iter().map(Bind)))?;
                Ok(changed as u64)
            }
        })
    }

    fn execute_many(
        &mut self,
        sql: RStr<'_>,
        columns: u32,
        params: RSlice<'_, Value<'_>>,
    ) -> RResult<u64, PluginError> {
        let db = self.db;
        self.guarded(sql.as_str(), || {
            let columns = columns as usize;
            match db.plugin_statement(sql.as_str())? {
                Some(statement) if columns > 0 => statement.run_rows(columns, params.as_slice()),
                _ => {
                    let mut stmt = db.conn.prepare_cached(sql.as_str())?;
                    if stmt.parameter_count() != columns {
                        return Err(rusqlite::Error::InvalidParameterCount(
                            columns,
                            stmt.parameter_count(),
                        ));
                    }
                    let mut changed = 0u64;
                    for row in params.as_slice().chunks(columns.max(1)) {
                        for (index, value) in row.iter().enumerate() {
                            stmt.raw_bind_parameter(index + 1, Bind(value))?;
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
        sql: RStr<'_>,
        params: RSlice<'_, Value<'_>>,
        mut sink: RowSink_TO<'_, RMut<'_, ()>>,
    ) -> RResult<u64, PluginError> {
        if let Err(e) = self.enter_database_call() {
            return RResult::RErr(e);
        }
        let conn = &self.db.conn;
        let mut stmt = match conn.prepare_cached(sql.as_str()) {
            Ok(stmt) => stmt,
            Err(e) => return RResult::RErr(self.sql_error(sql.as_str(), e)),
        };
        let width = stmt.column_count();
        let mut rows = match stmt.query(rusqlite::params_from_iter(params.iter().map(Bind))) {
            Ok(rows) => rows,
            Err(e) => return RResult::RErr(self.sql_error(sql.as_str(), e)),
        };
        let mut seen = 0u64;
        loop {
            let row = match rows.next() {
                Ok(Some(row)) => row,
                Ok(None) => break,
                Err(e) => return RResult::RErr(self.sql_error(sql.as_str(), e)),
            };
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
                match row.get_ref(index).and_then(|value| to_abi(index, value)) {
                    Ok(value) => *slot = value,
                    Err(e) => return RResult::RErr(self.sql_error(sql.as_str(), e)),
                }
            }
            match sink.row(RSlice::from_slice(values)) {
                RResult::ROk(true) => {}
                RResult::ROk(false) => break,
                RResult::RErr(e) => return RResult::RErr(e),
            }
            if self.cancel.load(Ordering::Relaxed) {
                return RResult::RErr(cancelled_error());
            }
        }
        RResult::ROk(seen)
    }

    fn execute_batch(&mut self, sql: RStr<'_>) -> RResult<(), PluginError> {
        let db = self.db;
        self.guarded(sql.as_str(), || db.execute_plugin_batch(sql.as_str()))
    }

    fn log(&mut self, level: LogLevel, message: RStr<'_>) {
        let level = match level {
            1 => log::Level::Error,
            2 => log::Level::Warn,
            3 => log::Level::Info,
            4 => log::Level::Debug,
            _ => log::Level::Trace,
        };
        log::log!(target: self.domain, level, "{message}");
    }

    fn progress(&mut self, done: u64, total: u64, unit: RStr<'_>) {
        self.progress.report(done, total, unit.as_str());
    }

    fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::SeqCst)
    }

    fn call(&mut self, service: RStr<'_>, _request_json: RStr<'_>) -> RResult<RString, PluginError> {
        match service.as_str() {
            "execution.info" => RResult::ROk(self.execution_info.to_string().into()),
            "host.version" => RResult::ROk(
                serde_json::json!({
                    "host": env!("CARGO_PKG_VERSION"),
                    "plugin_api": spine_plugin_api::abi::API_VERSION,
                })
                .to_string()
                .into(),
            ),
            other => RResult::RErr(error(
                "host.call.unknown",
                format!("this host has no service `{other}` (it offers: execution.info, host.version)"),
            )),
        }
    }
}
