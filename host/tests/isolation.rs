//! Plugin isolation: a hostile plugin (the `hostile` fixture, built from the
//! public guide alone) tries to reach what is not its own through SQL, and
//! the fence and the host keep every other domain and the host's own
//! bookkeeping out of its reach.

mod common;
mod hostile;

use common::{stderr_of, TestEnv};

/// The execution `run --json` printed, and the status the database recorded for it.
fn printed_and_recorded(env: &TestEnv, output: &std::process::Output) -> (serde_json::Value, String) {
    let printed: serde_json::Value =
        serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr_of(output)));
    let recorded: String = env
        .conn()
        .query_row(
            "SELECT status FROM main.core_executions WHERE id = ?1",
            [printed["id"].as_str().unwrap()],
            |row| row.get(0),
        )
        .unwrap();
    (printed, recorded)
}

#[test]
fn a_temp_trigger_is_refused_so_nothing_fires_on_the_hosts_bookkeeping() {
    let env = TestEnv::with_plugins(&["spine_example"]);
    hostile::install(&env, "hostile");
    hostile::cmd(&env, "hostile")
        .args(["run", "example.hello"])
        .assert()
        .success();
    let escalate = "BEGIN UPDATE main.core_executions SET status = 'completed', error = NULL \
                    WHERE status = 'failed'; DELETE FROM main.example_greetings; END";
    let temp_trigger = |name: &str| {
        format!(
            "plugin SQL may not create TEMP trigger `{name}`: a temporary trigger could fire on the \
             host's own statements"
        )
    };
    for (statement, reason) in [
        (
            format!("CREATE TEMP TRIGGER esc AFTER UPDATE ON main.core_executions {escalate}"),
            temp_trigger("esc"),
        ),
        // A trigger on a temporary table is a temporary trigger too.
        (
            format!("CREATE TEMP TABLE scratch (n); CREATE TRIGGER hostile_esc AFTER INSERT ON scratch {escalate}"),
            temp_trigger("hostile_esc"),
        ),
        // Stored in `temp` by its name, on a table of the host's: SQLite
        // reports it as an ordinary trigger, and the table is not the plugin's.
        (
            format!("CREATE TRIGGER temp.hostile_esc AFTER UPDATE ON core_executions {escalate}"),
            "plugin SQL of domain `hostile` may change only its own tables, named `hostile_…`; \
             `core_executions` is not one of them"
                .to_owned(),
        ),
    ] {
        let output = hostile::run_sql(&env, "hostile", &statement);
        assert_eq!(output.status.code(), Some(1), "{statement}");
        let (printed, recorded) = printed_and_recorded(&env, &output);
        assert_eq!((printed["status"].as_str().unwrap(), recorded.as_str()), ("failed", "failed"));
        let error = printed["error"].as_str().unwrap();
        assert!(error.starts_with(&reason), "{statement}: {error}");
    }
    // The other domain's row is there, and no failed run became completed.
    assert_eq!(env.count("SELECT COUNT(*) FROM example_greetings"), 1);
    assert_eq!(
        env.count("SELECT COUNT(*) FROM core_executions WHERE status = 'failed'"),
        3
    );
}

#[test]
fn a_temp_object_named_like_a_database_object_is_refused_and_the_cli_prints_what_was_recorded() {
    let env = TestEnv::with_plugins(&["spine_example"]);
    hostile::install(&env, "hostile");
    hostile::cmd(&env, "hostile")
        .args(["run", "example.hello"])
        .assert()
        .success();
    for (statement, name, kind) in [
        (
            "CREATE TEMP TABLE core_executions AS SELECT * FROM main.core_executions",
            "core_executions",
            "table",
        ),
        (
            "CREATE TEMP VIEW Core_Migrations AS SELECT * FROM main.core_migrations",
            "Core_Migrations",
            "table",
        ),
        (
            "CREATE TEMP TABLE example_greetings (x)",
            "example_greetings",
            "table",
        ),
        (
            "CREATE TEMP TABLE core_executions_by_pipeline (x)",
            "core_executions_by_pipeline",
            "index",
        ),
        // Its own table too: the host would not see it, but its own later
        // statements would silently write the temporary one.
        ("CREATE TEMP TABLE hostile_rows (x)", "hostile_rows", "table"),
    ] {
        let output = hostile::run_sql(&env, "hostile", statement);
        assert_eq!(
            output.status.code(),
            Some(1),
            "{statement}: {}",
            stderr_of(&output)
        );
        let (printed, recorded) = printed_and_recorded(&env, &output);
        assert_eq!(
            (printed["status"].as_str().unwrap(), recorded.as_str()),
            ("failed", "failed")
        );
        let error = printed["error"].as_str().unwrap();
        assert!(
            error.starts_with(&format!(
                "plugin SQL may not create TEMP object `{name}`: it would stand in for the {kind} of \
                 that name"
            )),
            "{statement}: {error}"
        );
    }
    // A temporary table of its own is fine.
    let output = hostile::run_sql(
        &env,
        "hostile",
        "CREATE TEMP TABLE scratch (n); INSERT INTO scratch VALUES (1); \
         INSERT INTO hostile_rows (note) SELECT 'from scratch' FROM scratch",
    );
    let (printed, recorded) = printed_and_recorded(&env, &output);
    assert_eq!(
        (printed["status"].as_str().unwrap(), recorded.as_str()),
        ("completed", "completed")
    );
    assert_eq!(env.count("SELECT COUNT(*) FROM hostile_rows"), 1);
}

#[test]
fn temporary_objects_a_run_creates_are_dropped_when_it_ends() {
    use spine_host::dispatcher::Submission;
    use spine_host::executions::Status;
    use spine_host::progress::Progress;
    let env = TestEnv::new();
    hostile::install(&env, "hostile");
    // One session runs twice, as `spine-host shell` does: the second run's
    // CREATE works only if the first run's temporary objects are gone.
    let session = env.session();
    let cancel = std::sync::atomic::AtomicBool::new(false);
    let statement = "CREATE TEMP TABLE scratch (n); CREATE TEMP VIEW scratch_view AS SELECT n FROM scratch; \
                     CREATE INDEX temp.scratch_by_n ON scratch (n)";
    for _ in 0..2 {
        let execution = session
            .dispatcher(&cancel)
            .submit(
                &Submission::new("hostile.sql", &[("statement", statement)]),
                &Progress::silent(),
            )
            .unwrap();
        assert_eq!(execution.status, Status::Completed, "{:?}", execution.error);
        let left: i64 = session
            .db
            .conn
            .query_row("SELECT COUNT(*) FROM temp.sqlite_schema", [], |row| row.get(0))
            .unwrap();
        assert_eq!(left, 0);
    }
}
