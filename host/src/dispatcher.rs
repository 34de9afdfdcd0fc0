//! The dispatcher: every run goes through [`Dispatcher::submit`], which
//! checks the request (against the spec, then through the plugin's factory),
//! records the execution, runs it, and records the end.
//!
//! The `running` row is committed before the run starts, so that other
//! processes see it. The end is recorded by the runner in the run's own
//! transaction, outside the savepoint that holds the pipeline's writes: a
//! completed run commits with its record, and a failed or cancelled one is
//! recorded as its writes are undone. The logical-key check and the insert
//! share one write transaction, so two processes cannot both start a run with
//! the same key.

use crate::db::Database;
use crate::error::{conflict, usage, ExitCode, Refused};
use crate::executions::{self, Execution, Lane, Status, TriggerSource};
use crate::load::{LoadedPlugin, PipelineSpec};
use crate::params;
use crate::process;
use crate::progress::Progress;
use crate::registry::Registry;
use crate::runner::{self, RunRequest};
use anyhow::{Context as _, Result};
use chrono::NaiveDate;
use spine_plugin_api::host::PluginPipeline;
use spine_plugin_api::Error as PluginError;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

/// A request to run one pipeline.
#[derive(Debug, Clone)]
pub struct Submission {
    pub(crate) pipeline: String,
    /// `key=value` pairs as given; checked against the pipeline's spec.
    pub(crate) params: Vec<(String, String)>,
    pub(crate) lane: Lane,
    pub(crate) trigger: TriggerSource,
    pub(crate) logical_key: Option<String>,
}

impl Submission {
    /// A CLI-triggered run on the normal lane with no logical key.
    pub fn new(pipeline: &str, params: &[(&str, &str)]) -> Self {
        Self {
            pipeline: pipeline.to_owned(),
            params: params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            lane: Lane::Normal,
            trigger: TriggerSource::Cli,
            logical_key: None,
        }
    }
}

/// Runs submissions against one registry and one database.
pub struct Dispatcher<'a> {
    registry: &'a Registry,
    db: &'a Database,
    data_dir: &'a Path,
    /// Today's date as plugins see it (see [`crate::config::today`]).
    today: NaiveDate,
    /// Set by Ctrl-C: the run in progress stops.
    cancel: &'a AtomicBool,
}

impl<'a> Dispatcher<'a> {
    /// A dispatcher of runs of `registry`'s pipelines on `db`; relative path
    /// parameters are also looked up in `data_dir`.
    pub(crate) fn new(
        registry: &'a Registry,
        db: &'a Database,
        data_dir: &'a Path,
        today: NaiveDate,
        cancel: &'a AtomicBool,
    ) -> Self {
        Self {
            registry,
            db,
            data_dir,
            today,
            cancel,
        }
    }

    /// Checks, records, runs and records the end of one execution. `Err` is
    /// for requests refused before anything ran (unknown pipeline, bad
    /// parameters, including values the factory refuses with a
    /// `<domain>.params` code, a busy logical key) and for host failures.
    pub fn submit(&self, submission: &Submission, progress: &Progress) -> Result<Execution> {
        let Checked {
            plugin,
            spec,
            params,
            created,
        } = check(self.registry, submission, self.data_dir, &self.db.path)?;
        let mut execution = Execution {
            id: executions::new_id(),
            pipeline: spec.name.clone(),
            params: serde_json::Value::Object(params.clone()),
            lane: submission.lane.as_str().to_owned(),
            trigger_source: submission.trigger.as_str().to_owned(),
            logical_key: submission.logical_key.clone(),
            status: Status::Running,
            created_at: executions::now(),
            started_at: None,
            completed_at: None,
            duration_ms: None,
            metrics: None,
            error: None,
            plugin_domain: plugin.domain.clone(),
            plugin_version: plugin.version.clone(),
            host_pid: i64::from(std::process::id()),
            host_process: process::own_identity(),
        };
        let started = self.record_start(&mut execution)?;
        let id = execution.id.clone();
        let request = RunRequest {
            plugin,
            pipeline: &spec.name,
            params: &params,
            execution_id: &id,
            today: self.today,
            data_dir: self.data_dir,
            progress,
            cancel: self.cancel,
        };
        let mut record_end = |outcome: &runner::PipelineResult| {
            execution.status = outcome.status;
            execution.metrics = outcome.metrics.clone();
            execution.error = outcome.error.clone();
            // Both from the same two clock readings, so they always agree.
            let completed = chrono::Utc::now();
            execution.completed_at = Some(executions::timestamp(completed));
            execution.duration_ms = Some((completed - started).num_milliseconds().max(0));
            executions::finish(&self.db.conn, &execution)
        };
        let ran = match created {
            Ok(pipeline) => runner::run(self.db, &request, pipeline, &mut record_end),
            Err(error) => {
                let outcome = runner::not_created(&error);
                record_end(&outcome).map(|()| outcome)
            }
        };
        if let Err(error) = ran {
            // Nothing of the run was kept; record why, if the database lets us.
            let error = error.context(format!("running {} (execution {id})", spec.name));
            record_end(&runner::PipelineResult {
                status: Status::Failed,
                metrics: None,
                error: Some(format!("{error:#}")),
            })?;
        }
        Ok(execution)
    }

    /// Writes the `running` row, refusing a logical key that is in use. The
    /// run starts once it holds the write lock: `started_at` is that moment,
    /// so `duration_ms` (measured from it) and the timestamps agree, and time
    /// spent waiting for another process shows as `started_at - created_at`.
    ///
    /// The key is checked twice: first with a plain read, which in WAL mode
    /// does not wait for another process's write transaction (a long run
    /// holds one), so a busy key is refused at once; then again inside the
    /// write transaction that inserts the row, so two starts cannot race.
    fn record_start(&self, execution: &mut Execution) -> Result<chrono::DateTime<chrono::Utc>> {
        let conn = &self.db.conn;
        refuse_busy_key(conn, execution)?;
        // This waits while another process's run holds the write lock; the
        // CLI's busy handler gives up on Ctrl-C.
        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
            if self.cancel.load(Ordering::SeqCst) {
                return Err(Refused {
                    code: ExitCode::Cancelled,
                    message: "cancelled (Ctrl-C) while waiting for another process's run to finish; \
                              nothing ran and nothing was recorded"
                        .to_owned(),
                }
                .into());
            }
            return Err(e).context("recording the execution");
        }
        let started = chrono::Utc::now();
        execution.started_at = Some(executions::timestamp(started));
        let result = (|| {
            executions::fail_orphans(conn)?;
            refuse_busy_key(conn, execution)?;
            executions::insert_running(conn, execution)
        })();
        let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
        conn.execute_batch(end).context("recording the execution")?;
        result.map(|()| started)
    }
}

/// A request that passed every check made before anything is recorded.
pub(crate) struct Checked<'r> {
    plugin: &'r LoadedPlugin,
    spec: &'r PipelineSpec,
    params: serde_json::Map<String, serde_json::Value>,
    /// What the plugin's factory made of the parameters; an error other
    /// than a refused parameter is the run's failure, recorded.
    created: Result<PluginPipeline, PluginError>,
}

/// Checks a request before anything is recorded: the pipeline exists (or
/// its plugin was refused: exit 3), the parameters fit its spec, and the
/// plugin's factory does not refuse them (a `<domain>.params` code).
/// [`crate::session::Session::open_to_run`] also calls it before a database
/// exists, so that a refused request creates nothing.
pub(crate) fn check<'r>(
    registry: &'r Registry,
    submission: &Submission,
    data_dir: &Path,
    database: &Path,
) -> Result<Checked<'r>> {
    let Some((plugin, spec)) = registry.pipeline(&submission.pipeline) else {
        if let Some(refusal) = registry.refused_pipeline(&submission.pipeline) {
            // The environment is wrong, not the request: exit code 3.
            anyhow::bail!(
                "pipeline `{}` cannot run: its plugin {} was refused: {}",
                submission.pipeline,
                refusal.path.display(),
                refusal.reason
            );
        }
        return Err(usage(registry.unknown_pipeline(&submission.pipeline)));
    };
    let params = params::validate(spec, &submission.params, data_dir, database)?;
    // The factory runs before anything is recorded, so that a value it
    // refuses is bad usage that changes nothing (see `refuses_params`).
    let created = runner::create(plugin, &spec.name, &params);
    if let Err(error) = &created {
        if runner::refuses_params(&plugin.domain, error) {
            return Err(usage(error.to_string()));
        }
    }
    Ok(Checked {
        plugin,
        spec,
        params,
        created,
    })
}

fn refuse_busy_key(conn: &rusqlite::Connection, execution: &Execution) -> Result<()> {
    let Some(key) = &execution.logical_key else {
        return Ok(());
    };
    let Some(running) = executions::running_with_key(conn, key)? else {
        return Ok(());
    };
    if !process::is_alive(running.host_pid, running.host_process.as_deref()) {
        return Ok(()); // an orphan: marked failed inside the write transaction
    }
    Err(conflict(format!(
        "logical key `{key}` is held by running execution {} ({}, started {}, process {}); \
         wait for it to finish",
        running.id,
        running.pipeline,
        running.started_at.as_deref().unwrap_or("?"),
        running.host_pid
    )))
}
