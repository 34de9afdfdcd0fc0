//! Settings: defaults < `.env` < `SPINE_*` environment < command-line flags.
//!
//! clap reads the flags and the environment; `.env` (in the working folder) is
//! loaded into the environment first without overriding what is already set,
//! which gives the order above. `SPINE_TODAY` has no flag: it only pins
//! today's date for tests.

use chrono::NaiveDate;
use std::path::PathBuf;

/// Where things are, resolved from every source.
#[derive(Debug, Clone)]
pub struct Config {
    pub database_path: PathBuf,
    pub plugins_dir: PathBuf,
    pub data_dir: PathBuf,
    pub log_level: log::LevelFilter,
    /// Today's date as plugins see it (`execution.info`'s `today`).
    pub today: NaiveDate,
}

/// Loads `.env` from the working folder, if there is one.
pub(crate) fn load_dotenv() -> anyhow::Result<()> {
    match dotenvy::from_path(".env") {
        Ok(()) => Ok(()),
        Err(error) if error.not_found() => Ok(()),
        Err(error) => Err(anyhow::anyhow!("reading .env: {error}")),
    }
}

/// Today's date: `SPINE_TODAY` (`YYYY-MM-DD`) when it is set, else the UTC
/// date. Plugins take it rather than reading the clock, so that a rule that
/// depends on the date (otc refuses a `lastUpdateDate` more than a year
/// ahead) gives the same answer in tests on every day.
pub(crate) fn today() -> anyhow::Result<NaiveDate> {
    match std::env::var_os("SPINE_TODAY") {
        None => Ok(utc_today()),
        Some(value) => {
            let text = value.to_string_lossy();
            // Strict: chrono's `%Y-%m-%d` alone would also take `2026-1-5`.
            NaiveDate::parse_from_str(&text, "%Y-%m-%d")
                .ok()
                .filter(|date| date.format("%Y-%m-%d").to_string() == text)
                .ok_or_else(|| anyhow::anyhow!("SPINE_TODAY: expected a date YYYY-MM-DD, found {text:?}"))
        }
    }
}

/// The date of today in UTC, from the clock.
pub fn utc_today() -> NaiveDate {
    chrono::Utc::now().date_naive()
}
