//! `otc.report` through the real binary and the real `libspine_otc.so`, on
//! three small weeks whose figures are worked by hand below: the file it
//! writes (where, whole, escaped, offline, attributed, the week's numbers,
//! its concentration and coverage), which week it picks, what it says when
//! the analytics or the coverage are missing or out of date, and its
//! one-line errors. Where Chromium is installed
//! (`.ci/run` installs it), the page Chromium renders (`--dump-dom`) holds
//! the same numbers.

mod common;
mod otc_support;

use common::{stderr_of, TestEnv, HUNG_AFTER};
use otc_support::{run, run_ok, run_on, write_file};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The day the reports are made on: it is printed in them.
const TODAY: &str = "2026-01-05";

/// A venue name and an issue name as hostile as FINRA's files may hold.
const EVIL_ATS: &str = "<b>Evil</b> & \"Sons\" 'ATS'";
const EVIL_FIRM: &str = "<script>alert(1)</script> Firm";
const EVIL_ISSUE: &str = "Zed <Corp> & \"Co\"";

/// Three weeks, each line published on its tier's first-publication Monday
/// (Tier 1 21 days after the week's Monday, Tier 2 35), so ingest infers
/// the weeks:
/// - 2025-11-21: NMS Tier 1 ATS and non-ATS, NMS Tier 2 ATS;
/// - 2025-11-28: the same three (tier, venue type) pairs: complete;
/// - 2025-12-05: NMS Tier 1 ATS only: the latest week, but partial.
fn files() -> Vec<(&'static str, Vec<String>)> {
    let line = |fields: &[&str]| fields.join("|");
    vec![
        (
            "ats_20251208.psv",
            vec![
                line(&[
                    "NMS Tier 1",
                    "AAPL",
                    "Apple Inc.",
                    "UBS ATS",
                    "UBSA",
                    "500",
                    "5",
                    "2025-12-08",
                ]),
                line(&[
                    "NMS Tier 1",
                    "AAPL",
                    "Apple Inc.",
                    EVIL_ATS,
                    "EVIL",
                    "300",
                    "3",
                    "2025-12-08",
                ]),
                line(&[
                    "NMS Tier 1",
                    "MSFT",
                    "Microsoft Corp.",
                    "Gone ATS",
                    "GONE",
                    "200",
                    "2",
                    "2025-12-08",
                ]),
            ],
        ),
        (
            "ats_20251215.psv",
            vec![
                line(&[
                    "NMS Tier 1",
                    "AAPL",
                    "Apple Inc.",
                    "UBS ATS",
                    "UBSA",
                    "600",
                    "6",
                    "2025-12-15",
                ]),
                line(&[
                    "NMS Tier 1",
                    "AAPL",
                    "Apple Inc.",
                    EVIL_ATS,
                    "EVIL",
                    "400",
                    "5",
                    "2025-12-15",
                ]),
                line(&[
                    "NMS Tier 1",
                    "MSFT",
                    "Microsoft Corp.",
                    "UBS ATS",
                    "UBSA",
                    "300",
                    "3",
                    "2025-12-15",
                ]),
            ],
        ),
        (
            "ats_20251222.psv",
            vec![
                line(&[
                    "NMS Tier 2",
                    "ZZZ",
                    EVIL_ISSUE,
                    "UBS ATS",
                    "UBSA",
                    "100",
                    "1",
                    "2025-12-22",
                ]),
                line(&[
                    "NMS Tier 1",
                    "AAPL",
                    "Apple Inc.",
                    "UBS ATS",
                    "UBSA",
                    "900",
                    "9",
                    "2025-12-22",
                ]),
            ],
        ),
        (
            "ats_20251229.psv",
            vec![line(&[
                "NMS Tier 2",
                "ZZZ",
                EVIL_ISSUE,
                "UBS ATS",
                "UBSA",
                "100",
                "4",
                "2025-12-29",
            ])],
        ),
        (
            "nonats_20251208.psv",
            vec![
                line(&[
                    "NMS Tier 1",
                    "AAPL",
                    "Apple Inc.",
                    "Citadel Securities LLC",
                    "",
                    "1000",
                    "10",
                    "2025-12-08",
                ]),
                line(&[
                    "NMS Tier 1",
                    "MSFT",
                    "Microsoft Corp.",
                    EVIL_FIRM,
                    "",
                    "1000",
                    "10",
                    "2025-12-08",
                ]),
            ],
        ),
        (
            "nonats_20251215.psv",
            vec![
                line(&[
                    "NMS Tier 1",
                    "AAPL",
                    "Apple Inc.",
                    "Citadel Securities LLC",
                    "",
                    "2000",
                    "10",
                    "2025-12-15",
                ]),
                line(&[
                    "NMS Tier 1",
                    "AAPL",
                    "Apple Inc.",
                    "De Minimis Firms",
                    "",
                    "1000",
                    "20",
                    "2025-12-15",
                ]),
                line(&[
                    "NMS Tier 1",
                    "MSFT",
                    "Microsoft Corp.",
                    EVIL_FIRM,
                    "",
                    "700",
                    "7",
                    "2025-12-15",
                ]),
            ],
        ),
    ]
}

/// A database with the three weeks loaded, and with `analytics`, their
/// concentration (`otc.load -p analytics=true`) and coverage as of
/// [`TODAY`]; the loading execution's id.
fn loaded(analytics: bool) -> (TestEnv, String) {
    let env = TestEnv::with_plugins(&["spine_otc"]);
    std::fs::create_dir(env.dir.path().join("finra")).unwrap();
    for (name, lines) in files() {
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        write_file(&env, &format!("finra/{name}"), &lines);
    }
    let folder = env.dir.path().join("finra");
    let params = [
        format!("file_path={}", folder.display()),
        format!("analytics={analytics}"),
    ];
    let (code, execution) = run(&env, "otc.load", &params);
    assert_eq!(code, 0, "{execution}");
    if analytics {
        run_ok(&env, "otc.coverage", &[format!("as_of={TODAY}")]);
    }
    assert_eq!(
        execution["metrics"]["ingest"]["weeks"],
        serde_json::json!(["2025-11-21", "2025-11-28", "2025-12-05"])
    );
    (env, execution["id"].as_str().unwrap().to_owned())
}

/// Runs `otc.report` on [`TODAY`]; its metrics.
fn report(env: &TestEnv, params: &[&str]) -> serde_json::Value {
    let params: Vec<String> = params.iter().map(|param| param.to_string()).collect();
    let (code, execution) = run_on(env, TODAY, "otc.report", &params);
    assert_eq!(code, 0, "{execution}");
    execution["metrics"].clone()
}

/// The text of a page: tags dropped (a table cell ends with ` | `, a line
/// break is a space), entities decoded, spaces collapsed. The report's HTML
/// and Chromium's DOM of it read the same.
fn text(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('>').map_or(rest.len(), |end| start + end + 1);
        let tag = &rest[start..end];
        if tag == "</td>" || tag == "</th>" {
            out.push_str(" | ");
        } else if tag.starts_with("<br") || tag.starts_with("<div") || tag.starts_with("<tr") {
            out.push(' ');
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    let decoded = out
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&#x2f;", "/")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&");
    let collapsed = decoded.split_whitespace().collect::<Vec<_>>().join(" ");
    collapsed.trim_end_matches(" |").replace(" | </tr", "")
}

/// The text of every table row of `html` that holds `needle`.
fn rows_with(html: &str, needle: &str) -> Vec<String> {
    html.split("<tr")
        .skip(1)
        .map(|row| text(&format!("<tr{}", row.split("</tr>").next().unwrap_or(row))))
        .filter(|row| row.contains(needle))
        .collect()
}

/// The text between two markers of `html`.
fn text_between(html: &str, from: &str, to: &str) -> String {
    let start = html
        .find(from)
        .unwrap_or_else(|| panic!("no {from:?} in the page"));
    let end = start
        + html[start..]
            .find(to)
            .unwrap_or_else(|| panic!("no {to:?} after {from:?}"));
    text(&html[start..end])
}

/// The week 2025-11-28, worked by hand, as the page must show it (`page`
/// is the report's HTML, or Chromium's DOM of it).
///
/// ATS: UBSA 600 + 300 + 100 = 1,000 shares in 6 + 3 + 4 = 13 trades, 3
/// symbols, 1,000 / 1,400 = 71.428… → 71.43%; EVIL 400 in 5, 28.571… →
/// 28.57%. The week before (2025-11-21): UBSA 500 + 100 = 600 of 1,100 →
/// 54.545… → 54.55, EVIL 300 → 27.27, GONE 200 → 18.18 and gone since. So
/// UBSA +16.88, EVIL +1.30. 1,400 shares in 18 trades: 77.777… → 77.78 a trade.
///
/// Non-ATS: 2,000 + 1,000 + 700 = 3,700 in 37 trades, 100.00 a trade.
/// Citadel 2,000 → 54.054… → 54.05% (50.00 before: +4.05); De Minimis
/// Firms 1,000 → 27.027… → 27.03% (new); the hostile firm 700 → 18.918… →
/// 18.92% (50.00 before: -31.08). ATS of all off-exchange volume: 1,400 /
/// 5,100 = 27.450… → 27.45%.
///
/// Concentration, HHI = Σ (100 × share)²: ATS (100 × 5/7)² + (100 × 2/7)² =
/// 5,918.367… → 5,918.37, 10,000 / that = 1.689… → 1.69 effective venues;
/// the week before (600, 300, 200 of 1,100) 4,049.586…, so +1,868.780… →
/// +1,868.78, of which UBSA and EVIL (in both weeks) +2,199.359… →
/// +2,199.36 and GONE (gone) -330.578… → -330.58. Non-ATS: the named firms
/// (100 × 20/37)² + (100 × 7/37)² = 3,279.766… → 3,279.77 (low), De Minimis
/// Firms as one venue adds (100 × 10/37)²: 4,010.226… → 4,010.23 (high),
/// 2.493… → 2.49 effective venues; the week before 50% and 50%: 5,000, so
/// -989.773… → -989.77, of which the two firms in both weeks -1,720.233… →
/// -1,720.23 and De Minimis Firms (entered) +730.460… → +730.46.
///
/// Symbols: AAPL 1,000 ATS (1,000 / 11 = 90.909… → 90.91 a trade) beside
/// 3,000 non-ATS (100.00), 25.00% ATS; MSFT 300 (100.00) beside 700
/// (100.00), 30.00%; ZZZ 100 in 4 (25.00) and no non-ATS volume.
///
/// Coverage as of 2026-01-05 (NMS Tier 1 due 21 days after the week's
/// Monday, NMS Tier 2 35): loaded as loaded; due and not loaded, missing:
/// Tier 1 of 2025-12-12 (due 2025-12-29) and 2025-12-19 (due 2026-01-05,
/// that day), Tier 1 non-ATS of 2025-12-05, Tier 2 of 2025-12-05 (due
/// 2026-01-05); the rest not yet due. Over its weeks 2025-11-21 to
/// 2026-01-02: 7 loaded, 6 missing, 8 not due.
fn assert_the_week_of_2025_11_28(page: &str, loading_execution: &str) {
    assert_eq!(
        text_between(page, "<div class=\"figures\">", "<h2"),
        "1,400 ATS shares 77.78 ATS shares a trade 3,700 Non-ATS shares 100.00 Non-ATS shares a trade \
         27.45% ATS share of off-exchange volume 3 symbols traded off-exchange"
    );
    assert_eq!(
        text_between(page, "<h3 id=\"league-ATS\"", "<table"),
        "ATS Tiers: NMS Tier 1, NMS Tier 2. 2 venues, 1,400 shares in 18 trades. Change against 2025-11-21. \
         Concentration: HHI 5,918.37 (1.69 effective venues); +1,868.78 since 2025-11-21: +2,199.36 among \
         venues in both weeks, -330.58 from venues entering or leaving."
    );
    assert_eq!(
        rows_with(page, "MPID UBSA"),
        ["1 | UBS ATS MPID UBSA | 1,000 | 13 | 3 | 71.43% | +16.88"]
    );
    assert_eq!(
        rows_with(page, "MPID EVIL"),
        [format!("2 | {EVIL_ATS} MPID EVIL | 400 | 5 | 1 | 28.57% | +1.30")]
    );
    assert!(
        text(page).contains("No volume this week, after 2025-11-21: GONE (18.18%)."),
        "{}",
        text(page)
    );
    assert_eq!(
        text_between(page, "<h3 id=\"league-NON_ATS\"", "<table"),
        "Non-ATS Tiers: NMS Tier 1. 3 venues, 3,700 shares in 37 trades. Change against 2025-11-21. \
         Concentration: HHI 3,279.77 to 4,010.23 (De Minimis Firms as many small firms, or as one venue; \
         2.49 effective venues); -989.77 since 2025-11-21: -1,720.23 among venues in both weeks, +730.46 \
         from venues entering or leaving."
    );
    assert_eq!(
        rows_with(page, "Citadel Securities LLC"),
        ["1 | Citadel Securities LLC | 2,000 | 10 | 1 | 54.05% | +4.05"]
    );
    assert_eq!(
        rows_with(page, "the small firms"),
        ["2 | De Minimis Firms the small firms, together | 1,000 | 20 | 1 | 27.03% | new"]
    );
    assert_eq!(
        rows_with(page, "Firm |"),
        [format!("3 | {EVIL_FIRM} | 700 | 7 | 1 | 18.92% | -31.08")]
    );
    assert_eq!(
        text_between(page, "<table id=\"top-symbols\"", "</table>")
            .split_once("Non-ATS avg trade | ")
            .unwrap()
            .1,
        format!(
            "AAPL | Apple Inc. | NMS Tier 1 | 1,000 | 3,000 | 25.00% | 90.91 | 100.00 | \
             MSFT | Microsoft Corp. | NMS Tier 1 | 300 | 700 | 30.00% | 100.00 | 100.00 | \
             ZZZ | {EVIL_ISSUE} | NMS Tier 2 | 100 | 0 | 100.00% | 25.00 | –"
        )
    );
    assert!(
        text(page).contains(
            "What the last spine-host run otc.coverage found, as of 2026-01-05, for the weeks 2025-11-21 to \
             2026-01-02: 7 loaded, 6 missing and 8 not yet due,"
        ),
        "{}",
        text(page)
    );
    assert_eq!(
        text_between(page, "<table id=\"coverage\"", "</table>"),
        "Tier and venues | Nov 21 | Nov 28 | Dec 05 | Dec 12 | Dec 19 | Dec 26 | \
         NMS Tier 1 ATS | ✓ | ✓ | ✓ | missing | missing | due Jan 12 | \
         NMS Tier 1 Non-ATS | ✓ | ✓ | missing | missing | missing | due Jan 12 | \
         NMS Tier 2 ATS | ✓ | ✓ | missing | due Jan 12 | due Jan 19 | due Jan 26"
    );
    // Provenance: the three files the week's rows come from, in tier and
    // venue-type order, with the run that loaded them.
    let provenance = text_between(page, "<table id=\"provenance\"", "</table>");
    let files: Vec<&str> = provenance
        .split(" | ")
        .filter(|cell| cell.ends_with(".psv"))
        .map(|cell| Path::new(cell).file_name().unwrap().to_str().unwrap())
        .collect();
    assert_eq!(
        files,
        ["ats_20251215.psv", "nonats_20251215.psv", "ats_20251229.psv"]
    );
    for (file, rest) in [
        ("ats_20251215.psv", "NMS Tier 1 | ATS | 2025-12-15 | 3 |"),
        ("nonats_20251215.psv", "NMS Tier 1 | Non-ATS | 2025-12-15 | 3 |"),
        ("ats_20251229.psv", "NMS Tier 2 | ATS | 2025-12-29 | 1 |"),
    ] {
        let row = &rows_with(page, &format!("/{file}"))[0];
        assert!(
            row.contains(&format!("{file} | {rest} {loading_execution} ")),
            "{row}"
        );
    }
    let normalized_by = text_between(page, "Normalized by:", "</p>");
    assert!(normalized_by.contains(loading_execution), "{normalized_by}");
    assert!(text(page).contains("Source: FINRA OTC Transparency data."));
    assert!(text(page).contains(&format!("on {TODAY}, execution ")));
}

/// Nothing is loaded from anywhere, and no markup came from the data: no
/// script, no external stylesheet, font or image, no address but the SVG
/// namespace's name.
fn assert_self_contained(html: &str) {
    let lower = html.to_lowercase();
    for forbidden in [
        "<script", "<b>", "<corp>", "<link", "<img", "<iframe", "@import", "url(", " src=",
    ] {
        assert!(!lower.contains(forbidden), "{forbidden} in the page");
    }
    let without_namespaces = lower.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
    for address in ["http://", "https://", "href=", "//cdn", "file:"] {
        assert!(!without_namespaces.contains(address), "{address} in the page");
    }
}

/// [`assert_self_contained`], and the hostile names are in the page as text.
fn assert_self_contained_and_escaped(html: &str) {
    assert_self_contained(html);
    // The names are in the page, as text: in the tables and the charts.
    assert!(html.contains("&lt;b&gt;Evil&lt;"), "the ATS's name is escaped");
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;"),
        "the firm's name is escaped"
    );
    assert!(
        html.contains("Zed &lt;Corp&gt; &amp; "),
        "the issue's name is escaped"
    );
}

#[test]
fn the_report_of_the_latest_complete_week_holds_its_figures_worked_by_hand() {
    let (env, loading) = loaded(true);
    // 2025-12-05 is later but holds NMS Tier 1 ATS only: the report is of 2025-11-28.
    let metrics = report(&env, &[]);
    assert_eq!(metrics["week_ending"], "2025-11-28", "{metrics}");
    assert_eq!(metrics["complete"], true);
    assert_eq!(metrics["out"], "reports/otc-2025-11-28.html");
    assert_eq!(metrics["symbols"], 3);
    assert_eq!(metrics["weeks_charted"], 2);
    let path = env.dir.path().join("reports/otc-2025-11-28.html");
    let html = std::fs::read_to_string(&path).unwrap();
    assert_eq!(metrics["bytes"], html.len());
    assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));
    assert_self_contained_and_escaped(&html);
    assert_the_week_of_2025_11_28(&html, &loading);
    for note in [
        "partial-week",
        "stale-week",
        "stale-analytics",
        "no-concentration",
        "no-coverage",
    ] {
        assert!(!html.contains(&format!("id=\"{note}\"")), "{note}");
    }
    // Charts: every share, each week on the time axis, the hostile names as text.
    let charts = html.matches("<svg").count();
    assert_eq!(
        charts, 5,
        "two share charts; volume, trade size and HHI over time"
    );
    assert!(
        html.contains("Non-ATS, as many small firms\n</text>"),
        "the HHI's lower line"
    );
    for label in [" 71.43%", " 54.05%", "Nov 21\n</text>", "Nov 28\n</text>"] {
        assert!(html.contains(label), "{label} not in a chart");
    }
    assert!(html.contains(">\n&lt;b&gt;Evil&lt;/b&gt; &amp; &quot;Sons&quot; &apos;ATS&apos;\n</text>"));
    // Nothing but the report in its folder: no temporary file left.
    let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert_eq!(names, ["otc-2025-11-28.html"]);

    match chromium() {
        Err(reason) => println!("skipping the rendered-page check: {reason}"),
        Ok(chromium) => {
            let dom = rendered_dom(&chromium, &path, env.dir.path());
            assert_the_week_of_2025_11_28(&dom, &loading);
            let lower = dom.to_lowercase();
            assert!(!lower.contains("<script") && !lower.contains("<b>"), "{dom}");
        }
    }
}

#[test]
fn a_partial_or_stale_week_says_so_and_out_is_where_it_is_asked_for() {
    let (env, _) = loaded(true);
    // A file named like the report in the data folder is not where it goes.
    std::fs::create_dir_all(env.dir.path().join("data")).unwrap();
    std::fs::write(env.dir.path().join("data/late.html"), "kept").unwrap();
    let metrics = report(&env, &["week_ending=2025-12-05", "out=late.html"]);
    assert_eq!(metrics["week_ending"], "2025-12-05");
    assert_eq!(metrics["complete"], false);
    assert_eq!(metrics["out"], "late.html");
    assert_eq!(
        std::fs::read_to_string(env.dir.path().join("data/late.html")).unwrap(),
        "kept"
    );
    let html = std::fs::read_to_string(env.dir.path().join("late.html")).unwrap();
    assert_eq!(
        text_between(&html, "<p class=\"note\" id=\"partial-week\"", "</p>"),
        "This week is not complete: it lacks NMS Tier 1 NON_ATS, NMS Tier 2 ATS, which are loaded for \
         other weeks. Its figures cover part of the market."
    );
    // UBSA alone, 900 shares: 100.00% of ATS, +28.57 on 71.43; EVIL left.
    assert_eq!(
        rows_with(&html, "MPID UBSA"),
        ["1 | UBS ATS MPID UBSA | 900 | 9 | 1 | 100.00% | +28.57"]
    );
    assert!(text(&html).contains("No volume this week, after 2025-11-28: EVIL (28.57%)."));
    // The week over time: three weeks, the last drawn as partial.
    assert!(html.contains("Dec 05*\n</text>") && html.contains("Nov 28\n</text>"));
    assert_self_contained(&html);

    // A revision loaded and normalized, not yet summarized: the report says
    // its week is stale, and still shows the summaries.
    let revision = write_file(
        &env,
        "revision.psv",
        &["NMS Tier 1|MSFT|Microsoft Corp.|UBS ATS|UBSA|350|3|2026-01-05"],
    );
    run_ok(
        &env,
        "otc.ingest",
        &[
            format!("file_path={revision}"),
            "week_ending=2025-11-28".to_owned(),
        ],
    );
    run_ok(&env, "otc.normalize", &[]);
    report(&env, &["out=nested/folders/stale.html"]);
    let html = std::fs::read_to_string(env.dir.path().join("nested/folders/stale.html")).unwrap();
    assert!(html.contains("id=\"stale-week\"") && !html.contains("id=\"stale-analytics\""));
    assert_eq!(
        rows_with(&html, "MPID UBSA"),
        ["1 | UBS ATS MPID UBSA | 1,000 | 13 | 3 | 71.43% | +16.88"]
    );
    // Summarized (1,050 shares now), not yet analysed: the concentration
    // shown is the earlier one, and the page says so.
    run_ok(&env, "otc.summarize", &[]);
    report(&env, &["out=summarized.html"]);
    let html = std::fs::read_to_string(env.dir.path().join("summarized.html")).unwrap();
    assert!(!html.contains("id=\"stale-week\""));
    assert_eq!(
        text_between(&html, "<p class=\"note\" id=\"stale-analytics\"", "</p>"),
        "The concentration of 2025-11-28 is missing or out of date: those weeks were summarized after \
         otc.analytics last ran. Run it, then make the report again."
    );
    assert_eq!(
        rows_with(&html, "MPID UBSA"),
        ["1 | UBS ATS MPID UBSA | 1,050 | 13 | 3 | 72.41% | +17.86"]
    );
}

#[test]
fn without_analytics_or_coverage_the_report_says_what_to_run() {
    let (env, _) = loaded(false);
    report(&env, &[]);
    let html = std::fs::read_to_string(env.dir.path().join("reports/otc-2025-11-28.html")).unwrap();
    assert_eq!(
        text_between(&html, "<p class=\"note\" id=\"no-concentration\"", "</p>"),
        "Concentration over time: not computed for these weeks yet (run spine-host run otc.analytics, then \
         make the report again)."
    );
    assert_eq!(
        text_between(&html, "<p class=\"note\" id=\"no-coverage\"", "</p>"),
        "No coverage computed yet: run spine-host run otc.coverage, then make the report again."
    );
    assert!(text(&html).contains("Concentration: not computed for this week yet (run otc.analytics)."));
    // The load queued both weeks for otc.analytics.
    assert!(text(&html).contains("The concentration of 2025-11-21, 2025-11-28 is missing or out of date"));
    assert_eq!(html.matches("<svg").count(), 4, "no HHI chart");
}

#[test]
fn no_data_an_unknown_week_and_an_unwritable_out_are_one_line_errors() {
    // Nothing loaded: exit 1, one line saying what was expected.
    let env = TestEnv::with_plugins(&["spine_otc"]);
    env.cmd().args(["db", "init"]).assert().success();
    let output = env.cmd().args(["run", "otc.report"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        last_line(&output),
        "error: the database holds no summarized OTC week: expected otc_venue_share rows to report on \
         (help: load FINRA files first: spine-host run otc.load -p file_path=data/finra)"
    );

    let (env, _) = loaded(false);
    let refused = |params: &[&str]| {
        let mut cmd = env.cmd();
        cmd.args(["run", "otc.report"]);
        for param in params {
            cmd.args(["-p", param]);
        }
        cmd.output().unwrap()
    };
    let output = refused(&["week_ending=2025-11-14"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        last_line(&output),
        "error: week_ending 2025-11-14 is not a summarized week; expected one of 2025-11-21, 2025-11-28, \
         2025-12-05 (help: load and summarize that week first, or pick a week listed)"
    );
    // Refused before the run, with nothing recorded: exit 2.
    let output = refused(&["week_ending=2025-11-27"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr_of(&output));
    assert!(last_line(&output).contains("2025-11-27 is a Thursday, not a Friday"));
    let output = refused(&["out=spine.db"]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        last_line(&output),
        "error: out: expected a file name ending in .html, found \"spine.db\" (help: for example -p \
         out=reports/week.html)"
    );
    // A folder that cannot be made: a file stands where it would go.
    std::fs::write(env.dir.path().join("blocker"), "a file").unwrap();
    let output = refused(&["out=blocker/week.html"]);
    assert_eq!(output.status.code(), Some(1));
    let line = last_line(&output);
    assert!(
        line.starts_with("error: cannot write the report to blocker/week.html: creating its folder: "),
        "{line}"
    );
    assert!(
        line.ends_with("(help: pass -p out=FILE.html in a folder you can write to)"),
        "{line}"
    );
    assert_eq!(
        std::fs::read_to_string(env.dir.path().join("blocker")).unwrap(),
        "a file"
    );
    assert!(!env.dir.path().join("reports").exists());
}

fn last_line(output: &std::process::Output) -> String {
    stderr_of(output).lines().last().unwrap_or_default().to_owned()
}

/// Debian's Chromium, installed by the project's own script when it is
/// missing (as root, with apt-get), or why this machine cannot have it.
fn chromium() -> Result<PathBuf, String> {
    let path = PathBuf::from(std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned()));
    if path.exists() {
        return Ok(path);
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/install-chromium.sh");
    let output = std::process::Command::new(&script)
        .output()
        .map_err(|error| format!("running {}: {error}", script.display()))?;
    if output.status.success() && path.exists() {
        Ok(path)
    } else {
        Err(format!(
            "{} is not installed and {} could not install it: {}",
            path.display(),
            script.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// The DOM Chromium builds from `page`, rendered headless with a fresh
/// profile and every background service off (the network may be closed).
/// A Chromium that hangs is killed, with its process group, and fails the
/// test loudly after [`HUNG_AFTER`]: no outcome depends on how long it takes.
fn rendered_dom(chromium: &Path, page: &Path, scratch: &Path) -> String {
    use std::os::unix::process::CommandExt;
    let profile = scratch.join("chromium-profile");
    let stdout = scratch.join("chromium.out");
    let stderr = scratch.join("chromium.err");
    let mut command = std::process::Command::new(chromium);
    command.args([
        "--headless",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
    ]);
    // SAFETY: geteuid(2) takes nothing and cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        command.arg("--no-sandbox");
    }
    let mut child = command
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .stdout(std::fs::File::create(&stdout).unwrap())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .process_group(0)
        .spawn()
        .expect("starting chromium");
    let hung = Instant::now() + HUNG_AFTER;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > hung {
            let group = libc::pid_t::try_from(child.id()).unwrap();
            // SAFETY: kill(2) takes plain integers; the group is our child's own.
            unsafe { libc::kill(-group, libc::SIGKILL) };
            let _ = child.wait();
            panic!(
                "chromium --dump-dom still running after {HUNG_AFTER:?}, killed; its stderr: {}",
                std::fs::read_to_string(&stderr).unwrap_or_default()
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let dom = std::fs::read_to_string(&stdout).unwrap();
    assert!(
        status.success() && dom.contains("</html>"),
        "chromium --dump-dom failed ({status}): {}",
        std::fs::read_to_string(&stderr).unwrap_or_default()
    );
    dom
}
