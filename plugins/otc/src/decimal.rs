//! Exact two-place decimals: average trade sizes and market shares.
//!
//! Exact decimal division, never floating point, rounded half-even (banker's
//! rounding: 0.125 → 0.12, 0.375 → 0.38) to two places, and written with
//! exactly two decimals (`200.00`, `71.90`) so stored text reads the same
//! whatever the value. The division is done in 128-bit integers, in
//! hundredths, which is exact for every pair of i64, and for the sums
//! summarize passes (i128 sums of i64 values, far below 2^100), and cheap
//! enough to run once per input line; the tests hold it to rust_decimal's
//! result.

use std::fmt::Write as _;

/// `total / count`, or `None` when `count` is 0 (no trades, no average).
pub fn average(total: impl Into<i128>, count: impl Into<i128>) -> Option<String> {
    let (total, count) = (total.into(), count.into());
    (count != 0).then(|| {
        let mut text = String::new();
        write_hundredths(&mut text, total * 100, count);
        text
    })
}

/// Appends `total / count` to `out` as [`average`] writes it; `false`, and
/// nothing appended, when `count` is 0.
pub fn push_average(out: &mut String, total: i64, count: i64) -> bool {
    if count == 0 {
        return false;
    }
    write_hundredths(out, i128::from(total) * 100, i128::from(count));
    true
}

/// `100 × part / whole`, or `0.00` when `whole` is 0.
pub fn percent(part: impl Into<i128>, whole: impl Into<i128>) -> String {
    let (part, whole) = (part.into(), whole.into());
    if whole == 0 {
        return "0.00".to_owned();
    }
    let mut text = String::new();
    write_hundredths(&mut text, part * 10_000, whole);
    text
}

/// Appends `numerator / denominator` hundredths, rounded half-even to a whole
/// hundredth, with two decimals. `denominator` is not 0; the operands are at
/// most 2^100 times 10^4, inside i128.
fn write_hundredths(out: &mut String, numerator: i128, denominator: i128) {
    let negative = (numerator < 0) != (denominator < 0);
    let (numerator, denominator) = (numerator.unsigned_abs(), denominator.unsigned_abs());
    let (mut hundredths, rest) = (numerator / denominator, numerator % denominator);
    // rest / denominator against one half, without doubling `rest`.
    let to_half = denominator - rest;
    if rest > to_half || (rest == to_half && hundredths % 2 == 1) {
        hundredths += 1;
    }
    let sign = if negative && hundredths != 0 { "-" } else { "" };
    // The units of one line's figures fit a u64, which formats much faster
    // than a u128 (this runs once per input line); a sum's may not.
    let (units, cents) = (hundredths / 100, hundredths % 100);
    // Writing to a String cannot fail.
    let _ = match u64::try_from(units) {
        Ok(units) => write!(out, "{sign}{units}.{cents:02}"),
        Err(_) => write!(out, "{sign}{units}.{cents:02}"),
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rust_decimal::{Decimal, RoundingStrategy};

    /// The definition: rust_decimal's division, rounded half-even.
    fn by_decimal(numerator: Decimal, denominator: Decimal) -> String {
        let mut quotient =
            (numerator / denominator).round_dp_with_strategy(2, RoundingStrategy::MidpointNearestEven);
        quotient.rescale(2);
        quotient.to_string()
    }

    #[test]
    fn averages_have_two_decimals() {
        assert_eq!(average(1_000_000, 5000).as_deref(), Some("200.00"));
        // The AAOI venues of the spec: 2,234,313 shares / 31,077 trades = 71.896…
        assert_eq!(average(2_234_313, 31_077).as_deref(), Some("71.90"));
        assert_eq!(average(5, 0), None);
        assert_eq!(average(0, 3).as_deref(), Some("0.00"));
        assert_eq!(average(1, 8).as_deref(), Some("0.12")); // 0.125
        assert_eq!(average(3, 8).as_deref(), Some("0.38")); // 0.375
        assert_eq!(average(i64::MAX, 1).as_deref(), Some("9223372036854775807.00"));
        assert_eq!(average(i64::MAX, i64::MAX).as_deref(), Some("1.00"));
        assert_eq!(average(i64::MIN, -1).as_deref(), Some("9223372036854775808.00"));
        assert_eq!(average(-5, 2).as_deref(), Some("-2.50"));
        assert_eq!(average(-1, 1000).as_deref(), Some("0.00"));
        let mut out = String::from("x");
        assert!(push_average(&mut out, 7, 2));
        assert!(!push_average(&mut out, 7, 0));
        assert_eq!(out, "x3.50");
    }

    #[test]
    fn shares_round_half_to_even() {
        assert_eq!(percent(1, 800), "0.12"); // 0.125
        assert_eq!(percent(3, 800), "0.38"); // 0.375
        assert_eq!(percent(5, 800), "0.62"); // 0.625
        assert_eq!(percent(1_800_000, 2_300_000), "78.26");
        assert_eq!(percent(500_000, 2_300_000), "21.74");
        assert_eq!(percent(7, 7), "100.00");
        assert_eq!(percent(0, 0), "0.00");
        assert_eq!(percent(i64::MAX, i64::MAX), "100.00");
        assert_eq!(percent(1, i64::MAX), "0.00");
        // Sums beyond 64 bits, as summarize passes them.
        let beyond = i128::from(i64::MAX) * 4;
        assert_eq!(percent(beyond, beyond * 2), "50.00");
        assert_eq!(average(beyond, 4_i64).as_deref(), Some("9223372036854775807.00"));
    }

    proptest! {
        #[test]
        fn averages_are_rust_decimals(total in 0..i64::MAX / 1000, count in 1..10_000_000_000i64) {
            prop_assert_eq!(
                average(total, count),
                Some(by_decimal(Decimal::from(total), Decimal::from(count)))
            );
        }

        #[test]
        fn signed_averages_are_rust_decimals(total in -1_000_000_000i64..1_000_000_000, count in -1000i64..1000) {
            prop_assume!(count != 0);
            let expected = by_decimal(Decimal::from(total), Decimal::from(count));
            // rust_decimal writes a negative zero as "-0.00".
            let expected = if expected == "-0.00" { "0.00".to_owned() } else { expected };
            prop_assert_eq!(average(total, count), Some(expected));
        }

        #[test]
        fn exact_halves_round_to_the_even_hundredth(hundredths in 0..1_000_000_000_000i64, count in 1..1000i64) {
            // (hundredths + 1/2) / 100 = total / count with total = (2 × hundredths + 1) × count / 200.
            let total = (2 * hundredths + 1) * count;
            let even = hundredths + hundredths % 2;
            prop_assert_eq!(
                average(total, 200 * count),
                Some(format!("{}.{:02}", even / 100, even % 100))
            );
        }

        #[test]
        fn shares_are_rust_decimals(part in 0..1_000_000_000_000_000i64, extra in 0..1_000_000_000_000_000i64) {
            prop_assume!(part + extra > 0);
            prop_assert_eq!(
                percent(part, part + extra),
                by_decimal(Decimal::from(part) * Decimal::ONE_HUNDRED, Decimal::from(part + extra))
            );
        }
    }
}
