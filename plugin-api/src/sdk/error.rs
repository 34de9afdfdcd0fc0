//! The plugin author's error type, and its conversion to and from the ABI's.

use crate::abi::PluginError;
use abi_stable::std_types::{ROption, RString};
use std::fmt;

/// A flat, labelled error: a dotted `code`, a `message`, optional `help` and an
/// optional `location` (for input errors: `file: line N`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub code: String,
    pub message: String,
    pub help: Option<String>,
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
