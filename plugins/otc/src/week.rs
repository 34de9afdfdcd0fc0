//! Trading weeks: strict dates, the `week_ending` parameter, and the
//! first-publication rule that infers a week from FINRA's `lastUpdateDate`.
//!
//! `week_ending` is the Friday of the trading week. `lastUpdateDate` is not:
//! it is the Monday FINRA first published the week, 21 days after the week's
//! Monday for NMS Tier 1 and 35 days after for NMS Tier 2 and OTC (FINRA Rule
//! 6110, Regulatory Notice 19-29). A date that is not a Monday cannot be a
//! first publication, so the rule refuses it and asks for `week_ending`. A
//! revision republished on a Monday cannot be told apart: inference would
//! place it in a later week, so re-downloaded revisions need `week_ending`.

use crate::tier::Tier;
use chrono::{Datelike, Days, NaiveDate, Weekday};
use spine_plugin_api::{Error, Params, Result};

/// Reads a date written exactly `YYYY-MM-DD`. Strict on purpose (chrono's
/// `%Y-%m-%d` also takes `2025-1-5`), and cheap: it runs once per line.
pub fn parse_date(text: &str) -> Option<NaiveDate> {
    let bytes = text.as_bytes();
    let shape_ok = bytes.len() == 10
        && bytes.iter().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                *b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    if !shape_ok {
        return None;
    }
    let number = |range: std::ops::Range<usize>| {
        bytes[range]
            .iter()
            .fold(0u32, |n, digit| n * 10 + u32::from(digit - b'0'))
    };
    let year = i32::try_from(number(0..4)).ok()?;
    NaiveDate::from_ymd_opt(year, number(5..7), number(8..10))
}

/// The optional `week_ending` parameter, which must be a Friday.
pub fn week_ending_param(params: &Params) -> Result<Option<NaiveDate>> {
    friday_param(params, "week_ending")
}

/// An optional date parameter `name` that must be a Friday (a trading
/// week's end); refused with `otc.params.<name>` or
/// `otc.params.<name>_not_friday`.
pub fn friday_param(params: &Params, name: &str) -> Result<Option<NaiveDate>> {
    let Some(text) = params.opt_str(name)? else {
        return Ok(None);
    };
    let date = parse_date(text.trim()).ok_or_else(|| {
        Error::new(
            format!("otc.params.{name}"),
            format!("{name}: expected a date YYYY-MM-DD, found {text:?}"),
        )
    })?;
    if date.weekday() != Weekday::Fri {
        return Err(Error::new(
            format!("otc.params.{name}_not_friday"),
            format!(
                "{name} {date} is a {}, not a Friday; {name} is the Friday that ends the trading week",
                date.format("%A")
            ),
        )
        .with_help(format!(
            "use -p {name}={}, the Friday of that week",
            friday_of(date)
        )));
    }
    Ok(Some(date))
}

/// The Friday of the Monday-to-Sunday week holding `date`.
pub fn friday_of(date: NaiveDate) -> NaiveDate {
    let monday = date - Days::new(u64::from(date.weekday().num_days_from_monday()));
    monday + Days::new(4)
}

/// The trading week that FINRA first published on `last_update`, for `tier`.
/// Fails when `last_update` is not a Monday; the caller adds the location.
pub fn infer_week_ending(tier: Tier, last_update: NaiveDate) -> Result<NaiveDate> {
    if last_update.weekday() != Weekday::Mon {
        return Err(Error::new(
            "otc.ingest.week_not_inferable",
            format!(
                "lastUpdateDate {last_update} is a {}, not a Monday, so it is not a first publication \
                 and the trading week cannot be inferred from it; the file is refused",
                last_update.format("%A")
            ),
        )
        .with_help("pass the trading week's Friday with -p week_ending=YYYY-MM-DD"));
    }
    Ok(last_update - Days::new(publication_lag_days(tier)) + Days::new(4))
}

/// The Monday FINRA first publishes the week ending on Friday `week_ending`
/// for `tier`: the inverse of [`infer_week_ending`].
pub fn first_publication(tier: Tier, week_ending: NaiveDate) -> NaiveDate {
    week_ending - Days::new(4) + Days::new(publication_lag_days(tier))
}

/// Days from a week's Monday to its first publication (Rule 6110).
fn publication_lag_days(tier: Tier) -> u64 {
    match tier {
        Tier::NmsTier1 => 21,
        Tier::NmsTier2 | Tier::Otc => 35,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        parse_date(text).unwrap()
    }

    #[test]
    fn the_publication_rule_gives_the_weeks_of_the_spec() {
        // lastUpdateDate 2025-12-15: OTC and NMS Tier 2 hold Mon 11-10 to Fri 11-14,
        // NMS Tier 1 holds Mon 11-24 to Fri 11-28.
        let published = date("2025-12-15");
        assert_eq!(
            infer_week_ending(Tier::Otc, published).unwrap(),
            date("2025-11-14")
        );
        assert_eq!(
            infer_week_ending(Tier::NmsTier2, published).unwrap(),
            date("2025-11-14")
        );
        assert_eq!(
            infer_week_ending(Tier::NmsTier1, published).unwrap(),
            date("2025-11-28")
        );
    }

    #[test]
    fn first_publication_is_the_inverse_of_the_rule() {
        for tier in Tier::ALL {
            let week = date("2025-11-14");
            let published = first_publication(tier, week);
            assert_eq!(published.weekday(), Weekday::Mon);
            assert_eq!(infer_week_ending(tier, published).unwrap(), week);
        }
        assert_eq!(
            first_publication(Tier::Otc, date("2025-11-14")),
            date("2025-12-15")
        );
        assert_eq!(
            first_publication(Tier::NmsTier1, date("2025-11-28")),
            date("2025-12-15")
        );
    }

    #[test]
    fn a_date_that_is_not_a_monday_asks_for_week_ending() {
        let error = infer_week_ending(Tier::Otc, date("2025-12-17")).unwrap_err();
        assert_eq!(error.code, "otc.ingest.week_not_inferable");
        assert!(
            error.message.contains("2025-12-17 is a Wednesday, not a Monday"),
            "{}",
            error.message
        );
        assert!(error.help.unwrap().contains("-p week_ending=YYYY-MM-DD"));
    }

    #[test]
    fn week_ending_must_be_a_friday_and_the_help_names_the_friday() {
        let params = |value: &str| Params::from_json(&format!(r#"{{"week_ending":"{value}"}}"#)).unwrap();
        assert_eq!(
            week_ending_param(&params("2025-12-12")).unwrap(),
            Some(date("2025-12-12"))
        );
        assert_eq!(week_ending_param(&Params::default()).unwrap(), None);
        for (given, friday) in [("2025-12-10", "2025-12-12"), ("2025-12-13", "2025-12-12")] {
            let error = week_ending_param(&params(given)).unwrap_err();
            assert_eq!(error.code, "otc.params.week_ending_not_friday");
            assert!(
                error.message.starts_with(&format!("week_ending {given} is a ")),
                "{}",
                error.message
            );
            assert_eq!(
                error.help.unwrap(),
                format!("use -p week_ending={friday}, the Friday of that week")
            );
        }
    }

    #[test]
    fn dates_are_strict_yyyy_mm_dd() {
        assert_eq!(parse_date("2025-12-29"), NaiveDate::from_ymd_opt(2025, 12, 29));
        for bad in [
            "2025-12-32",
            "2025-13-01",
            "2025-1-05",
            "12/29/2025",
            "2025-12-29 ",
            "",
            "2025_12_29",
        ] {
            assert_eq!(parse_date(bad), None, "{bad:?}");
        }
    }
}
