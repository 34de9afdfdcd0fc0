//! A session: the plugins and the database opened from one [`Config`], with
//! every pending migration applied and orphaned executions marked failed;
//! and the read-only view of them that listing commands use.

use crate::config::Config;
use crate::db::Database;
use crate::dispatcher::Dispatcher;
use crate::error::usage;
use crate::executions;
use crate::load::LoadedPlugin;
use crate::migrate::{self, MigrationSet};
use crate::registry::Registry;
use anyhow::{Context as _, Result};
use rusqlite::{Connection, OpenFlags};
use std::path::Path;
use std::sync::atomic::AtomicBool;

/// Loaded plugins plus an up-to-date database.
pub struct Session {
    pub config: Config,
    pub registry: Registry,
    pub db: Database,
}

impl Session {
    /// Opens the database, applies the host's pending migrations, loads
    /// plugins, applies theirs (so a plugin dropped in since the last start
    /// works at once; a plugin whose migrations cannot apply is refused) and
    /// marks runs left `running` by a dead process as failed.
    pub fn open(config: Config) -> Result<Self> {
        Self::open_with(config, None)
    }

    /// Like [`Session::open`], with the plugins already loaded by
    /// [`load_registry`] (`run` loads them first to check a request before
    /// it creates a database; loading them twice would report every refused
    /// file twice).
    pub fn open_with_registry(config: Config, registry: Registry) -> Result<Self> {
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

    /// Like [`Session::open`], for a database that must already exist
    /// (see [`require_database`]).
    pub fn open_existing(config: Config) -> Result<Self> {
        require_database(&config.database_path)?;
        Self::open(config)
    }

    /// A dispatcher over this session.
    pub fn dispatcher<'s>(&'s self, cancel: &'s AtomicBool) -> Dispatcher<'s> {
        Dispatcher {
            registry: &self.registry,
            db: &self.db,
            data_dir: &self.config.data_dir,
            today: self.config.today,
            cancel,
        }
    }
}

/// The plugins of `config.plugins_dir`, judged against the database as it
/// is, without creating or changing it: a plugin whose migrations a
/// [`Session`] could not apply is refused here too.
pub fn load_registry(config: &Config) -> Result<Registry> {
    let database = read_database(&config.database_path)?;
    let established = match &database {
        Some(conn) => migrate::established_domains(conn)?,
        None => Default::default(),
    };
    let mut registry = Registry::load(&config.plugins_dir, &established)
        .with_context(|| format!("loading plugins from {}", config.plugins_dir.display()))?;
    let refused = migrate::judge(database.as_ref(), &plugin_migrations(&registry.plugins))
        .with_context(|| format!("checking migrations against {}", config.database_path.display()))?;
    registry.refuse_domains(refused);
    Ok(registry)
}

/// Each plugin's migrations, as one set per domain.
pub fn plugin_migrations(plugins: &[LoadedPlugin]) -> Vec<MigrationSet> {
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
pub fn all_migrations(plugins: &[LoadedPlugin]) -> Vec<MigrationSet> {
    std::iter::once(MigrationSet::core())
        .chain(plugin_migrations(plugins))
        .collect()
}

/// Refuses a database path where there is no database. Only `db init` and
/// `run` create one: a typo in `--db` must not leave an empty database
/// behind a command that reports nothing.
pub fn require_database(path: &Path) -> Result<()> {
    crate::db::refuse_a_folder(path)?;
    if path.exists() {
        return Ok(());
    }
    Err(usage(format!(
        "no database at {}: check --db or SPINE_DATABASE_PATH (`spine-host db init` creates one there)",
        path.display()
    )))
}

/// Refuses a plugins folder that does not exist, for the commands that need
/// plugins (exit 3): without it they would only say there is no pipeline.
pub fn require_plugins_folder(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    Err(anyhow::anyhow!(
        "plugins folder {} does not exist: install the plugins there with `scripts/install-plugins.sh {}`, \
         or point --plugins-dir (SPINE_PLUGINS_DIR) at the folder that holds them",
        dir.display(),
        dir.display()
    ))
}

/// A read-only connection to the database at `path`, or `None` when there
/// is no database there yet.
pub fn read_database(path: &Path) -> Result<Option<Connection>> {
    if !path.exists() {
        return Ok(None);
    }
    open_read_only(path).map(Some)
}

/// Opens `path` read-only; the database must exist.
pub fn open_read_only(path: &Path) -> Result<Connection> {
    require_database(path)?;
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_context(|| format!("opening database {} read-only", path.display()))?;
    conn.busy_timeout(crate::db::BUSY_TIMEOUT)?;
    Ok(conn)
}
