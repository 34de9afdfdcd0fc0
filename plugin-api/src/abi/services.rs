//! Trait objects that cross the boundary: host services, row sinks, pipelines.
//!
//! `HostServices` is implemented by the host and lent to a pipeline per call
//! (`RMut` borrow), so a plugin cannot keep it. `RowSink` is implemented by the
//! SDK inside the plugin; `PipelineObject` is implemented by the SDK and owned
//! through an `RBox` that the plugin allocated and frees.

use super::types::{LogLevel, PluginError, Value};
use abi_stable::{
    sabi_trait,
    sabi_types::RMut,
    std_types::{RResult, RSlice, RStr, RString},
};

/// What the host offers a running pipeline. Frozen: add services through `call`.
#[sabi_trait]
pub trait HostServices {
    /// Runs one statement with bound parameters; returns the rows changed.
    fn execute(&mut self, sql: RStr<'_>, params: RSlice<'_, Value<'_>>) -> RResult<u64, PluginError>;

    /// Runs one statement once per row of `params`, which holds
    /// `params.len() / columns` rows of `columns` values each, row after row.
    /// Returns the total rows changed.
    fn execute_many(
        &mut self,
        sql: RStr<'_>,
        columns: u32,
        params: RSlice<'_, Value<'_>>,
    ) -> RResult<u64, PluginError>;

    /// Streams a query's rows to `sink`, one call per row, without holding
    /// them; stops early when the sink returns `false`. Returns the rows seen.
    fn query(
        &mut self,
        sql: RStr<'_>,
        params: RSlice<'_, Value<'_>>,
        sink: RowSink_TO<'_, RMut<'_, ()>>,
    ) -> RResult<u64, PluginError>;

    /// Runs a batch of statements with no parameters (DDL, bulk SQL).
    fn execute_batch(&mut self, sql: RStr<'_>) -> RResult<(), PluginError>;

    /// Forwards a message to the host's log.
    fn log(&mut self, level: LogLevel, message: RStr<'_>);

    /// Reports progress; `total` is 0 when unknown.
    fn progress(&mut self, done: u64, total: u64, unit: RStr<'_>);

    /// True once the operator asked to stop (Ctrl-C).
    fn cancelled(&self) -> bool;

    /// A named service with a JSON request and a JSON answer: the extension
    /// point for services added after 0.1.
    #[sabi(last_prefix_field)]
    fn call(&mut self, service: RStr<'_>, request_json: RStr<'_>) -> RResult<RString, PluginError>;
}

/// Receives streamed rows. Return `ROk(false)` to stop early.
#[sabi_trait]
pub trait RowSink {
    #[sabi(last_prefix_field)]
    fn row(&mut self, values: RSlice<'_, Value<'_>>) -> RResult<bool, PluginError>;
}

/// A pipeline instance ready to run once. Returns its metrics as a JSON object.
#[sabi_trait]
pub trait PipelineObject {
    #[sabi(last_prefix_field)]
    fn run<'h>(&mut self, host: HostServices_TO<'h, RMut<'h, ()>>) -> RResult<RString, PluginError>;
}
