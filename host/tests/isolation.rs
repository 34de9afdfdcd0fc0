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
        assert_eq!(session.temporary_objects().unwrap(), Vec::<String>::new());
    }
}

/// `spine-host plugins --json` with the hostile plugin playing `domain`.
fn plugins_report(env: &TestEnv, domain: &str) -> serde_json::Value {
    let output = hostile::cmd(env, domain)
        .args(["plugins", "--json"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
    serde_json::from_slice(&output.stdout).unwrap()
}

fn loaded_domains(report: &serde_json::Value) -> Vec<&str> {
    let mut domains: Vec<&str> = report["loaded"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["domain"].as_str().unwrap())
        .collect();
    domains.sort_unstable();
    domains
}

/// The reason `file` was refused for, from a `plugins --json` report.
fn refusal_of(report: &serde_json::Value, file: &std::path::Path) -> String {
    report["refused"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["path"] == file.display().to_string())
        .unwrap_or_else(|| panic!("{} is not refused: {report}", file.display()))["reason"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn overlapping_domains_with_no_migrations_applied_are_both_refused_naming_both() {
    let env = TestEnv::with_plugins(&["spine_example", "spine_otc"]);
    let otc = env.plugins.join("libspine_otc.so");
    let raw = hostile::install(&env, "hostile");
    let report = plugins_report(&env, "otc_raw");
    assert_eq!(loaded_domains(&report), ["example"]);
    assert_eq!(
        refusal_of(&report, &otc),
        format!(
            "domain `otc` overlaps domain `otc_raw` ({}): every `otc_raw_…` name is also an `otc_…` name, \
             so table ownership would be ambiguous; neither or both have migrations applied in this \
             database, so both are refused: remove one",
            raw.display()
        )
    );
    assert_eq!(
        refusal_of(&report, &raw),
        format!(
            "domain `otc_raw` overlaps domain `otc` ({}): every `otc_raw_…` name is also an `otc_…` name, \
             so table ownership would be ambiguous; neither or both have migrations applied in this \
             database, so both are refused: remove one",
            otc.display()
        )
    );

    // Running either domain's pipeline says why, with exit code 3; the other
    // domain runs, and `db init` applies only its migrations.
    for pipeline in ["otc.normalize", "otc_raw.sql"] {
        let output = hostile::cmd(&env, "otc_raw")
            .args(["run", pipeline, "-p", "statement=DELETE FROM otc_raw_lines"])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(3), "{pipeline}");
        let stderr = stderr_of(&output);
        let error = stderr.lines().last().unwrap();
        assert!(
            error.starts_with(&format!("error: pipeline `{pipeline}` cannot run: its plugin ")),
            "{stderr}"
        );
        assert!(error.contains("so both are refused: remove one"), "{stderr}");
    }
    hostile::cmd(&env, "otc_raw")
        .args(["db", "init"])
        .assert()
        .success();
    hostile::cmd(&env, "otc_raw")
        .args(["run", "example.hello"])
        .assert()
        .success();
    assert_eq!(
        env.count("SELECT COUNT(*) FROM core_migrations WHERE domain LIKE 'otc%'"),
        0
    );
    assert_eq!(env.count("SELECT COUNT(*) FROM core_executions"), 1);
}

#[test]
fn the_domain_with_migrations_applied_keeps_loading_and_a_newcomer_in_its_namespace_is_refused() {
    // `otc` first: the newcomer `otc_raw` would own otc's `otc_raw_lines`.
    let env = TestEnv::with_plugins(&["spine_otc"]);
    let otc = env.plugins.join("libspine_otc.so");
    env.cmd().args(["db", "init"]).assert().success();
    let raw = hostile::install(&env, "hostile");
    let report = plugins_report(&env, "otc_raw");
    assert_eq!(loaded_domains(&report), ["otc"]);
    assert_eq!(
        refusal_of(&report, &raw),
        format!(
            "domain `otc_raw` overlaps domain `otc` ({}): every `otc_raw_…` name is also an `otc_…` name, \
             so table ownership would be ambiguous; `otc` has migrations applied in this database and \
             keeps loading",
            otc.display()
        )
    );
    let output = hostile::run_sql(&env, "otc_raw", "DROP TABLE otc_raw_lines");
    assert_eq!(output.status.code(), Some(3), "{}", stderr_of(&output));
    hostile::cmd(&env, "otc_raw")
        .args(["run", "otc.normalize"])
        .assert()
        .success();
    assert_eq!(
        env.count("SELECT COUNT(*) FROM sqlite_schema WHERE name = 'otc_raw_lines'"),
        1
    );
    // Even with otc's file gone, its tables are still otc's.
    std::fs::remove_file(&otc).unwrap();
    let report = plugins_report(&env, "otc_raw");
    assert!(
        refusal_of(&report, &raw).starts_with("domain `otc_raw` overlaps domain `otc` (not loaded now)"),
        "{report}"
    );

    // The other way round: `otc_venue` first, then `otc` arrives.
    let env = TestEnv::new();
    let venue = hostile::install(&env, "hostile");
    hostile::cmd(&env, "otc_venue")
        .args(["db", "init"])
        .assert()
        .success();
    env.install("spine_otc");
    let report = plugins_report(&env, "otc_venue");
    assert_eq!(loaded_domains(&report), ["otc_venue"]);
    assert_eq!(
        refusal_of(&report, &env.plugins.join("libspine_otc.so")),
        format!(
            "domain `otc` overlaps domain `otc_venue` ({}): every `otc_venue_…` name is also an `otc_…` \
             name, so table ownership would be ambiguous; `otc_venue` has migrations applied in this \
             database and keeps loading",
            venue.display()
        )
    );
    let output = hostile::run_sql(
        &env,
        "otc_venue",
        "INSERT INTO otc_venue_rows (note) VALUES ('x')",
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
}

#[test]
fn domains_starting_with_core_or_sqlite_are_reserved() {
    let env = TestEnv::new();
    let file = hostile::install(&env, "hostile");
    for (domain, owner) in [
        ("core", "the host"),
        ("core_extra", "the host"),
        ("coredata", "the host"),
        ("sqlite", "SQLite"),
        ("sqlite_stat9", "SQLite"),
    ] {
        let report = plugins_report(&env, domain);
        let reserved = if owner == "SQLite" { "sqlite" } else { "core" };
        assert_eq!(
            refusal_of(&report, &file),
            format!(
                "declares domain `{domain}`; domains starting with `{reserved}` are reserved for {owner}"
            )
        );
    }
}

#[test]
fn plugin_sql_never_writes_sqlites_own_tables_but_its_ddl_keeps_them_up_to_date() {
    let env = TestEnv::new();
    hostile::install(&env, "hostile");
    let run = |statement: &str| {
        let output = hostile::run_sql(&env, "hostile", statement);
        let printed: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        (
            printed["status"].as_str().unwrap().to_owned(),
            printed["error"].clone(),
        )
    };
    // Its own AUTOINCREMENT table keeps a counter in sqlite_sequence.
    assert_eq!(
        run("INSERT INTO hostile_rows (note) VALUES ('a'), ('b')").0,
        "completed"
    );
    for statement in [
        "DELETE FROM sqlite_sequence",
        "UPDATE sqlite_sequence SET seq = 0 WHERE name = 'hostile_rows'",
        "INSERT INTO sqlite_sequence VALUES ('otc_raw_lines', 99)",
    ] {
        let (status, error) = run(statement);
        assert_eq!(status, "failed", "{statement}");
        assert!(
            error.as_str().unwrap().starts_with(
                "plugin SQL may not write SQLite's own table `sqlite_sequence`: SQLite keeps it for every domain"
            ),
            "{statement}: {error}"
        );
    }
    assert_eq!(
        env.count("SELECT seq FROM sqlite_sequence WHERE name = 'hostile_rows'"),
        2
    );
    // ANALYZE writes sqlite_stat1 before it names the table it analyzes.
    let (status, error) = run("ANALYZE hostile_rows");
    assert_eq!(status, "failed");
    assert!(
        error
            .as_str()
            .unwrap()
            .starts_with("plugin SQL may not write SQLite's own table `sqlite_stat1`"),
        "{error}"
    );
    // SQLite's own bookkeeping of the plugin's DDL still happens.
    for statement in [
        "CREATE TABLE hostile_more (id INTEGER PRIMARY KEY AUTOINCREMENT); INSERT INTO hostile_more DEFAULT VALUES",
        "ALTER TABLE hostile_more RENAME TO hostile_most",
        "DROP TABLE hostile_rows",
    ] {
        assert_eq!(run(statement), ("completed".to_owned(), serde_json::Value::Null), "{statement}");
    }
    assert_eq!(
        env.count("SELECT COUNT(*) FROM sqlite_sequence WHERE name LIKE 'hostile%'"),
        1
    );
    assert_eq!(
        env.count("SELECT COUNT(*) FROM sqlite_sequence WHERE name = 'hostile_most'"),
        1
    );
}

#[test]
fn renaming_an_object_out_of_its_namespace_or_over_another_is_refused_and_rolled_back() {
    // ALTER TABLE … RENAME TO tells the authorizer the old name only.
    let env = TestEnv::with_plugins(&["spine_otc"]);
    hostile::install(&env, "hostile");
    hostile::cmd(&env, "hostile")
        .args(["db", "init"])
        .assert()
        .success();
    let run = |statement: &str| {
        let output = hostile::run_sql(&env, "hostile", statement);
        let (printed, recorded) = printed_and_recorded(&env, &output);
        assert_eq!(printed["status"], recorded.as_str(), "{statement}");
        (recorded, printed["error"].as_str().unwrap_or_default().to_owned())
    };
    for (statement, left) in [
        (
            "CREATE TABLE hostile_t (a); ALTER TABLE hostile_t RENAME TO example_greetings",
            "table `example_greetings`",
        ),
        (
            "CREATE TABLE hostile_t (a); ALTER TABLE hostile_t RENAME TO core_x",
            "table `core_x`",
        ),
        (
            "CREATE TABLE hostile_t (a); ALTER TABLE hostile_t RENAME TO otc_venue_share_v3",
            "table `otc_venue_share_v3`",
        ),
    ] {
        let (status, error) = run(statement);
        assert_eq!(status, "failed", "{statement}");
        assert_eq!(
            error,
            format!(
                "plugin SQL of domain `hostile` may name its objects only `hostile_…`; it left {left} \
                 (renamed out of its namespace), and the change was rolled back"
            ),
        );
    }
    let (status, error) = run(
        "CREATE TEMP TABLE hostile_tt (id, status); ALTER TABLE temp.hostile_tt RENAME TO core_executions",
    );
    assert_eq!(status, "failed");
    assert_eq!(
        error,
        "plugin SQL may not leave temporary table `core_executions`: it would stand in for the object of that \
         name, and the change was rolled back"
    );
    assert_eq!(
        env.count("SELECT COUNT(*) FROM sqlite_schema WHERE name IN ('example_greetings', 'core_x', 'otc_venue_share_v3', 'hostile_t')"),
        0
    );
    // Within its own namespace a rename is a migration's everyday tool.
    assert_eq!(
        run("CREATE TABLE hostile_t (a); ALTER TABLE hostile_t RENAME TO hostile_u").0,
        "completed"
    );
    // REINDEX rewrites only its own indexes.
    let (status, error) = run("REINDEX");
    assert_eq!(status, "failed");
    assert!(
        error.starts_with("plugin SQL may not write SQLite's own table `sqlite_autoindex_"),
        "{error}"
    );
    let (status, error) = run("REINDEX otc_raw_lines_key");
    assert_eq!(status, "failed");
    assert!(error.contains("may change only its own indexes"), "{error}");
    assert_eq!(
        run("CREATE INDEX hostile_u_a ON hostile_u (a); REINDEX hostile_u_a").0,
        "completed"
    );
}
