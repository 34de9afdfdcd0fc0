//! Migrations: applied at init and before a run, tracked with checksums, and
//! refused when the database and the code disagree.

mod common;

use common::{stderr_of, stdout_of, TestEnv};

#[test]
fn init_applies_core_and_plugin_migrations_and_status_shows_them() {
    let env = TestEnv::with_plugins(&["spine_example"]);
    env.cmd().args(["db", "init"]).assert().success();
    assert_eq!(
        env.count("SELECT COUNT(*) FROM core_migrations WHERE domain IN ('core', 'example')"),
        3
    );
    let output = env.cmd().args(["db", "status"]).output().unwrap();
    let table = stdout_of(&output);
    assert!(
        table.contains("002_core_executions_host_process") && table.contains("001_example_greetings"),
        "{table}"
    );
}

#[test]
fn a_dropped_in_plugin_gets_its_migrations_at_the_next_run() {
    let env = TestEnv::with_plugins(&["spine_example"]);
    env.cmd().args(["db", "init"]).assert().success();
    env.install("spine_faulty");
    let output = env.cmd().args(["db", "status"]).output().unwrap();
    assert!(
        stdout_of(&output).contains("001_faulty_rows"),
        "pending migration not shown"
    );
    env.cmd()
        .args(["run", "faulty.sql", "-p", "statement=SELECT 1"])
        .assert()
        .success();
    assert_eq!(env.count("SELECT COUNT(*) FROM faulty_rows"), 1);
}

#[test]
fn checksum_drift_is_refused_with_a_clear_message() {
    let env = TestEnv::with_plugins(&["spine_example"]);
    env.cmd().args(["db", "init"]).assert().success();
    env.conn()
        .execute(
            "UPDATE core_migrations SET checksum = 'deadbeef0000ffff' WHERE domain = 'example'",
            [],
        )
        .unwrap();
    let output = env.cmd().args(["run", "example.hello"]).output().unwrap();
    assert_eq!(output.status.code(), Some(3));
    let stderr = stderr_of(&output);
    assert!(
        stderr.contains(
            "migration 1 (example_greetings) of domain `example` changed after it was applied: \
             checksum deadbeef0000 in the database"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("restore the original SQL and put the change in a new migration"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert_eq!(env.count("SELECT COUNT(*) FROM core_executions"), 0);
}

#[test]
fn a_database_ahead_of_the_plugin_is_refused() {
    let env = TestEnv::with_plugins(&["spine_example"]);
    env.cmd().args(["db", "init"]).assert().success();
    env.conn()
        .execute(
            "INSERT INTO core_migrations VALUES ('example', 2, 'from_the_future', 'abc', '2030-01-01T00:00:00Z')",
            [],
        )
        .unwrap();
    let output = env.cmd().args(["db", "init"]).output().unwrap();
    assert_eq!(output.status.code(), Some(3));
    assert!(stderr_of(&output)
        .contains("the database is ahead of domain `example`: migration 2 (from_the_future)"));
}

#[test]
fn db_reset_needs_confirmation_and_then_starts_over() {
    let env = TestEnv::with_plugins(&["spine_example"]);
    env.cmd().args(["run", "example.hello"]).assert().success();
    let output = env.cmd().args(["db", "reset"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(env.count("SELECT COUNT(*) FROM core_executions"), 1);
    env.cmd().args(["db", "reset", "--yes"]).assert().success();
    assert_eq!(env.count("SELECT COUNT(*) FROM core_executions"), 0);
    assert_eq!(env.count("SELECT COUNT(*) FROM core_migrations"), 3);
}
