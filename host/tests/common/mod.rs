//! Shared test support: builds the real plugin libraries once, and gives each
//! test a temporary folder with its own plugins folder and SQLite file.
//!
//! Plugins are built by a nested `cargo build` into their own target folder,
//! so `cargo test -p spine-host` on a fresh clone finds them too and never
//! waits on the outer cargo's lock.
//!
//! No outcome depends on how long anything takes: a test that needs a run in
//! progress starts one that holds on until told to stop ([`UntilStopped`]),
//! and waits for events (a file, a line on stderr, a row), never for time.
#![allow(dead_code)] // each test binary uses a different part of this module

use spine_host::config::Config;
use spine_host::session::Session;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::{mpsc, OnceLock};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// The workspace root.
pub(crate) fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ has a parent")
        .to_path_buf()
}

/// The target folder the test plugins are built into.
pub(crate) fn plugin_target_dir() -> PathBuf {
    workspace_root().join("target").join("test-plugins")
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}

/// Builds every plugin crate of the workspace (once per test binary) and
/// returns the folder holding the `.so` files.
pub(crate) fn built_plugins_dir() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let status = Command::new(cargo())
            .current_dir(workspace_root())
            .env("CARGO_TARGET_DIR", plugin_target_dir())
            .args([
                "build",
                "--quiet",
                "-p",
                "spine-example",
                "-p",
                "spine-otc",
                "-p",
                "spine-faulty",
            ])
            .status()
            .expect("running cargo build for the test plugins");
        assert!(status.success(), "building the test plugins failed");
        plugin_target_dir().join("debug")
    })
}

/// The built library of crate `lib_name` (for example `spine_example`).
pub(crate) fn plugin_library(lib_name: &str) -> PathBuf {
    let path = built_plugins_dir().join(format!("lib{lib_name}.so"));
    assert!(path.exists(), "{} was not built", path.display());
    path
}

/// A temporary folder with `plugins/` and `spine.db` inside.
pub(crate) struct TestEnv {
    pub dir: TempDir,
    pub plugins: PathBuf,
    pub db: PathBuf,
}

impl TestEnv {
    /// An empty plugins folder and no database yet.
    pub(crate) fn new() -> Self {
        let dir = tempfile::tempdir().expect("creating a temporary folder");
        let plugins = dir.path().join("plugins");
        std::fs::create_dir(&plugins).expect("creating plugins/");
        let db = dir.path().join("spine.db");
        Self { dir, plugins, db }
    }

    /// A folder with the given plugins (`spine_example`, `spine_otc`, …) installed.
    pub(crate) fn with_plugins(lib_names: &[&str]) -> Self {
        let env = Self::new();
        for name in lib_names {
            env.install(name);
        }
        env
    }

    /// Installs a built plugin the safe way: copy to a temporary name, rename.
    pub(crate) fn install(&self, lib_name: &str) {
        let target = self.plugins.join(format!("lib{lib_name}.so"));
        let temporary = self.plugins.join(format!(".lib{lib_name}.so.tmp"));
        std::fs::copy(plugin_library(lib_name), &temporary).expect("copying the plugin");
        std::fs::rename(&temporary, &target).expect("renaming the plugin into place");
    }

    /// The real `spine-host` binary, run in the folder with its own database
    /// and plugins folder, quiet logs and no colour.
    pub(crate) fn cmd(&self) -> assert_cmd::Command {
        let mut cmd = self.bare_cmd();
        cmd.arg("--db")
            .arg(&self.db)
            .arg("--plugins-dir")
            .arg(&self.plugins);
        cmd
    }

    /// Like [`TestEnv::cmd`] but without `--db` and `--plugins-dir`.
    pub(crate) fn bare_cmd(&self) -> assert_cmd::Command {
        let mut cmd = assert_cmd::Command::cargo_bin("spine-host").expect("the spine-host binary");
        cmd.current_dir(self.dir.path())
            .env_remove("SPINE_DATABASE_PATH")
            .env_remove("SPINE_PLUGINS_DIR")
            .env_remove("SPINE_DATA_DIR")
            .env_remove("SPINE_TODAY")
            .env("SPINE_LOG_LEVEL", "warn")
            .env("NO_COLOR", "1");
        cmd
    }

    /// The real binary as a `std::process::Command`, for runs in the
    /// background: this folder's database and plugins, warnings only, stdout
    /// and stderr piped.
    pub(crate) fn background_cmd(&self) -> std::process::Command {
        let mut command = Command::new(assert_cmd::cargo::cargo_bin("spine-host"));
        command
            .current_dir(self.dir.path())
            .env_remove("SPINE_TODAY")
            .env("SPINE_LOG_LEVEL", "warn")
            .arg("--db")
            .arg(&self.db)
            .arg("--plugins-dir")
            .arg(&self.plugins)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        command
    }

    /// A `faulty.until_stopped` run named `name` (the `spine_faulty` plugin
    /// must be installed): its files live in this folder.
    pub(crate) fn until_stopped(&self, name: &str) -> UntilStopped {
        UntilStopped {
            running_file: self.dir.path().join(format!("{name}.running")),
            stop_file: self.dir.path().join(format!("{name}.stop")),
        }
    }

    /// The settings a session in this folder uses.
    pub(crate) fn config(&self) -> Config {
        Config {
            database_path: self.db.clone(),
            plugins_dir: self.plugins.clone(),
            data_dir: self.dir.path().join("data"),
            log_level: log::LevelFilter::Warn,
            today: spine_host::config::utc_today(),
        }
    }

    /// A library-level session (registry + database), as the CLI opens it.
    pub(crate) fn session(&self) -> Session {
        Session::open(self.config()).expect("opening a session")
    }

    /// A separate connection to the database, for checking what is stored.
    pub(crate) fn conn(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(&self.db).expect("opening the test database")
    }

    /// One integer from a query on the database.
    pub(crate) fn count(&self, sql: &str) -> i64 {
        self.conn()
            .query_row(sql, [], |row| row.get(0))
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }
}

/// Stdout of a finished command, as text.
pub(crate) fn stdout_of(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Stderr of a finished command, as text.
pub(crate) fn stderr_of(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Reads `child`'s stderr (a run logging at info) until it says it waits
/// for another process's run, and keeps reading the rest on a thread (so that it never blocks on
/// a full pipe); returns that thread, which gives the rest.
pub(crate) fn wait_until_waiting_for_lock(
    child: &mut std::process::Child,
) -> std::thread::JoinHandle<String> {
    let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = String::new();
    loop {
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("the run ended without waiting for the lock: {seen}"))
            .unwrap();
        seen.push_str(&line);
        seen.push('\n');
        if line.contains("waiting for another process's run to finish writing") {
            break;
        }
    }
    std::thread::spawn(move || lines.map_while(Result::ok).collect::<Vec<_>>().join("\n"))
}

/// How long a test waits for an event before it calls the process under
/// test hung. No outcome depends on it: a healthy process reaches every
/// awaited event long before, and without it a hang would never end the test.
pub(crate) const HUNG_AFTER: Duration = Duration::from_secs(120);

/// Polls `ready` every few milliseconds until it gives a value; panics,
/// naming `what`, after [`HUNG_AFTER`].
pub(crate) fn wait_for<T>(what: &str, mut ready: impl FnMut() -> Option<T>) -> T {
    let hung = Instant::now() + HUNG_AFTER;
    loop {
        if let Some(value) = ready() {
            return value;
        }
        assert!(
            Instant::now() < hung,
            "{what}: still waiting after {HUNG_AFTER:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Waits for `child` to end (a hang fails after [`HUNG_AFTER`]); its
/// output, with whatever stdout and stderr it wrote that was not read yet.
pub(crate) fn finish(mut child: Child, what: &str) -> std::process::Output {
    wait_for(what, || child.try_wait().expect("polling a child process"));
    child.wait_with_output().expect("collecting a child's output")
}

/// A `faulty.until_stopped` run (see the fixture plugin): it writes its
/// rows, creates its running file, and then holds its transaction, and the
/// write lock, until the test calls [`UntilStopped::stop`] or presses Ctrl-C.
pub(crate) struct UntilStopped {
    running_file: PathBuf,
    stop_file: PathBuf,
}

impl UntilStopped {
    /// `run faulty.until_stopped` with its files, writing `rows` rows.
    pub(crate) fn args(&self, rows: u64) -> Vec<String> {
        vec![
            "run".to_owned(),
            "faulty.until_stopped".to_owned(),
            "-p".to_owned(),
            format!("rows={rows}"),
            "-p".to_owned(),
            format!("running_file={}", self.running_file.display()),
            "-p".to_owned(),
            format!("stop_file={}", self.stop_file.display()),
        ]
    }

    /// Waits until the run in `child` has written its rows and holds them
    /// uncommitted; returns its execution id. Panics if `child` ends first.
    pub(crate) fn wait_running(&self, child: &mut Child) -> String {
        let info = wait_for("the run never said it was running", || {
            if let Some(status) = child.try_wait().expect("polling the run") {
                panic!("the run ended ({status}) before it said it was running");
            }
            std::fs::read_to_string(&self.running_file).ok()
        });
        let info: serde_json::Value = serde_json::from_str(&info).expect("execution.info is JSON");
        info["execution_id"]
            .as_str()
            .expect("execution.info holds the execution id")
            .to_owned()
    }

    /// Lets the run complete: now if it is waiting, at once if it has not started.
    pub(crate) fn stop(&self) {
        std::fs::write(&self.stop_file, "stop").expect("creating the stop file");
    }
}

/// The lines `child` writes to stderr, as they come.
pub(crate) fn stderr_lines(child: &mut Child) -> mpsc::Receiver<String> {
    let stderr = child.stderr.take().expect("stderr is piped");
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if send.send(line).is_err() {
                break;
            }
        }
    });
    receive
}

/// Waits for a line of `lines` that contains `wanted`; returns the lines
/// read until then, that one included.
pub(crate) fn wait_for_line(lines: &mpsc::Receiver<String>, wanted: &str) -> Vec<String> {
    let mut read = Vec::new();
    loop {
        match lines.recv_timeout(HUNG_AFTER) {
            Ok(line) => {
                let found = line.contains(wanted);
                read.push(line);
                if found {
                    return read;
                }
            }
            Err(e) => panic!("no line with {wanted:?} ({e}); read: {read:#?}"),
        }
    }
}

/// Sends `signal` (such as `libc::SIGINT`) to our own child process.
pub(crate) fn signal(child: &Child, signal: libc::c_int) {
    let pid = libc::pid_t::try_from(child.id()).expect("a pid fits in pid_t");
    // SAFETY: kill(2) takes plain integers; the child is ours and not yet
    // reaped, so the pid is still its own.
    assert_eq!(unsafe { libc::kill(pid, signal) }, 0, "kill({pid}, {signal})");
}
