//! `otc.coverage`: which weeks are loaded, missing, or not yet published,
//! per tier and venue type, into `otc_coverage`.
//!
//! What is loaded comes from `otc_publications` (every week, tier, venue type
//! and lastUpdateDate that otc.ingest stored lines of), not from the raw
//! lines. What is due comes from FINRA's schedule (Rule 6110): a week is
//! first published on the Monday 21 days after its Monday for NMS Tier 1, 35
//! days after for NMS Tier 2 and OTC ([`week::first_publication`]). A week
//! not loaded is `missing` from that day on, `not_due` before it.
//!
//! The pairs expected are the (tier, venue type) pairs loaded anywhere in the
//! database, unless `tiers` or `types` name them: an ATS-only user is not
//! told that non-ATS data is missing. The range defaults to the first week
//! loaded of those pairs through the last Friday on or before `as_of`. A
//! plugin cannot print, so the run's metrics count the statuses and list what
//! is missing; with `strict` the run fails, naming the missing weeks, when a
//! due week is missing or nothing is loaded, so that cron can alert on it.

use crate::bulk::BulkInsert;
use crate::fetch_plan::host_today;
use crate::hash::VenueType;
use crate::run::{self, metrics, Figures, Run};
use crate::tier::{Tier, SPELLINGS};
use crate::week::{self, first_publication, parse_date};
use chrono::{Datelike, Days, NaiveDate, Weekday};
use serde_json::json;
use spine_plugin_api::{Context, Error, Level, Metrics, Params, Pipeline, Result, SqlValue};
use std::collections::{BTreeMap, BTreeSet};

const INSERT_COVERAGE: &str = "INSERT INTO otc_coverage \
    (week_ending, tier, venue_type, status, due_date, last_update_date, revisions, as_of, computed_at)";
const COVERAGE_COLUMNS: usize = 9;

/// The `otc.coverage` pipeline.
pub(crate) struct Coverage {
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    as_of: Option<NaiveDate>,
    tiers: Option<Vec<Tier>>,
    types: Option<Vec<VenueType>>,
    strict: bool,
}

/// A (tier, venue type) pair.
type Pair = (&'static str, VenueType);

/// One row of `otc_coverage`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WeekStatus {
    pub week_ending: NaiveDate,
    pub tier: &'static str,
    pub venue_type: VenueType,
    pub status: &'static str,
    pub due_date: NaiveDate,
    pub last_update_date: Option<NaiveDate>,
    pub revisions: i64,
}

impl Coverage {
    pub(crate) fn from_params(params: &Params) -> Result<Self> {
        let from = week::friday_param(params, "from")?;
        let to = week::friday_param(params, "to")?;
        let as_of = match params.opt_str("as_of")? {
            None => None,
            Some(text) => Some(parse_date(text.trim()).ok_or_else(|| {
                Error::new(
                    "otc.params.as_of",
                    format!("as_of: expected a date YYYY-MM-DD, found {text:?}"),
                )
            })?),
        };
        if let Some(from) = from {
            // `to` defaults to the last Friday on or before as_of (today
            // when not given: the date the run will see).
            let (to, derived) = match to {
                Some(to) => (to, String::new()),
                None => {
                    let as_of = match as_of {
                        Some(date) => date,
                        None => host_today()?,
                    };
                    (
                        last_friday(as_of),
                        format!(" (the last Friday on or before as_of {as_of})"),
                    )
                }
            };
            if from > to {
                return Err(Error::new(
                    "otc.params.range",
                    format!("from {from} is after to {to}{derived}: expected from on or before to"),
                ));
            }
        }
        let tiers = list_param(params, "tiers", |text| {
            Tier::parse(text).ok_or_else(|| format!("expected {SPELLINGS}"))
        })?;
        let types = list_param(params, "types", |text| {
            VenueType::ALL
                .into_iter()
                .find(|kind| kind.name().eq_ignore_ascii_case(text.trim()))
                .ok_or_else(|| "expected ATS or NON_ATS".to_owned())
        })?;
        Ok(Coverage {
            from,
            to,
            as_of,
            tiers,
            types,
            strict: params.opt_bool("strict")?.unwrap_or(false),
        })
    }
}

/// A comma-separated parameter, each item read by `item`.
fn list_param<T>(
    params: &Params,
    name: &str,
    item: impl Fn(&str) -> std::result::Result<T, String>,
) -> Result<Option<Vec<T>>> {
    let Some(text) = params.opt_str(name)? else {
        return Ok(None);
    };
    text.split(',')
        .map(|part| {
            item(part).map_err(|expected| {
                Error::new(
                    format!("otc.params.{name}"),
                    format!("{name}: {expected}, separated by commas, found {:?}", part.trim()),
                )
            })
        })
        .collect::<Result<Vec<T>>>()
        .map(Some)
}

impl Pipeline for Coverage {
    fn run(&mut self, ctx: &mut Context<'_>) -> Result<Metrics> {
        Ok(metrics(self.stage(ctx)?))
    }
}

impl Coverage {
    fn stage(&mut self, ctx: &mut Context<'_>) -> Result<Figures> {
        let run = Run::start(ctx)?;
        let as_of = match self.as_of {
            Some(date) => date,
            None => run::today(ctx)?,
        };
        let loaded = Publications::read(ctx)?;
        let pairs = self.expected_pairs(&loaded);
        let to = self.to.unwrap_or_else(|| last_friday(as_of));
        let from = match (self.from, loaded.first_week(&pairs)) {
            (Some(from), _) => from,
            (None, Some(first)) if first > to => return Err(ends_before_the_data(self.to, as_of, first)),
            (None, first) => first.unwrap_or(to),
        };
        let statuses = statuses(&loaded, &pairs, from, to, as_of);
        write(ctx, &run, as_of, &statuses)?;
        let count = |status: &str| statuses.iter().filter(|row| row.status == status).count();
        let missing: Vec<String> = statuses
            .iter()
            .filter(|row| row.status == "missing")
            .map(|row| format!("{} {} {}", row.week_ending, row.tier, row.venue_type.name()))
            .collect();
        let expected: Vec<String> = pairs
            .iter()
            .map(|(tier, venue_type)| format!("{tier} {}", venue_type.name()))
            .collect();
        if self.strict {
            strict_check(&statuses, &expected, from, to)?;
        }
        if count("loaded") == 0 {
            ctx.log(
                Level::Warn,
                &format!(
                    "nothing is loaded from {from} to {to} for {}",
                    described(&expected)
                ),
            );
        }
        let figures = json!({
            "from": from.to_string(),
            "to": to.to_string(),
            "as_of": as_of.to_string(),
            "expected": expected,
            "loaded": count("loaded"),
            "missing": count("missing"),
            "not_due": count("not_due"),
            "missing_weeks": missing,
        });
        Ok(figures.as_object().cloned().unwrap_or_default())
    }

    /// The pairs loaded anywhere, or those `tiers` and `types` name. A list
    /// left out takes what is loaded with the other's names (`types=ATS`:
    /// the tiers loaded as ATS), or, where nothing is, what is loaded at all.
    fn expected_pairs(&self, loaded: &Publications) -> Vec<Pair> {
        let tier_named = |tier: &str| {
            self.tiers
                .as_ref()
                .is_none_or(|tiers| tiers.iter().any(|named| named.canonical() == tier))
        };
        let type_named = |venue_type: VenueType| {
            self.types
                .as_ref()
                .is_none_or(|types| types.contains(&venue_type))
        };
        if self.tiers.is_none() && self.types.is_none() {
            return loaded.pairs().collect::<BTreeSet<Pair>>().into_iter().collect();
        }
        let or_all = |subset: Vec<Pair>| {
            if subset.is_empty() {
                loaded.pairs().collect()
            } else {
                subset
            }
        };
        let tiers: BTreeSet<&'static str> = match &self.tiers {
            Some(tiers) => tiers.iter().map(|tier| tier.canonical()).collect(),
            None => or_all(loaded.pairs().filter(|&(_, kind)| type_named(kind)).collect())
                .into_iter()
                .map(|(tier, _)| tier)
                .collect(),
        };
        let types: BTreeSet<VenueType> = match &self.types {
            Some(types) => types.iter().copied().collect(),
            None => or_all(loaded.pairs().filter(|&(tier, _)| tier_named(tier)).collect())
                .into_iter()
                .map(|(_, kind)| kind)
                .collect(),
        };
        tiers
            .iter()
            .flat_map(|&tier| types.iter().map(move |&kind| (tier, kind)))
            .collect()
    }
}

/// The error of a range that would end (`to`, or the last Friday on or
/// before `as_of`) before the first week loaded, where it begins by default.
fn ends_before_the_data(to: Option<NaiveDate>, as_of: NaiveDate, first: NaiveDate) -> Error {
    let (name, value, instead) = match to {
        Some(to) => ("to", to, "or -p from"),
        None => ("as_of", as_of, "or -p from and -p to"),
    };
    Error::new(
        "otc.coverage.range",
        format!(
            "{name} {value} is before the first week loaded, {first}: expected {name} on or after it, {instead}"
        ),
    )
}

/// Fails the run when a due week is missing or nothing is loaded.
fn strict_check(statuses: &[WeekStatus], expected: &[String], from: NaiveDate, to: NaiveDate) -> Result<()> {
    let mut missing: BTreeMap<NaiveDate, Vec<String>> = BTreeMap::new();
    for row in statuses.iter().filter(|row| row.status == "missing") {
        missing
            .entry(row.week_ending)
            .or_default()
            .push(format!("{} {}", row.tier, row.venue_type.name()));
    }
    if !missing.is_empty() {
        let pairs: usize = missing.values().map(Vec::len).sum();
        let weeks: Vec<String> = missing
            .iter()
            .map(|(week, pairs)| format!("{week} ({})", pairs.join(", ")))
            .collect();
        return Err(Error::new(
            "otc.coverage.missing",
            format!(
                "{pairs} due week(s) missing from {from} to {to}: {}",
                weeks.join("; ")
            ),
        )
        .with_help(
            "load them (otc.fetch or otc.load), or narrow the check with -p tiers, -p types or -p from",
        ));
    }
    if !statuses.iter().any(|row| row.status == "loaded") {
        return Err(Error::new(
            "otc.coverage.nothing_loaded",
            format!(
                "nothing is loaded from {from} to {to} for {}",
                described(expected)
            ),
        )
        .with_help("load FINRA's files first: spine-host run otc.load -p file_path=..."));
    }
    Ok(())
}

fn described(expected: &[String]) -> String {
    if expected.is_empty() {
        "any tier or venue type".to_owned()
    } else {
        expected.join(", ")
    }
}

/// The Friday on or before `date`.
fn last_friday(date: NaiveDate) -> NaiveDate {
    let back = (date.weekday().num_days_from_monday() + 7 - Weekday::Fri.num_days_from_monday()) % 7;
    date - Days::new(u64::from(back))
}

/// Every expected pair's status in every week from `from` to `to` (Fridays).
pub(crate) fn statuses(
    loaded: &Publications,
    pairs: &[Pair],
    from: NaiveDate,
    to: NaiveDate,
    as_of: NaiveDate,
) -> Vec<WeekStatus> {
    let mut rows = Vec::new();
    let mut week = from;
    while week <= to {
        for &(tier, venue_type) in pairs {
            let due_date = Tier::ALL
                .into_iter()
                .find(|known| known.canonical() == tier)
                .map_or(week, |known| first_publication(known, week));
            let dates = loaded.dates(week, tier, venue_type);
            let status = if !dates.is_empty() {
                "loaded"
            } else if as_of >= due_date {
                "missing"
            } else {
                "not_due"
            };
            rows.push(WeekStatus {
                week_ending: week,
                tier,
                venue_type,
                status,
                due_date,
                last_update_date: dates.last().copied(),
                revisions: dates.len().saturating_sub(1) as i64,
            });
        }
        week = week + Days::new(7);
    }
    rows
}

/// Replaces `otc_coverage` with `statuses`.
fn write(ctx: &mut Context<'_>, run: &Run, as_of: NaiveDate, statuses: &[WeekStatus]) -> Result<()> {
    ctx.execute("DELETE FROM otc_coverage", &[])?;
    let texts: Vec<[String; 3]> = statuses
        .iter()
        .map(|row| {
            [
                row.week_ending.to_string(),
                row.due_date.to_string(),
                row.last_update_date
                    .map(|date| date.to_string())
                    .unwrap_or_default(),
            ]
        })
        .collect();
    let as_of = as_of.to_string();
    let mut values = Vec::with_capacity(statuses.len() * COVERAGE_COLUMNS);
    for (row, [week, due, last_update]) in statuses.iter().zip(&texts) {
        values.extend([
            SqlValue::Text(week),
            SqlValue::Text(row.tier),
            SqlValue::Text(row.venue_type.name()),
            SqlValue::Text(row.status),
            SqlValue::Text(due),
            row.last_update_date.map(|_| last_update.as_str()).into(),
            SqlValue::Integer(row.revisions),
            SqlValue::Text(&as_of),
            SqlValue::Text(&run.started_at),
        ]);
    }
    BulkInsert::new(INSERT_COVERAGE, COVERAGE_COLUMNS, "").insert(ctx, &values)?;
    Ok(())
}

/// The publications loaded: per (week, tier, venue type), their
/// lastUpdateDates, ascending.
#[derive(Default)]
pub(crate) struct Publications {
    dates: BTreeMap<(NaiveDate, &'static str, VenueType), Vec<NaiveDate>>,
}

impl Publications {
    /// Reads `otc_publications`: a few rows per week.
    fn read(ctx: &mut Context<'_>) -> Result<Self> {
        let mut publications = Publications::default();
        let mut failure = None;
        ctx.query(
            "SELECT week_ending, tier, venue_type, last_update_date FROM otc_publications \
             ORDER BY week_ending, tier, venue_type, last_update_date",
            &[],
            |row| {
                let (week, tier, venue_type, date) = (row.str(0)?, row.str(1)?, row.str(2)?, row.str(3)?);
                match Publications::key(week, tier, venue_type).zip(parse_date(date)) {
                    Some((key, date)) => publications.add(key, date),
                    None => {
                        failure = Some(Error::new(
                            "otc.coverage.publications",
                            format!(
                                "otc_publications: expected a week, a canonical tier, ATS or NON_ATS and a \
                                 date, found {week:?}, {tier:?}, {venue_type:?}, {date:?}"
                            ),
                        ));
                        return Ok(false);
                    }
                }
                Ok(true)
            },
        )?;
        match failure {
            Some(error) => Err(error),
            None => Ok(publications),
        }
    }

    fn key(week: &str, tier: &str, venue_type: &str) -> Option<(NaiveDate, &'static str, VenueType)> {
        let tier = Tier::ALL.into_iter().find(|known| known.canonical() == tier)?;
        let venue_type = VenueType::ALL
            .into_iter()
            .find(|kind| kind.name() == venue_type)?;
        Some((parse_date(week)?, tier.canonical(), venue_type))
    }

    /// Notes one publication.
    pub(crate) fn add(&mut self, key: (NaiveDate, &'static str, VenueType), date: NaiveDate) {
        let dates = self.dates.entry(key).or_default();
        if let Err(index) = dates.binary_search(&date) {
            dates.insert(index, date);
        }
    }

    fn pairs(&self) -> impl Iterator<Item = Pair> + '_ {
        self.dates.keys().map(|&(_, tier, venue_type)| (tier, venue_type))
    }

    fn first_week(&self, pairs: &[Pair]) -> Option<NaiveDate> {
        self.dates
            .keys()
            .find(|(_, tier, venue_type)| pairs.contains(&(*tier, *venue_type)))
            .map(|(week, _, _)| *week)
    }

    fn dates(&self, week: NaiveDate, tier: &'static str, venue_type: VenueType) -> &[NaiveDate] {
        self.dates
            .get(&(week, tier, venue_type))
            .map_or(&[], Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        parse_date(text).unwrap()
    }

    #[test]
    fn the_last_friday_on_or_before_a_date() {
        assert_eq!(last_friday(date("2025-12-12")), date("2025-12-12"));
        assert_eq!(last_friday(date("2025-12-15")), date("2025-12-12"));
        assert_eq!(last_friday(date("2025-12-18")), date("2025-12-12"));
        assert_eq!(last_friday(date("2025-12-19")), date("2025-12-19"));
    }

    #[test]
    fn loaded_missing_and_not_due_follow_finras_schedule() {
        let mut loaded = Publications::default();
        let tier1 = "NMS Tier 1";
        loaded.add((date("2025-11-07"), tier1, VenueType::Ats), date("2025-11-24"));
        loaded.add((date("2025-11-07"), tier1, VenueType::Ats), date("2025-12-01"));
        loaded.add((date("2025-11-07"), tier1, VenueType::Ats), date("2025-11-24"));
        let rows = statuses(
            &loaded,
            &[(tier1, VenueType::Ats), ("OTC", VenueType::Ats)],
            date("2025-11-07"),
            date("2025-11-21"),
            date("2025-12-08"),
        );
        let text: Vec<String> = rows
            .iter()
            .map(|row| {
                format!(
                    "{} {} {} due {} {:?} {}",
                    row.week_ending, row.tier, row.status, row.due_date, row.last_update_date, row.revisions
                )
            })
            .collect();
        // Tier 1 of week 11-21 is due 12-08 (as_of): missing; OTC weeks are due 35 days on.
        assert_eq!(
            text,
            [
                "2025-11-07 NMS Tier 1 loaded due 2025-11-24 Some(2025-12-01) 1",
                "2025-11-07 OTC missing due 2025-12-08 None 0",
                "2025-11-14 NMS Tier 1 missing due 2025-12-01 None 0",
                "2025-11-14 OTC not_due due 2025-12-15 None 0",
                "2025-11-21 NMS Tier 1 missing due 2025-12-08 None 0",
                "2025-11-21 OTC not_due due 2025-12-22 None 0",
            ]
        );
    }
}
