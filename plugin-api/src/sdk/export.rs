//! The plugin side of the boundary: the root module and the `extern` shims.
//!
//! Every entry point the host can call runs its body under [`catch_panic`]:
//! abi_stable turns a panic that reaches the boundary into `process::exit(1)`,
//! which would take the host down, so a panic must become an error value here.

use super::context::Context;
use super::error::{Error, Result};
use super::params::Params;
use super::plugin::{Pipeline, Plugin};
use crate::abi::{
    HostServices_TO, Manifest, MigrationDef, PipelineBox, PipelineObject, PipelineObject_TO, PluginError,
    SpinePlugin, SpinePluginRef,
};
use abi_stable::{
    prefix_type::PrefixTypeTrait,
    sabi_trait::TD_Opaque,
    sabi_types::RMut,
    std_types::{RResult, RStr, RString, RVec},
};
use std::cell::RefCell;
use std::panic::{self, AssertUnwindSafe};
use std::sync::OnceLock;

/// The plugin, built once by the root-module loader. Each cdylib links its own
/// copy of this crate, so each plugin has its own.
static PLUGIN: OnceLock<Plugin> = OnceLock::new();

thread_local! {
    /// Message and location of the last panic on this thread, recorded by the
    /// plugin's own panic hook (each cdylib has its own `std` and hook).
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Builds the root module; called by the loader `export_plugin!` generates.
pub fn root_module(build: fn() -> Plugin) -> SpinePluginRef {
    panic::set_hook(Box::new(|info| {
        LAST_PANIC.with(|last| *last.borrow_mut() = Some(info.to_string().replace('\n', " ")));
    }));
    PLUGIN.get_or_init(build);
    SpinePlugin {
        manifest,
        migrations,
        create_pipeline,
    }
    .leak_into_prefix()
}

/// Runs `body`, turning a panic into a `plugin.panic` error value.
pub(crate) fn catch_panic<T>(body: impl FnOnce() -> Result<T>) -> RResult<T, PluginError> {
    match panic::catch_unwind(AssertUnwindSafe(body)) {
        Ok(result) => result.map_err(PluginError::from).into(),
        Err(payload) => {
            let detail = LAST_PANIC
                .with(|last| last.borrow_mut().take())
                .unwrap_or_else(|| {
                    payload
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| payload.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "a panic with no message".to_owned())
                });
            RResult::RErr(Error::new("plugin.panic", format!("the plugin panicked: {detail}")).into())
        }
    }
}

fn plugin() -> Result<&'static Plugin> {
    PLUGIN
        .get()
        .ok_or_else(|| Error::new("sdk.not_loaded", "the plugin was called before it was loaded"))
}

extern "C" fn manifest() -> RResult<Manifest, PluginError> {
    catch_panic(|| Ok(plugin()?.manifest()))
}

extern "C" fn migrations() -> RResult<RVec<MigrationDef>, PluginError> {
    catch_panic(|| Ok(plugin()?.migrations().into()))
}

extern "C" fn create_pipeline(name: RStr<'_>, params_json: RStr<'_>) -> RResult<PipelineBox, PluginError> {
    catch_panic(|| {
        let params = Params::from_json(params_json.as_str())?;
        let pipeline = plugin()?.create(name.as_str(), &params)?;
        Ok(PipelineObject_TO::from_value(BoxedPipeline(pipeline), TD_Opaque))
    })
}

/// The ABI face of a plugin author's `Pipeline`.
struct BoxedPipeline(Box<dyn Pipeline>);

impl PipelineObject for BoxedPipeline {
    fn run<'h>(&mut self, host: HostServices_TO<'h, RMut<'h, ()>>) -> RResult<RString, PluginError> {
        catch_panic(|| {
            let mut ctx = Context::new(host);
            self.0.run(&mut ctx).map(|metrics| metrics.to_json().into())
        })
    }
}
