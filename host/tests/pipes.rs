//! Output into closed pipes (`spine-host executions | head -1`, a cron job
//! whose log reader died): printing stops quietly, the exit code stays the
//! command's own, and a run is recorded as it ended.

mod common;

use common::{stderr_of, TestEnv};
use std::process::Stdio;

/// A pipe whose reading end is already closed: every write fails with EPIPE.
fn closed_pipe() -> Stdio {
    let (reader, writer) = std::io::pipe().expect("creating a pipe");
    drop(reader);
    writer.into()
}

#[test]
fn a_closed_stdout_ends_the_printing_quietly_with_the_commands_exit_code() {
    let env = TestEnv::with_plugins(&["spine_example"]);
    for name in ["Ann", "Bob", "Cy"] {
        env.cmd()
            .args(["run", "example.hello", "-p"])
            .arg(format!("name={name}"))
            .assert()
            .success();
    }
    let many_rows =
        "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n LIMIT 100000) SELECT x FROM n";
    let commands: &[&[&str]] = &[
        &["executions"],
        &["executions", "--json"],
        &["list"],
        &["plugins"],
        &["db", "status"],
        &["describe", "example.hello"],
        &["query", many_rows],
        &["query", many_rows, "--format", "json"],
        &["query", many_rows, "--format", "csv"],
        &["run", "example.hello", "--json"],
        &["run", "example.hello"],
    ];
    for args in commands {
        let output = env
            .background_cmd()
            .args(*args)
            .stdout(closed_pipe())
            .output()
            .unwrap();
        let stderr = stderr_of(&output);
        assert_eq!(output.status.code(), Some(0), "{args:?}: {stderr}");
        assert_eq!(stderr, "", "{args:?}");
    }
    // The two runs printed into the closed pipe are recorded completed.
    assert_eq!(
        env.count("SELECT COUNT(*) FROM core_executions WHERE status = 'completed'"),
        5
    );
    // A failed run keeps its own exit code.
    let output = env
        .background_cmd()
        .args(["run", "example.fail"])
        .stdout(closed_pipe())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr_of(&output));
}

#[test]
fn a_closed_stderr_never_stops_a_run_and_the_run_is_recorded_as_it_ended() {
    let env = TestEnv::with_plugins(&["spine_example"]);
    // Logs at debug: the host and the plugin's callbacks write to stderr
    // before, during and after the run.
    let output = env
        .background_cmd()
        .args(["--log-level", "debug", "run", "example.hello", "-p", "name=Quiet"])
        .stderr(closed_pipe())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&output.stdout).contains("completed"));
    assert_eq!(
        env.count(
            "SELECT COUNT(*) FROM core_executions WHERE status = 'completed' AND params LIKE '%Quiet%'"
        ),
        1
    );
    let output = env
        .background_cmd()
        .args(["--log-level", "debug", "run", "example.fail"])
        .stderr(closed_pipe())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        env.count(
            "SELECT COUNT(*) FROM core_executions WHERE status = 'failed' AND pipeline = 'example.fail'"
        ),
        1
    );
}
