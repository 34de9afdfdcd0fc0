//! What an `otc.fetch` run asks FINRA for: which weeks (one, a range, the
//! last N due, or the latest due), tiers and venue types, and which of those
//! FINRA has published yet. Decided by the factory, before any request, so a
//! week that is not due is bad usage (exit 2) that changes nothing.
//!
//! FINRA first publishes a week two weeks after it for NMS Tier 1 and four
//! weeks after for NMS Tier 2 and OTC (Rule 6110, Regulatory Notice 19-29;
//! [`week::first_publication`]).

use crate::tier::Tier;
use crate::week::{self, friday_of, parse_date};
use chrono::{Days, NaiveDate, Utc};
use spine_plugin_api::{Error, Params, Result};

/// The most weeks one run may ask for: FINRA keeps about four years.
const MAX_WEEKS: i64 = 260;

/// FINRA's two kinds of venue, as its API's `summaryTypeCode` tells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VenueType {
    Ats,
    NonAts,
}

impl VenueType {
    /// The name used in parameters, archive file names and the tables.
    pub(crate) fn name(self) -> &'static str {
        match self {
            VenueType::Ats => "ATS",
            VenueType::NonAts => "NON_ATS",
        }
    }

    /// The API's `summaryTypeCode` of per-symbol-per-venue rows.
    pub(crate) fn summary_type_code(self) -> &'static str {
        match self {
            VenueType::Ats => "ATS_W_SMBL_FIRM",
            VenueType::NonAts => "OTC_W_SMBL_FIRM",
        }
    }

    fn parse(text: &str) -> Option<VenueType> {
        [VenueType::Ats, VenueType::NonAts]
            .into_iter()
            .find(|kind| kind.name().eq_ignore_ascii_case(text.trim()))
    }
}

/// The API's `tierIdentifier` of a tier.
pub(crate) fn api_tier(tier: Tier) -> &'static str {
    match tier {
        Tier::NmsTier1 => "T1",
        Tier::NmsTier2 => "T2",
        Tier::Otc => "OTCE",
    }
}

/// One week of one tier and venue type: one download.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Download {
    pub week_ending: NaiveDate,
    pub tier: Tier,
    pub venue_type: VenueType,
}

impl Download {
    /// `2025-11-14 T1 ATS`, for messages and metrics.
    pub(crate) fn label(&self) -> String {
        format!(
            "{} {} {}",
            self.week_ending,
            api_tier(self.tier),
            self.venue_type.name()
        )
    }
}

/// What a run fetches, and what it was asked for that is not due yet.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Plan {
    pub downloads: Vec<Download>,
    /// `2025-11-14 T2 (due 2025-12-15)`: asked for in a range, not published yet.
    pub not_due: Vec<String>,
}

/// Reads the parameters into a plan as of `today`.
pub(crate) fn plan(params: &Params, today: NaiveDate) -> Result<Plan> {
    let tiers = list_param(params, "tiers", "T1, T2 or OTCE", Tier::parse)?;
    let types = list_param(params, "types", "ATS or NON_ATS", VenueType::parse)?;
    let week_ending = week::week_ending_param(params)?;
    let from = week::friday_param(params, "from")?;
    let to = week::friday_param(params, "to")?;
    let weeks = params.opt_i64("weeks")?;
    let given = [
        week_ending.is_some(),
        from.is_some() || to.is_some(),
        weeks.is_some(),
    ];
    if given.iter().filter(|given| **given).count() > 1 {
        return Err(Error::new(
            "otc.params.weeks_conflict",
            "give one of week_ending, from and to, or weeks (or none, for the latest due week)",
        ));
    }
    let latest = latest_due_week(&tiers, today);
    let (first, last) = match (week_ending, from, to, weeks) {
        (Some(week), ..) => {
            refuse_if_not_due(week, &tiers, today)?;
            (week, week)
        }
        (_, Some(from), Some(to), _) if from <= to => (from, to),
        (_, Some(from), Some(to), _) => {
            return Err(Error::new(
                "otc.params.range",
                format!("from {from} is after to {to}; the range runs from the earlier Friday to the later"),
            ))
        }
        (_, Some(_), None, _) | (_, None, Some(_), _) => {
            return Err(Error::new(
                "otc.params.range",
                "a range needs both from and to (inclusive Fridays)",
            ))
        }
        (.., Some(count)) if (1..=MAX_WEEKS).contains(&count) => {
            (latest - Days::new(7 * (count as u64 - 1)), latest)
        }
        (.., Some(count)) => {
            return Err(Error::new(
                "otc.params.weeks",
                format!("weeks: expected 1 to {MAX_WEEKS} (FINRA keeps about four years), found {count}"),
            ))
        }
        _ => (latest, latest),
    };
    if (last - first).num_days() / 7 >= MAX_WEEKS {
        return Err(Error::new(
            "otc.params.range",
            format!("from {first} to {last} is more than {MAX_WEEKS} weeks (FINRA keeps about four years)"),
        ));
    }
    let mut plan = Plan {
        downloads: Vec::new(),
        not_due: Vec::new(),
    };
    let mut week = first;
    while week <= last {
        for &tier in &tiers {
            let due = week::first_publication(tier, week);
            if due > today {
                plan.not_due
                    .push(format!("{week} {} (due {due})", api_tier(tier)));
                continue;
            }
            for &venue_type in &types {
                plan.downloads.push(Download {
                    week_ending: week,
                    tier,
                    venue_type,
                });
            }
        }
        week = week + Days::new(7);
    }
    if plan.downloads.is_empty() {
        return Err(Error::new(
            "otc.params.week_not_due",
            format!(
                "no week from {first} to {last} is published yet for {}: {}",
                tier_list(&tiers),
                plan.not_due.join(", ")
            ),
        )
        .with_help(
            "FINRA publishes NMS Tier 1 two weeks after the week and the other tiers four weeks after",
        ));
    }
    Ok(plan)
}

/// Refuses one week that is not published for every tier asked for, naming
/// the date each is due.
fn refuse_if_not_due(week: NaiveDate, tiers: &[Tier], today: NaiveDate) -> Result<()> {
    let pending: Vec<String> = tiers
        .iter()
        .map(|&tier| (tier, week::first_publication(tier, week)))
        .filter(|(_, due)| *due > today)
        .map(|(tier, due)| format!("{} is due {due}", api_tier(tier)))
        .collect();
    if pending.is_empty() {
        return Ok(());
    }
    Err(Error::new(
        "otc.params.week_not_due",
        format!(
            "week ending {week} is not published yet (today is {today}): {}",
            pending.join(", ")
        ),
    )
    .with_help(
        "FINRA publishes NMS Tier 1 two weeks after the week and the other tiers four weeks after; \
                fetch it once due, or ask only for the tiers already published with -p tiers=…",
    ))
}

/// The latest week that every tier of `tiers` has published by `today`.
fn latest_due_week(tiers: &[Tier], today: NaiveDate) -> NaiveDate {
    let mut week = friday_of(today);
    while tiers
        .iter()
        .any(|&tier| week::first_publication(tier, week) > today)
    {
        week = week - Days::new(7);
    }
    week
}

fn tier_list(tiers: &[Tier]) -> String {
    tiers.iter().map(|&t| api_tier(t)).collect::<Vec<_>>().join(",")
}

/// A comma-separated parameter of known words, each once, in the order given.
fn list_param<T: PartialEq>(
    params: &Params,
    name: &str,
    expected: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<Vec<T>> {
    let text = params.opt_str(name)?.unwrap_or_default();
    let mut values = Vec::new();
    for word in text.split(',') {
        let value = parse(word).ok_or_else(|| {
            Error::new(
                format!("otc.params.{name}"),
                format!(
                    "{name}: expected {expected}, separated by commas; found {:?}",
                    word.trim()
                ),
            )
        })?;
        if !values.contains(&value) {
            values.push(value);
        }
    }
    Ok(values)
}

/// Today's date as the host gives it to runs: `SPINE_TODAY` when set, else
/// the UTC date (the host's `config::today`, which refuses a malformed
/// `SPINE_TODAY` before any plugin is asked). Read here because the factory,
/// which must refuse a week not due before anything runs, has no context to
/// ask; the plugin runs in the host's process, so it sees the same value.
pub(crate) fn host_today() -> Result<NaiveDate> {
    match std::env::var("SPINE_TODAY") {
        Ok(text) => parse_date(text.trim()).ok_or_else(|| {
            Error::new(
                "otc.params.today",
                format!("SPINE_TODAY: expected a date YYYY-MM-DD, found {text:?}"),
            )
        }),
        Err(_) => Ok(Utc::now().date_naive()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        parse_date(text).unwrap()
    }

    fn params(json: &str) -> Params {
        let mut value: serde_json::Value = serde_json::from_str(json).unwrap();
        let object = value.as_object_mut().unwrap();
        object.entry("tiers").or_insert("T1,T2,OTCE".into());
        object.entry("types").or_insert("ATS,NON_ATS".into());
        Params::from_json(&value.to_string()).unwrap()
    }

    #[test]
    fn a_week_is_due_on_its_first_publication_monday_per_tier() {
        // OTC and Tier 2 of the week ending 2025-11-14 are due 2025-12-15.
        let one = params(r#"{"week_ending":"2025-11-14","tiers":"OTCE","types":"ATS"}"#);
        let error = plan(&one, date("2025-12-14")).unwrap_err();
        assert_eq!(error.code, "otc.params.week_not_due");
        assert!(
            error.message.contains("OTCE is due 2025-12-15"),
            "{}",
            error.message
        );
        let due = plan(&one, date("2025-12-15")).unwrap();
        assert_eq!(due.downloads.len(), 1);
        // Tier 1 of that week was due two weeks earlier.
        let t1 = params(r#"{"week_ending":"2025-11-14","tiers":"T1"}"#);
        assert_eq!(plan(&t1, date("2025-12-01")).unwrap().downloads.len(), 2);
        assert!(plan(&t1, date("2025-11-30")).is_err());
    }

    #[test]
    fn a_range_fetches_what_is_due_and_reports_the_rest() {
        let range = params(r#"{"from":"2025-11-07","to":"2025-11-21","types":"ATS"}"#);
        let plan = plan(&range, date("2025-12-15")).unwrap();
        let labels: Vec<String> = plan.downloads.iter().map(Download::label).collect();
        assert_eq!(
            labels,
            [
                "2025-11-07 T1 ATS",
                "2025-11-07 T2 ATS",
                "2025-11-07 OTCE ATS",
                "2025-11-14 T1 ATS",
                "2025-11-14 T2 ATS",
                "2025-11-14 OTCE ATS",
                "2025-11-21 T1 ATS",
            ]
        );
        assert_eq!(
            plan.not_due,
            [
                "2025-11-21 T2 (due 2025-12-22)",
                "2025-11-21 OTCE (due 2025-12-22)"
            ]
        );
    }

    #[test]
    fn with_no_week_the_latest_week_due_for_every_tier_is_fetched() {
        let latest = plan(&params("{}"), date("2025-12-17")).unwrap();
        assert!(latest
            .downloads
            .iter()
            .all(|d| d.week_ending == date("2025-11-14")));
        assert_eq!(latest.downloads.len(), 6);
        let t1 = plan(&params(r#"{"tiers":"T1","types":"ATS"}"#), date("2025-12-15")).unwrap();
        assert_eq!(t1.downloads[0].week_ending, date("2025-11-28"));
        let three = plan(
            &params(r#"{"weeks":3,"tiers":"T1","types":"ATS"}"#),
            date("2025-12-15"),
        )
        .unwrap();
        let weeks: Vec<NaiveDate> = three.downloads.iter().map(|d| d.week_ending).collect();
        assert_eq!(
            weeks,
            [date("2025-11-14"), date("2025-11-21"), date("2025-11-28")]
        );
    }

    #[test]
    fn conflicting_or_malformed_parameters_are_refused() {
        let today = date("2025-12-15");
        for (json, code) in [
            (
                r#"{"week_ending":"2025-11-14","weeks":2}"#,
                "otc.params.weeks_conflict",
            ),
            (r#"{"from":"2025-11-14","weeks":2}"#, "otc.params.weeks_conflict"),
            (r#"{"from":"2025-11-14"}"#, "otc.params.range"),
            (r#"{"from":"2025-11-21","to":"2025-11-14"}"#, "otc.params.range"),
            (
                r#"{"from":"2025-11-13","to":"2025-11-14"}"#,
                "otc.params.from_not_friday",
            ),
            (r#"{"weeks":0}"#, "otc.params.weeks"),
            (r#"{"tiers":"T1,T3"}"#, "otc.params.tiers"),
            (r#"{"types":"ATS,"}"#, "otc.params.types"),
        ] {
            assert_eq!(plan(&params(json), today).unwrap_err().code, code, "{json}");
        }
    }
}
