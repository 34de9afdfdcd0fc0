//! Running one pipeline inside one transaction: commit on success, roll back
//! on error, panic (which the plugin's SDK turns into an error) or Ctrl-C.

use crate::db::Database;
use crate::executions::Status;
use crate::load::LoadedPlugin;
use crate::progress::Progress;
use crate::services::RunServices;
use abi_stable::{sabi_trait::TD_Opaque, sabi_types::RMut};
use anyhow::{Context as _, Result};
use spine_plugin_api::abi::{HostServices_TO, PluginError};
use std::sync::atomic::{AtomicBool, Ordering};

/// How a run ended.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    pub status: Status,
    pub metrics: Option<serde_json::Value>,
    pub error: Option<String>,
}

/// Everything one run needs.
pub struct RunRequest<'r> {
    pub plugin: &'r LoadedPlugin,
    pub pipeline: &'r str,
    pub params: &'r serde_json::Map<String, serde_json::Value>,
    pub execution_id: &'r str,
    pub progress: &'r Progress,
    pub cancel: &'r AtomicBool,
}

/// One line for a plugin's error: `location: message (help: …)`.
pub fn describe_plugin_error(error: &PluginError) -> String {
    let mut text = String::new();
    if let Some(location) = error.location.as_ref().into_option() {
        text.push_str(&format!("{location}: "));
    }
    text.push_str(&error.message);
    if let Some(help) = error.help.as_ref().into_option() {
        text.push_str(&format!(" (help: {help})"));
    }
    text
}

/// Creates the pipeline and runs it in one transaction. An `Err` means the
/// host itself could not run it (for example, the database stayed locked).
pub fn run(db: &Database, request: &RunRequest<'_>) -> Result<RunOutcome> {
    let params_json = serde_json::Value::Object(request.params.clone()).to_string();
    let created =
        (request.plugin.module.create_pipeline())(request.pipeline.into(), params_json.as_str().into());
    let mut pipeline = match created.into_result() {
        Ok(pipeline) => pipeline,
        Err(error) => return Ok(failed(describe_plugin_error(&error))),
    };
    let mut services = RunServices {
        db,
        progress: request.progress,
        cancel: request.cancel,
        execution_info: serde_json::json!({
            "execution_id": request.execution_id,
            "pipeline": request.pipeline,
            "params": request.params,
        }),
        domain: &request.plugin.domain,
    };
    db.conn
        .execute_batch("BEGIN IMMEDIATE")
        .context("starting the run's transaction")?;
    db.set_plugin_sql_active(true);
    let result = pipeline.run(HostServices_TO::from_ptr(RMut::new(&mut services), TD_Opaque));
    db.set_plugin_sql_active(false);
    request.progress.finish();

    let cancelled = request.cancel.load(Ordering::SeqCst);
    let outcome = match result.into_result() {
        Ok(_) if cancelled => cancelled_outcome(),
        Ok(metrics) => match db.conn.execute_batch("COMMIT") {
            Ok(()) => {
                let metrics =
                    serde_json::from_str(&metrics).unwrap_or(serde_json::Value::String(metrics.into()));
                return Ok(RunOutcome {
                    status: Status::Completed,
                    metrics: Some(metrics),
                    error: None,
                });
            }
            Err(e) => failed(format!("committing the run's transaction failed: {e}")),
        },
        Err(_) if cancelled => cancelled_outcome(),
        Err(error) => failed(describe_plugin_error(&error)),
    };
    rollback(db)?;
    Ok(outcome)
}

fn rollback(db: &Database) -> Result<()> {
    if !db.conn.is_autocommit() {
        db.conn
            .execute_batch("ROLLBACK")
            .context("rolling back the run's transaction")?;
    }
    Ok(())
}

fn failed(error: String) -> RunOutcome {
    RunOutcome {
        status: Status::Failed,
        metrics: None,
        error: Some(error),
    }
}

fn cancelled_outcome() -> RunOutcome {
    RunOutcome {
        status: Status::Cancelled,
        metrics: None,
        error: Some("cancelled by the operator (Ctrl-C); every write of the run was rolled back".to_owned()),
    }
}
