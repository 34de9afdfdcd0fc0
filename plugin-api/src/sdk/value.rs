//! SQL values and result rows in plain Rust, converted to the ABI's at the edge.

use super::error::{Error, Result};
use crate::abi;

/// A value bound to a statement: one of SQLite's five storage classes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SqlValue<'a> {
    Null,
    Integer(i64),
    Real(f64),
    Text(&'a str),
    Blob(&'a [u8]),
}

impl<'a> SqlValue<'a> {
    pub(crate) fn to_abi(self) -> abi::Value<'a> {
        match self {
            SqlValue::Null => abi::Value::Null,
            SqlValue::Integer(v) => abi::Value::Integer(v),
            SqlValue::Real(v) => abi::Value::Real(v),
            SqlValue::Text(v) => abi::Value::Text(v.into()),
            SqlValue::Blob(v) => abi::Value::Blob(v.into()),
        }
    }

    fn from_abi(value: &abi::Value<'a>) -> Self {
        match *value {
            abi::Value::Null => SqlValue::Null,
            abi::Value::Integer(v) => SqlValue::Integer(v),
            abi::Value::Real(v) => SqlValue::Real(v),
            abi::Value::Text(v) => SqlValue::Text(v.as_str()),
            abi::Value::Blob(v) => SqlValue::Blob(v.as_slice()),
        }
    }
}

impl From<i64> for SqlValue<'_> {
    fn from(v: i64) -> Self {
        SqlValue::Integer(v)
    }
}
impl From<f64> for SqlValue<'_> {
    fn from(v: f64) -> Self {
        SqlValue::Real(v)
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
impl<'a, T: Into<SqlValue<'a>>> From<Option<T>> for SqlValue<'a> {
    fn from(v: Option<T>) -> Self {
        v.map_or(SqlValue::Null, Into::into)
    }
}

/// One streamed result row, valid only inside the row callback.
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

    /// Column `index` as an integer; NULL gives `None`.
    pub fn opt_i64(&self, index: usize) -> Result<Option<i64>> {
        match self.get(index)? {
            SqlValue::Null => Ok(None),
            SqlValue::Integer(v) => Ok(Some(v)),
            other => Err(type_error(index, "an integer", other)),
        }
    }

    /// Column `index` as an integer.
    pub fn i64(&self, index: usize) -> Result<i64> {
        self.opt_i64(index)?
            .ok_or_else(|| type_error(index, "an integer", SqlValue::Null))
    }

    /// Column `index` as a float (an integer column converts); NULL gives `None`.
    pub fn opt_f64(&self, index: usize) -> Result<Option<f64>> {
        match self.get(index)? {
            SqlValue::Null => Ok(None),
            SqlValue::Real(v) => Ok(Some(v)),
            SqlValue::Integer(v) => Ok(Some(v as f64)),
            other => Err(type_error(index, "a number", other)),
        }
    }

    /// Column `index` as a float.
    pub fn f64(&self, index: usize) -> Result<f64> {
        self.opt_f64(index)?
            .ok_or_else(|| type_error(index, "a number", SqlValue::Null))
    }

    /// Column `index` as bytes (blob or text); NULL gives `None`.
    pub fn opt_bytes(&self, index: usize) -> Result<Option<&'r [u8]>> {
        match self.get(index)? {
            SqlValue::Null => Ok(None),
            SqlValue::Blob(v) => Ok(Some(v)),
            SqlValue::Text(v) => Ok(Some(v.as_bytes())),
            other => Err(type_error(index, "a blob", other)),
        }
    }

    /// Column `index` as text; NULL gives `None`.
    pub fn opt_str(&self, index: usize) -> Result<Option<&'r str>> {
        match self.get(index)? {
            SqlValue::Null => Ok(None),
            SqlValue::Text(v) => Ok(Some(v)),
            other => Err(type_error(index, "text", other)),
        }
    }

    /// Column `index` as text.
    pub fn str(&self, index: usize) -> Result<&'r str> {
        self.opt_str(index)?
            .ok_or_else(|| type_error(index, "text", SqlValue::Null))
    }
}

fn type_error(index: usize, expected: &str, found: SqlValue<'_>) -> Error {
    Error::new(
        "sdk.row.type",
        format!("column {index}: expected {expected}, found {found:?}"),
    )
}
