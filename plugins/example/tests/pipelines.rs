//! The example's pipelines, run by `cargo test` on the test harness: the
//! host's own runner, transactions and fence over a temporary SQLite
//! database, with the plugin as a value (no `.so`, no `spine-host` binary).
//! Copy this file with the crate, and test your pipelines the same way.

use spine_example::plugin;
use spine_plugin_test::{json, Harness, Status};

#[test]
fn hello_stores_its_greeting_and_reports_it() {
    // A fresh database in a temporary folder, with the plugin's migrations applied.
    let harness = Harness::new(plugin()).unwrap();

    // Parameters as on the command line: `-p name=Ann`.
    let run = harness.run("example.hello", &[("name", "Ann")]).unwrap();
    assert_eq!(run.status, Status::Completed, "{:?}", run.error);
    assert_eq!(run.metrics, json!({"message": "Hello, Ann!", "rows_written": 1}));
    // What it logged, as spine-host prints it on stderr.
    assert_eq!(run.logs, ["INFO  example: Hello, Ann!"]);

    // The run committed: its row is there, read back with read-only SQL.
    let rows = harness
        .query("SELECT name, message FROM example_greetings")
        .unwrap();
    assert_eq!(rows, [json!({"name": "Ann", "message": "Hello, Ann!"})]);
}

#[test]
fn defaults_fill_in_as_the_host_fills_them() {
    let harness = Harness::new(plugin()).unwrap();
    let hello = harness.run("example.hello", &[]).unwrap();
    assert_eq!(hello.params, json!({"name": "World"}));
    assert_eq!(hello.metrics["message"], "Hello, World!");
    let count = harness.run("example.count", &[]).unwrap();
    assert_eq!(count.metrics, json!({"n": 10, "total": 55}));
}

#[test]
fn count_adds_up_and_refuses_a_negative_n() {
    let harness = Harness::new(plugin()).unwrap();
    let run = harness.run("example.count", &[("n", "1000")]).unwrap();
    assert_eq!(run.metrics["total"], 500_500);

    let run = harness.run("example.count", &[("n", "-1")]).unwrap();
    assert_eq!(run.status, Status::Failed);
    assert_eq!(
        run.error.as_deref(),
        Some("n must be 0 or more, got -1 (help: pass -p n=10)")
    );
}

#[test]
fn a_failed_run_is_recorded_as_failed() {
    let harness = Harness::new(plugin()).unwrap();
    let run = harness.run("example.fail", &[]).unwrap();
    assert_eq!(run.status, Status::Failed);
    let recorded = harness
        .query("SELECT pipeline, status FROM core_executions")
        .unwrap();
    assert_eq!(
        recorded,
        [json!({"pipeline": "example.fail", "status": "failed"})]
    );
}

#[test]
fn requests_the_host_would_refuse_are_errors_with_its_exit_code() {
    let harness = Harness::new(plugin()).unwrap();
    // `spine-host run example.count -p n=ten` exits 2 and records nothing.
    let refused = harness.run("example.count", &[("n", "ten")]).unwrap_err();
    assert_eq!(refused.exit_code(), 2);
    assert!(refused.message().contains("`n`"), "{refused}");
    let refused = harness.run("example.helo", &[]).unwrap_err();
    assert!(
        refused.message().contains("did you mean `example.hello`"),
        "{refused}"
    );
}
