//! Exact two-place decimals: average trade sizes and percentages.
//!
//! Exact decimal division, never floating point, rounded half-even (banker's
//! rounding: 0.125 → 0.12, 0.375 → 0.38) to two places. The division is done
//! in 128-bit integers, in hundredths, which is exact for every pair of i64,
//! and for the sums summarize passes (i128 sums of i64 values, far below
//! 2^100), and cheap enough to run once per input line; the tests hold it to
//! rust_decimal's result.
//!
//! The tables store the result as a number, so that SQL compares and sorts it
//! as a number and JSON gives a number: a REAL, the double nearest the
//! decimal, which reads back as the same two places for every value below
//! 2^53 hundredths (about 9 × 10^13; no average or percentage comes near);
//! in the tables of 10^8 rows, the whole hundredths, which their views divide
//! by 100.0 into that same double.

use std::fmt;

/// A decimal with two places, as a whole number of hundredths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Hundredths(i128);

impl Hundredths {
    /// The value as the tables store it: the double nearest the decimal.
    /// (Below 2^53 the hundredths are an exact double, and IEEE division
    /// rounds the quotient to the nearest double.)
    pub fn to_real(self) -> f64 {
        self.0 as f64 / 100.0
    }

    /// The hundredths as the largest tables store them (their views divide
    /// by 100.0, which gives [`Hundredths::to_real`]); `None` past 64 bits.
    pub fn to_i64(self) -> Option<i64> {
        i64::try_from(self.0).ok()
    }

    /// The decimal a table stored as a REAL ([`Hundredths::to_real`]): the
    /// nearest whole hundredth, which is that decimal exactly.
    pub fn from_real(real: f64) -> Hundredths {
        Hundredths((real * 100.0).round() as i128)
    }
}

/// The exact difference: a change in percentage points.
impl std::ops::Sub for Hundredths {
    type Output = Hundredths;
    fn sub(self, other: Hundredths) -> Hundredths {
        Hundredths(self.0 - other.0)
    }
}

/// Two decimals, always: `200.00`, `71.90`, `-2.50`.
impl fmt::Display for Hundredths {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let magnitude = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", magnitude / 100, magnitude % 100)
    }
}

/// `total / count`, or `None` when `count` is 0 (no trades, no average).
pub fn average(total: impl Into<i128>, count: impl Into<i128>) -> Option<Hundredths> {
    let (total, count) = (total.into(), count.into());
    (count != 0).then(|| divide(total * 100, count))
}

/// `100 × part / whole`, or `0.00` when `whole` is 0.
pub fn percent(part: impl Into<i128>, whole: impl Into<i128>) -> Hundredths {
    let (part, whole) = (part.into(), whole.into());
    if whole == 0 {
        return Hundredths(0);
    }
    divide(part * 10_000, whole)
}

/// `numerator / denominator` hundredths, rounded half-even to a whole
/// hundredth. `denominator` is not 0; the operands are at most 2^100 times
/// 10^4, inside i128.
fn divide(numerator: i128, denominator: i128) -> Hundredths {
    let negative = (numerator < 0) != (denominator < 0);
    let (numerator, denominator) = (numerator.unsigned_abs(), denominator.unsigned_abs());
    let (mut hundredths, rest) = (numerator / denominator, numerator % denominator);
    // rest / denominator against one half, without doubling `rest`.
    let to_half = denominator - rest;
    if rest > to_half || (rest == to_half && hundredths % 2 == 1) {
        hundredths += 1;
    }
    // At most 2^114, so the magnitude fits an i128.
    let hundredths = hundredths as i128;
    Hundredths(if negative { -hundredths } else { hundredths })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rust_decimal::{Decimal, RoundingStrategy};

    fn text(value: Option<Hundredths>) -> Option<String> {
        value.map(|value| value.to_string())
    }

    /// The definition: rust_decimal's division, rounded half-even.
    fn by_decimal(numerator: Decimal, denominator: Decimal) -> String {
        let mut quotient =
            (numerator / denominator).round_dp_with_strategy(2, RoundingStrategy::MidpointNearestEven);
        quotient.rescale(2);
        quotient.to_string()
    }

    #[test]
    fn averages_have_two_decimals() {
        assert_eq!(text(average(1_000_000, 5000)).as_deref(), Some("200.00"));
        // The AAOI venues of the spec: 2,234,313 shares / 31,077 trades = 71.896…
        assert_eq!(text(average(2_234_313, 31_077)).as_deref(), Some("71.90"));
        assert_eq!(average(5, 0), None);
        assert_eq!(text(average(0, 3)).as_deref(), Some("0.00"));
        assert_eq!(text(average(1, 8)).as_deref(), Some("0.12")); // 0.125
        assert_eq!(text(average(3, 8)).as_deref(), Some("0.38")); // 0.375
        assert_eq!(
            text(average(i64::MAX, 1)).as_deref(),
            Some("9223372036854775807.00")
        );
        assert_eq!(text(average(i64::MAX, i64::MAX)).as_deref(), Some("1.00"));
        assert_eq!(
            text(average(i64::MIN, -1)).as_deref(),
            Some("9223372036854775808.00")
        );
        assert_eq!(text(average(-5, 2)).as_deref(), Some("-2.50"));
        assert_eq!(text(average(-1, 1000)).as_deref(), Some("0.00"));
    }

    #[test]
    fn stored_values_are_the_nearest_doubles_and_read_back_as_two_places() {
        for (hundredths, text) in [
            (7826, "78.26"),
            (20000, "200"),
            (7190, "71.9"),
            (-250, "-2.5"),
            (12, "0.12"),
        ] {
            let real = Hundredths(hundredths).to_real();
            assert_eq!(real, text.parse::<f64>().unwrap());
            assert_eq!(real.to_string(), text);
        }
        for hundredths in [0, 1, 7826, 20000, -250, 999_999_999_999] {
            assert_eq!(
                Hundredths::from_real(Hundredths(hundredths).to_real()),
                Hundredths(hundredths)
            );
        }
        assert_eq!((Hundredths(1925) - Hundredths(2000)).to_string(), "-0.75");
        // 8.38 sorts below 19.25, as text does not.
        assert!(percent(838, 10_000).to_real() < percent(1925, 10_000).to_real());
    }

    #[test]
    fn shares_round_half_to_even() {
        assert_eq!(percent(1, 800).to_string(), "0.12"); // 0.125
        assert_eq!(percent(3, 800).to_string(), "0.38"); // 0.375
        assert_eq!(percent(5, 800).to_string(), "0.62"); // 0.625
        assert_eq!(percent(1_800_000, 2_300_000).to_string(), "78.26");
        assert_eq!(percent(500_000, 2_300_000).to_string(), "21.74");
        assert_eq!(percent(7, 7).to_string(), "100.00");
        assert_eq!(percent(0, 0).to_string(), "0.00");
        assert_eq!(percent(i64::MAX, i64::MAX).to_string(), "100.00");
        assert_eq!(percent(1, i64::MAX).to_string(), "0.00");
        // Sums beyond 64 bits, as summarize passes them.
        let beyond = i128::from(i64::MAX) * 4;
        assert_eq!(percent(beyond, beyond * 2).to_string(), "50.00");
        assert_eq!(
            text(average(beyond, 4_i64)).as_deref(),
            Some("9223372036854775807.00")
        );
    }

    proptest! {
        #[test]
        fn averages_are_rust_decimals(total in 0..i64::MAX / 1000, count in 1..10_000_000_000i64) {
            prop_assert_eq!(
                text(average(total, count)),
                Some(by_decimal(Decimal::from(total), Decimal::from(count)))
            );
        }

        #[test]
        fn signed_averages_are_rust_decimals(total in -1_000_000_000i64..1_000_000_000, count in -1000i64..1000) {
            prop_assume!(count != 0);
            let expected = by_decimal(Decimal::from(total), Decimal::from(count));
            // rust_decimal writes a negative zero as "-0.00".
            let expected = if expected == "-0.00" { "0.00".to_owned() } else { expected };
            prop_assert_eq!(text(average(total, count)), Some(expected));
        }

        #[test]
        fn exact_halves_round_to_the_even_hundredth(hundredths in 0..1_000_000_000_000i64, count in 1..1000i64) {
            // (hundredths + 1/2) / 100 = total / count with total = (2 × hundredths + 1) × count / 200.
            let total = (2 * hundredths + 1) * count;
            let even = hundredths + hundredths % 2;
            prop_assert_eq!(
                text(average(total, 200 * count)),
                Some(format!("{}.{:02}", even / 100, even % 100))
            );
        }

        #[test]
        fn shares_are_rust_decimals(part in 0..1_000_000_000_000_000i64, extra in 0..1_000_000_000_000_000i64) {
            prop_assume!(part + extra > 0);
            prop_assert_eq!(
                percent(part, part + extra).to_string(),
                by_decimal(Decimal::from(part) * Decimal::ONE_HUNDRED, Decimal::from(part + extra))
            );
        }
    }
}
