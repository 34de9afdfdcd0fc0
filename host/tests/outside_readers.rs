//! Other programs open the database while runs go on: the system's `sqlite3`
//! shell, Python's `sqlite3` module. SQLite's locks are POSIX locks, owned by
//! the process per file, and closing any descriptor of the file drops them
//! all; so the host must keep every lock SQLite took for as long as its
//! connection is open, and nothing but SQLite may open the database's files.

mod common;

use common::{stderr_of, stdout_of, wait_until_waiting_for_lock, TestEnv};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Child, Command, Output};

const HEADER: &str = "tierDescription|issueSymbolIdentifier|issueName|marketParticipantName|MPID|totalWeeklyShareQuantity|totalWeeklyTradeCount|lastUpdateDate";

/// A FINRA file of `rows` OTC lines published 2025-12-15, symbols `{tag}0`, `{tag}1`, …
fn write_file(path: &Path, rows: usize, tag: &str) {
    let mut text = format!("{HEADER}\n");
    for i in 0..rows {
        text.push_str(&format!(
            "OTC|{tag}{i}|{tag} {i} Inc|V ATS|VATS|{}|{}|2025-12-15\n",
            100 + i,
            1 + i % 7
        ));
    }
    std::fs::write(path, text).unwrap();
}

/// Opens the database with Python's `sqlite3` module (its own SQLite
/// library, in its own process), counts the executions, and closes it: the
/// close is when an SQLite that believes it is the last user checkpoints and
/// deletes the WAL.
fn outside_read(db: &Path) -> Output {
    let output = Command::new("python3")
        .args([
            "-c",
            "import sqlite3, sys\n\
             c = sqlite3.connect(sys.argv[1])\n\
             print(c.execute('SELECT count(*) FROM core_executions').fetchone()[0])\n\
             c.close()",
        ])
        .arg(db)
        .output()
        .expect("running python3");
    assert!(
        output.status.success(),
        "python3's sqlite3 read failed: {}",
        stderr_of(&output)
    );
    output
}

/// Whether process `pid` holds a POSIX lock on the file with inode `inode`,
/// as Linux's /proc/locks shows (`1: POSIX ADVISORY READ <pid> <dev>:<inode> …`).
///
/// /proc/locks is read in pieces, and a line can be skipped when other
/// processes take and drop locks between two pieces (a busy machine: cargo,
/// other tests). So it is read several times: a lock that is held shows up in
/// one of them, and a lock that was dropped (SQLite in WAL mode never takes
/// it again) shows up in none.
fn holds_lock(pid: u32, inode: u64) -> bool {
    let (pid, inode) = (pid.to_string(), format!(":{inode}"));
    (0..20).any(|_| {
        let locks = std::fs::read_to_string("/proc/locks").expect("reading /proc/locks");
        locks.lines().any(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            fields
                .windows(2)
                .any(|pair| pair[0] == pid && pair[1].ends_with(&inode))
        })
    })
}

/// An ingest of `file` in the background, logging at info so that it says
/// when it waits for the write lock.
fn spawn_ingest(env: &TestEnv, file: &Path) -> Child {
    env.background_cmd()
        .env("SPINE_LOG_LEVEL", "info")
        .args(["run", "otc.ingest", "-p"])
        .arg(format!("file_path={}", file.display()))
        .spawn()
        .unwrap()
}

#[test]
fn an_outside_reader_during_runs_never_loses_a_run_or_corrupts_the_database() {
    let env = TestEnv::with_plugins(&["spine_otc"]);
    env.cmd().args(["db", "init"]).assert().success();
    let (first, second) = (env.dir.path().join("a.psv"), env.dir.path().join("b.psv"));
    write_file(&first, 3000, "A");
    write_file(&second, 50, "B");
    let inode = std::fs::metadata(&env.db).unwrap().ino();

    // The test holds the write lock, so both runs are provably in progress
    // (connected, waiting) while outside readers come and go.
    let holder = env.conn();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    let mut runs = [spawn_ingest(&env, &first), spawn_ingest(&env, &second)];
    let rest: Vec<_> = runs.iter_mut().map(wait_until_waiting_for_lock).collect();
    for _ in 0..5 {
        outside_read(&env.db);
        // The host waited a second before saying so: a thread that opened
        // and closed the database file (as a writeback thread once did every
        // 100 ms) would have dropped these locks by now.
        for run in &runs {
            assert!(
                holds_lock(run.id(), inode),
                "process {} holds no lock on the database while its connection is open",
                run.id()
            );
        }
    }
    holder.execute_batch("COMMIT").unwrap();
    // Readers keep coming while the runs write, until both have ended.
    while runs.iter_mut().any(|run| run.try_wait().unwrap().is_none()) {
        outside_read(&env.db);
    }
    for (run, rest) in runs.into_iter().zip(rest) {
        let output = run.wait_with_output().unwrap();
        let stderr = rest.join().unwrap();
        assert_eq!(output.status.code(), Some(0), "{stderr}");
        assert!(stdout_of(&output).contains("completed"), "{}", stdout_of(&output));
    }

    assert_eq!(
        env.conn()
            .query_row("PRAGMA integrity_check", [], |row| row.get::<_, String>(0))
            .unwrap(),
        "ok"
    );
    assert_eq!(
        env.count(
            "SELECT COUNT(*) FROM core_executions WHERE pipeline = 'otc.ingest' AND status = 'completed'"
        ),
        2
    );
    assert_eq!(
        env.count("SELECT COUNT(*) FROM otc_raw WHERE symbol LIKE 'A%'"),
        3000
    );
    assert_eq!(
        env.count("SELECT COUNT(*) FROM otc_raw WHERE symbol LIKE 'B%'"),
        50
    );
    assert_eq!(stdout_of(&outside_read(&env.db)).trim(), "2");
}

#[test]
fn a_path_parameter_naming_the_database_or_its_wal_or_shm_is_refused_with_exit_2() {
    let env = TestEnv::with_plugins(&["spine_otc"]);
    env.cmd().args(["db", "init"]).assert().success();
    std::os::unix::fs::symlink(&env.db, env.dir.path().join("week.psv")).unwrap();
    let db = env.db.display().to_string();
    for (given, named) in [
        (db.clone(), db.clone()),
        ("spine.db".to_owned(), db.clone()),
        ("week.psv".to_owned(), db.clone()),
        (format!("{db}-wal"), format!("{db}-wal")),
        ("./spine.db-shm".to_owned(), format!("{db}-shm")),
    ] {
        let output = env
            .cmd()
            .args(["run", "otc.ingest", "-p"])
            .arg(format!("file_path={given}"))
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{given}: {}", stderr_of(&output));
        assert_eq!(
            stderr_of(&output),
            format!(
                "error: parameter `file_path` of otc.ingest names {named}, a file of the database \
                 this run writes to; give an input file instead\n"
            ),
            "{given}"
        );
    }
    assert_eq!(env.count("SELECT COUNT(*) FROM core_executions"), 0);
}

#[test]
fn a_folder_parameter_holding_the_database_under_any_name_is_refused_with_exit_2() {
    // A plugin lists the folder and opens what it finds there: the host
    // refuses the folder before the plugin sees it.
    let env = TestEnv::with_plugins(&["spine_otc"]);
    env.cmd().args(["db", "init"]).assert().success();
    let inputs = env.dir.path().join("inputs");
    std::fs::create_dir(&inputs).unwrap();
    write_file(&inputs.join("week.psv"), 3, "A");
    std::os::unix::fs::symlink(&env.db, inputs.join("link.txt")).unwrap();
    let output = env
        .cmd()
        .args(["run", "otc.ingest", "-p"])
        .arg(format!("file_path={}", inputs.display()))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr_of(&output));
    assert_eq!(
        stderr_of(&output),
        format!(
            "error: parameter `file_path` of otc.ingest names folder {0}, which holds {0}/link.txt, that is {1}, \
             a file of the database this run writes to; keep input files in a folder of their own\n",
            inputs.display(),
            env.db.display()
        )
    );
    std::fs::remove_file(inputs.join("link.txt")).unwrap();
    env.cmd()
        .args(["run", "otc.ingest", "-p"])
        .arg(format!("file_path={}", inputs.display()))
        .assert()
        .success();
    assert_eq!(env.count("SELECT COUNT(*) FROM otc_raw"), 3);
}
