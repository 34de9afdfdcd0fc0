//! Reliability: Ctrl-C, concurrent processes, fenced plugin SQL and bad
//! requests, with real processes and real files. Nothing is lost and nothing
//! half-done remains.

mod common;

use common::{stderr_of, TestEnv};
use std::process::Child;
use std::time::{Duration, Instant};

/// Starts `spine-host` in the background with `args`.
fn spawn(env: &TestEnv, args: &[&str]) -> Child {
    env.background_cmd()
        .args(args)
        .spawn()
        .expect("starting spine-host")
}

/// Waits until an execution of `pipeline` is recorded as running.
fn wait_until_running(env: &TestEnv, pipeline: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if env.db.exists() {
            let found = env.conn().query_row(
                "SELECT id FROM core_executions WHERE pipeline = ?1 AND status = 'running'",
                [pipeline],
                |row| row.get::<_, String>(0),
            );
            if let Ok(id) = found {
                return id;
            }
        }
        assert!(Instant::now() < deadline, "{pipeline} never started");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn ctrl_c_stops_a_long_run_rolls_back_and_records_it_cancelled() {
    let env = TestEnv::with_plugins(&["spine_faulty"]);
    env.cmd().args(["db", "init"]).assert().success();
    let child = spawn(
        &env,
        &["run", "faulty.slow", "-p", "steps=100000", "-p", "step_ms=5"],
    );
    let id = wait_until_running(&env, "faulty.slow");
    std::thread::sleep(Duration::from_millis(300));

    let sent = Instant::now();
    // SAFETY: sending SIGINT to our own child process.
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) }, 0);
    let output = child.wait_with_output().unwrap();
    let took = sent.elapsed();
    // The pipeline checks `cancelled()` every step; generous bound for a loaded CI machine.
    assert!(took < Duration::from_secs(2), "took {took:?} to stop");
    assert_eq!(output.status.code(), Some(130), "{}", stderr_of(&output));

    let (status, error): (String, String) = env
        .conn()
        .query_row(
            "SELECT status, error FROM core_executions WHERE id = ?1",
            [&id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(status, "cancelled");
    assert!(error.contains("rolled back"), "{error}");
    assert_eq!(env.count("SELECT COUNT(*) FROM faulty_rows"), 0);
    assert_eq!(
        env.count("SELECT COUNT(*) FROM pragma_integrity_check WHERE integrity_check = 'ok'"),
        1
    );
}

#[test]
fn two_processes_writing_at_once_both_finish_with_right_totals() {
    let env = TestEnv::with_plugins(&["spine_faulty"]);
    env.cmd().args(["db", "init"]).assert().success();
    let args = ["run", "faulty.slow", "-p", "steps=40", "-p", "step_ms=10"];
    let first = spawn(&env, &args);
    let second = spawn(&env, &args);
    for child in [first, second] {
        let output = child.wait_with_output().unwrap();
        assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    }
    assert_eq!(env.count("SELECT COUNT(*) FROM faulty_rows"), 80);
    assert_eq!(
        env.count("SELECT COUNT(*) FROM core_executions WHERE status = 'completed'"),
        2
    );
}

#[test]
fn a_second_run_with_a_busy_logical_key_is_refused_naming_the_first() {
    let env = TestEnv::with_plugins(&["spine_faulty"]);
    env.cmd().args(["db", "init"]).assert().success();
    let first = spawn(
        &env,
        &[
            "run",
            "faulty.slow",
            "-p",
            "steps=150",
            "-p",
            "step_ms=10",
            "--logical-key",
            "weekly-otc",
        ],
    );
    let id = wait_until_running(&env, "faulty.slow");

    let output = env
        .cmd()
        .args([
            "run",
            "faulty.slow",
            "-p",
            "steps=1",
            "--logical-key",
            "weekly-otc",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(4));
    let stderr = stderr_of(&output);
    assert!(
        stderr.contains(&format!(
            "logical key `weekly-otc` is held by running execution {id}"
        )),
        "{stderr}"
    );

    let output = first.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert_eq!(env.count("SELECT COUNT(*) FROM faulty_rows"), 150);
    // Once the first finished, the key is free again.
    env.cmd()
        .args([
            "run",
            "faulty.slow",
            "-p",
            "steps=1",
            "--logical-key",
            "weekly-otc",
        ])
        .assert()
        .success();
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

#[test]
fn bad_database_paths_get_one_line_and_exit_2() {
    let env = TestEnv::with_plugins(&["spine_example"]);
    let missing = env.dir.path().join("no-such-folder").join("x.db");
    let output = env
        .bare_cmd()
        .arg("--db")
        .arg(&missing)
        .args(["db", "init"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr_of(&output).trim_end(),
        format!(
            "error: database {}: folder {} does not exist",
            missing.display(),
            missing.parent().unwrap().display()
        )
    );

    let not_sqlite = env.dir.path().join("notes.db");
    std::fs::write(&not_sqlite, "these are my notes, not a database\n".repeat(200)).unwrap();
    let output = env
        .bare_cmd()
        .arg("--plugins-dir")
        .arg(&env.plugins)
        .arg("--db")
        .arg(&not_sqlite)
        .args(["run", "example.hello"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr_of(&output).trim_end(),
        format!(
            "error: database {} is not a SQLite database",
            not_sqlite.display()
        )
    );
    // The file is untouched.
    assert!(std::fs::read_to_string(&not_sqlite)
        .unwrap()
        .starts_with("these are my notes"));
}
