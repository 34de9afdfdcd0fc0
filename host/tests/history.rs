//! `spine-host executions` as an operator reads it: one line per run on an
//! 80-column terminal (colour codes are not width), control characters a user
//! typed shown escaped, the metrics that say something went wrong first, and
//! bad filters refused in one line.

mod common;

use common::{stderr_of, stdout_of, TestEnv};

/// `spine-host ARGS` on a pseudo-terminal of `columns` columns (util-linux's
/// `script`), with or without colour; the lines it printed, colour codes
/// removed, and whether any were there.
fn on_terminal(env: &TestEnv, columns: usize, colour: bool, args: &str) -> (Vec<String>, bool) {
    let binary = assert_cmd::cargo::cargo_bin("spine-host");
    let command = format!(
        "stty cols {columns}; {} --db {} --plugins-dir {} {args}",
        binary.display(),
        env.db.display(),
        env.plugins.display()
    );
    let mut script = std::process::Command::new("script");
    script
        .args(["-qec", &command, "/dev/null"])
        .env("SPINE_LOG_LEVEL", "warn");
    script.env_remove("COLUMNS");
    if colour {
        script.env_remove("NO_COLOR");
    } else {
        script.env("NO_COLOR", "1");
    }
    let output = script.output().expect("running script(1)");
    assert!(output.status.success(), "{}", stderr_of(&output));
    let text = stdout_of(&output).replace('\r', "");
    let coloured = text.contains("\x1b[");
    let mut plain = String::new();
    let mut rest = text.as_str();
    while let Some(start) = rest.find("\x1b[") {
        plain.push_str(&rest[..start]);
        let end = rest[start..].find('m').map_or(rest.len(), |m| start + m + 1);
        rest = &rest[end..];
    }
    plain.push_str(rest);
    (plain.lines().map(str::to_owned).collect(), coloured)
}

#[test]
fn the_table_keeps_one_line_per_run_at_80_and_120_columns_with_and_without_colour() {
    let env = TestEnv::with_plugins(&["spine_example"]);
    let long_name = "a name long enough to need cutting at eighty columns, and more besides";
    env.cmd()
        .args(["run", "example.hello", "-p"])
        .arg(format!("name={long_name}"))
        .assert()
        .success();
    env.cmd().args(["run", "example.fail"]).assert().code(1);
    env.cmd()
        .args(["run", "example.hello", "-p", "name=\x1b[31mX\nY"])
        .assert()
        .success();
    for columns in [80, 120] {
        for colour in [false, true] {
            let (lines, coloured) = on_terminal(&env, columns, colour, "executions");
            assert_eq!(coloured, colour, "{columns} columns");
            assert_eq!(
                lines.len(),
                2 + 3,
                "{columns} columns, colour {colour}: {lines:#?}"
            );
            for line in &lines {
                assert!(line.chars().count() <= columns, "{columns}: `{line}` is too wide");
            }
            assert!(
                lines[0].starts_with("id ") && lines[0].ends_with(" result"),
                "{}",
                lines[0]
            );
            assert!(
                columns == 80 || lines[2].contains("message=Hello, \\u{1b}[31mX\\nY!"),
                "{}",
                lines[2]
            );
            assert!(lines[3].contains(" failed "), "{}", lines[3]);
            assert!(lines[4].contains(" completed "), "{}", lines[4]);
            if columns == 80 {
                assert!(lines[4].ends_with('…'), "the result is cut: {}", lines[4]);
            }
        }
    }
    // Started times carry the year and say they are UTC.
    let (lines, _) = on_terminal(&env, 120, false, "executions");
    assert!(lines[0].contains("started (UTC)"));
    let year = chrono::Utc::now().format("%Y-").to_string();
    assert!(lines[2].contains(&year), "{}", lines[2]);
}

#[test]
fn control_characters_are_escaped_in_tables_and_kept_in_json() {
    let env = TestEnv::with_plugins(&["spine_example"]);
    env.cmd()
        .args(["run", "example.hello", "-p", "name=\x1b[31mX\nY"])
        .assert()
        .success();
    let table = stdout_of(&env.cmd().arg("executions").output().unwrap());
    assert_eq!(table.lines().count(), 3, "{table}");
    assert!(!table.contains('\x1b'));
    let json: serde_json::Value =
        serde_json::from_slice(&env.cmd().args(["executions", "--json"]).output().unwrap().stdout).unwrap();
    assert_eq!(json[0]["params"]["name"], "\x1b[31mX\nY");
    let id = json[0]["id"].as_str().unwrap();
    let shown = stdout_of(&env.cmd().args(["executions", "show", id]).output().unwrap());
    assert!(
        !shown.contains('\x1b') && shown.contains("\\u001b[31mX\\nY"),
        "{shown}"
    );
    let output = env
        .cmd()
        .args(["run", "example.hello", "-p", "name=\x1b[2J"])
        .output()
        .unwrap();
    assert!(!stdout_of(&output).contains('\x1b'), "{}", stdout_of(&output));
}

#[test]
fn bad_filters_exit_2_with_one_line_naming_what_is_expected() {
    let env = TestEnv::with_plugins(&["spine_example"]);
    for (args, message) in [
        (
            ["--status", "failled"],
            "error: --status `failled` is not a status; expected one of: pending, running, completed, failed, cancelled\n",
        ),
        (
            ["--since", "garbage"],
            "error: --since `garbage` is not a date; expected YYYY-MM-DD (UTC), for example 2026-11-27\n",
        ),
        (
            ["--since", "2026-99-99"],
            "error: --since `2026-99-99` is not a date; expected YYYY-MM-DD (UTC), for example 2026-11-27\n",
        ),
    ] {
        let output = env.cmd().arg("executions").args(args).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert_eq!(stderr_of(&output), message);
        assert_eq!(stdout_of(&output), "");
    }
}

#[test]
fn the_result_column_shows_what_went_wrong_first() {
    let env = TestEnv::with_plugins(&["spine_otc"]);
    let file = env.dir.path().join("week.psv");
    std::fs::write(
        &file,
        "tierDescription|issueSymbolIdentifier|issueName|marketParticipantName|MPID|totalWeeklyShareQuantity|totalWeeklyTradeCount|lastUpdateDate\n\
         OTC|AAA|Acme|V1 ATS|V1|100|1|2025-12-15\n\
         BAD|ROW|MISSING|COLUMNS\n",
    )
    .unwrap();
    env.cmd()
        .args(["run", "otc.ingest", "-p"])
        .arg(format!("file_path={}", file.display()))
        .assert()
        .success();
    let table = stdout_of(&env.cmd().arg("executions").output().unwrap());
    let row = table.lines().nth(2).unwrap();
    let result = row.split("  ").last().unwrap();
    assert!(result.starts_with("rejected=1 "), "{row}");
}

#[test]
fn wide_characters_are_measured_in_columns_and_bidi_controls_are_escaped() {
    let env = TestEnv::with_plugins(&["spine_example"]);
    let name =
        "Z\u{202e}R\u{200b}世界世界世界世界世界世界世界世界世界世界世界世界世界世界世界世界世界世界世界世界";
    env.cmd()
        .args(["run", "example.hello", "-p"])
        .arg(format!("name={name}"))
        .assert()
        .success();
    for columns in [80, 120, 160] {
        let (lines, _) = on_terminal(&env, columns, false, "executions");
        assert_eq!(lines.len(), 3, "{columns}: {lines:#?}");
        for line in &lines {
            let width = unicode_width::UnicodeWidthStr::width(line.as_str());
            assert!(width <= columns, "{columns}: `{line}` is {width} columns wide");
        }
        assert!(
            !lines[2].contains('\u{202e}') && !lines[2].contains('\u{200b}'),
            "{}",
            lines[2]
        );
        if columns > 80 {
            assert!(lines[2].contains("Z\\u{202e}R\\u{200b}世界"), "{}", lines[2]);
        }
    }
}
