//! `spine-host executions`: the run history, newest first, and one run whole.

use super::output::{self, cell, duration, print_json, table};
use super::{ExecutionsArgs, ExecutionsCommand};
use crate::config::Config;
use crate::error::ExitCode;
use crate::executions::{self, Execution, Filter};
use crate::session::Session;
use anyhow::Result;

pub fn executions(config: Config, args: ExecutionsArgs) -> Result<ExitCode> {
    // Opening a session marks runs whose process is gone as failed first.
    let session = Session::open(config)?;
    let conn = &session.db.conn;
    if let Some(ExecutionsCommand::Show { id, json }) = args.show {
        let execution = executions::find(conn, &id)?;
        if json {
            print_json(&execution)?;
        } else {
            print_execution(&execution)?;
        }
        return Ok(ExitCode::Success);
    }
    let filter = Filter {
        pipeline: args.pipeline,
        status: args.status,
        since: args.since,
        limit: args.limit,
    };
    let rows = executions::list(conn, &filter)?;
    if args.json {
        print_json(&rows)?;
    } else {
        print_table(&rows);
    }
    Ok(ExitCode::Success)
}

/// Ids are UUIDv7: the first 13 characters are the millisecond it started,
/// unique in practice and accepted by `executions show`.
const SHORT_ID: usize = 13;

pub(super) fn print_table(rows: &[Execution]) {
    let mut table = table(&[
        "id",
        "pipeline",
        "status",
        "lane/trigger",
        "started",
        "took",
        "result",
    ]);
    for e in rows {
        let result = match (&e.metrics, &e.error) {
            (_, Some(error)) => error.clone(),
            (Some(serde_json::Value::Object(m)), None) => m
                .iter()
                .take(3)
                .map(|(k, v)| format!("{k}={}", cell(v)))
                .collect::<Vec<_>>()
                .join(" "),
            _ => String::new(),
        };
        // `2026-11-26T14:51:02.123Z` → `11-26 14:51`: enough to place a run.
        let started = e.started_at.as_deref().unwrap_or("").replace('T', " ");
        let started = started.get(5..16).unwrap_or(&started).to_owned();
        table.add_row(vec![
            e.id[..SHORT_ID.min(e.id.len())].to_owned(),
            e.pipeline.clone(),
            output::status(e.status),
            format!("{}/{}", e.lane, e.trigger_source),
            started,
            e.duration_ms.map(duration).unwrap_or_default(),
            crate::text::truncate(&result, 40),
        ]);
    }
    // Every column but the last keeps its width; the result wraps.
    let last = table.column_count().saturating_sub(1);
    for column in table.column_iter_mut().take(last) {
        column.set_constraint(comfy_table::ColumnConstraint::ContentWidth);
    }
    outln!("{}", output::render(&table));
}

fn print_execution(e: &Execution) -> Result<()> {
    let serde_json::Value::Object(fields) = serde_json::to_value(e)? else {
        return Ok(());
    };
    let width = fields.keys().map(String::len).max().unwrap_or(0);
    for (key, value) in &fields {
        let text = match value {
            serde_json::Value::Null => "-".to_owned(),
            serde_json::Value::Object(_) => serde_json::to_string(value)?,
            other => cell(other),
        };
        outln!("{key:<width$}  {text}");
    }
    Ok(())
}
