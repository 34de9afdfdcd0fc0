//! A pipeline the plugin created, and the host's services lent to it while
//! it runs: the host implements [`Services`] in plain Rust, and
//! [`PluginPipeline::run`] hands it to the plugin as the ABI's
//! `HostServices` trait object, borrowed for the run.

use crate::abi::{self, HostServices, HostServices_TO, PipelineBox, PluginError, RowSink_TO, Value};
use crate::sdk::{Error, Level};
use abi_stable::{
    sabi_trait::TD_Opaque,
    sabi_types::RMut,
    std_types::{RResult, RSlice, RStr, RString},
};

/// What the host lends a running pipeline: the database (inside the run's
/// transaction), the log, progress, cancellation and the named services.
/// Each method answers one call of the plugin's [`Context`](crate::Context).
pub trait Services {
    /// Runs one statement with bound parameters; returns the rows changed.
    fn execute(&mut self, sql: &str, params: &[Value<'_>]) -> Result<u64, Error>;

    /// Runs one statement once per row of `params`, which holds rows of
    /// `columns` values one after the other; returns the rows changed.
    fn execute_many(&mut self, sql: &str, columns: u32, params: &[Value<'_>]) -> Result<u64, Error>;

    /// Streams a query's rows to `rows`, one [`Rows::send`] per row, and
    /// stops when it returns `false`; returns the rows seen.
    fn query(&mut self, sql: &str, params: &[Value<'_>], rows: &mut Rows<'_, '_>) -> Result<u64, Error>;

    /// Runs statements with no parameters, one after the other.
    fn execute_batch(&mut self, sql: &str) -> Result<(), Error>;

    /// Writes to the host's log.
    fn log(&mut self, level: Level, message: &str);

    /// Reports progress: `done` of `total` (0 when unknown) `unit`s.
    fn progress(&mut self, done: u64, total: u64, unit: &str);

    /// True once the operator asked the run to stop.
    fn cancelled(&self) -> bool;

    /// A named service with a JSON request; its JSON answer.
    fn call(&mut self, service: &str, request_json: &str) -> Result<String, Error>;
}

/// Where a query's rows go: the plugin's row callback, lent for one call.
pub struct Rows<'s, 'p> {
    sink: RowSink_TO<'s, RMut<'p, ()>>,
}

impl Rows<'_, '_> {
    /// Hands one row to the plugin; `false` when it wants no more. A row's
    /// values are borrowed for this call only.
    #[inline] // called once per row of every scan
    pub fn send(&mut self, values: &[Value<'_>]) -> Result<bool, Error> {
        self.sink
            .row(RSlice::from_slice(values))
            .into_result()
            .map_err(Error::from)
    }
}

/// A pipeline the plugin's factory created, ready to run once; the plugin
/// frees it when it is dropped.
pub struct PluginPipeline(PipelineBox);

impl PluginPipeline {
    pub(crate) fn new(pipeline: PipelineBox) -> Self {
        Self(pipeline)
    }

    /// Runs the pipeline with `services` lent for the run; returns its
    /// metrics as a JSON object, or its error (a panic included: the plugin's
    /// side turns it into a `plugin.panic` error).
    pub fn run<S: Services>(&mut self, services: &mut S) -> Result<String, Error> {
        let mut lent = Lent(services);
        let host = HostServices_TO::from_ptr(RMut::new(&mut lent), TD_Opaque);
        self.0
            .run(host)
            .into_result()
            .map(String::from)
            .map_err(Error::from)
    }
}

/// The host's [`Services`] as the ABI's `HostServices`.
struct Lent<'s, S>(&'s mut S);

/// The ABI's answer for a host result.
fn answer<T>(result: Result<T, Error>) -> RResult<T, PluginError> {
    result.map_err(PluginError::from).into()
}

impl<S: Services> HostServices for Lent<'_, S> {
    fn execute(&mut self, sql: RStr<'_>, params: RSlice<'_, Value<'_>>) -> RResult<u64, PluginError> {
        answer(self.0.execute(sql.as_str(), params.as_slice()))
    }

    fn execute_many(
        &mut self,
        sql: RStr<'_>,
        columns: u32,
        params: RSlice<'_, Value<'_>>,
    ) -> RResult<u64, PluginError> {
        answer(self.0.execute_many(sql.as_str(), columns, params.as_slice()))
    }

    fn query(
        &mut self,
        sql: RStr<'_>,
        params: RSlice<'_, Value<'_>>,
        sink: RowSink_TO<'_, RMut<'_, ()>>,
    ) -> RResult<u64, PluginError> {
        let mut rows = Rows { sink };
        answer(self.0.query(sql.as_str(), params.as_slice(), &mut rows))
    }

    fn execute_batch(&mut self, sql: RStr<'_>) -> RResult<(), PluginError> {
        answer(self.0.execute_batch(sql.as_str()))
    }

    fn log(&mut self, level: abi::LogLevel, message: RStr<'_>) {
        let level = match level {
            1 => Level::Error,
            2 => Level::Warn,
            3 => Level::Info,
            4 => Level::Debug,
            _ => Level::Trace,
        };
        self.0.log(level, message.as_str());
    }

    fn progress(&mut self, done: u64, total: u64, unit: RStr<'_>) {
        self.0.progress(done, total, unit.as_str());
    }

    fn cancelled(&self) -> bool {
        self.0.cancelled()
    }

    fn call(&mut self, service: RStr<'_>, request_json: RStr<'_>) -> RResult<RString, PluginError> {
        answer(
            self.0
                .call(service.as_str(), request_json.as_str())
                .map(RString::from),
        )
    }
}
