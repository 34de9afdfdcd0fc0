//! Migrations: the host's core set (embedded from `migrations/`) and each
//! plugin's own, tracked per domain in `core_migrations`.
//!
//! The files of the core set, and why an applied one is never edited: see
//! `migrations/README.md`.
//!
//! The recipe: ensure the tracking table; read what is applied; refuse a
//! changed checksum, a database ahead of the code, or a gap in the numbering;
//! apply each pending migration in its own transaction together with its
//! tracking row, so a migration is either wholly applied and recorded or not
//! at all.

use crate::db::Database;
use anyhow::{bail, Context as _, Result};
use rusqlite::{params, Connection, Transaction, TransactionBehavior};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// The domain name of the host's own migrations.
pub(crate) const CORE_DOMAIN: &str = "core";

/// One embedded SQL migration: the host's, or a plugin's. Shown as its
/// file is named: `001_core_executions`.
#[derive(Debug, Clone)]
pub(crate) struct Migration {
    pub(crate) version: u32,
    pub(crate) name: String,
    pub(crate) sql: String,
}

impl Migration {
    /// Its checksum: see [`checksum`].
    pub(crate) fn checksum(&self) -> String {
        checksum(&self.sql)
    }
}

impl fmt::Display for Migration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_label(f, self.version, &self.name)
    }
}

/// A migration's label, as its file is named: the version in three digits,
/// then its name (`001_core_executions`).
fn write_label(f: &mut fmt::Formatter<'_>, version: u32, name: &str) -> fmt::Result {
    write!(f, "{version:03}_{name}")
}

/// The host's own migrations, embedded at compile time.
pub(crate) fn core_migrations() -> Vec<Migration> {
    vec![
        // Its opening comment is out of date (the end of a run is recorded
        // in the run's own transaction); applied migrations never change, so
        // migrations/README.md carries the correction.
        Migration {
            version: 1,
            name: "core_executions".to_owned(),
            sql: include_str!("../../migrations/001_core_executions.sql").to_owned(),
        },
        Migration {
            version: 2,
            name: "core_executions_host_process".to_owned(),
            sql: include_str!("../../migrations/002_core_executions_host_process.sql").to_owned(),
        },
    ]
}

/// One domain's migrations and where they came from (for messages).
pub(crate) struct MigrationSet {
    pub(crate) domain: String,
    pub(crate) source: String,
    pub(crate) migrations: Vec<Migration>,
}

impl MigrationSet {
    /// The host's own set.
    pub(crate) fn core() -> MigrationSet {
        MigrationSet {
            domain: CORE_DOMAIN.to_owned(),
            source: "the spine-host binary".to_owned(),
            migrations: core_migrations(),
        }
    }
}

/// How many migrations each domain has applied; empty when the database has
/// no tracking table yet (it is read, never created).
pub(crate) fn applied_counts(conn: &Connection) -> Result<BTreeMap<String, i64>> {
    if !is_tracked(conn)? {
        return Ok(BTreeMap::new());
    }
    let mut stmt = conn.prepare("SELECT domain, COUNT(*) FROM main.core_migrations GROUP BY domain")?;
    let rows = stmt.query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The domains with migrations applied in the database: the established ones.
pub(crate) fn established_domains(conn: &Connection) -> Result<BTreeSet<String>> {
    Ok(applied_counts(conn)?.into_keys().collect())
}

/// Where one domain stands.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct DomainStatus {
    pub(crate) domain: String,
    pub(crate) applied: Vec<AppliedMigration>,
    pub(crate) pending: Vec<String>,
}

/// A migration recorded in the tracking table; shown as [`Migration`] is.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct AppliedMigration {
    pub(crate) version: u32,
    pub(crate) name: String,
    pub(crate) checksum: String,
    pub(crate) applied_at: String,
}

impl fmt::Display for AppliedMigration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_label(f, self.version, &self.name)
    }
}

/// The checksum of a migration: SHA-256 of its exact SQL text, in lowercase hex.
/// Pinned on purpose: any edit, even whitespace, counts as a change, because an
/// applied migration must be the one that ran.
pub fn checksum(sql: &str) -> String {
    Sha256::digest(sql.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn ensure_tracking_table(conn: &Connection) -> Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS main.core_migrations (
             domain     TEXT NOT NULL,
             version    INTEGER NOT NULL,
             name       TEXT NOT NULL,
             checksum   TEXT NOT NULL,
             applied_at TEXT NOT NULL,
             PRIMARY KEY (domain, version)
         )",
    )
    .context("creating the migrations tracking table core_migrations")
}

fn is_tracked(conn: &Connection) -> Result<bool> {
    Ok(conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM main.sqlite_schema WHERE name = 'core_migrations')",
        [],
        |row| row.get(0),
    )?)
}

/// The migrations of `domain` recorded in the database (none before the
/// tracking table exists).
fn applied(conn: &Connection, domain: &str) -> Result<Vec<AppliedMigration>> {
    if !is_tracked(conn)? {
        return Ok(Vec::new());
    }
    let mut stmt = conn.prepare_cached(
        "SELECT version, name, checksum, applied_at FROM main.core_migrations WHERE domain = ?1 ORDER BY version",
    )?;
    let rows = stmt.query_map([domain], |row| {
        Ok(AppliedMigration {
            version: row.get(0)?,
            name: row.get(1)?,
            checksum: row.get(2)?,
            applied_at: row.get(3)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Migrations must be numbered 1, 2, 3, … in order, with no gap.
pub(crate) fn check_numbering(migrations: &[Migration]) -> Result<(), String> {
    for (index, migration) in migrations.iter().enumerate() {
        let expected = index as u32 + 1;
        if migration.version != expected {
            return Err(format!(
                "migrations are not numbered 1, 2, 3, …: expected version {expected}, found {} ({})",
                migration.version, migration.name
            ));
        }
    }
    Ok(())
}

/// Checks one domain against the database and returns its status, or the
/// reason the database and the code disagree.
fn check(conn: &Connection, set: &MigrationSet) -> Result<DomainStatus> {
    check_numbering(&set.migrations)
        .map_err(|e| anyhow::anyhow!("domain `{}` in {}: {e}", set.domain, set.source))?;
    let applied = applied(conn, &set.domain)?;
    for row in &applied {
        let Some(known) = set.migrations.iter().find(|m| m.version == row.version) else {
            bail!(
                "the database is ahead of domain `{}`: migration {} ({}) is applied, but {} only knows \
                 migrations up to {}; install the newer plugin, or use a database made by this one",
                set.domain,
                row.version,
                row.name,
                set.source,
                set.migrations.len()
            );
        };
        let now = known.checksum();
        if now != row.checksum {
            bail!(
                "migration {} ({}) of domain `{}` changed after it was applied: checksum {} in the \
                 database, {} in {}; restore the original SQL and put the change in a new migration",
                row.version,
                row.name,
                set.domain,
                short(&row.checksum),
                short(&now),
                set.source
            );
        }
    }
    let pending = set
        .migrations
        .iter()
        .filter(|m| !applied.iter().any(|a| a.version == m.version))
        .map(Migration::to_string)
        .collect();
    Ok(DomainStatus {
        domain: set.domain.clone(),
        applied,
        pending,
    })
}

fn short(checksum: &str) -> &str {
    &checksum[..checksum.len().min(12)]
}

/// Where every domain stands, refusing drift as `apply_pending` would; reads
/// the database only.
pub(crate) fn status(conn: &Connection, sets: &[MigrationSet]) -> Result<Vec<DomainStatus>> {
    sets.iter().map(|set| check(conn, set)).collect()
}

/// Applies each plugin's pending migrations on its own: a domain whose
/// migrations cannot apply (refused by the fence, failing SQL, checksum
/// drift, a database ahead of it) is returned with the reason, and the
/// others' are applied all the same.
pub(crate) fn apply_each<'s>(
    db: &Database,
    sets: impl IntoIterator<Item = &'s MigrationSet>,
) -> Vec<(String, String)> {
    sets.into_iter()
        .filter_map(|set| {
            let applied = apply_pending(db, std::slice::from_ref(set));
            applied.err().map(|e| (set.domain.clone(), cannot_apply(&e)))
        })
        .collect()
}

/// The reason a plugin whose migrations cannot apply is refused.
fn cannot_apply(error: &anyhow::Error) -> String {
    format!("cannot apply its migrations: {error:#}")
}

/// Judges each plugin's migrations against the database, without changing
/// it (`database` is a read-only connection, `None` before the database
/// exists): what [`apply_each`] would refuse. Drift and a database ahead
/// are read from the tracking table; pending migrations are tried on a
/// scratch in-memory copy of the database's schema, under the fence.
pub(crate) fn judge(database: Option<&Connection>, sets: &[MigrationSet]) -> Result<Vec<(String, String)>> {
    let mut refusals = Vec::new();
    let mut pending = Vec::new();
    for set in sets {
        let status = match database {
            Some(conn) => check(conn, set),
            None => Ok(DomainStatus {
                domain: set.domain.clone(),
                applied: Vec::new(),
                pending: vec![String::new(); set.migrations.len()],
            }),
        };
        match status {
            Err(e) => refusals.push((set.domain.clone(), cannot_apply(&e))),
            Ok(status) if !status.pending.is_empty() => pending.push(set),
            Ok(_) => {}
        }
    }
    if pending.is_empty() {
        return Ok(refusals);
    }
    let scratch = scratch_database()?;
    match database {
        Some(conn) => copy_schema(conn, &scratch)?,
        None => {
            apply_pending(&scratch, &[MigrationSet::core()])?;
        }
    }
    refusals.extend(apply_each(&scratch, pending));
    Ok(refusals)
}

/// SQLite's own message for a failed statement, without rusqlite's
/// restatement of the SQL and the error code.
fn sqlite_message(error: &rusqlite::Error) -> String {
    match error {
        rusqlite::Error::SqliteFailure(_, Some(message)) => message.clone(),
        rusqlite::Error::SqlInputError { msg, .. } => msg.clone(),
        other => other.to_string(),
    }
}

/// A database in memory, fenced like the real one, for dry runs.
pub(crate) fn scratch_database() -> Result<Database> {
    Database::open(std::path::Path::new(":memory:")).context("opening a scratch database in memory")
}

/// Recreates the schema of `from` in `into`, with its tracking rows but no
/// other data, so that pending migrations meet what they would meet there.
fn copy_schema(from: &Connection, into: &Database) -> Result<()> {
    let mut stmt = from.prepare(
        "SELECT sql FROM main.sqlite_schema WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'
         ORDER BY CASE type WHEN 'table' THEN 0 WHEN 'index' THEN 1 WHEN 'view' THEN 2 ELSE 3 END, rowid",
    )?;
    let statements = stmt
        .query_map([], |row| row.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    for sql in statements {
        // A virtual table's own tables come back as statements of their own,
        // which then exist already: nothing is lost by skipping them.
        if let Err(e) = into.conn.execute_batch(&sql) {
            log::debug!("scratch copy of the schema skipped `{sql}`: {e}");
        }
    }
    if is_tracked(from)? {
        ensure_tracking_table(&into.conn)?;
        let mut rows =
            from.prepare("SELECT domain, version, name, checksum, applied_at FROM main.core_migrations")?;
        let mut insert = into.conn.prepare(
            "INSERT OR REPLACE INTO main.core_migrations (domain, version, name, checksum, applied_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        let mut cursor = rows.query([])?;
        while let Some(row) = cursor.next()? {
            insert.execute(params![
                row.get::<_, String>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, String>(4)?
            ])?;
        }
    }
    Ok(())
}

/// Applies every pending migration; returns the ones applied (`domain/NNN_name`).
pub(crate) fn apply_pending(db: &Database, sets: &[MigrationSet]) -> Result<Vec<String>> {
    ensure_tracking_table(&db.conn)?;
    let mut done = Vec::new();
    for set in sets {
        let status = check(&db.conn, set)?;
        let pending = set
            .migrations
            .iter()
            .filter(|m| !status.applied.iter().any(|a| a.version == m.version));
        for migration in pending {
            let label = format!("{}/{migration}", set.domain);
            if apply_one(db, &set.domain, migration).with_context(|| format!("applying migration {label}"))? {
                done.push(label);
            }
        }
    }
    Ok(done)
}

/// Applies one migration with its tracking row in one transaction; false if
/// it was already applied (perhaps by another process a moment ago).
fn apply_one(db: &Database, domain: &str, migration: &Migration) -> Result<bool> {
    let tx = Transaction::new_unchecked(&db.conn, TransactionBehavior::Immediate)?;
    let already: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM main.core_migrations WHERE domain = ?1 AND version = ?2)",
        params![domain, migration.version],
        |row| row.get(0),
    )?;
    if already {
        return Ok(false);
    }
    // A plugin's migrations are plugin SQL, fenced like its pipelines.
    let fenced = (domain != CORE_DOMAIN)
        .then(|| db.fence_plugin_sql(domain))
        .transpose()?;
    let applied = db.execute_plugin_batch(&migration.sql);
    let escaped = match (&fenced, &applied) {
        (Some(fenced), Ok(())) => fenced.schema_escape(&db.conn)?,
        _ => None,
    };
    drop(fenced);
    if let Some(reason) = escaped {
        return Err(anyhow::anyhow!(reason));
    }
    if let Err(error) = applied {
        // The fence's reason says it all; SQLite's "not authorized" adds nothing.
        return Err(anyhow::anyhow!(match db.take_fence_refusal() {
            Some(reason) => reason,
            None => sqlite_message(&error),
        }));
    }
    db.drop_temporary_objects()?;
    tx.execute(
        "INSERT INTO main.core_migrations (domain, version, name, checksum, applied_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![domain, migration.version, migration.name, migration.checksum(), crate::executions::now()],
    )?;
    tx.commit()?;
    // On a scratch database (a dry run of `list`, `plugins`, `db status`)
    // nothing was applied for the user to know of.
    let level = if db.path == std::path::Path::new(":memory:") {
        log::Level::Debug
    } else {
        log::Level::Info
    };
    log::log!(level, "applied migration {domain}/{migration}");
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acme(sql: &str) -> MigrationSet {
        MigrationSet {
            domain: "acme".to_owned(),
            source: "libacme.so".to_owned(),
            migrations: vec![Migration {
                version: 1,
                name: "acme_tables".to_owned(),
                sql: sql.to_owned(),
            }],
        }
    }

    #[test]
    fn a_migration_is_shown_as_its_file_is_named() {
        let migration = |version| Migration {
            version,
            name: "acme_tables".to_owned(),
            sql: String::new(),
        };
        assert_eq!(migration(1).to_string(), "001_acme_tables");
        assert_eq!(migration(12).to_string(), "012_acme_tables");
        assert_eq!(migration(1234).to_string(), "1234_acme_tables");
    }

    #[test]
    fn a_plugin_migration_may_create_only_its_own_domains_objects() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(&dir.path().join("spine.db")).unwrap();
        let core = MigrationSet {
            domain: CORE_DOMAIN.to_owned(),
            source: "spine-host".to_owned(),
            migrations: core_migrations(),
        };
        apply_pending(&db, &[core]).unwrap();

        for sql in [
            "CREATE TABLE acme_quotes (id INTEGER PRIMARY KEY); DROP TABLE core_executions;",
            "CREATE TABLE other_quotes (id INTEGER)",
            "CREATE TABLE acme_quotes (id INTEGER); CREATE INDEX acme_by_status ON core_executions (status);",
        ] {
            let error = apply_pending(&db, &[acme(sql)]).unwrap_err();
            let message = format!("{error:#}");
            assert!(
                message.starts_with(
                    "applying migration acme/001_acme_tables: plugin SQL of domain `acme` \
                                     may change only its own tables"
                ),
                "{sql}: {message}"
            );
        }
        let objects: i64 = db
            .conn
            .query_row(
                "SELECT COUNT(*) FROM sqlite_schema WHERE name LIKE 'acme%' OR name = 'other_quotes'",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(objects, 0, "a refused migration leaves nothing behind");

        let own = "CREATE TABLE acme_quotes (id INTEGER PRIMARY KEY AUTOINCREMENT, day TEXT);
                   CREATE INDEX acme_quotes_by_day ON acme_quotes (day);
                   CREATE VIEW acme_days AS SELECT DISTINCT day FROM acme_quotes JOIN core_executions;";
        assert_eq!(
            apply_pending(&db, &[acme(own)]).unwrap(),
            ["acme/001_acme_tables"]
        );
    }
}
