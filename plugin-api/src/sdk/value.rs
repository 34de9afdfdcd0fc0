//! SQL values and result rows in plain Rust, converted to the ABI's at the edge.
//!
//! [`SqlValue`] is what a plugin binds; [`Row`] is what a query streams back;
//! [`FromSql`] names the Rust types one SQL value reads as.

use super::error::{Error, Result};
use crate::abi;

/// A value bound to a statement: one of SQLite's five storage classes.
///
/// It borrows text and blobs rather than copying them, so bind an owned
/// `String` or `Vec<u8>` by reference. Most Rust values convert with `.into()`:
///
/// | Rust | SQL |
/// |---|---|
/// | `i8`, `i16`, `i32`, `i64`, `u8`, `u16`, `u32` | `Integer` |
/// | `bool` | `Integer` 1 or 0 |
/// | `f32`, `f64` | `Real` |
/// | `&str`, `&String` | `Text` |
/// | `&[u8]`, `&Vec<u8>`, `&[u8; N]` | `Blob` |
/// | `Option<T>` | `T`, or `Null` for `None` |
///
/// `u64`, `usize`, `isize`, `i128` and `u128` may not fit in SQLite's 64-bit
/// integer: convert them with `SqlValue::try_from(n)?`, which fails with code
/// `sdk.value.range` when the number is too large.
///
/// ```
/// use spine_plugin_api::SqlValue;
///
/// let name = String::from("Ann");
/// let hash: Vec<u8> = vec![0xab, 0xcd];
/// let row: [SqlValue; 5] = [(&name).into(), 42_u32.into(), true.into(), (&hash).into(), None::<f64>.into()];
/// assert_eq!(row[2], SqlValue::Integer(1));
/// assert_eq!(row[4], SqlValue::Null);
///
/// let rows_read: u64 = 7;
/// assert_eq!(SqlValue::try_from(rows_read).unwrap(), SqlValue::Integer(7));
/// assert_eq!(SqlValue::try_from(u64::MAX).unwrap_err().code, "sdk.value.range");
/// ```
///
/// This enum is exhaustive on purpose: SQLite's storage classes will not grow.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SqlValue<'a> {
    /// SQL `NULL`.
    Null,
    /// A 64-bit signed integer.
    Integer(i64),
    /// A 64-bit float.
    Real(f64),
    /// UTF-8 text.
    Text(&'a str),
    /// Bytes.
    Blob(&'a [u8]),
}

impl<'a> SqlValue<'a> {
    // Inline across crates: the host converts every value a bulk load binds.
    #[inline]
    pub(crate) fn to_abi(self) -> abi::Value<'a> {
        match self {
            SqlValue::Null => abi::Value::Null,
            SqlValue::Integer(v) => abi::Value::Integer(v),
            SqlValue::Real(v) => abi::Value::Real(v),
            SqlValue::Text(v) => abi::Value::Text(v.into()),
            SqlValue::Blob(v) => abi::Value::Blob(v.into()),
        }
    }

    #[inline]
    pub(crate) fn from_abi(value: &abi::Value<'a>) -> Self {
        match *value {
            abi::Value::Null => SqlValue::Null,
            abi::Value::Integer(v) => SqlValue::Integer(v),
            abi::Value::Real(v) => SqlValue::Real(v),
            abi::Value::Text(v) => SqlValue::Text(v.as_str()),
            abi::Value::Blob(v) => SqlValue::Blob(v.as_slice()),
        }
    }

    /// The value as a message shows it: `an integer (42)`, `a float (2.5)`,
    /// `text "abc"`, `a blob of 3 bytes`, `NULL`.
    pub(crate) fn describe(self) -> String {
        match self {
            SqlValue::Null => "NULL".to_owned(),
            SqlValue::Integer(v) => format!("an integer ({v})"),
            SqlValue::Real(v) => format!("a float ({v:?})"),
            SqlValue::Text(v) if v.chars().count() > 40 => {
                format!("text {:?}…", v.chars().take(40).collect::<String>())
            }
            SqlValue::Text(v) => format!("text {v:?}"),
            SqlValue::Blob(v) => format!("a blob of {} bytes", v.len()),
        }
    }
}

/// The value a plugin bound, as the host reads it (see [`crate::host`]).
impl<'a> From<abi::Value<'a>> for SqlValue<'a> {
    #[inline]
    fn from(value: abi::Value<'a>) -> Self {
        SqlValue::from_abi(&value)
    }
}

/// A value the host hands a plugin's row sink (see [`crate::host`]).
impl<'a> From<SqlValue<'a>> for abi::Value<'a> {
    #[inline]
    fn from(value: SqlValue<'a>) -> Self {
        value.to_abi()
    }
}

/// Integer widths that always fit in SQLite's 64-bit integer.
macro_rules! from_integer {
    ($($t:ty),*) => {$(
        impl From<$t> for SqlValue<'_> {
            fn from(v: $t) -> Self {
                SqlValue::Integer(i64::from(v))
            }
        }
    )*};
}
from_integer!(i8, i16, i32, i64, u8, u16, u32);

/// Integer widths that may not fit: converted with a check.
macro_rules! try_from_integer {
    ($($t:ty),*) => {$(
        impl TryFrom<$t> for SqlValue<'_> {
            type Error = Error;
            fn try_from(v: $t) -> Result<Self> {
                i64::try_from(v).map(SqlValue::Integer).map_err(|_| {
                    Error::new(
                        "sdk.value.range",
                        format!("{v} does not fit in SQLite's 64-bit signed integer"),
                    )
                    .with_help("store it as text, or check the number before binding it")
                })
            }
        }
    )*};
}
try_from_integer!(u64, usize, isize, i128, u128);

impl From<bool> for SqlValue<'_> {
    fn from(v: bool) -> Self {
        SqlValue::Integer(i64::from(v))
    }
}
impl From<f64> for SqlValue<'_> {
    fn from(v: f64) -> Self {
        SqlValue::Real(v)
    }
}
impl From<f32> for SqlValue<'_> {
    fn from(v: f32) -> Self {
        SqlValue::Real(f64::from(v))
    }
}
impl<'a> From<&'a str> for SqlValue<'a> {
    fn from(v: &'a str) -> Self {
        SqlValue::Text(v)
    }
}
impl<'a> From<&'a String> for SqlValue<'a> {
    fn from(v: &'a String) -> Self {
        SqlValue::Text(v)
    }
}
impl<'a> From<&'a [u8]> for SqlValue<'a> {
    fn from(v: &'a [u8]) -> Self {
        SqlValue::Blob(v)
    }
}
impl<'a, const N: usize> From<&'a [u8; N]> for SqlValue<'a> {
    fn from(v: &'a [u8; N]) -> Self {
        SqlValue::Blob(v)
    }
}
impl<'a> From<&'a Vec<u8>> for SqlValue<'a> {
    fn from(v: &'a Vec<u8>) -> Self {
        SqlValue::Blob(v)
    }
}
impl<'a, T: Into<SqlValue<'a>>> From<Option<T>> for SqlValue<'a> {
    fn from(v: Option<T>) -> Self {
        v.map_or(SqlValue::Null, Into::into)
    }
}

/// A Rust type one SQL value reads as: what [`Context::query_scalar`]
/// returns.
///
/// | type | reads |
/// |---|---|
/// | `i64` | an integer |
/// | `f64` | a float, or an integer (`TOTAL()` and `AVG()` give floats, `SUM()` and `COUNT()` integers) |
/// | `bool` | the integer 1 or 0 |
/// | `String` | text |
/// | `Vec<u8>` | a blob, or text as its bytes |
/// | `Option<T>` | NULL as `None`, else as `T` |
///
/// Only these types implement it (the trait is sealed), so the list can grow
/// in a later 0.1 release without breaking anyone.
///
/// [`Context::query_scalar`]: crate::Context::query_scalar
pub trait FromSql: sealed::Sealed {}

mod sealed {
    use super::SqlValue;

    /// The conversion behind [`super::FromSql`], kept private so that only
    /// this crate implements it.
    pub trait Sealed: Sized {
        /// What the type expects, for messages: `an integer`.
        const EXPECTED: &'static str;
        /// The value converted, or `None` when it cannot be read as `Self`.
        fn convert(value: SqlValue<'_>) -> Option<Self>;
    }
}

/// Implements [`FromSql`] for a type with its expectation and conversion.
macro_rules! from_sql {
    ($t:ty, $expected:literal, |$value:ident| $convert:expr) => {
        impl sealed::Sealed for $t {
            const EXPECTED: &'static str = $expected;
            fn convert($value: SqlValue<'_>) -> Option<Self> {
                $convert
            }
        }
        impl FromSql for $t {}
    };
}

from_sql!(i64, "an integer", |value| match value {
    SqlValue::Integer(v) => Some(v),
    _ => None,
});
from_sql!(f64, "a number", |value| match value {
    SqlValue::Real(v) => Some(v),
    SqlValue::Integer(v) => Some(v as f64),
    _ => None,
});
from_sql!(bool, "1 or 0", |value| match value {
    SqlValue::Integer(1) => Some(true),
    SqlValue::Integer(0) => Some(false),
    _ => None,
});
from_sql!(String, "text", |value| match value {
    SqlValue::Text(v) => Some(v.to_owned()),
    _ => None,
});
from_sql!(Vec<u8>, "a blob", |value| match value {
    SqlValue::Blob(v) => Some(v.to_vec()),
    SqlValue::Text(v) => Some(v.as_bytes().to_vec()),
    _ => None,
});

impl<T: FromSql> sealed::Sealed for Option<T> {
    const EXPECTED: &'static str = T::EXPECTED;
    fn convert(value: SqlValue<'_>) -> Option<Self> {
        match value {
            SqlValue::Null => Some(None),
            value => T::convert(value).map(Some),
        }
    }
}
impl<T: FromSql> FromSql for Option<T> {}

/// Reads `value` as `T`, or says what was found instead. `what` names where
/// the value came from (`column 2`, or a statement).
pub(crate) fn read_as<T: FromSql>(value: SqlValue<'_>, what: &str, code: &str) -> Result<T> {
    T::convert(value).ok_or_else(|| mismatch(T::EXPECTED, value, what, code))
}

/// `what: expected …, found …`, with a hint for the two cases that surprise:
/// NULL, and a float where an integer was expected.
fn mismatch(expected: &str, found: SqlValue<'_>, what: &str, code: &str) -> Error {
    use sealed::Sealed;
    let error = Error::new(
        code,
        format!("{what}: expected {expected}, found {}", found.describe()),
    );
    match found {
        SqlValue::Null => {
            error.with_help("read it as an Option, or give a default in the SQL: COALESCE(x, 0)")
        }
        SqlValue::Real(_) if expected == <i64 as Sealed>::EXPECTED => {
            error.with_help("TOTAL() and AVG() give floats: read an f64, or use SUM(), or CAST(x AS INTEGER)")
        }
        _ => error,
    }
}

/// One streamed result row, valid only inside the row callback.
///
/// Columns are numbered from 0, in the order the query selects them.
pub struct Row<'r> {
    values: &'r [abi::Value<'r>],
}

impl<'r> Row<'r> {
    pub(crate) fn new(values: &'r [abi::Value<'r>]) -> Self {
        Self { values }
    }

    /// Number of columns.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// True for a row with no columns.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The raw value of column `index`.
    pub fn get(&self, index: usize) -> Result<SqlValue<'r>> {
        self.values.get(index).map(SqlValue::from_abi).ok_or_else(|| {
            Error::new(
                "sdk.row.column",
                format!(
                    "column {index} does not exist; the row has {} columns",
                    self.values.len()
                ),
            )
        })
    }

    /// Column `index` read as `T` (see [`FromSql`]), with this crate's
    /// `sdk.row.type` error when it holds something else.
    fn read<T: FromSql>(&self, index: usize) -> Result<T> {
        // The column's name is written only for an error: every read of a
        // large scan comes through here (formatting it up front cost
        // otc.summarize a fifth of its instructions).
        let value = self.get(index)?;
        T::convert(value)
            .ok_or_else(|| mismatch(T::EXPECTED, value, &format!("column {index}"), "sdk.row.type"))
    }

    /// Column `index` as an integer; NULL gives `None`.
    pub fn opt_i64(&self, index: usize) -> Result<Option<i64>> {
        self.read(index)
    }

    /// Column `index` as an integer.
    pub fn i64(&self, index: usize) -> Result<i64> {
        self.read(index)
    }

    /// Column `index` as a float (an integer column converts); NULL gives `None`.
    pub fn opt_f64(&self, index: usize) -> Result<Option<f64>> {
        self.read(index)
    }

    /// Column `index` as a float (an integer column converts).
    pub fn f64(&self, index: usize) -> Result<f64> {
        self.read(index)
    }

    /// Column `index` as bytes (blob or text); NULL gives `None`.
    pub fn opt_bytes(&self, index: usize) -> Result<Option<&'r [u8]>> {
        match self.get(index)? {
            SqlValue::Null => Ok(None),
            SqlValue::Blob(v) => Ok(Some(v)),
            SqlValue::Text(v) => Ok(Some(v.as_bytes())),
            other => Err(self.mismatch("a blob", other, index)),
        }
    }

    /// Column `index` as text; NULL gives `None`.
    pub fn opt_str(&self, index: usize) -> Result<Option<&'r str>> {
        match self.get(index)? {
            SqlValue::Null => Ok(None),
            SqlValue::Text(v) => Ok(Some(v)),
            other => Err(self.mismatch("text", other, index)),
        }
    }

    /// Column `index` as text.
    pub fn str(&self, index: usize) -> Result<&'r str> {
        match self.get(index)? {
            SqlValue::Text(v) => Ok(v),
            other => Err(self.mismatch("text", other, index)),
        }
    }

    fn mismatch(&self, expected: &str, found: SqlValue<'_>, index: usize) -> Error {
        mismatch(expected, found, &format!("column {index}"), "sdk.row.type")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every storage class crosses to the ABI and back unchanged, still
    /// borrowing the same text and bytes.
    #[test]
    fn sql_values_round_trip_through_the_abi() {
        let text = String::from("Ann");
        let bytes = vec![0_u8, 1, 255];
        for value in [
            SqlValue::Null,
            SqlValue::Integer(i64::MIN),
            SqlValue::Integer(i64::MAX),
            SqlValue::Real(-2.5),
            SqlValue::Text(&text),
            SqlValue::Text(""),
            SqlValue::Blob(&bytes),
            SqlValue::Blob(&[]),
        ] {
            let abi = value.to_abi();
            let back = SqlValue::from_abi(&abi);
            assert_eq!(back, value);
            match (value, back) {
                (SqlValue::Text(a), SqlValue::Text(b)) => assert!(std::ptr::eq(a, b), "text was copied"),
                (SqlValue::Blob(a), SqlValue::Blob(b)) => assert!(std::ptr::eq(a, b), "bytes were copied"),
                _ => {}
            }
        }
    }

    #[test]
    fn rust_values_convert_and_wide_integers_are_checked() {
        assert_eq!(SqlValue::from(-7_i8), SqlValue::Integer(-7));
        assert_eq!(SqlValue::from(u32::MAX), SqlValue::Integer(4_294_967_295));
        assert_eq!(SqlValue::from(false), SqlValue::Integer(0));
        assert_eq!(SqlValue::from(1.5_f32), SqlValue::Real(1.5));
        assert_eq!(SqlValue::from(&b"ab"[..]), SqlValue::Blob(b"ab"));
        assert_eq!(SqlValue::from(b"ab"), SqlValue::Blob(b"ab"));
        assert_eq!(SqlValue::from(Some("x")), SqlValue::Text("x"));
        assert_eq!(
            SqlValue::try_from(i64::MAX as u64).unwrap(),
            SqlValue::Integer(i64::MAX)
        );
        assert_eq!(SqlValue::try_from(-3_isize).unwrap(), SqlValue::Integer(-3));
        let error = SqlValue::try_from(i64::MAX as u64 + 1).unwrap_err();
        assert_eq!(error.code, "sdk.value.range");
        assert_eq!(
            error.message,
            "9223372036854775808 does not fit in SQLite's 64-bit signed integer"
        );
        assert_eq!(SqlValue::try_from(i128::MIN).unwrap_err().code, "sdk.value.range");
    }

    #[test]
    fn rows_read_columns_and_say_what_they_found_instead() {
        let values = [
            abi::Value::Integer(3),
            abi::Value::Real(42.0),
            abi::Value::Null,
            abi::Value::Text("abc".into()),
        ];
        let row = Row::new(&values);
        assert_eq!(row.i64(0).unwrap(), 3);
        assert_eq!(row.f64(0).unwrap(), 3.0);
        assert_eq!(row.f64(1).unwrap(), 42.0);
        assert_eq!(row.opt_i64(2).unwrap(), None);
        assert_eq!(row.str(3).unwrap(), "abc");
        assert_eq!(row.opt_bytes(3).unwrap(), Some(&b"abc"[..]));

        let total = row.i64(1).unwrap_err();
        assert_eq!(total.code, "sdk.row.type");
        assert_eq!(
            total.message,
            "column 1: expected an integer, found a float (42.0)"
        );
        assert!(total.help.unwrap().contains("TOTAL()"));
        let null = row.str(2).unwrap_err();
        assert_eq!(null.message, "column 2: expected text, found NULL");
        assert!(null.help.unwrap().contains("Option"));
        assert_eq!(
            row.opt_str(0).unwrap_err().message,
            "column 0: expected text, found an integer (3)"
        );
        assert_eq!(row.get(4).unwrap_err().code, "sdk.row.column");
    }

    #[test]
    fn scalars_read_as_each_type() {
        assert!(read_as::<bool>(SqlValue::Integer(1), "x", "c").unwrap());
        assert!(read_as::<bool>(SqlValue::Integer(2), "x", "c").is_err());
        assert_eq!(read_as::<Option<i64>>(SqlValue::Null, "x", "c").unwrap(), None);
        assert_eq!(
            read_as::<Option<i64>>(SqlValue::Integer(5), "x", "c").unwrap(),
            Some(5)
        );
        assert_eq!(read_as::<Vec<u8>>(SqlValue::Blob(b"z"), "x", "c").unwrap(), b"z");
        assert_eq!(
            read_as::<String>(SqlValue::Blob(b"z"), "x", "c")
                .unwrap_err()
                .message,
            "x: expected text, found a blob of 1 bytes"
        );
    }
}
