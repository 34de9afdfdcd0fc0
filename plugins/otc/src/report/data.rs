//! What `otc.report` reads: the week to report, its venue shares beside the
//! previous loaded week's, its top symbols, the weekly totals and
//! concentration (`otc.analytics`' `otc_concentration`) charted over time,
//! the last `otc.coverage` answer around the week, and where the week's
//! figures came from. Reads only; every query is bounded by the weeks it
//! shows, so the report costs the same on a long history.

use crate::decimal::Hundredths;
use spine_plugin_api::{Context, Error, Result, SqlValue};
use std::collections::{BTreeMap, BTreeSet};

/// How many venues of each type the league table lists; the rest are summed.
pub(super) const LEAGUE_VENUES: usize = 15;
/// How many symbols the top-symbols table lists.
pub(super) const TOP_SYMBOLS: i64 = 20;
/// How many loaded weeks the charts over time cover (the report's week last).
pub(super) const CHARTED_WEEKS: i64 = 12;

/// The two kinds of venue, as the tables spell them, in the report's order.
pub(super) const VENUE_TYPES: [&str; 2] = ["ATS", "NON_ATS"];

/// The week the report is about, and what the database holds around it.
#[derive(Debug)]
pub(super) struct Week {
    pub week_ending: String,
    /// The (tier, venue type) pairs loaded anywhere in the database: what a
    /// complete week holds.
    pub expected: BTreeSet<(String, String)>,
    /// The expected pairs this week lacks (empty for a complete week).
    pub missing: Vec<(String, String)>,
    /// True when the week's figures changed after it was last summarized.
    pub stale: bool,
}

/// Chooses the week: `asked`, which must be summarized, or else the latest
/// week that holds every expected (tier, venue type) pair.
pub(super) fn choose_week(ctx: &mut Context<'_>, asked: Option<&str>) -> Result<Week> {
    let mut pairs_by_week: BTreeMap<String, BTreeSet<(String, String)>> = BTreeMap::new();
    ctx.query(
        "SELECT week_ending, tier, venue_type FROM otc_venue_share WHERE tier <> 'ALL'
         GROUP BY week_ending, tier, venue_type",
        &[],
        |row| {
            pairs_by_week
                .entry(row.str(0)?.to_owned())
                .or_default()
                .insert((row.str(1)?.to_owned(), row.str(2)?.to_owned()));
            Ok(true)
        },
    )?;
    if pairs_by_week.is_empty() {
        return Err(Error::new(
            "otc.report.no_data",
            "the database holds no summarized OTC week: expected otc_venue_share rows to report on",
        )
        .with_help("load FINRA files first: spine-host run otc.load -p file_path=data/finra"));
    }
    let expected: BTreeSet<(String, String)> = pairs_by_week.values().flatten().cloned().collect();
    let week_ending = match asked {
        Some(week) if pairs_by_week.contains_key(week) => week.to_owned(),
        Some(week) => {
            return Err(Error::new(
                "otc.report.unknown_week",
                format!(
                    "week_ending {week} is not a summarized week; expected one of {}",
                    list_weeks(pairs_by_week.keys())
                ),
            )
            .with_help("load and summarize that week first, or pick a week listed"))
        }
        None => pairs_by_week
            .iter()
            .rev()
            .find(|(_, pairs)| **pairs == expected)
            .map(|(week, _)| week.clone())
            .ok_or_else(|| {
                Error::new(
                    "otc.report.no_complete_week",
                    format!(
                        "no summarized week holds every tier and venue type loaded ({}); weeks: {}",
                        pair_list(&expected),
                        list_weeks(pairs_by_week.keys())
                    ),
                )
                .with_help("pass -p week_ending=YYYY-MM-DD to report a partial week")
            })?,
    };
    let missing = expected
        .difference(&pairs_by_week[&week_ending])
        .cloned()
        .collect();
    let stale = ctx.query_scalar::<i64>(
        "SELECT count(*) FROM otc_changed_weeks WHERE week_ending = ?1",
        &[(&week_ending).into()],
    )? > 0;
    Ok(Week {
        week_ending,
        expected,
        missing,
        stale,
    })
}

/// `2025-11-14, 2025-11-28, …`: the last weeks of a long history, newest last.
fn list_weeks<'a>(weeks: impl DoubleEndedIterator<Item = &'a String> + ExactSizeIterator) -> String {
    const SHOWN: usize = 8;
    let count = weeks.len();
    let mut shown: Vec<&str> = weeks.rev().take(SHOWN).map(String::as_str).collect();
    shown.reverse();
    let more = if count > SHOWN {
        format!("{} earlier weeks, … ", count - SHOWN)
    } else {
        String::new()
    };
    format!("{more}{}", shown.join(", "))
}

/// `NMS Tier 1 ATS, OTC NON_ATS`.
pub(super) fn pair_list<'a>(pairs: impl IntoIterator<Item = &'a (String, String)>) -> String {
    pairs
        .into_iter()
        .map(|(tier, venue_type)| format!("{tier} {venue_type}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One venue's line of the league table.
#[derive(Debug)]
pub(super) struct Venue {
    pub rank: i64,
    pub venue: String,
    pub mpid: Option<String>,
    pub name: Option<String>,
    pub is_aggregate: bool,
    pub volume: i64,
    pub trades: i64,
    pub symbols: i64,
    pub share: Hundredths,
    /// The share in the previous loaded week; `None` for a venue new this week.
    pub previous_share: Option<Hundredths>,
}

/// One venue type's league: the week's venues by rank, and the venues of
/// the previous loaded week that are gone.
#[derive(Debug)]
pub(super) struct League {
    pub venue_type: &'static str,
    /// The tiers the week holds for this venue type (`NMS Tier 1,OTC`).
    pub tiers: String,
    /// Sums of the venues' figures, exact.
    pub volume: i128,
    pub trades: i128,
    pub venues: Vec<Venue>,
    pub previous: Option<PreviousWeek>,
    /// Venues of the previous week with no volume this week, and their share then.
    pub left: Vec<(String, Hundredths)>,
}

/// The week a league compares with.
#[derive(Debug)]
pub(super) struct PreviousWeek {
    pub week_ending: String,
    pub tiers: String,
}

/// Each venue type's league for `week`; a type with no rows that week is left out.
pub(super) fn leagues(ctx: &mut Context<'_>, week: &str) -> Result<Vec<League>> {
    let mut leagues = Vec::new();
    for venue_type in VENUE_TYPES {
        let previous: Option<PreviousWeek> = ctx.query_one(
            "SELECT week_ending, tiers FROM otc_venue_share
             WHERE week_ending < ?1 AND tier = 'ALL' AND venue_type = ?2
             ORDER BY week_ending DESC LIMIT 1",
            &[week.into(), venue_type.into()],
            |row| {
                Ok(PreviousWeek {
                    week_ending: row.str(0)?.to_owned(),
                    tiers: row.str(1)?.to_owned(),
                })
            },
        )?;
        let previous_week: SqlValue<'_> = previous.as_ref().map(|p| p.week_ending.as_str()).into();
        let mut league = League {
            venue_type,
            tiers: String::new(),
            volume: 0,
            trades: 0,
            venues: Vec::new(),
            previous: None,
            left: Vec::new(),
        };
        ctx.query(
            "SELECT now.rank, now.venue, now.mpid, now.venue_name, now.is_aggregate, now.total_volume,
                    now.total_trades, now.symbol_count, now.market_share_pct, now.tiers,
                    before.market_share_pct
             FROM otc_venue_share AS now
                 LEFT JOIN otc_venue_share AS before
                     ON before.week_ending = ?2 AND before.tier = 'ALL'
                     AND before.venue_type = now.venue_type AND before.venue = now.venue
             WHERE now.week_ending = ?1 AND now.tier = 'ALL' AND now.venue_type = ?3
             ORDER BY now.rank",
            &[week.into(), previous_week, venue_type.into()],
            |row| {
                let venue = Venue {
                    rank: row.i64(0)?,
                    venue: row.str(1)?.to_owned(),
                    mpid: row.opt_str(2)?.map(str::to_owned),
                    name: row.opt_str(3)?.map(str::to_owned),
                    is_aggregate: row.i64(4)? != 0,
                    volume: row.i64(5)?,
                    trades: row.i64(6)?,
                    symbols: row.i64(7)?,
                    share: Hundredths::from_real(row.f64(8)?),
                    previous_share: row.opt_f64(10)?.map(Hundredths::from_real),
                };
                league.tiers = row.str(9)?.to_owned();
                league.volume += i128::from(venue.volume);
                league.trades += i128::from(venue.trades);
                league.venues.push(venue);
                Ok(true)
            },
        )?;
        if league.venues.is_empty() {
            continue;
        }
        ctx.query(
            "SELECT before.venue, before.market_share_pct FROM otc_venue_share AS before
             WHERE before.week_ending = ?2 AND before.tier = 'ALL' AND before.venue_type = ?3
                 AND NOT EXISTS (SELECT 1 FROM otc_venue_share AS now
                                 WHERE now.week_ending = ?1 AND now.tier = 'ALL'
                                     AND now.venue_type = before.venue_type AND now.venue = before.venue)
             ORDER BY before.rank",
            &[week.into(), previous_week, venue_type.into()],
            |row| {
                league
                    .left
                    .push((row.str(0)?.to_owned(), Hundredths::from_real(row.f64(1)?)));
                Ok(true)
            },
        )?;
        league.previous = previous;
        leagues.push(league);
    }
    Ok(leagues)
}

/// One symbol's week, ATS beside non-ATS, across tiers.
#[derive(Debug)]
pub(super) struct Symbol {
    pub symbol: String,
    pub issue_name: Option<String>,
    /// The tiers it traded in that week (two when it was reclassified).
    pub tiers: String,
    pub ats_volume: i64,
    pub non_ats_volume: i64,
    pub ats_share: Option<Hundredths>,
    pub ats_avg_trade_size: Option<Hundredths>,
    pub non_ats_avg_trade_size: Option<Hundredths>,
}

/// The week's symbols with the most off-exchange volume; ties by symbol.
pub(super) fn top_symbols(ctx: &mut Context<'_>, week: &str) -> Result<(Vec<Symbol>, i64)> {
    let mut symbols = Vec::new();
    ctx.query(
        "SELECT side.symbol,
                (SELECT summary.issue_name FROM otc_symbol_summary AS summary
                 WHERE summary.week_ending = side.week_ending AND summary.symbol = side.symbol
                     AND summary.issue_name IS NOT NULL
                 ORDER BY summary.venue_type, summary.tier LIMIT 1),
                (SELECT group_concat(tiers.tier, ', ') FROM
                    (SELECT tier FROM otc_symbol_offexchange
                     WHERE week_ending = side.week_ending AND symbol = side.symbol AND tier <> 'ALL'
                     ORDER BY tier) AS tiers),
                side.ats_volume, side.non_ats_volume, side.ats_share_pct, side.ats_avg_trade_size,
                side.non_ats_avg_trade_size
         FROM otc_symbol_offexchange AS side
         WHERE side.week_ending = ?1 AND side.tier = 'ALL'
         ORDER BY side.ats_volume + side.non_ats_volume DESC, side.symbol
         LIMIT ?2",
        &[week.into(), TOP_SYMBOLS.into()],
        |row| {
            symbols.push(Symbol {
                symbol: row.str(0)?.to_owned(),
                issue_name: row.opt_str(1)?.map(str::to_owned),
                tiers: row.opt_str(2)?.unwrap_or_default().to_owned(),
                ats_volume: row.i64(3)?,
                non_ats_volume: row.i64(4)?,
                ats_share: row.opt_f64(5)?.map(Hundredths::from_real),
                ats_avg_trade_size: row.opt_f64(6)?.map(Hundredths::from_real),
                non_ats_avg_trade_size: row.opt_f64(7)?.map(Hundredths::from_real),
            });
            Ok(true)
        },
    )?;
    let count = ctx.query_scalar(
        "SELECT count(*) FROM otc_symbol_offexchange WHERE week_ending = ?1 AND tier = 'ALL'",
        &[week.into()],
    )?;
    Ok((symbols, count))
}

/// One venue type's totals in one week, across tiers.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(super) struct Totals {
    pub volume: i64,
    pub trades: i64,
}

/// One venue type's concentration in one week, across tiers, as
/// `otc.analytics` computed it (see `otc_concentration`).
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Concentration {
    /// Herfindahl-Hirschman index, 0 to 10,000: De Minimis Firms as many
    /// tiny firms (low) or as one venue (high); equal for ATS data.
    pub hhi_low: Option<Hundredths>,
    pub hhi_high: Option<Hundredths>,
    pub effective_venues: Option<Hundredths>,
    pub previous_week: Option<String>,
    pub hhi_change: Option<Hundredths>,
    /// The change among venues present in both weeks, and from venues
    /// entering or leaving.
    pub hhi_change_common: Option<Hundredths>,
    pub hhi_change_entry_exit: Option<Hundredths>,
}

/// One loaded week of the charts over time.
#[derive(Debug)]
pub(super) struct WeekTotals {
    pub week_ending: String,
    /// Per venue type, as [`VENUE_TYPES`] orders them.
    pub totals: [Totals; 2],
    /// Per venue type; `None` where `otc.analytics` has not computed it.
    pub concentration: [Option<Concentration>; 2],
    /// False when the week lacks an expected (tier, venue type) pair: its
    /// totals cover part of the market.
    pub complete: bool,
}

/// The last [`CHARTED_WEEKS`] loaded weeks up to `week`, oldest first.
pub(super) fn history(ctx: &mut Context<'_>, week: &Week) -> Result<Vec<WeekTotals>> {
    let mut weeks: Vec<WeekTotals> = Vec::new();
    let mut pairs: BTreeMap<String, BTreeSet<(String, String)>> = BTreeMap::new();
    ctx.query(
        "SELECT week_ending, venue_type, sum(total_volume), sum(total_trades) FROM otc_venue_share
         WHERE tier = 'ALL' AND week_ending IN
             (SELECT DISTINCT week_ending FROM otc_venue_share
              WHERE week_ending <= ?1 ORDER BY week_ending DESC LIMIT ?2)
         GROUP BY week_ending, venue_type ORDER BY week_ending",
        &[(&week.week_ending).into(), CHARTED_WEEKS.into()],
        |row| {
            let week_ending = row.str(0)?;
            if weeks.last().is_none_or(|last| last.week_ending != week_ending) {
                weeks.push(WeekTotals {
                    week_ending: week_ending.to_owned(),
                    totals: [Totals::default(); 2],
                    concentration: [None, None],
                    complete: false,
                });
            }
            let venue_type = row.str(1)?;
            let index = VENUE_TYPES.iter().position(|t| *t == venue_type);
            if let (Some(index), Some(last)) = (index, weeks.last_mut()) {
                last.totals[index] = Totals {
                    volume: row.i64(2)?,
                    trades: row.i64(3)?,
                };
            }
            Ok(true)
        },
    )?;
    let first: SqlValue<'_> = weeks.first().map(|w| w.week_ending.as_str()).into();
    ctx.query(
        "SELECT week_ending, tier, venue_type FROM otc_venue_share
         WHERE week_ending BETWEEN ?1 AND ?2 AND tier <> 'ALL'
         GROUP BY week_ending, tier, venue_type",
        &[first, (&week.week_ending).into()],
        |row| {
            pairs
                .entry(row.str(0)?.to_owned())
                .or_default()
                .insert((row.str(1)?.to_owned(), row.str(2)?.to_owned()));
            Ok(true)
        },
    )?;
    for totals in &mut weeks {
        totals.complete = pairs.get(&totals.week_ending) == Some(&week.expected);
    }
    let first = weeks.first().map(|w| w.week_ending.clone());
    ctx.query(
        "SELECT week_ending, venue_type, hhi_low, hhi_high, effective_venues, prev_week_ending, hhi_change,
                hhi_change_common, hhi_change_entry_exit
         FROM otc_concentration WHERE week_ending BETWEEN ?1 AND ?2 AND tier = 'ALL'",
        &[first.as_deref().into(), (&week.week_ending).into()],
        |row| {
            let week_ending = row.str(0)?;
            let venue_type = row.str(1)?;
            let decimal =
                |index| -> Result<Option<Hundredths>> { Ok(row.opt_f64(index)?.map(Hundredths::from_real)) };
            let concentration = Concentration {
                hhi_low: decimal(2)?,
                hhi_high: decimal(3)?,
                effective_venues: decimal(4)?,
                previous_week: row.opt_str(5)?.map(str::to_owned),
                hhi_change: decimal(6)?,
                hhi_change_common: decimal(7)?,
                hhi_change_entry_exit: decimal(8)?,
            };
            let index = VENUE_TYPES.iter().position(|t| *t == venue_type);
            let totals = weeks.iter_mut().find(|totals| totals.week_ending == week_ending);
            if let (Some(index), Some(totals)) = (index, totals) {
                totals.concentration[index] = Some(concentration);
            }
            Ok(true)
        },
    )?;
    Ok(weeks)
}

/// The weeks from `from` to `to` summarized since `otc.analytics` last ran:
/// their concentration is missing or out of date.
pub(super) fn awaiting_analytics(ctx: &mut Context<'_>, from: &str, to: &str) -> Result<Vec<String>> {
    let mut weeks = Vec::new();
    ctx.query(
        "SELECT week_ending FROM otc_analytics_queue WHERE week_ending BETWEEN ?1 AND ?2 ORDER BY week_ending",
        &[from.into(), to.into()],
        |row| {
            weeks.push(row.str(0)?.to_owned());
            Ok(true)
        },
    )?;
    Ok(weeks)
}

/// How many weeks after the report's week the coverage grid shows: the
/// weeks FINRA is still publishing.
const COVERAGE_WEEKS_AFTER: u64 = 4;
/// How many weeks the coverage grid shows at most.
pub(super) const COVERAGE_COLUMNS: usize = 16;

/// One cell of the coverage grid.
#[derive(Debug)]
pub(super) struct CoverageCell {
    /// `loaded`, `missing` or `not_due`.
    pub status: String,
    pub due_date: String,
    pub last_update_date: Option<String>,
    pub revisions: i64,
}

/// The last `otc.coverage` answer: its totals, and the weeks around the
/// report's week.
#[derive(Debug)]
pub(super) struct Coverage {
    pub as_of: String,
    pub first_week: String,
    pub last_week: String,
    pub loaded: i64,
    pub missing: i64,
    pub not_due: i64,
    /// The weeks the grid shows, oldest first.
    pub weeks: Vec<String>,
    /// The (tier, venue type) rows of the grid.
    pub pairs: BTreeSet<(String, String)>,
    pub cells: BTreeMap<(String, String, String), CoverageCell>,
}

/// `otc_coverage` from `from` to a few weeks after `week`; `None` when
/// `otc.coverage` has not run.
pub(super) fn coverage(ctx: &mut Context<'_>, from: &str, week: &str) -> Result<Option<Coverage>> {
    let Some(mut coverage) = ctx.query_one(
        "SELECT min(as_of), min(week_ending), max(week_ending), sum(status = 'loaded'),
                sum(status = 'missing'), sum(status = 'not_due')
         FROM otc_coverage HAVING count(*) > 0",
        &[],
        |row| {
            Ok(Coverage {
                as_of: row.str(0)?.to_owned(),
                first_week: row.str(1)?.to_owned(),
                last_week: row.str(2)?.to_owned(),
                loaded: row.i64(3)?,
                missing: row.i64(4)?,
                not_due: row.i64(5)?,
                weeks: Vec::new(),
                pairs: BTreeSet::new(),
                cells: BTreeMap::new(),
            })
        },
    )?
    else {
        return Ok(None);
    };
    let until = chrono::NaiveDate::parse_from_str(week, "%Y-%m-%d")
        .ok()
        .and_then(|date| date.checked_add_days(chrono::Days::new(7 * COVERAGE_WEEKS_AFTER)))
        .map_or_else(|| week.to_owned(), |date| date.to_string());
    let mut weeks = BTreeSet::new();
    ctx.query(
        "SELECT week_ending, tier, venue_type, status, due_date, last_update_date, revisions
         FROM otc_coverage WHERE week_ending BETWEEN ?1 AND ?2",
        &[from.into(), (&until).into()],
        |row| {
            let key = (
                row.str(0)?.to_owned(),
                row.str(1)?.to_owned(),
                row.str(2)?.to_owned(),
            );
            weeks.insert(key.0.clone());
            coverage.pairs.insert((key.1.clone(), key.2.clone()));
            coverage.cells.insert(
                key,
                CoverageCell {
                    status: row.str(3)?.to_owned(),
                    due_date: row.str(4)?.to_owned(),
                    last_update_date: row.opt_str(5)?.map(str::to_owned),
                    revisions: row.i64(6)?,
                },
            );
            Ok(true)
        },
    )?;
    let skip = weeks.len().saturating_sub(COVERAGE_COLUMNS);
    coverage.weeks = weeks.into_iter().skip(skip).collect();
    Ok(Some(coverage))
}

/// One file's part in the week: the rows of one tier and venue type it
/// holds that the week's figures stand on.
#[derive(Debug)]
pub(super) struct SourceFile {
    pub file: String,
    pub tier: String,
    pub venue_type: String,
    pub last_update_date: String,
    pub rows: i64,
    /// The execution that read the file (`otc.ingest`, `otc.load` or `otc.fetch`).
    pub execution_id: String,
    pub ingested_at: String,
}

/// A normalize run whose rows the week's figures stand on.
#[derive(Debug)]
pub(super) struct NormalizeRun {
    pub execution_id: String,
    pub normalized_at: String,
    pub rows: i64,
}

/// Where the week's figures come from.
#[derive(Debug)]
pub(super) struct Provenance {
    pub files: Vec<SourceFile>,
    pub normalize_runs: Vec<NormalizeRun>,
    /// When the week's summaries were computed (earliest, latest).
    pub summarized_at: (String, String),
}

/// The files, publications and runs behind `week`'s venue figures (the
/// winning row of every key: a file whose rows were all revised away is
/// not listed).
pub(super) fn provenance(ctx: &mut Context<'_>, week: &str) -> Result<Provenance> {
    let mut files = Vec::new();
    ctx.query(
        "SELECT file.source_file, figure.tier,
                CASE figure.venue_type WHEN 1 THEN 'ATS' ELSE 'NON_ATS' END,
                figure.last_update_date, count(*), file.batch_id AS execution_id, file.ingested_at
         FROM otc_venue_figures AS figure
             JOIN otc_raw_lines AS line ON line.id = figure.raw_id
             JOIN otc_raw_files AS file ON file.id = line.file_id
         WHERE figure.week_ending = ?1
         GROUP BY file.id, figure.tier, figure.venue_type, figure.last_update_date
         ORDER BY figure.tier, figure.venue_type, figure.last_update_date, file.id",
        &[week.into()],
        |row| {
            files.push(SourceFile {
                file: row.str(0)?.to_owned(),
                tier: row.str(1)?.to_owned(),
                venue_type: row.str(2)?.to_owned(),
                last_update_date: row.str(3)?.to_owned(),
                rows: row.i64(4)?,
                execution_id: row.str(5)?.to_owned(),
                ingested_at: row.str(6)?.to_owned(),
            });
            Ok(true)
        },
    )?;
    let mut normalize_runs = Vec::new();
    ctx.query(
        "SELECT run.execution_id, run.normalized_at, count(*)
         FROM otc_venue_figures AS figure JOIN otc_normalize_runs AS run ON run.id = figure.run_id
         WHERE figure.week_ending = ?1
         GROUP BY run.id ORDER BY run.id",
        &[week.into()],
        |row| {
            normalize_runs.push(NormalizeRun {
                execution_id: row.str(0)?.to_owned(),
                normalized_at: row.str(1)?.to_owned(),
                rows: row.i64(2)?,
            });
            Ok(true)
        },
    )?;
    let summarized_at = ctx
        .query_one(
            "SELECT min(computed_at), max(computed_at) FROM otc_venue_share WHERE week_ending = ?1",
            &[week.into()],
            |row| Ok((row.str(0)?.to_owned(), row.str(1)?.to_owned())),
        )?
        .unwrap_or_default();
    Ok(Provenance {
        files,
        normalize_runs,
        summarized_at,
    })
}
