//! The plugin side of the boundary: the root module and the `extern` shims.
//!
//! Every entry point the host can call runs its body under
//! [`catch_panic`](super::panic::catch_panic), so that a panic becomes an
//! error value here instead of ending the host's process.
//!
//! The same entry points serve a cdylib's own plugin and, for the test
//! harness, a plugin value living in the host's process ([`in_process`]).

use super::context::Context;
use super::error::{Error, Result};
use super::panic::{catch_panic, record_panic};
use super::params::Params;
use super::plugin::{Pipeline, Plugin};
use crate::abi::{
    HostServices_TO, Manifest, MigrationDef, PipelineBox, PipelineObject, PipelineObject_TO, PluginError,
    SpinePlugin, SpinePluginRef,
};
use crate::host::PluginModule;
use abi_stable::{
    prefix_type::PrefixTypeTrait,
    sabi_trait::TD_Opaque,
    sabi_types::RMut,
    std_types::{RResult, RStr, RString, RVec},
};
use std::cell::RefCell;
use std::panic;
use std::sync::{Arc, Once, OnceLock};

/// The plugin, built once by the root-module loader. Each cdylib links its own
/// copy of this crate, so each plugin has its own.
static PLUGIN: OnceLock<Plugin> = OnceLock::new();

thread_local! {
    /// The plugin an in-process root module serves on this thread (see
    /// [`in_process`]).
    static IN_PROCESS: RefCell<Option<Arc<Plugin>>> = const { RefCell::new(None) };
}

/// Builds the root module; called by the loader `export_plugin!` generates.
pub fn root_module(build: fn() -> Plugin) -> SpinePluginRef {
    panic::set_hook(Box::new(record_panic));
    PLUGIN.get_or_init(build);
    module::<Exported>()
}

/// The root module whose entry points serve the plugin `S` finds.
fn module<S: Source>() -> SpinePluginRef {
    SpinePlugin {
        manifest: manifest::<S>,
        migrations: migrations::<S>,
        create_pipeline: create_pipeline::<S>,
    }
    .leak_into_prefix()
}

/// Where a root module's entry points find their plugin.
trait Source {
    fn with<T>(use_it: impl FnOnce(&Plugin) -> Result<T>) -> Result<T>;
}

/// A cdylib's own plugin, built when the host loaded the library.
struct Exported;

impl Source for Exported {
    fn with<T>(use_it: impl FnOnce(&Plugin) -> Result<T>) -> Result<T> {
        use_it(PLUGIN.get().ok_or_else(not_loaded)?)
    }
}

/// The plugin [`in_process::serve`] lends the calling thread.
struct InProcess;

impl Source for InProcess {
    fn with<T>(use_it: impl FnOnce(&Plugin) -> Result<T>) -> Result<T> {
        let plugin = IN_PROCESS
            .with(|current| current.borrow().clone())
            .ok_or_else(not_loaded)?;
        use_it(&plugin)
    }
}

fn not_loaded() -> Error {
    Error::new("sdk.not_loaded", "the plugin was called before it was loaded")
}

extern "C" fn manifest<S: Source>() -> RResult<Manifest, PluginError> {
    catch_panic(|| S::with(|plugin| Ok(plugin.manifest())))
}

extern "C" fn migrations<S: Source>() -> RResult<RVec<MigrationDef>, PluginError> {
    catch_panic(|| S::with(|plugin| Ok(plugin.abi_migrations().into())))
}

extern "C" fn create_pipeline<S: Source>(
    name: RStr<'_>,
    params_json: RStr<'_>,
) -> RResult<PipelineBox, PluginError> {
    catch_panic(|| {
        let params = Params::from_json(params_json.as_str())?;
        let pipeline = S::with(|plugin| plugin.create(name.as_str(), &params))?;
        Ok(PipelineObject_TO::from_value(BoxedPipeline(pipeline), TD_Opaque))
    })
}

/// A plugin that lives in the host's own process, for the test harness
/// (`spine-host`'s `testing` module): the host calls it through the same
/// root module and trait objects as a loaded library's, so its runs take the
/// same paths. Not for plugin authors.
pub mod in_process {
    use super::*;

    /// The root module of every in-process plugin; its entry points serve
    /// the plugin that [`serve`] lends the calling thread.
    pub fn module() -> PluginModule {
        static MODULE: OnceLock<SpinePluginRef> = OnceLock::new();
        PluginModule::new(*MODULE.get_or_init(super::module::<InProcess>))
    }

    /// Runs `host_call` with `plugin` behind [`module`] on this thread, and
    /// records panics for the panic-to-error conversion as a loaded plugin
    /// does, while the process's own panic hook (the test runner's) still
    /// prints them.
    pub fn serve<T>(plugin: &Arc<Plugin>, host_call: impl FnOnce() -> T) -> T {
        static HOOK: Once = Once::new();
        HOOK.call_once(|| {
            let previous = panic::take_hook();
            panic::set_hook(Box::new(move |info| {
                record_panic(info);
                previous(info);
            }));
        });
        /// Puts back what the thread served before, even when `host_call` panics.
        struct Restore(Option<Arc<Plugin>>);
        impl Drop for Restore {
            fn drop(&mut self) {
                IN_PROCESS.with(|current| *current.borrow_mut() = self.0.take());
            }
        }
        let _restore = Restore(IN_PROCESS.with(|current| current.borrow_mut().replace(Arc::clone(plugin))));
        host_call()
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sdk::panic::{last_panic, outcome};

    /// With the hook the in-process module installs, the message also says
    /// where the panic happened, and the next panic does not inherit it.
    #[test]
    fn an_in_process_panic_is_recorded_with_its_location() {
        let plugin = Arc::new(Plugin::new("acme", "1", "d"));
        let error = in_process::serve(&plugin, || outcome(catch_panic::<()>(|| panic!("boom")))).unwrap_err();
        assert!(
            error.message.starts_with("the plugin panicked: "),
            "{}",
            error.message
        );
        assert!(
            error.message.contains("boom") && error.message.contains("export.rs"),
            "{}",
            error.message
        );
        assert_eq!(last_panic(), None);
    }

    #[test]
    fn the_in_process_module_serves_the_plugin_lent_to_the_thread() {
        let module = in_process::module();
        let not_served = module.manifest().unwrap_err();
        assert_eq!(not_served.code, "sdk.not_loaded");
        let plugin =
            Arc::new(Plugin::new("acme", "1.2.3", "d").migration(1, "acme_t", "CREATE TABLE acme_t (x)"));
        let (manifest, migrations) = in_process::serve(&plugin, || {
            (module.manifest().unwrap(), module.migrations().unwrap())
        });
        assert_eq!(
            (manifest.domain.as_str(), manifest.version.as_str()),
            ("acme", "1.2.3")
        );
        assert_eq!(migrations.len(), 1);
        assert_eq!(migrations[0].name(), "acme_t");
        assert_eq!(module.manifest().unwrap_err().code, "sdk.not_loaded");
    }
}
