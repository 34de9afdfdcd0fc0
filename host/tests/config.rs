//! Settings precedence (defaults < `.env` < `SPINE_*` environment < flags), a
//! malformed `SPINE_TODAY`, and the README staying in step with the binary.

mod common;

use common::{stdout_of, TestEnv};

/// Runs `example.hello` with `cmd`, which must succeed.
fn run_hello(cmd: &mut assert_cmd::Command) {
    cmd.args(["run", "example.hello"]).assert().success();
}

#[test]
fn dotenv_then_environment_then_flags_choose_the_database() {
    let env = TestEnv::with_plugins(&["spine_example"]);
    let dir = env.dir.path();
    std::fs::write(
        dir.join(".env"),
        "SPINE_DATABASE_PATH=from-dotenv.db\nSPINE_PLUGINS_DIR=plugins\n",
    )
    .unwrap();

    run_hello(&mut env.bare_cmd());
    assert!(dir.join("from-dotenv.db").exists(), ".env was not read");

    run_hello(env.bare_cmd().env("SPINE_DATABASE_PATH", "from-env.db"));
    assert!(
        dir.join("from-env.db").exists(),
        "the environment did not override .env"
    );

    run_hello(
        env.bare_cmd()
            .env("SPINE_DATABASE_PATH", "from-env.db")
            .args(["--db", "from-flag.db"]),
    );
    assert!(
        dir.join("from-flag.db").exists(),
        "the flag did not override the environment"
    );

    // Each database holds exactly the one run made against it.
    for db in ["from-dotenv.db", "from-env.db", "from-flag.db"] {
        let conn = rusqlite::Connection::open(dir.join(db)).unwrap();
        let runs: i64 = conn
            .query_row("SELECT COUNT(*) FROM core_executions", [], |r| r.get(0))
            .unwrap();
        assert_eq!(runs, 1, "{db}");
    }
}

#[test]
fn the_readme_documents_every_command_and_both_setup_commands() {
    let readme = std::fs::read_to_string(common::workspace_root().join("README.md")).unwrap();
    assert!(readme.contains("scripts/demo.sh") && readme.contains("cargo test --workspace"));
    let env = TestEnv::new();
    let help = stdout_of(&env.bare_cmd().arg("--help").output().unwrap());
    let commands: Vec<&str> = help
        .lines()
        .skip_while(|line| !line.starts_with("Commands:"))
        .skip(1)
        .take_while(|line| line.starts_with("  "))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .collect();
    assert!(commands.len() >= 9, "{help}");
    for command in commands {
        assert!(
            readme.contains(&format!("| `{command}")),
            "README's usage table lacks `{command}`"
        );
    }
    for flag in ["--db", "--plugins-dir", "--data-dir", "--log-level"] {
        assert!(
            help.contains(flag) && readme.contains(&format!("`{flag}`")),
            "{flag}"
        );
    }
}

#[test]
fn a_malformed_spine_today_is_one_line_and_exit_2() {
    let env = TestEnv::with_plugins(&["spine_example"]);
    for today in ["2026-13-01", "2026-1-5", "tomorrow", ""] {
        let output = env.cmd().env("SPINE_TODAY", today).arg("list").output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{today:?}");
        assert_eq!(
            common::stderr_of(&output),
            format!("error: SPINE_TODAY: expected a date YYYY-MM-DD, found {today:?}\n")
        );
        assert!(output.stdout.is_empty(), "{today:?}");
    }
    let output = env
        .cmd()
        .env("SPINE_TODAY", "2026-01-15")
        .arg("list")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", common::stderr_of(&output));
}
