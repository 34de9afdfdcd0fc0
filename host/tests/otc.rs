//! The OTC domain through the real host and the real `libspine_otc.so`:
//! OTC.md's worked example value for value, the hash, week inference,
//! revisions, rejects, half-even market shares, bounds, a week larger than
//! one read of otc.summarize, stray double quotes that stay inside their
//! line, and control characters and implausible dates refused line by line.

mod common;

mod otc_support;

use common::TestEnv;
use otc_support::{rows, run, run_on, write_file};
use serde_json::Value;

const WORKED_EXAMPLE: [&str; 3] = [
    "NMS Tier 1|AAPL|Apple Inc. Common Stock|VENUE A ATS|VENA|1000000|5000|2025-12-29",
    "NMS Tier 1|AAPL|Apple Inc. Common Stock|VENUE B ATS|VENB|500000|2500|2025-12-29",
    "NMS Tier 1|MSFT|Microsoft Corporation Common Stock|VENUE A ATS|VENA|800000|4000|2025-12-29",
];

#[test]
fn the_worked_example_of_otc_md_value_for_value() {
    let env = TestEnv::with_plugins(&["spine_otc"]);
    let file = write_file(&env, "week.psv", &WORKED_EXAMPLE);
    let params = [format!("file_path={file}"), "week_ending=2025-12-12".to_owned()];

    let (code, ingest) = run(&env, "otc.ingest", &params);
    assert_eq!(code, 0, "{ingest}");
    let m = &ingest["metrics"];
    assert_eq!(
        (
            m["records"].as_i64(),
            m["inserted"].as_i64(),
            m["duplicates"].as_i64()
        ),
        (Some(3), Some(3), Some(0))
    );
    let (_, again) = run(&env, "otc.ingest", &params);
    let m = &again["metrics"];
    assert_eq!(
        (
            m["records"].as_i64(),
            m["inserted"].as_i64(),
            m["duplicates"].as_i64()
        ),
        (Some(3), Some(0), Some(3))
    );

    // The hash example of OTC.md.
    let hash = rows(
        &env,
        "SELECT record_hash FROM otc_raw WHERE symbol = 'AAPL' AND mpid = 'VENA'",
    );
    assert_eq!(hash, [["1ce8807cc6251f6e2bfbe1e917735425"]]);

    let (code, normalize) = run(&env, "otc.normalize", &[]);
    assert_eq!(code, 0, "{normalize}");
    assert_eq!(normalize["metrics"]["accepted"], 3);
    let averages = rows(&env, "SELECT DISTINCT avg_trade_size FROM otc_venue_volume");
    assert_eq!(averages, [["200.00"]]);

    let (code, summarize) = run(&env, "otc.summarize", &[]);
    assert_eq!(code, 0, "{summarize}");
    let summary = rows(
        &env,
        "SELECT symbol, total_volume, total_trades, venue_count, avg_trade_size FROM otc_symbol_summary
         WHERE week_ending = '2025-12-12' AND tier = 'NMS Tier 1' ORDER BY symbol",
    );
    assert_eq!(
        summary,
        [
            ["AAPL", "1500000", "7500", "2", "200.00"],
            ["MSFT", "800000", "4000", "1", "200.00"]
        ]
    );
    for tier in ["NMS Tier 1", "ALL"] {
        let shares = rows(
            &env,
            &format!(
                "SELECT mpid, total_volume, symbol_count, market_share_pct, rank FROM otc_venue_share
                 WHERE week_ending = '2025-12-12' AND tier = '{tier}' ORDER BY rank"
            ),
        );
        assert_eq!(
            shares,
            [
                ["VENA", "1800000", "2", "78.26", "1"],
                ["VENB", "500000", "1", "21.74", "2"]
            ],
            "{tier}"
        );
    }
}

#[test]
fn a_line_with_missing_columns_is_one_reject_at_line_3_and_the_rest_load() {
    let env = TestEnv::with_plugins(&["spine_otc"]);
    let file = write_file(
        &env,
        "week.psv",
        &[
            WORKED_EXAMPLE[0],
            "BAD|ROW|MISSING|COLUMNS",
            WORKED_EXAMPLE[1],
            WORKED_EXAMPLE[2],
        ],
    );
    let (code, ingest) = run(
        &env,
        "otc.ingest",
        &[format!("file_path={file}"), "week_ending=2025-12-12".into()],
    );
    assert_eq!(code, 0);
    let m = &ingest["metrics"];
    assert_eq!(
        (
            m["records"].as_i64(),
            m["inserted"].as_i64(),
            m["rejected"].as_i64()
        ),
        (Some(4), Some(3), Some(1))
    );
    let rejects = rows(
        &env,
        "SELECT stage, line_number, raw_line, source_file, execution_id FROM otc_rejects",
    );
    assert_eq!(rejects.len(), 1);
    assert_eq!(rejects[0][..3], ["parse", "3", "BAD|ROW|MISSING|COLUMNS"]);
    assert_eq!(rejects[0][3], file);
    assert_eq!(rejects[0][4], ingest["id"].as_str().unwrap());
    let reason = rows(&env, "SELECT reason FROM otc_rejects")[0][0].clone();
    assert!(reason.contains("4 fields") && reason.contains('8'), "{reason}");
}

#[test]
fn each_kind_of_bad_line_is_stored_with_its_line_and_the_counts_add_up() {
    let env = TestEnv::with_plugins(&["spine_otc"]);
    let good = "NMS Tier 2|AAOI|Applied Optoelectronics, Inc. Common Stock|EBXL LEVEL ATS|EBXL|639234|7396|2025-12-29";
    let file = write_file(
        &env,
        "mixed.psv",
        &[
            good,
            "NMS Tier 2|AAOI|x|y|VENB|1,2O0|5|2025-12-29",
            "NMS Tier 2|AAOI|x|y|VENC|99999999999999999999|5|2025-12-29",
            "NMS Tier 2|AAOI|x|y|VEND|10|5|2025-13-45",
            "NMS Tier 2|AAOI|x|y|VENE|10",
            good,
            "NMS Tier 2|AAOI|x|y|VENF|-10|5|2025-12-29",
            "NMS Tier 2||x|y|VENG|10|5|2025-12-29",
            "NMS Tier 2|AAOI|x|y|VENH|10|0|2025-12-29",
            "Tier 9|AAOI|x|y|VENI|10|5|2025-12-29",
        ],
    );
    // An unknown tier cannot have its week inferred, so the week is given.
    let (code, ingest) = run(
        &env,
        "otc.ingest",
        &[format!("file_path={file}"), "week_ending=2025-12-05".into()],
    );
    assert_eq!(code, 0, "{ingest}");
    let m = &ingest["metrics"];
    let (records, inserted, duplicates, rejected) = (
        m["records"].as_i64().unwrap(),
        m["inserted"].as_i64().unwrap(),
        m["duplicates"].as_i64().unwrap(),
        m["rejected"].as_i64().unwrap(),
    );
    assert_eq!(records, inserted + duplicates + rejected);
    assert_eq!((records, inserted, duplicates, rejected), (10, 5, 1, 4));
    let parse_lines = rows(
        &env,
        "SELECT line_number FROM otc_rejects WHERE stage = 'parse' ORDER BY line_number",
    );
    assert_eq!(parse_lines, [["3"], ["4"], ["5"], ["6"]]);

    let (code, normalize) = run(&env, "otc.normalize", &[]);
    assert_eq!(code, 0, "{normalize}");
    assert_eq!(
        (
            normalize["metrics"]["accepted"].as_i64(),
            normalize["metrics"]["rejected"].as_i64()
        ),
        (Some(1), Some(4))
    );
    let normalize_lines = rows(
        &env,
        "SELECT line_number FROM otc_rejects WHERE stage = 'normalize' ORDER BY line_number",
    );
    assert_eq!(normalize_lines, [["8"], ["9"], ["10"], ["11"]]);
    for row in rows(&env, "SELECT reason FROM otc_rejects") {
        assert!(!row[0].is_empty());
    }
}

#[test]
fn the_trading_week_is_inferred_from_tier_and_last_update_date() {
    let env = TestEnv::with_plugins(&["spine_otc"]);
    let file = write_file(
        &env,
        "mixed-tiers.psv",
        &[
            "OTC|ABCD|Abcd Corp|VENUE A|VENA|100|10|2025-12-15",
            "NMS Tier 1|AAPL|Apple Inc.|VENUE A|VENA|100|10|2025-12-15",
        ],
    );
    let (code, ingest) = run(&env, "otc.ingest", &[format!("file_path={file}")]);
    assert_eq!(code, 0, "{ingest}");
    let weeks = rows(&env, "SELECT tier, week_ending FROM otc_raw ORDER BY tier");
    assert_eq!(weeks, [["NMS Tier 1", "2025-11-28"], ["OTC", "2025-11-14"]]);

    let tuesday = write_file(
        &env,
        "tuesday.psv",
        &["OTC|ABCD|Abcd Corp|VENUE A|VENA|101|10|2025-12-16"],
    );
    let (code, refused) = run(&env, "otc.ingest", &[format!("file_path={tuesday}")]);
    assert_eq!(code, 1);
    let error = refused["error"].as_str().unwrap();
    assert!(error.contains("week_ending=YYYY-MM-DD"), "{error}");
    assert!(error.contains("tuesday.psv"), "{error}");
    assert_eq!(rows(&env, "SELECT COUNT(*) FROM otc_raw"), [["2"]]);

    // Given explicitly, the week applies and the odd date is kept as published.
    let (code, _) = run(
        &env,
        "otc.ingest",
        &[format!("file_path={tuesday}"), "week_ending=2025-11-14".into()],
    );
    assert_eq!(code, 0);
    assert_eq!(
        rows(
            &env,
            "SELECT week_ending, last_update_date FROM otc_raw WHERE last_update_date = '2025-12-16'"
        ),
        [["2025-11-14", "2025-12-16"]]
    );
}

#[test]
fn a_revision_replaces_the_normalized_values_and_summarize_follows() {
    let env = TestEnv::with_plugins(&["spine_otc"]);
    let first = write_file(&env, "first.psv", &WORKED_EXAMPLE);
    let week = "week_ending=2025-12-12".to_owned();
    run(&env, "otc.ingest", &[format!("file_path={first}"), week.clone()]);
    run(&env, "otc.normalize", &[]);
    run(&env, "otc.summarize", &[]);

    let corrected = write_file(
        &env,
        "corrected.psv",
        &["NMS Tier 1|AAPL|Apple Inc. Common Stock|VENUE A ATS|VENA|1200000|6000|2026-01-05"],
    );
    let (_, ingest) = run(&env, "otc.ingest", &[format!("file_path={corrected}"), week]);
    assert_eq!(
        ingest["metrics"]["inserted"], 1,
        "a corrected row is a new record"
    );
    let (_, normalize) = run(&env, "otc.normalize", &[]);
    assert_eq!(normalize["metrics"]["revised"], 1, "{normalize}");
    assert_eq!(
        rows(
            &env,
            "SELECT share_volume, trade_count FROM otc_venue_volume WHERE symbol = 'AAPL' AND mpid = 'VENA'"
        ),
        [["1200000", "6000"]]
    );
    let (_, summarize) = run(&env, "otc.summarize", &[]);
    assert_eq!(summarize["metrics"]["weeks"], 1, "{summarize}");
    assert_eq!(
        rows(
            &env,
            "SELECT total_volume, total_trades FROM otc_symbol_summary WHERE symbol = 'AAPL'"
        ),
        [["1700000", "8500"]]
    );
    assert_eq!(
        rows(&env, "SELECT mpid, total_volume, market_share_pct FROM otc_venue_share WHERE tier = 'ALL' ORDER BY rank"),
        [["VENA", "2000000", "80.00"], ["VENB", "500000", "20.00"]]
    );
}

#[test]
fn market_shares_round_half_even_to_two_places() {
    let env = TestEnv::with_plugins(&["spine_otc"]);
    let file = write_file(
        &env,
        "shares.psv",
        &[
            "OTC|ABCD|Abcd Corp|VENUE ONE|ONE1|1|1|2025-12-15",
            "OTC|ABCD|Abcd Corp|VENUE THREE|THR3|3|1|2025-12-15",
            "OTC|ABCD|Abcd Corp|VENUE BIG|BIG9|796|1|2025-12-15",
        ],
    );
    run(&env, "otc.ingest", &[format!("file_path={file}")]);
    run(&env, "otc.normalize", &[]);
    let (code, _) = run(&env, "otc.summarize", &["week_ending=2025-11-14".into()]);
    assert_eq!(code, 0);
    assert_eq!(
        rows(
            &env,
            "SELECT mpid, market_share_pct, rank FROM otc_venue_share WHERE tier = 'OTC' ORDER BY rank"
        ),
        [
            ["BIG9", "99.50", "1"],
            ["THR3", "0.38", "2"],
            ["ONE1", "0.12", "3"]
        ]
    );
}

#[test]
fn a_week_larger_than_one_read_of_summarize_gives_the_figures_of_sql_group_by() {
    // otc.summarize reads a week 100,000 rows at a time; 7 venues per symbol
    // put a symbol across each boundary, and every 10th symbol trades in two
    // tiers, so venues count it once across tiers.
    let env = TestEnv::with_plugins(&["spine_otc"]);
    let mut lines = Vec::new();
    for symbol in 0..16_000 {
        let tiers: &[&str] = if symbol % 10 == 0 {
            &["NMS Tier 1", "OTC"]
        } else {
            &["NMS Tier 2"]
        };
        for tier in tiers {
            for venue in 0..7 {
                let volume = 100 + (symbol * 7 + venue) % 9_973;
                lines.push(format!(
                    "{tier}|S{symbol:05}|Issue {symbol}|Venue {venue}|V{venue:03}|{volume}|{}|2025-12-15",
                    1 + venue
                ));
            }
        }
    }
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    let file = write_file(&env, "big-week.psv", &lines);
    let week = "week_ending=2025-12-12".to_owned();
    assert_eq!(
        run(&env, "otc.ingest", &[format!("file_path={file}"), week.clone()]).0,
        0
    );
    assert_eq!(run(&env, "otc.normalize", &[]).0, 0);
    let (code, summarize) = run(&env, "otc.summarize", &[week]);
    assert_eq!(code, 0, "{summarize}");
    assert_eq!(summarize["metrics"]["symbols"], 17_600, "{summarize}");

    let symbols_by_sql = "SELECT tier, symbol, sum(share_volume), sum(trade_count), count(*)
                          FROM otc_venue_volume GROUP BY tier, symbol ORDER BY tier, symbol";
    let symbols = "SELECT tier, symbol, total_volume, total_trades, venue_count
                   FROM otc_symbol_summary ORDER BY tier, symbol";
    assert!(
        rows(&env, symbols) == rows(&env, symbols_by_sql),
        "symbol summaries differ from SQL"
    );

    let venues_by_sql = "SELECT mpid, sum(share_volume), sum(trade_count), count(DISTINCT symbol)
                         FROM otc_venue_volume GROUP BY mpid ORDER BY mpid";
    let venues = "SELECT mpid, total_volume, total_trades, symbol_count
                  FROM otc_venue_share WHERE tier = 'ALL' ORDER BY mpid";
    let expected = rows(&env, venues_by_sql);
    assert_eq!(expected.len(), 7);
    assert_eq!(rows(&env, venues), expected);

    // Across tiers, a symbol in two tiers adds both up.
    let side_by_side_by_sql = "SELECT symbol, sum(share_volume), sum(trade_count), 0
                               FROM otc_venue_volume GROUP BY symbol ORDER BY symbol";
    let side_by_side = "SELECT symbol, ats_volume, ats_trades, non_ats_volume
                        FROM otc_symbol_offexchange WHERE tier = 'ALL' ORDER BY symbol";
    assert!(
        rows(&env, side_by_side) == rows(&env, side_by_side_by_sql),
        "side-by-side rows across tiers differ from SQL"
    );
}

/// (records, inserted, duplicates, rejected) of an ingest.
fn ingest_counts(ingest: &Value) -> [i64; 4] {
    ["records", "inserted", "duplicates", "rejected"].map(|name| {
        ingest["metrics"][name]
            .as_i64()
            .unwrap_or_else(|| panic!("{name}: {ingest}"))
    })
}

#[test]
fn a_stray_double_quote_is_data_and_never_joins_two_lines() {
    // Issue 11's reproduction: a quote opened in AAA's issue name used to take
    // in BBB's line, crediting AAA with BBB's venue and volume.
    let env = TestEnv::with_plugins(&["spine_otc"]);
    let file = write_file(
        &env,
        "quotes.psv",
        &[
            r#"OTC|AAA|"Acme Corp|V1 ATS|V1|100|1|2025-12-15"#,
            r#"OTC|BBB|Bee "B" Co|V2 ATS|V2|999|9|2025-12-15"#,
            "OTC|CCC|Cee|V3 ATS|V3|300|3|2025-12-15",
        ],
    );
    let (code, ingest) = run(&env, "otc.ingest", &[format!("file_path={file}")]);
    assert_eq!(code, 0, "{ingest}");
    assert_eq!(ingest_counts(&ingest), [3, 3, 0, 0], "{ingest}");
    let (code, normalize) = run(&env, "otc.normalize", &[]);
    assert_eq!(code, 0, "{normalize}");
    let stored = rows(
        &env,
        "SELECT volume.symbol, raw.issue_name, volume.mpid, volume.share_volume, volume.trade_count
         FROM otc_venue_volume AS volume JOIN otc_raw AS raw ON raw.record_hash = volume.record_hash
         ORDER BY volume.symbol",
    );
    assert_eq!(
        stored,
        [
            ["AAA", "\"Acme Corp", "V1", "100", "1"],
            ["BBB", "Bee \"B\" Co", "V2", "999", "9"],
            ["CCC", "Cee", "V3", "300", "3"],
        ]
    );

    // 100,000 lines with one stray quote each, at the start, in the middle
    // or at the end of a field: 100,000 records, each at its own line.
    let lines: Vec<String> = (0..100_000)
        .map(|i| {
            let name = match i % 3 {
                0 => format!("\"Quote {i} Inc"),
                1 => format!("Quote \"{i} Inc"),
                _ => format!("Quote {i} Inc\""),
            };
            format!("OTC|Q{i}|{name}|Q ATS|QATS|{}|1|2025-12-15", 100 + i)
        })
        .collect();
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    let file = write_file(&env, "stray-quotes.psv", &lines);
    let (code, ingest) = run(&env, "otc.ingest", &[format!("file_path={file}")]);
    assert_eq!(code, 0, "{ingest}");
    assert_eq!(ingest_counts(&ingest), [100_000, 100_000, 0, 0], "{ingest}");
    let misplaced = format!(
        "SELECT COUNT(*) FROM otc_raw WHERE source_file = '{file}'
         AND (line_number <> CAST(substr(symbol, 2) AS INTEGER) + 2
              OR share_volume <> CAST(substr(symbol, 2) AS INTEGER) + 100
              OR length(issue_name) - length(replace(issue_name, '\"', '')) <> 1)"
    );
    assert_eq!(env.count(&misplaced), 0);
}

#[test]
fn control_characters_and_dates_outside_2010_to_a_year_ahead_are_parse_rejects_naming_the_field() {
    let env = TestEnv::with_plugins(&["spine_otc"]);
    let line =
        |symbol: &str, mpid: &str, date: &str| format!("OTC|{symbol}|Issue|Venue ATS|{mpid}|100|1|{date}");
    let lines = [
        line("GOOD", "VENA", "2025-12-15"),
        line("AA\0BB", "VENA", "2025-12-15"),
        line("ESC", "VE\u{1b}NA", "2025-12-15"),
        line("OLD", "VENA", "0001-01-01"),
        line("FAR", "VENA", "9999-12-31"),
        line("FIRST", "VENA", "2010-01-01"),
        line("BEFORE", "VENA", "2009-12-31"),
        line("LAST", "VENA", "2027-01-15"),
        line("AFTER", "VENA", "2027-01-16"),
    ];
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    let file = write_file(&env, "dirty.psv", &lines);
    // The week is given: 2010-01-01 is a Friday, from which none can be inferred.
    let week = "week_ending=2025-12-12".to_owned();
    let (code, ingest) = run_on(
        &env,
        "2026-01-15",
        "otc.ingest",
        &[format!("file_path={file}"), week.clone()],
    );
    assert_eq!(code, 0, "{ingest}");
    assert_eq!(ingest_counts(&ingest), [9, 3, 0, 6], "{ingest}");
    let outside = |date: &str| {
        format!(
            "field lastUpdateDate: expected a date from 2010-01-01 to 2027-01-15 (a year after today), \
             found \"{date}\""
        )
    };
    let expected = [
        (
            "3",
            r#"field issueSymbolIdentifier: expected text without control or invisible characters, found "AA\0BB""#
                .to_owned(),
        ),
        (
            "4",
            r#"field MPID: expected text without control or invisible characters, found "VE\u{1b}NA""#.to_owned(),
        ),
        ("5", outside("0001-01-01")),
        ("6", outside("9999-12-31")),
        ("8", outside("2009-12-31")),
        ("10", outside("2027-01-16")),
    ]
    .map(|(line, reason)| vec!["parse".to_owned(), line.to_owned(), reason]);
    assert_eq!(
        rows(
            &env,
            "SELECT stage, line_number, reason FROM otc_rejects ORDER BY line_number"
        ),
        expected
    );
    assert_eq!(
        rows(&env, "SELECT symbol, mpid FROM otc_raw ORDER BY line_number"),
        [["GOOD", "VENA"], ["FIRST", "VENA"], ["LAST", "VENA"]]
    );

    // The window moves with SPINE_TODAY: a day earlier, the last day is out.
    let file = write_file(&env, "last-day.psv", &[&line("LAST", "VENB", "2027-01-15")]);
    let (code, ingest) = run_on(
        &env,
        "2026-01-14",
        "otc.ingest",
        &[format!("file_path={file}"), week],
    );
    assert_eq!(code, 0, "{ingest}");
    assert_eq!(ingest_counts(&ingest), [1, 0, 0, 1], "{ingest}");
    let reason = format!(
        "SELECT COUNT(*) FROM otc_rejects WHERE source_file = '{file}' AND line_number = 2
         AND reason LIKE '%to 2027-01-14 (a year after today), found \"2027-01-15\"'"
    );
    assert_eq!(env.count(&reason), 1);
}

#[test]
fn a_row_beyond_the_bounds_is_rejected_and_every_week_is_summarized() {
    // Issue 11's reproduction: 2^63 - 1 shares beside a normal row of the
    // same symbol blocked every week's summary.
    let env = TestEnv::with_plugins(&["spine_otc"]);
    let file = write_file(
        &env,
        "absurd.psv",
        &[
            "NMS Tier 1|AAPL|Apple Inc.|VENUE A|VENA|9223372036854775807|1|2025-12-29",
            "NMS Tier 1|AAPL|Apple Inc.|VENUE B|VENB|1000|10|2025-12-29",
            "NMS Tier 1|MSFT|Microsoft|VENUE B|VENB|500|5|2025-12-29",
            "NMS Tier 1|MSFT|Microsoft|VENUE C|VENC|5|2000000000000|2025-12-29",
            "OTC|ABCD|Abcd Corp|VENUE A|VENA|300|3|2025-12-15",
        ],
    );
    assert_eq!(run(&env, "otc.ingest", &[format!("file_path={file}")]).0, 0);
    let (code, normalize) = run(&env, "otc.normalize", &[]);
    assert_eq!(code, 0, "{normalize}");
    assert_eq!(normalize["metrics"]["rejected"], 2, "{normalize}");
    assert_eq!(
        rows(&env, "SELECT line_number, reason FROM otc_rejects ORDER BY line_number"),
        [
            [
                "2",
                "field totalWeeklyShareQuantity: expected at most 100000000000000 shares, found 9223372036854775807"
            ],
            [
                "5",
                "field totalWeeklyTradeCount: expected at most 1000000000000 trades, found 2000000000000"
            ]
        ]
    );
    let (code, summarize) = run(&env, "otc.summarize", &[]);
    assert_eq!(code, 0, "{summarize}");
    assert_eq!(summarize["metrics"]["weeks"], 2, "{summarize}");
    assert_eq!(summarize["metrics"]["failed_weeks"], serde_json::json!([]));
    assert_eq!(
        rows(
            &env,
            "SELECT week_ending, symbol, total_volume, venue_count FROM otc_symbol_summary ORDER BY week_ending, symbol"
        ),
        [
            ["2025-11-14", "ABCD", "300", "1"],
            ["2025-12-12", "AAPL", "1000", "1"],
            ["2025-12-12", "MSFT", "500", "1"]
        ]
    );
}

#[test]
fn a_week_whose_totals_pass_63_bits_fails_alone_and_the_others_are_summarized() {
    // 92,234 rows at the bound of 10^14 shares put one venue at
    // 9,223,400,000,000,000,000 shares, past 2^63 - 1: the sum is exact, but no
    // integer column holds it.
    let env = TestEnv::with_plugins(&["spine_otc"]);
    let mut lines: Vec<String> = (0..92_234)
        .map(|symbol| format!("OTC|S{symbol:05}|Issue|BIG ATS|BIGA|100000000000000|1|2025-12-15"))
        .collect();
    lines.push("NMS Tier 1|AAPL|Apple Inc.|VENUE A|VENA|600|6|2025-12-29".to_owned());
    lines.push("NMS Tier 1|AAPL|Apple Inc.|VENUE B|VENB|200|4|2025-12-29".to_owned());
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    let file = write_file(&env, "two-weeks.psv", &lines);
    assert_eq!(run(&env, "otc.ingest", &[format!("file_path={file}")]).0, 0);
    assert_eq!(run(&env, "otc.normalize", &[]).0, 0);

    let output = env
        .cmd()
        .args(["run", "otc.summarize", "--json"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let summarize: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let reason = "the share volume of venue BIGA in tier ALL is 9223400000000000000, \
                  beyond the 2^63 - 1 an integer column holds";
    assert_eq!(summarize["metrics"]["weeks"], 1, "{summarize}");
    assert_eq!(
        summarize["metrics"]["failed_weeks"],
        serde_json::json!([{"week": "2025-11-14", "reason": reason}])
    );
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(
        log.contains(&format!("week 2025-11-14 is not summarized: {reason}")),
        "{log}"
    );
    // The bad week has no summary row, half written or stale, and stays queued.
    assert_eq!(
        rows(&env, "SELECT DISTINCT week_ending FROM otc_symbol_summary UNION SELECT DISTINCT week_ending FROM otc_venue_share"),
        [["2025-12-12"]]
    );
    assert_eq!(
        rows(&env, "SELECT week_ending FROM otc_changed_weeks"),
        [["2025-11-14"]]
    );
    assert_eq!(
        rows(
            &env,
            "SELECT mpid, total_volume, market_share_pct FROM otc_venue_share WHERE tier = 'ALL' ORDER BY rank"
        ),
        [["VENA", "600", "75.00"], ["VENB", "200", "25.00"]]
    );
}

#[test]
fn readers_filtering_on_week_and_tier_are_served_by_an_index() {
    // What users and other pipelines ask of the public tables: a week, a
    // tier, as text. Each must find its rows through a key, not a scan of
    // a table that holds the whole history.
    let env = TestEnv::with_plugins(&["spine_otc"]);
    env.cmd().args(["db", "init"]).assert().success();
    let conn = env.conn();
    let week = "week_ending = '2025-11-28'";
    let tier = "tier = 'NMS Tier 1'";
    for (table, via) in [
        ("otc_raw", "otc_raw_lines_key"),
        ("otc_venue_volume", "PRIMARY KEY"),
        ("otc_symbol_summary", "PRIMARY KEY"),
        ("otc_venue_share", "PRIMARY KEY"),
        ("otc_symbol_offexchange", "PRIMARY KEY"),
    ] {
        let sql = format!("EXPLAIN QUERY PLAN SELECT * FROM {table} WHERE {week} AND {tier}");
        let plan: Vec<String> = conn
            .prepare(&sql)
            .and_then(|mut stmt| stmt.query_map([], |row| row.get::<_, String>(3))?.collect())
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        let first = plan.first().map(String::as_str).unwrap_or_default();
        assert!(
            first.starts_with("SEARCH") && first.contains(via) && first.contains("week_ending=?"),
            "{table}: {plan:?}"
        );
    }
}
