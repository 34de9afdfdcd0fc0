//! The SQLite guard judges what a library links and defines, not its bytes:
//! a plugin that merely holds SQLite's file header text loads, stripped or
//! not; one that brings a second SQLite into the process while it loads is
//! refused. (Plugins that carry or link SQLite are in `third_party.rs`.)

mod common;
mod hostile;

use common::{stderr_of, TestEnv};

#[test]
fn a_plugin_that_holds_the_sqlite_header_text_loads_stripped_or_not() {
    let folder = tempfile::tempdir().unwrap();
    let library = hostile::library();
    let stripped = hostile::stripped(library, folder.path());
    for file in [library, stripped.as_path()] {
        // The fixture is honest: the text is there.
        let bytes = std::fs::read(file).unwrap();
        assert!(
            bytes.windows(15).any(|w| w == b"SQLite format 3"),
            "{}",
            file.display()
        );
        let env = TestEnv::with_plugins(&["spine_example"]);
        hostile::install_file(&env, file, "hostile");
        let output = env.cmd().args(["plugins", "--json"]).output().unwrap();
        let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(
            report["refused"],
            serde_json::json!([]),
            "{}: {report}",
            file.display()
        );
        let output = env.cmd().arg("check-plugin").arg(file).output().unwrap();
        assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
        env.cmd()
            .args([
                "run",
                "hostile.sql",
                "-p",
                "statement=INSERT INTO hostile_rows (note) VALUES ('ok')",
            ])
            .assert()
            .success();
    }
}

#[test]
fn a_plugin_that_opens_a_second_sqlite_while_it_loads_is_refused() {
    let env = TestEnv::with_plugins(&["spine_example"]);
    let stub = hostile::stub_sqlite(env.dir.path()).join("libsqlite3.so.0");
    let stub = std::fs::canonicalize(stub).unwrap();
    let installed = hostile::install(&env, "hostile");
    let reason = format!(
        "brought a second SQLite into the process while it loaded ({}); plugins must use the host's \
         database service, because two SQLite copies in one process can corrupt the database (remove \
         rusqlite/libsqlite3-sys from the plugin)",
        stub.display()
    );
    let output = env
        .cmd()
        .env("HOSTILE_DLOPEN", &stub)
        .args(["plugins", "--json"])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        report["refused"],
        serde_json::json!([{ "path": installed.display().to_string(), "reason": reason }]),
        "{report}"
    );
    assert_eq!(report["loaded"][0]["domain"], "example");
    let output = env
        .cmd()
        .env("HOSTILE_DLOPEN", &stub)
        .arg("check-plugin")
        .arg(&installed)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    assert_eq!(
        stderr_of(&output),
        format!("error: {}: {reason}\n", installed.display())
    );
}
