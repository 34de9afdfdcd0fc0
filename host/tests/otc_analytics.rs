//! `otc.analytics` and `otc.coverage` through the real binary and the real
//! `libspine_otc.so`, against figures worked by hand below: concentration
//! with De Minimis Firms bounding the index both ways, the index change split
//! into common venues and entry/exit, venue movers, robust z-scores over six
//! prior loaded weeks (a week whose tier is missing is not a zero week),
//! coverage gaps under FINRA's schedule, strict mode, idempotence, and a late
//! republication recomputing its week and the six loaded weeks after it.

mod common;
mod otc_support;

use common::{stderr_of, TestEnv};
use otc_support::{rows, run, run_ok, write_file};

/// Nine Fridays: W1 … W9.
const WEEKS: [&str; 9] = [
    "2025-09-05",
    "2025-09-12",
    "2025-09-19",
    "2025-09-26",
    "2025-10-03",
    "2025-10-10",
    "2025-10-17",
    "2025-10-24",
    "2025-10-31",
];

/// FINRA's first publication of a week (a Friday): NMS Tier 1 on the Monday
/// 21 days after the week's Monday (Friday + 17), the other tiers 35 days
/// after (Friday + 31).
fn published(week: &str, tier: &str) -> String {
    let friday = chrono::NaiveDate::parse_from_str(week, "%Y-%m-%d").unwrap();
    let days = if tier == "NMS Tier 1" { 17 } else { 31 };
    (friday + chrono::Days::new(days)).to_string()
}

/// A line: tier, symbol, participant, MPID, shares.
type Line<'a> = (&'a str, &'a str, &'a str, &'a str, i64);

/// Ingests `lines` of one week, each published on the tier's
/// first-publication day.
fn ingest(env: &TestEnv, week: &str, name: &str, lines: &[Line<'_>]) {
    let lines: Vec<String> = lines
        .iter()
        .map(|(tier, symbol, participant, mpid, shares)| {
            format!(
                "{tier}|{symbol}|{symbol} Inc.|{participant}|{mpid}|{shares}|{}|{}",
                shares.max(&1),
                published(week, tier)
            )
        })
        .collect();
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    let file = write_file(env, &format!("{week}-{name}.psv"), &lines);
    run_ok(
        env,
        "otc.ingest",
        &[format!("file_path={file}"), format!("week_ending={week}")],
    );
}

const T1: &str = "NMS Tier 1";
const T2: &str = "NMS Tier 2";

/// The data set worked by hand:
/// - NMS Tier 1 ATS, every week: AAPL on V1, 1,000 shares; except W7 (AAPL
///   V1 500, V3 500) and W8 (AAPL V1 600, V2 300; MSFT V1 100).
/// - NMS Tier 2 ATS, every week but W4 (the missing tier) and W9: on V9,
///   FILL 150,000 shares; MOVR 100k, 200k, (none in W3), 400k, 500k, 600k in
///   W1, W2, W5, W6, W7, then 1,000,000 in W8; TINY 1, 2, 3, 4, 5, 6, then 50.
/// - Non-ATS, W8 only: NMS Tier 1 AAPL Citadel 500, Virtu 200, De Minimis
///   Firms 300; DUAL in two tiers: NMS Tier 2 Citadel 100, Virtu 200, and OTC
///   Citadel 100.
fn load_weeks(env: &TestEnv) {
    let (citadel, virtu) = ("Citadel Securities LLC", "Virtu Americas LLC");
    for (index, week) in WEEKS.iter().enumerate() {
        let number = index + 1;
        let tier1: Vec<Line<'_>> = match number {
            7 => vec![
                (T1, "AAPL", "UBS ATS", "V1", 500),
                (T1, "AAPL", "V3 ATS", "V3", 500),
            ],
            8 => vec![
                (T1, "AAPL", "UBS ATS", "V1", 600),
                (T1, "AAPL", "V2 ATS", "V2", 300),
                (T1, "MSFT", "UBS ATS", "V1", 100),
            ],
            _ => vec![(T1, "AAPL", "UBS ATS", "V1", 1000)],
        };
        ingest(env, week, "t1-ats", &tier1);
        if number == 4 || number == 9 {
            continue;
        }
        let movr = [100_000, 200_000, 0, 0, 400_000, 500_000, 600_000, 1_000_000][index];
        let mut tier2 = vec![
            (T2, "FILL", "V9 ATS", "V9", 150_000),
            (T2, "TINY", "V9 ATS", "V9", [1, 2, 3, 0, 4, 5, 6, 50][index]),
        ];
        if movr > 0 {
            tier2.push((T2, "MOVR", "V9 ATS", "V9", movr));
        }
        ingest(env, week, "t2-ats", &tier2);
    }
    ingest(
        env,
        WEEKS[7],
        "non-ats",
        &[
            (T1, "AAPL", citadel, "", 500),
            (T1, "AAPL", virtu, "", 200),
            (T1, "AAPL", "De Minimis Firms", "", 300),
            (T2, "DUAL", citadel, "", 100),
            (T2, "DUAL", virtu, "", 200),
            ("OTC", "DUAL", citadel, "", 100),
        ],
    );
    run_ok(env, "otc.normalize", &[]);
    run_ok(env, "otc.summarize", &[]);
}

fn concentration(env: &TestEnv, week: &str) -> Vec<String> {
    rows(
        env,
        &format!(
            "SELECT tier, venue_type, total_volume, venues, hhi_low, hhi_high, effective_venues, top1_pct,
                    top3_pct, top5_pct, aggregate_pct, prev_week_ending, hhi_change, hhi_change_common,
                    hhi_change_entry_exit
             FROM otc_concentration WHERE week_ending = '{week}' ORDER BY tier, venue_type"
        ),
    )
    .into_iter()
    .map(|row| row.join(" "))
    .collect()
}

fn venue_movers(env: &TestEnv, week: &str) -> Vec<String> {
    rows(
        env,
        &format!(
            "SELECT tier, venue_type, venue, volume, share_pct, prev_week_ending, prev_volume, prev_share_pct,
                    change_pp, status
             FROM otc_venue_movers WHERE week_ending = '{week}' AND tier <> 'ALL' ORDER BY tier, venue_type, venue"
        ),
    )
    .into_iter()
    .map(|row| row.join(" "))
    .collect()
}

fn symbol_movers(env: &TestEnv, week: &str) -> Vec<String> {
    rows(
        env,
        &format!(
            "SELECT venue_type, symbol, volume, prior_weeks, median, mad, robust_z, status
             FROM otc_symbol_movers WHERE week_ending = '{week}' ORDER BY venue_type, symbol"
        ),
    )
    .into_iter()
    .map(|row| row.join(" "))
    .collect()
}

/// Every analytics row, without the time it was computed.
fn all_analytics(env: &TestEnv) -> Vec<Vec<String>> {
    let mut all = Vec::new();
    for (table, key) in [
        ("otc_concentration", "week_ending, tier, venue_type"),
        (
            "otc_symbol_concentration",
            "week_ending, tier, venue_type, symbol",
        ),
        ("otc_venue_movers", "week_ending, tier, venue_type, venue"),
        ("otc_symbol_movers", "week_ending, venue_type, symbol"),
    ] {
        let columns: Vec<String> = rows(env, &format!("SELECT name FROM pragma_table_info('{table}')"))
            .into_iter()
            .map(|row| row[0].clone())
            .filter(|name| name != "computed_at")
            .collect();
        all.extend(rows(
            env,
            &format!(
                "SELECT '{table}', {} FROM {table} ORDER BY {key}",
                columns.join(", ")
            ),
        ));
    }
    all
}

#[test]
fn concentration_and_movers_match_the_figures_worked_by_hand() {
    let env = TestEnv::with_plugins(&["spine_otc"]);
    load_weeks(&env);
    let metrics = run_ok(&env, "otc.analytics", &[]);
    assert_eq!(metrics["weeks"], 9, "{metrics}");
    assert_eq!(metrics["failed_weeks"], serde_json::json!([]));

    // W8, NMS Tier 1 ATS: V1 700, V2 300 of 1,000: 70² + 30² = 5,800 both
    // ways (no aggregate); 10,000 / 5,800 = 1.724… Against W7 (V1 500, V3
    // 500: 5,000): +800 = common V1 (4,900 − 2,500 = 2,400) + V2 in (900)
    // − V3 out (2,500) = −1,600.
    // NMS Tier 1 NON_ATS: Citadel 50%, Virtu 20%, De Minimis Firms 30%:
    // low 2,500 + 400 = 2,900; high 2,900 + 900 = 3,800; 10,000 / 3,800 =
    // 2.631…; first non-ATS week: no change.
    // ALL NON_ATS (Tier 1 and DUAL's Tier 2 and OTC rows): Citadel 700,
    // Virtu 400, De Minimis 300 of 1,400: low 10,000 × 650,000 / 1,960,000 =
    // 3,316.326…; high 10,000 × 740,000 / 1,960,000 = 3,775.510…;
    // 1,960,000 / 740,000 = 2.648…; top 3 1,100 / 1,400 = 78.571…; De Minimis
    // 21.428….
    let week8 = concentration(&env, WEEKS[7]);
    assert!(week8.contains(&"NMS Tier 1 ATS 1000 2 5800.00 5800.00 1.72 70.00 100.00 100.00 0.00 2025-10-17 800.00 2400.00 -1600.00".to_owned()), "{week8:#?}");
    assert!(
        week8.contains(
            &"NMS Tier 1 NON_ATS 1000 2 2900.00 3800.00 2.63 50.00 70.00 70.00 30.00 NULL NULL NULL NULL"
                .to_owned()
        ),
        "{week8:#?}"
    );
    assert!(
        week8.contains(
            &"ALL NON_ATS 1400 2 3316.33 3775.51 2.65 50.00 78.57 78.57 21.43 NULL NULL NULL NULL".to_owned()
        ),
        "{week8:#?}"
    );
    // W7 against W6 (V1 alone: 10,000): V1 50% (2,500 − 10,000 = −7,500), V3 in (+2,500).
    let week7 = concentration(&env, WEEKS[6]);
    assert!(week7.contains(&"NMS Tier 1 ATS 1000 2 5000.00 5000.00 2.00 50.00 100.00 100.00 0.00 2025-10-10 -5000.00 -7500.00 2500.00".to_owned()), "{week7:#?}");

    let movers = venue_movers(&env, WEEKS[7]);
    let tier1: Vec<String> = movers
        .iter()
        .filter(|row| row.starts_with("NMS Tier 1"))
        .cloned()
        .collect();
    assert_eq!(
        tier1,
        [
            "NMS Tier 1 ATS V1 700 70.00 2025-10-17 500 50.00 20.00 same",
            "NMS Tier 1 ATS V2 300 30.00 2025-10-17 0 0.00 30.00 entered",
            "NMS Tier 1 ATS V3 0 0.00 2025-10-17 500 50.00 -50.00 left",
            "NMS Tier 1 NON_ATS Citadel Securities LLC 500 50.00 NULL NULL NULL NULL first",
            "NMS Tier 1 NON_ATS De Minimis Firms 300 30.00 NULL NULL NULL NULL first",
            "NMS Tier 1 NON_ATS Virtu Americas LLC 200 20.00 NULL NULL NULL NULL first",
        ],
        "{movers:#?}"
    );

    // Per symbol. AAPL ATS: V1 600, V2 300 of 900: 10,000 × 45 / 81 = 5,555.55…
    // DUAL across tiers: Citadel 200, Virtu 200 (a tie: the first by name);
    // in NMS Tier 2 Citadel 100, Virtu 200: 10,000 × 5 / 9.
    let symbols: Vec<String> = rows(
        &env,
        "SELECT tier, venue_type, symbol, total_volume, venues, hhi_low, hhi_high, top_venue, top_venue_pct,
                aggregate_pct
         FROM otc_symbol_concentration WHERE week_ending = '2025-10-24' AND symbol IN ('AAPL', 'DUAL')
         ORDER BY symbol, tier, venue_type",
    )
    .into_iter()
    .map(|row| row.join(" "))
    .collect();
    assert_eq!(
        symbols,
        [
            "ALL ATS AAPL 900 2 5555.56 5555.56 V1 66.67 0.00",
            "ALL NON_ATS AAPL 1000 2 2900.00 3800.00 Citadel Securities LLC 50.00 30.00",
            "NMS Tier 1 ATS AAPL 900 2 5555.56 5555.56 V1 66.67 0.00",
            "NMS Tier 1 NON_ATS AAPL 1000 2 2900.00 3800.00 Citadel Securities LLC 50.00 30.00",
            "ALL NON_ATS DUAL 400 2 5000.00 5000.00 Citadel Securities LLC 50.00 0.00",
            "NMS Tier 2 NON_ATS DUAL 300 2 5555.56 5555.56 Virtu Americas LLC 66.67 0.00",
            "OTC NON_ATS DUAL 100 1 10000.00 10000.00 Citadel Securities LLC 100.00 0.00",
        ]
    );

    // Symbol movers of W8. Tier 2 was not loaded in W4, so a Tier 2
    // symbol's six prior loaded weeks are W1, W2, W3, W5, W6, W7. MOVR:
    // 100k, 200k, 0 (no row in W3), 400k, 500k, 600k: median 300,000;
    // deviations 200k, 100k, 300k, 100k, 200k, 300k: MAD 200,000;
    // z = 700,000 / (1.4826 × 200,000) = 2.3607… (Counting W4 as a zero
    // week would give MAD 250,000 and z 1.89.) TINY: 1 … 6, median 3.5, MAD
    // 1.5, z = 46.5 / 2.2239 = 20.909…, but under the 100,000 floor. AAPL and
    // MSFT (Tier 1: W2 … W7) are under the floor too; FILL never moves.
    assert_eq!(
        symbol_movers(&env, WEEKS[7]),
        [
            "ATS AAPL 900 6 1000.00 0.00 NULL below_floor",
            "ATS FILL 150000 6 150000.00 0.00 NULL flat",
            "ATS MOVR 1000000 6 300000.00 200000.00 2.36 scored",
            "ATS MSFT 100 6 0.00 0.00 NULL below_floor",
            "ATS TINY 50 6 3.50 1.50 20.91 below_floor",
            "NON_ATS AAPL 1000 0 NULL NULL NULL new",
            "NON_ATS DUAL 400 0 NULL NULL NULL new",
        ]
    );
    // W5: FILL has three prior Tier 2 weeks (W4 missing): still new.
    assert_eq!(
        symbol_movers(&env, WEEKS[4])[1],
        "ATS FILL 150000 3 150000.00 0.00 NULL new"
    );
    // With no floor, TINY is scored.
    run_ok(
        &env,
        "otc.analytics",
        &[format!("week_ending={}", WEEKS[7]), "min_volume=0".to_owned()],
    );
    assert!(symbol_movers(&env, WEEKS[7]).contains(&"ATS TINY 50 6 3.50 1.50 20.91 scored".to_owned()));
}

#[test]
fn analytics_are_idempotent_and_a_late_republication_recomputes_its_week_and_the_six_after() {
    let env = TestEnv::with_plugins(&["spine_otc"]);
    load_weeks(&env);
    run_ok(&env, "otc.analytics", &[]);
    let first = all_analytics(&env);
    let computed_at = |week: &str| {
        rows(
            &env,
            &format!("SELECT DISTINCT computed_at FROM otc_concentration WHERE week_ending = '{week}'"),
        )
    };
    let w1_time = computed_at(WEEKS[0]);
    let w9_time = computed_at(WEEKS[8]);

    // Nothing changed: nothing to do; one week again: the same rows.
    let again = run_ok(&env, "otc.analytics", &[]);
    assert_eq!(again["weeks"], 0, "{again}");
    run_ok(&env, "otc.analytics", &[format!("week_ending={}", WEEKS[7])]);
    assert_eq!(all_analytics(&env), first);

    // FINRA republishes W2's Tier 2 data weeks later: MOVR 300,000, not 200,000.
    let republished = write_file(
        &env,
        "w2-republished.psv",
        &["NMS Tier 2|MOVR|MOVR Inc.|V9 ATS|V9|300000|300000|2025-12-01"],
    );
    run_ok(
        &env,
        "otc.ingest",
        &[
            format!("file_path={republished}"),
            format!("week_ending={}", WEEKS[1]),
        ],
    );
    run_ok(&env, "otc.normalize", &[]);
    run_ok(&env, "otc.summarize", &[]);
    let metrics = run_ok(&env, "otc.analytics", &[]);
    // W2 and the six loaded weeks after it: Tier 1's W3 … W8 (W9 is the
    // seventh), Tier 2's W3, W5 … W8.
    assert_eq!(metrics["weeks"], 7, "{metrics}");
    assert_eq!(computed_at(WEEKS[0]), w1_time);
    assert_eq!(computed_at(WEEKS[8]), w9_time);
    assert_ne!(computed_at(WEEKS[1]), w1_time);
    // MOVR's window: 100k, 300k, 0, 400k, 500k, 600k: median 350,000; MAD
    // 200,000 (deviations 250k, 50k, 350k, 50k, 150k, 250k); z = 650,000 /
    // 296,520 = 2.192…
    assert!(symbol_movers(&env, WEEKS[7])
        .contains(&"ATS MOVR 1000000 6 350000.00 200000.00 2.19 scored".to_owned()));
}

#[test]
fn coverage_finds_the_missing_tier_and_strict_mode_fails_naming_it() {
    let env = TestEnv::with_plugins(&["spine_otc"]);
    load_weeks(&env);
    // A revision of W8's Tier 1 ATS data, published a week after the first.
    let revision = write_file(
        &env,
        "w8-revised.psv",
        &["NMS Tier 1|MSFT|MSFT Inc.|UBS ATS|V1|100|100|2025-11-17"],
    );
    run_ok(
        &env,
        "otc.ingest",
        &[
            format!("file_path={revision}"),
            format!("week_ending={}", WEEKS[7]),
        ],
    );

    // On Monday 2025-11-10 (the Friday before: 11-07, W10), ATS: NMS Tier 1
    // is due 17 days after its Friday, NMS Tier 2 31 days after. Tier 2's W4
    // (due 10-27) is missing; W9 (due 11-17 / 12-01) and W10 are not due;
    // OTC was loaded as non-ATS only, so no OTC ATS week is expected.
    let metrics = run_ok(
        &env,
        "otc.coverage",
        &["types=ATS".to_owned(), "as_of=2025-11-10".to_owned()],
    );
    assert_eq!(
        (&metrics["loaded"], &metrics["missing"], &metrics["not_due"]),
        (
            &serde_json::json!(16),
            &serde_json::json!(1),
            &serde_json::json!(3)
        ),
        "{metrics}"
    );
    assert_eq!(
        metrics["missing_weeks"],
        serde_json::json!(["2025-09-26 NMS Tier 2 ATS"])
    );
    assert_eq!(
        metrics["expected"],
        serde_json::json!(["NMS Tier 1 ATS", "NMS Tier 2 ATS"])
    );
    let table: Vec<String> = rows(
        &env,
        "SELECT week_ending, tier, venue_type, status, due_date, last_update_date, revisions
         FROM otc_coverage WHERE week_ending >= '2025-09-26' AND week_ending <= '2025-10-03'
             OR week_ending >= '2025-10-24' ORDER BY week_ending, tier",
    )
    .into_iter()
    .map(|row| row.join(" "))
    .collect();
    assert_eq!(
        table,
        [
            "2025-09-26 NMS Tier 1 ATS loaded 2025-10-13 2025-10-13 0",
            "2025-09-26 NMS Tier 2 ATS missing 2025-10-27 NULL 0",
            "2025-10-03 NMS Tier 1 ATS loaded 2025-10-20 2025-10-20 0",
            "2025-10-03 NMS Tier 2 ATS loaded 2025-11-03 2025-11-03 0",
            "2025-10-24 NMS Tier 1 ATS loaded 2025-11-10 2025-11-17 1",
            "2025-10-24 NMS Tier 2 ATS loaded 2025-11-24 2025-11-24 0",
            "2025-10-31 NMS Tier 1 ATS loaded 2025-11-17 2025-11-17 0",
            "2025-10-31 NMS Tier 2 ATS not_due 2025-12-01 NULL 0",
            "2025-11-07 NMS Tier 1 ATS not_due 2025-11-24 NULL 0",
            "2025-11-07 NMS Tier 2 ATS not_due 2025-12-08 NULL 0",
        ]
    );

    // Strict: exit 1, the missing week named.
    let (code, execution) = run(
        &env,
        "otc.coverage",
        &[
            "types=ATS".to_owned(),
            "as_of=2025-11-10".to_owned(),
            "strict=true".to_owned(),
        ],
    );
    assert_eq!(code, 1, "{execution}");
    let error = execution["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("1 due week(s) missing from 2025-09-05 to 2025-11-07: 2025-09-26 (NMS Tier 2 ATS)"),
        "{execution}"
    );
    // Narrowed to Tier 1, nothing is missing: strict passes.
    run_ok(
        &env,
        "otc.coverage",
        &[
            "tiers=T1".to_owned(),
            "types=ATS".to_owned(),
            "as_of=2025-11-10".to_owned(),
            "strict=true".to_owned(),
        ],
    );
}

#[test]
fn strict_coverage_of_an_empty_database_fails_saying_nothing_is_loaded() {
    let env = TestEnv::with_plugins(&["spine_otc"]);
    let output = env
        .cmd()
        .args([
            "run",
            "otc.coverage",
            "-p",
            "strict=true",
            "-p",
            "as_of=2025-11-10",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = stderr_of(&output);
    assert!(
        stderr.contains("nothing is loaded from 2025-11-07 to 2025-11-07 for any tier or venue type"),
        "{stderr}"
    );
}

#[test]
fn otc_load_with_analytics_leaves_them_as_the_stages_run_one_by_one_do() {
    let by_stage = TestEnv::with_plugins(&["spine_otc"]);
    load_weeks(&by_stage);
    run_ok(&by_stage, "otc.analytics", &[]);
    // The same files in one otc.load: each file's week is inferred from its
    // first-publication lastUpdateDate, the week it was ingested under above.
    let files = format!("file_path={}", by_stage.dir.path().display());
    let plain = TestEnv::with_plugins(&["spine_otc"]);
    let load = run_ok(&plain, "otc.load", std::slice::from_ref(&files));
    assert!(load.get("analytics").is_none(), "{load}");
    assert_eq!(rows(&plain, "SELECT count(*) FROM otc_concentration"), [["0"]]);
    assert_eq!(rows(&plain, "SELECT count(*) FROM otc_analytics_queue"), [["9"]]);
    let loaded = TestEnv::with_plugins(&["spine_otc"]);
    let load = run_ok(&loaded, "otc.load", &[files, "analytics=true".to_owned()]);
    assert_eq!(load["analytics"]["weeks"], 9, "{load}");
    assert_eq!(all_analytics(&loaded), all_analytics(&by_stage));
    assert_eq!(rows(&loaded, "SELECT count(*) FROM otc_analytics_queue"), [["0"]]);

    // The README's example queries run, each printing rows.
    run_ok(&loaded, "otc.coverage", &["as_of=2025-11-10".to_owned()]);
    let readme = std::fs::read_to_string(common::workspace_root().join("README.md")).unwrap();
    let block = readme
        .split("<!-- otc analytics queries")
        .nth(1)
        .and_then(|rest| rest.split("```sh\n").nth(1))
        .and_then(|rest| rest.split("```").next())
        .expect("README: the block of analytics queries");
    let queries: Vec<&str> = block
        .split("spine-host query \"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap())
        .collect();
    assert_eq!(queries.len(), 5, "{block}");
    for sql in queries {
        let output = loaded
            .cmd()
            .args(["query", sql, "--format", "csv"])
            .output()
            .unwrap();
        assert!(output.status.success(), "{sql}: {}", stderr_of(&output));
        let printed = String::from_utf8_lossy(&output.stdout).lines().count();
        assert!(printed > 1, "{sql}: no rows");
    }
}

/// A second data set worked by hand, non-ATS, NMS Tier 1, six weeks W1 … W6:
/// - W1: XYZ Citadel 300,000, Virtu 300,000 (a tie), De Minimis Firms 400,000;
/// - W2: XYZ Citadel 0, De Minimis Firms 0 (a week with no volume);
/// - W3: XYZ Citadel 50,000, Virtu 50,000, De Minimis Firms 900,000 (90%);
/// - W4: XYZ Citadel 100,000, De Minimis Firms 100,000;
/// - W5: only symbols never seen before: NEW1 Citadel 600,000, NEW2 Virtu 400,000;
/// - W6: XYZ Citadel 1,500,000.
fn load_non_ats_weeks(env: &TestEnv) {
    let (citadel, virtu, de_minimis) = ("Citadel Securities LLC", "Virtu Americas LLC", "De Minimis Firms");
    let weeks: [&[Line<'_>]; 6] = [
        &[
            (T1, "XYZ", citadel, "", 300_000),
            (T1, "XYZ", virtu, "", 300_000),
            (T1, "XYZ", de_minimis, "", 400_000),
        ],
        &[(T1, "XYZ", citadel, "", 0), (T1, "XYZ", de_minimis, "", 0)],
        &[
            (T1, "XYZ", citadel, "", 50_000),
            (T1, "XYZ", virtu, "", 50_000),
            (T1, "XYZ", de_minimis, "", 900_000),
        ],
        &[
            (T1, "XYZ", citadel, "", 100_000),
            (T1, "XYZ", de_minimis, "", 100_000),
        ],
        &[
            (T1, "NEW1", citadel, "", 600_000),
            (T1, "NEW2", virtu, "", 400_000),
        ],
        &[(T1, "XYZ", citadel, "", 1_500_000)],
    ];
    for (week, lines) in WEEKS.iter().zip(weeks) {
        ingest(env, week, "non-ats", lines);
    }
    run_ok(env, "otc.normalize", &[]);
    run_ok(env, "otc.summarize", &[]);
}

#[test]
fn non_ats_figures_with_a_large_aggregate_a_tie_a_week_without_volume_and_only_new_symbols_match_the_hand() {
    let env = TestEnv::with_plugins(&["spine_otc"]);
    load_non_ats_weeks(&env);
    run_ok(&env, "otc.analytics", &[]);

    let tier1: Vec<String> = WEEKS[..6]
        .iter()
        .flat_map(|week| concentration(&env, week))
        .filter(|row| row.starts_with("NMS Tier 1"))
        .collect();
    assert_eq!(
        tier1,
        [
            // W1: 30%, 30% and 40% aggregate: low 900 + 900; high 1,800 + 1,600;
            // 10,000 / 3,400 = 2.941…
            "NMS Tier 1 NON_ATS 1000000 2 1800.00 3400.00 2.94 30.00 60.00 60.00 40.00 NULL NULL NULL NULL",
            // W2: no volume, so no index, and no change of one (to or from it).
            "NMS Tier 1 NON_ATS 0 1 NULL NULL NULL 0.00 0.00 0.00 0.00 2025-09-05 NULL NULL NULL",
            // W3: 5%, 5%, 90% aggregate: low 25 + 25; high 50 + 8,100; 10,000 / 8,150 = 1.226…
            "NMS Tier 1 NON_ATS 1000000 2 50.00 8150.00 1.23 5.00 10.00 10.00 90.00 2025-09-12 NULL NULL NULL",
            // W4: 50%, 50% aggregate: 2,500 and 5,000. Against W3: 5,000 − 8,150 = −3,150;
            // common: Citadel 2,500 − 25, the aggregate 2,500 − 8,100 (−3,125); Virtu left (−25).
            "NMS Tier 1 NON_ATS 200000 1 2500.00 5000.00 2.00 50.00 50.00 50.00 50.00 2025-09-19 -3150.00 -3125.00 -25.00",
            // W5: 60%, 40%: 5,200; 10,000 / 5,200 = 1.923…; against W4: +200 = Citadel
            // 3,600 − 2,500 (1,100) + Virtu in (1,600) − the aggregate out (2,500).
            "NMS Tier 1 NON_ATS 1000000 2 5200.00 5200.00 1.92 60.00 100.00 100.00 0.00 2025-09-26 200.00 1100.00 -900.00",
            // W6: Citadel alone: 10,000; +4,800 = Citadel 10,000 − 3,600, Virtu out (−1,600).
            "NMS Tier 1 NON_ATS 1500000 1 10000.00 10000.00 1.00 100.00 100.00 100.00 0.00 2025-10-03 4800.00 6400.00 -1600.00",
        ]
    );

    // The tie for XYZ's top venue in W1 goes to the first by name.
    assert_eq!(
        rows(
            &env,
            "SELECT week_ending, tier, total_volume, venues, hhi_low, hhi_high, top_venue, top_venue_pct, aggregate_pct
             FROM otc_symbol_concentration WHERE symbol = 'XYZ' AND week_ending <= '2025-09-19'
             ORDER BY week_ending, tier"
        )
        .into_iter()
        .map(|row| row.join(" "))
        .collect::<Vec<_>>(),
        [
            "2025-09-05 ALL 1000000 2 1800.00 3400.00 Citadel Securities LLC 30.00 40.00",
            "2025-09-05 NMS Tier 1 1000000 2 1800.00 3400.00 Citadel Securities LLC 30.00 40.00",
            "2025-09-12 ALL 0 1 NULL NULL Citadel Securities LLC 0.00 0.00",
            "2025-09-12 NMS Tier 1 0 1 NULL NULL Citadel Securities LLC 0.00 0.00",
            "2025-09-19 ALL 1000000 2 50.00 8150.00 Citadel Securities LLC 5.00 90.00",
            "2025-09-19 NMS Tier 1 1000000 2 50.00 8150.00 Citadel Securities LLC 5.00 90.00",
        ]
    );

    // Venue movers into and out of the week without volume: shares of no volume are 0.
    assert_eq!(
        venue_movers(&env, WEEKS[1]),
        [
            "NMS Tier 1 NON_ATS Citadel Securities LLC 0 0.00 2025-09-05 300000 30.00 -30.00 same",
            "NMS Tier 1 NON_ATS De Minimis Firms 0 0.00 2025-09-05 400000 40.00 -40.00 same",
            "NMS Tier 1 NON_ATS Virtu Americas LLC 0 0.00 2025-09-05 300000 30.00 -30.00 left",
        ]
    );

    // W5: every symbol is new to the market, which has four prior loaded
    // weeks: each compares with four zero weeks (median 0, MAD 0): flat, not
    // new. W6: XYZ against W1 … W5: 1,000,000, 0 (its row of no volume),
    // 1,000,000, 200,000, 0 (no row): median 200,000; deviations 800k, 200k,
    // 800k, 0, 200k: MAD 200,000; z = 1,300,000 / 296,520 = 4.384…
    assert_eq!(
        symbol_movers(&env, WEEKS[4]),
        [
            "NON_ATS NEW1 600000 4 0.00 0.00 NULL flat",
            "NON_ATS NEW2 400000 4 0.00 0.00 NULL flat",
        ]
    );
    assert_eq!(
        symbol_movers(&env, WEEKS[5]),
        ["NON_ATS XYZ 1500000 5 200000.00 200000.00 4.38 scored"]
    );
    assert_eq!(
        symbol_movers(&env, WEEKS[3]),
        ["NON_ATS XYZ 200000 3 1000000.00 0.00 NULL new"]
    );
}

#[test]
fn one_week_recomputed_by_hand_leaves_the_weeks_that_compare_with_it_queued() {
    let env = TestEnv::with_plugins(&["spine_otc"]);
    load_weeks(&env);
    run_ok(&env, "otc.analytics", &[]);
    // W2 republished (MOVR 300,000), summarized, and its analytics
    // recomputed alone: the six loaded weeks after it still compare with
    // the old W2, so the next run without a week must recompute them.
    let republished = write_file(
        &env,
        "w2-republished.psv",
        &["NMS Tier 2|MOVR|MOVR Inc.|V9 ATS|V9|300000|300000|2025-12-01"],
    );
    run_ok(
        &env,
        "otc.ingest",
        &[
            format!("file_path={republished}"),
            format!("week_ending={}", WEEKS[1]),
        ],
    );
    run_ok(&env, "otc.normalize", &[]);
    run_ok(&env, "otc.summarize", &[]);
    run_ok(&env, "otc.analytics", &[format!("week_ending={}", WEEKS[1])]);
    let metrics = run_ok(&env, "otc.analytics", &[]);
    assert_eq!(metrics["weeks"], 7, "{metrics}");
    // MOVR in W8 against the new W2: median 350,000 (see the republication test).
    assert!(symbol_movers(&env, WEEKS[7])
        .contains(&"ATS MOVR 1000000 6 350000.00 200000.00 2.19 scored".to_owned()));
    let again = run_ok(&env, "otc.analytics", &[]);
    assert_eq!(again["weeks"], 0, "{again}");

    // A week with no summaries is not computed, and the run says so.
    let output = env
        .cmd()
        .args(["run", "otc.analytics", "-p", "week_ending=2024-11-15", "--json"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
    let execution: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(execution["metrics"]["weeks"], 0, "{execution}");
    assert!(
        stderr_of(&output).contains(
            "week 2024-11-15 has no summaries, so no analytics: load it, or run otc.summarize first"
        ),
        "{}",
        stderr_of(&output)
    );
}

#[test]
fn a_coverage_range_that_ends_before_it_begins_is_refused_naming_the_parameters() {
    let env = TestEnv::with_plugins(&["spine_otc"]);
    load_weeks(&env);
    // `to` defaults to the last Friday on or before as_of (2025-10-31).
    let output = env
        .cmd()
        .args([
            "run",
            "otc.coverage",
            "-p",
            "from=2025-12-12",
            "-p",
            "as_of=2025-11-01",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr_of(&output));
    let stderr = stderr_of(&output);
    assert!(
        stderr.contains(
            "from 2025-12-12 is after to 2025-10-31 (the last Friday on or before as_of 2025-11-01): \
             expected from on or before to"
        ),
        "{stderr}"
    );
    // Given both, `to` is named as given.
    let output = env
        .cmd()
        .args([
            "run",
            "otc.coverage",
            "-p",
            "from=2025-12-12",
            "-p",
            "to=2025-11-14",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr_of(&output).contains("from 2025-12-12 is after to 2025-11-14: expected from on or before to"),
        "{}",
        stderr_of(&output)
    );
    // An as_of before the first week loaded (2025-09-05), from left to its
    // default: the run fails saying so, strict or not, and writes nothing.
    for strict in ["false", "true"] {
        let (code, execution) = run(
            &env,
            "otc.coverage",
            &["as_of=2025-08-01".to_owned(), format!("strict={strict}")],
        );
        assert_eq!(code, 1, "{execution}");
        assert_eq!(
            execution["error"].as_str().unwrap_or_default(),
            "as_of 2025-08-01 is before the first week loaded, 2025-09-05: expected as_of on or after it, \
             or -p from and -p to"
        );
    }
    assert_eq!(rows(&env, "SELECT count(*) FROM otc_coverage"), [["0"]]);
}

#[test]
fn an_analytics_run_that_fails_half_way_leaves_nothing_and_the_next_run_does_it_all() {
    let clean = TestEnv::with_plugins(&["spine_otc"]);
    load_weeks(&clean);
    run_ok(&clean, "otc.analytics", &[]);

    let env = TestEnv::with_plugins(&["spine_otc"]);
    load_weeks(&env);
    // The test's own connection (outside the plugin's fence) makes the
    // fifth week's symbol movers fail, after four weeks are written in the
    // run's transaction.
    env.conn()
        .execute_batch(&format!(
            "CREATE TRIGGER test_fail_w5 BEFORE INSERT ON otc_symbol_movers
             WHEN NEW.week_ending = '{}' BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
            WEEKS[4]
        ))
        .unwrap();
    let (code, execution) = run(&env, "otc.analytics", &[]);
    assert_eq!(code, 1, "{execution}");
    assert_eq!(execution["status"], "failed", "{execution}");
    assert!(
        execution["error"]
            .as_str()
            .unwrap_or_default()
            .contains("injected failure"),
        "{execution}"
    );
    for table in [
        "otc_concentration",
        "otc_symbol_concentration",
        "otc_venue_movers",
        "otc_symbol_movers",
    ] {
        assert_eq!(
            rows(&env, &format!("SELECT count(*) FROM {table}")),
            [["0"]],
            "{table}"
        );
    }
    assert_eq!(rows(&env, "SELECT count(*) FROM otc_analytics_queue"), [["9"]]);

    env.conn().execute_batch("DROP TRIGGER test_fail_w5").unwrap();
    let metrics = run_ok(&env, "otc.analytics", &[]);
    assert_eq!(metrics["weeks"], 9, "{metrics}");
    assert_eq!(all_analytics(&env), all_analytics(&clean));
    assert_eq!(rows(&env, "SELECT count(*) FROM otc_analytics_queue"), [["0"]]);
}

#[test]
fn a_weeks_all_rows_compare_with_the_previous_week_of_the_same_tiers() {
    let env = TestEnv::with_plugins(&["spine_otc"]);
    load_weeks(&env);
    run_ok(&env, "otc.analytics", &[]);
    let all_ats = |week: &str| -> Vec<String> {
        concentration(&env, week)
            .into_iter()
            .filter(|row| row.starts_with("ALL ATS"))
            .collect()
    };
    // W5's ALL covers Tier 1 and Tier 2; W4's only Tier 1 (Tier 2 was not
    // loaded), so W5 compares with W3. W3: V1 1,000, V9 150,003 (FILL and
    // TINY); W5: V1 1,000, V9 550,004 (FILL, TINY, MOVR) of 551,004:
    // 10,000 × (1,000² + 550,004²) / 551,004² = 9,963.77; W3's 9,868.43;
    // both venues in both weeks: +95.34, all common.
    assert_eq!(
        all_ats(WEEKS[4]),
        ["ALL ATS 551004 2 9963.77 9963.77 1.00 99.82 100.00 100.00 0.00 2025-09-19 95.34 95.34 0.00"]
    );
    // Tier 2 alone skips W4 too, where it was not loaded.
    assert!(concentration(&env, WEEKS[4]).contains(
        &"NMS Tier 2 ATS 550004 1 10000.00 10000.00 1.00 100.00 100.00 100.00 0.00 2025-09-19 0.00 0.00 0.00"
            .to_owned()
    ));
    assert_eq!(
        rows(
            &env,
            &format!(
                "SELECT venue, share_pct, prev_week_ending, prev_share_pct, change_pp, status FROM otc_venue_movers
                 WHERE week_ending = '{}' AND tier = 'ALL' ORDER BY venue",
                WEEKS[4]
            )
        )
        .into_iter()
        .map(|row| row.join(" "))
        .collect::<Vec<_>>(),
        [
            "V1 0.18 2025-09-19 0.66 -0.48 same",
            "V9 99.82 2025-09-19 99.34 0.48 same",
        ]
    );
    // W9 holds Tier 1 alone, as W4 did: it compares with W4, not with W8's
    // three tiers (where V9's Tier 2 volume would seem to leave).
    assert_eq!(
        all_ats(WEEKS[8]),
        ["ALL ATS 1000 1 10000.00 10000.00 1.00 100.00 100.00 100.00 0.00 2025-09-26 0.00 0.00 0.00"]
    );
    assert_eq!(
        rows(
            &env,
            &format!(
                "SELECT count(*) FROM otc_venue_movers WHERE week_ending = '{}' AND tier = 'ALL' AND status = 'left'",
                WEEKS[8]
            )
        ),
        [["0"]]
    );
}

#[test]
fn a_week_whose_summaries_are_gone_loses_its_analytics_and_the_weeks_after_it_no_longer_compare_with_it() {
    let env = TestEnv::with_plugins(&["spine_otc"]);
    ingest(&env, WEEKS[0], "t1", &[(T1, "AAPL", "UBS ATS", "V1", 1000)]);
    ingest(&env, WEEKS[1], "t1", &[(T1, "AAPL", "UBS ATS", "V1", 2000)]);
    run_ok(&env, "otc.normalize", &[]);
    run_ok(&env, "otc.summarize", &[]);
    run_ok(&env, "otc.analytics", &[]);
    assert_eq!(
        rows(
            &env,
            "SELECT DISTINCT week_ending FROM otc_concentration ORDER BY 1"
        ),
        [[WEEKS[0]], [WEEKS[1]]]
    );
    // A republication of W1 whose venue total passes 2^63 - 1 (92,234 rows
    // at the bound of 10^14 shares): otc.summarize fails the week alone and
    // removes its summaries.
    let lines: Vec<String> = (0..92_234)
        .map(|symbol| format!("NMS Tier 1|S{symbol:05}|Issue|UBS ATS|V1|100000000000000|1|2025-10-06"))
        .collect();
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    let file = write_file(&env, "w1-huge.psv", &lines);
    run_ok(
        &env,
        "otc.ingest",
        &[format!("file_path={file}"), format!("week_ending={}", WEEKS[0])],
    );
    run_ok(&env, "otc.normalize", &[]);
    let summarize = run_ok(&env, "otc.summarize", &[]);
    assert_eq!(summarize["failed_weeks"][0]["week"], WEEKS[0], "{summarize}");
    assert_eq!(
        rows(
            &env,
            &format!(
                "SELECT count(*) FROM otc_venue_share WHERE week_ending = '{}'",
                WEEKS[0]
            )
        ),
        [["0"]]
    );

    // W1's analytics described summaries that are gone: they go too, and
    // W2, whose previous loaded week W1 was, is the first loaded week now.
    let metrics = run_ok(&env, "otc.analytics", &[]);
    assert_eq!(metrics["weeks"], 2, "{metrics}");
    for table in [
        "otc_concentration",
        "otc_symbol_concentration",
        "otc_venue_movers",
        "otc_symbol_movers",
    ] {
        assert_eq!(
            rows(&env, &format!("SELECT DISTINCT week_ending FROM {table}")),
            [[WEEKS[1]]],
            "{table}"
        );
    }
    assert_eq!(
        concentration(&env, WEEKS[1])[1],
        "NMS Tier 1 ATS 2000 1 10000.00 10000.00 1.00 100.00 100.00 100.00 0.00 NULL NULL NULL NULL"
    );
    assert_eq!(
        venue_movers(&env, WEEKS[1]),
        ["NMS Tier 1 ATS V1 2000 100.00 NULL NULL NULL NULL first"]
    );
}
