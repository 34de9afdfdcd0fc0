//! The plugin author's SDK: plain Rust over the frozen ABI.
//!
//! Plugin code uses only this module (re-exported at the crate root) and the
//! `export_plugin!` macro; it never names abi_stable types or writes `extern`.

mod context;
mod error;
#[doc(hidden)]
pub(crate) mod export;
pub(crate) mod migration;
mod panic;
mod params;
mod plugin;
mod value;

pub use context::{Context, Level};
pub use error::{Error, Result};
pub use migration::Migration;
pub use params::{Param, ParamKind, Params};
pub use plugin::{Metrics, Pipeline, PipelineDef, Plugin};
pub use value::{FromSql, Row, SqlValue};
