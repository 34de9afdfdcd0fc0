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

/// A C library whose initialiser writes the file named by `SPINE_TEST_MARK`;
/// linked to the stand-in SQLite in `stub` when given.
fn library_with_an_initialiser(
    dir: &std::path::Path,
    name: &str,
    stub: Option<&std::path::Path>,
) -> std::path::PathBuf {
    let source = dir.join(format!("{name}.c"));
    std::fs::write(
        &source,
        "#include <stdio.h>\n#include <stdlib.h>\n\
         extern const char *sqlite3_libversion(void);\n\
         __attribute__((constructor)) static void mark(void) {\n\
         \x20   const char *path = getenv(\"SPINE_TEST_MARK\");\n\
         \x20   FILE *file = path ? fopen(path, \"w\") : NULL;\n\
         \x20   if (file) { fputs(\"ran\", file); fclose(file); }\n\
         }\n\
         const char *which_sqlite(void) { return SQLITE ? sqlite3_libversion() : \"none\"; }\n",
    )
    .unwrap();
    let library = dir.join(format!("lib{name}.so"));
    let mut args = vec![
        "-shared".to_owned(),
        "-fPIC".to_owned(),
        format!("-DSQLITE={}", u8::from(stub.is_some())),
        "-o".to_owned(),
        library.display().to_string(),
        source.display().to_string(),
    ];
    // After the source, so that the linker uses the library for it.
    if let Some(stub) = stub {
        args.extend([
            "-Wl,--no-as-needed".to_owned(),
            format!("-L{}", stub.display()),
            "-lsqlite3".to_owned(),
            format!("-Wl,-rpath,{}", stub.display()),
        ]);
    }
    hostile::cc(&args.iter().map(String::as_str).collect::<Vec<_>>());
    library
}

#[test]
fn check_plugin_reads_a_library_before_loading_it_and_says_that_loading_runs_its_initialisers() {
    let env = TestEnv::new();
    let stub = hostile::stub_sqlite(env.dir.path());
    let mark = env.dir.path().join("initialiser-ran");

    // Refused on what it links, before anything in it runs.
    let linked = library_with_an_initialiser(env.dir.path(), "ctorsqlite", Some(&stub));
    let output = env
        .cmd()
        .env("SPINE_TEST_MARK", &mark)
        .arg("check-plugin")
        .arg(&linked)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    assert!(
        stderr_of(&output).starts_with(&format!(
            "error: {}: links the system's SQLite (libsqlite3.so.0)",
            linked.display()
        )),
        "{}",
        stderr_of(&output)
    );
    assert!(
        !mark.exists(),
        "the initialiser of a library refused unloaded ran"
    );

    // Past those checks the library is loaded, and its initialiser runs, as
    // the help says.
    let plain = library_with_an_initialiser(env.dir.path(), "ctor", None);
    let output = env
        .cmd()
        .env("SPINE_TEST_MARK", &mark)
        .arg("check-plugin")
        .arg(&plain)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    assert!(
        stderr_of(&output).starts_with(&format!(
            "error: {}: is not a Market Spine plugin",
            plain.display()
        )),
        "{}",
        stderr_of(&output)
    );
    assert!(mark.exists());
    let help = env.cmd().args(["check-plugin", "--help"]).output().unwrap();
    let help = common::stdout_of(&help)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(help.contains("loading a library runs its initialisers"), "{help}");

    let output = env.cmd().args(["check-plugin", "no-such.so"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(stderr_of(&output), "error: no-such.so: no such file\n");
}
