//! Reliability: Ctrl-C, concurrent processes and fenced plugin SQL, with
//! real processes and real files. Nothing is lost and nothing
//! half-done remains. Runs in progress are the fixture's
//! `faulty.until_stopped`, held until the test stops them.

mod common;

use common::{finish, signal, stderr_lines, stderr_of, wait_for_line, TestEnv};
use std::process::Child;

/// Starts `spine-host` in the background with `args`.
fn spawn(env: &TestEnv, args: &[String]) -> Child {
    env.background_cmd()
        .args(args)
        .spawn()
        .expect("starting spine-host")
}

#[test]
fn a_second_ctrl_c_exits_at_once_even_when_the_run_ignores_the_first() {
    let env = TestEnv::with_plugins(&["spine_faulty"]);
    let stubborn = env.until_stopped("stubborn");
    let mut args = stubborn.args(1_000);
    args.extend(["-p".to_owned(), "heed_ctrl_c=false".to_owned()]);
    let mut child = spawn(&env, &args);
    let id = stubborn.wait_running(&mut child);
    let lines = stderr_lines(&mut child);

    signal(&child, libc::SIGINT);
    wait_for_line(
        &lines,
        "stopping: rolling back the run (press Ctrl-C again to exit at once)",
    );
    // The run ignores the first and is never told to stop: only the second
    // Ctrl-C can end the process.
    signal(&child, libc::SIGINT);
    let output = finish(child, "the second Ctrl-C did not end the process");
    assert_eq!(output.status.code(), Some(130));

    // Nothing it wrote is kept, and the next start marks it failed.
    assert_eq!(env.count("SELECT COUNT(*) FROM faulty_rows"), 0);
    let output = env
        .cmd()
        .args(["executions", "show", &id, "--json"])
        .output()
        .unwrap();
    let execution: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(execution["status"], "failed", "{execution}");
    let error = execution["error"].as_str().unwrap();
    assert!(error.contains("ended while the execution was running"), "{error}");
    assert_eq!(
        env.count("SELECT COUNT(*) FROM pragma_integrity_check WHERE integrity_check = 'ok'"),
        1
    );
}

#[test]
fn two_processes_writing_at_once_both_finish_with_right_totals() {
    let env = TestEnv::with_plugins(&["spine_faulty"]);
    env.cmd().args(["db", "init"]).assert().success();
    let (first_run, second_run) = (env.until_stopped("first"), env.until_stopped("second"));
    let mut first = spawn(&env, &first_run.args(300));
    first_run.wait_running(&mut first);

    // The second finds the first holding the write lock, and waits for it;
    // once the first completes, it runs (it is told to stop from the start).
    second_run.stop();
    let mut second = env
        .background_cmd()
        .env("SPINE_LOG_LEVEL", "info")
        .args(second_run.args(200))
        .spawn()
        .expect("starting spine-host");
    let lines = stderr_lines(&mut second);
    let mut stderr = wait_for_line(&lines, "waiting for another process's run to finish writing");
    first_run.stop();

    let output = finish(first, "the first run did not complete once stopped");
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let output = finish(second, "the second run did not complete after the first");
    stderr.extend(lines.iter());
    assert_eq!(output.status.code(), Some(0), "{stderr:#?}");
    assert!(!stderr.iter().any(|line| line.contains("locked")), "{stderr:#?}");
    assert_eq!(env.count("SELECT COUNT(*) FROM faulty_rows"), 500);
    assert_eq!(
        env.count("SELECT COUNT(*) FROM core_executions WHERE status = 'completed'"),
        2
    );
}

#[test]
fn a_second_run_with_a_busy_logical_key_is_refused_naming_the_first() {
    let env = TestEnv::with_plugins(&["spine_faulty"]);
    env.cmd().args(["db", "init"]).assert().success();
    let first_run = env.until_stopped("first");
    let mut args = first_run.args(150);
    args.extend(["--logical-key".to_owned(), "weekly-otc".to_owned()]);
    let mut first = spawn(&env, &args);
    let id = first_run.wait_running(&mut first);

    // Refused at once: were it let through, it would wait for the first's
    // write lock, which the test never lets go before this one ends.
    let second = [
        "run",
        "faulty.slow",
        "-p",
        "steps=1",
        "--logical-key",
        "weekly-otc",
    ]
    .map(str::to_owned);
    let output = finish(spawn(&env, &second), "the second run waited for the first");
    assert_eq!(output.status.code(), Some(4));
    let stderr = stderr_of(&output);
    assert!(
        stderr.contains(&format!(
            "logical key `weekly-otc` is held by running execution {id}"
        )),
        "{stderr}"
    );

    first_run.stop();
    let output = finish(first, "the first run did not complete once stopped");
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert_eq!(env.count("SELECT COUNT(*) FROM faulty_rows"), 150);
    // Once the first finished, the key is free again.
    env.cmd().args(second).assert().success();
}

#[test]
fn plugin_sql_that_controls_transactions_or_the_connection_is_refused() {
    let env = TestEnv::with_plugins(&["spine_faulty"]);
    let cases = [
        (
            "BEGIN",
            "plugin SQL may not begin, commit or roll back transactions",
        ),
        (
            "COMMIT",
            "plugin SQL may not begin, commit or roll back transactions",
        ),
        (
            "SAVEPOINT s",
            "plugin SQL may not begin, commit or roll back transactions",
        ),
        (
            "ATTACH 'other.db' AS other",
            "plugin SQL may not ATTACH or DETACH databases",
        ),
        (
            "PRAGMA journal_mode = DELETE",
            "plugin SQL may not run PRAGMA journal_mode",
        ),
        (
            "PRAGMA foreign_keys = OFF",
            "plugin SQL may not run PRAGMA foreign_keys",
        ),
    ];
    for (statement, reason) in cases {
        let output = env
            .cmd()
            .args(["run", "faulty.sql", "-p"])
            .arg(format!("statement={statement}"))
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(1), "{statement}");
        let stderr = stderr_of(&output);
        assert!(
            stderr.starts_with(&format!("error: {reason}")),
            "{statement}: {stderr}"
        );
        assert!(
            stderr.contains(&format!("(in `{statement}`)")),
            "{statement}: {stderr}"
        );
    }
    // Nothing any of them wrote stayed, the journal mode is still WAL, and
    // no other database was created.
    assert_eq!(env.count("SELECT COUNT(*) FROM faulty_rows"), 0);
    let mode: String = env
        .conn()
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    assert!(!env.dir.path().join("other.db").exists());
    // Reading table structure is allowed.
    env.cmd()
        .args([
            "run",
            "faulty.sql",
            "-p",
            "statement=PRAGMA table_info(faulty_rows)",
        ])
        .assert()
        .success();
}

#[test]
fn plugin_sql_may_change_only_its_own_domains_tables() {
    let env = TestEnv::with_plugins(&["spine_faulty", "spine_example"]);
    let run_sql = |statement: &str| {
        env.cmd()
            .args(["run", "faulty.sql", "-p"])
            .arg(format!("statement={statement}"))
            .output()
            .unwrap()
    };
    env.cmd().args(["run", "example.hello"]).assert().success();
    let foreign = |name: &str| {
        format!(
            "error: plugin SQL of domain `faulty` may change only its own tables, named `faulty_…`; \
             `{name}` is not one of them"
        )
    };
    for (statement, name) in [
        ("DELETE FROM core_executions", "core_executions"),
        ("UPDATE core_migrations SET checksum = 'x'", "core_migrations"),
        ("DROP TABLE example_greetings", "example_greetings"),
        (
            "INSERT INTO Example_Greetings DEFAULT VALUES",
            "example_greetings",
        ),
        ("CREATE TABLE faultyrows (id)", "faultyrows"),
        (
            "CREATE INDEX faulty_by_status ON core_executions (status)",
            "core_executions",
        ),
    ] {
        let output = run_sql(statement);
        assert_eq!(output.status.code(), Some(1), "{statement}");
        let stderr = stderr_of(&output);
        assert!(stderr.starts_with(&foreign(name)), "{statement}: {stderr}");
    }
    // A trigger on its own table is allowed, but its body is fenced when a
    // statement that fires it is prepared (faulty.sql writes a row first).
    let trigger =
        "CREATE TRIGGER faulty_rows_spill AFTER INSERT ON faulty_rows BEGIN DELETE FROM core_executions; END";
    assert_eq!(run_sql(trigger).status.code(), Some(0));
    let output = run_sql("SELECT 1");
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr_of(&output).starts_with(&foreign("core_executions")),
        "{}",
        stderr_of(&output)
    );
    env.conn()
        .execute_batch("DROP TRIGGER faulty_rows_spill")
        .unwrap();
    // Its own tables, temporary tables, and reading every table are allowed.
    for statement in [
        "CREATE TABLE faulty_notes (note TEXT); INSERT INTO faulty_notes SELECT pipeline FROM core_executions",
        "CREATE TEMP TABLE scratch (n); INSERT INTO scratch VALUES (1); DROP TABLE scratch",
    ] {
        let output = run_sql(statement);
        assert_eq!(output.status.code(), Some(0), "{statement}: {}", stderr_of(&output));
    }
    assert_eq!(
        env.count("SELECT COUNT(*) FROM faulty_notes WHERE note = 'example.hello'"),
        1
    );
    // Nothing the refused statements aimed at changed: every run is
    // recorded, the migrations are intact, the other domain's row is there.
    assert_eq!(env.count("SELECT COUNT(*) FROM core_executions"), 11);
    assert_eq!(
        env.count("SELECT COUNT(*) FROM core_migrations WHERE checksum = 'x'"),
        0
    );
    assert_eq!(env.count("SELECT COUNT(*) FROM example_greetings"), 1);
}
