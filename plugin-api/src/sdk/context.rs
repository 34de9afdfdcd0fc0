//! `Context`: the host's services as a running pipeline sees them.

use super::error::{Error, Result};
use super::panic::catch_panic;
use super::value::{read_as, FromSql, Row, SqlValue};
use crate::abi::{self, HostServices_TO, PluginError, RowSink, RowSink_TO};
use abi_stable::{
    sabi_trait::TD_Opaque,
    sabi_types::RMut,
    std_types::{RResult, RSlice},
};
use std::fmt;

/// Log levels for [`Context::log`], numbered like the `log` crate.
///
/// Exhaustive: these are the five levels of the host's log, a closed set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Something failed.
    Error = 1,
    /// Something looks wrong, and the run goes on.
    Warn = 2,
    /// What the run is doing; shown by default.
    Info = 3,
    /// Detail for the plugin's author (`--log-level debug`).
    Debug = 4,
    /// Even more detail (`--log-level trace`).
    Trace = 5,
}

/// The host's database, log, progress and cancellation, lent for one run.
///
/// Every statement runs inside the run's transaction, which the host owns:
/// it commits when `run` returns `Ok` and rolls back otherwise. Transaction
/// control, `ATTACH` and connection `PRAGMA`s are refused.
///
/// A `Context` exists only while the host (or the test harness,
/// `spine-plugin-test`) runs a pipeline; the examples below are functions a
/// pipeline's `run` would call.
pub struct Context<'a> {
    host: HostServices_TO<'a, RMut<'a, ()>>,
}

impl<'a> Context<'a> {
    pub(crate) fn new(host: HostServices_TO<'a, RMut<'a, ()>>) -> Self {
        Self { host }
    }

    /// Runs one statement; returns the number of rows changed.
    ///
    /// ```
    /// # use spine_plugin_api::{Context, Result};
    /// fn greet(ctx: &mut Context<'_>, name: &str) -> Result<u64> {
    ///     ctx.execute("INSERT INTO acme_greetings (name) VALUES (?1)", &[name.into()])
    /// }
    /// ```
    pub fn execute(&mut self, sql: &str, params: &[SqlValue<'_>]) -> Result<u64> {
        let values = to_abi(params);
        self.host
            .execute(sql.into(), RSlice::from_slice(&values))
            .into_result()
            .map_err(Error::from)
    }

    /// Runs one statement once per row, for bulk inserts: one call across
    /// the boundary per batch, one prepared statement. Each row is an array
    /// of `N` values, so a batch cannot have the wrong shape. Returns the
    /// rows changed. Send batches of a few thousand rows; for more than fits
    /// in memory, fill a buffer, send it, clear it, and read on.
    ///
    /// ```
    /// # use spine_plugin_api::{Context, Result, SqlValue};
    /// struct Quote { symbol: String, day: i64, price: f64 }
    ///
    /// fn store(ctx: &mut Context<'_>, quotes: &[Quote]) -> Result<u64> {
    ///     let rows: Vec<[SqlValue; 3]> = quotes
    ///         .iter()
    ///         .map(|q| [(&q.symbol).into(), q.day.into(), q.price.into()])
    ///         .collect();
    ///     ctx.execute_rows("INSERT INTO acme_quotes (symbol, day, price) VALUES (?1, ?2, ?3)", &rows)
    /// }
    /// ```
    pub fn execute_rows<const N: usize>(&mut self, sql: &str, rows: &[[SqlValue<'_>; N]]) -> Result<u64> {
        const { assert!(N > 0, "execute_rows: a row needs at least one value") };
        self.execute_many(sql, N, rows.as_flattened())
    }

    /// Runs one statement once per row, with the rows flattened: `params`
    /// holds rows of `columns` values each, one after the other. Prefer
    /// [`Context::execute_rows`], whose rows cannot have the wrong shape;
    /// this form fails with `sdk.execute_many.shape` when they do.
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
    ///
    /// ```
    /// # use spine_plugin_api::{Context, Result};
    /// fn average(ctx: &mut Context<'_>, symbol: &str) -> Result<f64> {
    ///     let (mut sum, mut count) = (0.0, 0);
    ///     ctx.query("SELECT price FROM acme_quotes WHERE symbol = ?1", &[symbol.into()], |row| {
    ///         sum += row.f64(0)?;
    ///         count += 1;
    ///         Ok(true) // false stops the query here
    ///     })?;
    ///     Ok(sum / count as f64)
    /// }
    /// ```
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
    ///
    /// ```
    /// # use spine_plugin_api::{Context, Result};
    /// fn latest_price(ctx: &mut Context<'_>, symbol: &str) -> Result<Option<f64>> {
    ///     ctx.query_one(
    ///         "SELECT price FROM acme_quotes WHERE symbol = ?1 ORDER BY day DESC LIMIT 1",
    ///         &[symbol.into()],
    ///         |row| row.f64(0),
    ///     )
    /// }
    /// ```
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

    /// The one value of a query that returns one row of one column, read as
    /// `T` (see [`FromSql`]): `COUNT(*)`, `SUM(…)`, `MAX(…)`. NULL reads as
    /// `None` into an `Option<T>`; anything else that does not fit `T` is an
    /// error that says what the query returned, and so is a query that
    /// returns no row, several rows or several columns (codes
    /// `sdk.query.no_row`, `sdk.query.shape`, `sdk.query.type`).
    ///
    /// ```
    /// # use spine_plugin_api::{Context, Result};
    /// fn figures(ctx: &mut Context<'_>) -> Result<()> {
    ///     let quotes: i64 = ctx.query_scalar("SELECT COUNT(*) FROM acme_quotes", &[])?;
    ///     // TOTAL() is a float, 0.0 for no rows; SUM() is an integer, NULL for no rows.
    ///     let value: f64 = ctx.query_scalar("SELECT TOTAL(price) FROM acme_quotes", &[])?;
    ///     let days: Option<i64> = ctx.query_scalar("SELECT SUM(day) FROM acme_quotes", &[])?;
    ///     let latest: Option<String> = ctx.query_scalar("SELECT MAX(symbol) FROM acme_quotes", &[])?;
    ///     # let _ = (quotes, value, days, latest);
    ///     Ok(())
    /// }
    /// ```
    pub fn query_scalar<T: FromSql>(&mut self, sql: &str, params: &[SqlValue<'_>]) -> Result<T> {
        let statement = statement_label(sql);
        let mut value = None;
        self.query(sql, params, |row| {
            if value.is_some() {
                return Err(Error::new(
                    "sdk.query.shape",
                    format!("`{statement}` returned more than one row; query_scalar reads exactly one"),
                )
                .with_help("add LIMIT 1, or read the rows with query"));
            }
            if row.len() != 1 {
                return Err(Error::new(
                    "sdk.query.shape",
                    format!(
                        "`{statement}` returned {} columns; query_scalar reads exactly one",
                        row.len()
                    ),
                ));
            }
            value = Some(read_as::<T>(
                row.get(0)?,
                &format!("`{statement}`"),
                "sdk.query.type",
            )?);
            Ok(true)
        })?;
        value.ok_or_else(|| {
            Error::new(
                "sdk.query.no_row",
                format!("`{statement}` returned no row; query_scalar reads exactly one"),
            )
            .with_help("use query_one for a row that may be missing")
        })
    }

    /// Runs several statements with no parameters (DDL, `INSERT … SELECT`).
    pub fn execute_batch(&mut self, sql: &str) -> Result<()> {
        self.host
            .execute_batch(sql.into())
            .into_result()
            .map_err(Error::from)
    }

    /// Writes to the host's log (stderr, filtered by `--log-level`), as
    /// `INFO  <domain>: message`. [`Context::info`] and its siblings take
    /// format arguments instead of a `&str`.
    pub fn log(&mut self, level: Level, message: &str) {
        self.host.log(level as u8, message.into());
    }

    /// Logs at [`Level::Error`]. Takes anything printable: `format_args!(…)`,
    /// a `&str`, a `String`, a number.
    pub fn error(&mut self, message: impl fmt::Display) {
        self.log_display(Level::Error, message);
    }

    /// Logs at [`Level::Warn`].
    pub fn warn(&mut self, message: impl fmt::Display) {
        self.log_display(Level::Warn, message);
    }

    /// Logs at [`Level::Info`], the level shown by default.
    ///
    /// ```
    /// # use spine_plugin_api::Context;
    /// fn report(ctx: &mut Context<'_>, inserted: u64, symbol: &str) {
    ///     ctx.info(format_args!("stored {inserted} quotes for {symbol}"));
    /// }
    /// ```
    pub fn info(&mut self, message: impl fmt::Display) {
        self.log_display(Level::Info, message);
    }

    /// Logs at [`Level::Debug`].
    pub fn debug(&mut self, message: impl fmt::Display) {
        self.log_display(Level::Debug, message);
    }

    /// Logs at [`Level::Trace`].
    pub fn trace(&mut self, message: impl fmt::Display) {
        self.log_display(Level::Trace, message);
    }

    fn log_display(&mut self, level: Level, message: impl fmt::Display) {
        self.log(level, &message.to_string());
    }

    /// Reports progress: `done` of `total` (0 when unknown) `unit`s. The host
    /// draws a bar when stderr is a terminal and ignores the report
    /// otherwise. The unit `"bytes"` is drawn as sizes with a rate and an ETA
    /// (`12.5 MiB/48.0 MiB 26% 31 MiB/s ETA 1s`); any other unit as counts.
    /// Report every few thousand items, not every row.
    ///
    /// ```
    /// # use spine_plugin_api::Context;
    /// fn read_file(ctx: &mut Context<'_>, size: u64) {
    ///     let mut read = 0;
    ///     while read < size {
    ///         read = (read + (1 << 20)).min(size); // one MiB at a time
    ///         ctx.progress(read, size, "bytes");
    ///     }
    /// }
    /// ```
    pub fn progress(&mut self, done: u64, total: u64, unit: &str) {
        self.host.progress(done, total, unit.into());
    }

    /// True once the operator pressed Ctrl-C. Long loops should check it and
    /// return; the host then rolls back and records the run as cancelled.
    pub fn cancelled(&self) -> bool {
        self.host.cancelled()
    }

    /// This run's execution id, as `spine-host executions` shows it: tag the
    /// rows a run writes with it (`batch_id`, `execution_id`). Fails with
    /// code `sdk.execution_id` on a host that does not give it.
    ///
    /// ```
    /// # use spine_plugin_api::{Context, Result};
    /// fn tag(ctx: &mut Context<'_>) -> Result<u64> {
    ///     let execution_id = ctx.execution_id()?;
    ///     ctx.execute("UPDATE acme_quotes SET batch_id = ?1 WHERE batch_id IS NULL", &[(&execution_id).into()])
    /// }
    /// ```
    pub fn execution_id(&mut self) -> Result<String> {
        self.execution_info("execution_id")
    }

    /// The full name of the pipeline being run (`acme.quotes`), for a
    /// factory shared by several pipelines. Fails with code `sdk.pipeline`
    /// on a host that does not give it.
    pub fn pipeline(&mut self) -> Result<String> {
        self.execution_info("pipeline")
    }

    /// Today's date, `YYYY-MM-DD`, as the host sees it: the UTC date, or the
    /// date the operator fixed with `SPINE_TODAY` (tests do, so that a rule
    /// such as "no date more than a year ahead" gives the same answer on
    /// every day). Read it instead of the clock for every rule that depends
    /// on the date. Fails with code `sdk.today` on a host that does not give it.
    pub fn today(&mut self) -> Result<String> {
        self.execution_info("today")
    }

    /// One text field of the host's `execution.info` answer
    /// (`{"execution_id", "pipeline", "params", "today"}`); a missing field
    /// fails with code `sdk.<field>`.
    fn execution_info(&mut self, field: &str) -> Result<String> {
        let answer = self.call("execution.info", "{}")?;
        serde_json::from_str::<serde_json::Value>(&answer)
            .ok()
            .and_then(|info| info.get(field)?.as_str().map(str::to_owned))
            .ok_or_else(|| {
                Error::new(
                    format!("sdk.{field}"),
                    format!("expected the host's execution.info to hold `{field}`, found {answer}"),
                )
                .with_help("run the plugin on a newer spine-host")
            })
    }

    /// Calls a named host service with a JSON request; returns the JSON
    /// answer. The extension point for services added after 0.1: an unknown
    /// service fails with code `host.call.unknown`, so a plugin can fall back
    /// on an older host.
    ///
    /// ```
    /// # use spine_plugin_api::{Context, Result};
    /// fn host_version(ctx: &mut Context<'_>) -> Result<String> {
    ///     ctx.call("host.version", "{}") // {"host": "0.1.0", "plugin_api": "0.1.0"}
    /// }
    /// ```
    pub fn call(&mut self, service: &str, request_json: &str) -> Result<String> {
        self.host
            .call(service.into(), request_json.into())
            .into_result()
            .map(String::from)
            .map_err(Error::from)
    }
}

/// A statement as an error message names it: on one line, cut at 80 characters.
fn statement_label(sql: &str) -> String {
    let line = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(80) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line,
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
