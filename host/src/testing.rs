//! The host's narrow entry point for testing a plugin in-process: the test
//! harness (`spine-plugin-test`) runs a plugin given as a
//! [`spine_plugin_api::Plugin`] value, with no library and no binary, through
//! the same code the binary runs. The plugin's manifest gets the loader's
//! checks (`load.rs`), its migrations the migrator ([`crate::migrate`]),
//! and every run goes through [`Dispatcher::submit`]: parameter validation,
//! the factory, the execution record, one transaction and the fence.
//!
//! What differs from a library: the loader's file checks (ELF, SQLite,
//! ABI family and version) have no file to judge, and the root module's
//! entry points reach the plugin value through
//! `spine_plugin_api::__private::in_process` rather than a library's static.
//! The binary never uses this module.

use crate::db::Database;
use crate::dispatcher::{Dispatcher, Submission};
use crate::executions::Execution;
use crate::load;
use crate::migrate;
use crate::progress::Progress;
use crate::registry::Registry;
use anyhow::{anyhow, Context as _, Result};
use chrono::NaiveDate;
use spine_plugin_api::__private::in_process;
use spine_plugin_api::host::API_VERSION;
use spine_plugin_api::Plugin;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// One plugin value and one database, as `spine-host run` would see them.
pub struct TestHost {
    plugin: Arc<Plugin>,
    registry: Registry,
    db: Database,
    data_dir: PathBuf,
    today: NaiveDate,
    /// Never set: a harness run is not interrupted.
    cancel: AtomicBool,
}

impl TestHost {
    /// Opens (creating) the database at `database`, checks `plugin`'s
    /// manifest as the loader checks a library's, and applies the host's and
    /// the plugin's pending migrations. Today's date is the binary's
    /// (`SPINE_TODAY`, else the UTC date), and the data folder `data`.
    pub fn open(database: &Path, plugin: Plugin) -> Result<Self> {
        let plugin = Arc::new(plugin);
        let label = PathBuf::from(format!("in-process plugin `{}`", plugin.domain()));
        let loaded = in_process::serve(&plugin, || {
            load::read_module(&label, API_VERSION.to_owned(), in_process::module())
                .and_then(|loaded| load::check_manifest(&loaded).map(|()| loaded))
        })
        .map_err(|reason| anyhow!("{}: {reason}", label.display()))?;
        let db = Database::open(database)?;
        let registry = Registry {
            plugins: vec![loaded],
            refused: Vec::new(),
        };
        migrate::apply_pending(&db, &crate::session::all_migrations(&registry.plugins))
            .with_context(|| format!("bringing database {} up to date", database.display()))?;
        Ok(Self {
            plugin,
            registry,
            db,
            data_dir: PathBuf::from("data"),
            today: crate::config::today()?,
            cancel: AtomicBool::new(false),
        })
    }

    /// Today's date as the plugin's runs see it (`ctx.today()`).
    pub fn set_today(&mut self, today: NaiveDate) {
        self.today = today;
    }

    /// Where relative path parameters that do not exist from the working
    /// folder are looked up (the binary's `--data-dir`).
    pub fn set_data_dir(&mut self, data_dir: PathBuf) {
        self.data_dir = data_dir;
    }

    /// Runs `pipeline` with `params` (`name`, `value` as on the command line)
    /// through the dispatcher, and returns the recorded execution. An `Err`
    /// is what `spine-host run` refuses before anything runs (its exit code:
    /// [`crate::error::exit_code_for`]) or a failure of the host itself.
    pub fn run(&self, pipeline: &str, params: &[(&str, &str)]) -> Result<Execution> {
        let dispatcher = Dispatcher::new(&self.registry, &self.db, &self.data_dir, self.today, &self.cancel);
        in_process::serve(&self.plugin, || {
            dispatcher.submit(&Submission::new(pipeline, params), &Progress::silent())
        })
    }

    /// The rows of one read-only statement, as `spine-host query --format
    /// json` prints them: one object per row, keyed by column name.
    pub fn query(&self, sql: &str) -> Result<Vec<serde_json::Value>> {
        let reader = crate::reader::Reader::open(&self.db.path)?;
        let mut json = Vec::new();
        crate::cli::query::run(&reader, sql, crate::cli::query::Format::Json, &mut json)?;
        serde_json::from_slice(&json).context("reading the rows of the query back")
    }
}
