//! Running pipelines through the CLI and through the dispatcher API: results,
//! execution rows, exit codes, panics and rollbacks.

mod common;

use common::{stderr_of, stdout_of, TestEnv};
use spine_host::dispatcher::Submission;
use spine_host::executions::Status;
use spine_host::progress::Progress;
use std::sync::atomic::AtomicBool;

fn run_json(env: &TestEnv, args: &[&str]) -> (Option<i32>, serde_json::Value) {
    let output = env.cmd().arg("run").args(args).arg("--json").output().unwrap();
    let execution = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: stdout {} stderr {}", stdout_of(&output), stderr_of(&output)));
    (output.status.code(), execution)
}

#[test]
fn hello_count_and_fail_through_the_cli() {
    let env = TestEnv::with_plugins(&["spine_example"]);

    let output = env
        .cmd()
        .args(["run", "example.hello", "-p", "name=Bob"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let stdout = stdout_of(&output);
    assert!(stdout.starts_with("example.hello completed in "), "{stdout}");
    assert!(stdout.contains("message       Hello, Bob!"), "{stdout}");

    let (code, count) = run_json(&env, &["example.count", "-p", "n=100"]);
    assert_eq!(code, Some(0));
    assert_eq!(count["status"], "completed");
    assert_eq!(count["metrics"]["total"], 5050);
    assert_eq!(count["params"]["n"], 100);

    let output = env.cmd().args(["run", "example.fail"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(stdout_of(&output).starts_with("example.fail failed in "));
    assert_eq!(
        stderr_of(&output).trim_end(),
        "error: example.fail always fails (help: this pipeline exists to show how failures are reported)"
    );

    // Every run is recorded, failures too, with the plugin that ran it.
    let rows: Vec<(String, String, String)> = env
        .conn()
        .prepare("SELECT pipeline, status, plugin_domain FROM core_executions ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let expected = [
        ("example.hello", "completed"),
        ("example.count", "completed"),
        ("example.fail", "failed"),
    ];
    assert_eq!(rows.len(), 3);
    for ((pipeline, status, domain), (want_pipeline, want_status)) in rows.iter().zip(expected) {
        assert_eq!(
            (pipeline.as_str(), status.as_str(), domain.as_str()),
            (want_pipeline, want_status, "example")
        );
    }
    // The plugin's own migration ran and hello wrote its row.
    assert_eq!(
        env.count("SELECT COUNT(*) FROM example_greetings WHERE message = 'Hello, Bob!'"),
        1
    );
}

#[test]
fn defaults_fill_in_and_the_json_execution_has_every_field() {
    let env = TestEnv::with_plugins(&["spine_example"]);
    let (code, hello) = run_json(
        &env,
        &["example.hello", "--lane", "backfill", "--trigger", "scheduler"],
    );
    assert_eq!(code, Some(0));
    assert_eq!(hello["metrics"]["message"], "Hello, World!");
    assert_eq!(hello["lane"], "backfill");
    assert_eq!(hello["trigger_source"], "scheduler");
    for field in [
        "id",
        "created_at",
        "started_at",
        "completed_at",
        "duration_ms",
        "plugin_version",
        "host_pid",
    ] {
        assert!(!hello[field].is_null(), "{field} is null in {hello}");
    }
}

#[test]
fn hello_count_and_fail_through_the_dispatcher_api() {
    let env = TestEnv::with_plugins(&["spine_example"]);
    let session = env.session();
    let cancel = AtomicBool::new(false);
    let dispatcher = session.dispatcher(&cancel);
    let progress = Progress::silent();

    let hello = dispatcher
        .submit(&Submission::new("example.hello", &[("name", "Ann")]), &progress)
        .unwrap();
    assert_eq!(hello.status, Status::Completed);
    assert_eq!(hello.metrics.as_ref().unwrap()["message"], "Hello, Ann!");

    let count = dispatcher
        .submit(&Submission::new("example.count", &[("n", "4")]), &progress)
        .unwrap();
    assert_eq!(count.metrics.as_ref().unwrap()["total"], 10);

    let fail = dispatcher
        .submit(&Submission::new("example.fail", &[]), &progress)
        .unwrap();
    assert_eq!(fail.status, Status::Failed);
    assert!(fail
        .error
        .as_deref()
        .unwrap()
        .starts_with("example.fail always fails"));

    let stored: String = env
        .conn()
        .query_row(
            "SELECT status FROM core_executions WHERE id = ?1",
            [&fail.id],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(stored, "failed");
}

#[test]
fn a_panicking_pipeline_fails_cleanly_and_keeps_nothing_it_wrote() {
    let env = TestEnv::with_plugins(&["spine_faulty", "spine_example"]);
    let session = env.session();
    let cancel = AtomicBool::new(false);
    let dispatcher = session.dispatcher(&cancel);

    let panicked = dispatcher
        .submit(&Submission::new("faulty.panic", &[]), &Progress::silent())
        .unwrap();
    assert_eq!(panicked.status, Status::Failed);
    let error = panicked.error.unwrap();
    assert!(error.starts_with("the plugin panicked: "), "{error}");
    assert!(error.contains("index 3 is out of range on purpose"), "{error}");
    assert_eq!(env.count("SELECT COUNT(*) FROM faulty_rows"), 0);

    // The host survived: the same process runs the next pipeline.
    let hello = dispatcher
        .submit(&Submission::new("example.hello", &[]), &Progress::silent())
        .unwrap();
    assert_eq!(hello.status, Status::Completed);

    // Through the CLI: exit code 1, the panic named, nothing kept.
    let output = env.cmd().args(["run", "faulty.panic"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr_of(&output).contains("the plugin panicked"),
        "{}",
        stderr_of(&output)
    );
    assert_eq!(env.count("SELECT COUNT(*) FROM faulty_rows"), 0);
    assert_eq!(
        env.count("SELECT COUNT(*) FROM core_executions WHERE status = 'failed'"),
        2
    );
}

#[test]
fn an_error_after_writing_rolls_back_the_writes() {
    let env = TestEnv::with_plugins(&["spine_faulty"]);
    let output = env
        .cmd()
        .args(["run", "faulty.write_then_fail"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr_of(&output).trim_end(),
        "error: failed on purpose after writing"
    );
    assert_eq!(env.count("SELECT COUNT(*) FROM faulty_rows"), 0);
}

#[test]
fn a_running_logical_key_refuses_a_second_run_naming_it() {
    let env = TestEnv::with_plugins(&["spine_example"]);
    // The session applies the migrations; then a run holding the key,
    // recorded by a process that is still alive (us).
    drop(env.session());
    env.conn()
        .execute(
            "INSERT INTO core_executions (id, pipeline, params, lane, trigger_source, logical_key, status,
                 created_at, started_at, plugin_domain, plugin_version, host_pid)
             VALUES ('0000-held', 'example.count', '{}', 'normal', 'cli', 'weekly', 'running',
                 '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', 'example', '0.1.0', ?1)",
            [i64::from(std::process::id())],
        )
        .unwrap();
    let output = env
        .cmd()
        .args(["run", "example.hello", "--logical-key", "weekly"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(4));
    let stderr = stderr_of(&output);
    assert!(
        stderr.contains("logical key `weekly` is held by running execution 0000-held"),
        "{stderr}"
    );
    // A different key runs.
    env.cmd()
        .args(["run", "example.hello", "--logical-key", "other"])
        .assert()
        .success();
}

#[test]
fn a_run_left_running_by_a_dead_process_is_marked_failed_at_next_start() {
    let env = TestEnv::with_plugins(&["spine_example"]);
    env.cmd().args(["db", "init"]).assert().success();
    // A pid that cannot exist (above the kernel's pid_max).
    env.conn()
        .execute(
            "INSERT INTO core_executions (id, pipeline, params, lane, trigger_source, logical_key, status,
                 created_at, started_at, plugin_domain, plugin_version, host_pid)
             VALUES ('0000-orphan', 'example.count', '{}', 'normal', 'cli', 'weekly', 'running',
                 '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', 'example', '0.1.0', 99999999)",
            [],
        )
        .unwrap();
    // The dead run does not hold its key any more.
    env.cmd()
        .args(["run", "example.hello", "--logical-key", "weekly"])
        .assert()
        .success();
    let (status, error): (String, String) = env
        .conn()
        .query_row(
            "SELECT status, error FROM core_executions WHERE id = '0000-orphan'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(status, "failed");
    assert!(
        error.starts_with("process 99999999 ended while the execution was running"),
        "{error}"
    );
}

#[test]
#[cfg(target_os = "linux")]
fn a_run_whose_process_id_was_reused_is_marked_failed_and_frees_its_key() {
    let env = TestEnv::with_plugins(&["spine_example"]);
    env.cmd().args(["db", "init"]).assert().success();
    // The pid is a live process (this test), but the recorded start time is
    // not its own: the host that wrote the row died, and the pid was reused.
    let boot_id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap();
    env.conn()
        .execute(
            "INSERT INTO core_executions (id, pipeline, params, lane, trigger_source, logical_key, status,
                 created_at, started_at, plugin_domain, plugin_version, host_pid, host_process)
             VALUES ('0000-reused', 'example.count', '{}', 'normal', 'cli', 'weekly', 'running',
                 '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', 'example', '0.1.0', ?1, ?2)",
            rusqlite::params![i64::from(std::process::id()), format!("{}/1", boot_id.trim())],
        )
        .unwrap();
    env.cmd()
        .args(["run", "example.hello", "--logical-key", "weekly"])
        .assert()
        .success();
    assert_eq!(
        env.count("SELECT COUNT(*) FROM core_executions WHERE id = '0000-reused' AND status = 'failed'"),
        1
    );
    // A run the host records names its process beyond the pid.
    let own_boot = format!("{}/%", boot_id.trim());
    let recorded: i64 = env
        .conn()
        .query_row(
            "SELECT COUNT(*) FROM core_executions WHERE pipeline = 'example.hello' AND host_process LIKE ?1",
            [own_boot],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(recorded, 1);
}
