//! Shared test support: builds the real plugin libraries once, and gives each
//! test a temporary folder with its own plugins folder and SQLite file.
//!
//! Plugins are built by a nested `cargo build` into their own target folder,
//! so `cargo test -p spine-host` on a fresh clone finds them too and never
//! waits on the outer cargo's lock.
#![allow(dead_code)] // each test binary uses a different part of this module

use spine_host::config::Config;
use spine_host::session::Session;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use tempfile::TempDir;

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ has a parent")
        .to_path_buf()
}

/// The target folder the test plugins are built into.
pub fn plugin_target_dir() -> PathBuf {
    workspace_root().join("target").join("test-plugins")
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}

/// Builds every plugin crate of the workspace (once per test binary) and
/// returns the folder holding the `.so` files.
pub fn built_plugins_dir() -> &'static Path {
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
pub fn plugin_library(lib_name: &str) -> PathBuf {
    let path = built_plugins_dir().join(format!("lib{lib_name}.so"));
    assert!(path.exists(), "{} was not built", path.display());
    path
}

/// A temporary folder with `plugins/` and `spine.db` inside.
pub struct TestEnv {
    pub dir: TempDir,
    pub plugins: PathBuf,
    pub db: PathBuf,
}

impl TestEnv {
    /// An empty plugins folder and no database yet.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("creating a temporary folder");
        let plugins = dir.path().join("plugins");
        std::fs::create_dir(&plugins).expect("creating plugins/");
        let db = dir.path().join("spine.db");
        Self { dir, plugins, db }
    }

    /// A folder with the given plugins (`spine_example`, `spine_otc`, …) installed.
    pub fn with_plugins(lib_names: &[&str]) -> Self {
        let env = Self::new();
        for name in lib_names {
            env.install(name);
        }
        env
    }

    /// Installs a built plugin the safe way: copy to a temporary name, rename.
    pub fn install(&self, lib_name: &str) {
        let target = self.plugins.join(format!("lib{lib_name}.so"));
        let temporary = self.plugins.join(format!(".lib{lib_name}.so.tmp"));
        std::fs::copy(plugin_library(lib_name), &temporary).expect("copying the plugin");
        std::fs::rename(&temporary, &target).expect("renaming the plugin into place");
    }

    /// The real `spine-host` binary, run in the folder with its own database
    /// and plugins folder, quiet logs and no colour.
    pub fn cmd(&self) -> assert_cmd::Command {
        let mut cmd = self.bare_cmd();
        cmd.arg("--db")
            .arg(&self.db)
            .arg("--plugins-dir")
            .arg(&self.plugins);
        cmd
    }

    /// Like [`TestEnv::cmd`] but without `--db` and `--plugins-dir`.
    pub fn bare_cmd(&self) -> assert_cmd::Command {
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
    pub fn background_cmd(&self) -> std::process::Command {
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

    /// The settings a session in this folder uses.
    pub fn config(&self) -> Config {
        Config {
            database_path: self.db.clone(),
            plugins_dir: self.plugins.clone(),
            data_dir: self.dir.path().join("data"),
            log_level: log::LevelFilter::Warn,
            today: spine_host::config::utc_today(),
        }
    }

    /// A library-level session (registry + database), as the CLI opens it.
    pub fn session(&self) -> Session {
        Session::open(self.config()).expect("opening a session")
    }

    /// A separate connection to the database, for checking what is stored.
    pub fn conn(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(&self.db).expect("opening the test database")
    }

    /// One integer from a query on the database.
    pub fn count(&self, sql: &str) -> i64 {
        self.conn()
            .query_row(sql, [], |row| row.get(0))
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }
}

/// Stdout of a finished command, as text.
pub fn stdout_of(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Stderr of a finished command, as text.
pub fn stderr_of(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Reads `child`'s stderr (a run logging at info) until it says it waits
/// for another process's run, and keeps reading the rest on a thread (so that it never blocks on
/// a full pipe); returns that thread, which gives the rest.
pub fn wait_until_waiting_for_lock(child: &mut std::process::Child) -> std::thread::JoinHandle<String> {
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
