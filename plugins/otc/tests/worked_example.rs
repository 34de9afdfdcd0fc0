//! The worked example of the OTC specification, through the plugin's own logic:
//! parsing, hashing, normalize's checks and summarize's arithmetic. The SQL
//! around them (inserts, the upsert, GROUP BY) runs only inside the host, so
//! the sums that SQL would make are made here by hand.

use chrono::NaiveDate;
use spine_otc::hash::{HashKey, RecordHasher, Venue, VenueType};
use spine_otc::normalize::{check, RawRow};
use spine_otc::parse::{DateWindow, Parser, Record};
use spine_otc::summarize::{rank_venues, Totals};
use spine_otc::{decimal, tier::Tier};
use std::collections::BTreeMap;

const FILE: &str = "\
tierDescription|issueSymbolIdentifier|issueName|marketParticipantName|MPID|totalWeeklyShareQuantity|totalWeeklyTradeCount|lastUpdateDate
NMS Tier 1|AAPL|Apple Inc. Common Stock|VENA VENUE A|VENA|1000000|5000|2025-12-29
BAD|ROW|MISSING|COLUMNS
NMS Tier 1|AAPL|Apple Inc. Common Stock|VENB VENUE B|VENB|500000|2500|2025-12-29
NMS Tier 1|MSFT|Microsoft Corporation Common Stock|VENA VENUE A|VENA|800000|4000|2025-12-29
";

const WEEK_ENDING: &str = "2025-12-12";

/// The file's good lines as otc_raw rows, with their hashes, and its rejects.
fn ingest() -> (Vec<RawRow>, Vec<(u64, String)>) {
    let run_day = NaiveDate::from_ymd_opt(2026, 1, 5).unwrap();
    let mut parser = Parser::new(
        FILE.as_bytes(),
        "example.psv",
        DateWindow::until_a_year_after(run_day),
    )
    .unwrap()
    .unwrap();
    let mut hasher = RecordHasher::default();
    let (mut rows, mut rejects) = (Vec::new(), Vec::new());
    while let Some(record) = parser.next_record().unwrap() {
        match record {
            Record::Line(line) => {
                let mut record_hash = String::new();
                let key = HashKey {
                    week_ending: WEEK_ENDING,
                    tier: Tier::parse(line.tier).unwrap().canonical(),
                    symbol: line.symbol,
                    venue: Venue::of(line.mpid, line.venue_name),
                    share_volume: line.share_volume,
                    trade_count: line.trade_count,
                };
                hasher.push_hash(&key, &mut record_hash);
                rows.push(RawRow {
                    id: rows.len() as i64 + 1,
                    week_ending: WEEK_ENDING.into(),
                    tier: line.tier.into(),
                    symbol: line.symbol.into(),
                    mpid: line.mpid.into(),
                    share_volume: line.share_volume,
                    trade_count: line.trade_count,
                    record_hash,
                    line_number: line.line as i64,
                    ..RawRow::default()
                });
            }
            Record::Reject(reject) => rejects.push((reject.line, reject.reason)),
        }
    }
    (rows, rejects)
}

#[test]
fn ingest_keeps_three_lines_and_rejects_the_bad_one_at_line_3() {
    let (rows, rejects) = ingest();
    assert_eq!(rows.len(), 3);
    assert_eq!(
        rejects,
        [(3, "expected 8 fields as in the header, found 4 fields".to_owned())]
    );
    assert_eq!(rows[0].record_hash, "1ce8807cc6251f6e2bfbe1e917735425");
    // A second load of the same file has the same hashes: three duplicates.
    let again: Vec<String> = ingest().0.into_iter().map(|row| row.record_hash).collect();
    assert_eq!(
        again,
        rows.iter().map(|row| row.record_hash.clone()).collect::<Vec<_>>()
    );
}

#[test]
fn normalize_accepts_all_three_at_200_shares_a_trade() {
    for row in ingest().0 {
        let checked = check(&row).unwrap();
        assert_eq!(checked.tier, Tier::NmsTier1);
        assert_eq!(checked.venue, Venue::Ats(&row.mpid));
        assert_eq!(
            checked.avg_trade_size.map(|a| a.to_string()).as_deref(),
            Some("200.00")
        );
    }
}

#[test]
fn summarize_gives_the_symbol_and_venue_figures_of_the_spec() {
    let rows = ingest().0;
    // SELECT symbol, sum(...), sum(...), count(DISTINCT mpid) … GROUP BY symbol
    let mut symbols: BTreeMap<&str, (i64, i64, i64)> = BTreeMap::new();
    for row in &rows {
        let entry = symbols.entry(&row.symbol).or_default();
        *entry = (entry.0 + row.share_volume, entry.1 + row.trade_count, entry.2 + 1);
    }
    let summaries: Vec<String> = symbols
        .iter()
        .map(|(symbol, (volume, trades, venues))| {
            let average = decimal::average(*volume, *trades).unwrap();
            format!("{symbol} {volume} {trades} {venues} {average}")
        })
        .collect();
    assert_eq!(
        summaries,
        ["AAPL 1500000 7500 2 200.00", "MSFT 800000 4000 1 200.00"]
    );

    // The same venue totals for the tier and across tiers ('ALL').
    let mut venues = Vec::new();
    for tier in ["NMS Tier 1", "ALL"] {
        for (mpid, volume, trades, symbols) in [("VENB", 500_000, 2500, 1), ("VENA", 1_800_000, 9000, 2)] {
            venues.push(Totals {
                tier: tier.into(),
                venue_type: VenueType::Ats,
                name: mpid.into(),
                volume,
                trades,
                count: symbols,
                is_aggregate: false,
                latest_raw_id: 0,
            });
        }
    }
    let ranked = rank_venues(&mut venues);
    let shares: Vec<String> = venues
        .iter()
        .zip(&ranked)
        .map(|(v, r)| {
            format!(
                "{} {} {} {} {} {}",
                v.tier, r.rank, v.name, v.volume, v.count, r.market_share_pct
            )
        })
        .collect();
    assert_eq!(
        shares,
        [
            "ALL 1 VENA 1800000 2 78.26",
            "ALL 2 VENB 500000 1 21.74",
            "NMS Tier 1 1 VENA 1800000 2 78.26",
            "NMS Tier 1 2 VENB 500000 1 21.74",
        ]
    );
}
