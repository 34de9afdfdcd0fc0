//! Upgrading a database that the otc plugin wrote when 001 was its only
//! migration (`fixtures/otc-001/legacy.sql`, made by `make-legacy.sh` with
//! that version's binaries) through the real binary: what it held stays, and
//! what the old version got wrong is put right without re-reading the files.
//! A database of 001 and 002 (`fixtures/otc-002/legacy.sql`) upgrades to
//! 004 (the files it loaded are recognised by their bytes from then on) with
//! every row as it was.

mod common;
mod otc_support;

use common::TestEnv;
use otc_support::{rows, run_ok};

/// A test folder whose database is the one the old version left.
fn legacy_env() -> TestEnv {
    env_with(include_str!("fixtures/otc-001/legacy.sql"))
}

/// A test folder whose database is `dump`.
fn env_with(dump: &str) -> TestEnv {
    let env = TestEnv::with_plugins(&["spine_otc"]);
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

/// The files the legacy database was loaded from, loaded by this version
/// into a new database, normalized and summarized.
fn fresh_load() -> TestEnv {
    let fresh = TestEnv::with_plugins(&["spine_otc"]);
    let week = "week_ending=2025-11-28".to_owned();
    for (file, given_week) in [
        ("finra_otc_weekly_tier1_20251215.psv", false),
        ("finra_otc_weekly_tier2_20251215.psv", false),
        ("finra_otc_weekly_otc_20251215.psv", false),
        ("non_ats_tier1_20251215.psv", false),
        ("revision_tier1_20251222.psv", true),
        ("conflict_a_20251222.psv", true),
        ("conflict_b_20251222.psv", true),
        ("beyond_bounds_otc_20251201.psv", false),
        ("non_ats_tier2_20251215.psv", false),
    ] {
        let mut params = vec![fixture(file)];
        if given_week {
            params.push(week.clone());
        }
        run_ok(&fresh, "otc.ingest", &params);
    }
    run_ok(&fresh, "otc.normalize", &[]);
    run_ok(&fresh, "otc.summarize", &[]);
    fresh
}

#[test]
fn an_upgraded_database_gets_the_analytics_and_coverage_of_a_fresh_load() {
    let env = legacy_env();
    run_ok(&env, "otc.normalize", &[]);
    run_ok(&env, "otc.summarize", &[]);
    let fresh = fresh_load();
    // Migration 003 noted the publications of the lines 001 stored, and
    // queued the weeks 001 summarized.
    let publications =
        "SELECT week_ending, tier, venue_type, last_update_date FROM otc_publications ORDER BY 1, 2, 3, 4";
    assert_eq!(rows(&env, publications), rows(&fresh, publications));
    for env in [&env, &fresh] {
        // 2025-11-14, 2025-11-28, and the week of the rows beyond the bounds.
        let metrics = run_ok(env, "otc.analytics", &[]);
        assert_eq!(metrics["weeks"], 3, "{metrics}");
        run_ok(env, "otc.coverage", &["as_of=2026-01-05".to_owned()]);
    }
    let analytics = |env: &TestEnv| {
        let mut all = Vec::new();
        for sql in [
            "SELECT week_ending, tier, venue_type, total_volume, venues, hhi_low, hhi_high, effective_venues,
                    top1_pct, top3_pct, top5_pct, aggregate_pct, prev_week_ending, hhi_change, hhi_change_common,
                    hhi_change_entry_exit FROM otc_concentration ORDER BY 1, 2, 3",
            "SELECT week_ending, tier, venue_type, symbol, total_volume, venues, hhi_low, hhi_high, top_venue,
                    top_venue_pct, aggregate_pct FROM otc_symbol_concentration ORDER BY 1, 2, 3, 4",
            "SELECT week_ending, tier, venue_type, venue, is_aggregate, volume, share_pct, prev_week_ending,
                    prev_volume, prev_share_pct, change_pp, status FROM otc_venue_movers ORDER BY 1, 2, 3, 4",
            "SELECT week_ending, venue_type, symbol, volume, prior_weeks, median, mad, robust_z, status
             FROM otc_symbol_movers ORDER BY 1, 2, 3",
            "SELECT week_ending, tier, venue_type, status, due_date, last_update_date, revisions
             FROM otc_coverage ORDER BY 1, 2, 3",
        ] {
            all.extend(rows(env, sql));
        }
        all
    };
    let upgraded = analytics(&env);
    assert!(upgraded.len() > 100, "{upgraded:?}");
    assert_eq!(upgraded, analytics(&fresh));
}

/// A fixture file, or a sample file of `data/finra`.
fn fixture(name: &str) -> String {
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let path = if name.starts_with("finra_") {
        manifest.join("../data/finra").join(name)
    } else {
        manifest.join("tests/fixtures/otc-001").join(name)
    };
    format!("file_path={}", path.display())
}

/// What the tables hold, without run ids, times, row ids or folders.
fn tables(env: &TestEnv) -> Vec<Vec<String>> {
    let mut all = Vec::new();
    for sql in [
        "SELECT week_ending, tier, symbol, venue_type, venue, mpid, is_aggregate, share_volume, trade_count,
                avg_trade_size, record_hash, last_update_date
         FROM otc_venue_volume ORDER BY 1, 2, 3, 4, 5",
        "SELECT week_ending, tier, symbol, venue_type, issue_name, total_volume, total_trades, venue_count,
                avg_trade_size FROM otc_symbol_summary ORDER BY 1, 2, 3, 4",
        "SELECT week_ending, tier, venue_type, venue, mpid, venue_name, is_aggregate, total_volume, total_trades,
                symbol_count, market_share_pct, rank, tiers, complete FROM otc_venue_share ORDER BY 1, 2, 3, 4",
        "SELECT week_ending, tier, symbol, ats_volume, ats_trades, ats_avg_trade_size, non_ats_volume,
                non_ats_trades, non_ats_avg_trade_size, ats_share_pct FROM otc_symbol_offexchange ORDER BY 1, 2, 3",
        // The file's name without its folder.
        "SELECT stage, replace(source_file, rtrim(source_file, replace(source_file, '/', '')), '') AS file,
                line_number, raw_line, reason FROM otc_rejects ORDER BY 2, 3",
        "SELECT record_hash, last_update_date, week_ending, symbol, mpid, venue_name FROM otc_raw ORDER BY 1, 2",
    ] {
        all.extend(rows(env, sql));
    }
    all
}

#[test]
fn an_upgraded_database_keeps_its_ats_results_loads_its_non_ats_rows_and_equals_a_fresh_load() {
    let env = legacy_env();
    // What 001 summarized for week 2025-11-14, which nothing the upgrade
    // corrects touches. (001 stored averages and shares as text.)
    let symbols = "SELECT tier, symbol, total_volume, total_trades, venue_count, avg_trade_size
                   FROM otc_symbol_summary WHERE week_ending = '2025-11-14' ORDER BY tier, symbol";
    let shares = "SELECT tier, mpid, total_volume, total_trades, symbol_count, market_share_pct, rank
                  FROM otc_venue_share WHERE week_ending = '2025-11-14' ORDER BY tier, rank";
    let (old_symbols, old_shares) = (rows(&env, symbols), rows(&env, shares));
    assert_eq!((old_symbols.len(), old_shares.len()), (16, 50));
    assert_eq!(
        env.count("SELECT count(*) FROM otc_rejects WHERE reason LIKE '%expected an MPID%'"),
        5
    );

    let normalize = run_ok(&env, "otc.normalize", &[]);
    // The two lines of non_ats_tier2 that 001 never normalized, the five of
    // non_ats_tier1 it rejected, and the same-day pair it settled by order.
    assert_eq!(normalize["processed"], 9, "{normalize}");
    assert_eq!(normalize["rejected"], 0, "{normalize}");
    run_ok(&env, "otc.summarize", &[]);
    let ats = |sql: &str| sql.replace("WHERE week_ending", "WHERE venue_type = 'ATS' AND week_ending");
    assert_eq!(rows(&env, &ats(symbols)), old_symbols);
    assert_eq!(rows(&env, &ats(shares)), old_shares);
    assert_eq!(
        rows(
            &env,
            "SELECT tier, symbol, venue, is_aggregate, share_volume FROM otc_venue_volume
             WHERE venue_type = 'NON_ATS' ORDER BY tier, symbol, venue"
        ),
        [
            ["NMS Tier 1", "AAPL", "Citadel Securities LLC", "0", "5000000"],
            ["NMS Tier 1", "AAPL", "De Minimis Firms", "1", "1000000"],
            ["NMS Tier 1", "AAPL", "Virtu Americas LLC", "0", "3000000"],
            ["NMS Tier 1", "MSFT", "Citadel Securities LLC", "0", "2000000"],
            ["NMS Tier 1", "MSFT", "De Minimis Firms", "1", "500000"],
            ["NMS Tier 2", "AAOI", "Citadel Securities LLC", "0", "90000"],
            ["NMS Tier 2", "AAOI", "De Minimis Firms", "1", "12000"]
        ]
    );
    assert_eq!(
        env.count("SELECT count(*) FROM otc_rejects WHERE reason LIKE '%expected an MPID%'"),
        0
    );

    // The same files loaded by this version give the same tables: the
    // upgrade left nothing of the old rules behind.
    let fresh = fresh_load();
    assert_eq!(tables(&env), tables(&fresh));

    // The non-ATS lines carry this version's hash: loaded again, they are
    // duplicates.
    let again = run_ok(&env, "otc.ingest", &[fixture("non_ats_tier1_20251215.psv")]);
    assert_eq!(
        (again["inserted"].as_i64(), again["duplicates"].as_i64()),
        (Some(0), Some(5))
    );
}

/// Every row of the otc tables, in a fixed order, ids and times included.
fn every_row(env: &TestEnv) -> Vec<Vec<String>> {
    let mut all = Vec::new();
    for table in [
        "otc_raw_lines",
        "otc_normalize_runs",
        "otc_venue_figures",
        "otc_symbol_summary",
        "otc_venue_share",
        "otc_symbol_offexchange",
        "otc_rejects",
        "otc_changed_weeks",
        "otc_watermarks",
        "otc_normalize_queue",
        "otc_raw_rehash",
        "otc_same_day_losers",
    ] {
        all.push(vec![table.to_owned()]);
        let mut table_rows = rows(env, &format!("SELECT * FROM {table}"));
        table_rows.sort();
        all.extend(table_rows);
    }
    all
}

#[test]
fn databases_of_001_and_of_002_upgrade_with_every_row_as_it_was() {
    for dump in [
        include_str!("fixtures/otc-001/legacy.sql"),
        include_str!("fixtures/otc-002/legacy.sql"),
    ] {
        let env = env_with(dump);
        let applied = "SELECT count(*) FROM core_migrations WHERE domain = 'otc'";
        // The lines as read and the files they came from: what every
        // version keeps as it was (002 rebuilt the tables derived from them).
        let lines =
            "SELECT id, file_id, line_number, week_ending, last_update_date, tier, symbol, issue_name,
                            venue_name, mpid, share_volume, trade_count FROM otc_raw_lines ORDER BY id";
        let files = "SELECT id, batch_id, source_file, ingested_at FROM otc_raw_files ORDER BY id";
        let before = (env.count(applied), rows(&env, lines), rows(&env, files));
        let every_row_before = (before.0 == 2).then(|| every_row(&env));
        env.cmd().args(["db", "init"]).assert().success();
        assert_eq!(env.count(applied), 4);
        assert!(!before.1.is_empty() && !before.2.is_empty());
        assert_eq!((rows(&env, lines), rows(&env, files)), (before.1, before.2));
        if let Some(every_row_before) = every_row_before {
            // 002's database: 004 only adds the table of files known by
            // their bytes, empty, and a column to otc_raw_files, NULL.
            assert_eq!(every_row(&env), every_row_before);
            assert_eq!(
                env.count("SELECT count(*) FROM otc_raw_files WHERE in_key_order IS NOT NULL"),
                0
            );
        }
        assert_eq!(env.count("SELECT count(*) FROM otc_raw_contents"), 0);
        // A file the earlier version loaded is read line by line: its lines
        // are duplicates; loaded whole by no run of this version, it is not
        // known by its bytes.
        let again = run_ok(
            &env,
            "otc.ingest",
            &[fixture("finra_otc_weekly_otc_20251215.psv")],
        );
        assert_eq!(again["inserted"], 0, "{again}");
        assert_eq!(again["files_known"], 0, "{again}");
        assert_eq!(again["duplicates"], again["records"], "{again}");
    }
}
