//! One function per command.

use super::output::{cell, duration, print_json, table};
use super::{Command, DbCommand, ExecutionsArgs, ExecutionsCommand, RunArgs};
use crate::config::Config;
use crate::db::Database;
use crate::dispatcher::Submission;
use crate::error::{usage, ExitCode};
use crate::executions::{self, Execution, Filter, Status};
use crate::migrate::{self, MigrationSet};
use crate::params::parse_assignment;
use crate::progress::Progress;
use crate::session::{load_registry, Session};
use anyhow::{Context as _, Result};
use std::io::{BufRead, IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

pub fn dispatch(config: Config, command: Command) -> Result<ExitCode> {
    match command {
        Command::Db(DbCommand::Init) => db_init(config),
        Command::Db(DbCommand::Reset { yes }) => db_reset(config, yes),
        Command::Db(DbCommand::Status) => db_status(config),
        Command::List { json } => list(config, json),
        Command::Run(args) => run(config, args),
        Command::Plugins { json } => plugins(config, json),
        Command::Executions(args) => executions_command(config, args),
    }
}

fn db_init(config: Config) -> Result<ExitCode> {
    let session = Session::open(config)?;
    let sets = MigrationSet::all(&session.registry.plugins);
    let count: usize = sets.iter().map(|s| s.migrations.len()).sum();
    println!(
        "database {} is up to date: {count} migration(s) across {} domain(s)",
        session.config.database_path.display(),
        sets.len()
    );
    Ok(ExitCode::Success)
}

fn db_reset(config: Config, yes: bool) -> Result<ExitCode> {
    let path = config.database_path.clone();
    if !yes && !confirm(&format!("Delete {} and every row in it?", path.display()))? {
        return Err(usage(format!(
            "not resetting {}: confirm at the prompt, or pass --yes to reset without asking",
            path.display()
        )));
    }
    for suffix in ["", "-wal", "-shm"] {
        let file = std::path::PathBuf::from(format!("{}{suffix}", path.display()));
        match std::fs::remove_file(&file) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("deleting {}", file.display())),
        }
    }
    println!("deleted {}", path.display());
    db_init(config)
}

/// Asks a yes/no question on a terminal; false when stdin is not one.
fn confirm(question: &str) -> Result<bool> {
    if !std::io::stdin().is_terminal() {
        return Ok(false);
    }
    eprint!("{question} [y/N] ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

fn db_status(config: Config) -> Result<ExitCode> {
    let registry = load_registry(&config)?;
    let db = Database::open(&config.database_path)?;
    let statuses = migrate::status(&db.conn, &MigrationSet::all(&registry.plugins))?;
    let mut table = table(&["domain", "applied", "latest applied", "pending"]);
    for status in &statuses {
        let latest = status
            .applied
            .last()
            .map(|m| format!("{:03}_{} ({})", m.version, m.name, m.applied_at));
        table.add_row(vec![
            status.domain.clone(),
            status.applied.len().to_string(),
            latest.unwrap_or_else(|| "-".to_owned()),
            if status.pending.is_empty() {
                "-".to_owned()
            } else {
                status.pending.join(", ")
            },
        ]);
    }
    println!("database {}\n{table}", config.database_path.display());
    Ok(ExitCode::Success)
}

#[derive(serde::Serialize)]
struct PipelineListing<'a> {
    name: &'a str,
    description: &'a str,
    params: &'a [crate::load::ParamSpec],
    domain: &'a str,
    plugin_version: &'a str,
    plugin_file: String,
}

fn list(config: Config, json: bool) -> Result<ExitCode> {
    let registry = load_registry(&config)?;
    let mut listings: Vec<PipelineListing<'_>> = registry
        .plugins
        .iter()
        .flat_map(|plugin| {
            plugin.pipelines.iter().map(move |spec| PipelineListing {
                name: &spec.name,
                description: &spec.description,
                params: &spec.params,
                domain: &plugin.domain,
                plugin_version: &plugin.version,
                plugin_file: plugin.path.display().to_string(),
            })
        })
        .collect();
    listings.sort_by(|a, b| a.name.cmp(b.name));
    if json {
        print_json(&listings)?;
        return Ok(ExitCode::Success);
    }
    if listings.is_empty() {
        println!(
            "no pipelines: no plugin loaded from {}",
            config.plugins_dir.display()
        );
        return Ok(ExitCode::Success);
    }
    let mut table = table(&["pipeline", "description", "parameters"]);
    for listing in &listings {
        let params: Vec<String> = listing
            .params
            .iter()
            .map(|p| {
                let default = p.default.as_ref().map(|d| format!("={d}")).unwrap_or_default();
                let required = if p.required { " (required)" } else { "" };
                format!("{}{default}{required}", p.name)
            })
            .collect();
        table.add_row(vec![
            listing.name.to_owned(),
            listing.description.to_owned(),
            params.join(", "),
        ]);
    }
    println!("{table}");
    Ok(ExitCode::Success)
}

fn plugins(config: Config, json: bool) -> Result<ExitCode> {
    let registry = load_registry(&config)?;
    if json {
        let loaded: Vec<serde_json::Value> = registry
            .plugins
            .iter()
            .map(|p| {
                serde_json::json!({
                    "file": p.path.display().to_string(),
                    "domain": p.domain,
                    "version": p.version,
                    "api_version": p.api_version,
                    "description": p.description,
                    "pipelines": p.pipelines.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
                    "migrations": p.migrations.len(),
                })
            })
            .collect();
        print_json(&serde_json::json!({ "loaded": loaded, "refused": registry.refused }))?;
        return Ok(ExitCode::Success);
    }
    let mut table = table(&["domain", "version", "api", "pipelines", "file"]);
    for p in &registry.plugins {
        let names: Vec<&str> = p.pipelines.iter().map(|s| s.name.as_str()).collect();
        table.add_row(vec![
            p.domain.clone(),
            p.version.clone(),
            p.api_version.clone(),
            names.join(", "),
            p.path.display().to_string(),
        ]);
    }
    println!("{table}");
    for refusal in &registry.refused {
        println!("refused {refusal}");
    }
    Ok(ExitCode::Success)
}

fn run(config: Config, args: RunArgs) -> Result<ExitCode> {
    let params = args
        .params
        .iter()
        .map(|p| parse_assignment(p))
        .collect::<Result<Vec<_>>>()?;
    let session = Session::open(config)?;
    let cancel = Arc::new(AtomicBool::new(false));
    install_ctrl_c(&session.db, Arc::clone(&cancel))?;
    let submission = Submission {
        pipeline: args.pipeline,
        params,
        lane: args.lane,
        trigger: args.trigger,
        logical_key: args.logical_key,
    };
    let progress = Progress::for_terminal(args.json);
    let execution = session.dispatcher(&cancel).submit(&submission, &progress)?;
    if args.json {
        print_json(&execution)?;
    } else {
        print_run(&execution);
    }
    Ok(match execution.status {
        Status::Completed => ExitCode::Success,
        Status::Cancelled => ExitCode::Cancelled,
        _ => ExitCode::PipelineFailed,
    })
}

/// First Ctrl-C: ask the run to stop (and interrupt the SQL in flight); the
/// run rolls back and is recorded as cancelled. Second Ctrl-C: exit now.
fn install_ctrl_c(db: &Database, cancel: Arc<AtomicBool>) -> Result<()> {
    let interrupt = db.conn.get_interrupt_handle();
    ctrlc::set_handler(move || {
        if cancel.swap(true, Ordering::SeqCst) {
            std::process::exit(ExitCode::Cancelled as i32);
        }
        eprintln!("stopping: rolling back the run (press Ctrl-C again to exit at once)");
        interrupt.interrupt();
    })
    .context("installing the Ctrl-C handler")
}

fn print_run(execution: &Execution) {
    let took = execution.duration_ms.map(duration).unwrap_or_default();
    println!(
        "{} {} in {took} (execution {})",
        execution.pipeline,
        execution.status.as_str(),
        execution.id
    );
    if let Some(serde_json::Value::Object(metrics)) = &execution.metrics {
        let width = metrics.keys().map(String::len).max().unwrap_or(0);
        for (key, value) in metrics {
            println!("  {key:<width$}  {}", cell(value));
        }
    }
    if let Some(error) = &execution.error {
        eprintln!("error: {error}");
    }
}

fn executions_command(config: Config, args: ExecutionsArgs) -> Result<ExitCode> {
    let registry = load_registry(&config)?;
    let mut db = Database::open(&config.database_path)?;
    migrate::apply_pending(&mut db.conn, &MigrationSet::all(&registry.plugins))?;
    executions::fail_orphans(&db.conn)?;
    if let Some(ExecutionsCommand::Show { id, json }) = args.show {
        let execution = executions::find(&db.conn, &id)?;
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
    let rows = executions::list(&db.conn, &filter)?;
    if args.json {
        print_json(&rows)?;
        return Ok(ExitCode::Success);
    }
    let mut table = table(&[
        "id", "pipeline", "status", "lane", "trigger", "started", "took", "metrics",
    ]);
    for e in &rows {
        let metrics = match &e.metrics {
            Some(serde_json::Value::Object(m)) => m
                .iter()
                .take(3)
                .map(|(k, v)| format!("{k}={}", cell(v)))
                .collect::<Vec<_>>()
                .join(" "),
            _ => e.error.clone().unwrap_or_default(),
        };
        table.add_row(vec![
            e.id[..13].to_owned(),
            e.pipeline.clone(),
            e.status.as_str().to_owned(),
            e.lane.clone(),
            e.trigger_source.clone(),
            e.started_at.clone().unwrap_or_default(),
            e.duration_ms.map(duration).unwrap_or_default(),
            metrics,
        ]);
    }
    println!("{table}");
    Ok(ExitCode::Success)
}

fn print_execution(e: &Execution) -> Result<()> {
    let value = serde_json::to_value(e)?;
    let serde_json::Value::Object(fields) = value else {
        return Ok(());
    };
    let width = fields.keys().map(String::len).max().unwrap_or(0);
    for (key, value) in &fields {
        let text = match value {
            serde_json::Value::Null => "-".to_owned(),
            serde_json::Value::Object(_) => serde_json::to_string(value)?,
            other => cell(other),
        };
        println!("{key:<width$}  {text}");
    }
    Ok(())
}
