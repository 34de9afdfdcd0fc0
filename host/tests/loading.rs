//! Loading plugins from a folder: both real plugins, drop-in without a
//! rebuild, and junk files refused one line each while the real ones load.

mod common;

use common::{stderr_of, stdout_of, TestEnv};

fn pipeline_names(env: &TestEnv) -> Vec<String> {
    let output = env.cmd().args(["list", "--json"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
    let listing: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    listing
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn lists_pipelines_of_both_plugins_and_picks_up_a_dropped_in_plugin() {
    let env = TestEnv::with_plugins(&["spine_example"]);
    assert_eq!(
        pipeline_names(&env),
        ["example.count", "example.fail", "example.hello"]
    );

    // Dropping a second library in needs no rebuild of the host: the same
    // binary sees it on its next start.
    env.install("spine_otc");
    let names = pipeline_names(&env);
    assert!(names.contains(&"example.hello".to_owned()), "{names:?}");
    for otc in ["otc.ingest", "otc.normalize", "otc.summarize"] {
        assert!(names.contains(&otc.to_owned()), "{otc} missing from {names:?}");
    }

    let output = env.cmd().arg("list").output().unwrap();
    let table = stdout_of(&output);
    assert!(
        table.contains("example.hello") && table.contains("otc.ingest"),
        "{table}"
    );
}

#[test]
fn two_plugins_loaded_together_are_two_domains() {
    let env = TestEnv::with_plugins(&["spine_example", "spine_otc"]);
    let output = env.cmd().args(["plugins", "--json"]).output().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let mut domains: Vec<&str> = report["loaded"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["domain"].as_str().unwrap())
        .collect();
    domains.sort_unstable();
    assert_eq!(domains, ["example", "otc"]);
    assert_eq!(report["refused"].as_array().unwrap().len(), 0);
}

/// A copy of some system library that is certainly not a plugin.
fn a_system_library() -> std::path::PathBuf {
    [
        "/lib/x86_64-linux-gnu/libz.so.1",
        "/usr/lib/x86_64-linux-gnu/libz.so.1",
        "/lib/x86_64-linux-gnu/libm.so.6",
    ]
    .iter()
    .map(std::path::PathBuf::from)
    .find(|p| p.exists())
    .expect("a system library to copy")
}

#[test]
fn junk_files_are_refused_one_line_each_and_real_plugins_still_load() {
    let env = TestEnv::with_plugins(&["spine_example"]);
    std::fs::write(env.plugins.join("libx.so"), "this is only text\n").unwrap();
    std::fs::write(env.plugins.join("libempty.so"), "").unwrap();
    std::fs::copy(a_system_library(), env.plugins.join("libsystem.so")).unwrap();

    let output = env.cmd().args(["plugins", "--json"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["loaded"][0]["domain"], "example");
    let refused: Vec<(String, String)> = report["refused"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["path"].as_str().unwrap().to_owned(),
                r["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let reason_for = |file: &str| {
        refused
            .iter()
            .find(|(path, _)| path.ends_with(file))
            .map(|(_, r)| r.clone())
            .unwrap_or_default()
    };
    assert_eq!(refused.len(), 3, "{refused:?}");
    assert!(
        reason_for("libx.so").starts_with("cannot be opened as a library"),
        "{refused:?}"
    );
    assert_eq!(reason_for("libempty.so"), "is an empty file, not a plugin");
    assert!(
        reason_for("libsystem.so").starts_with("is not a Market Spine plugin"),
        "{refused:?}"
    );

    // Every refusal is exactly one line on stderr, naming the file.
    let output = env.cmd().arg("list").output().unwrap();
    assert!(output.status.success());
    let stderr = stderr_of(&output);
    let warnings: Vec<&str> = stderr.lines().filter(|l| l.contains("plugin refused")).collect();
    assert_eq!(warnings.len(), 3, "{stderr}");
    for file in ["libx.so", "libempty.so", "libsystem.so"] {
        assert!(
            warnings.iter().any(|w| w.contains(file)),
            "{file} not named in {stderr}"
        );
    }
    assert!(stdout_of(&output).contains("example.hello"));
}

#[test]
fn source_crates_and_target_folders_are_not_scanned() {
    let env = TestEnv::with_plugins(&["spine_example"]);
    let crate_dir = env.plugins.join("mine");
    std::fs::create_dir_all(crate_dir.join("target")).unwrap();
    std::fs::write(crate_dir.join("Cargo.toml"), "[package]\n").unwrap();
    std::fs::write(crate_dir.join("libjunk.so"), "not a library").unwrap();
    std::fs::create_dir_all(env.plugins.join("target")).unwrap();
    std::fs::write(env.plugins.join("target").join("libjunk.so"), "not a library").unwrap();

    let output = env.cmd().args(["plugins", "--json"]).output().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["refused"].as_array().unwrap().len(), 0, "{report}");
    assert_eq!(report["loaded"].as_array().unwrap().len(), 1);
}

#[test]
fn a_plugin_one_folder_down_loads_and_a_symlink_to_it_loads_once() {
    let env = TestEnv::new();
    let vendor = env.plugins.join("vendor");
    std::fs::create_dir(&vendor).unwrap();
    std::fs::copy(
        common::plugin_library("spine_example"),
        vendor.join("libspine_example.so"),
    )
    .unwrap();
    std::os::unix::fs::symlink(
        vendor.join("libspine_example.so"),
        env.plugins.join("libalias.so"),
    )
    .unwrap();

    let output = env.cmd().args(["plugins", "--json"]).output().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["loaded"].as_array().unwrap().len(), 1, "{report}");
    assert_eq!(report["refused"].as_array().unwrap().len(), 0, "{report}");
}

#[test]
fn two_files_with_the_same_domain_are_both_refused_naming_both() {
    let env = TestEnv::with_plugins(&["spine_example"]);
    std::fs::copy(
        common::plugin_library("spine_example"),
        env.plugins.join("libcopy.so"),
    )
    .unwrap();
    let output = env.cmd().args(["plugins", "--json"]).output().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["loaded"].as_array().unwrap().len(), 0);
    let refused = report["refused"].as_array().unwrap();
    assert_eq!(refused.len(), 2);
    for refusal in refused {
        let reason = refusal["reason"].as_str().unwrap();
        assert!(
            reason.contains("libcopy.so") && reason.contains("libspine_example.so"),
            "{reason}"
        );
    }
}

#[test]
fn a_world_writable_plugins_folder_is_refused_with_the_reason() {
    use std::os::unix::fs::PermissionsExt;
    let env = TestEnv::with_plugins(&["spine_example"]);
    std::fs::set_permissions(&env.plugins, std::fs::Permissions::from_mode(0o777)).unwrap();
    let output = env.cmd().arg("list").output().unwrap();
    assert_eq!(output.status.code(), Some(3));
    let stderr = stderr_of(&output);
    assert!(stderr.contains("is writable by every user"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn hidden_files_are_skipped_and_a_world_writable_plugin_file_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let env = TestEnv::with_plugins(&["spine_example"]);
    // An installer's half-written temporary file is never loaded.
    std::fs::write(env.plugins.join(".libpartial.so"), "half a library").unwrap();
    let vendor = env.plugins.join("vendor");
    std::fs::create_dir(&vendor).unwrap();
    let shared = vendor.join("libspine_faulty.so");
    std::fs::copy(common::plugin_library("spine_faulty"), &shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o666)).unwrap();

    let output = env.cmd().args(["plugins", "--json"]).output().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["loaded"].as_array().unwrap().len(), 1, "{report}");
    let refused = report["refused"].as_array().unwrap();
    assert_eq!(refused.len(), 1, "{report}");
    assert!(refused[0]["path"]
        .as_str()
        .unwrap()
        .ends_with("vendor/libspine_faulty.so"));
    assert!(refused[0]["reason"]
        .as_str()
        .unwrap()
        .starts_with("the file is writable by every user"));

    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::set_permissions(&vendor, std::fs::Permissions::from_mode(0o777)).unwrap();
    let output = env.cmd().args(["plugins", "--json"]).output().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(report["refused"][0]["reason"]
        .as_str()
        .unwrap()
        .starts_with("its folder is writable by every user"));
}

/// Makes a FIFO at `path`.
fn make_fifo(path: &std::path::Path) {
    let name = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a NUL-terminated path.
    let made = unsafe { libc::mkfifo(name.as_ptr(), 0o644) };
    assert_eq!(made, 0, "mkfifo {}", path.display());
}

#[test]
fn odd_files_in_the_plugins_folder_are_refused_without_being_opened() {
    let env = TestEnv::with_plugins(&["spine_example"]);
    make_fifo(&env.plugins.join("libfifo.so"));
    let _socket = std::os::unix::net::UnixListener::bind(env.plugins.join("libsocket.so")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", env.plugins.join("libzero.so")).unwrap();
    // Opening the FIFO would wait for a writer, reading /dev/zero would never
    // end: a hang fails the test at the timeout instead of blocking CI.
    let timeout = std::time::Duration::from_secs(120);

    let output = env
        .cmd()
        .args(["plugins", "--json"])
        .timeout(timeout)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["loaded"][0]["domain"], "example");
    let refused: Vec<(String, String)> = report["refused"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let path = r["path"].as_str().unwrap();
            let file = path.rsplit('/').next().unwrap().to_owned();
            (file, r["reason"].as_str().unwrap().to_owned())
        })
        .collect();
    let not_regular = |kind: &str| format!("is {kind}, not a regular file; refused without reading it");
    assert_eq!(
        refused,
        [
            ("libfifo.so".to_owned(), not_regular("a FIFO")),
            ("libsocket.so".to_owned(), not_regular("a socket")),
            ("libzero.so".to_owned(), not_regular("a character device")),
        ]
    );
    for args in [&["list"][..], &["run", "example.hello"]] {
        let output = env.cmd().args(args).timeout(timeout).output().unwrap();
        assert_eq!(output.status.code(), Some(0), "{args:?}: {}", stderr_of(&output));
    }

    for (file, kind) in [
        ("/dev/zero", "a character device"),
        ("/dev/urandom", "a character device"),
        (env.plugins.join("libfifo.so").to_str().unwrap(), "a FIFO"),
    ] {
        let output = env
            .cmd()
            .args(["check-plugin", file])
            .timeout(timeout)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(3), "{file}");
        assert_eq!(
            stderr_of(&output),
            format!("error: {file}: {}\n", not_regular(kind)),
            "{file}"
        );
    }
}
