//! Movers: venues whose share changed since the previous loaded week, and
//! symbols whose volume stands out against their previous six loaded weeks.
//!
//! Pure arithmetic for `otc.analytics`. A venue's share change is exact
//! (both shares as fractions of their totals), rounded once. A symbol's
//! robust z-score is (volume − median) / (1.4826 × MAD) over the prior
//! weeks' volumes: the median of integers is a whole or a half, the MAD a
//! quarter, so both are stored exactly, and the z-score is one exact division
//! rounded half-even to hundredths.

use crate::concentration::Market;
use crate::decimal::{self, Hundredths};

/// Prior loaded weeks a symbol's volume is compared with.
pub const PRIOR_WEEKS: usize = 6;
/// Fewer prior loaded weeks than this, and a symbol is `new`: not scored.
pub const MIN_PRIOR_WEEKS: usize = 4;

/// One venue's row of `otc_venue_movers`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VenueMove {
    pub venue: String,
    pub is_aggregate: bool,
    pub volume: i64,
    pub share_pct: Hundredths,
    /// The previous week's volume and share; `None` in the first week.
    pub previous: Option<(i64, Hundredths)>,
    pub change_pp: Option<Hundredths>,
    pub status: &'static str,
}

/// Every venue of `now` and of `previous` (the previous loaded week of the
/// same tier and venue type, if any), with its share change: venues of
/// `now` in their order, then those that left.
pub fn venue_moves(now: &Market, previous: Option<&Market>) -> Vec<VenueMove> {
    let Some(previous) = previous else {
        return now
            .venues
            .iter()
            .map(|venue| VenueMove {
                venue: venue.venue.clone(),
                is_aggregate: venue.is_aggregate,
                volume: venue.volume,
                share_pct: now.squares.percent(venue.volume),
                previous: None,
                change_pp: None,
                status: "first",
            })
            .collect();
    };
    let find = |market: &Market, name: &str, aggregate: bool| {
        market
            .venues
            .iter()
            .find(|venue| venue.venue == name && venue.is_aggregate == aggregate)
            .map(|venue| venue.volume)
    };
    let change = |volume: i64, before: i64| {
        decimal::scaled_difference(now.squares.share(volume), previous.squares.share(before), 100)
    };
    let mut moves: Vec<VenueMove> = now
        .venues
        .iter()
        .map(|venue| {
            let before = find(previous, &venue.venue, venue.is_aggregate);
            VenueMove {
                venue: venue.venue.clone(),
                is_aggregate: venue.is_aggregate,
                volume: venue.volume,
                share_pct: now.squares.percent(venue.volume),
                previous: Some((before.unwrap_or(0), previous.squares.percent(before.unwrap_or(0)))),
                change_pp: Some(change(venue.volume, before.unwrap_or(0))),
                status: if before.is_some() { "same" } else { "entered" },
            }
        })
        .collect();
    moves.extend(
        previous
            .venues
            .iter()
            .filter(|venue| find(now, &venue.venue, venue.is_aggregate).is_none())
            .map(|venue| VenueMove {
                venue: venue.venue.clone(),
                is_aggregate: venue.is_aggregate,
                volume: 0,
                share_pct: Hundredths::from_hundredths(0),
                previous: Some((venue.volume, previous.squares.percent(venue.volume))),
                change_pp: Some(change(0, venue.volume)),
                status: "left",
            }),
    );
    moves
}

/// A symbol's week against its prior loaded weeks: one row of
/// `otc_symbol_movers`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SymbolScore {
    pub prior_weeks: usize,
    /// `None` with no prior week.
    pub median: Option<Hundredths>,
    pub mad: Option<Hundredths>,
    pub robust_z: Option<Hundredths>,
    pub status: &'static str,
}

/// Scores `volume` against `prior` (the volumes of the prior loaded weeks,
/// at most [`PRIOR_WEEKS`], 0 where the symbol had no row). Volumes are
/// below 2^65 (three tiers of 2^63), so every product below stays in 128 bits.
pub fn score(volume: i128, prior: &[i128], min_volume: i128) -> SymbolScore {
    let Some((twice_median, four_mad)) = median_and_mad(prior) else {
        return SymbolScore {
            prior_weeks: 0,
            median: None,
            mad: None,
            robust_z: None,
            status: "new",
        };
    };
    // (volume − median) / (1.4826 × MAD) in hundredths:
    // (2 × volume − 2 × median) / 2 × 100 / (14,826 / 10,000 × 4 × MAD / 4)
    // = (2 × volume − 2 × median) × 2,000,000 / (14,826 × 4 × MAD).
    let robust_z = (prior.len() >= MIN_PRIOR_WEEKS && four_mad > 0)
        .then(|| decimal::divide((2 * volume - twice_median) * 2_000_000, 14_826 * four_mad));
    let status = if prior.len() < MIN_PRIOR_WEEKS {
        "new"
    } else if volume < min_volume && twice_median < 2 * min_volume {
        "below_floor"
    } else if four_mad == 0 {
        "flat"
    } else {
        "scored"
    };
    SymbolScore {
        prior_weeks: prior.len(),
        median: Some(Hundredths::from_hundredths(twice_median * 50)),
        mad: Some(Hundredths::from_hundredths(four_mad * 25)),
        robust_z,
        status,
    }
}

/// Twice the median and four times the median absolute deviation of
/// `values`: whole numbers, so exact; `None` for no values.
fn median_and_mad(values: &[i128]) -> Option<(i128, i128)> {
    if values.is_empty() {
        return None;
    }
    let twice_median = twice_the_median(values.to_vec());
    // |2 × value − 2 × median| is twice each deviation; twice their median
    // is four times the MAD.
    let deviations = values
        .iter()
        .map(|value| (2 * value - twice_median).abs())
        .collect();
    Some((twice_median, twice_the_median(deviations)))
}

/// Twice the median of `values` (not empty): the middle one doubled, or the
/// two middle ones added.
fn twice_the_median(mut values: Vec<i128>) -> i128 {
    values.sort_unstable();
    let middle = values.len() / 2;
    if values.len() % 2 == 1 {
        2 * values[middle]
    } else {
        values[middle - 1] + values[middle]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::concentration::VenueVolume;

    fn market(venues: &[(&str, i64)]) -> Market {
        let venues = venues
            .iter()
            .map(|&(name, volume)| VenueVolume {
                venue: name.to_owned(),
                is_aggregate: false,
                volume,
            })
            .collect();
        Market::new(venues, String::new).unwrap()
    }

    fn row(mv: &VenueMove) -> String {
        let previous = mv.previous.map_or("NULL".to_owned(), |(v, s)| format!("{v} {s}"));
        let change = mv.change_pp.map_or("NULL".to_owned(), |c| c.to_string());
        format!(
            "{} {} {} | {previous} | {change} {}",
            mv.venue, mv.volume, mv.share_pct, mv.status
        )
    }

    #[test]
    fn venues_that_stay_enter_and_leave() {
        let before = market(&[("A", 50), ("B", 50)]);
        let now = market(&[("A", 60), ("C", 40)]);
        let rows: Vec<String> = venue_moves(&now, Some(&before)).iter().map(row).collect();
        assert_eq!(
            rows,
            [
                "A 60 60.00 | 50 50.00 | 10.00 same",
                "C 40 40.00 | 0 0.00 | 40.00 entered",
                "B 0 0.00 | 50 50.00 | -50.00 left"
            ]
        );
        let rows: Vec<String> = venue_moves(&before, None).iter().map(row).collect();
        assert_eq!(
            rows,
            ["A 50 50.00 | NULL | NULL first", "B 50 50.00 | NULL | NULL first"]
        );
        // The change is exact: 1/3 − 1/6 = 16.666…, not 33.33 − 16.67 = 16.66.
        let rows: Vec<String> = venue_moves(
            &market(&[("A", 1), ("B", 2)]),
            Some(&market(&[("A", 1), ("B", 5)])),
        )
        .iter()
        .map(row)
        .collect();
        assert_eq!(rows[0], "A 1 33.33 | 1 16.67 | 16.67 same");
    }

    #[test]
    fn median_and_mad_are_exact_halves_and_quarters() {
        // 10, 20, 30, 40, 50, 60: median 35; deviations 25, 15, 5, 5, 15, 25: MAD 15.
        assert_eq!(median_and_mad(&[60, 10, 40, 20, 50, 30]), Some((70, 60)));
        // 1, 2, 4, 7: median 3; deviations 2, 1, 1, 4: MAD 1.5.
        assert_eq!(median_and_mad(&[1, 2, 4, 7]), Some((6, 6)));
        // 0, 0, 1, 2, 2: median 1, deviations 1, 1, 0, 1, 1: MAD 1.
        assert_eq!(median_and_mad(&[0, 0, 1, 2, 2]), Some((2, 4)));
        // 0, 1, 1, 2: median 1; deviations 1, 0, 0, 1: MAD 0.5. 1, 2, 3, 3: median 2.5, MAD 0.5.
        assert_eq!(median_and_mad(&[0, 1, 1, 2]), Some((2, 2)));
        assert_eq!(median_and_mad(&[1, 2, 3, 3]), Some((5, 2)));
        assert_eq!(median_and_mad(&[]), None);
    }

    #[test]
    fn scores_and_statuses() {
        let text = |score: &SymbolScore| {
            let show = |value: Option<Hundredths>| value.map_or("NULL".to_owned(), |v| v.to_string());
            format!(
                "{} {} {} {} {}",
                score.prior_weeks,
                show(score.median),
                show(score.mad),
                show(score.robust_z),
                score.status
            )
        };
        // (100 − 35) / (1.4826 × 15) = 65 / 22.239 = 2.9228…
        assert_eq!(
            text(&score(100, &[60, 10, 40, 20, 50, 30], 0)),
            "6 35.00 15.00 2.92 scored"
        );
        // Half and quarter shares are stored exactly: 1, 2, 3, 3: median 2.5, MAD 0.5;
        // (2 − 2.5) / 0.7413 = −0.6744…
        assert_eq!(text(&score(2, &[1, 2, 3, 3], 0)), "4 2.50 0.50 -0.67 scored");
        assert_eq!(text(&score(5, &[7, 7, 7, 7, 7], 0)), "5 7.00 0.00 NULL flat");
        assert_eq!(text(&score(5, &[1, 2, 3], 0)), "3 2.00 1.00 NULL new");
        assert_eq!(text(&score(5, &[], 0)), "0 NULL NULL NULL new");
        // Under the floor: both the volume and the median; either above it scores.
        assert_eq!(
            text(&score(99, &[1, 2, 3, 4], 100)),
            "4 2.50 1.00 65.09 below_floor"
        );
        assert_eq!(text(&score(100, &[1, 2, 3, 4], 100)), "4 2.50 1.00 65.76 scored");
    }
}
