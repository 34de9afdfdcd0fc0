//! What the OTC tests share: FINRA-shaped files, runs of the real binary
//! with `--json`, and reading tables back as text.
#![allow(dead_code)] // each test binary uses a different part of this module

use crate::common::{stderr_of, stdout_of, TestEnv};
use serde_json::Value;

pub(crate) const HEADER: &str = "tierDescription|issueSymbolIdentifier|issueName|marketParticipantName|MPID|\
                          totalWeeklyShareQuantity|totalWeeklyTradeCount|lastUpdateDate";

/// Writes a FINRA-shaped file with `rows` under the header; returns its path.
pub(crate) fn write_file(env: &TestEnv, name: &str, rows: &[&str]) -> String {
    let path = env.dir.path().join(name);
    std::fs::write(&path, format!("{HEADER}\n{}\n", rows.join("\n"))).unwrap();
    path.display().to_string()
}

/// Runs a pipeline with `--json`; returns the exit code and the execution.
pub(crate) fn run(env: &TestEnv, pipeline: &str, params: &[String]) -> (i32, Value) {
    run_with(env.cmd(), pipeline, params)
}

/// Like [`run`], on the day `today` (`SPINE_TODAY`).
pub(crate) fn run_on(env: &TestEnv, today: &str, pipeline: &str, params: &[String]) -> (i32, Value) {
    let mut cmd = env.cmd();
    cmd.env("SPINE_TODAY", today);
    run_with(cmd, pipeline, params)
}

fn run_with(mut cmd: assert_cmd::Command, pipeline: &str, params: &[String]) -> (i32, Value) {
    cmd.args(["run", pipeline, "--json"]);
    for param in params {
        cmd.arg("-p").arg(param);
    }
    let output = cmd.output().unwrap();
    let execution = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{pipeline}: {e}: {} {}", stdout_of(&output), stderr_of(&output)));
    (output.status.code().unwrap(), execution)
}

/// Runs a pipeline that must complete; returns its metrics.
pub(crate) fn run_ok(env: &TestEnv, pipeline: &str, params: &[String]) -> Value {
    let (code, execution) = run(env, pipeline, params);
    assert_eq!(code, 0, "{pipeline}: {execution}");
    execution["metrics"].clone()
}

/// The rows of a query, every value as text: NULL as `NULL`, a real with two
/// decimals (as the tables' averages and percentages read), a blob as hex.
pub(crate) fn rows(env: &TestEnv, sql: &str) -> Vec<Vec<String>> {
    let conn = env.conn();
    let mut stmt = conn.prepare(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    let width = stmt.column_count();
    stmt.query_map([], |row| {
        (0..width)
            .map(|i| {
                Ok(match row.get_ref(i)? {
                    rusqlite::types::ValueRef::Null => "NULL".to_owned(),
                    rusqlite::types::ValueRef::Integer(v) => v.to_string(),
                    rusqlite::types::ValueRef::Real(v) => format!("{v:.2}"),
                    rusqlite::types::ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                    rusqlite::types::ValueRef::Blob(b) => {
                        b.iter().map(|byte| format!("{byte:02x}")).collect()
                    }
                })
            })
            .collect()
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}
