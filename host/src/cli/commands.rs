//! One function per command.

use super::args::{Cli, Command, DbCommand, RunArgs};
use super::output::{self, pipeline_listings, print_json, print_pipeline, print_pipelines, print_run, table};
use crate::config::Config;
use crate::db::{Database, BUSY_TIMEOUT};
use crate::dispatcher::Submission;
use crate::error::{usage, ExitCode};
use crate::executions::Status;
use crate::migrate::{self, MigrationSet};
use crate::params::parse_assignment;
use crate::progress::Progress;
use crate::registry::Registry;
use crate::session::{all_migrations, load_registry, plugin_migrations, require_plugins_folder, Session};
use anyhow::{Context as _, Result};
use std::io::{BufRead, IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub fn dispatch(config: Config, command: Command) -> Result<ExitCode> {
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
            let conn = crate::session::open_read_only(&config.database_path)?;
            super::query::run(&conn, &sql, format, &mut std::io::stdout().lock())?;
            Ok(ExitCode::Success)
        }
    }
}

fn db_init(config: Config) -> Result<ExitCode> {
    if let Err(missing) = require_plugins_folder(&config.plugins_dir) {
        log::warn!("{missing}; only the host's own tables are created");
    }
    let session = Session::open(config)?;
    let sets = all_migrations(&session.registry.plugins);
    let count: usize = sets.iter().map(|s| s.migrations.len()).sum();
    outln!(
        "database {} is up to date: {count} migration(s) across {} domain(s)",
        session.config.database_path.display(),
        sets.len()
    );
    print_refused_domains(&session.registry);
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
    let sets = all_migrations(&registry.plugins);
    let statuses = match crate::session::read_database(&config.database_path)? {
        Some(conn) => migrate::status(&conn, &sets)?,
        None => migrate::status(&migrate::scratch_database()?.conn, &sets)?,
    };
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
    let applied = match crate::session::read_database(&config.database_path)? {
        Some(conn) => migrate::applied_counts(&conn)?,
        None => Default::default(),
    };
    let migrations = |p: &crate::load::LoadedPlugin| {
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
    let mut session = if config.database_path.exists() {
        Session::open(config)?
    } else {
        // `run` creates the database, but only for a request it will run.
        let registry = load_registry(&config)?;
        crate::dispatcher::check(&registry, &submission, &config.data_dir, &config.database_path)?;
        Session::open_with_registry(config, registry)?
    };
    let cancel = Arc::new(AtomicBool::new(false));
    install_ctrl_c(&mut session.db, Arc::clone(&cancel))?;
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
fn install_ctrl_c(db: &mut Database, cancel: Arc<AtomicBool>) -> Result<()> {
    db.conn
        .busy_handler(Some(wait_unless_cancelled(
            Arc::clone(&cancel),
            Arc::clone(&db.recording_end),
        )))
        .context("installing the busy handler")?;
    let interrupt = db.conn.get_interrupt_handle();
    ctrlc::set_handler(move || {
        if cancel.swap(true, Ordering::SeqCst) {
            std::process::exit(ExitCode::Cancelled as i32);
        }
        errln!("stopping: rolling back the run (press Ctrl-C again to exit at once)");
        interrupt.interrupt();
    })
    .context("installing the Ctrl-C handler")
}

/// A busy handler: while another process holds the write lock, waits for it
/// up to [`BUSY_TIMEOUT`] like the default one, says so once a second has
/// passed, and gives up as soon as `cancel` is set, except while
/// `recording_end` is: a cancelled run that wrote nothing waits for the lock
/// to record its end (a second Ctrl-C exits at once).
fn wait_unless_cancelled(
    cancel: Arc<AtomicBool>,
    recording_end: Arc<AtomicBool>,
) -> impl FnMut(i32) -> bool + Send + 'static {
    const POLL: Duration = Duration::from_millis(5);
    let mut since = Instant::now();
    let mut said = false;
    move |attempt| {
        if attempt == 0 {
            (since, said) = (Instant::now(), false);
        }
        let stop_waiting = cancel.load(Ordering::SeqCst) && !recording_end.load(Ordering::SeqCst);
        if stop_waiting || since.elapsed() >= BUSY_TIMEOUT {
            return false;
        }
        if !said && since.elapsed() >= Duration::from_secs(1) {
            log::info!("waiting for another process's run to finish writing (Ctrl-C stops waiting)");
            said = true;
        }
        std::thread::sleep(POLL);
        true
    }
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
    let plugin =
        crate::load::load_plugin(file).map_err(|reason| anyhow::anyhow!("{}: {reason}", file.display()))?;
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
        outln!("  {m}  sha256 {}", &migrate::checksum(&m.sql)[..12]);
    }
    if let Some(reason) = dry_run_migrations(config, &plugin)? {
        return Err(anyhow::anyhow!("{}: {reason}", file.display()));
    }
    Ok(ExitCode::Success)
}

/// Applies `plugin`'s migrations to a scratch database in memory that holds
/// the host's tables and the loaded plugins' (a migration may read another
/// domain's table), under the fence; the reason they cannot apply, if so.
fn dry_run_migrations(config: &Config, plugin: &crate::load::LoadedPlugin) -> Result<Option<String>> {
    let mut others = match Registry::load(&config.plugins_dir, &Default::default()) {
        Ok(registry) => registry.plugins,
        Err(e) => {
            log::warn!("the dry run of the migrations sees no other plugin: {e:#}");
            Vec::new()
        }
    };
    let scratch = migrate::scratch_database()?;
    migrate::apply_pending(&scratch, &[MigrationSet::core()])?;
    others.retain(|other| other.domain != plugin.domain);
    migrate::apply_each(&scratch, &plugin_migrations(&others));
    Ok(
        migrate::apply_each(&scratch, &plugin_migrations(std::slice::from_ref(plugin)))
            .pop()
            .map(|(_, reason)| reason),
    )
}
