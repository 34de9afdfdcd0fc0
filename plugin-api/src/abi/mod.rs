//! The frozen ABI of the 0.1 line: every type that crosses the plugin boundary.
//!
//! Nothing in this module may change within a 0.y line. abi_stable rejects a
//! plugin whose root module or trait objects have fewer fields or methods than
//! the host's ("too many fields"), so one added method would break every plugin
//! already built. New capabilities travel as data through
//! [`HostServices::call`] instead.
//!
//! Memory: every owned value (`RString`, `RVec`, `RBox`) carries the vtable of
//! the side that allocated it and is freed by that side. Borrowed values
//! (`RStr`, `RSlice`, [`Value`]) live only for the duration of one call.
#![allow(non_local_definitions, non_camel_case_types)]

mod services;
mod types;

pub use services::{HostServices, HostServices_TO, PipelineObject, PipelineObject_TO, RowSink, RowSink_TO};
pub use types::{LogLevel, Manifest, MigrationDef, ParamSpec, PipelineSpec, PluginError, Value};

use abi_stable::{
    declare_root_module_statics,
    library::RootModule,
    package_version_strings,
    sabi_types::VersionStrings,
    std_types::{RBox, RResult, RStr, RVec},
    StableAbi,
};

/// The ABI family answered by a plugin's `spine_plugin_abi` C symbol.
///
/// The symbol is plain C and independent of abi_stable, so a host can name the
/// problem in one line even if a later line of the API moves to another ABI
/// layer. Family 1 is "abi_stable 0.11 root module, spine-plugin-api 0.y".
pub const ABI_FAMILY: u32 = 1;

/// Name of the plain C function every plugin exports to report its ABI family.
pub const ABI_FAMILY_SYMBOL: &str = "spine_plugin_abi";

/// The symbol abi_stable 0.11 reads a library's `LibHeader` from.
///
/// The SDK's `export_plugin!` writes this static itself (rather than using
/// `#[export_root_module]`, which expands to `::abi_stable` paths and would
/// force every plugin to depend on abi_stable). A test pins it against
/// `abi_stable::library::ROOT_MODULE_LOADER_NAME`.
pub const LIB_HEADER_SYMBOL: &str = "_1as_0lib_1header_0root_bmodule_bloader";

/// A pipeline object created by a plugin, owned (and freed) by the plugin side.
pub type PipelineBox = PipelineObject_TO<'static, RBox<()>>;

/// The root module every plugin exports.
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = SpinePluginRef)))]
#[sabi(missing_field(panic))]
pub struct SpinePlugin {
    /// Domain, version, description and every pipeline's spec.
    pub manifest: extern "C" fn() -> RResult<Manifest, PluginError>,
    /// The plugin's own SQL migrations, in version order.
    pub migrations: extern "C" fn() -> RResult<RVec<MigrationDef>, PluginError>,
    /// Creates the named pipeline from validated parameters (a JSON object).
    #[sabi(last_prefix_field)]
    pub create_pipeline:
        extern "C" fn(pipeline: RStr<'_>, params_json: RStr<'_>) -> RResult<PipelineBox, PluginError>,
}

impl RootModule for SpinePluginRef {
    declare_root_module_statics! {SpinePluginRef}
    const BASE_NAME: &'static str = "spine_plugin";
    const NAME: &'static str = "spine_plugin";
    const VERSION_STRINGS: VersionStrings = package_version_strings!();
}

/// This crate's version, as compiled into a host or a plugin.
pub const API_VERSION: &str = env!("CARGO_PKG_VERSION");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lib_header_symbol_matches_abi_stable() {
        assert_eq!(LIB_HEADER_SYMBOL, abi_stable::library::ROOT_MODULE_LOADER_NAME);
    }
}
