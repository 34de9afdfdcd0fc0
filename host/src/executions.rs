//! The `core_executions` table: one row per submitted run, its lifecycle,
//! and reading the history back.

use crate::process;
use anyhow::{Context as _, Result};
use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::Serialize;

/// Which queue a run belongs to (recorded; the host runs one at a time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Lane {
    Normal,
    Backfill,
    Slow,
}

/// What started a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum TriggerSource {
    Cli,
    Api,
    Scheduler,
    Retry,
    Manual,
}

impl Lane {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Lane::Normal => "normal",
            Lane::Backfill => "backfill",
            Lane::Slow => "slow",
        }
    }
}

impl TriggerSource {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            TriggerSource::Cli => "cli",
            TriggerSource::Api => "api",
            TriggerSource::Scheduler => "scheduler",
            TriggerSource::Retry => "retry",
            TriggerSource::Manual => "manual",
        }
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pending,
    Running,
    Completed,
    Failed,
    Cancelled,
}

impl Status {
    /// Every status, in the order a run goes through them.
    pub(crate) const ALL: [Status; 5] = [
        Status::Pending,
        Status::Running,
        Status::Completed,
        Status::Failed,
        Status::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Running => "running",
            Status::Completed => "completed",
            Status::Failed => "failed",
            Status::Cancelled => "cancelled",
        }
    }

    fn parse(text: &str) -> rusqlite::Result<Self> {
        Ok(match text {
            "pending" => Status::Pending,
            "running" => Status::Running,
            "completed" => Status::Completed,
            "failed" => Status::Failed,
            "cancelled" => Status::Cancelled,
            other => {
                return Err(rusqlite::Error::InvalidColumnType(
                    0,
                    other.to_owned(),
                    rusqlite::types::Type::Text,
                ))
            }
        })
    }
}

/// One execution row, as stored. This is also the `--json` shape of `run`.
#[derive(Debug, Clone, Serialize)]
pub struct Execution {
    pub id: String,
    pub pipeline: String,
    pub params: serde_json::Value,
    pub lane: String,
    pub trigger_source: String,
    pub logical_key: Option<String>,
    pub status: Status,
    pub created_at: String,
    pub started_at: Option<String>,
    pub completed_at: Option<String>,
    pub duration_ms: Option<i64>,
    pub metrics: Option<serde_json::Value>,
    pub error: Option<String>,
    pub plugin_domain: String,
    pub plugin_version: String,
    pub host_pid: i64,
    /// The recording process beyond its pid (see `process.rs`).
    #[serde(skip)]
    pub host_process: Option<String>,
}

/// The current time as RFC 3339 UTC with milliseconds.
pub(crate) fn now() -> String {
    timestamp(chrono::Utc::now())
}

/// `time` as the executions table stores it (UTC, milliseconds).
pub(crate) fn timestamp(time: chrono::DateTime<chrono::Utc>) -> String {
    time.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// A new time-ordered unique execution id (UUIDv7).
pub(crate) fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

const COLUMNS: &str =
    "id, pipeline, params, lane, trigger_source, logical_key, status, created_at, started_at, \
                       completed_at, duration_ms, metrics, error, plugin_domain, plugin_version, host_pid, host_process";

fn from_row(row: &Row<'_>) -> rusqlite::Result<Execution> {
    let json = |index: usize| -> rusqlite::Result<Option<serde_json::Value>> {
        let text: Option<String> = row.get(index)?;
        Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
    };
    Ok(Execution {
        id: row.get(0)?,
        pipeline: row.get(1)?,
        params: json(2)?.unwrap_or(serde_json::Value::Null),
        lane: row.get(3)?,
        trigger_source: row.get(4)?,
        logical_key: row.get(5)?,
        status: Status::parse(&row.get::<_, String>(6)?)?,
        created_at: row.get(7)?,
        started_at: row.get(8)?,
        completed_at: row.get(9)?,
        duration_ms: row.get(10)?,
        metrics: json(11)?,
        error: row.get(12)?,
        plugin_domain: row.get(13)?,
        plugin_version: row.get(14)?,
        host_pid: row.get(15)?,
        host_process: row.get(16)?,
    })
}

/// Writes a new execution in `running` state.
pub(crate) fn insert_running(conn: &Connection, execution: &Execution) -> Result<()> {
    conn.execute(
        &format!("INSERT INTO main.core_executions ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)"),
        params![
            execution.id,
            execution.pipeline,
            execution.params.to_string(),
            execution.lane,
            execution.trigger_source,
            execution.logical_key,
            execution.status.as_str(),
            execution.created_at,
            execution.started_at,
            execution.completed_at,
            execution.duration_ms,
            execution.metrics.as_ref().map(|m| m.to_string()),
            execution.error,
            execution.plugin_domain,
            execution.plugin_version,
            execution.host_pid,
            execution.host_process,
        ],
    )
    .with_context(|| format!("recording execution {} of {}", execution.id, execution.pipeline))?;
    Ok(())
}

/// Records how an execution ended.
pub(crate) fn finish(conn: &Connection, execution: &Execution) -> Result<()> {
    conn.execute(
        "UPDATE main.core_executions SET status = ?2, completed_at = ?3, duration_ms = ?4, metrics = ?5, error = ?6
         WHERE id = ?1",
        params![
            execution.id,
            execution.status.as_str(),
            execution.completed_at,
            execution.duration_ms,
            execution.metrics.as_ref().map(|m| m.to_string()),
            execution.error,
        ],
    )
    .with_context(|| format!("recording the end of execution {}", execution.id))?;
    Ok(())
}

/// The running execution holding `logical_key`, if any.
pub(crate) fn running_with_key(conn: &Connection, logical_key: &str) -> Result<Option<Execution>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM main.core_executions WHERE status = 'running' AND logical_key = ?1 LIMIT 1"
    );
    Ok(conn.query_row(&sql, [logical_key], from_row).optional()?)
}

/// Marks as failed every `running` execution whose process is gone (killed,
/// crashed, machine restarted). Returns how many rows were marked.
pub(crate) fn fail_orphans(conn: &Connection) -> Result<usize> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, host_pid, host_process FROM main.core_executions WHERE status = 'running'",
    )?;
    let running: Vec<(String, i64, Option<String>)> = stmt
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut marked = 0;
    for (id, pid, identity) in running {
        if process::is_alive(pid, identity.as_deref()) {
            continue;
        }
        marked += conn.execute(
            "UPDATE main.core_executions SET status = 'failed', completed_at = ?2,
                 error = ?3 WHERE id = ?1 AND status = 'running'",
            params![id, now(), format!("process {pid} ended while the execution was running (killed or crashed); its writes were rolled back")],
        )?;
    }
    Ok(marked)
}

/// Filters for listing executions.
#[derive(Debug, Clone, Default)]
pub(crate) struct Filter {
    pub(crate) pipeline: Option<String>,
    pub(crate) status: Option<String>,
    pub(crate) since: Option<String>,
    pub(crate) limit: u32,
}

/// Executions matching `filter`, newest first.
pub(crate) fn list(conn: &Connection, filter: &Filter) -> Result<Vec<Execution>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM main.core_executions
         WHERE (?1 IS NULL OR pipeline = ?1) AND (?2 IS NULL OR status = ?2) AND (?3 IS NULL OR created_at >= ?3)
         ORDER BY id DESC LIMIT ?4"
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(
        params![filter.pipeline, filter.status, filter.since, filter.limit],
        from_row,
    )?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The one execution whose id starts with `prefix`.
pub(crate) fn find(conn: &Connection, prefix: &str) -> Result<Execution> {
    let sql = format!(
        "SELECT {COLUMNS} FROM main.core_executions WHERE id LIKE ?1 || '%' ESCAPE '\\' ORDER BY id LIMIT 2"
    );
    let escaped = prefix
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    let mut stmt = conn.prepare(&sql)?;
    let found: Vec<Execution> = stmt
        .query_map([escaped], from_row)?
        .collect::<rusqlite::Result<_>>()?;
    match found.len() {
        0 => Err(crate::error::usage(format!(
            "no execution id starts with `{prefix}`"
        ))),
        1 => Ok(found.into_iter().next().expect("one row")),
        _ => Err(crate::error::usage(format!(
            "more than one execution id starts with `{prefix}`; give more characters"
        ))),
    }
}
