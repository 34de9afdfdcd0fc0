//! The arguments: every command, flag and help text, as clap reads them,
//! and the `key=value` form of a pipeline parameter.

use super::query;
use crate::error::usage;
use crate::executions::{Lane, TriggerSource};
use anyhow::Result;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Market Spine: run domain pipelines from plugins over one SQLite database.
#[derive(Debug, Parser)]
#[command(
    name = "spine-host",
    version,
    after_help = "Examples:\n  spine-host db init\n  spine-host list\n  spine-host run example.hello -p name=Bob\n  \
                  spine-host run otc.ingest -p file_path=data/finra\n\n\
                  Environment: SPINE_TODAY=YYYY-MM-DD fixes today's date as plugins see it (for tests; \
                  default: today in UTC); otc refuses a lastUpdateDate more than a year after it.\n\n\
                  Exit codes: 0 success, 1 pipeline failed, 2 bad usage, 3 environment (database, \
                  migrations, plugins), 4 logical key busy, 130 cancelled (Ctrl-C)."
)]
pub(super) struct Cli {
    /// SQLite database file
    #[arg(
        long = "db",
        global = true,
        env = "SPINE_DATABASE_PATH",
        default_value = "spine.db"
    )]
    pub database_path: PathBuf,
    /// Folder scanned for plugin libraries (lib*.so)
    #[arg(long, global = true, env = "SPINE_PLUGINS_DIR", default_value = "plugins")]
    pub plugins_dir: PathBuf,
    /// Folder where relative data paths are also looked up
    #[arg(long, global = true, env = "SPINE_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
    /// Log level on stderr: error, warn, info, debug, trace or off
    #[arg(long, global = true, env = "SPINE_LOG_LEVEL", default_value = "INFO", value_parser = parse_level)]
    pub log_level: log::LevelFilter,
    #[command(subcommand)]
    pub command: Command,
}

fn parse_level(text: &str) -> Result<log::LevelFilter, String> {
    text.parse()
        .map_err(|_| format!("`{text}` is not a log level (error, warn, info, debug, trace, off)"))
}

#[derive(Debug, Subcommand)]
pub(super) enum Command {
    /// Create, reset or inspect the database and its migrations
    #[command(subcommand)]
    Db(DbCommand),
    /// List every pipeline of every loaded plugin
    #[command(after_help = "Example:\n  spine-host list --json")]
    List {
        /// One JSON array instead of a table
        #[arg(long)]
        json: bool,
    },
    /// Run one pipeline and record the execution
    #[command(after_help = "Examples:\n  spine-host run example.count -p n=100\n  \
                            spine-host run otc.ingest -p file_path=data/finra --logical-key otc-weekly --json")]
    Run(RunArgs),
    /// Show one pipeline: description, parameters and the plugin it comes from
    #[command(after_help = "Example:\n  spine-host describe otc.ingest")]
    Describe {
        /// Pipeline name, such as otc.ingest
        pipeline: String,
    },
    /// Check one plugin file, dry-run its migrations, print its manifest
    #[command(
        long_about = "Run every load check on one plugin file, dry-run its migrations, and print its manifest.\n\n\
                      The checks that need no loading come first: a regular file, a shared library for this \
                      machine that neither carries nor links SQLite. Then the library is loaded, and loading a \
                      library runs its initialisers: its code runs with your rights, so check only files you \
                      trust. Its migrations are then tried on a scratch database in memory, beside the tables \
                      of the plugins in the plugins folder, under the same rules as a real run.",
        after_help = "Example:\n  spine-host check-plugin plugins/libspine_otc.so\n\n\
                      Exit codes: 0 the file passes every check, 2 no such file, 3 refused (one line naming \
                      the file and the reason)."
    )]
    CheckPlugin {
        /// The library to check (loading it runs its initialisers)
        file: PathBuf,
    },
    /// Interactive prompt: SQL (shown as tables) and dot-commands
    #[command(
        after_help = "Example:\n  spine-host shell\n  spine> .run example.hello name=Bob\n  \
                            spine> SELECT * FROM example_greetings;"
    )]
    Shell,
    /// Show loaded plugins and refused files with their reasons
    #[command(after_help = "Example:\n  spine-host plugins --json")]
    Plugins {
        /// One JSON object instead of tables
        #[arg(long)]
        json: bool,
    },
    /// List past executions, newest first, or show one
    #[command(
        after_help = "Examples:\n  spine-host executions --status failed --limit 5\n  spine-host executions show 0191a2"
    )]
    Executions(ExecutionsArgs),
    /// Run read-only SQL on the database (writes are refused)
    #[command(
        after_help = "Examples:\n  spine-host query \"SELECT * FROM otc_symbol_summary LIMIT 5\"\n  \
                            spine-host query \"SELECT pipeline, status FROM core_executions\" --format csv"
    )]
    Query {
        /// One SQL statement
        sql: String,
        /// Output format
        #[arg(long, value_enum, default_value = "table")]
        format: query::Format,
        /// The same as --format json
        #[arg(long, conflicts_with = "format")]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub(super) enum DbCommand {
    /// Create the database and apply every migration
    #[command(after_help = "Example:\n  spine-host --db market.db db init")]
    Init,
    /// Empty the database in place and apply every migration again
    ///
    /// Only an idle Market Spine database is reset: a file that is not one is
    /// refused (exit 2), and so is a database another process has open (exit 4);
    /// both are left as they were.
    #[command(after_help = "Example:\n  spine-host db reset --yes")]
    Reset {
        /// Do not ask for confirmation
        #[arg(long)]
        yes: bool,
    },
    /// Show applied and pending migrations per domain
    #[command(after_help = "Example:\n  spine-host db status")]
    Status,
}

#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub(super) struct RunArgs {
    /// Pipeline name, such as otc.ingest
    #[arg(required_unless_present = "help")]
    pub pipeline: Option<String>,
    /// Print help; with a pipeline, its description and parameters too
    #[arg(short = 'h', long, action = clap::ArgAction::SetTrue)]
    pub help: bool,
    /// A parameter, as key=value (repeatable)
    #[arg(short = 'p', long = "param", value_name = "KEY=VALUE")]
    pub params: Vec<String>,
    /// Lane the execution is recorded under
    #[arg(long, value_enum, default_value = "normal")]
    pub lane: Lane,
    /// What started this run
    #[arg(long, value_enum, default_value = "cli")]
    pub trigger: TriggerSource,
    /// Refuse to start while another run with this key is running
    #[arg(long)]
    pub logical_key: Option<String>,
    /// Print the execution as one JSON object
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub(super) struct ExecutionsArgs {
    #[command(subcommand)]
    pub show: Option<ExecutionsCommand>,
    /// Only this pipeline
    #[arg(long)]
    pub pipeline: Option<String>,
    /// Only this status (running, completed, failed, cancelled)
    #[arg(long)]
    pub status: Option<String>,
    /// Only executions created on or after this date (YYYY-MM-DD)
    #[arg(long)]
    pub since: Option<String>,
    /// At most this many rows
    #[arg(long, default_value_t = 20)]
    pub limit: u32,
    /// One JSON array instead of a table
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub(super) enum ExecutionsCommand {
    /// Everything stored about one execution (a unique id prefix is enough)
    Show {
        id: String,
        /// One JSON object
        #[arg(long)]
        json: bool,
    },
}

/// Splits `key=value`; the value may itself contain `=`.
pub(super) fn parse_assignment(text: &str) -> Result<(String, String)> {
    match text.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => Ok((key.trim().to_owned(), value.to_owned())),
        _ => Err(usage(format!(
            "parameter `{text}` is not of the form key=value (for example -p name=Bob)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn assignment_needs_an_equals_sign() {
        use super::parse_assignment;
        assert_eq!(parse_assignment("a=b=c").unwrap(), ("a".into(), "b=c".into()));
        assert!(parse_assignment("novalue").is_err());
        assert!(parse_assignment("=x").is_err());
    }
}
