//! `spine-plugin-api`: the one crate a Market Spine domain plugin depends on.
//!
//! It has two layers, split by audience:
//! - [`abi`]: the frozen stable-ABI types shared by host and plugins (abi_stable
//!   0.11). Touched only with a 0.y version bump; the host reads them.
//! - the SDK (re-exported here): [`Plugin`], [`Pipeline`], [`Context`],
//!   [`Params`], [`Error`] and [`export_plugin!`], which plugin authors use.
//!
//! This crate does no I/O and never links SQLite: plugins reach the database
//! only through the host's services. See `README.md` for the author's guide.

pub mod abi;
mod sdk;

pub use sdk::{
    Context, Error, Level, Metrics, Param, ParamKind, Params, Pipeline, PipelineDef, Plugin, Result, Row,
    SqlValue,
};

#[doc(hidden)]
pub mod __private {
    pub use crate::sdk::export::root_module;
    pub use abi_stable::library::{__call_root_module_loader, CheckTypeLayout, LibHeader, RootModuleResult};
}

/// Exports a plugin from a cdylib crate. Pass a function returning the
/// [`Plugin`]; it runs once, when the host loads the library.
///
/// ```ignore
/// fn plugin() -> spine_plugin_api::Plugin { /* ... */ }
/// spine_plugin_api::export_plugin!(plugin);
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
