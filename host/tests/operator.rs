//! Operator commands through the real binary: history, describe, plugin
//! inspection, read-only query and the shell.

mod common;

use common::{stderr_of, stdout_of, TestEnv};

fn json_of(env: &TestEnv, args: &[&str]) -> serde_json::Value {
    let output = env.cmd().args(args).output().unwrap();
    assert!(output.status.success(), "{args:?}: {}", stderr_of(&output));
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{args:?}: {e}: {}", stdout_of(&output)))
}

#[test]
fn executions_list_newest_first_filter_and_show_by_prefix() {
    let env = TestEnv::with_plugins(&["spine_example"]);
    env.cmd().args(["run", "example.hello"]).assert().success();
    env.cmd().args(["run", "example.fail"]).assert().code(1);
    env.cmd()
        .args(["run", "example.count", "-p", "n=3"])
        .assert()
        .success();

    let all = json_of(&env, &["executions", "--json"]);
    let pipelines: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["pipeline"].as_str().unwrap())
        .collect();
    assert_eq!(pipelines, ["example.count", "example.fail", "example.hello"]);

    let failed = json_of(&env, &["executions", "--status", "failed", "--json"]);
    assert_eq!(failed.as_array().unwrap().len(), 1);
    let limited = json_of(&env, &["executions", "--limit", "1", "--json"]);
    assert_eq!(limited[0]["pipeline"], "example.count");
    let none = json_of(&env, &["executions", "--since", "2999-01-01", "--json"]);
    assert_eq!(none.as_array().unwrap().len(), 0);

    let id = failed[0]["id"].as_str().unwrap();
    let shown = json_of(&env, &["executions", "show", &id[..13], "--json"]);
    assert_eq!(shown["id"], id);
    assert_eq!(
        shown["error"],
        "example.fail always fails (help: this pipeline exists to show how failures are reported)"
    );
    let text = stdout_of(&env.cmd().args(["executions", "show", id]).output().unwrap());
    assert!(
        text.contains("example.fail always fails (help: this pipeline exists"),
        "{text}"
    );

    let table = stdout_of(&env.cmd().arg("executions").output().unwrap());
    assert!(table.lines().next().unwrap().starts_with("id "), "{table}");
    assert_eq!(table.lines().count(), 5, "{table}");

    let output = env.cmd().args(["executions", "show", "zzz"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr_of(&output).trim_end(),
        "error: no execution id starts with `zzz`"
    );
}

#[test]
fn describe_shows_parameters_and_the_plugin_file() {
    let env = TestEnv::with_plugins(&["spine_example"]);
    let output = env.cmd().args(["describe", "example.hello"]).output().unwrap();
    assert!(output.status.success());
    let text = stdout_of(&output);
    assert!(
        text.starts_with("example.hello  Greets someone and records the greeting\n"),
        "{text}"
    );
    assert!(
        text.contains("-p name=…  (string, default World)  Who to greet"),
        "{text}"
    );
    assert!(
        text.contains("from plugin `example` 0.1.0 (spine-plugin-api 0.1.0), file "),
        "{text}"
    );
    assert!(text.contains("libspine_example.so"), "{text}");
}

#[test]
fn plugins_json_and_check_plugin() {
    let env = TestEnv::with_plugins(&["spine_example"]);
    let report = json_of(&env, &["plugins", "--json"]);
    let plugin = &report["loaded"][0];
    assert_eq!(plugin["domain"], "example");
    assert_eq!(plugin["api_version"], "0.1.0");
    assert_eq!(
        plugin["pipelines"],
        serde_json::json!(["example.hello", "example.count", "example.fail"])
    );
    assert_eq!(plugin["migrations"]["embedded"], 1);
    assert_eq!(plugin["migrations"]["pending"], 1, "{report}");
    env.cmd().args(["db", "init"]).assert().success();
    let report = json_of(&env, &["plugins", "--json"]);
    assert_eq!(report["loaded"][0]["migrations"]["applied"], 1, "{report}");
    assert_eq!(report["loaded"][0]["migrations"]["pending"], 0, "{report}");

    let library = env.plugins.join("libspine_example.so");
    let output = env.cmd().arg("check-plugin").arg(&library).output().unwrap();
    assert!(output.status.success());
    let text = stdout_of(&output);
    assert!(
        text.contains("domain       example") && text.contains("001_example_greetings"),
        "{text}"
    );

    let junk = env.dir.path().join("libjunk.so");
    std::fs::write(&junk, "not a library").unwrap();
    let output = env.cmd().arg("check-plugin").arg(&junk).output().unwrap();
    assert_eq!(output.status.code(), Some(3));
    let stderr = stderr_of(&output);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(&format!(
            "error: {}: cannot be opened as a library",
            junk.display()
        )),
        "{stderr}"
    );
}

#[test]
fn query_is_read_only_and_streams_three_formats() {
    let env = TestEnv::with_plugins(&["spine_example"]);
    env.cmd()
        .args(["run", "example.hello", "-p", "name=Ann"])
        .assert()
        .success();
    env.cmd()
        .args(["run", "example.hello", "-p", "name=Bob"])
        .assert()
        .success();

    let output = env
        .cmd()
        .args([
            "query",
            "INSERT INTO example_greetings (name, message) VALUES ('x', 'y')",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr_of(&output).contains("query is read-only"),
        "{}",
        stderr_of(&output)
    );
    let output = env
        .cmd()
        .args(["query", "DELETE FROM example_greetings"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(env.count("SELECT COUNT(*) FROM example_greetings"), 2);

    let sql = "SELECT name, message FROM example_greetings ORDER BY name";
    let rows = json_of(&env, &["query", sql, "--format", "json"]);
    assert_eq!(
        rows,
        serde_json::json!([
            {"name": "Ann", "message": "Hello, Ann!"},
            {"name": "Bob", "message": "Hello, Bob!"}
        ])
    );
    let csv = stdout_of(
        &env.cmd()
            .args(["query", sql, "--format", "csv"])
            .output()
            .unwrap(),
    );
    assert_eq!(csv, "name,message\nAnn,\"Hello, Ann!\"\nBob,\"Hello, Bob!\"\n");
    let table = stdout_of(&env.cmd().args(["query", sql]).output().unwrap());
    assert!(
        table.contains("Ann   Hello, Ann!") && table.ends_with("(2 rows)\n"),
        "{table}"
    );

    let output = env.cmd().args(["query", "SELEC 1"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn shell_runs_a_pipeline_and_sql_and_survives_bad_sql() {
    let env = TestEnv::with_plugins(&["spine_example"]);
    env.cmd().args(["db", "init"]).assert().success();
    let script = ".run example.hello name=Bob\n\
                  SELEC nonsense;\n\
                  SELECT message\n  FROM example_greetings;\n\
                  .tables\n\
                  .nope\n\
                  .quit\n";
    let output = env.cmd().arg("shell").write_stdin(script).output().unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
    let stdout = stdout_of(&output);
    let stderr = stderr_of(&output);
    assert!(stdout.contains("example.hello completed"), "{stdout}");
    assert!(stdout.contains("Hello, Bob!\n(1 row)"), "{stdout}");
    assert!(stdout.contains("example_greetings"), "{stdout}");
    assert!(
        stderr.contains("error: query failed: near \"SELEC\": syntax error"),
        "{stderr}"
    );
    assert!(stderr.contains("error: unknown command `.nope`"), "{stderr}");
    assert_eq!(env.count("SELECT COUNT(*) FROM example_greetings"), 1);
}

#[test]
fn every_command_help_has_a_summary_and_an_example() {
    let env = TestEnv::new();
    let commands: &[&[&str]] = &[
        &["db", "init"],
        &["db", "reset"],
        &["db", "status"],
        &["list"],
        &["run"],
        &["describe"],
        &["plugins"],
        &["check-plugin"],
        &["executions"],
        &["query"],
        &["shell"],
    ];
    for command in commands {
        let output = env.cmd().args(*command).arg("--help").output().unwrap();
        let text = stdout_of(&output);
        assert!(output.status.success(), "{command:?}");
        assert!(text.contains("Example"), "{command:?} has no example:\n{text}");
        assert!(
            !text.lines().next().unwrap_or("").is_empty(),
            "{command:?} has no summary"
        );
    }
}
