//! Every error message a user can see, pinned whole in one place (as
//! casey/just's `tests/error_messages.rs` does): for each, the command, its
//! exit code and its exact stderr, through the real binary. Commands run in
//! the test's folder with relative paths (`spine.db`, `plugins/`), so each
//! message reads here as a user sees it.
//!
//! Not here yet: the messages of the otc parser (an empty file, a header
//! without FINRA's columns, lines it rejects) and of the plugin-SQL fence,
//! which are being reworded; `faults.rs` and `reliability.rs` check them in
//! part. The message for a plugin built against another `spine-plugin-api`
//! line is pinned in `third_party.rs`, which builds such a plugin.

mod common;

use common::{finish, signal, stderr_lines, stderr_of, stdout_of, wait_for_line, TestEnv};
use spine_plugin_api::abi::{ABI_FAMILY, API_VERSION};
use std::path::Path;
use std::process::Output;

/// `spine-host ARGS` in `env`'s folder, with `spine.db` and `plugins/` there
/// unless the arguments name others.
fn spine(env: &TestEnv, args: &[&str]) -> Output {
    env.bare_cmd()
        .env("SPINE_DATABASE_PATH", "spine.db")
        .env("SPINE_PLUGINS_DIR", "plugins")
        .args(args)
        .output()
        .expect("running spine-host")
}

/// Asserts that `spine-host ARGS` exits with `code` and writes exactly
/// `stderr` (its lines, each ending with a newline).
#[track_caller]
fn assert_fails(env: &TestEnv, args: &[&str], code: i32, stderr: &str) {
    let output = spine(env, args);
    assert_eq!(
        (output.status.code(), stderr_of(&output)),
        (Some(code), format!("{stderr}\n")),
        "spine-host {}",
        args.join(" ")
    );
}

/// Each `(args, exit code, stderr)` of `cases`, through [`assert_fails`].
#[track_caller]
fn assert_each_fails(env: &TestEnv, cases: &[(&[&str], i32, &str)]) {
    for (args, code, stderr) in cases {
        assert_fails(env, args, *code, stderr);
    }
}

#[test]
fn bad_requests_exit_2_with_one_line_and_record_nothing() {
    let env = TestEnv::with_plugins(&["spine_example", "spine_otc", "spine_faulty"]);
    std::fs::write(env.dir.path().join("week.psv"), "").unwrap();
    assert_each_fails(
        &env,
        &[
            (
                &["run", "example.helo"],
                2,
                "error: no pipeline named `example.helo`; did you mean `example.hello`? (see `spine-host list`)",
            ),
            (
                &["run", "nothing"],
                2,
                "error: no pipeline named `nothing` (see `spine-host list`)",
            ),
            (
                &["describe", "otc.ingets"],
                2,
                "error: no pipeline named `otc.ingets`; did you mean `otc.ingest`? (see `spine-host list`)",
            ),
            (
                &["run", "example.hello", "-p", "nmae=x"],
                2,
                "error: example.hello has no parameter `nmae`; did you mean `name`? (it takes: name)",
            ),
            (
                &["run", "example.hello", "-p", "zzzz=x"],
                2,
                "error: example.hello has no parameter `zzzz` (it takes: name)",
            ),
            (
                &["run", "example.fail", "-p", "name=x"],
                2,
                "error: example.fail has no parameter `name` (it takes no parameters)",
            ),
            (
                &["run", "example.count", "-p", "n"],
                2,
                "error: parameter `n` is not of the form key=value (for example -p name=Bob)",
            ),
            (
                &["run", "example.count", "-p", "=5"],
                2,
                "error: parameter `=5` is not of the form key=value (for example -p name=Bob)",
            ),
            (
                &["run", "example.count", "-p", "n=1", "-p", "n=2"],
                2,
                "error: parameter `n` of example.count is given twice",
            ),
            (
                &["run", "otc.ingest"],
                2,
                "error: otc.ingest needs parameter `file_path` (path: a FINRA weekly file, or a folder whose \
                 .psv/.csv/.txt files load in name order); pass it with -p file_path=...",
            ),
            (
                &["run", "example.count", "-p", "n=ten"],
                2,
                "error: parameter `n` of example.count expects an integer, got `ten`",
            ),
            (
                &[
                    "run",
                    "faulty.until_stopped",
                    "-p",
                    "running_file=r",
                    "-p",
                    "stop_file=s",
                    "-p",
                    "heed_ctrl_c=maybe",
                ],
                2,
                "error: parameter `heed_ctrl_c` of faulty.until_stopped expects true or false, got `maybe`",
            ),
            (
                &["run", "otc.summarize", "-p", "week_ending=2025-13-01"],
                2,
                "error: parameter `week_ending` of otc.summarize expects a date (YYYY-MM-DD), got `2025-13-01`",
            ),
            (
                &["run", "otc.ingest", "-p", "file_path=week.psv", "-p", "week_ending=2025-12-11"],
                2,
                "error: week_ending 2025-12-11 is a Thursday, not a Friday; week_ending is the Friday that ends \
                 the trading week (help: use -p week_ending=2025-12-12, the Friday of that week)",
            ),
            (
                &["run", "otc.summarize", "-p", "week_ending=2025-12-13"],
                2,
                "error: week_ending 2025-12-13 is a Saturday, not a Friday; week_ending is the Friday that ends \
                 the trading week (help: use -p week_ending=2025-12-12, the Friday of that week)",
            ),
            (
                &["--log-level", "loud", "list"],
                2,
                "error: invalid value 'loud' for '--log-level <LOG_LEVEL>': `loud` is not a log level (error, \
                 warn, info, debug, trace, off)\n\nFor more information, try '--help'.",
            ),
        ],
    );
    // None of them ran or recorded anything.
    assert!(!env.db.exists() || env.count("SELECT COUNT(*) FROM core_executions") == 0);
}

#[test]
fn bad_database_paths_and_settings_exit_2_with_one_line_and_change_nothing() {
    let env = TestEnv::with_plugins(&["spine_example"]);
    std::fs::write(
        env.dir.path().join("notes.db"),
        "these are my notes, not a database\n".repeat(200),
    )
    .unwrap();
    assert_each_fails(
        &env,
        &[
            (
                &["--db", "no-such-folder/x.db", "db", "init"],
                2,
                "error: database no-such-folder/x.db: folder no-such-folder does not exist",
            ),
            (
                &["--db", "notes.db", "run", "example.hello"],
                2,
                "error: database notes.db is not a SQLite database",
            ),
            (
                &["--db", "plugins", "db", "init"],
                2,
                "error: database plugins is a folder, not a file",
            ),
            (
                &["--db", "plugins", "query", "SELECT 1"],
                2,
                "error: database plugins is a folder, not a file",
            ),
            (
                &["--db", "none.db", "query", "SELECT 1"],
                2,
                "error: no database at none.db: check --db or SPINE_DATABASE_PATH (`spine-host db init` creates one there)",
            ),
            (
                &["--db", "notes.db", "query", "SELECT 1"],
                2,
                "error: query failed: file is not a database",
            ),
        ],
    );
    // The file that is not a database is left as it was, and none was made.
    let notes = std::fs::read_to_string(env.dir.path().join("notes.db")).unwrap();
    assert_eq!(notes, "these are my notes, not a database\n".repeat(200));
    assert!(!env.dir.path().join("no-such-folder").exists());
    assert!(!env.dir.path().join("none.db").exists());

    std::fs::write(env.dir.path().join(".env"), "SPINE_LOG_LEVEL\n").unwrap();
    assert_fails(
        &env,
        &["list"],
        2,
        "error: reading .env: Error parsing line: 'SPINE_LOG_LEVEL', error at line index: 15",
    );
}

#[test]
fn a_busy_logical_key() {
    let env = TestEnv::with_plugins(&["spine_faulty"]);
    let holder = env.until_stopped("holder");
    let mut args = holder.args(1);
    args.extend(["--logical-key".to_owned(), "weekly".to_owned()]);
    let mut child = env.background_cmd().args(args).spawn().unwrap();
    let id = holder.wait_running(&mut child);
    let started: String = env
        .conn()
        .query_row(
            "SELECT started_at FROM core_executions WHERE id = ?1",
            [&id],
            |row| row.get(0),
        )
        .unwrap();
    assert_fails(
        &env,
        &["run", "faulty.panic", "--logical-key", "weekly"],
        4,
        &format!(
            "error: logical key `weekly` is held by running execution {id} (faulty.until_stopped, started \
             {started}, process {}); wait for it to finish",
            child.id()
        ),
    );
    holder.stop();
    let output = finish(child, "the holder did not complete once stopped");
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
}

#[test]
fn ctrl_c_during_a_run_and_while_waiting_for_another() {
    let env = TestEnv::with_plugins(&["spine_faulty"]);
    let first = env.until_stopped("first");
    let mut running = env.background_cmd().args(first.args(1)).spawn().unwrap();
    first.wait_running(&mut running);

    // A second run waits for the first's write lock; Ctrl-C ends its wait.
    let second = env.until_stopped("second");
    second.stop();
    let mut waiting = env
        .background_cmd()
        .env("SPINE_LOG_LEVEL", "info")
        .args(second.args(1))
        .spawn()
        .unwrap();
    let lines = stderr_lines(&mut waiting);
    let mut stderr = wait_for_line(&lines, "waiting for another process's run");
    signal(&waiting, libc::SIGINT);
    let output = finish(waiting, "the waiting run did not stop on Ctrl-C");
    stderr.extend(lines.iter());
    assert_eq!(output.status.code(), Some(130));
    assert_eq!(
        stderr,
        [
            "INFO  spine_host::cli::commands: waiting for another process's run to finish writing (Ctrl-C \
             stops waiting)",
            "stopping: rolling back the run (press Ctrl-C again to exit at once)",
            "error: cancelled (Ctrl-C) while waiting for another process's run to finish; nothing ran and \
             nothing was recorded",
        ]
    );

    // The first, stopped while it runs.
    signal(&running, libc::SIGINT);
    let output = finish(running, "the run did not stop on Ctrl-C");
    assert_eq!(output.status.code(), Some(130));
    assert_eq!(
        stderr_of(&output),
        "stopping: rolling back the run (press Ctrl-C again to exit at once)\n\
         error: cancelled by the operator (Ctrl-C); every write of the run was rolled back\n"
    );
}

#[test]
fn failed_runs() {
    let env = TestEnv::with_plugins(&["spine_example", "spine_otc", "spine_faulty"]);
    std::fs::create_dir(env.dir.path().join("notes")).unwrap();
    std::fs::write(env.dir.path().join("notes").join("todo.md"), "not data").unwrap();
    let fixture = "host/tests/fixtures/faulty-plugin/src/lib.rs";
    let source = std::fs::read_to_string(common::workspace_root().join(fixture)).unwrap();
    let (line, column) = source
        .lines()
        .enumerate()
        .find_map(|(number, text)| {
            let column = text.find("panic!(\"index {index} is out of range on purpose\")")?;
            Some((number + 1, column + 1))
        })
        .expect("the fixture's panic");
    let panicked = format!(
        "error: the plugin panicked: panicked at {fixture}:{line}:{column}: index 3 is out of range on purpose"
    );
    assert_each_fails(
        &env,
        &[
            (
                &["run", "example.fail"],
                1,
                "error: example.fail always fails (help: this pipeline exists to show how failures are reported)",
            ),
            (&["run", "faulty.panic"], 1, &panicked),
            (
                &["run", "faulty.write_then_fail"],
                1,
                "error: failed on purpose after writing",
            ),
            (
                &["run", "otc.ingest", "-p", "file_path=missing.psv"],
                1,
                "error: file_path missing.psv does not exist (help: pass a FINRA weekly file or a folder of them, \
                 for example -p file_path=data/finra)",
            ),
            (
                &["run", "otc.ingest", "-p", "file_path=notes"],
                1,
                "error: folder notes holds no .psv, .csv or .txt files (help: FINRA's weekly files are \
                 pipe-delimited text; put them in the folder or pass one file)",
            ),
        ],
    );
}

#[test]
fn executions_query_shell_and_reset() {
    let env = TestEnv::with_plugins(&["spine_example"]);
    for _ in 0..2 {
        assert!(spine(&env, &["run", "example.hello"]).status.success());
    }
    // Both ids start with the same time-ordered digits.
    let first_digit: String = env
        .conn()
        .query_row("SELECT substr(MIN(id), 1, 1) FROM core_executions", [], |row| {
            row.get(0)
        })
        .unwrap();
    let ambiguous =
        format!("error: more than one execution id starts with `{first_digit}`; give more characters");
    assert_each_fails(
        &env,
        &[
            (
                &["executions", "show", "nope"],
                2,
                "error: no execution id starts with `nope`",
            ),
            (&["executions", "show", &first_digit], 2, &ambiguous),
            (
                &["query", "DELETE FROM core_executions"],
                2,
                "error: query is read-only, and `DELETE FROM core_executions` would change the database; \
                 change data with a pipeline",
            ),
            (
                &["query", "SELEC 1"],
                2,
                "error: query failed: near \"SELEC\": syntax error in SELEC 1 at offset 0",
            ),
            (
                &["query", "SELECT * FROM nope"],
                2,
                "error: query failed: no such table: nope",
            ),
            (
                &["executions", "--status", "done"],
                2,
                "error: --status `done` is not a status; expected one of: pending, running, completed, failed, cancelled",
            ),
            (
                &["executions", "--since", "yesterday"],
                2,
                "error: --since `yesterday` is not a date; expected YYYY-MM-DD (UTC), for example 2026-11-27",
            ),
            (
                &["db", "reset"],
                2,
                "error: not resetting spine.db: confirm at the prompt, or pass --yes to reset without asking",
            ),
        ],
    );
    // The shell reports each error on one line and carries on.
    let output = env
        .bare_cmd()
        .env("SPINE_DATABASE_PATH", "spine.db")
        .env("SPINE_PLUGINS_DIR", "plugins")
        .arg("shell")
        .write_stdin(".run\n.schema nope\n.run example.helo\nSELEC 1;\n.bogus\n")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        stderr_of(&output),
        "error: .run needs a pipeline: .run PIPELINE key=value ...\n\
         error: no table named `nope`\n\
         error: no pipeline named `example.helo`; did you mean `example.hello`? (see `spine-host list`)\n\
         error: query failed: near \"SELEC\": syntax error in SELEC 1; at offset 0\n\
         error: unknown command `.bogus`; .help lists the commands\n"
    );
}

#[test]
fn migrations_that_disagree_with_the_database() {
    let env = TestEnv::with_plugins(&["spine_example"]);
    assert!(spine(&env, &["db", "init"]).status.success());
    // The checksum of the plugin's SQL as it is, then a tampered one.
    let conn = env.conn();
    let applied: String = conn
        .query_row(
            "SELECT checksum FROM core_migrations WHERE domain = 'example'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    conn.execute(
        "UPDATE core_migrations SET checksum = 'deadbeef0000ffff' WHERE domain = 'example'",
        [],
    )
    .unwrap();
    let reason = format!(
        "plugins/libspine_example.so: cannot apply its migrations: migration 1 (example_greetings) of domain \
         `example` changed after it was applied: checksum deadbeef0000 in the database, {} in \
         plugins/libspine_example.so; restore the original SQL and put the change in a new migration",
        &applied[..12]
    );
    // One bad plugin never blocks the others: it is refused (warned about
    // once), and running one of its pipelines says why.
    let (file, why) = reason.split_once(": ").unwrap();
    assert_fails(
        &env,
        &["run", "example.hello"],
        3,
        &format!(
            "WARN  spine_host::registry: plugin refused: {reason}\n\
             error: pipeline `example.hello` cannot run: its plugin {file} was refused: {why}"
        ),
    );

    let env = TestEnv::with_plugins(&["spine_example"]);
    assert!(spine(&env, &["db", "init"]).status.success());
    env.conn()
        .execute(
            "INSERT INTO core_migrations VALUES ('example', 2, 'from_the_future', 'abc', '2030-01-01T00:00:00Z')",
            [],
        )
        .unwrap();
    let reason = "plugins/libspine_example.so: cannot apply its migrations: the database is ahead of domain \
                  `example`: migration 2 (from_the_future) is applied, but plugins/libspine_example.so only knows \
                  migrations up to 1; install the newer plugin, or use a database made by this one";
    let output = spine(&env, &["db", "init"]);
    assert_eq!(output.status.code(), Some(3));
    assert_eq!(
        stderr_of(&output),
        format!("WARN  spine_host::registry: plugin refused: {reason}\n")
    );
    assert_eq!(
        stdout_of(&output),
        format!(
            "database spine.db has 2 migration(s) across 1 domain(s), but 1 refused domain(s) could not be \
             brought up to date:\nrefused domain `example`: {reason}\n"
        )
    );
}

/// A library that says it is a Market Spine plugin of another ABI family:
/// only the frozen family symbol, compiled by the toolchain's rustc.
fn plugin_of_another_abi_family(dir: &Path) -> std::path::PathBuf {
    let source = dir.join("future.rs");
    std::fs::write(
        &source,
        "#[no_mangle]\npub extern \"C\" fn spine_plugin_abi() -> u32 {\n    99\n}\n",
    )
    .unwrap();
    let rustc = std::env::var_os("CARGO")
        .map(|cargo| Path::new(&cargo).with_file_name("rustc"))
        .filter(|rustc| rustc.exists())
        .unwrap_or_else(|| "rustc".into());
    let library = dir.join("libfuture.so");
    let status = std::process::Command::new(rustc)
        .args(["--crate-type", "cdylib", "--edition", "2021", "-o"])
        .arg(&library)
        .arg(&source)
        .status()
        .expect("running rustc");
    assert!(status.success(), "compiling {}", source.display());
    library
}

/// A system library that is certainly not a plugin.
fn a_system_library() -> &'static Path {
    [
        "/lib/x86_64-linux-gnu/libz.so.1",
        "/usr/lib/x86_64-linux-gnu/libz.so.1",
        "/lib/x86_64-linux-gnu/libm.so.6",
    ]
    .into_iter()
    .map(Path::new)
    .find(|path| path.exists())
    .expect("a system library to copy")
}

#[test]
fn refused_plugin_files() {
    use std::os::unix::fs::PermissionsExt;
    let env = TestEnv::with_plugins(&["spine_example", "spine_faulty"]);
    let plugins = &env.plugins;
    let mode = |path: &Path, mode: u32| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    std::fs::write(plugins.join("libtext.so"), "this is only text\n").unwrap();
    std::fs::write(plugins.join("libempty.so"), "").unwrap();
    std::fs::copy(a_system_library(), plugins.join("libsystem.so")).unwrap();
    std::fs::copy(common::plugin_library("spine_faulty"), plugins.join("libcopy.so")).unwrap();
    let future = plugin_of_another_abi_family(env.dir.path());
    std::fs::copy(&future, plugins.join("libfuture.so")).unwrap();
    let shared = plugins.join("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::copy(
        common::plugin_library("spine_otc"),
        shared.join("libspine_otc.so"),
    )
    .unwrap();
    mode(&shared.join("libspine_otc.so"), 0o666);
    let open = plugins.join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::copy(common::plugin_library("spine_otc"), open.join("libspine_otc.so")).unwrap();
    mode(&open, 0o777);

    let refusals = [
        "plugins/libempty.so: is an empty file, not a plugin".to_owned(),
        format!(
            "plugins/libfuture.so: speaks plugin ABI family 99, but this host speaks family {ABI_FAMILY} \
             (spine-plugin-api {API_VERSION}); rebuild the plugin against spine-plugin-api 0.1"
        ),
        "plugins/libsystem.so: is not a Market Spine plugin (it has no `spine_plugin_abi` symbol; plugins \
         are built with spine_plugin_api::export_plugin!)"
            .to_owned(),
        "plugins/libtext.so: cannot be opened as a library: it is not a 64-bit ELF file".to_owned(),
        "plugins/open/libspine_otc.so: its folder is writable by every user, and loading a plugin runs its \
         code (fix: chmod o-w plugins/open)"
            .to_owned(),
        "plugins/shared/libspine_otc.so: the file is writable by every user, and loading a plugin runs its \
         code (fix: chmod o-w plugins/shared/libspine_otc.so)"
            .to_owned(),
        "plugins/libcopy.so: domain `faulty` is provided by plugins/libcopy.so and plugins/libspine_faulty.so; \
         remove all but one"
            .to_owned(),
        "plugins/libspine_faulty.so: domain `faulty` is provided by plugins/libcopy.so and \
         plugins/libspine_faulty.so; remove all but one"
            .to_owned(),
    ];
    // Every command warns once per refused file, and goes on with the rest.
    let output = spine(&env, &["plugins"]);
    assert_eq!(output.status.code(), Some(0));
    let warnings: Vec<String> = refusals
        .iter()
        .map(|refusal| format!("WARN  spine_host::registry: plugin refused: {refusal}\n"))
        .collect();
    assert_eq!(stderr_of(&output), warnings.concat());
    // `plugins` lists them after the loaded ones.
    let listed: Vec<String> = common::stdout_of(&output)
        .lines()
        .filter_map(|line| line.strip_prefix("refused ").map(str::to_owned))
        .collect();
    assert_eq!(listed, refusals);

    // `check-plugin` says the same of one file, as an error.
    assert_each_fails(
        &env,
        &[
            (
                &["check-plugin", "plugins/libsystem.so"],
                3,
                "error: plugins/libsystem.so: is not a Market Spine plugin (it has no `spine_plugin_abi` symbol; \
                 plugins are built with spine_plugin_api::export_plugin!)",
            ),
            (
                &["check-plugin", "plugins/libempty.so"],
                3,
                "error: plugins/libempty.so: is an empty file, not a plugin",
            ),
            (
                &["check-plugin", "plugins/missing.so"],
                2,
                "error: plugins/missing.so: no such file",
            ),
        ],
    );

    // A plugins folder anyone may write to loads nothing.
    mode(plugins, 0o777);
    assert_fails(
        &env,
        &["list"],
        3,
        "error: loading plugins from plugins: plugins folder plugins is writable by every user, and loading a \
         plugin runs its code; refusing to load from it (fix: chmod o-w plugins)",
    );
}
