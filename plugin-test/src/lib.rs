//! `spine-plugin-test`: run a Market Spine plugin's pipelines in the plugin's
//! own `cargo test`, with no `.so` and no `spine-host` binary.
//!
//! A [`Harness`] takes the plugin's [`Plugin`] value (what its `plugin()`
//! function returns), creates a SQLite database in a temporary folder, and
//! applies the host's and the plugin's migrations. [`Harness::run`] then runs
//! a pipeline the way `spine-host run` does, through the host's own code:
//! parameters checked against the pipeline's declaration, the plugin's
//! factory, the execution recorded, one transaction that commits or rolls
//! back, and the fence around the plugin's SQL. It returns the recorded
//! [`Execution`]; [`Harness::query`] reads the database back, read-only.
//!
//! ```
//! use spine_plugin_api::{Context, Metrics, Param, ParamKind, Pipeline, PipelineDef, Plugin, Result};
//! use spine_plugin_test::{json, Harness, Status};
//!
//! fn plugin() -> Plugin {
//!     Plugin::new("acme", "1.0.0", "Acme greetings")
//!         .migration(1, "acme_greetings", "CREATE TABLE acme_greetings (name TEXT NOT NULL)")
//!         .pipeline(
//!             PipelineDef::new("acme.greet", "Greets someone")
//!                 .param(Param::new("name", ParamKind::String).default("World")),
//!             |params| Ok(Greet { name: params.str("name")?.to_owned() }),
//!         )
//! }
//!
//! struct Greet { name: String }
//!
//! impl Pipeline for Greet {
//!     fn run(&mut self, ctx: &mut Context<'_>) -> Result<Metrics> {
//!         ctx.execute("INSERT INTO acme_greetings (name) VALUES (?1)", &[(&self.name).into()])?;
//!         Ok(Metrics::new().with("greeted", 1))
//!     }
//! }
//!
//! let harness = Harness::new(plugin()).unwrap();
//! let run = harness.run("acme.greet", &[("name", "Ann")]).unwrap();
//! assert_eq!(run.status, Status::Completed, "{:?}", run.error);
//! assert_eq!(run.metrics["greeted"], 1);
//! assert_eq!(harness.query("SELECT name FROM acme_greetings").unwrap(), [json!({"name": "Ann"})]);
//!
//! // What `spine-host run` refuses before running is an error, with its exit code.
//! let refused = harness.run("acme.greet", &[("nmae", "Bob")]).unwrap_err();
//! assert_eq!(refused.exit_code(), 2);
//! assert!(refused.message().contains("did you mean `name`"), "{refused}");
//! ```
//!
//! Add it to the plugin crate as a dev-dependency, from the same place as
//! `spine-plugin-api` (the same git tag, or the same checkout):
//!
//! ```toml
//! [dev-dependencies]
//! spine-plugin-test = { git = "https://github.com/your-org/market-spine", tag = "v0.1.0" }
//! ```
//!
//! It links the host and its SQLite into the test binary only: a
//! dev-dependency never reaches the plugin's library, which must not carry
//! SQLite.
//!
//! What differs from the binary: the loader's checks of a library file (ELF,
//! SQLite, ABI version) have no file to judge, and runs are never cancelled.
//! The log lines of a run are kept in [`Execution::logs`] rather than
//! printed.

mod logs;

use spine_host::error::exit_code_for;
use spine_host::executions;
use spine_host::testing::TestHost;
use spine_plugin_api::Plugin;
use std::fmt;
use std::path::PathBuf;
use tempfile::TempDir;

/// JSON values, for comparing metrics, parameters and query rows.
pub use serde_json::{json, Value};

/// A plugin, a temporary database, and the host's runner over them.
pub struct Harness {
    host: TestHost,
    /// Holds the database; removed when the harness is dropped.
    folder: TempDir,
}

impl Harness {
    /// Checks `plugin`'s declarations as the host's loader does (domain,
    /// pipeline names, parameter kinds, migration numbering), creates a
    /// database in a new temporary folder, and applies the host's and the
    /// plugin's migrations, under the same fence as in the host. An error
    /// says what the host would have refused, for example a migration that
    /// writes another domain's table.
    ///
    /// Today's date is the host's: `SPINE_TODAY` when set, else the UTC date
    /// (see [`Harness::set_today`]).
    pub fn new(plugin: Plugin) -> Result<Self, HostError> {
        let folder = tempfile::Builder::new()
            .prefix("spine-plugin-test-")
            .tempdir()
            .map_err(|e| HostError::environment(format!("creating a temporary folder: {e}")))?;
        let host = TestHost::open(&folder.path().join("spine.db"), plugin).map_err(HostError::from_host)?;
        Ok(Self { host, folder })
    }

    /// Fixes today's date as the plugin's runs see it (`ctx.today()`), as
    /// `SPINE_TODAY=YYYY-MM-DD` does for `spine-host`.
    ///
    /// ```
    /// # let mut harness = spine_plugin_test::Harness::new(spine_plugin_api::Plugin::new("acme", "1", "d")).unwrap();
    /// harness.set_today("2025-12-15").unwrap();
    /// assert_eq!(harness.set_today("2025-12-32").unwrap_err().exit_code(), 2);
    /// ```
    pub fn set_today(&mut self, date: &str) -> Result<(), HostError> {
        let today = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d")
            .ok()
            .filter(|today| today.format("%Y-%m-%d").to_string() == date)
            .ok_or_else(|| HostError::usage(format!("today: expected a date YYYY-MM-DD, found {date:?}")))?;
        self.host.set_today(today);
        Ok(())
    }

    /// Where a relative path parameter that does not exist from the working
    /// folder is looked up, as `spine-host --data-dir` (default `data`). The
    /// working folder of `cargo test` is the crate's folder.
    pub fn set_data_dir(&mut self, folder: impl Into<PathBuf>) {
        self.host.set_data_dir(folder.into());
    }

    /// Runs `pipeline` with `params` given as on the command line
    /// (`("days", "5")` for `-p days=5`) and returns the execution the host
    /// recorded: completed with its metrics, or failed with its error, in
    /// which case every write of the run was rolled back.
    ///
    /// An `Err` is a run `spine-host run` refuses before anything runs, with
    /// its exit code: an unknown pipeline or parameter, a value of the wrong
    /// kind, a value the factory refuses with a `<domain>.params` code (exit
    /// code 2).
    pub fn run(&self, pipeline: &str, params: &[(&str, &str)]) -> Result<Execution, HostError> {
        let (execution, logs) = logs::capture(|| self.host.run(pipeline, params));
        Execution::from_host(execution.map_err(HostError::from_host)?, logs)
    }

    /// The rows of one read-only statement, one JSON object per row keyed by
    /// column name, as `spine-host query --format json` prints them (blobs
    /// as hex). A statement that would write is refused.
    ///
    /// ```
    /// # let harness = spine_plugin_test::Harness::new(spine_plugin_api::Plugin::new("acme", "1", "d")).unwrap();
    /// use spine_plugin_test::json;
    ///
    /// let rows = harness.query("SELECT COUNT(*) AS runs FROM core_executions").unwrap();
    /// assert_eq!(rows, [json!({"runs": 0})]);
    /// assert_eq!(harness.query("DELETE FROM core_executions").unwrap_err().exit_code(), 2);
    /// ```
    pub fn query(&self, sql: &str) -> Result<Vec<Value>, HostError> {
        self.host.query(sql).map_err(HostError::from_host)
    }

    /// The database file, to inspect it with other tools while the harness
    /// lives (it is deleted with the harness).
    pub fn database_path(&self) -> PathBuf {
        self.folder.path().join("spine.db")
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Status {
    /// `run` returned `Ok`: its writes and its record committed together.
    Completed,
    /// `run` or the factory returned an error or panicked: every write was
    /// rolled back, and [`Execution::error`] says why.
    Failed,
    /// Stopped by the operator (Ctrl-C); the harness never cancels.
    Cancelled,
}

/// One execution as the host recorded it in `core_executions`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Execution {
    /// The execution id (`ctx.execution_id()` in the run).
    pub id: String,
    /// The pipeline's full name.
    pub pipeline: String,
    /// How it ended.
    pub status: Status,
    /// The parameters as validated, defaults filled in (a JSON object).
    pub params: Value,
    /// The run's metrics (a JSON object), `Null` unless it completed.
    pub metrics: Value,
    /// The error, on one line (`location: message (help: …)`), when it failed.
    pub error: Option<String>,
    /// The lines the run logged, as `spine-host` prints them on stderr
    /// (`INFO  acme: stored 5 quotes`), at every level. Empty when the test
    /// process has a logger of its own (`log` allows one per process).
    pub logs: Vec<String>,
}

impl Execution {
    fn from_host(execution: executions::Execution, logs: Vec<String>) -> Result<Self, HostError> {
        let status = match execution.status {
            executions::Status::Completed => Status::Completed,
            executions::Status::Failed => Status::Failed,
            executions::Status::Cancelled => Status::Cancelled,
            other => {
                return Err(HostError::environment(format!(
                    "execution {} ended {}, not completed, failed or cancelled",
                    execution.id,
                    other.as_str()
                )))
            }
        };
        Ok(Self {
            id: execution.id,
            pipeline: execution.pipeline,
            status,
            params: execution.params,
            metrics: execution.metrics.unwrap_or(Value::Null),
            error: execution.error,
            logs,
        })
    }
}

/// What `spine-host` would have printed instead of running, and the exit
/// code it would have ended with (2 bad usage, 3 environment, 4 in use).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostError {
    message: String,
    exit_code: i32,
}

impl HostError {
    fn from_host(error: anyhow::Error) -> Self {
        Self {
            message: format!("{error:#}"),
            exit_code: exit_code_for(&error) as i32,
        }
    }

    fn usage(message: String) -> Self {
        Self {
            message,
            exit_code: 2,
        }
    }

    fn environment(message: String) -> Self {
        Self {
            message,
            exit_code: 3,
        }
    }

    /// The message, on one line.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// `spine-host`'s exit code for it.
    pub fn exit_code(&self) -> i32 {
        self.exit_code
    }
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (exit code {})", self.message, self.exit_code)
    }
}

impl std::error::Error for HostError {}
