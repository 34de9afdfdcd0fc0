//! The command line: [`main`] reads the arguments (`args`), runs one
//! command (`commands`), and prints any error once.
//!
//! Output: human tables on stdout, logs and errors on stderr, `--json` for
//! scripts. Exit codes are [`ExitCode`]'s, documented in the README.

mod args;
mod commands;
mod history;
mod output;
pub(crate) mod query;
mod shell;

use crate::config::{self, Config};
use crate::error::{exit_code_for, ExitCode};
use args::Cli;
use clap::Parser;

/// Runs the command line; returns the process exit code.
pub fn main() -> i32 {
    if let Err(error) = config::load_dotenv() {
        errln!("error: {error:#}");
        return ExitCode::Usage as i32;
    }
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if let Some(message) = param_without_equals(&args) {
        errln!("error: {message}");
        return ExitCode::Usage as i32;
    }
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(error) => error.exit(),
    };
    crate::logging::init(cli.log_level);
    let today = match config::today() {
        Ok(today) => today,
        Err(error) => {
            errln!("error: {error:#}");
            return ExitCode::Usage as i32;
        }
    };
    let config = Config {
        database_path: cli.database_path,
        plugins_dir: cli.plugins_dir,
        data_dir: cli.data_dir,
        log_level: cli.log_level,
        today,
    };
    let code = match commands::dispatch(config, cli.command) {
        Ok(code) => code,
        // The reader of stdout went away (`| head`): what it wanted is printed.
        Err(error) if ends_in_closed_pipe(&error) => ExitCode::Success,
        Err(error) => {
            errln!("error: {error:#}");
            exit_code_for(&error)
        }
    };
    match crate::console::output_error() {
        Some(error) if code == ExitCode::Success => {
            errln!("error: writing the output: {error}");
            ExitCode::Environment as i32
        }
        _ => code as i32,
    }
}

/// `-p week_ending 2025-11-28` (a space where `=` belongs) would reach clap
/// as a stray argument; say what to write instead.
fn param_without_equals(args: &[std::ffi::OsString]) -> Option<String> {
    args.windows(3).find_map(|window| {
        let [flag, key, value] = window else { return None };
        let (key, value) = (key.to_str()?, value.to_str()?);
        let is_param = flag == "-p" || flag == "--param";
        (is_param && !key.contains('=') && !key.starts_with('-') && !value.starts_with('-')).then(|| {
            format!(
                "`{} {key} {value}`: write -p key=value, as in -p {key}={value}",
                flag.to_string_lossy()
            )
        })
    })
}

fn ends_in_closed_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        let io = cause.downcast_ref::<std::io::Error>().or_else(|| {
            match cause.downcast_ref::<csv::Error>()?.kind() {
                csv::ErrorKind::Io(io) => Some(io),
                _ => None,
            }
        });
        io.is_some_and(crate::console::is_closed_pipe)
    })
}
