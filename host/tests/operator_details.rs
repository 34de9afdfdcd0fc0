//! Operator details that scripts depend on: `query --format json` keeps the
//! query's columns, the shell quotes as a shell does and lists views, and an
//! execution's times agree with its duration.

mod common;

use common::{stderr_of, stdout_of, wait_until_waiting_for_lock, TestEnv};
use std::io::Write;
use std::process::Stdio;

#[test]
fn query_json_keeps_the_columns_in_order_and_repeated_names() {
    let env = TestEnv::with_plugins(&["spine_example"]);
    env.cmd().args(["db", "init"]).assert().success();
    let output = env
        .cmd()
        .args([
            "query",
            "SELECT 2 AS zeta, 1 AS alpha, 3 AS zeta, 'x' AS \"zeta:1\", 4 AS zeta",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert_eq!(
        stdout_of(&output),
        "[\n  {\"zeta\":2,\"alpha\":1,\"zeta:2\":3,\"zeta:1\":\"x\",\"zeta:3\":4}\n]\n"
    );
}

#[test]
fn the_shell_quotes_like_a_shell_and_lists_views() {
    let env = TestEnv::with_plugins(&["spine_example", "spine_otc"]);
    env.cmd().args(["db", "init"]).assert().success();
    let mut shell = env
        .background_cmd()
        .arg("shell")
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    shell
        .stdin
        .take()
        .unwrap()
        .write_all(b".run example.hello name=\"Ann Lee\"\n.run example.hello name='O\"Brien\n.tables\n")
        .unwrap();
    let output = shell.wait_with_output().unwrap();
    let (stdout, stderr) = (stdout_of(&output), stderr_of(&output));
    assert!(stdout.contains("Hello, Ann Lee!"), "{stdout}");
    assert!(
        stderr.contains("error: `.run example.hello name='O\"Brien` has an unclosed quote; quote values as a shell does: name=\"Ann Lee\""),
        "{stderr}"
    );
    let listed: Vec<&str> = stdout
        .lines()
        .filter(|line| line.starts_with("otc_raw "))
        .collect();
    assert_eq!(listed.len(), 1, "{stdout}");
    assert!(listed[0].ends_with("view"), "{stdout}");
    assert!(
        stdout
            .lines()
            .any(|line| line.starts_with("otc_raw_lines ") && line.ends_with("table")),
        "{stdout}"
    );
}

#[test]
fn started_at_is_when_the_run_got_the_lock_and_the_duration_agrees_with_the_times() {
    let env = TestEnv::with_plugins(&["spine_example"]);
    env.cmd().args(["db", "init"]).assert().success();
    let holder = env.conn();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    let mut run = env
        .background_cmd()
        .env("SPINE_LOG_LEVEL", "info")
        .args(["run", "example.hello", "--json"])
        .spawn()
        .unwrap();
    // It says so after waiting a second: the wait lies before started_at.
    let rest = wait_until_waiting_for_lock(&mut run);
    holder.execute_batch("COMMIT").unwrap();
    let output = run.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", rest.join().unwrap());
    let execution: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let time = |field: &str| {
        chrono::DateTime::parse_from_rfc3339(execution[field].as_str().unwrap())
            .unwrap()
            .timestamp_millis()
    };
    let waited = time("started_at") - time("created_at");
    assert!(waited >= 1000, "started {waited} ms after it was created");
    let between = time("completed_at") - time("started_at");
    let duration = execution["duration_ms"].as_i64().unwrap();
    // Equal but for the timestamps' rounding to the millisecond.
    assert!(
        (between - duration).abs() <= 1,
        "duration {duration} ms, timestamps {between} ms apart"
    );
}

#[test]
fn help_is_where_people_look_for_it() {
    let env = TestEnv::with_plugins(&["spine_example"]);
    // `run PIPELINE --help`: the run options, then the pipeline's own.
    let output = env
        .cmd()
        .args(["run", "example.hello", "--help"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let help = stdout_of(&output);
    assert!(
        help.contains("Usage: spine-host run [OPTIONS] [PIPELINE]"),
        "{help}"
    );
    assert!(
        help.ends_with("example.hello  Greets someone and records the greeting\n  -p name=…  (string, default World)  Who to greet\n"),
        "{help}"
    );
    let output = env.cmd().args(["run", "exmaple.hello", "-h"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr_of(&output).contains("did you mean `example.hello`"),
        "{}",
        stderr_of(&output)
    );
    // A space where `=` belongs.
    let output = env
        .cmd()
        .args(["run", "example.hello", "-p", "name", "Bob"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr_of(&output),
        "error: `-p name Bob`: write -p key=value, as in -p name=Bob\n"
    );
    // `query --json` is `--format json`, as every other command's --json.
    env.cmd().args(["db", "init"]).assert().success();
    let output = env
        .cmd()
        .args(["query", "SELECT 1 AS a", "--json"])
        .output()
        .unwrap();
    assert_eq!(
        stdout_of(&output),
        "[\n  {\"a\":1}\n]\n",
        "{}",
        stderr_of(&output)
    );
    assert_eq!(env.count("SELECT COUNT(*) FROM core_executions"), 0);
}

#[test]
fn only_db_init_and_run_create_a_database_and_a_refused_run_creates_nothing() {
    let env = TestEnv::with_plugins(&["spine_example"]);
    let typo = env.dir.path().join("mnie.db");
    for args in [
        &["executions"][..],
        &["executions", "show", "0191"],
        &["query", "SELECT 1"],
        &["shell"],
    ] {
        let output = env
            .bare_cmd()
            .arg("--db")
            .arg(&typo)
            .arg("--plugins-dir")
            .arg(&env.plugins)
            .args(args)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert_eq!(
            stderr_of(&output),
            format!(
                "error: no database at {}: check --db or SPINE_DATABASE_PATH (`spine-host db init` creates one there)\n",
                typo.display()
            ),
            "{args:?}"
        );
        assert!(!typo.exists(), "{args:?} created {}", typo.display());
    }
    for args in [
        &["run", "example.helo"][..],
        &["run", "example.hello", "-p", "nmae=x"],
    ] {
        let output = env.cmd().args(args).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}: {}", stderr_of(&output));
        assert!(!env.db.exists(), "{args:?} created the database");
    }
    env.cmd().args(["run", "example.hello"]).assert().success();
    assert!(env.db.exists());
}

#[test]
fn a_missing_plugins_folder_is_one_line_with_exit_3_where_plugins_are_needed() {
    let env = TestEnv::new();
    env.cmd().args(["db", "init"]).assert().success();
    std::fs::remove_dir(&env.plugins).unwrap();
    let message = format!(
        "error: plugins folder {0} does not exist: install the plugins there with \
         `scripts/install-plugins.sh {0}`, or point --plugins-dir (SPINE_PLUGINS_DIR) at the folder that holds them\n",
        env.plugins.display()
    );
    for args in [
        &["list"][..],
        &["plugins"],
        &["describe", "example.hello"],
        &["run", "example.hello"],
    ] {
        let output = env.cmd().args(args).output().unwrap();
        assert_eq!(output.status.code(), Some(3), "{args:?}");
        assert_eq!(stderr_of(&output), message, "{args:?}");
    }
    for args in [
        &["executions"][..],
        &["db", "status"],
        &["query", "SELECT COUNT(*) FROM core_executions"],
    ] {
        let output = env.cmd().args(args).output().unwrap();
        assert_eq!(output.status.code(), Some(0), "{args:?}: {}", stderr_of(&output));
    }
}

#[test]
fn ingest_progress_on_a_terminal_is_drawn_in_bytes_of_the_files_size() {
    let env = TestEnv::with_plugins(&["spine_otc"]);
    env.cmd().args(["db", "init"]).assert().success();
    let file = env.dir.path().join("week.psv");
    let mut text = String::from(
        "tierDescription|issueSymbolIdentifier|issueName|marketParticipantName|MPID|totalWeeklyShareQuantity|totalWeeklyTradeCount|lastUpdateDate\n",
    );
    for i in 0..20_000 {
        text.push_str(&format!(
            "OTC|S{i}|Issue {i}|V ATS|VATS|{}|1|2025-12-15\n",
            100 + i
        ));
    }
    std::fs::write(&file, &text).unwrap();
    let command = format!(
        "{} --db {} --plugins-dir {} run otc.ingest -p file_path={}",
        assert_cmd::cargo::cargo_bin("spine-host").display(),
        env.db.display(),
        env.plugins.display(),
        file.display()
    );
    let output = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env("SPINE_LOG_LEVEL", "warn")
        .output()
        .unwrap();
    let drawn = stdout_of(&output);
    assert!(output.status.success(), "{drawn}");
    // The file's size as the total, with a percentage: never a count of
    // lines over an empty bar.
    let total = format!("/{:.2} KiB", text.len() as f64 / 1024.0);
    assert!(
        drawn.contains(&total) && drawn.contains('%'),
        "expected {total} and a percentage in {drawn:?}"
    );
    assert!(!drawn.contains(" lines"), "{drawn:?}");
}

#[test]
fn a_republication_in_a_folder_is_named_and_the_advice_is_to_load_that_file_alone() {
    let env = TestEnv::with_plugins(&["spine_otc"]);
    let folder = env.dir.path().join("weeks");
    std::fs::create_dir(&folder).unwrap();
    let header = "tierDescription|issueSymbolIdentifier|issueName|marketParticipantName|MPID|totalWeeklyShareQuantity|totalWeeklyTradeCount|lastUpdateDate";
    std::fs::write(
        folder.join("a.psv"),
        format!("{header}\nOTC|AAA|A|V|V1|100|1|2025-12-15\n"),
    )
    .unwrap();
    std::fs::write(
        folder.join("b.psv"),
        format!("{header}\nOTC|BBB|B|V|V1|100|1|2025-12-17\n"),
    )
    .unwrap();
    let output = env
        .cmd()
        .args(["run", "otc.ingest", "-p"])
        .arg(format!("file_path={}", folder.display()))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let b = folder.join("b.psv").display().to_string();
    assert!(
        stderr_of(&output).contains(&format!(
            "error: {b}: line 2: lastUpdateDate 2025-12-17 is a Wednesday, not a Monday, so it is not a first \
             publication and the trading week cannot be inferred from it; the file is refused (help: load this \
             file on its own with the Friday of the week it covers: spine-host run otc.ingest -p file_path={b} \
             -p week_ending=YYYY-MM-DD (a week_ending given with a folder applies to every file in it))"
        )),
        "{}",
        stderr_of(&output)
    );
    assert_eq!(env.count("SELECT COUNT(*) FROM otc_raw"), 0);
}
