//! A session: the plugins and the database opened from one [`Config`], with
//! every pending migration applied and orphaned executions marked failed.

use crate::config::Config;
use crate::db::Database;
use crate::dispatcher::Dispatcher;
use crate::executions;
use crate::migrate::{self, MigrationSet};
use crate::registry::Registry;
use anyhow::{Context as _, Result};
use std::sync::atomic::AtomicBool;

/// Loaded plugins plus an up-to-date database.
pub struct Session {
    pub config: Config,
    pub registry: Registry,
    pub db: Database,
}

impl Session {
    /// Loads plugins, opens the database, applies pending migrations (so a
    /// plugin dropped in since the last start works at once) and marks runs
    /// left `running` by a dead process as failed.
    pub fn open(config: Config) -> Result<Self> {
        let registry = load_registry(&config)?;
        let db = Database::open(&config.database_path)?;
        migrate::apply_pending(&db, &MigrationSet::all(&registry.plugins))
            .with_context(|| format!("bringing database {} up to date", config.database_path.display()))?;
        let orphans = executions::fail_orphans(&db.conn)?;
        if orphans > 0 {
            log::warn!("marked {orphans} execution(s) failed: their process ended while they were running");
        }
        Ok(Self { config, registry, db })
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

/// The plugins of `config.plugins_dir`, with context on failure.
pub fn load_registry(config: &Config) -> Result<Registry> {
    Registry::load(&config.plugins_dir)
        .with_context(|| format!("loading plugins from {}", config.plugins_dir.display()))
}
