//! How the report writes numbers and names for a person: `1,234,567`,
//! `2,660.46`, `+0.75`, `Nov 28`, `1.5M` on an axis, `Non-ATS`.

use crate::decimal::Hundredths;
use chrono::NaiveDate;

/// `+1.25` (up), `-1,720.23` (down), `0.00`.
pub(super) fn signed(change: Hundredths) -> (String, &'static str) {
    let zero = Hundredths::from_hundredths(0);
    let text = grouped_decimal(change);
    match change.cmp(&zero) {
        std::cmp::Ordering::Greater => (format!("+{text}"), "up"),
        std::cmp::Ordering::Less => (text, "down"),
        std::cmp::Ordering::Equal => (text, ""),
    }
}

/// `ATS`, `Non-ATS`.
pub(super) fn type_title(venue_type: &str) -> &'static str {
    if venue_type == "ATS" {
        "ATS"
    } else {
        "Non-ATS"
    }
}

/// `Nov 28` for `2025-11-28`; the text itself if it is not a date.
pub(super) fn short_date(date: &str) -> String {
    NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .map_or_else(|_| date.to_owned(), |date| date.format("%b %d").to_string())
}

/// `1,234,567`, `-12`.
pub(super) fn grouped(number: i128) -> String {
    let sign = if number < 0 { "-" } else { "" };
    format!("{sign}{}", group_digits(&number.unsigned_abs().to_string()))
}

/// `2,660.46`: a decimal with its whole part grouped.
pub(super) fn grouped_decimal(value: Hundredths) -> String {
    let text = value.to_string();
    let (sign, unsigned) = text
        .strip_prefix('-')
        .map_or(("", text.as_str()), |rest| ("-", rest));
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, "00"));
    format!("{sign}{}.{fraction}", group_digits(whole))
}

/// Digits with a comma before every group of three from the right.
pub(super) fn group_digits(digits: &str) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// An axis value: `0`, `750K`, `1.5M`, `2B`.
pub(super) fn axis_quantity(value: f64) -> String {
    let (scaled, suffix) = match value.abs() {
        v if v >= 1e9 => (value / 1e9, "B"),
        v if v >= 1e6 => (value / 1e6, "M"),
        v if v >= 1e3 => (value / 1e3, "K"),
        _ => (value, ""),
    };
    let text = format!("{scaled:.1}");
    let text = text.strip_suffix(".0").unwrap_or(&text);
    format!("{text}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_as_a_person_writes_them() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1_000), "1,000");
        assert_eq!(grouped(1_234_567), "1,234,567");
        assert_eq!(grouped(-12_345), "-12,345");
        assert_eq!(grouped_decimal(Hundredths::from_real(2660.46)), "2,660.46");
        assert_eq!(grouped_decimal(Hundredths::from_real(-0.5)), "-0.50");
        assert_eq!(grouped_decimal(Hundredths::from_real(-1234.5)), "-1,234.50");
        assert_eq!(axis_quantity(0.0), "0");
        assert_eq!(axis_quantity(750_000.0), "750K");
        assert_eq!(axis_quantity(1_500_000.0), "1.5M");
        assert_eq!(axis_quantity(2e9), "2B");
        assert_eq!(short_date("2025-11-28"), "Nov 28");
        assert_eq!(signed(Hundredths::from_real(1.25)), ("+1.25".to_owned(), "up"));
        assert_eq!(signed(Hundredths::from_real(-0.75)), ("-0.75".to_owned(), "down"));
        assert_eq!(signed(Hundredths::from_real(0.0)), ("0.00".to_owned(), ""));
    }
}
