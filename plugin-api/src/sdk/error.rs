//! The plugin author's error type, and its conversion to and from the ABI's.

use crate::abi::PluginError;
use abi_stable::std_types::{ROption, RString};
use std::fmt;

/// A flat, labelled error: a dotted `code`, a `message`, optional `help` and an
/// optional `location` (for input errors: `file: line N`).
///
/// ```
/// use spine_plugin_api::Error;
///
/// let error = Error::new("acme.read.price", "expected a price, found \"1,2O\"")
///     .with_location("data/x.psv: line 42")
///     .with_help("fix the file and run again");
/// assert_eq!(error.code, "acme.read.price");
/// assert_eq!(
///     error.to_string(),
///     "data/x.psv: line 42: expected a price, found \"1,2O\" (help: fix the file and run again)"
/// );
/// ```
///
/// The four fields are public and stay exactly these four for the 0.1 line:
/// they mirror the error that crosses the ABI, which cannot grow before 0.2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// A dotted label: `<domain>.<what>` for a plugin's own errors
    /// (`<domain>.params…` refuses a request, see the guide), `sdk.…` for
    /// this crate's, `host.…` for the host's.
    pub code: String,
    /// What is wrong, in one line.
    pub message: String,
    /// What to do about it.
    pub help: Option<String>,
    /// Where: a file and line, a record.
    pub location: Option<String>,
}

/// Result alias used throughout the SDK.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error with a dotted code such as `otc.ingest.missing_column`.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
            help: None,
            location: None,
        }
    }

    /// Adds a hint telling the user what to do.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Adds where the problem is, for example `data/x.psv: line 42`.
    pub fn with_location(mut self, location: impl Into<String>) -> Self {
        self.location = Some(location.into());
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(location) = &self.location {
            write!(f, "{location}: ")?;
        }
        write!(f, "{}", self.message)?;
        if let Some(help) = &self.help {
            write!(f, " (help: {help})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

impl From<Error> for PluginError {
    fn from(error: Error) -> Self {
        PluginError {
            code: error.code.into(),
            message: error.message.into(),
            help: error.help.map(RString::from).into(),
            location: error.location.map(RString::from).into(),
        }
    }
}

impl From<PluginError> for Error {
    fn from(error: PluginError) -> Self {
        let text = |value: ROption<RString>| value.into_option().map(String::from);
        Error {
            code: error.code.into(),
            message: error.message.into(),
            help: text(error.help),
            location: text(error.location),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An error crosses to the ABI and back whole, with or without its
    /// optional parts.
    #[test]
    fn errors_round_trip_through_the_abi() {
        for error in [
            Error::new("acme.x", "bare"),
            Error::new("acme.x", "with help").with_help("do this"),
            Error::new("acme.x", "with location").with_location("f.psv: line 2"),
            Error::new("", "").with_help("").with_location(""),
            Error::new("acme.x.y", "all of it, ünïcode")
                .with_help("h")
                .with_location("l"),
        ] {
            let abi = PluginError::from(error.clone());
            assert_eq!(abi.code.as_str(), error.code);
            assert_eq!(
                abi.help.as_ref().map(RString::as_str).into_option(),
                error.help.as_deref()
            );
            assert_eq!(Error::from(abi), error);
        }
    }
}
