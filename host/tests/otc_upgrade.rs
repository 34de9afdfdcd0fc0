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
