//! `spine-host shell`: an interactive prompt with history and line editing.
//!
//! SQL (read-only, ended by `;`) is shown as tables; dot-commands inspect and
//! run pipelines. An error prints and the shell goes on. When standard input
//! is not a terminal the shell reads it line by line, without prompts, so it
//! can be scripted.

use super::args::parse_assignment;
use super::history;
use super::output::{print_pipelines, print_run};
use super::query::{self, Format};
use crate::config::Config;
use crate::dispatcher::Submission;
use crate::error::{usage, ExitCode};
use crate::executions::Filter;
use crate::progress::Progress;
use crate::reader::{self, Reader};
use crate::session::Session;
use anyhow::Result;
use std::io::{BufRead, IsTerminal};
use std::sync::atomic::AtomicBool;

const HELP: &str = "\
SQL ends with `;` and is read-only; results are shown as tables.
.tables                      list the tables and views
.schema [TABLE]              show CREATE statements
.pipelines                   list the pipelines
.run PIPELINE key=value ...  run a pipeline and record the execution
.executions                  the last 20 executions
.help                        this text
.quit                        leave (Ctrl-D works too)";

/// Where lines come from: a line editor on a terminal, plain stdin otherwise.
enum Input {
    Editor(Box<rustyline::DefaultEditor>),
    Piped(std::io::StdinLock<'static>),
}

impl Input {
    fn next_line(&mut self, prompt: &str) -> Result<Option<String>> {
        match self {
            Input::Editor(editor) => match editor.readline(prompt) {
                Ok(line) => {
                    let _ = editor.add_history_entry(line.as_str());
                    Ok(Some(line))
                }
                Err(rustyline::error::ReadlineError::Interrupted) => Ok(Some(String::new())),
                Err(rustyline::error::ReadlineError::Eof) => Ok(None),
                Err(error) => Err(error.into()),
            },
            Input::Piped(stdin) => {
                let mut line = String::new();
                Ok((stdin.read_line(&mut line)? > 0).then_some(line))
            }
        }
    }
}

fn history_file() -> Option<std::path::PathBuf> {
    std::env::var_os("HOME").map(|home| std::path::Path::new(&home).join(".spine_history"))
}

pub(super) fn run(config: Config) -> Result<ExitCode> {
    let session = Session::open_existing(config)?;
    let reader = session.reader()?;
    let mut input = if std::io::stdin().is_terminal() {
        let mut editor = rustyline::DefaultEditor::new()?;
        if let Some(file) = history_file() {
            let _ = editor.load_history(&file);
        }
        outln!("Market Spine shell; .help for help, .quit to leave");
        Input::Editor(Box::new(editor))
    } else {
        Input::Piped(std::io::stdin().lock())
    };
    let mut statement = String::new();
    loop {
        let prompt = if statement.is_empty() {
            "spine> "
        } else {
            "  ...> "
        };
        let Some(line) = input.next_line(prompt)? else {
            break;
        };
        let trimmed = line.trim();
        if statement.is_empty() && trimmed.starts_with('.') {
            match dot_command(&session, &reader, trimmed) {
                Ok(Flow::Quit) => break,
                Ok(Flow::Continue) => {}
                Err(error) => errln!("error: {error:#}"),
            }
            continue;
        }
        statement.push_str(&line);
        statement.push('\n');
        if trimmed.ends_with(';') {
            run_sql(&reader, &statement);
            statement.clear();
        }
    }
    if !statement.trim().is_empty() {
        run_sql(&reader, &statement);
    }
    if let (Input::Editor(editor), Some(file)) = (&mut input, history_file()) {
        let _ = editor.save_history(&file);
    }
    Ok(ExitCode::Success)
}

fn run_sql(reader: &Reader, sql: &str) {
    if let Err(error) = query::run(reader, sql.trim(), Format::Table, &mut std::io::stdout().lock()) {
        errln!("error: {error:#}");
    }
}

enum Flow {
    Continue,
    Quit,
}

fn dot_command(session: &Session, reader: &Reader, line: &str) -> Result<Flow> {
    // Shell-style words: `.run example.hello name="Ann Lee"` passes one value.
    let Some(words) = shlex::split(line) else {
        return Err(usage(format!(
            "`{}` has an unclosed quote; quote values as a shell does: name=\"Ann Lee\"",
            crate::text::escape_controls(line)
        )));
    };
    let mut words = words.iter().map(String::as_str);
    let command = words.next().unwrap_or_default();
    let args: Vec<&str> = words.collect();
    match command {
        ".quit" | ".exit" => return Ok(Flow::Quit),
        ".help" => outln!("{HELP}"),
        ".tables" => query::run(
            reader,
            reader::TABLES,
            Format::Table,
            &mut std::io::stdout().lock(),
        )?,
        ".schema" => print_schema(reader, args.first().copied())?,
        ".pipelines" => print_pipelines(session.registry()),
        ".executions" => {
            let rows = session.executions(&Filter {
                limit: 20,
                ..Filter::default()
            })?;
            history::print_table(&rows);
        }
        ".run" => {
            let Some((pipeline, assignments)) = args.split_first() else {
                return Err(usage(".run needs a pipeline: .run PIPELINE key=value ..."));
            };
            let params = assignments
                .iter()
                .map(|a| parse_assignment(a))
                .collect::<Result<Vec<_>>>()?;
            let submission = Submission {
                params,
                ..Submission::new(pipeline, &[])
            };
            let cancel = AtomicBool::new(false);
            let execution = session
                .dispatcher(&cancel)
                .submit(&submission, &Progress::for_terminal(false))?;
            print_run(&execution);
        }
        other => {
            return Err(usage(format!(
                "unknown command `{other}`; .help lists the commands"
            )))
        }
    }
    Ok(Flow::Continue)
}

fn print_schema(reader: &Reader, table: Option<&str>) -> Result<()> {
    let statements = reader.schema(table)?;
    if statements.is_empty() {
        if let Some(table) = table {
            return Err(usage(format!("no table named `{table}`")));
        }
    }
    for sql in statements {
        outln!("{sql};");
    }
    Ok(())
}
