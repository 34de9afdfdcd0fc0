//! `spine-plugin-api`: the one crate a Market Spine domain plugin depends on.
//!
//! It has three layers, split by audience:
//! - [`abi`]: the frozen stable-ABI types shared by host and plugins (abi_stable
//!   0.11). Touched only with a 0.y version bump.
//! - the SDK (re-exported here): [`Plugin`], [`Pipeline`], [`Context`],
//!   [`Params`], [`SqlValue`], [`Row`], [`Metrics`], [`Error`],
//!   [`Migration`], and the macros [`export_plugin!`] and
//!   [`include_migration!`], which plugin authors use.
//! - [`host`]: the host's side of the same types, in plain Rust, so that the
//!   host never names an abi_stable type and a move to another ABI layer
//!   changes this crate alone.
//!
//! This crate does no I/O and never links SQLite: plugins reach the database
//! only through the host's services. See `README.md` for the author's guide,
//! and the `spine-plugin-test` crate for running a plugin's pipelines in its
//! own `cargo test`.
//!
//! # What stays stable in the 0.1 line
//!
//! A plugin built against any 0.1.x loads in every 0.1 host, and its source
//! keeps compiling against every later 0.1.x:
//! - the [`abi`] module never changes within the line (abi_stable refuses a
//!   plugin whose types have fewer fields or methods than the host's);
//! - the SDK only grows: new methods, new conversions, new types. New host
//!   services arrive through [`Context::call`], as data;
//! - [`Error`] keeps exactly its four public fields (`code`, `message`,
//!   `help`, `location`): they mirror the ABI's error, which cannot grow
//!   before 0.2, so the struct is not `#[non_exhaustive]` and may be built
//!   and matched field by field;
//! - [`SqlValue`] and [`Level`] are exhaustive (SQLite's five storage
//!   classes, the log's five levels); [`ParamKind`] is exhaustive too, and a
//!   new kind of parameter would come with a new line, because a host
//!   refuses kinds it does not know;
//! - [`FromSql`] is sealed, so it may gain types without breaking anyone;
//! - [`Metrics`] holds `serde_json` 1 values in `with` and `get` for the
//!   whole line.
//!
//! Anything `#[doc(hidden)]` (the `__private` module, the statics that
//! `export_plugin!` writes) is not part of the surface.

// The frozen layer is documented for the host's readers where it helps; its
// generated trait-object types cannot carry docs.
#[allow(missing_docs)]
pub mod abi;
pub mod host;
mod sdk;

pub use sdk::{
    Context, Error, FromSql, Level, Metrics, Migration, Param, ParamKind, Params, Pipeline, PipelineDef,
    Plugin, Result, Row, SqlValue,
};

#[doc(hidden)]
pub mod __private {
    pub use crate::sdk::export::{in_process, root_module};
    pub use crate::sdk::migration::parse_file_name as parse_migration_file_name;
    pub use abi_stable::library::{__call_root_module_loader, CheckTypeLayout, LibHeader, RootModuleResult};
}

/// Exports a plugin from a cdylib crate. Pass a function returning the
/// [`Plugin`]; it runs once, when the host loads the library.
///
/// ```
/// use spine_plugin_api::{export_plugin, Plugin};
///
/// pub fn plugin() -> Plugin {
///     Plugin::new("acme", env!("CARGO_PKG_VERSION"), "Acme daily quotes")
/// }
///
/// export_plugin!(plugin);
/// # fn main() {}
/// ```
///
/// It writes the abi_stable `LibHeader` static under the name abi_stable 0.11
/// looks up (pinned by a test against `abi::LIB_HEADER_SYMBOL`), so plugin
/// crates need no abi_stable dependency, plus the plain C symbol
/// `spine_plugin_abi` the host checks first.
#[macro_export]
macro_rules! export_plugin {
    ($build:path) => {
        #[doc(hidden)]
        #[export_name = "_1as_0lib_1header_0root_bmodule_bloader"]
        pub static __SPINE_LIB_HEADER: $crate::__private::LibHeader = {
            extern "C" fn load_root_module() -> $crate::__private::RootModuleResult {
                $crate::__private::__call_root_module_loader(|| $crate::__private::root_module($build))
            }
            // SAFETY: the constructor returns the root module of type `SpinePluginRef`.
            unsafe {
                $crate::__private::LibHeader::from_constructor::<$crate::abi::SpinePluginRef>(
                    load_root_module,
                    $crate::__private::CheckTypeLayout::Yes,
                )
            }
        };

        /// The ABI family this plugin speaks; read by the host before anything else.
        #[doc(hidden)]
        #[no_mangle]
        pub extern "C" fn spine_plugin_abi() -> u32 {
            $crate::abi::ABI_FAMILY
        }
    };
}
