//! Creating a pipeline through its plugin's factory, and running it inside
//! one transaction: commit on success, roll back on error, panic (which the
//! plugin's SDK turns into an error) or Ctrl-C.
//!
//! The transaction begins at the pipeline's first database call (see
//! [`crate::transaction`]), or at the end of a run that never made one, so a
//! pipeline that downloads before it writes holds no write lock while it
//! waits on the network. From that moment to the commit nothing changes: the
//! writes, the temporary objects' cleanup and the run's record are one
//! transaction.

use crate::db::Database;
use crate::executions::Status;
use crate::load::LoadedPlugin;
use crate::progress::Progress;
use crate::services::RunServices;
use crate::transaction::{rollback, RunTransaction};
use anyhow::{Context as _, Result};
use chrono::NaiveDate;
use spine_plugin_api::host::PluginPipeline;
use spine_plugin_api::Error as PluginError;
use std::sync::atomic::{AtomicBool, Ordering};

/// How a run ended (its timestamps and duration are kept on the [`Execution`](crate::executions::Execution)).
#[derive(Debug, Clone)]
pub(crate) struct PipelineResult {
    pub status: Status,
    pub metrics: Option<serde_json::Value>,
    pub error: Option<String>,
}

/// Everything one run needs besides the pipeline itself.
pub(crate) struct RunRequest<'r> {
    pub plugin: &'r LoadedPlugin,
    /// The pipeline's name.
    pub pipeline: &'r str,
    pub params: &'r serde_json::Map<String, serde_json::Value>,
    pub execution_id: &'r str,
    /// Today's date as the plugin sees it.
    pub today: NaiveDate,
    /// The data folder (`--data-dir`), where plugins keep files they download.
    pub data_dir: &'r std::path::Path,
    pub progress: &'r Progress,
    pub cancel: &'r AtomicBool,
}

/// Asks the plugin's factory for pipeline `name`, with parameters already
/// checked against its spec. The factory checks what a spec cannot say (a
/// date that must be a Friday, a file that must exist); nothing runs yet.
pub(crate) fn create(
    plugin: &LoadedPlugin,
    name: &str,
    params: &serde_json::Map<String, serde_json::Value>,
) -> Result<PluginPipeline, PluginError> {
    let params_json = serde_json::Value::Object(params.clone()).to_string();
    plugin.module.create_pipeline(name, &params_json)
}

/// True when a factory's error refuses the parameters' values: its code is
/// `<domain>.params` or starts with `<domain>.params.` (for example
/// `otc.params.week_ending_not_friday`). Such a request is bad usage, like a
/// value of the wrong kind: exit code 2, and nothing is recorded. Any other
/// factory error (`otc.ingest.not_found`, the SDK's `sdk.params.*`, which
/// mean the plugin's code and spec disagree) is a failed run.
pub(crate) fn refuses_params(domain: &str, error: &PluginError) -> bool {
    error
        .code
        .as_str()
        .strip_prefix(domain)
        .and_then(|rest| rest.strip_prefix(".params"))
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
}

/// The outcome of a run whose pipeline the factory would not create.
pub(crate) fn not_created(error: &PluginError) -> PipelineResult {
    failed(error.to_string())
}

/// Runs `pipeline` in one transaction and records how it ended through
/// `record_end`, without letting go of the write lock in between: a completed
/// run's writes and its record commit together, and a failed or cancelled
/// run's record is written as its writes are undone. So no other process's
/// run can come between a run and its record, and a crash never leaves a run
/// whose writes are kept recorded as anything but completed.
///
/// An `Err` means the host itself could not run the pipeline or record its
/// end (for example, the database stayed locked); nothing it wrote is kept.
pub(crate) fn run(
    db: &Database,
    request: &RunRequest<'_>,
    mut pipeline: PluginPipeline,
    record_end: &mut dyn FnMut(&PipelineResult) -> Result<()>,
) -> Result<PipelineResult> {
    let mut services = RunServices {
        db,
        progress: request.progress,
        cancel: request.cancel,
        execution_info: serde_json::json!({
            "execution_id": request.execution_id,
            "pipeline": request.pipeline,
            "params": request.params,
            "today": request.today.format("%Y-%m-%d").to_string(),
            "data_dir": request.data_dir.display().to_string(),
        }),
        domain: &request.plugin.domain,
        transaction: RunTransaction::NotBegun,
    };
    let result = pipeline.run(&mut services);
    let escaped = match std::mem::replace(&mut services.transaction, RunTransaction::NotBegun) {
        RunTransaction::Open(fenced) => fenced
            .schema_escape(&db.conn)
            .unwrap_or_else(|e| Some(format!("reading the schema after the run failed: {e}"))),
        RunTransaction::NotBegun | RunTransaction::Refused => {
            // The pipeline wrote nothing; its end is recorded in a
            // transaction of its own, which may wait for another process.
            let _waiting = db.record_through_cancel();
            if let Err(e) = db.conn.execute_batch("BEGIN IMMEDIATE; SAVEPOINT run") {
                rollback(db)?;
                return Err(e).context("starting the transaction that records the run's end");
            }
            None
        }
    };
    request.progress.finish();

    let cancelled = request.cancel.load(Ordering::SeqCst);
    let outcome = match result {
        Ok(_) | Err(_) if cancelled => cancelled_outcome(),
        Ok(_) if escaped.is_some() => failed(escaped.unwrap_or_default()),
        Ok(metrics) => PipelineResult {
            status: Status::Completed,
            metrics: Some(serde_json::from_str(&metrics).unwrap_or(serde_json::Value::String(metrics))),
            error: None,
        },
        Err(error) => failed(error.to_string()),
    };
    if outcome.status == Status::Completed {
        match record_and_commit(db, "RELEASE run", &outcome, record_end) {
            Ok(()) => return Ok(outcome),
            Err(e) => {
                rollback(db)?;
                let outcome = failed(format!("committing the run's transaction failed: {e:#}"));
                record_end(&outcome)?;
                return Ok(outcome);
            }
        }
    }
    if db.conn.is_autocommit() {
        // SQLite already rolled the transaction back (an interrupted or failed
        // statement can): the end is recorded on its own.
        record_end(&outcome)?;
        return Ok(outcome);
    }
    if let Err(e) = record_and_commit(db, "ROLLBACK TO run; RELEASE run", &outcome, record_end) {
        rollback(db)?;
        return Err(e.context("recording the end of the run"));
    }
    Ok(outcome)
}

/// Ends the run's savepoint with `sql`, drops the temporary objects the run
/// created, records `outcome` in the run's transaction, and commits them.
fn record_and_commit(
    db: &Database,
    sql: &str,
    outcome: &PipelineResult,
    record_end: &mut dyn FnMut(&PipelineResult) -> Result<()>,
) -> Result<()> {
    db.conn.execute_batch(sql)?;
    db.drop_temporary_objects()?;
    record_end(outcome)?;
    db.conn.execute_batch("COMMIT")?;
    Ok(())
}

fn failed(error: String) -> PipelineResult {
    PipelineResult {
        status: Status::Failed,
        metrics: None,
        error: Some(error),
    }
}

fn cancelled_outcome() -> PipelineResult {
    PipelineResult {
        status: Status::Cancelled,
        metrics: None,
        error: Some("cancelled by the operator (Ctrl-C); every write of the run was rolled back".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_domains_own_params_codes_refuse_the_request() {
        let error = |code: &str| PluginError::new(code, "m");
        for code in [
            "otc.params",
            "otc.params.week_ending_not_friday",
            "otc.params.x.y",
        ] {
            assert!(refuses_params("otc", &error(code)), "{code}");
        }
        for code in [
            "otc.ingest.not_found",
            "otc.paramsx",
            "otc.ingest.params",
            "sdk.params.type",
            "other.params.x",
            "otcparams.x",
        ] {
            assert!(!refuses_params("otc", &error(code)), "{code}");
        }
    }
}
