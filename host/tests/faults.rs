//! Faults of real operation, with the real binary, the real `libspine_otc.so`
//! and real files: a SIGKILL or a Ctrl-C in the middle of a large run, two
//! ingests at once, every kind of bad file, and bad requests. Each gets its
//! documented outcome, and what was loaded before is never lost.
//!
//! A run is interrupted at a moment the test knows, never after a guessed
//! time: the fixture's `faulty.until_stopped` writes its rows and then holds
//! its transaction until told to stop, and the test holds SQLite's locks
//! itself where another process must wait.

mod common;

use common::{finish, signal, stderr_lines, stderr_of, stdout_of, wait_for, wait_for_line, TestEnv};
use serde_json::Value;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::{Child, Command};
use std::time::Instant;

const HEADER: &str = "tierDescription|issueSymbolIdentifier|issueName|marketParticipantName|MPID|\
                      totalWeeklyShareQuantity|totalWeeklyTradeCount|lastUpdateDate";

/// Rows the large run writes (100 characters each) before it is
/// interrupted: far more than SQLite's page cache holds, so most of them sit
/// in the WAL, written but not committed.
const LARGE_ROWS: u64 = 100_000;

/// The week loaded before each fault; a fault must leave it whole.
const LOADED_WEEK: [&str; 3] = [
    "NMS Tier 1|AAPL|Apple Inc. Common Stock|VENUE A ATS|VENA|1000000|5000|2025-12-29",
    "NMS Tier 1|AAPL|Apple Inc. Common Stock|VENUE B ATS|VENB|500000|2500|2025-12-29",
    "NMS Tier 1|MSFT|Microsoft Corporation Common Stock|VENUE A ATS|VENA|800000|4000|2025-12-29",
];

/// A folder with the otc plugin and a database holding [`LOADED_WEEK`],
/// ingested, normalized and summarized.
fn loaded_env() -> TestEnv {
    let env = TestEnv::with_plugins(&["spine_otc"]);
    let file = env.dir.path().join("loaded.psv");
    std::fs::write(&file, format!("{HEADER}\n{}\n", LOADED_WEEK.join("\n"))).unwrap();
    let steps: [&[&str]; 3] = [
        &[
            "otc.ingest",
            &format!("file_path={}", file.display()),
            "week_ending=2025-12-12",
        ],
        &["otc.normalize"],
        &["otc.summarize"],
    ];
    for step in steps {
        let (code, execution, stderr) = run(&env, step);
        assert_eq!(code, 0, "{step:?}: {execution} {stderr}");
    }
    env
}

/// [`loaded_env`] with the fixture plugin installed too.
fn loaded_env_with_fixture() -> TestEnv {
    let env = loaded_env();
    env.install("spine_faulty");
    env
}

/// Asserts that [`LOADED_WEEK`] is all there, as loaded.
fn assert_loaded_week_intact(env: &TestEnv) {
    assert_eq!(
        env.count("SELECT COUNT(*) FROM otc_raw WHERE week_ending = '2025-12-12'"),
        3
    );
    assert_eq!(env.count("SELECT COUNT(*) FROM otc_venue_volume"), 3);
    assert_eq!(
        env.count("SELECT total_volume FROM otc_symbol_summary WHERE symbol = 'AAPL'"),
        1_500_000
    );
}

/// Runs `spine-host run PIPELINE -p KEY=VALUE… --json`, given as
/// `[PIPELINE, "KEY=VALUE", …]`: the exit code, the execution printed (Null
/// when none was) and stderr.
fn run(env: &TestEnv, args: &[&str]) -> (i32, Value, String) {
    let mut cmd = env.cmd();
    cmd.arg("run");
    for arg in args {
        if arg.contains('=') {
            cmd.arg("-p");
        }
        cmd.arg(arg);
    }
    finished(cmd.arg("--json").output().unwrap())
}

/// A finished `run --json`: the exit code, the execution printed (Null when
/// none was) and stderr.
fn finished(output: std::process::Output) -> (i32, Value, String) {
    let execution = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
    (output.status.code().unwrap(), execution, stderr_of(&output))
}

/// Starts `spine-host run otc.ingest -p file_path=FILE --json` in the background.
fn spawn_ingest(env: &TestEnv, file: &Path) -> Child {
    ingest_command(env, file).spawn().expect("starting spine-host")
}

/// `spine-host run otc.ingest -p file_path=FILE --json`, with warnings only
/// on stderr, and stdout and stderr piped.
fn ingest_command(env: &TestEnv, file: &Path) -> Command {
    let mut command = env.background_cmd();
    command
        .args(["run", "otc.ingest", "--json", "-p"])
        .arg(format!("file_path={}", file.display()));
    command
}

/// Starts `spine-host` with `args` and `--json` in the background.
fn spawn_json(env: &TestEnv, args: &[String]) -> Child {
    env.background_cmd()
        .args(args)
        .arg("--json")
        .spawn()
        .expect("starting spine-host")
}

/// Writes a valid FINRA file of `rows` distinct lines (NMS Tier 2, first
/// published 2025-12-15, so the week ending 2025-11-14 is inferred), with
/// symbols `{tag}00000`, `{tag}00001`, …
fn write_large_file(path: &Path, rows: usize, tag: &str) {
    let mut out = BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(out, "{HEADER}").unwrap();
    for i in 0..rows {
        let (symbol, venue) = (i % 50_000, i / 50_000);
        writeln!(
            out,
            "NMS Tier 2|{tag}{symbol:05}|{tag} Holdings {symbol}, Inc. Common Stock|VENUE {venue} ATS|V{venue:03}|{}|{}|2025-12-15",
            1_000 + (i * 7919) % 1_000_000,
            1 + i % 997
        )
        .unwrap();
    }
    out.flush().unwrap();
}

/// The status and error stored for execution `id`, as the next start sees it.
fn execution(env: &TestEnv, id: &str) -> (String, String) {
    let output = env
        .cmd()
        .args(["executions", "show", id, "--json"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let execution: Value = serde_json::from_slice(&output.stdout).unwrap();
    let text = |field: &str| execution[field].as_str().unwrap_or_default().to_owned();
    (text("status"), text("error"))
}

fn assert_integrity_ok(env: &TestEnv) {
    let result: String = env
        .conn()
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .unwrap();
    assert_eq!(result, "ok");
}

/// Metric `name` of an execution, as an integer.
fn metric(execution: &Value, name: &str) -> i64 {
    execution["metrics"][name]
        .as_i64()
        .unwrap_or_else(|| panic!("no metric {name} in {execution}"))
}

#[test]
fn sigkill_in_the_middle_of_a_large_run_loses_nothing_and_the_rerun_completes() {
    let env = loaded_env_with_fixture();
    let large = env.until_stopped("large");
    let mut child = spawn_json(&env, &large.args(LARGE_ROWS));
    let id = large.wait_running(&mut child);
    // The run's rows reached the WAL, uncommitted: recovery must drop them.
    let wal = std::fs::metadata(env.db.with_extension("db-wal")).map_or(0, |m| m.len());
    assert!(
        wal > 4 << 20,
        "only {wal} bytes in the WAL: the kill would test little"
    );
    signal(&child, libc::SIGKILL);
    child.wait().unwrap(); // reaped: its process id is gone

    // The database is whole, nothing of the killed run is visible, and the
    // week loaded before is all there.
    assert_integrity_ok(&env);
    assert_eq!(env.count("SELECT COUNT(*) FROM faulty_rows"), 0);
    assert_eq!(env.count("SELECT COUNT(*) FROM otc_raw"), 3);
    assert_loaded_week_intact(&env);

    // The next start marks the execution failed, naming the gone process.
    let (status, error) = execution(&env, &id);
    assert_eq!(status, "failed");
    let pid = child.id();
    assert!(
        error.starts_with(&format!("process {pid} ended while the execution was running")),
        "{error}"
    );

    // The same run again writes every row (told to stop before it starts,
    // it completes once they are written).
    large.stop();
    let (code, rerun, stderr) = finished(
        env.cmd()
            .args(large.args(LARGE_ROWS))
            .arg("--json")
            .output()
            .unwrap(),
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(rerun["status"], "completed");
    assert_eq!(env.count("SELECT COUNT(*) FROM faulty_rows"), LARGE_ROWS as i64);
    assert_loaded_week_intact(&env);
    assert_integrity_ok(&env);
}

#[test]
fn ctrl_c_during_a_large_run_stops_it_rolls_back_and_records_it_cancelled() {
    let env = loaded_env_with_fixture();
    let large = env.until_stopped("large");
    let mut child = spawn_json(&env, &large.args(LARGE_ROWS));
    let id = large.wait_running(&mut child);

    // Nothing but Ctrl-C can end the run: the test never lets it complete.
    let sent = Instant::now();
    signal(&child, libc::SIGINT);
    let output = finish(child, "the run did not stop on Ctrl-C");
    eprintln!("the run stopped {} ms after Ctrl-C", sent.elapsed().as_millis());
    assert_eq!(output.status.code(), Some(130), "{}", stderr_of(&output));
    let printed: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(printed["status"], "cancelled");

    let (status, error) = execution(&env, &id);
    assert_eq!(status, "cancelled");
    assert!(error.contains("rolled back"), "{error}");
    assert_eq!(env.count("SELECT COUNT(*) FROM faulty_rows"), 0);
    assert_loaded_week_intact(&env);
    assert_integrity_ok(&env);
}

#[test]
fn ctrl_c_while_waiting_for_another_run_stops_at_once_and_records_nothing() {
    let env = loaded_env_with_fixture();
    let small = env.dir.path().join("small.psv");
    write_large_file(&small, 1_000, "S");
    // The first run holds the write lock until the test stops it.
    let holder = env.until_stopped("holder");
    let mut first = spawn_json(&env, &holder.args(1_000));
    holder.wait_running(&mut first);

    // The second waits for the first's write lock, and says so.
    let mut second = ingest_command(&env, &small)
        .env("SPINE_LOG_LEVEL", "info")
        .spawn()
        .unwrap();
    let lines = stderr_lines(&mut second);
    wait_for_line(&lines, "waiting for another process's run to finish writing");
    let sent = Instant::now();
    signal(&second, libc::SIGINT);
    // The lock is still held: only Ctrl-C can end the second.
    let output = finish(second, "the waiting ingest did not stop on Ctrl-C");
    eprintln!(
        "the waiting ingest stopped {} ms after Ctrl-C",
        sent.elapsed().as_millis()
    );
    assert_eq!(output.status.code(), Some(130));
    // (error_messages.rs pins what it says whole.)
    let stderr = lines.iter().collect::<Vec<_>>().join("\n");
    assert!(
        stderr.ends_with("nothing ran and nothing was recorded"),
        "{stderr}"
    );

    // The first goes on undisturbed; the second left no trace.
    holder.stop();
    let output = finish(first, "the first run did not complete once stopped");
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let small_runs = "SELECT COUNT(*) FROM core_executions WHERE params LIKE '%small.psv%'";
    assert_eq!(env.count(small_runs), 0);
    assert_eq!(env.count("SELECT COUNT(*) FROM faulty_rows"), 1_000);
    assert_eq!(env.count("SELECT COUNT(*) FROM otc_raw"), 3);
    assert_integrity_ok(&env);
}

#[test]
fn two_ingests_of_different_files_at_once_both_finish_with_right_totals() {
    // A new, empty database that the test holds locked: both processes start
    // before either can create a table, so they race for all of it, the
    // migrations included, once the lock is let go.
    let env = TestEnv::with_plugins(&["spine_otc"]);
    let holder = env.conn();
    holder.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let (rows_a, rows_b) = (30_000, 20_000);
    let (file_a, file_b) = (env.dir.path().join("a.psv"), env.dir.path().join("b.psv"));
    write_large_file(&file_a, rows_a, "A");
    write_large_file(&file_b, rows_b, "B");
    let mut children = [spawn_ingest(&env, &file_a), spawn_ingest(&env, &file_b)];
    for child in &mut children {
        wait_for("an ingest never opened the database", || {
            if let Some(status) = child.try_wait().unwrap() {
                panic!("an ingest ended ({status}) while the database was locked");
            }
            has_open(child.id(), &env.db).then_some(())
        });
    }
    holder.execute_batch("ROLLBACK").unwrap();
    drop(holder);

    // While they run, no row is ever visible whose execution is not
    // recorded completed: a run's writes and its record commit together.
    wait_for("the ingests never ended", || {
        if let Some(unrecorded) = unrecorded_runs_with_rows(&env) {
            assert_eq!(
                unrecorded, 0,
                "rows of an execution not recorded completed are visible"
            );
        }
        let ended = children.iter_mut().all(|c| c.try_wait().unwrap().is_some());
        ended.then_some(())
    });

    for (child, rows) in children.into_iter().zip([rows_a, rows_b]) {
        let output = child.wait_with_output().unwrap();
        let stderr = stderr_of(&output);
        assert_eq!(output.status.code(), Some(0), "{stderr}");
        assert!(!stderr.contains("locked"), "{stderr}");
        let execution: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(
            metric(&execution, "inserted"),
            rows as i64,
            "{}",
            stdout_of(&output)
        );
    }
    assert_eq!(
        env.count("SELECT COUNT(*) FROM otc_raw"),
        (rows_a + rows_b) as i64
    );
    assert_eq!(
        env.count("SELECT COUNT(*) FROM otc_raw WHERE symbol LIKE 'A%'"),
        rows_a as i64
    );
    assert_eq!(
        env.count("SELECT COUNT(*) FROM core_executions WHERE status = 'completed'"),
        2
    );
    assert_integrity_ok(&env);
}

/// True when process `pid` has `file` open, from Linux's /proc.
fn has_open(pid: u32, file: &Path) -> bool {
    let file = file.canonicalize().unwrap();
    std::fs::read_dir(format!("/proc/{pid}/fd")).is_ok_and(|fds| {
        fds.flatten()
            .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|target| target == file))
    })
}

/// Executions not recorded completed whose rows are visible in otc_raw;
/// None until the tables exist.
fn unrecorded_runs_with_rows(env: &TestEnv) -> Option<i64> {
    env.conn()
        .query_row(
            "SELECT COUNT(*) FROM core_executions e WHERE status <> 'completed'
                 AND EXISTS (SELECT 1 FROM otc_raw WHERE batch_id = e.id)",
            [],
            |row| row.get(0),
        )
        .ok()
}

/// A bad file, as written to disk (or not).
enum Input {
    Bytes(Vec<u8>),
    Missing,
    FolderWithoutDataFiles,
}

/// What a bad file must get.
enum Expect {
    /// The run fails (exit 1) with one line that names the file and says
    /// this; nothing is stored.
    Fails(&'static str),
    /// The run completes: `records` data lines, `inserted` of them stored,
    /// and these rejected, as (stage, line number, part of the reason).
    Loads {
        records: i64,
        inserted: i64,
        rejects: &'static [(&'static str, i64, &'static str)],
    },
}

const GOOD: &str =
    "NMS Tier 2|AAOI|Applied Optoelectronics, Inc. Common Stock|EBXL LEVEL ATS|EBXL|639234|7396|2025-12-15";
const GOOD_TOO: &str =
    "NMS Tier 2|AAOI|Applied Optoelectronics, Inc. Common Stock|INTELLIGENT CROSS|INCR|1200|12|2025-12-15";

/// The header, then `lines`, each ending with a newline.
fn lines(lines: &[&str]) -> Vec<u8> {
    format!("{HEADER}\n{}\n", lines.join("\n")).into_bytes()
}

/// Bytes that look like nothing, the same on every run.
fn garbage(length: usize, allowed: impl Fn(u8) -> bool) -> Vec<u8> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    std::iter::repeat_with(|| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 56) as u8
    })
    .filter(|&byte| allowed(byte))
    .take(length)
    .collect()
}

fn bad_files() -> Vec<(&'static str, Input, Expect)> {
    let with_line = |line: &[u8]| {
        let mut bytes = format!("{HEADER}\n{GOOD}\n").into_bytes();
        bytes.extend_from_slice(line);
        bytes.extend_from_slice(format!("\n{GOOD_TOO}\n").as_bytes());
        bytes
    };
    let huge_issue_name = GOOD.replace(
        "Applied Optoelectronics, Inc. Common Stock",
        &"A".repeat(10 << 20),
    );
    // Distinct lines, so that none is a duplicate of another.
    let distinct_lines: Vec<String> = (0..20_000)
        .map(|i| GOOD_TOO.replace("|INCR|", &format!("|V{i}|")))
        .collect();
    let line_garbage = |_| garbage(300, |b| !matches!(b, b'\n' | b'\r' | b'"' | b'|'));
    let mut garbage_lines = format!("{HEADER}\n").into_bytes();
    for seed in 0..3 {
        garbage_lines.extend(line_garbage(seed));
        garbage_lines.push(b'\n');
    }
    vec![
        ("missing file", Input::Missing, Expect::Fails("does not exist")),
        (
            "folder with no data files",
            Input::FolderWithoutDataFiles,
            Expect::Fails("holds no .psv, .csv or .txt files"),
        ),
        ("empty file", Input::Bytes(Vec::new()), Expect::Fails("is empty")),
        (
            "header only",
            Input::Bytes(format!("{HEADER}\n").into_bytes()),
            Expect::Loads {
                records: 0,
                inserted: 0,
                rejects: &[],
            },
        ),
        (
            "missing column",
            Input::Bytes(format!("{}\n{GOOD}\n", HEADER.replace("|MPID", "")).into_bytes()),
            Expect::Fails("line 1: the header has no column `MPID`"),
        ),
        (
            "reordered and extra columns",
            Input::Bytes(
                b"lastUpdateDate|MPID|note|totalWeeklyTradeCount|issueName|tierDescription|\
                  issueSymbolIdentifier|marketParticipantName|totalWeeklyShareQuantity|more\n\
                  2025-12-15|EBXL|x|7396|Applied Optoelectronics|NMS Tier 2|AAOI|EBXL LEVEL ATS|639234|y\n\
                  2025-12-15|INCR||12|Applied Optoelectronics|NMS Tier 2|AAOI|INTELLIGENT CROSS|1200|\n"
                    .to_vec(),
            ),
            Expect::Loads {
                records: 2,
                inserted: 2,
                rejects: &[],
            },
        ),
        (
            "UTF-8 byte order mark",
            Input::Bytes([b"\xef\xbb\xbf".as_slice(), &lines(&[GOOD, GOOD_TOO])].concat()),
            Expect::Loads {
                records: 2,
                inserted: 2,
                rejects: &[],
            },
        ),
        (
            "CRLF line endings",
            Input::Bytes(format!("{HEADER}\r\n{GOOD}\r\n{GOOD_TOO}\r\n").into_bytes()),
            Expect::Loads {
                records: 2,
                inserted: 2,
                rejects: &[],
            },
        ),
        (
            "invalid UTF-8",
            Input::Bytes(with_line(
                b"NMS Tier 2|CAF|Caf\xe9 Inc|V ATS|VENV|10|1|2025-12-15",
            )),
            Expect::Loads {
                records: 3,
                inserted: 2,
                rejects: &[("parse", 3, "field issueName: expected UTF-8 text")],
            },
        ),
        (
            "a line of 10 MB",
            Input::Bytes(with_line(huge_issue_name.as_bytes())),
            Expect::Loads {
                records: 3,
                inserted: 2,
                rejects: &[("parse", 3, "expected a line of at most 65536 bytes, found 10485")],
            },
        ),
        (
            "numbers beyond i64",
            Input::Bytes(with_line(
                GOOD.replace("639234", "9223372036854775808").as_bytes(),
            )),
            Expect::Loads {
                records: 3,
                inserted: 2,
                rejects: &[(
                    "parse",
                    3,
                    "field totalWeeklyShareQuantity: expected an integer that fits in 64 bits",
                )],
            },
        ),
        (
            "negative numbers",
            Input::Bytes(with_line(
                GOOD.replace("EBXL|639234|7396", "NEGV|-639234|7396").as_bytes(),
            )),
            Expect::Loads {
                records: 3,
                inserted: 3,
                rejects: &[(
                    "normalize",
                    3,
                    "field totalWeeklyShareQuantity: expected 0 or more shares, found -639234",
                )],
            },
        ),
        (
            "empty symbol",
            Input::Bytes(with_line(GOOD.replace("|AAOI|", "| |").as_bytes())),
            Expect::Loads {
                records: 3,
                inserted: 3,
                rejects: &[(
                    "normalize",
                    3,
                    "field issueSymbolIdentifier: expected a symbol, found an empty field",
                )],
            },
        ),
        (
            "no line break at all",
            Input::Bytes("A|".repeat(3 << 20).into_bytes()),
            Expect::Fails("line 1: expected a header of at most 65536 bytes, found 6291456 bytes"),
        ),
        (
            "a quote opened and never closed, in a name",
            Input::Bytes(with_line(
                GOOD.replace("|EBXL LEVEL ATS|EBXL|", "|\"QUOTE ATS|QATS|")
                    .as_bytes(),
            )),
            Expect::Loads {
                records: 3,
                inserted: 3,
                rejects: &[],
            },
        ),
        (
            "a quote left open across a `|`, then 2 MB of lines",
            Input::Bytes(lines(
                &[
                    &[GOOD, "OTC|\"open|x"][..],
                    &distinct_lines.iter().map(String::as_str).collect::<Vec<_>>(),
                ]
                .concat(),
            )),
            Expect::Loads {
                records: 20_002,
                inserted: 20_001,
                rejects: &[("parse", 3, "expected 8 fields as in the header, found 3 fields")],
            },
        ),
        (
            "binary garbage",
            Input::Bytes([b"\x1f\x8b\x08\x00".as_slice(), &garbage(4096, |_| true)].concat()),
            Expect::Fails("line 1: the header has no columns"),
        ),
        (
            "binary garbage after the header",
            Input::Bytes(garbage_lines),
            Expect::Loads {
                records: 3,
                inserted: 0,
                rejects: &[
                    ("parse", 2, "expected 8 fields as in the header, found 1 field"),
                    ("parse", 3, "expected 8 fields as in the header, found 1 field"),
                    ("parse", 4, "expected 8 fields as in the header, found 1 field"),
                ],
            },
        ),
    ]
}

#[test]
fn each_bad_file_gets_its_documented_outcome_and_never_a_panic() {
    for (name, input, expect) in bad_files() {
        let env = TestEnv::with_plugins(&["spine_otc"]);
        let path = env.dir.path().join("week.psv");
        match input {
            Input::Bytes(bytes) => std::fs::write(&path, bytes).unwrap(),
            Input::Missing => {}
            Input::FolderWithoutDataFiles => {
                std::fs::create_dir(&path).unwrap();
                std::fs::write(path.join("notes.md"), "not data").unwrap();
            }
        }
        let file = path.display().to_string();
        let (code, ingest, stderr) = run(&env, &["otc.ingest", &format!("file_path={file}")]);
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
        match expect {
            Expect::Fails(message) => {
                assert_eq!(code, 1, "{name}: {stderr}");
                assert_eq!(ingest["status"], "failed", "{name}");
                let error = ingest["error"].as_str().unwrap();
                assert!(
                    error.contains(&file) && error.contains(message),
                    "{name}: {error}"
                );
                assert!(!error.contains('\n'), "{name}: one line: {error}");
                let stored = "SELECT (SELECT COUNT(*) FROM otc_raw) + (SELECT COUNT(*) FROM otc_rejects)";
                assert_eq!(env.count(stored), 0, "{name}");
            }
            Expect::Loads {
                records,
                inserted,
                rejects,
            } => {
                assert_eq!(code, 0, "{name}: {stderr}");
                let counts = ["records", "inserted", "duplicates", "rejected"].map(|m| metric(&ingest, m));
                assert_eq!(counts[0], counts[1] + counts[2] + counts[3], "{name}");
                let parse_rejects = rejects.iter().filter(|r| r.0 == "parse").count() as i64;
                assert_eq!(counts, [records, inserted, 0, parse_rejects], "{name}");
                let (code, _, stderr) = run(&env, &["otc.normalize"]);
                assert_eq!(code, 0, "{name}: {stderr}");
                let stored = stored_rejects(&env, &file);
                assert_eq!(stored.len(), rejects.len(), "{name}: {stored:?}");
                for ((stage, line, reason), expected) in stored.iter().zip(rejects) {
                    assert_eq!((stage.as_str(), *line), (expected.0, expected.1), "{name}");
                    assert!(reason.contains(expected.2), "{name}: {reason}");
                }
                // What loads is clean: no BOM, no CR, no long text.
                let dirty = "SELECT COUNT(*) FROM otc_raw WHERE tier || symbol || issue_name || venue_name
                             || mpid || last_update_date GLOB '*[\u{feff}\r]*'
                             OR length(issue_name) > 1000";
                assert_eq!(env.count(dirty), 0, "{name}");
            }
        }
    }
}

/// Every stored reject, as (stage, line, reason), checking on the way that
/// it names `file` and keeps at most 500 characters of the line.
fn stored_rejects(env: &TestEnv, file: &str) -> Vec<(String, i64, String)> {
    let conn = env.conn();
    let mut stmt = conn
        .prepare(
            "SELECT stage, line_number, reason, source_file, length(raw_line) FROM otc_rejects
             ORDER BY stage DESC, line_number",
        )
        .unwrap();
    stmt.query_map([], |row| {
        let (source, raw_length): (String, i64) = (row.get(3)?, row.get(4)?);
        assert_eq!(source, file);
        assert!(raw_length <= 501, "raw line of {raw_length} characters");
        Ok((row.get(0)?, row.get(1)?, row.get(2)?))
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

#[test]
fn a_week_ending_that_is_not_a_friday_is_refused_with_exit_2_and_changes_nothing() {
    let env = loaded_env();
    let file = env.dir.path().join("loaded.psv");
    let snapshot = || {
        [
            "core_executions",
            "otc_raw",
            "otc_rejects",
            "otc_venue_volume",
            "otc_symbol_summary",
            "otc_venue_share",
        ]
        .map(|table| env.count(&format!("SELECT COUNT(*) FROM {table}")))
    };
    let before = snapshot();
    // (error_messages.rs pins what each says whole.)
    let cases: [(&[&str], &str); 2] = [
        (
            &[
                "otc.ingest",
                &format!("file_path={}", file.display()),
                "week_ending=2025-12-11",
            ],
            "error: week_ending 2025-12-11 is a Thursday, not a Friday;",
        ),
        (
            &["otc.summarize", "week_ending=2025-12-13"],
            "error: week_ending 2025-12-13 is a Saturday, not a Friday;",
        ),
    ];
    for (args, expected) in cases {
        let (code, printed, stderr) = run(&env, args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stderr.starts_with(expected), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: one line: {stderr}");
        assert_eq!(printed, Value::Null, "{args:?}: no execution is printed");
    }
    assert_eq!(snapshot(), before);
}
