//! `db reset` empties only an idle Market Spine database, in place, and
//! leaves anything else exactly as it was.

mod common;

use common::{stderr_of, stdout_of, TestEnv};
use std::os::unix::fs::MetadataExt;

fn reset(env: &TestEnv) -> std::process::Output {
    env.cmd().args(["db", "reset", "--yes"]).output().unwrap()
}

#[test]
fn a_file_that_is_not_a_market_spine_database_is_refused_and_left_as_it_was() {
    let env = TestEnv::with_plugins(&["spine_example"]);
    std::fs::write(&env.db, "my notes, not a database\n").unwrap();
    let output = reset(&env);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr_of(&output),
        format!(
            "error: {} is not a SQLite database; db reset empties only a Market Spine database, \
             and left it as it was\n",
            env.db.display()
        )
    );
    assert_eq!(
        std::fs::read_to_string(&env.db).unwrap(),
        "my notes, not a database\n"
    );

    std::fs::remove_file(&env.db).unwrap();
    let other = rusqlite::Connection::open(&env.db).unwrap();
    other
        .execute_batch("CREATE TABLE contacts (name TEXT); INSERT INTO contacts VALUES ('Ann');")
        .unwrap();
    drop(other);
    let output = reset(&env);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr_of(&output),
        format!(
            "error: {} is a SQLite database, but not Market Spine's (it has no core_migrations \
             table); db reset left it as it was\n",
            env.db.display()
        )
    );
    assert_eq!(env.count("SELECT COUNT(*) FROM contacts"), 1);
}

#[test]
fn a_database_open_in_another_process_is_refused_and_keeps_its_rows() {
    let env = TestEnv::with_plugins(&["spine_example"]);
    env.cmd()
        .args(["run", "example.hello", "-p", "name=Before"])
        .assert()
        .success();
    // The test's own connection is the other process, and holds the write
    // lock, as a run in the middle of its writes does.
    let other = env.conn();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    let output = reset(&env);
    assert_eq!(output.status.code(), Some(4), "{}", stderr_of(&output));
    assert_eq!(
        stderr_of(&output),
        format!(
            "error: database {} is open in another process (a run, a shell, a reader); db reset \
             needs it idle, and left it as it was\n",
            env.db.display()
        )
    );
    other.execute_batch("COMMIT").unwrap();
    // Merely open (no transaction) counts as in use too.
    assert_eq!(reset(&env).status.code(), Some(4));
    drop(other);
    assert_eq!(
        env.count("SELECT COUNT(*) FROM core_executions WHERE status = 'completed'"),
        1
    );
}

#[test]
fn an_idle_database_is_emptied_in_place_and_initialised_again() {
    let env = TestEnv::with_plugins(&["spine_example"]);
    env.cmd()
        .args(["run", "example.hello", "-p", "name=Before"])
        .assert()
        .success();
    let inode = std::fs::metadata(&env.db).unwrap().ino();
    let output = reset(&env);
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert!(
        stdout_of(&output).starts_with(&format!("emptied {}\n", env.db.display())),
        "{}",
        stdout_of(&output)
    );
    assert_eq!(
        std::fs::metadata(&env.db).unwrap().ino(),
        inode,
        "the file was replaced"
    );
    assert_eq!(env.count("SELECT COUNT(*) FROM core_executions"), 0);
    assert!(env.count("SELECT COUNT(*) FROM core_migrations") > 0);
    assert_eq!(
        env.conn()
            .query_row("PRAGMA integrity_check", [], |row| row.get::<_, String>(0))
            .unwrap(),
        "ok"
    );
    env.cmd()
        .args(["run", "example.hello", "-p", "name=After"])
        .assert()
        .success();
    assert_eq!(env.count("SELECT COUNT(*) FROM core_executions"), 1);
}
