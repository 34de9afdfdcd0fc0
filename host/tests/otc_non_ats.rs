//! ATS and non-ATS venues through the real binary and the real
//! `libspine_otc.so`, against figures worked by hand: the side-by-side
//! table, non-ATS market shares with the de minimis row flagged, venue counts
//! without it, a revision of a non-ATS row, and ATS results that do not
//! change when non-ATS files load beside them. Then the answers that could
//! mislead an analyst, on the sample data of `data/finra` (ATS and non-ATS
//! files).

mod common;
mod otc_support;

use common::{stderr_of, TestEnv};
use otc_support::{rows, run_ok, write_file};
use std::path::PathBuf;

/// Week 2025-11-28: NMS Tier 1 published 2025-12-15, NMS Tier 2 2025-12-29.
const ATS_LINES: [&str; 4] = [
    "NMS Tier 1|AAPL|Apple Inc.|UBS ATS|UBSA|600|6|2025-12-15",
    "NMS Tier 1|AAPL|Apple Inc.|LEVEL ATS|EBXL|400|5|2025-12-15",
    "NMS Tier 1|MSFT|Microsoft Corp.|UBS ATS|UBSA|300|3|2025-12-15",
    "NMS Tier 2|AAOI|Applied Opto|UBS ATS|UBSA|100|4|2025-12-29",
];
/// The same week's non-ATS lines: no MPID, the firm named by its participant name.
const NON_ATS_LINES: [&str; 6] = [
    "NMS Tier 1|AAPL|Apple Inc.|Citadel Securities LLC||2000|10|2025-12-15",
    "NMS Tier 1|AAPL|Apple Inc.|Virtu Americas LLC||1000|8|2025-12-15",
    "NMS Tier 1|AAPL|Apple Inc.|De Minimis Firms||1000|20|2025-12-15",
    "NMS Tier 1|MSFT|Microsoft Corp.|Citadel Securities LLC||700|7|2025-12-15",
    "NMS Tier 1|MSFT|Microsoft Corp.|De Minimis Firms||300|3|2025-12-15",
    "NMS Tier 2|AAOI|Applied Opto|Citadel Securities LLC||300|3|2025-12-29",
];
/// Virtu's AAPL row corrected in a later publication.
const NON_ATS_REVISION: &str = "NMS Tier 1|AAPL|Apple Inc.|Virtu Americas LLC||1500|10|2026-01-05";

fn load(env: &TestEnv, name: &str, lines: &[&str], params: &[&str]) {
    let file = write_file(env, name, lines);
    let mut all = vec![format!("file_path={file}")];
    all.extend(params.iter().map(|param| param.to_string()));
    run_ok(env, "otc.ingest", &all);
}

/// The ATS rows of the summaries and of the venue volume, without the run's time.
fn ats_results(env: &TestEnv) -> Vec<Vec<String>> {
    let mut results = rows(
        env,
        "SELECT week_ending, tier, symbol, issue_name, total_volume, total_trades, venue_count, avg_trade_size
         FROM otc_symbol_summary WHERE venue_type = 'ATS' ORDER BY week_ending, tier, symbol",
    );
    results.extend(rows(
        env,
        "SELECT week_ending, tier, venue, mpid, venue_name, is_aggregate, total_volume, total_trades,
                symbol_count, market_share_pct, rank, tiers, complete
         FROM otc_venue_share WHERE venue_type = 'ATS' ORDER BY week_ending, tier, rank",
    ));
    results.extend(rows(
        env,
        "SELECT week_ending, tier, symbol, venue, mpid, share_volume, trade_count, avg_trade_size, record_hash
         FROM otc_venue_volume WHERE venue_type = 'ATS' ORDER BY week_ending, tier, symbol, venue",
    ));
    results
}

#[test]
fn ats_and_non_ats_files_of_the_same_weeks_give_the_figures_worked_by_hand() {
    let env = TestEnv::with_plugins(&["spine_otc"]);
    load(&env, "ats.psv", &ATS_LINES, &[]);
    load(&env, "non_ats.psv", &NON_ATS_LINES, &[]);
    let normalize = run_ok(&env, "otc.normalize", &[]);
    assert_eq!(
        (normalize["accepted"].as_i64(), normalize["rejected"].as_i64()),
        (Some(10), Some(0))
    );
    // The revision: same key (week, tier, symbol, NON_ATS, Virtu), a later publication.
    load(
        &env,
        "revision.psv",
        &[NON_ATS_REVISION],
        &["week_ending=2025-11-28"],
    );
    let normalize = run_ok(&env, "otc.normalize", &[]);
    assert_eq!(normalize["revised"], 1, "{normalize}");
    run_ok(&env, "otc.summarize", &[]);

    assert_eq!(
        rows(
            &env,
            "SELECT venue_type, venue, mpid, is_aggregate, share_volume, trade_count, avg_trade_size, record_hash
             FROM otc_venue_volume WHERE symbol = 'AAPL' AND venue_type = 'NON_ATS' ORDER BY venue"
        )[2],
        // sha256("2025-11-28|NMS Tier 1|AAPL|NON_ATS:Virtu Americas LLC|1500|10"), by Python's hashlib.
        ["NON_ATS", "Virtu Americas LLC", "NULL", "0", "1500", "10", "150.00", "5efcbe66dcf36e3a828f072d05d870b3"]
    );

    // Symbols, per venue type. AAPL ATS: 600 + 400 = 1000 shares in 6 + 5 =
    // 11 trades, 90.909… → 90.91. AAPL non-ATS: 2000 + 1500 (revised) + 1000
    // (de minimis) = 4500 in 10 + 10 + 20 = 40 trades, 112.50 a trade, two
    // named firms: De Minimis Firms is not a venue it counts.
    assert_eq!(
        rows(
            &env,
            "SELECT tier, symbol, venue_type, issue_name, total_volume, total_trades, venue_count, avg_trade_size
             FROM otc_symbol_summary WHERE week_ending = '2025-11-28' ORDER BY tier, symbol, venue_type"
        ),
        [
            ["NMS Tier 1", "AAPL", "ATS", "Apple Inc.", "1000", "11", "2", "90.91"],
            ["NMS Tier 1", "AAPL", "NON_ATS", "Apple Inc.", "4500", "40", "2", "112.50"],
            ["NMS Tier 1", "MSFT", "ATS", "Microsoft Corp.", "300", "3", "1", "100.00"],
            ["NMS Tier 1", "MSFT", "NON_ATS", "Microsoft Corp.", "1000", "10", "1", "100.00"],
            ["NMS Tier 2", "AAOI", "ATS", "Applied Opto", "100", "4", "1", "25.00"],
            ["NMS Tier 2", "AAOI", "NON_ATS", "Applied Opto", "300", "3", "1", "100.00"]
        ]
    );

    // Side by side. AAPL: 1000 / (1000 + 4500) = 18.1818… → 18.18. MSFT:
    // 300 / 1300 = 23.0769… → 23.08. AAOI: 100 / 400 = 25.00. Each symbol
    // trades in one tier, so ALL repeats its tier.
    let side_by_side = |tier: &str| {
        rows(
            &env,
            &format!(
                "SELECT symbol, ats_volume, ats_trades, ats_avg_trade_size, non_ats_volume, non_ats_trades,
                        non_ats_avg_trade_size, ats_share_pct
                 FROM otc_symbol_offexchange WHERE week_ending = '2025-11-28' AND tier = '{tier}' ORDER BY symbol"
            ),
        )
    };
    let tier1 = [
        ["AAPL", "1000", "11", "90.91", "4500", "40", "112.50", "18.18"],
        ["MSFT", "300", "3", "100.00", "1000", "10", "100.00", "23.08"],
    ];
    assert_eq!(side_by_side("NMS Tier 1"), tier1);
    assert_eq!(
        side_by_side("NMS Tier 2"),
        [["AAOI", "100", "4", "25.00", "300", "3", "100.00", "25.00"]]
    );
    assert_eq!(
        side_by_side("ALL"),
        [
            ["AAOI", "100", "4", "25.00", "300", "3", "100.00", "25.00"],
            tier1[0],
            tier1[1]
        ]
    );

    // Non-ATS shares are shares of non-ATS volume. NMS Tier 1: 5500 shares;
    // Citadel 2000 + 700 = 2700 → 49.0909… → 49.09; Virtu 1500 → 27.27;
    // De Minimis Firms 1000 + 300 = 1300 → 23.6363… → 23.64, flagged, ranked
    // like any row. ALL adds AAOI's 300 to Citadel: 3000 / 5800 → 51.72,
    // 1500 / 5800 → 25.86, 1300 / 5800 → 22.41 (99.99 in all: rounding).
    assert_eq!(
        rows(
            &env,
            "SELECT tier, rank, venue, mpid, venue_name, is_aggregate, total_volume, symbol_count,
                    market_share_pct, tiers, complete
             FROM otc_venue_share WHERE week_ending = '2025-11-28' AND venue_type = 'NON_ATS' AND tier <> 'NMS Tier 2'
             ORDER BY tier, rank"
        ),
        [
            ["ALL", "1", "Citadel Securities LLC", "NULL", "Citadel Securities LLC", "0", "3000", "3", "51.72", "NMS Tier 1,NMS Tier 2", "0"],
            ["ALL", "2", "Virtu Americas LLC", "NULL", "Virtu Americas LLC", "0", "1500", "1", "25.86", "NMS Tier 1,NMS Tier 2", "0"],
            ["ALL", "3", "De Minimis Firms", "NULL", "De Minimis Firms", "1", "1300", "2", "22.41", "NMS Tier 1,NMS Tier 2", "0"],
            ["NMS Tier 1", "1", "Citadel Securities LLC", "NULL", "Citadel Securities LLC", "0", "2700", "2", "49.09", "NMS Tier 1,NMS Tier 2", "0"],
            ["NMS Tier 1", "2", "Virtu Americas LLC", "NULL", "Virtu Americas LLC", "0", "1500", "1", "27.27", "NMS Tier 1,NMS Tier 2", "0"],
            ["NMS Tier 1", "3", "De Minimis Firms", "NULL", "De Minimis Firms", "1", "1300", "2", "23.64", "NMS Tier 1,NMS Tier 2", "0"]
        ]
    );
    // ATS shares are shares of ATS volume: NMS Tier 1 1300 shares, UBSA
    // 900 → 69.2307… → 69.23, EBXL 400 → 30.77; ALL 1400: 71.43 and 28.57.
    assert_eq!(
        rows(
            &env,
            "SELECT tier, rank, venue, mpid, venue_name, total_volume, market_share_pct FROM otc_venue_share
             WHERE week_ending = '2025-11-28' AND venue_type = 'ATS' AND tier <> 'NMS Tier 2' ORDER BY tier, rank"
        ),
        [
            ["ALL", "1", "UBSA", "UBSA", "UBS ATS", "1000", "71.43"],
            ["ALL", "2", "EBXL", "EBXL", "LEVEL ATS", "400", "28.57"],
            ["NMS Tier 1", "1", "UBSA", "UBSA", "UBS ATS", "900", "69.23"],
            ["NMS Tier 1", "2", "EBXL", "EBXL", "LEVEL ATS", "400", "30.77"]
        ]
    );

    // The ATS results are those of the ATS file alone.
    let ats_only = TestEnv::with_plugins(&["spine_otc"]);
    load(&ats_only, "ats.psv", &ATS_LINES, &[]);
    run_ok(&ats_only, "otc.normalize", &[]);
    run_ok(&ats_only, "otc.summarize", &[]);
    assert_eq!(ats_results(&env), ats_results(&ats_only));
}

/// The sample files of `data/finra`.
fn sample_data() -> String {
    let folder: PathBuf = [env!("CARGO_MANIFEST_DIR"), "..", "data", "finra"]
        .iter()
        .collect();
    format!("file_path={}", folder.display())
}

#[test]
fn on_the_sample_data_a_partial_week_says_so_and_shares_sort_as_numbers_with_names() {
    let env = TestEnv::with_plugins(&["spine_otc"]);
    let load = run_ok(&env, "otc.load", &[sample_data()]);
    assert_eq!(load["ingest"]["files"], 12, "{load}");
    assert_eq!(load["summarize"]["weeks"], 3, "{load}");
    // ATS and non-ATS venues each have a rank 1: a venue-share query names
    // its venue type.
    assert_eq!(
        rows(
            &env,
            "SELECT venue_type, venue FROM otc_venue_share WHERE week_ending = '2025-11-28' AND tier = 'ALL'
             AND rank = 1 ORDER BY venue_type"
        ),
        [["ATS", "EBXL"], ["NON_ATS", "Jane Street Capital, LLC"]]
    );

    // The latest week, 2025-12-12, holds NMS Tier 1 only: its ALL rows say
    // so. The latest complete week is 2025-11-28, where EBXL leads.
    assert_eq!(
        rows(
            &env,
            "SELECT week_ending, tiers, complete FROM otc_venue_share
             WHERE tier = 'ALL' AND venue_type = 'ATS' GROUP BY week_ending ORDER BY week_ending"
        ),
        [
            ["2025-11-14", "NMS Tier 2,OTC", "0"],
            ["2025-11-28", "NMS Tier 1,NMS Tier 2,OTC", "1"],
            ["2025-12-12", "NMS Tier 1", "0"]
        ]
    );
    let leader = "SELECT venue, venue_name, market_share_pct FROM otc_venue_share
                  WHERE tier = 'ALL' AND venue_type = 'ATS' AND week_ending =
                      (SELECT max(week_ending) FROM otc_venue_share WHERE venue_type = 'ATS' AND complete = 1)
                  ORDER BY market_share_pct DESC LIMIT 1";
    assert_eq!(rows(&env, leader), [["EBXL", "EBXL LEVEL ATS", "19.25"]]);

    // Shares sort as numbers (as text, '8.38' > '19.25'): in the order of
    // the ranks (equal shares, rounded, keep their ranks' order), and JSON
    // gives numbers.
    let by_share = rows(
        &env,
        "SELECT rank FROM otc_venue_share WHERE week_ending = '2025-11-28' AND tier = 'ALL' AND venue_type = 'ATS'
         ORDER BY market_share_pct DESC, rank",
    );
    let ranks: Vec<Vec<String>> = (1..=by_share.len()).map(|rank| vec![rank.to_string()]).collect();
    assert_eq!(by_share, ranks);
    let output = env
        .cmd()
        .args([
            "query",
            "--format",
            "json",
            "SELECT market_share_pct, avg_trade_size FROM otc_venue_share JOIN otc_symbol_summary USING (week_ending)
             WHERE venue = 'EBXL' AND otc_venue_share.tier = 'ALL' AND week_ending = '2025-11-28'
                 AND symbol = 'AAPL' AND otc_symbol_summary.tier = 'NMS Tier 1'",
        ])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json[0]["market_share_pct"], serde_json::json!(19.25), "{json}");
    assert!(json[0]["avg_trade_size"].is_f64(), "{json}");
    // A percentage is stored as the double nearest its two places.
    assert_eq!(
        env.count(
            "SELECT count(*) FROM otc_venue_share WHERE week_ending = '2025-11-28' AND tier = 'ALL'
             AND venue = 'EBXL' AND market_share_pct = 19.25 AND typeof(market_share_pct) = 'real'"
        ),
        1
    );

    // Names beside codes.
    assert_eq!(
        rows(
            &env,
            "SELECT DISTINCT issue_name FROM otc_symbol_summary WHERE symbol = 'AAPL'"
        ),
        [["Apple Inc. Common Stock"]]
    );
}

#[test]
fn a_wrong_explicit_week_is_warned_and_counted() {
    // The OTC file published Monday 2025-12-15 holds week 2025-11-14.
    let env = TestEnv::with_plugins(&["spine_otc"]);
    let file: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "..",
        "data",
        "finra",
        "finra_otc_weekly_otc_20251215.psv",
    ]
    .iter()
    .collect();
    let output = env
        .cmd()
        .args(["run", "otc.ingest", "--json", "-p"])
        .arg(format!("file_path={}", file.display()))
        .args(["-p", "week_ending=2025-12-12"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let ingest: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(ingest["metrics"]["week_mismatch"], 33, "{ingest}");
    let log = stderr_of(&output);
    assert!(
        log.contains(&format!(
            "{}: week_ending 2025-12-12 was given, but 33 lines have a Monday lastUpdateDate that FINRA's \
             first-publication rule places in week 2025-11-14; check -p week_ending",
            file.display()
        )),
        "{log}"
    );
    // The right week given: nothing to say.
    let right = run_ok(
        &TestEnv::with_plugins(&["spine_otc"]),
        "otc.ingest",
        &[
            format!("file_path={}", file.display()),
            "week_ending=2025-11-14".into(),
        ],
    );
    assert_eq!(right["week_mismatch"], 0);
}

#[test]
fn summarize_before_normalize_says_how_many_rows_wait_and_otc_load_runs_all_three() {
    let env = TestEnv::with_plugins(&["spine_otc"]);
    let ingest = run_ok(&env, "otc.ingest", &[sample_data()]);
    let inserted = ingest["inserted"].as_i64().unwrap();
    let output = env
        .cmd()
        .args(["run", "otc.summarize", "--json"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let summarize: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summarize["metrics"]["awaiting_normalize"], inserted);
    assert!(
        stderr_of(&output).contains(&format!(
            "{inserted} raw rows await otc.normalize, and these summaries leave them out"
        )),
        "{}",
        stderr_of(&output)
    );

    // otc.load: the same files, in one run, to summaries.
    let loaded = TestEnv::with_plugins(&["spine_otc"]);
    let load = run_ok(&loaded, "otc.load", &[sample_data()]);
    assert_eq!(load["ingest"]["inserted"], inserted);
    assert_eq!(load["normalize"]["processed"], inserted);
    assert_eq!(load["summarize"]["awaiting_normalize"], 0);
    run_ok(&env, "otc.normalize", &[]);
    run_ok(&env, "otc.summarize", &[]);
    let summaries =
        "SELECT week_ending, tier, symbol, venue_type, total_volume, avg_trade_size FROM otc_symbol_summary
                     ORDER BY 1, 2, 3, 4";
    assert_eq!(rows(&loaded, summaries), rows(&env, summaries));
}
