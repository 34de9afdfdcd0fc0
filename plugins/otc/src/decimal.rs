//! Exact two-place decimals: average trade sizes and market shares.
//!
//! Computed with rust_decimal, never floating point, rounded half-even
//! (banker's rounding: 0.125 → 0.12, 0.375 → 0.38) to two places, and written
//! with exactly two decimals (`200.00`, `71.90`) so stored text reads the same
//! whatever the value.

use rust_decimal::{Decimal, RoundingStrategy};

/// `total / count`, or `None` when `count` is 0 (no trades, no average).
pub fn average(total: i64, count: i64) -> Option<String> {
    (count != 0).then(|| two_places(Decimal::from(total), Decimal::from(count)))
}

/// `100 × part / whole`, or `0.00` when `whole` is 0.
pub fn percent(part: i64, whole: i64) -> String {
    if whole == 0 {
        return "0.00".to_owned();
    }
    two_places(Decimal::from(part) * Decimal::ONE_HUNDRED, Decimal::from(whole))
}

/// `numerator / denominator` rounded half-even to two places, as text.
/// Callers pass a non-zero denominator and a numerator below 10^21 (an i64
/// times 100), so the division can neither fail nor overflow.
fn two_places(numerator: Decimal, denominator: Decimal) -> String {
    let mut quotient =
        (numerator / denominator).round_dp_with_strategy(2, RoundingStrategy::MidpointNearestEven);
    quotient.rescale(2);
    quotient.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn averages_have_two_decimals() {
        assert_eq!(average(1_000_000, 5000).as_deref(), Some("200.00"));
        // The AAOI venues of the spec: 2,234,313 shares / 31,077 trades = 71.896…
        assert_eq!(average(2_234_313, 31_077).as_deref(), Some("71.90"));
        assert_eq!(average(5, 0), None);
        assert_eq!(average(0, 3).as_deref(), Some("0.00"));
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
    }
}
