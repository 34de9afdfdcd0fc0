//! One function per command.

use super::args::{parse_assignment, Cli, Command, DbCommand, RunArgs};
use super::output::{self, pipeline_listings, print_json, print_pipeline, print_pipelines, print_run, table};
use crate::config::Config;
use crate::dispatcher::Submission;
use crate::error::{usage, ExitCode};
use crate::executions::Status;
use crate::load::LoadedPlugin;
use crate::progress::Progress;
use crate::reader::Reader;
use crate::registry::Registry;
use crate::session::{self, load_registry, require_plugins_folder, Session};
use anyhow::{Context as _, Result};
use std::io::{BufRead, IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

pub(super) fn dispatch(config: Config, command: Command) -> Result<ExitCode> {
    match command {
        Command::Db(DbCommand::Init) => db_init(config),
        Command::Db(DbCommand::Reset { yes }) => db_reset(config, yes),
        Command::Db(DbCommand::Status) => db_status(config),
        Command::List { json } => list(config, json),
        Command::Run(args) => run(config, args),
        Command::Plugins { json } => plugins(config, json),
        Command::Executions(args) => super::history::executions(config, args),
        Command::Describe { pipeline } => describe(config, &pipeline),
        Command::CheckPlugin { file } => check_plugin(&config, &file),
        Command::Shell => super::shell::run(config),
        Command::Query { sql, format, json } => {
            let format = if json { super::query::Format::Json } else { format };
            let reader = Reader::open(&config.database_path)?;
            super::query::run(&reader, &sql, format, &mut std::io::stdout().lock())?;
            Ok(ExitCode::Success)
        }
    }
}

fn db_init(config: Config) -> Result<ExitCode> {
    if let Err(missing) = require_plugins_folder(&config.plugins_dir) {
        log::warn!("{missing}; only the host's own tables are created");
    }
    let session = Session::open(config)?;
    let (migrations, domains) = session.migration_count();
    outln!(
        "database {} is up to date: {migrations} migration(s) across {domains} domain(s)",
        session.config().database_path.display(),
    );
    print_refused_domains(session.registry());
    Ok(ExitCode::Success)
}

/// One line per refused plugin whose domain is known, with the reason.
fn print_refused_domains(registry: &Registry) {
    for refusal in &registry.refused {
        if let Some(domain) = &refusal.domain {
            outln!("refused domain `{domain}`: {refusal}");
        }
    }
}

fn db_reset(config: Config, yes: bool) -> Result<ExitCode> {
    let path = config.database_path.clone();
    if !yes && !confirm(&format!("Empty {} of every row in it?", path.display()))? {
        return Err(usage(format!(
            "not resetting {}: confirm at the prompt, or pass --yes to reset without asking",
            path.display()
        )));
    }
    if path.exists() {
        crate::reset::reset_in_place(&path)?;
        outln!("emptied {}", path.display());
    }
    db_init(config)
}

/// Asks a yes/no question on a terminal; false when stdin is not one.
fn confirm(question: &str) -> Result<bool> {
    if !std::io::stdin().is_terminal() {
        return Ok(false);
    }
    err!("{question} [y/N] ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

/// Read-only: a database that does not exist yet is shown with every
/// migration pending, and a plugin whose migrations cannot apply is shown
/// refused, with the reason, below the others.
fn db_status(config: Config) -> Result<ExitCode> {
    let registry = load_registry(&config)?;
    let statuses = session::migration_status(&config, &registry)?;
    let mut table = table(&["domain", "applied", "latest applied", "pending"]);
    for status in &statuses {
        let latest = status.applied.last().map(|m| format!("{m} ({})", m.applied_at));
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
    outln!(
        "database {}\n{}",
        config.database_path.display(),
        output::render(&table)
    );
    print_refused_domains(&registry);
    Ok(ExitCode::Success)
}

fn list(config: Config, json: bool) -> Result<ExitCode> {
    require_plugins_folder(&config.plugins_dir)?;
    let registry = load_registry(&config)?;
    if json {
        print_json(&pipeline_listings(&registry))?;
    } else {
        print_pipelines(&registry);
    }
    Ok(ExitCode::Success)
}

fn plugins(config: Config, json: bool) -> Result<ExitCode> {
    require_plugins_folder(&config.plugins_dir)?;
    let registry = load_registry(&config)?;
    let applied = session::applied_migrations(&config)?;
    let migrations = |p: &LoadedPlugin| {
        let embedded = p.migrations.len() as i64;
        let done = applied.get(&p.domain).copied().unwrap_or(0);
        (embedded, done, (embedded - done).max(0))
    };
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
                    "migrations": {
                        "embedded": migrations(p).0,
                        "applied": migrations(p).1,
                        "pending": migrations(p).2,
                    },
                })
            })
            .collect();
        print_json(&serde_json::json!({ "loaded": loaded, "refused": registry.refused }))?;
        return Ok(ExitCode::Success);
    }
    let mut table = table(&["domain", "version", "api", "pipelines", "migrations", "file"]);
    for p in &registry.plugins {
        let names: Vec<&str> = p.pipelines.iter().map(|s| s.name.as_str()).collect();
        let (_, done, pending) = migrations(p);
        table.add_row(vec![
            p.domain.clone(),
            p.version.clone(),
            p.api_version.clone(),
            names.join(", "),
            format!("{done} applied, {pending} pending"),
            p.path.display().to_string(),
        ]);
    }
    outln!("{}", output::render(&table));
    for refusal in &registry.refused {
        outln!("refused {refusal}");
    }
    Ok(ExitCode::Success)
}

fn run(config: Config, args: RunArgs) -> Result<ExitCode> {
    let pipeline = match args.pipeline {
        Some(pipeline) if !args.help => pipeline,
        pipeline => return run_help(&config, pipeline.as_deref()),
    };
    let params = args
        .params
        .iter()
        .map(|p| parse_assignment(p))
        .collect::<Result<Vec<_>>>()?;
    require_plugins_folder(&config.plugins_dir)?;
    let submission = Submission {
        pipeline,
        params,
        lane: args.lane,
        trigger: args.trigger,
        logical_key: args.logical_key,
    };
    let mut session = Session::open_to_run(config, &submission)?;
    let cancel = Arc::new(AtomicBool::new(false));
    install_ctrl_c(&mut session, Arc::clone(&cancel))?;
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

/// First Ctrl-C: ask the run to stop (and interrupt the SQL in flight, or the
/// wait for another process's run); the run rolls back and is recorded as
/// cancelled. Second Ctrl-C: exit now.
fn install_ctrl_c(session: &mut Session, cancel: Arc<AtomicBool>) -> Result<()> {
    let interrupt = session.stop_waiting_on(Arc::clone(&cancel), || {
        log::info!("waiting for another process's run to finish writing (Ctrl-C stops waiting)");
    })?;
    ctrlc::set_handler(move || {
        if cancel.swap(true, Ordering::SeqCst) {
            std::process::exit(ExitCode::Cancelled as i32);
        }
        errln!("stopping: rolling back the run (press Ctrl-C again to exit at once)");
        interrupt.interrupt();
    })
    .context("installing the Ctrl-C handler")
}

/// `run --help`, and with a pipeline (`run otc.ingest --help`) that
/// pipeline's description and parameters after it.
fn run_help(config: &Config, pipeline: Option<&str>) -> Result<ExitCode> {
    let mut command = <Cli as clap::CommandFactory>::command();
    command.build(); // gives the subcommand its full name for the usage line
    let help = command
        .find_subcommand_mut("run")
        .expect("the run subcommand")
        .render_long_help();
    outln!("{help}");
    if let Some(name) = pipeline {
        require_plugins_folder(&config.plugins_dir)?;
        let registry = load_registry(config)?;
        let Some((_, spec)) = registry.pipeline(name) else {
            return Err(usage(registry.unknown_pipeline(name)));
        };
        outln!();
        print_pipeline(spec, "");
    }
    Ok(ExitCode::Success)
}

fn describe(config: Config, name: &str) -> Result<ExitCode> {
    require_plugins_folder(&config.plugins_dir)?;
    let registry = load_registry(&config)?;
    let Some((plugin, spec)) = registry.pipeline(name) else {
        return Err(usage(registry.unknown_pipeline(name)));
    };
    print_pipeline(spec, "");
    outln!(
        "\nfrom plugin `{}` {} (spine-plugin-api {}), file {}",
        plugin.domain,
        plugin.version,
        plugin.api_version,
        plugin.path.display()
    );
    Ok(ExitCode::Success)
}

fn check_plugin(config: &Config, file: &std::path::Path) -> Result<ExitCode> {
    if std::fs::symlink_metadata(file).is_err() {
        return Err(usage(format!("{}: no such file", file.display())));
    }
    let plugin = session::load_plugin_file(file)?;
    outln!("{}: ok", file.display());
    outln!("domain       {}", plugin.domain);
    outln!("version      {}", plugin.version);
    outln!("plugin API   {}", plugin.api_version);
    outln!("description  {}", plugin.description);
    outln!("pipelines:");
    for spec in &plugin.pipelines {
        print_pipeline(spec, "  ");
    }
    outln!("migrations:");
    for m in &plugin.migrations {
        outln!("  {m}  sha256 {}", &m.checksum()[..12]);
    }
    if let Some(reason) = session::dry_run_migrations(config, &plugin)? {
        return Err(anyhow::anyhow!("{}: {reason}", file.display()));
    }
    Ok(ExitCode::Success)
}
