//! `spine-host executions`: the run history, newest first, and one run whole.

use super::args::{ExecutionsArgs, ExecutionsCommand};
use super::output::{self, cell, duration, print_json, table};
use crate::config::Config;
use crate::error::{usage, ExitCode};
use crate::executions::{Execution, Filter, Status};
use crate::session::Session;
use crate::text;
use anyhow::Result;
use comfy_table::Cell;

pub(super) fn executions(config: Config, args: ExecutionsArgs) -> Result<ExitCode> {
    let filter = Filter {
        pipeline: args.pipeline,
        status: args.status.as_deref().map(checked_status).transpose()?,
        since: args.since.as_deref().map(checked_since).transpose()?,
        limit: args.limit,
    };
    // Opening a session marks runs whose process is gone as failed first.
    let session = Session::open_existing(config)?;
    if let Some(ExecutionsCommand::Show { id, json }) = args.show {
        let execution = session.execution(&id)?;
        if json {
            print_json(&execution)?;
        } else {
            print_execution(&execution)?;
        }
        return Ok(ExitCode::Success);
    }
    let rows = session.executions(&filter)?;
    if args.json {
        print_json(&rows)?;
    } else {
        print_table(&rows);
    }
    Ok(ExitCode::Success)
}

/// `--status`: one of the statuses a run can have, as stored.
fn checked_status(text: &str) -> Result<String> {
    match Status::ALL.iter().find(|status| status.as_str() == text) {
        Some(status) => Ok(status.as_str().to_owned()),
        None => Err(usage(format!(
            "--status `{}` is not a status; expected one of: {}",
            text::escape_controls(text),
            Status::ALL.map(Status::as_str).join(", ")
        ))),
    }
}

/// `--since`: a calendar date, compared with the UTC time a run was created.
fn checked_since(text: &str) -> Result<String> {
    match chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        Ok(date) => Ok(date.format("%Y-%m-%d").to_string()),
        Err(_) => Err(usage(format!(
            "--since `{}` is not a date; expected YYYY-MM-DD (UTC), for example 2026-11-27",
            text::escape_controls(text)
        ))),
    }
}

/// Ids are UUIDv7: the first 13 characters are the millisecond it started,
/// unique in practice and accepted by `executions show`.
const SHORT_ID: usize = 13;

/// The result column's width when the output is not a terminal (nothing
/// wraps there, so every row stays one line for grep).
const PIPED_RESULT_WIDTH: usize = 60;

/// The narrowest the result column gets on a narrow terminal.
const MIN_RESULT_WIDTH: usize = 12;

pub(super) fn print_table(rows: &[Execution]) {
    // Lane and trigger only when some run has other than the usual ones: the
    // room is the result's.
    let show_lane = rows
        .iter()
        .any(|e| e.lane != "normal" || e.trigger_source != "cli");
    let mut headers = vec!["id", "pipeline", "status", "started (UTC)", "took", "result"];
    if show_lane {
        headers.insert(3, "lane/trigger");
    }
    let lines: Vec<Vec<String>> = rows
        .iter()
        .map(|e| {
            // `2026-11-26T14:51:02.123Z` → `2026-11-26 14:51`.
            let started = e.started_at.as_deref().unwrap_or("").replace('T', " ");
            let started = started.get(..16).unwrap_or(&started).to_owned();
            let mut line = vec![
                e.id[..SHORT_ID.min(e.id.len())].to_owned(),
                e.pipeline.clone(),
                e.status.as_str().to_owned(),
                started,
                e.duration_ms.map(duration).unwrap_or_default(),
                result_summary(e),
            ];
            if show_lane {
                line.insert(3, format!("{}/{}", e.lane, e.trigger_source));
            }
            line.into_iter()
                .map(|cell| text::escape_controls(&cell).into_owned())
                .collect()
        })
        .collect();
    // Every column but the result keeps its width, plus its padding and the
    // space between columns; the result is cut to what is left of the
    // terminal, and nothing wraps, so a row stays one line.
    let result_column = headers.len() - 1;
    let fixed: usize = (0..result_column)
        .map(|column| {
            let widest = lines
                .iter()
                .map(|line| text::width(&line[column]))
                .max()
                .unwrap_or(0);
            widest.max(headers[column].len()) + 2
        })
        .sum();
    let result_width = output::terminal_width().map_or(PIPED_RESULT_WIDTH, |width| {
        width.saturating_sub(fixed + 1).max(MIN_RESULT_WIDTH)
    });
    let mut table = table(&headers);
    table.set_content_arrangement(comfy_table::ContentArrangement::Disabled);
    for (line, execution) in lines.into_iter().zip(rows) {
        let cells = line.into_iter().enumerate().map(|(column, text)| match column {
            2 => output::status_cell(execution.status),
            c if c == result_column => Cell::new(text::truncate_to_width(&text, result_width)),
            _ => Cell::new(text),
        });
        table.add_row(cells.collect::<Vec<_>>());
    }
    outln!("{}", output::render(&table));
}

/// What a run came to, in a few words: its error, or its metrics, those
/// that say something went wrong (a non-zero `rejected`, `failed`, …) first,
/// then the others in the pipeline's own order.
fn result_summary(execution: &Execution) -> String {
    if let Some(error) = &execution.error {
        return text::one_line(error);
    }
    let Some(serde_json::Value::Object(metrics)) = &execution.metrics else {
        return String::new();
    };
    let alarming = |(name, value): &(&String, &serde_json::Value)| {
        const WORDS: [&str; 5] = ["reject", "fail", "error", "mismatch", "warn"];
        WORDS.iter().any(|word| name.contains(word)) && value.as_f64().is_some_and(|n| n != 0.0)
    };
    let (first, rest): (Vec<_>, Vec<_>) = metrics.iter().partition(alarming);
    first
        .into_iter()
        .chain(rest)
        .map(|(name, value)| format!("{name}={}", cell(value)))
        .collect::<Vec<_>>()
        .join(" ")
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
