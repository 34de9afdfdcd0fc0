//! The worked example of the OTC specification (OTC.md, "Worked example"),
//! run on the plugin test harness: the plugin's own pipelines through the
//! host's runner, fence, migrations and transactions, on a real temporary
//! SQLite database, with no `.so` and no host binary. The figures below are
//! the specification's, worked by hand.

use spine_plugin_test::{json, Harness, Status};

const FILE: &str = "\
tierDescription|issueSymbolIdentifier|issueName|marketParticipantName|MPID|totalWeeklyShareQuantity|totalWeeklyTradeCount|lastUpdateDate
NMS Tier 1|AAPL|Apple Inc. Common Stock|VENA VENUE A|VENA|1000000|5000|2025-12-29
BAD|ROW|MISSING|COLUMNS
NMS Tier 1|AAPL|Apple Inc. Common Stock|VENB VENUE B|VENB|500000|2500|2025-12-29
NMS Tier 1|MSFT|Microsoft Corporation Common Stock|VENA VENUE A|VENA|800000|4000|2025-12-29
";

/// A harness over the otc plugin with the example file written beside it;
/// returns the harness, the file's path and the folder that holds it.
fn harness() -> (Harness, String, tempfile::TempDir) {
    let folder = tempfile::tempdir().unwrap();
    let file = folder.path().join("example.psv");
    std::fs::write(&file, FILE).unwrap();
    let mut harness = Harness::new(spine_otc::plugin()).unwrap();
    harness.set_today("2026-01-05").unwrap();
    (harness, file.display().to_string(), folder)
}

fn run(harness: &Harness, pipeline: &str, params: &[(&str, &str)]) -> spine_plugin_test::Value {
    let run = harness.run(pipeline, params).unwrap();
    assert_eq!(run.status, Status::Completed, "{pipeline}: {:?}", run.error);
    run.metrics
}

#[test]
fn ingest_keeps_three_lines_rejects_the_bad_one_at_line_3_and_a_second_load_is_all_duplicates() {
    let (harness, file, _folder) = harness();
    let params = [("file_path", file.as_str()), ("week_ending", "2025-12-12")];
    let metrics = run(&harness, "otc.ingest", &params);
    assert_eq!(
        [
            &metrics["records"],
            &metrics["inserted"],
            &metrics["duplicates"],
            &metrics["rejected"]
        ],
        [&json!(4), &json!(3), &json!(0), &json!(1)]
    );
    let rejects = harness
        .query("SELECT stage, line_number, reason FROM otc_rejects")
        .unwrap();
    assert_eq!(
        rejects,
        [json!({"stage": "parse", "line_number": 3,
                "reason": "expected 8 fields as in the header, found 4 fields"})]
    );
    // The spec's hash of its first row.
    let hashes = harness
        .query("SELECT record_hash FROM otc_raw WHERE symbol = 'AAPL' AND mpid = 'VENA'")
        .unwrap();
    assert_eq!(
        hashes,
        [json!({"record_hash": "1ce8807cc6251f6e2bfbe1e917735425"})]
    );
    let again = run(&harness, "otc.ingest", &params);
    assert_eq!([&again["inserted"], &again["duplicates"]], [&json!(0), &json!(3)]);
}

#[test]
fn normalize_and_summarize_give_the_figures_of_the_spec() {
    let (harness, file, _folder) = harness();
    run(
        &harness,
        "otc.ingest",
        &[("file_path", &file), ("week_ending", "2025-12-12")],
    );
    let normalized = run(&harness, "otc.normalize", &[]);
    assert_eq!(normalized["accepted"], 3, "{normalized}");
    let averages = harness
        .query("SELECT DISTINCT avg_trade_size FROM otc_venue_volume")
        .unwrap();
    assert_eq!(averages, [json!({"avg_trade_size": 200.0})]);
    run(&harness, "otc.summarize", &[]);
    let symbols = harness
        .query(
            "SELECT symbol, total_volume, total_trades, venue_count, avg_trade_size
             FROM otc_symbol_summary ORDER BY symbol",
        )
        .unwrap();
    assert_eq!(
        symbols,
        [
            json!({"symbol": "AAPL", "total_volume": 1500000, "total_trades": 7500, "venue_count": 2,
                   "avg_trade_size": 200.0}),
            json!({"symbol": "MSFT", "total_volume": 800000, "total_trades": 4000, "venue_count": 1,
                   "avg_trade_size": 200.0}),
        ]
    );
    // NMS Tier 1 and ALL alike: VENA 78.26 % (rank 1), VENB 21.74 % (rank 2).
    for tier in ["NMS Tier 1", "ALL"] {
        let shares = harness
            .query(&format!(
                "SELECT mpid, total_volume, symbol_count, market_share_pct, rank
                 FROM otc_venue_share WHERE tier = '{tier}' ORDER BY rank"
            ))
            .unwrap();
        assert_eq!(
            shares,
            [
                json!({"mpid": "VENA", "total_volume": 1800000, "symbol_count": 2,
                       "market_share_pct": 78.26, "rank": 1}),
                json!({"mpid": "VENB", "total_volume": 500000, "symbol_count": 1,
                       "market_share_pct": 21.74, "rank": 2}),
            ],
            "{tier}"
        );
    }
}
