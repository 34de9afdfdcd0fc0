//! Concentration: how much of a market's volume its largest venues hold.
//!
//! Pure arithmetic over venues' volumes, for `otc.analytics`: the
//! Herfindahl-Hirschman index with De Minimis Firms bounded both ways
//! (`hhi_low` as many tiny firms, `hhi_high` as one venue), the effective
//! number of venues, the top venues' shares, and a week's change of the index
//! split into the venues present in both weeks and those that entered or
//! left. Every figure is an exact fraction of integer volumes, rounded once,
//! half-even, to hundredths ([`crate::decimal`]).

use crate::decimal::{self, Fraction, Hundredths};
use spine_plugin_api::{Error, Result};

/// The code of the errors that fail one week of `otc.analytics`, not its run.
pub const OVERFLOW: &str = "otc.analytics.overflow";

/// One venue's volume in a market (a week, tier and venue type, or one
/// symbol's part of it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VenueVolume {
    /// The MPID, or the non-ATS firm's name.
    pub venue: String,
    /// De Minimis Firms: the small non-ATS firms together.
    pub is_aggregate: bool,
    pub volume: i64,
}

/// Volumes summed and squared as they come: a market's, or one symbol's.
#[derive(Debug, Clone, Copy, Default)]
pub struct Squares {
    total: u128,
    /// Σ volume² over named venues.
    named_squares: u128,
    aggregate_volume: u128,
    named: i64,
}

impl Squares {
    pub fn add(&mut self, volume: i64, is_aggregate: bool) {
        // Volumes are never negative: normalize rejects those rows.
        let volume = u128::try_from(volume).unwrap_or(0);
        self.total += volume;
        if is_aggregate {
            self.aggregate_volume += volume;
        } else {
            // A volume is below 2^63, so its square fits. The sum saturates
            // only past 2^128, which a total that passes [`Squares::checked`]
            // never reaches: it is at most the total², below 2^126.
            self.named_squares = self.named_squares.saturating_add(volume * volume);
            self.named += 1;
        }
    }

    /// The sums, or (with [`OVERFLOW`]) the error that fails the week when
    /// the total passes 2^63 − 1: what an integer column holds, and what keeps
    /// every square exact in 128 bits. `what` names the market.
    pub fn checked(self, what: impl FnOnce() -> String) -> Result<Self> {
        if self.total > i64::MAX as u128 {
            return Err(Error::new(
                OVERFLOW,
                format!(
                    "the total volume of {} is {}, beyond the 2^63 - 1 an integer column holds",
                    what(),
                    self.total
                ),
            ));
        }
        Ok(self)
    }

    /// The total volume (checked: below 2^63).
    pub fn total_volume(&self) -> i64 {
        self.total as i64
    }

    /// Named venues.
    pub fn named(&self) -> i64 {
        self.named
    }

    fn square_of_total(&self) -> u128 {
        self.total * self.total
    }

    fn aggregate_square(&self) -> u128 {
        self.aggregate_volume * self.aggregate_volume
    }

    /// Σ (100 × share)² of named venues, then with the aggregate as one
    /// venue; `None` when there is no volume.
    pub fn hhi(&self) -> Option<(Hundredths, Hundredths)> {
        let whole = self.square_of_total();
        let index =
            |squares| decimal::scaled_difference(Fraction::new(squares, whole), Fraction::ZERO, 10_000);
        (self.total > 0).then(|| {
            (
                index(self.named_squares),
                index(self.named_squares + self.aggregate_square()),
            )
        })
    }

    /// 10,000 / hhi_high = total² / Σ volume², exactly; `None` when there is
    /// no volume.
    pub fn effective_venues(&self) -> Option<Hundredths> {
        let squares = self.named_squares + self.aggregate_square();
        (self.total > 0).then(|| {
            decimal::scaled_difference(Fraction::new(self.square_of_total(), squares), Fraction::ZERO, 1)
        })
    }

    /// `volume`'s share of the total in percent, 2 places.
    pub fn percent(&self, volume: impl Into<i128>) -> Hundredths {
        decimal::percent(volume, self.total as i128)
    }

    /// The aggregate's share in percent, 2 places.
    pub fn aggregate_pct(&self) -> Hundredths {
        self.percent(self.aggregate_volume as i128)
    }

    /// A volume's share as a fraction of the total.
    pub fn share(&self, volume: i64) -> Fraction {
        Fraction::new(u128::try_from(volume).unwrap_or(0), self.total)
    }
}

/// A market: its venues and their sums.
#[derive(Debug, Clone)]
pub struct Market {
    /// Every venue, the aggregate included, in the order given.
    pub venues: Vec<VenueVolume>,
    pub squares: Squares,
}

/// The concentration figures of one market.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Concentration {
    pub total_volume: i64,
    /// Named venues (not the aggregate).
    pub venues: i64,
    /// `None` when the total volume is 0.
    pub hhi_low: Option<Hundredths>,
    pub hhi_high: Option<Hundredths>,
    pub effective_venues: Option<Hundredths>,
    pub top1_pct: Hundredths,
    pub top3_pct: Hundredths,
    pub top5_pct: Hundredths,
    pub aggregate_pct: Hundredths,
}

/// The change of `hhi_high` from one week to the next, and its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HhiChange {
    pub total: Hundredths,
    /// Venues in both weeks: Σ of their changes of (100 × share)².
    pub common: Hundredths,
    /// Venues that entered, minus those that left.
    pub entry_exit: Hundredths,
}

impl Market {
    /// Sums `venues`; fails as [`Squares::checked`] does.
    pub fn new(venues: Vec<VenueVolume>, what: impl FnOnce() -> String) -> Result<Self> {
        let mut squares = Squares::default();
        for venue in &venues {
            squares.add(venue.volume, venue.is_aggregate);
        }
        Ok(Market {
            squares: squares.checked(what)?,
            venues,
        })
    }

    /// The concentration figures.
    pub fn concentration(&self) -> Concentration {
        let mut named: Vec<i64> = self
            .venues
            .iter()
            .filter(|venue| !venue.is_aggregate)
            .map(|venue| venue.volume)
            .collect();
        named.sort_unstable_by(|a, b| b.cmp(a));
        let top = |count: usize| {
            self.squares
                .percent(named.iter().take(count).map(|&v| i128::from(v)).sum::<i128>())
        };
        let hhi = self.squares.hhi();
        Concentration {
            total_volume: self.squares.total_volume(),
            venues: self.squares.named(),
            hhi_low: hhi.map(|(low, _)| low),
            hhi_high: hhi.map(|(_, high)| high),
            effective_venues: self.squares.effective_venues(),
            top1_pct: top(1),
            top3_pct: top(3),
            top5_pct: top(5),
            aggregate_pct: self.squares.aggregate_pct(),
        }
    }

    /// The change of `hhi_high` from `previous` to this market. Venues are
    /// matched by name; the aggregate counts as one venue, present in both
    /// weeks when both have it. `None` when either market has no volume: it
    /// has no index (`hhi_high` is NULL), so there is no change to or from it.
    pub fn hhi_change(&self, previous: &Market) -> Option<HhiChange> {
        if self.squares.total == 0 || previous.squares.total == 0 {
            return None;
        }
        let square = |volume: i64| {
            let volume = u128::try_from(volume).unwrap_or(0);
            volume * volume
        };
        let volume_in = |market: &Market, venue: &VenueVolume| {
            market
                .venues
                .iter()
                .find(|other| other.venue == venue.venue && other.is_aggregate == venue.is_aggregate)
                .map(|other| other.volume)
        };
        let (mut common_now, mut common_before, mut entered, mut left) = (0u128, 0u128, 0u128, 0u128);
        for venue in &self.venues {
            match volume_in(previous, venue) {
                Some(before) => {
                    common_now += square(venue.volume);
                    common_before += square(before);
                }
                None => entered += square(venue.volume),
            }
        }
        for venue in &previous.venues {
            if volume_in(self, venue).is_none() {
                left += square(venue.volume);
            }
        }
        let (now, before) = (self.squares.square_of_total(), previous.squares.square_of_total());
        let change = |a: u128, b: u128| {
            decimal::scaled_difference(Fraction::new(a, now), Fraction::new(b, before), 10_000)
        };
        Some(HhiChange {
            total: change(common_now + entered, common_before + left),
            common: change(common_now, common_before),
            entry_exit: change(entered, left),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn venue(name: &str, volume: i64) -> VenueVolume {
        VenueVolume {
            venue: name.to_owned(),
            is_aggregate: name == "De Minimis Firms",
            volume,
        }
    }

    fn market(venues: &[(&str, i64)]) -> Market {
        Market::new(
            venues.iter().map(|&(name, volume)| venue(name, volume)).collect(),
            String::new,
        )
        .unwrap()
    }

    fn text(value: Option<Hundredths>) -> String {
        value.map_or("NULL".to_owned(), |value| value.to_string())
    }

    #[test]
    fn the_aggregate_bounds_the_index_both_ways() {
        // Shares 50%, 30%, 20% (the aggregate): named 2,500 + 900 = 3,400;
        // as one venue 3,400 + 400 = 3,800; 10,000 / 3,800 = 2.6315…
        let figures = market(&[("A", 500), ("B", 300), ("De Minimis Firms", 200)]).concentration();
        assert_eq!(
            (
                text(figures.hhi_low),
                text(figures.hhi_high),
                text(figures.effective_venues)
            ),
            ("3400.00".into(), "3800.00".into(), "2.63".into())
        );
        assert_eq!(
            (
                figures.top1_pct.to_string(),
                figures.top3_pct.to_string(),
                figures.aggregate_pct.to_string()
            ),
            ("50.00".into(), "80.00".into(), "20.00".into())
        );
        assert_eq!((figures.venues, figures.total_volume), (2, 1000));
        // Without an aggregate the bounds meet.
        let figures = market(&[("A", 1), ("B", 1), ("C", 1)]).concentration();
        assert_eq!(
            (
                text(figures.hhi_low),
                text(figures.hhi_high),
                text(figures.effective_venues)
            ),
            ("3333.33".into(), "3333.33".into(), "3.00".into())
        );
        // No volume: no index.
        let figures = market(&[("A", 0)]).concentration();
        assert_eq!(
            (text(figures.hhi_high), figures.top1_pct.to_string()),
            ("NULL".into(), "0.00".into())
        );
    }

    #[test]
    fn the_change_splits_into_common_venues_and_entry_and_exit() {
        // Before: A 50%, B 50% (5,000). Now: A 60%, C 40% (3,600 + 1,600 = 5,200).
        // Common (A): 3,600 − 2,500 = 1,100; entry − exit: 1,600 − 2,500 = −900.
        let change = market(&[("A", 60), ("C", 40)])
            .hhi_change(&market(&[("A", 50), ("B", 50)]))
            .unwrap();
        assert_eq!(
            (
                change.total.to_string(),
                change.common.to_string(),
                change.entry_exit.to_string()
            ),
            ("200.00".into(), "1100.00".into(), "-900.00".into())
        );
        // A market without volume has no index: no change to or from it.
        let empty = market(&[("A", 0)]);
        assert_eq!(empty.hhi_change(&market(&[("A", 1)])), None);
        assert_eq!(market(&[("A", 1)]).hhi_change(&empty), None);
    }

    #[test]
    fn a_total_beyond_63_bits_fails_its_market() {
        let venues = vec![venue("A", i64::MAX), venue("B", 1)];
        let error = Market::new(venues, || "week 2025-11-14".into()).unwrap_err();
        assert_eq!(error.code, OVERFLOW);
        assert!(error
            .message
            .starts_with("the total volume of week 2025-11-14 is 9223372036854775808"));
    }
}
