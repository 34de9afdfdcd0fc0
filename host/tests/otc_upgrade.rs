//! Upgrading a database that the otc plugin wrote when 001 was its only
//! migration (`fixtures/otc-001/legacy.sql`, made by `make-legacy.sh` with
//! that version's binaries) through the real binary: what it held stays, and
//! what the old version got wrong is put right without re-reading the files.

mod common;
mod otc_support;

use common::TestEnv;
use otc_support::{rows, run_ok};

/// A test folder whose database is the one the old version left.
fn legacy_env() -> TestEnv {
    let env = TestEnv::with_plugins(&["spine_otc"]);
    let dump = include_str!("fixtures/otc-001/legacy.sql");
    env.conn()
        .execute_batch(dump)
        .expect("loading the legacy database");
    env
}

#[test]
fn a_same_day_conflict_the_old_version_settled_by_load_order_is_settled_by_hash() {
    let env = legacy_env();
    // 001 let the later ingest win: conflict_b.psv's 2100 shares.
    let before = "SELECT share_volume FROM otc_venue_volume WHERE symbol = 'MSFT' AND mpid = 'JPMX'";
    assert_eq!(rows(&env, before), [["2100"]]);
    let normalize = run_ok(&env, "otc.normalize", &[]);
    assert_eq!(normalize["same_day_conflicts"], 1, "{normalize}");
    // conflict_a.psv's hash 4f205062… is greater than conflict_b.psv's 3d36944e….
    assert_eq!(
        rows(
            &env,
            "SELECT share_volume, trade_count, record_hash, last_update_date FROM otc_venue_volume
             WHERE symbol = 'MSFT' AND mpid = 'JPMX'"
        ),
        [["2000", "40", "4f205062cdb44928539ebda6c2e7d73c", "2025-12-22"]]
    );
    assert_eq!(
        rows(
            &env,
            "SELECT source_file, line_number, reason FROM otc_rejects
             WHERE reason LIKE 'superseded%'"
        ),
        [[
            "conflict_b_20251222.psv",
            "2",
            "superseded by a conflicting row published the same day"
        ]]
    );
    // The queue is done with; the next run finds nothing to do.
    let again = run_ok(&env, "otc.normalize", &[]);
    assert_eq!(again["same_day_conflicts"], 0, "{again}");
    assert_eq!(env.count("SELECT count(*) FROM otc_normalize_queue"), 0);
}

#[test]
fn rows_the_old_version_accepted_beyond_the_bounds_move_to_rejects_and_their_week_is_summarized_again() {
    let env = legacy_env();
    let week = "SELECT tier, mpid, total_volume, market_share_pct FROM otc_venue_share
                WHERE week_ending = '2025-10-31' ORDER BY tier, rank";
    assert_eq!(rows(&env, week).len(), 4, "BIGA and NORM, in OTC and ALL");
    run_ok(&env, "otc.summarize", &[]);
    // The upgrade moved BIGA's 10^15 shares; NORM is the week's only venue.
    let moved = rows(
        &env,
        "SELECT execution_id, stage, source_file, line_number, raw_line, reason FROM otc_rejects
         WHERE execution_id = 'otc migration 002'",
    );
    assert_eq!(
        moved,
        [[
            "otc migration 002",
            "normalize",
            "beyond_bounds_otc_20251201.psv",
            "2",
            "OTC|ZZZZ|Zzz Corp|BIGA BIG ATS|BIGA|1000000000000000|1|2025-12-01",
            "field totalWeeklyShareQuantity: expected at most 100000000000000 shares, found 1000000000000000"
        ]]
    );
    assert_eq!(
        rows(&env, "SELECT mpid FROM otc_venue_volume WHERE symbol = 'ZZZZ'"),
        [["NORM"]]
    );
    assert_eq!(
        rows(&env, week),
        [
            ["ALL", "NORM", "1000", "100.00"],
            ["OTC", "NORM", "1000", "100.00"]
        ]
    );

    // The same file loaded by this version is rejected in the same words.
    let fresh = TestEnv::with_plugins(&["spine_otc"]);
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/otc-001/beyond_bounds_otc_20251201.psv");
    run_ok(&fresh, "otc.ingest", &[format!("file_path={}", file.display())]);
    run_ok(&fresh, "otc.normalize", &[]);
    let words: Vec<Vec<String>> = moved
        .iter()
        .map(|row| vec![row[1].clone(), row[3].clone(), row[4].clone(), row[5].clone()])
        .collect();
    assert_eq!(
        rows(
            &fresh,
            "SELECT stage, line_number, raw_line, reason FROM otc_rejects"
        ),
        words
    );
}
