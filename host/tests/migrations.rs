//! Migrations: applied at init and before a run, tracked with checksums, and
//! refused when the database and the code disagree. A plugin whose
//! migrations cannot apply is refused like a bad file; the others work.

mod common;
mod hostile;

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

/// What a test expects of a plugin whose migrations cannot apply.
struct Refused<'a> {
    domain: &'a str,
    file: &'a std::path::Path,
    /// `run` arguments for one of its pipelines.
    pipeline: &'a [&'a str],
    reason: &'a str,
}

/// Checks that the plugin is refused with its reason by `plugins`,
/// `db status` and `db init`, that running its pipeline exits 3 with that
/// reason, and that every other command works: `works` (the `run` arguments
/// of another domain's pipeline) runs, and `executions`, `db status` and
/// `query` answer. `cmd` makes each command.
fn assert_refused_while_others_work(
    cmd: &dyn Fn() -> assert_cmd::Command,
    refused: &Refused<'_>,
    works: &[&str],
) {
    let refusal = format!("{}: {}", refused.file.display(), refused.reason);
    let cannot_run = format!(
        "error: pipeline `{}` cannot run: its plugin {} was refused: {}",
        refused.pipeline[0],
        refused.file.display(),
        refused.reason
    );
    let output = cmd().args(["plugins", "--json"]).output().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        report["refused"],
        serde_json::json!([{
            "path": refused.file.display().to_string(),
            "reason": refused.reason,
            "domain": refused.domain,
        }]),
        "{report}"
    );
    // `db status` reports; `db init` could not do its job for that domain,
    // so it says so and exits 3 rather than "up to date".
    for (args, code) in [(&["db", "status"][..], 0), (&["db", "init"], 3)] {
        let output = cmd().args(args).output().unwrap();
        assert_eq!(
            output.status.code(),
            Some(code),
            "{args:?}: {}",
            stderr_of(&output)
        );
        let stdout = stdout_of(&output);
        assert_eq!(
            code == 0,
            !stdout.contains("could not be brought up to date"),
            "{stdout}"
        );
        assert!(
            stdout
                .lines()
                .any(|l| l == format!("refused domain `{}`: {refusal}", refused.domain)),
            "{args:?}: {stdout}"
        );
    }
    let output = cmd().arg("run").args(refused.pipeline).output().unwrap();
    assert_eq!(output.status.code(), Some(3));
    let stderr = stderr_of(&output);
    assert_eq!(stderr.lines().last().unwrap(), cannot_run, "{stderr}");
    cmd().arg("run").args(works).assert().success();
    for args in [
        &["executions"][..],
        &["db", "status"],
        &["query", "SELECT COUNT(*) FROM core_executions"],
    ] {
        let output = cmd().args(args).output().unwrap();
        assert_eq!(output.status.code(), Some(0), "{args:?}: {}", stderr_of(&output));
    }
}

/// `run` arguments that make the hostile plugin write a row.
const HOSTILE_WORKS: &[&str] = &[
    "hostile.sql",
    "-p",
    "statement=INSERT INTO hostile_rows (note) VALUES ('still works')",
];

#[test]
fn checksum_drift_refuses_that_plugin_with_a_clear_message_and_the_others_work() {
    let env = TestEnv::with_plugins(&["spine_example"]);
    hostile::install(&env, "hostile");
    env.cmd().args(["db", "init"]).assert().success();
    env.conn()
        .execute(
            "UPDATE core_migrations SET checksum = 'deadbeef0000ffff' WHERE domain = 'example'",
            [],
        )
        .unwrap();
    let file = env.plugins.join("libspine_example.so");
    let reason = format!(
        "cannot apply its migrations: migration 1 (example_greetings) of domain `example` changed after \
         it was applied: checksum deadbeef0000 in the database, {} in {}; restore the original SQL and \
         put the change in a new migration",
        &spine_host::migrate::checksum(&example_migration())[..12],
        file.display()
    );
    let refused = Refused {
        domain: "example",
        file: &file,
        pipeline: &["example.hello"],
        reason: &reason,
    };
    assert_refused_while_others_work(&|| env.cmd(), &refused, HOSTILE_WORKS);
    assert_eq!(
        env.count("SELECT COUNT(*) FROM core_executions WHERE plugin_domain = 'example'"),
        0
    );
}

/// The SQL of the example plugin's first migration.
fn example_migration() -> String {
    let path = common::workspace_root().join("plugins/example/migrations/001_example_greetings.sql");
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn a_database_ahead_of_a_plugin_refuses_that_plugin_and_the_others_work() {
    let env = TestEnv::with_plugins(&["spine_example"]);
    hostile::install(&env, "hostile");
    env.cmd().args(["db", "init"]).assert().success();
    env.conn()
        .execute(
            "INSERT INTO core_migrations VALUES ('example', 2, 'from_the_future', 'abc', '2030-01-01T00:00:00Z')",
            [],
        )
        .unwrap();
    let file = env.plugins.join("libspine_example.so");
    let reason = format!(
        "cannot apply its migrations: the database is ahead of domain `example`: migration 2 \
         (from_the_future) is applied, but {} only knows migrations up to 1; install the newer plugin, \
         or use a database made by this one",
        file.display()
    );
    let refused = Refused {
        domain: "example",
        file: &file,
        pipeline: &["example.hello"],
        reason: &reason,
    };
    assert_refused_while_others_work(&|| env.cmd(), &refused, HOSTILE_WORKS);
}

#[test]
fn a_plugin_whose_migration_the_fence_refuses_is_refused_naming_the_object_and_its_kind() {
    let env = TestEnv::with_plugins(&["spine_example"]);
    let file = hostile::install(&env, "hostile");
    // A common naming habit: the index is not named after the domain.
    let cmd = || {
        let mut cmd = hostile::cmd(&env, "mini");
        cmd.env(
            "HOSTILE_MIGRATION_1",
            "CREATE TABLE mini_t (x); CREATE INDEX idx_mini_t_x ON mini_t (x);",
        );
        cmd
    };
    let reason = "cannot apply its migrations: applying migration mini/001_mini_step_1: plugin SQL of \
                  domain `mini` may change only its own indexes, named `mini_…`; `idx_mini_t_x` is not \
                  one of them";
    // check-plugin dry-runs the migration, under the same fence, and says so.
    let output = cmd().arg("check-plugin").arg(&file).output().unwrap();
    assert_eq!(output.status.code(), Some(3));
    assert_eq!(
        stderr_of(&output),
        format!("error: {}: {reason}\n", file.display())
    );
    assert!(stdout_of(&output).contains("001_mini_step_1"));

    let refused = Refused {
        domain: "mini",
        file: &file,
        pipeline: &["mini.sql", "-p", "statement=SELECT 1"],
        reason,
    };
    assert_refused_while_others_work(&cmd, &refused, &["example.hello"]);
    assert_eq!(
        env.count("SELECT COUNT(*) FROM sqlite_schema WHERE name LIKE '%mini%'"),
        0
    );
}

#[test]
fn a_plugin_whose_migration_fails_is_refused_and_check_plugin_sees_other_domains_tables() {
    let env = TestEnv::with_plugins(&["spine_example"]);
    let file = hostile::install(&env, "hostile");
    let cmd = |migration: &str| {
        let mut cmd = hostile::cmd(&env, "mini");
        cmd.env("HOSTILE_MIGRATION_1", migration);
        cmd
    };
    // A migration may read another domain's table: the dry run has them.
    let reads = "CREATE TABLE mini_names AS SELECT name FROM example_greetings";
    let output = cmd(reads).arg("check-plugin").arg(&file).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));

    let fails = "CREATE TABLE mini_t (x); INSERT INTO mini_t SELECT no_such_column FROM mini_t";
    let reason = "cannot apply its migrations: applying migration mini/001_mini_step_1: no such column: \
                  no_such_column";
    let output = cmd(fails).arg("check-plugin").arg(&file).output().unwrap();
    assert_eq!(output.status.code(), Some(3));
    assert_eq!(
        stderr_of(&output),
        format!("error: {}: {reason}\n", file.display())
    );
    let refused = Refused {
        domain: "mini",
        file: &file,
        pipeline: &["mini.sql", "-p", "statement=SELECT 1"],
        reason,
    };
    assert_refused_while_others_work(&|| cmd(fails), &refused, &["example.hello"]);
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
