//! Settings: defaults < `.env` < `SPINE_*` environment < command-line flags.
//!
//! clap reads the flags and the environment; `.env` (in the working folder) is
//! loaded into the environment first without overriding what is already set,
//! which gives the order above.

use std::path::PathBuf;

/// Where things are, resolved from every source.
#[derive(Debug, Clone)]
pub struct Config {
    pub database_path: PathBuf,
    pub plugins_dir: PathBuf,
    pub data_dir: PathBuf,
    pub log_level: log::LevelFilter,
}

/// Loads `.env` from the working folder, if there is one.
pub fn load_dotenv() -> anyhow::Result<()> {
    match dotenvy::from_path(".env") {
        Ok(()) => Ok(()),
        Err(error) if error.not_found() => Ok(()),
        Err(error) => Err(anyhow::anyhow!("reading .env: {error}")),
    }
}
