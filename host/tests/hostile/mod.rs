//! The hostile fixture plugin (`host/tests/fixtures/hostile-plugin`): built
//! once per test binary into the shared test-plugins target folder, and
//! configured per command through the environment (see its `lib.rs`).
#![allow(dead_code)] // each test binary uses a different part of this module

use crate::common::{self, TestEnv};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The built fixture library.
pub(crate) fn library() -> &'static Path {
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
pub(crate) fn install(env: &TestEnv, name: &str) -> PathBuf {
    install_file(env, library(), name)
}

/// Installs `file` as `plugins/lib<name>.so`, the way the guide says.
pub(crate) fn install_file(env: &TestEnv, file: &Path, name: &str) -> PathBuf {
    let target = env.plugins.join(format!("lib{name}.so"));
    let temporary = env.plugins.join(format!(".lib{name}.so.tmp"));
    std::fs::copy(file, &temporary).expect("copying the plugin");
    std::fs::rename(&temporary, &target).expect("renaming the plugin into place");
    target
}

/// `spine-host` in `env`, with the hostile plugin playing domain `domain`.
pub(crate) fn cmd(env: &TestEnv, domain: &str) -> assert_cmd::Command {
    let mut cmd = env.cmd();
    cmd.env("HOSTILE_DOMAIN", domain);
    cmd
}

/// Runs `<domain>.sql` with `statement`; returns the output.
pub(crate) fn run_sql(env: &TestEnv, domain: &str, statement: &str) -> std::process::Output {
    cmd(env, domain)
        .args(["run", &format!("{domain}.sql"), "--json", "-p"])
        .arg(format!("statement={statement}"))
        .output()
        .expect("running spine-host")
}

/// Builds, with the system's C compiler, a stand-in for the system's SQLite:
/// a tiny library whose SONAME is `libsqlite3.so.0` and which defines
/// `sqlite3_libversion`. Returns the folder holding `libsqlite3.so.0` (and
/// `libsqlite3.so`, for a linker).
pub(crate) fn stub_sqlite(parent: &Path) -> PathBuf {
    let dir = parent.join("stub-sqlite");
    std::fs::create_dir_all(&dir).expect("creating the stub's folder");
    let source = dir.join("stub.c");
    std::fs::write(
        &source,
        "const char *sqlite3_libversion(void) { return \"3.40.0 (a stand-in)\"; }\n\
         int sqlite3_libversion_number(void) { return 3040000; }\n",
    )
    .expect("writing the stub's source");
    let library = dir.join("libsqlite3.so.0");
    cc(&[
        "-shared",
        "-fPIC",
        "-Wl,-soname,libsqlite3.so.0",
        "-o",
        library.to_str().unwrap(),
        source.to_str().unwrap(),
    ]);
    std::fs::copy(&library, dir.join("libsqlite3.so")).expect("copying the stub for the linker");
    dir
}

/// Runs the system's C compiler with `args`.
pub(crate) fn cc(args: &[&str]) {
    let output = Command::new("cc").args(args).output().expect("running cc");
    assert!(
        output.status.success(),
        "cc {args:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A copy of `library` with every symbol stripped (`strip --strip-all`).
pub(crate) fn stripped(library: &Path, into: &Path) -> PathBuf {
    let name = library.file_name().expect("a library file name");
    let out = into.join(format!("stripped-{}", name.to_string_lossy()));
    let status = Command::new("strip")
        .arg("--strip-all")
        .arg("-o")
        .arg(&out)
        .arg(library)
        .status()
        .expect("running strip");
    assert!(status.success(), "strip {} failed", library.display());
    out
}
