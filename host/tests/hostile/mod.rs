//! The hostile fixture plugin (`host/tests/fixtures/hostile-plugin`): built
//! once per test binary into the shared test-plugins target folder, and
//! configured per command through the environment (see its `lib.rs`).
#![allow(dead_code)] // each test binary uses a different part of this module

use crate::common::{self, TestEnv};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The built fixture library.
pub fn library() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()))
            .current_dir(common::workspace_root())
            .env("CARGO_TARGET_DIR", common::plugin_target_dir())
            .args(["build", "--quiet", "-p", "spine-hostile"])
            .status()
            .expect("running cargo build for the hostile plugin");
        assert!(status.success(), "building the hostile plugin failed");
        let library = common::plugin_target_dir().join("debug/libspine_hostile.so");
        assert!(library.exists(), "{} was not built", library.display());
        library
    })
}

/// Installs the fixture as `plugins/lib<name>.so` (temporary file, then
/// rename); returns the installed path.
pub fn install(env: &TestEnv, name: &str) -> PathBuf {
    install_file(env, library(), name)
}

/// Installs `file` as `plugins/lib<name>.so`, the way the guide says.
pub fn install_file(env: &TestEnv, file: &Path, name: &str) -> PathBuf {
    let target = env.plugins.join(format!("lib{name}.so"));
    let temporary = env.plugins.join(format!(".lib{name}.so.tmp"));
    std::fs::copy(file, &temporary).expect("copying the plugin");
    std::fs::rename(&temporary, &target).expect("renaming the plugin into place");
    target
}

/// `spine-host` in `env`, with the hostile plugin playing domain `domain`.
pub fn cmd(env: &TestEnv, domain: &str) -> assert_cmd::Command {
    let mut cmd = env.cmd();
    cmd.env("HOSTILE_DOMAIN", domain);
    cmd
}

/// Runs `<domain>.sql` with `statement`; returns the output.
pub fn run_sql(env: &TestEnv, domain: &str, statement: &str) -> std::process::Output {
    cmd(env, domain)
        .args(["run", &format!("{domain}.sql"), "--json", "-p"])
        .arg(format!("statement={statement}"))
        .output()
        .expect("running spine-host")
}
