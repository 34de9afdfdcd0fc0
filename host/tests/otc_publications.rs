//! Publications, through the real binary and the real `libspine_otc.so`: a
//! duplicate is the same record hash published on the same lastUpdateDate;
//! the latest publication of a row wins whatever order the files are loaded
//! in; two rows of one key published the same day are settled by content and
//! the loser noted; and ingest's counts match what is stored, line by line.

mod common;
mod otc_support;

use common::TestEnv;
use otc_support::{rows, run, run_ok, write_file};

const WEEK: &str = "week_ending=2025-11-14";

/// Four publications of the rows of ABCD on venues VENA and VENB (OTC tier,
/// week 2025-11-14). The record hashes, of `2025-11-14|OTC|ABCD|venue|shares|trades`:
/// - VENA 100/10: c655ad5b…, in A (2025-12-15) and again in C (2025-12-29)
/// - VENA 200/20: 6634b656… (B, 2025-12-22); VENA 250/25: fd00cd3f… (D, 2025-12-22)
/// - VENB 50/5: 5348251c… (A); VENB 60/6: 7c69e584… (B); VENB 70/7: 0f10108f… (D)
const PUBLICATIONS: [(&str, &[&str]); 4] = [
    (
        "a.psv",
        &[
            "OTC|ABCD|Abcd Corp|VENUE A|VENA|100|10|2025-12-15",
            "OTC|ABCD|Abcd Corp|VENUE B|VENB|50|5|2025-12-15",
        ],
    ),
    (
        "b.psv",
        &[
            "OTC|ABCD|Abcd Corp|VENUE A|VENA|200|20|2025-12-22",
            "OTC|ABCD|Abcd Corp|VENUE B|VENB|60|6|2025-12-22",
        ],
    ),
    ("c.psv", &["OTC|ABCD|Abcd Corp|VENUE A|VENA|100|10|2025-12-29"]),
    (
        "d.psv",
        &[
            "OTC|ABCD|Abcd Corp|VENUE A|VENA|250|25|2025-12-22",
            "OTC|ABCD|Abcd Corp|VENUE B|VENB|70|7|2025-12-22",
        ],
    ),
];

/// Every order of `items`.
fn permutations(items: &[usize]) -> Vec<Vec<usize>> {
    if items.len() <= 1 {
        return vec![items.to_vec()];
    }
    let mut all = Vec::new();
    for (index, &first) in items.iter().enumerate() {
        let mut rest = items.to_vec();
        rest.remove(index);
        for mut tail in permutations(&rest) {
            tail.insert(0, first);
            all.push(tail);
        }
    }
    all
}

/// What the OTC tables hold after loading `order` of [`PUBLICATIONS`],
/// normalizing after each load or once at the end, then summarizing: every
/// column that does not name a run, a time or a row id.
fn load_in_order(order: &[usize], normalize_each: bool) -> Vec<Vec<String>> {
    let env = TestEnv::with_plugins(&["spine_otc"]);
    for &index in order {
        let (name, lines) = PUBLICATIONS[index];
        let file = write_file(&env, name, lines);
        run_ok(&env, "otc.ingest", &[format!("file_path={file}"), WEEK.into()]);
        if normalize_each {
            run_ok(&env, "otc.normalize", &[]);
        }
    }
    run_ok(&env, "otc.normalize", &[]);
    run_ok(&env, "otc.summarize", &[]);
    let mut tables = Vec::new();
    for sql in [
        "SELECT 'volume', week_ending, tier, symbol, mpid, share_volume, trade_count, avg_trade_size, \
             record_hash, last_update_date FROM otc_venue_volume ORDER BY mpid",
        "SELECT 'symbol', week_ending, tier, symbol, total_volume, total_trades, venue_count, avg_trade_size \
         FROM otc_symbol_summary ORDER BY tier",
        "SELECT 'share', week_ending, tier, mpid, total_volume, total_trades, symbol_count, market_share_pct, \
             rank FROM otc_venue_share ORDER BY tier, rank",
        // The file's name without the test's folder.
        "SELECT 'reject', stage, substr(source_file, -5), line_number, raw_line, reason FROM otc_rejects \
         ORDER BY source_file, line_number",
        "SELECT 'raw', record_hash, last_update_date, mpid, share_volume, trade_count, substr(source_file, -5), \
             line_number FROM otc_raw ORDER BY record_hash, last_update_date",
    ] {
        tables.extend(rows(&env, sql));
    }
    tables
}

/// The tables of every order of `publications`, both ways of normalizing;
/// each must equal the first, which is returned.
fn same_tables_in_every_order(publications: &[usize]) -> Vec<Vec<String>> {
    let orders = permutations(publications);
    // Two orders at a time: each runs the binary a dozen times.
    let results: Vec<(String, Vec<Vec<String>>)> = std::thread::scope(|scope| {
        let runs: Vec<_> = orders
            .chunks(orders.len().div_ceil(2))
            .map(|half| {
                scope.spawn(move || {
                    let mut results = Vec::new();
                    for order in half {
                        for normalize_each in [true, false] {
                            let label =
                                format!("order {order:?}, normalize after each load: {normalize_each}");
                            results.push((label, load_in_order(order, normalize_each)));
                        }
                    }
                    results
                })
            })
            .collect();
        runs.into_iter().flat_map(|run| run.join().unwrap()).collect()
    });
    let (first_label, first) = &results[0];
    for (label, tables) in &results[1..] {
        assert_eq!(tables, first, "{label} differs from {first_label}");
    }
    first.clone()
}

/// The venue volume every order ends with, in three publications or four:
/// VENA from C (2025-12-29), VENB from B (2025-12-22).
fn expected_volume() -> [[&'static str; 9]; 2] {
    [
        [
            "2025-11-14",
            "OTC",
            "ABCD",
            "VENA",
            "100",
            "10",
            "10.00",
            "c655ad5b4e31e0539e1b65954077c6a1",
            "2025-12-29",
        ],
        [
            "2025-11-14",
            "OTC",
            "ABCD",
            "VENB",
            "60",
            "6",
            "10.00",
            "7c69e584caa9c143abbdac3cb3c1707f",
            "2025-12-22",
        ],
    ]
}

/// The summaries both properties end with: ABCD holds VENA's 100 shares in
/// 10 trades and VENB's 60 in 6, 160 in 16 in all, 10.00 a trade; VENA has
/// 100/160 = 62.50% of the tier and VENB 37.50%.
fn expected_summaries() -> Vec<Vec<String>> {
    let table: [&[&str]; 5] = [
        &["symbol", "2025-11-14", "OTC", "ABCD", "160", "16", "2", "10.00"],
        &[
            "share",
            "2025-11-14",
            "ALL",
            "VENA",
            "100",
            "10",
            "1",
            "62.50",
            "1",
        ],
        &["share", "2025-11-14", "ALL", "VENB", "60", "6", "1", "37.50", "2"],
        &[
            "share",
            "2025-11-14",
            "OTC",
            "VENA",
            "100",
            "10",
            "1",
            "62.50",
            "1",
        ],
        &["share", "2025-11-14", "OTC", "VENB", "60", "6", "1", "37.50", "2"],
    ];
    table
        .iter()
        .map(|row| row.iter().map(|value| value.to_string()).collect())
        .collect()
}

fn rows_of(tables: &[Vec<String>], kind: &str) -> Vec<Vec<String>> {
    tables
        .iter()
        .filter(|row| row[0] == kind)
        .map(|row| row[1..].to_vec())
        .collect()
}

#[test]
fn three_publications_of_a_row_give_the_latest_in_every_load_order() {
    let tables = same_tables_in_every_order(&[0, 1, 2]);
    // VENA: C (2025-12-29) put back A's 100 shares, and is stored although A
    // had the same content: a later publication is not a duplicate.
    // VENB: B (2025-12-22), its latest.
    assert_eq!(rows_of(&tables, "volume"), expected_volume());
    assert_eq!(rows_of(&tables, "raw").len(), 5);
    assert!(rows_of(&tables, "reject").is_empty());
    let summaries: Vec<_> = tables
        .iter()
        .filter(|row| row[0] == "symbol" || row[0] == "share")
        .cloned()
        .collect();
    assert_eq!(summaries, expected_summaries());
}

#[test]
fn four_publications_with_same_day_conflicts_give_one_result_in_every_load_order() {
    let tables = same_tables_in_every_order(&[0, 1, 2, 3]);
    // VENA: C (2025-12-29) wins; on 2025-12-22 D's hash fd00… beats B's
    // 6634…, so B's row is the loser of that day, though C supersedes both.
    // VENB: on its latest day, 2025-12-22, B's hash 7c69… beats D's 0f10….
    assert_eq!(rows_of(&tables, "volume"), expected_volume());
    let reason = "superseded by a conflicting row published the same day";
    assert_eq!(
        rows_of(&tables, "reject"),
        [
            [
                "normalize",
                "b.psv",
                "2",
                "OTC|ABCD|Abcd Corp|VENUE A|VENA|200|20|2025-12-22",
                reason
            ],
            [
                "normalize",
                "d.psv",
                "3",
                "OTC|ABCD|Abcd Corp|VENUE B|VENB|70|7|2025-12-22",
                reason
            ]
        ]
    );
    assert_eq!(rows_of(&tables, "raw").len(), 7);
    let summaries: Vec<_> = tables
        .iter()
        .filter(|row| row[0] == "symbol" || row[0] == "share")
        .cloned()
        .collect();
    assert_eq!(summaries, expected_summaries());
}

#[test]
fn ingest_counts_each_line_where_it_happens_and_the_counts_match_what_is_stored() {
    let env = TestEnv::with_plugins(&["spine_otc"]);
    let first = write_file(
        &env,
        "first.psv",
        &[
            "OTC|ABCD|Abcd Corp|VENUE A|VENA|100|10|2025-12-15",
            "OTC|ABCD|Abcd Corp|VENUE B|VENB|50|5|2025-12-15",
        ],
    );
    run_ok(&env, "otc.ingest", &[format!("file_path={first}"), WEEK.into()]);
    let second_lines = [
        "OTC|ABCD|Abcd Corp|VENUE A|VENA|100|10|2025-12-15", // 2: duplicate (first.psv, same day)
        "OTC|ABCD|Abcd Corp|VENUE B|VENB|50|5|2025-12-15",   // 3: duplicate
        "OTC|ABCD|Abcd Corp|VENUE A|VENA|100|10|2025-12-22", // 4: stored: same content, a later publication
        "OTC|ABCD|Abcd Corp|VENUE D|VEND|5|1|2025-12-15",    // 5: stored: new
        "OTC|ABCD|Abcd Corp|VENUE D|VEND|5|1|2025-12-15",    // 6: duplicate of line 5
        "BAD|ROW",                                           // 7: rejected
        "OTC|ABCD|Abcd Corp|VENUE E|VENE|1,2O0|1|2025-12-15", // 8: rejected
    ];
    let second = write_file(&env, "second.psv", &second_lines);
    let (code, ingest) = run(&env, "otc.ingest", &[format!("file_path={second}"), WEEK.into()]);
    assert_eq!(code, 0, "{ingest}");
    let id = ingest["id"].as_str().unwrap();
    let m = &ingest["metrics"];
    let metric = |name: &str| m[name].as_i64().unwrap();

    // Counted from the outside: the file's lines, the rows this run stored,
    // the rejects it wrote.
    let data_lines = std::fs::read_to_string(&second).unwrap().lines().count() as i64 - 1;
    let stored = rows(
        &env,
        &format!("SELECT line_number FROM otc_raw WHERE batch_id = '{id}' ORDER BY line_number"),
    );
    let rejected = rows(
        &env,
        &format!("SELECT line_number FROM otc_rejects WHERE execution_id = '{id}' ORDER BY line_number"),
    );
    assert_eq!(stored, [["4"], ["5"]]);
    assert_eq!(rejected, [["7"], ["8"]]);
    assert_eq!(metric("records"), data_lines);
    assert_eq!(metric("inserted"), stored.len() as i64);
    assert_eq!(metric("rejected"), rejected.len() as i64);
    assert_eq!(metric("duplicates"), 3, "lines 2, 3 and 6: {m}");
    assert_eq!(
        metric("records"),
        metric("inserted") + metric("duplicates") + metric("rejected")
    );
}

/// An ingest's (records, inserted, duplicates, rejected, files_known).
fn ingest_file(env: &TestEnv, params: &[String]) -> [i64; 5] {
    let metrics = run_ok(env, "otc.ingest", params);
    ["records", "inserted", "duplicates", "rejected", "files_known"].map(|name| {
        metrics[name]
            .as_i64()
            .unwrap_or_else(|| panic!("{name}: {metrics}"))
    })
}

#[test]
fn a_file_loaded_whole_is_recognised_by_its_bytes_and_any_difference_is_read_line_by_line() {
    let env = TestEnv::with_plugins(&["spine_otc"]);
    let lines = [
        "OTC|ABCD|Abcd Corp|VENUE A|VENA|100|10|2025-12-15",
        "OTC|ABCD|Abcd Corp|VENUE B|VENB|50|5|2025-12-15",
        "OTC|WXYZ|Wxyz Inc|VENUE A|VENA|7|1|2025-12-15",
    ];
    let path = |file: &str| format!("file_path={file}");
    let a = write_file(&env, "a.psv", &lines);
    assert_eq!(ingest_file(&env, &[path(&a)]), [3, 3, 0, 0, 0]);
    // The same bytes, under its name or another: every line is stored, and
    // the file is not read line by line.
    assert_eq!(ingest_file(&env, &[path(&a)]), [3, 0, 3, 0, 1]);
    let copy = write_file(&env, "copy.psv", &lines);
    assert_eq!(ingest_file(&env, &[path(&copy)]), [3, 0, 3, 0, 1]);
    // With a week given (the one the lines infer), it is read line by line.
    assert_eq!(ingest_file(&env, &[path(&a), WEEK.into()]), [3, 0, 3, 0, 0]);
    // A republication with one line changed: that line is new.
    let changed = write_file(
        &env,
        "changed.psv",
        &[
            lines[0],
            "OTC|ABCD|Abcd Corp|VENUE B|VENB|55|5|2025-12-15",
            lines[2],
        ],
    );
    assert_eq!(ingest_file(&env, &[path(&changed)]), [3, 1, 2, 0, 0]);
    // A row deleted by hand since: the file is read line by line, and the
    // line stored again.
    env.conn()
        .execute("DELETE FROM otc_raw_lines WHERE symbol = 'WXYZ'", [])
        .unwrap();
    assert_eq!(ingest_file(&env, &[path(&a)]), [3, 1, 2, 0, 0]);
    // A file with a rejected line is read line by line every time, and its
    // reject written again.
    let bad = write_file(
        &env,
        "bad.psv",
        &["OTC|EFGH|Efgh Co|VENUE C|VENC|9|1|2025-12-15", "BAD|ROW"],
    );
    assert_eq!(ingest_file(&env, &[path(&bad)]), [2, 1, 0, 1, 0]);
    assert_eq!(ingest_file(&env, &[path(&bad)]), [2, 0, 1, 1, 0]);
    assert_eq!(
        rows(&env, "SELECT count(*) FROM otc_rejects WHERE line_number = 3"),
        [["2"]]
    );
}

#[test]
fn lines_in_any_order_within_a_file_give_the_same_tables() {
    // FINRA's order (week, tier, symbol), and the same lines with the tiers
    // interleaved: ingest notes which is which, and normalize reads the
    // second in the key's order. The tables are the same.
    let ordered = [
        "NMS Tier 1|AAPL|Apple Inc.|VENB ATS|VENB|500|5|2025-12-22",
        "NMS Tier 1|AAPL|Apple Inc.|VENA ATS|VENA|1000|10|2025-12-22",
        "NMS Tier 1|MSFT|Microsoft|VENA ATS|VENA|800|8|2025-12-22",
        "NMS Tier 2|AAOI|Applied Opto|VENA ATS|VENA|70|7|2026-01-05",
        "NMS Tier 2|ZZZZ|Zzz Corp|Firm Z||30|3|2026-01-05",
        "OTC|ABCD|Abcd Corp|VENB ATS|VENB|9|1|2026-01-05",
    ];
    let interleaved = [
        ordered[0], ordered[3], ordered[5], ordered[1], ordered[4], ordered[2],
    ];
    let mut tables = Vec::new();
    for (lines, in_key_order) in [(&ordered, "1"), (&interleaved, "0")] {
        let env = TestEnv::with_plugins(&["spine_otc"]);
        let file = write_file(&env, "week.psv", lines);
        run_ok(&env, "otc.ingest", &[format!("file_path={file}")]);
        assert_eq!(
            rows(&env, "SELECT in_key_order FROM otc_raw_files"),
            [[in_key_order]]
        );
        let normalize = run_ok(&env, "otc.normalize", &[]);
        assert_eq!(normalize["accepted"], 6, "{normalize}");
        tables.push(rows(
            &env,
            "SELECT week_ending, tier, symbol, venue_type, venue, share_volume, trade_count, avg_trade_size,
                    record_hash, last_update_date FROM otc_venue_volume ORDER BY 1, 2, 3, 4, 5",
        ));
    }
    assert_eq!(tables[0].len(), 6);
    assert_eq!(tables[0], tables[1]);
}
