//! `Context`: the host's services as a running pipeline sees them.

use super::error::{Error, Result};
use super::export::catch_panic;
use super::value::{Row, SqlValue};
use crate::abi::{self, HostServices_TO, PluginError, RowSink, RowSink_TO};
use abi_stable::{
    sabi_trait::TD_Opaque,
    sabi_types::RMut,
    std_types::{RResult, RSlice},
};

/// Log levels for [`Context::log`], numbered like the `log` crate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Error = 1,
    Warn = 2,
    Info = 3,
    Debug = 4,
    Trace = 5,
}

/// The host's database, log, progress and cancellation, lent for one run.
///
/// Every statement runs inside the run's transaction, which the host owns:
/// it commits when `run` returns `Ok` and rolls back otherwise. Transaction
/// control, `ATTACH` and connection `PRAGMA`s are refused.
pub struct Context<'a> {
    host: HostServices_TO<'a, RMut<'a, ()>>,
}

impl<'a> Context<'a> {
    pub(crate) fn new(host: HostServices_TO<'a, RMut<'a, ()>>) -> Self {
        Self { host }
    }

    /// Runs one statement; returns the number of rows changed.
    pub fn execute(&mut self, sql: &str, params: &[SqlValue<'_>]) -> Result<u64> {
        let values = to_abi(params);
        self.host
            .execute(sql.into(), RSlice::from_slice(&values))
            .into_result()
            .map_err(Error::from)
    }

    /// Runs one statement once per row: `params` holds rows of `columns`
    /// values each, one after the other. This is the fast path for bulk
    /// inserts: one call across the boundary per batch, one prepared statement.
    pub fn execute_many(&mut self, sql: &str, columns: usize, params: &[SqlValue<'_>]) -> Result<u64> {
        if columns == 0 || !params.len().is_multiple_of(columns) {
            return Err(Error::new(
                "sdk.execute_many.shape",
                format!(
                    "{} values do not split into rows of {columns} columns",
                    params.len()
                ),
            ));
        }
        let columns = u32::try_from(columns)
            .map_err(|_| Error::new("sdk.execute_many.shape", "too many columns per row"))?;
        let values = to_abi(params);
        self.host
            .execute_many(sql.into(), columns, RSlice::from_slice(&values))
            .into_result()
            .map_err(Error::from)
    }

    /// Streams the rows of a query to `on_row` without collecting them.
    /// Return `Ok(false)` from `on_row` to stop early. Returns the rows seen.
    pub fn query<F>(&mut self, sql: &str, params: &[SqlValue<'_>], mut on_row: F) -> Result<u64>
    where
        F: FnMut(&Row<'_>) -> Result<bool>,
    {
        let mut sink = ClosureSink { on_row: &mut on_row };
        let sink = RowSink_TO::from_ptr(RMut::new(&mut sink), TD_Opaque);
        let values = to_abi(params);
        self.host
            .query(sql.into(), RSlice::from_slice(&values), sink)
            .into_result()
            .map_err(Error::from)
    }

    /// The first row of a query mapped through `map`, or `None` for no rows.
    pub fn query_one<T, F>(&mut self, sql: &str, params: &[SqlValue<'_>], map: F) -> Result<Option<T>>
    where
        F: FnOnce(&Row<'_>) -> Result<T>,
    {
        let mut map = Some(map);
        let mut found = None;
        self.query(sql, params, |row| {
            if let Some(map) = map.take() {
                found = Some(map(row)?);
            }
            Ok(false)
        })?;
        Ok(found)
    }

    /// Runs several statements with no parameters (DDL, `INSERT … SELECT`).
    pub fn execute_batch(&mut self, sql: &str) -> Result<()> {
        self.host
            .execute_batch(sql.into())
            .into_result()
            .map_err(Error::from)
    }

    /// Writes to the host's log (stderr, filtered by `--log-level`).
    pub fn log(&mut self, level: Level, message: &str) {
        self.host.log(level as u8, message.into());
    }

    /// Reports progress; `total` is 0 when unknown. Drawn as a bar on a terminal.
    pub fn progress(&mut self, done: u64, total: u64, unit: &str) {
        self.host.progress(done, total, unit.into());
    }

    /// True once the operator pressed Ctrl-C. Long loops should check it and
    /// return; the host then rolls back and records the run as cancelled.
    pub fn cancelled(&self) -> bool {
        self.host.cancelled()
    }

    /// Today's date, `YYYY-MM-DD`, as the host sees it: the UTC date, or the
    /// date the operator fixed with `SPINE_TODAY` (tests do, so that a rule
    /// such as "no date more than a year ahead" gives the same answer on
    /// every day). Read it instead of the clock for every rule that depends
    /// on the date. It comes from the host's `execution.info` service; a host
    /// that does not give it fails with code `sdk.today`.
    pub fn today(&mut self) -> Result<String> {
        let answer = self.call("execution.info", "{}")?;
        serde_json::from_str::<serde_json::Value>(&answer)
            .ok()
            .and_then(|info| info.get("today")?.as_str().map(str::to_owned))
            .ok_or_else(|| {
                Error::new(
                    "sdk.today",
                    format!("expected the host's execution.info to hold today's date, found {answer}"),
                )
                .with_help("run the plugin on a newer spine-host")
            })
    }

    /// Calls a named host service with a JSON request; returns the JSON answer.
    pub fn call(&mut self, service: &str, request_json: &str) -> Result<String> {
        self.host
            .call(service.into(), request_json.into())
            .into_result()
            .map(String::from)
            .map_err(Error::from)
    }
}

/// Converts SDK values to the ABI's (a cheap copy: text and blobs stay borrowed).
fn to_abi<'v>(params: &[SqlValue<'v>]) -> Vec<abi::Value<'v>> {
    params.iter().map(|v| v.to_abi()).collect()
}

/// Adapts a Rust closure to the ABI's row sink, catching its panics.
struct ClosureSink<'f, F> {
    on_row: &'f mut F,
}

impl<F> RowSink for ClosureSink<'_, F>
where
    F: FnMut(&Row<'_>) -> Result<bool>,
{
    fn row(&mut self, values: RSlice<'_, abi::Value<'_>>) -> RResult<bool, PluginError> {
        let row = Row::new(values.as_slice());
        catch_panic(|| (self.on_row)(&row))
    }
}
