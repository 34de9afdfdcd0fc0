//! Third-party plugins: crates that live outside this workspace, built the way
//! the author's guide (`plugin-api/README.md`) says, from the guide's own
//! `Cargo.toml`, plugin and migration, then loaded by the real `spine-host`
//! binary from a plugins folder next to the real example plugin. Also the
//! refusals an outside author can run into: a plugin built against another
//! 0.y line of `spine-plugin-api`, a plugin that links its own SQLite
//! (stripped or not), and one that links the system's SQLite (a stand-in
//! built by the test with the system's C compiler).
//!
//! Each crate is written into a temporary folder as its own workspace, with
//! a copy of this workspace's `Cargo.lock` (same dependency versions), and
//! built into `target/test-plugins/third-party`, which stays warm between
//! runs. The first run compiles abi_stable, and SQLite's C for the last test.

mod common;
mod hostile;

use common::{stderr_of, stdout_of, TestEnv};
use spine_plugin_api::abi::API_VERSION;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A file of the guide's complete plugin: the fenced block that follows
/// `<!-- file: NAME -->` in `plugin-api/README.md`.
fn guide_file(name: &str) -> String {
    let guide = std::fs::read_to_string(common::workspace_root().join("plugin-api/README.md")).unwrap();
    let marker = format!("<!-- file: {name} -->\n");
    let start = guide
        .find(&marker)
        .unwrap_or_else(|| panic!("the guide has no {marker}"));
    let block = &guide[start + marker.len()..];
    let body = &block[block.find('\n').expect("a fence after the marker") + 1..];
    body[..body.find("\n```\n").expect("a closing fence") + 1].to_owned()
}

/// The guide's package line and dependency line, which each build replaces.
const GUIDE_PACKAGE: &str = "name = \"spine-acme\"";
const GUIDE_DEPENDENCY: &str = "spine-plugin-api = { path = \"../market-spine/plugin-api\" }";

/// Writes a plugin crate into `parent/<package>` and builds it with cargo;
/// returns the built library. The manifest is the guide's `Cargo.toml` (its
/// own workspace, `panic = "unwind"`), renamed to `package` and with
/// `dependencies` instead of the guide's path to `spine-plugin-api`. `files`
/// are the other files (at least `src/lib.rs`).
fn build_out_of_tree(parent: &Path, package: &str, dependencies: &str, files: &[(&str, String)]) -> PathBuf {
    let dir = parent.join(package);
    let manifest = guide_file("Cargo.toml");
    assert!(
        manifest.contains(GUIDE_PACKAGE) && manifest.contains(GUIDE_DEPENDENCY),
        "the guide's Cargo.toml changed; update this test:\n{manifest}"
    );
    let manifest = manifest
        .replace(GUIDE_PACKAGE, &format!("name = \"{package}\""))
        .replace(GUIDE_DEPENDENCY, dependencies);
    write(&dir.join("Cargo.toml"), &manifest);
    for (path, text) in files {
        write(&dir.join(path), text);
    }
    // Same dependency versions as the host, so compiled dependencies are reused.
    std::fs::copy(
        common::workspace_root().join("Cargo.lock"),
        dir.join("Cargo.lock"),
    )
    .expect("copying Cargo.lock");

    let target_dir = common::plugin_target_dir().join("third-party");
    let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()))
        .current_dir(&dir)
        .env("CARGO_TARGET_DIR", &target_dir)
        .args(["build", "--quiet"])
        .output()
        .expect("running cargo build");
    assert!(
        output.status.success(),
        "building {package} failed:\n{}",
        stderr_of(&output)
    );
    let library = target_dir
        .join("debug")
        .join(format!("lib{}.so", package.replace('-', "_")));
    assert!(library.exists(), "{} was not built", library.display());
    library
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("a file has a folder")).expect("creating a folder");
    std::fs::write(path, text).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
}

/// The `[dependencies]` line for a `spine-plugin-api` at `path`, as an
/// outside author writes it before the crate is published.
fn plugin_api_at(path: &Path) -> String {
    format!("spine-plugin-api = {{ path = '{}' }}", path.display())
}

/// Installs `library` into the plugins folder as the guide says: write a
/// temporary file, then rename it into place. Returns the installed path.
fn install(env: &TestEnv, library: &Path) -> PathBuf {
    let name = library.file_name().expect("a library file name");
    let installed = env.plugins.join(name);
    let temporary = env.plugins.join(format!(".{}.tmp", name.to_string_lossy()));
    std::fs::copy(library, &temporary).expect("copying the plugin");
    std::fs::rename(&temporary, &installed).expect("renaming the plugin into place");
    installed
}

/// `spine-host plugins --json`.
fn plugins_report(env: &TestEnv) -> serde_json::Value {
    let output = env.cmd().args(["plugins", "--json"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
    serde_json::from_slice(&output.stdout).unwrap()
}

/// The guide's complete plugin: `acme`, with one pipeline and one migration.
fn guide_plugin_files() -> [(&'static str, String); 2] {
    ["src/lib.rs", "migrations/001_acme_quotes.sql"].map(|name| (name, guide_file(name)))
}

#[test]
fn the_guides_plugin_builds_out_of_tree_loads_beside_the_example_and_runs_its_migration() {
    let crates = tempfile::tempdir().unwrap();
    let api = plugin_api_at(&common::workspace_root().join("plugin-api"));
    let library = build_out_of_tree(crates.path(), "spine-acme", &api, &guide_plugin_files());
    let env = TestEnv::with_plugins(&["spine_example"]);
    let installed = install(&env, &library);

    let report = plugins_report(&env);
    assert_eq!(report["refused"], serde_json::json!([]), "{report}");
    let loaded = report["loaded"].as_array().unwrap();
    let mut domains: Vec<&str> = loaded.iter().map(|p| p["domain"].as_str().unwrap()).collect();
    domains.sort_unstable();
    assert_eq!(domains, ["acme", "example"]);
    let acme = loaded.iter().find(|p| p["domain"] == "acme").unwrap();
    assert_eq!(acme["file"], installed.display().to_string());
    assert_eq!(acme["version"], "1.0.0");
    assert_eq!(acme["api_version"], API_VERSION);
    assert_eq!(acme["pipelines"], serde_json::json!(["acme.quotes"]));

    // The first run applies the plugin's migration, then runs it; the
    // plugin's log line reaches the host's log under the plugin's domain.
    let run = |args: &[&str]| {
        let output = env
            .cmd()
            .args(["--log-level", "info", "run", "acme.quotes", "--json"])
            .args(args)
            .output()
            .unwrap();
        let execution: serde_json::Value =
            serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr_of(&output)));
        (output.status.code(), execution, stderr_of(&output))
    };
    let (code, execution, stderr) = run(&["-p", "symbol=ACME"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(execution["status"], "completed");
    assert_eq!(execution["plugin_domain"], "acme");
    assert_eq!(execution["params"]["days"], 5, "the default fills in");
    assert_eq!(execution["metrics"]["inserted"], 5);
    assert_eq!(execution["metrics"]["average"], 103.0);
    assert!(
        stderr
            .lines()
            .any(|l| l == "INFO  acme: stored 5 quotes for ACME"),
        "{stderr}"
    );
    assert_eq!(
        env.count(
            "SELECT COUNT(*) FROM core_migrations \
             WHERE domain = 'acme' AND version = 1 AND name = 'acme_quotes'"
        ),
        1
    );

    // The second run's bulk insert skips the stored days and counts only the
    // new one; its streaming query sees all six.
    let (code, execution, stderr) = run(&["-p", "symbol=ACME", "-p", "days=6"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(execution["metrics"]["inserted"], 1);
    assert_eq!(execution["metrics"]["average"], 103.5);
    assert_eq!(
        env.count("SELECT COUNT(*) FROM acme_quotes WHERE symbol = 'ACME'"),
        6
    );

    // Its errors reach the operator like any plugin's, and are recorded.
    let (code, execution, _) = run(&["-p", "symbol=ZZZ", "-p", "days=0"]);
    assert_eq!(code, Some(1));
    assert_eq!(execution["status"], "failed");
    assert_eq!(
        execution["error"],
        "days must be 1 or more, got 0 (help: pass -p days=5)"
    );
}

/// `0.1.3` → (`0.1`, `0.2.0`): this host's 0.y line, and a version on the next one.
fn host_line_and_next(version: &str) -> (String, String) {
    let mut parts = version.split('.');
    let (Some("0"), Some(minor)) = (parts.next(), parts.next()) else {
        panic!("spine-plugin-api {version} is not a 0.y version; update this test's idea of a line");
    };
    let minor: u32 = minor.parse().expect("a numeric minor version");
    (format!("0.{minor}"), format!("0.{}.0", minor + 1))
}

/// Copies this workspace's `plugin-api` (manifest and sources) into
/// `parent/spine-plugin-api` as a stand-alone crate of version `version`.
fn copy_plugin_api_as(parent: &Path, version: &str) -> PathBuf {
    let source = common::workspace_root().join("plugin-api");
    let dir = parent.join("spine-plugin-api");
    let original = std::fs::read_to_string(source.join("Cargo.toml")).unwrap();
    // Workspace-inherited keys become the literal values of the workspace root.
    let manifest = original
        .replace(
            &format!("version = \"{API_VERSION}\""),
            &format!("version = \"{version}\""),
        )
        .replace("edition.workspace = true", "edition = \"2021\"")
        .replace("license.workspace = true", "license = \"MIT OR Apache-2.0\"")
        .replace("abi_stable.workspace = true", "abi_stable = \"=0.11.3\"")
        .replace("serde_json.workspace = true", "serde_json = \"1\"");
    assert!(
        manifest.contains(&format!("version = \"{version}\"")) && !manifest.contains(".workspace = true"),
        "plugin-api/Cargo.toml changed shape; teach this copy about it:\n{manifest}"
    );
    write(&dir.join("Cargo.toml"), &manifest);
    copy_tree(&source.join("src"), &dir.join("src"));
    dir
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Checks that the file at `installed` was refused with exactly `reason`, in
/// one line naming the file, and that the example plugin still loads and runs.
fn assert_refused_while_example_runs(env: &TestEnv, installed: &Path, reason: &str) {
    let report = plugins_report(env);
    assert_eq!(
        report["refused"],
        serde_json::json!([{ "path": installed.display().to_string(), "reason": reason }]),
        "{report}"
    );
    let loaded: Vec<&str> = report["loaded"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["domain"].as_str().unwrap())
        .collect();
    assert_eq!(loaded, ["example"]);

    let refusal = format!("{}: {reason}", installed.display());
    let output = env.cmd().arg("plugins").output().unwrap();
    assert!(
        stdout_of(&output)
            .lines()
            .any(|l| l == format!("refused {refusal}")),
        "{}",
        stdout_of(&output)
    );

    let output = env.cmd().args(["run", "example.hello"]).output().unwrap();
    let stderr = stderr_of(&output);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stdout_of(&output).starts_with("example.hello completed in "));
    let warnings: Vec<&str> = stderr.lines().filter(|l| l.contains("plugin refused")).collect();
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(
        warnings[0].ends_with(&format!("plugin refused: {refusal}")),
        "{stderr}"
    );
}

#[test]
fn a_plugin_built_against_another_api_line_is_refused_in_one_line() {
    let (host_line, next_version) = host_line_and_next(API_VERSION);
    let crates = tempfile::tempdir().unwrap();
    let package = "spine-acme-next-api";
    // Vendored inside the plugin's folder: cargo then identifies the copy by
    // its relative path, so the warm target folder does not gain a new build
    // of it for every temporary folder.
    let next_api = copy_plugin_api_as(&crates.path().join(package).join("vendor"), &next_version);
    // The very plugin that loads in the test above, built against the next line.
    let library = build_out_of_tree(
        crates.path(),
        package,
        &plugin_api_at(&next_api),
        &guide_plugin_files(),
    );
    let env = TestEnv::with_plugins(&["spine_example"]);
    let installed = install(&env, &library);

    let reason = format!(
        "was built against spine-plugin-api {next_version}; this host speaks {host_line} — rebuild the \
         plugin against spine-plugin-api {host_line}"
    );
    assert_refused_while_example_runs(&env, &installed, &reason);
}

/// A plugin that keeps a private cache in an SQLite of its own.
const OWN_SQLITE_LIB_RS: &str = r#"
use spine_plugin_api::{export_plugin, Context, Error, Metrics, Pipeline, PipelineDef, Plugin, Result};

pub fn plugin() -> Plugin {
    Plugin::new("cache", "1.0.0", "Keeps a private SQLite cache")
        .pipeline(PipelineDef::new("cache.warm", "Opens its own SQLite"), |_| Ok(Warm))
}

export_plugin!(plugin);

struct Warm;

impl Pipeline for Warm {
    fn run(&mut self, _ctx: &mut Context<'_>) -> Result<Metrics> {
        let sqlite = |e: rusqlite::Error| Error::new("cache.sqlite", e.to_string());
        let conn = rusqlite::Connection::open_in_memory().map_err(sqlite)?;
        let one: i64 = conn.query_row("SELECT 1", [], |row| row.get(0)).map_err(sqlite)?;
        Ok(Metrics::new().with("one", one))
    }
}
"#;

#[test]
fn a_plugin_that_links_its_own_sqlite_is_refused_in_one_line() {
    let crates = tempfile::tempdir().unwrap();
    let dependencies = format!(
        "{}\nrusqlite = {{ version = \"0.43\", features = [\"bundled\"] }}",
        plugin_api_at(&common::workspace_root().join("plugin-api"))
    );
    let library = build_out_of_tree(
        crates.path(),
        "spine-own-sqlite",
        &dependencies,
        &[("src/lib.rs", OWN_SQLITE_LIB_RS.to_owned())],
    );
    // The fixture is honest: SQLite's code, with its file-header string, is in the library.
    let bytes = std::fs::read(&library).unwrap();
    assert!(bytes.windows(15).any(|w| w == b"SQLite format 3"));
    let reason = "links its own copy of SQLite; plugins must use the host's database service, because \
                  two SQLite copies in one process can corrupt the database (remove \
                  rusqlite/libsqlite3-sys from the plugin)";
    let env = TestEnv::with_plugins(&["spine_example"]);
    let installed = install(&env, &library);
    assert_refused_while_example_runs(&env, &installed, reason);

    // Stripped of its symbol table, it still holds SQLite's engine.
    let stripped = hostile::stripped(&library, crates.path());
    let env = TestEnv::with_plugins(&["spine_example"]);
    let installed = install(&env, &stripped);
    assert_refused_while_example_runs(&env, &installed, reason);
}

/// A plugin that links the system's SQLite (as rusqlite without "bundled"
/// does), here a stand-in built by the test; its pipeline would report the
/// second SQLite's version.
fn system_sqlite_files(stub: &Path) -> [(&'static str, String); 2] {
    let build_rs = format!(
        "fn main() {{\n\
         \x20   println!(\"cargo:rustc-link-search=native={dir}\");\n\
         \x20   println!(\"cargo:rustc-link-lib=dylib=sqlite3\");\n\
         \x20   println!(\"cargo:rustc-cdylib-link-arg=-Wl,-rpath,{dir}\");\n\
         }}\n",
        dir = stub.display()
    );
    let lib_rs = r#"
use spine_plugin_api::{export_plugin, Context, Metrics, Pipeline, PipelineDef, Plugin, Result};

extern "C" {
    fn sqlite3_libversion() -> *const std::ffi::c_char;
}

pub fn plugin() -> Plugin {
    Plugin::new("syslite", "1.0.0", "Links the system's SQLite")
        .pipeline(PipelineDef::new("syslite.version", "Reports its own SQLite"), |_| Ok(Version))
}

export_plugin!(plugin);

struct Version;

impl Pipeline for Version {
    fn run(&mut self, _ctx: &mut Context<'_>) -> Result<Metrics> {
        // SAFETY: SQLite returns a static NUL-terminated string.
        let version = unsafe { std::ffi::CStr::from_ptr(sqlite3_libversion()) };
        Ok(Metrics::new().with("sqlite", version.to_string_lossy().as_ref()))
    }
}
"#;
    [("build.rs", build_rs), ("src/lib.rs", lib_rs.to_owned())]
}

#[test]
fn a_plugin_that_links_the_systems_sqlite_is_refused_before_it_is_loaded() {
    let crates = tempfile::tempdir().unwrap();
    let stub = hostile::stub_sqlite(crates.path());
    let library = build_out_of_tree(
        crates.path(),
        "spine-system-sqlite",
        &plugin_api_at(&common::workspace_root().join("plugin-api")),
        &system_sqlite_files(&stub),
    );
    let env = TestEnv::with_plugins(&["spine_example"]);
    let installed = install(&env, &library);
    let reason = "links the system's SQLite (libsqlite3.so.0); plugins must use the host's database \
                  service, because two SQLite copies in one process can corrupt the database (remove \
                  rusqlite/libsqlite3-sys from the plugin)";
    assert_refused_while_example_runs(&env, &installed, reason);
    let output = env.cmd().arg("check-plugin").arg(&installed).output().unwrap();
    assert_eq!(output.status.code(), Some(3));
    assert_eq!(
        stderr_of(&output),
        format!("error: {}: {reason}\n", installed.display())
    );
}

/// The `[dependencies]` line for `spine-plugin-api` at `api`, followed by a
/// `[dev-dependencies]` table with the test harness at `harness`, as section 8
/// of the guide has an outside author write them.
fn plugin_api_and_harness_at(api: &Path, harness: &Path) -> String {
    format!(
        "{}\n\n[dev-dependencies]\nspine-plugin-test = {{ path = '{}' }}",
        plugin_api_at(api),
        harness.display()
    )
}

/// An outside author's `cargo test`: the guide's plugin and its
/// `tests/quotes.rs`, built out of tree with the harness as a dev-dependency,
/// run their pipelines through the host's runner with no `.so` and no binary.
/// The same build's library still carries no SQLite: it loads in the real host.
/// The crate shares `target/test-plugins/third-party` with the other
/// out-of-tree builds, so the host and SQLite compile there once and stay warm.
#[test]
fn an_out_of_tree_plugins_own_cargo_test_runs_its_pipelines_on_the_harness() {
    let crates = tempfile::tempdir().unwrap();
    let root = common::workspace_root();
    let package = "spine-acme-tested";
    let tests = guide_file("tests/quotes.rs");
    assert!(
        tests.contains("use spine_acme::plugin;"),
        "the guide's test changed; update this test:\n{tests}"
    );
    let mut files = guide_plugin_files().to_vec();
    files.push((
        "tests/quotes.rs",
        tests.replace("spine_acme::", "spine_acme_tested::"),
    ));
    let library = build_out_of_tree(
        crates.path(),
        package,
        &plugin_api_and_harness_at(&root.join("plugin-api"), &root.join("plugin-test")),
        &files,
    );

    let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()))
        .current_dir(crates.path().join(package))
        .env(
            "CARGO_TARGET_DIR",
            common::plugin_target_dir().join("third-party"),
        )
        .args(["test", "--test", "quotes"])
        .output()
        .expect("running cargo test");
    let stdout = stdout_of(&output);
    assert!(
        output.status.success(),
        "the plugin's cargo test failed:\n{stdout}\n{}",
        stderr_of(&output)
    );
    assert!(stdout.contains("test result: ok. 3 passed; 0 failed"), "{stdout}");

    let env = TestEnv::new();
    install(&env, &library);
    let output = env
        .cmd()
        .args(["run", "acme.quotes", "-p", "symbol=ACME"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
}
