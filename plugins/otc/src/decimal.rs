//! Exact two-place decimals: average trade sizes, percentages, and the
//! concentration indexes of otc.analytics.
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
    /// The decimal `hundredths` / 100, exactly.
    pub fn from_hundredths(hundredths: i128) -> Self {
        Hundredths(hundredths)
    }

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
pub fn divide(numerator: i128, denominator: i128) -> Hundredths {
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

/// A fraction `num / den` of non-negative integers below 2^126: a sum of
/// squared volumes over a squared total (each volume below 2^63), or a
/// volume over its total. The concentration indexes are such fractions;
/// they are compared and subtracted exactly, then rounded once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fraction {
    num: u128,
    den: u128,
}

impl Fraction {
    pub const ZERO: Fraction = Fraction { num: 0, den: 1 };

    /// `num / den`; a zero `den` gives 0 (a share of no volume is 0, as
    /// [`percent`] has it).
    pub fn new(num: u128, den: u128) -> Self {
        if den == 0 {
            Fraction::ZERO
        } else {
            Fraction { num, den }
        }
    }
}

/// `scale × (a − b)`, rounded half-even to hundredths. `scale` is a power of
/// ten (10,000 for an HHI, 100 for a percentage, 1 for a ratio), and the
/// result is below 2^100 in magnitude (an HHI at most 10,000, a count of
/// venues), which every caller's fractions give.
pub fn scaled_difference(a: Fraction, b: Fraction, scale: u32) -> Hundredths {
    let multiplier = u128::from(scale) * 100;
    // When every product fits 128 bits (shares of volumes below about 2^56,
    // indexes of totals below about 2^26 shares) one integer division
    // settles it; larger indexes take the 256-bit long division.
    narrow_difference(a, b, multiplier).unwrap_or_else(|| wide_difference(a, b, multiplier))
}

/// [`scaled_difference`] in 256 bits: exact for any fractions of the domain.
fn wide_difference(a: Fraction, b: Fraction, multiplier: u128) -> Hundredths {
    let (positive, negative) = (U256::product(a.num, b.den), U256::product(b.num, a.den));
    let denominator = U256::product(a.den, b.den);
    let (sign, numerator) = if positive >= negative {
        (1, positive.minus(negative))
    } else {
        (-1, negative.minus(positive))
    };
    // Long division: the whole part, then one decimal digit at a time (the
    // remainder stays below the denominator, below 2^252, so ten times it
    // fits 256 bits).
    let (whole, mut rest) = numerator.div_rem(denominator);
    let mut quotient = whole.low() * multiplier;
    let mut digits = multiplier;
    while digits > 1 {
        rest = rest.times_ten();
        let mut digit = 0;
        while rest >= denominator {
            rest = rest.minus(denominator);
            digit += 1;
        }
        quotient += digit * (digits / 10);
        digits /= 10;
    }
    // rest / denominator against one half.
    let twice = rest.plus(rest);
    if twice > denominator || (twice == denominator && quotient % 2 == 1) {
        quotient += 1;
    }
    Hundredths(sign * quotient as i128)
}

/// [`scaled_difference`] in 128 bits, when every product fits.
fn narrow_difference(a: Fraction, b: Fraction, multiplier: u128) -> Option<Hundredths> {
    let signed = |value: u128| i128::try_from(value).ok();
    let positive = signed(a.num.checked_mul(b.den)?)?;
    let negative = signed(b.num.checked_mul(a.den)?)?;
    let denominator = signed(a.den.checked_mul(b.den)?)?;
    let numerator = (positive - negative).checked_mul(i128::try_from(multiplier).ok()?)?;
    Some(divide(numerator, denominator))
}

/// An unsigned 256-bit integer, as much of one as the long division above
/// needs: (high, low) halves, compared as a pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct U256(u128, u128);

impl U256 {
    /// `a × b`, whole.
    fn product(a: u128, b: u128) -> Self {
        const LOW: u128 = u64::MAX as u128;
        let (a_high, a_low, b_high, b_low) = (a >> 64, a & LOW, b >> 64, b & LOW);
        let low = a_low * b_low;
        let middle_a = a_high * b_low;
        let middle_b = a_low * b_high;
        let high = a_high * b_high;
        // The middle terms and the carry out of the low half, in 64-bit pieces.
        let carry = (low >> 64) + (middle_a & LOW) + (middle_b & LOW);
        let low = (low & LOW) | (carry << 64);
        let high = high + (middle_a >> 64) + (middle_b >> 64) + (carry >> 64);
        U256(high, low)
    }

    fn low(self) -> u128 {
        self.1
    }

    fn plus(self, other: U256) -> U256 {
        let (low, carry) = self.1.overflowing_add(other.1);
        U256(self.0 + other.0 + u128::from(carry), low)
    }

    /// `self − other`, for `other <= self`.
    fn minus(self, other: U256) -> U256 {
        let (low, borrow) = self.1.overflowing_sub(other.1);
        U256(self.0 - other.0 - u128::from(borrow), low)
    }

    fn shifted_left(self, bits: u32) -> U256 {
        U256((self.0 << bits) | (self.1 >> (128 - bits)), self.1 << bits)
    }

    fn times_ten(self) -> U256 {
        self.shifted_left(3).plus(self.shifted_left(1))
    }

    fn bit(self, index: u32) -> bool {
        let half = if index >= 128 { self.0 } else { self.1 };
        (half >> (index % 128)) & 1 == 1
    }

    /// The quotient and remainder of `self / divisor` (`divisor` not 0 and
    /// below 2^255), bit by bit.
    fn div_rem(self, divisor: U256) -> (U256, U256) {
        let (mut quotient, mut rest) = (U256(0, 0), U256(0, 0));
        for index in (0..256).rev() {
            rest = rest.shifted_left(1).plus(U256(0, u128::from(self.bit(index))));
            quotient = quotient.shifted_left(1);
            if rest >= divisor {
                rest = rest.minus(divisor);
                quotient = quotient.plus(U256(0, 1));
            }
        }
        (quotient, rest)
    }
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

    #[test]
    fn concentration_fractions_are_exact_and_round_half_even() {
        let hhi = |num: u128, den: u128| scaled_difference(Fraction::new(num, den), Fraction::ZERO, 10_000);
        // Shares 0.6 and 0.4: 3,600 + 1,600.
        assert_eq!(hhi(6 * 6 + 4 * 4, 10 * 10).to_string(), "5200.00");
        // One third: 10,000 / 9 = 1,111.111…
        assert_eq!(hhi(1, 9).to_string(), "1111.11");
        // 10,000 / 3 = 3,333.33…; 1/16 of 10,000 = 625 exactly; 1 / 2^20 = 0.0095… → 0.01.
        assert_eq!(hhi(1, 3).to_string(), "3333.33");
        assert_eq!(hhi(1, 16).to_string(), "625.00");
        assert_eq!(hhi(1, 1 << 20).to_string(), "0.01");
        // 0.005 exactly rounds to the even 0.00, 0.015 to 0.02.
        assert_eq!(hhi(1, 2_000_000).to_string(), "0.00");
        assert_eq!(hhi(3, 2_000_000).to_string(), "0.02");
        let change = |a: (u128, u128), b: (u128, u128)| {
            scaled_difference(Fraction::new(a.0, a.1), Fraction::new(b.0, b.1), 10_000).to_string()
        };
        assert_eq!(change((1, 4), (1, 2)), "-2500.00");
        assert_eq!(change((1, 2), (1, 3)), "1666.67");
        assert_eq!(Fraction::new(5, 0), Fraction::ZERO);
        // Beyond 128 bits: the largest volumes FINRA's bounds allow, squared.
        let total = i64::MAX as u128;
        let squares = total * total;
        assert_eq!(hhi(squares, squares).to_string(), "10000.00");
        assert_eq!(hhi(squares / 3, squares).to_string(), "3333.33");
        assert_eq!(
            scaled_difference(Fraction::new(squares, squares / 7), Fraction::ZERO, 1).to_string(),
            "7.00"
        );
    }

    #[test]
    fn the_wide_products_are_whole() {
        let max = u128::MAX;
        assert_eq!(U256::product(max, max), U256(max - 1, 1));
        assert_eq!(U256::product(1 << 64, 1 << 64), U256(1, 0));
        let (quotient, rest) = U256::product(max, 10).plus(U256(0, 7)).div_rem(U256(0, 10));
        assert_eq!((quotient, rest), (U256(0, max), U256(0, 7)));
        assert_eq!(U256(0, 1 << 127).times_ten(), U256(5, 0));
    }

    proptest! {
        #[test]
        fn wide_and_narrow_differences_agree(
            a in 0..1_000_000_000u128, a_extra in 1..1_000_000_000u128,
            b in 0..1_000_000_000u128, b_extra in 1..1_000_000_000u128,
        ) {
            let (a, b) = (Fraction::new(a, a + a_extra), Fraction::new(b, b + b_extra));
            for scale in [1u32, 100, 10_000] {
                let multiplier = u128::from(scale) * 100;
                prop_assert_eq!(narrow_difference(a, b, multiplier), Some(wide_difference(a, b, multiplier)));
            }
        }

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
