//! The one way in for the command line (and the tests): a [`Session`] holds
//! the plugins and the database opened from one [`Config`], with every
//! pending migration applied and orphaned executions marked failed, and runs
//! pipelines through its dispatcher; the free functions below read the
//! plugins and the database for the listing commands without creating or
//! changing anything.
//!
//! Only this module (and [`crate::testing`]) puts loading, migrations and
//! storage together, so that any of them can change without the CLI.

use crate::config::Config;
use crate::db::Database;
use crate::dispatcher::{self, Dispatcher, Submission};
use crate::executions::{self, Execution, Filter};
use crate::load::{self, LoadedPlugin};
use crate::lock_wait::Interrupt;
use crate::migrate::{self, DomainStatus, MigrationSet};
use crate::reader::Reader;
use crate::registry::Registry;
use anyhow::{anyhow, Context as _, Result};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// Loaded plugins plus an up-to-date database.
pub struct Session {
    config: Config,
    registry: Registry,
    db: Database,
}

impl Session {
    /// Opens the database, applies the host's pending migrations, loads
    /// plugins, applies theirs (so a plugin dropped in since the last start
    /// works at once; a plugin whose migrations cannot apply is refused) and
    /// marks runs left `running` by a dead process as failed.
    pub fn open(config: Config) -> Result<Self> {
        Self::open_with(config, None)
    }

    /// Like [`Session::open`], for a database that must already exist
    /// (see [`crate::db::require_database`]).
    pub(crate) fn open_existing(config: Config) -> Result<Self> {
        crate::db::require_database(&config.database_path)?;
        Self::open(config)
    }

    /// Like [`Session::open`], to run `submission`: a database that does not
    /// exist yet is created only for a request that passes every check made
    /// before a run (the plugins are loaded first, and once).
    pub(crate) fn open_to_run(config: Config, submission: &Submission) -> Result<Self> {
        if config.database_path.exists() {
            return Self::open(config);
        }
        let registry = load_registry(&config)?;
        dispatcher::check(&registry, submission, &config.data_dir, &config.database_path)?;
        Self::open_with(config, Some(registry))
    }

    fn open_with(config: Config, loaded: Option<Registry>) -> Result<Self> {
        let db = Database::open(&config.database_path)?;
        let up_to_date = |sets: &[MigrationSet]| {
            migrate::apply_pending(&db, sets)
                .with_context(|| format!("bringing database {} up to date", config.database_path.display()))
        };
        up_to_date(&[MigrationSet::core()])?;
        let mut registry = match loaded {
            Some(registry) => registry,
            None => {
                let established = migrate::established_domains(&db.conn)?;
                Registry::load(&config.plugins_dir, &established)
                    .with_context(|| format!("loading plugins from {}", config.plugins_dir.display()))?
            }
        };
        // One plugin whose migrations cannot apply is refused like a bad
        // file; every other domain keeps working.
        let refused = migrate::apply_each(&db, &plugin_migrations(&registry.plugins));
        registry.refuse_domains(refused);
        let orphans = executions::fail_orphans(&db.conn)?;
        if orphans > 0 {
            log::warn!("marked {orphans} execution(s) failed: their process ended while they were running");
        }
        Ok(Self { config, registry, db })
    }

    /// The settings the session was opened with.
    pub(crate) fn config(&self) -> &Config {
        &self.config
    }

    /// The plugins loaded, and the files refused.
    pub(crate) fn registry(&self) -> &Registry {
        &self.registry
    }

    /// A dispatcher over this session.
    pub fn dispatcher<'s>(&'s self, cancel: &'s AtomicBool) -> Dispatcher<'s> {
        Dispatcher::new(
            &self.registry,
            &self.db,
            &self.config.data_dir,
            self.config.today,
            cancel,
        )
    }

    /// Lets Ctrl-C stop a run: see [`Database::stop_waiting_on`].
    pub(crate) fn stop_waiting_on(
        &mut self,
        cancel: Arc<AtomicBool>,
        on_long_wait: fn(),
    ) -> Result<Interrupt> {
        self.db.stop_waiting_on(cancel, on_long_wait)
    }

    /// How many migrations the host and the loaded plugins have, and across
    /// how many domains.
    pub(crate) fn migration_count(&self) -> (usize, usize) {
        let sets = all_migrations(&self.registry.plugins);
        (sets.iter().map(|s| s.migrations.len()).sum(), sets.len())
    }

    /// Past executions, newest first.
    pub(crate) fn executions(&self, filter: &Filter) -> Result<Vec<Execution>> {
        executions::list(&self.db.conn, filter)
    }

    /// One execution whole, by id or unique id prefix.
    pub(crate) fn execution(&self, id: &str) -> Result<Execution> {
        executions::find(&self.db.conn, id)
    }

    /// The names of the temporary tables, views and triggers on the
    /// session's connection: none once a run has ended.
    pub fn temporary_objects(&self) -> Result<Vec<String>> {
        let objects = self.db.temporary_objects()?;
        Ok(objects.into_iter().map(|(_, name)| name).collect())
    }

    /// A read-only connection to the session's database.
    pub(crate) fn reader(&self) -> Result<Reader> {
        Reader::open(&self.config.database_path)
    }
}

/// The plugins of `config.plugins_dir`, judged against the database as it
/// is, without creating or changing it: a plugin whose migrations a
/// [`Session`] could not apply is refused here too.
pub(crate) fn load_registry(config: &Config) -> Result<Registry> {
    let database = Reader::open_if_exists(&config.database_path)?;
    let established = match &database {
        Some(reader) => migrate::established_domains(&reader.conn)?,
        None => Default::default(),
    };
    let mut registry = Registry::load(&config.plugins_dir, &established)
        .with_context(|| format!("loading plugins from {}", config.plugins_dir.display()))?;
    let database = database.as_ref().map(|reader| &reader.conn);
    let refused = migrate::judge(database, &plugin_migrations(&registry.plugins))
        .with_context(|| format!("checking migrations against {}", config.database_path.display()))?;
    registry.refuse_domains(refused);
    Ok(registry)
}

/// Where every domain of `registry` (and the host's own) stands in the
/// database, read only: a database that does not exist yet has every
/// migration pending.
pub(crate) fn migration_status(config: &Config, registry: &Registry) -> Result<Vec<DomainStatus>> {
    let sets = all_migrations(&registry.plugins);
    match Reader::open_if_exists(&config.database_path)? {
        Some(reader) => migrate::status(&reader.conn, &sets),
        None => migrate::status(&migrate::scratch_database()?.conn, &sets),
    }
}

/// How many migrations each domain has applied in the database (none when
/// there is no database yet).
pub(crate) fn applied_migrations(config: &Config) -> Result<BTreeMap<String, i64>> {
    match Reader::open_if_exists(&config.database_path)? {
        Some(reader) => migrate::applied_counts(&reader.conn),
        None => Ok(BTreeMap::new()),
    }
}

/// Runs every load check on one plugin file and loads it; the error names
/// the file and the reason.
pub(crate) fn load_plugin_file(file: &Path) -> Result<LoadedPlugin> {
    load::load_plugin(file).map_err(|reason| anyhow!("{}: {reason}", file.display()))
}

/// Applies `plugin`'s migrations to a scratch database in memory that holds
/// the host's tables and the loaded plugins' (a migration may read another
/// domain's table), under the fence; the reason they cannot apply, if so.
pub(crate) fn dry_run_migrations(config: &Config, plugin: &LoadedPlugin) -> Result<Option<String>> {
    let mut others = match Registry::load(&config.plugins_dir, &Default::default()) {
        Ok(registry) => registry.plugins,
        Err(e) => {
            log::warn!("the dry run of the migrations sees no other plugin: {e:#}");
            Vec::new()
        }
    };
    others.retain(|other| other.domain != plugin.domain);
    let scratch = migrate::scratch_database()?;
    migrate::apply_pending(&scratch, &[MigrationSet::core()])?;
    migrate::apply_each(&scratch, &plugin_migrations(&others));
    Ok(
        migrate::apply_each(&scratch, &plugin_migrations(std::slice::from_ref(plugin)))
            .pop()
            .map(|(_, reason)| reason),
    )
}

/// Each plugin's migrations, as one set per domain.
pub(crate) fn plugin_migrations(plugins: &[LoadedPlugin]) -> Vec<MigrationSet> {
    plugins
        .iter()
        .map(|plugin| MigrationSet {
            domain: plugin.domain.clone(),
            source: plugin.path.display().to_string(),
            migrations: plugin.migrations.clone(),
        })
        .collect()
}

/// The host's own migrations followed by every plugin's.
pub(crate) fn all_migrations(plugins: &[LoadedPlugin]) -> Vec<MigrationSet> {
    std::iter::once(MigrationSet::core())
        .chain(plugin_migrations(plugins))
        .collect()
}

/// Refuses a plugins folder that does not exist, for the commands that need
/// plugins (exit 3): without it they would only say there is no pipeline.
pub(crate) fn require_plugins_folder(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    Err(anyhow!(
        "plugins folder {} does not exist: install the plugins there with `scripts/install-plugins.sh {}`, \
         or point --plugins-dir (SPINE_PLUGINS_DIR) at the folder that holds them",
        dir.display(),
        dir.display()
    ))
}
