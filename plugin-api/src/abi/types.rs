//! Plain data that crosses the boundary: values, errors, manifest, migrations.

use abi_stable::{
    std_types::{ROption, RSlice, RStr, RString, RVec},
    StableAbi,
};

/// One SQL value, borrowed for the duration of a call.
///
/// These are SQLite's five storage classes, a set that will not grow, so this
/// enum is exhaustive on purpose.
#[repr(u8)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    Null,
    Integer(i64),
    Real(f64),
    Text(RStr<'a>),
    Blob(RSlice<'a, u8>),
}

/// A flat, stable error: a dotted code (`otc.parse.bad_header`), a message,
/// an optional hint and an optional location (`file: line 42`).
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq)]
pub struct PluginError {
    pub code: RString,
    pub message: RString,
    pub help: ROption<RString>,
    pub location: ROption<RString>,
}

/// Log levels, numbered like the `log` crate (1 = error … 5 = trace).
pub type LogLevel = u8;

/// One parameter a pipeline accepts.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq)]
pub struct ParamSpec {
    pub name: RString,
    /// `string`, `integer`, `number`, `boolean`, `date` or `path`. Kept as text
    /// so a later kind is data, not a layout change.
    pub kind: RString,
    pub required: bool,
    pub default: ROption<RString>,
    pub help: RString,
}

/// One pipeline a plugin offers.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq)]
pub struct PipelineSpec {
    /// Always `<domain>.<name>`.
    pub name: RString,
    pub description: RString,
    pub params: RVec<ParamSpec>,
}

/// What a plugin is and offers.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq)]
pub struct Manifest {
    pub domain: RString,
    pub version: RString,
    pub description: RString,
    pub pipelines: RVec<PipelineSpec>,
}

/// One embedded SQL migration of a plugin's domain.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq)]
pub struct MigrationDef {
    pub version: u32,
    pub name: RString,
    pub sql: RString,
}
