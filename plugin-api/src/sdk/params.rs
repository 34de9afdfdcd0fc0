//! Parameter specs a pipeline declares, and the typed getters it reads them with.
//!
//! The host validates every parameter against the spec (and fills defaults)
//! before a pipeline is created, so a getter failing means the spec and the
//! code disagree; the error says which parameter.

use super::error::{Error, Result};
use crate::abi;
use abi_stable::std_types::ROption;
use serde_json::{Map, Value as Json};
use std::path::PathBuf;

/// The kinds of parameter the host knows how to check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    String,
    Integer,
    Number,
    Boolean,
    /// `YYYY-MM-DD`.
    Date,
    /// A file or folder; relative paths are resolved by the host.
    Path,
}

impl ParamKind {
    /// The spelling used in the manifest.
    pub fn as_str(self) -> &'static str {
        match self {
            ParamKind::String => "string",
            ParamKind::Integer => "integer",
            ParamKind::Number => "number",
            ParamKind::Boolean => "boolean",
            ParamKind::Date => "date",
            ParamKind::Path => "path",
        }
    }
}

/// One declared parameter. Build with [`Param::new`] and the chained setters.
#[derive(Debug, Clone)]
pub struct Param {
    name: String,
    kind: ParamKind,
    required: bool,
    default: Option<String>,
    help: String,
}

impl Param {
    /// An optional parameter with no default.
    pub fn new(name: impl Into<String>, kind: ParamKind) -> Self {
        Self {
            name: name.into(),
            kind,
            required: false,
            default: None,
            help: String::new(),
        }
    }

    /// The run is refused without it.
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }

    /// The value used when the user gives none, written as on the command line.
    pub fn default(mut self, value: impl Into<String>) -> Self {
        self.default = Some(value.into());
        self
    }

    /// One line shown by `describe` and `list`.
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = help.into();
        self
    }

    pub(crate) fn to_abi(&self) -> abi::ParamSpec {
        abi::ParamSpec {
            name: self.name.as_str().into(),
            kind: self.kind.as_str().into(),
            required: self.required,
            default: self
                .default
                .as_deref()
                .map(Into::into)
                .map_or(ROption::RNone, ROption::RSome),
            help: self.help.as_str().into(),
        }
    }
}

/// The validated parameters of one run.
#[derive(Debug, Clone, Default)]
pub struct Params {
    values: Map<String, Json>,
}

impl Params {
    /// Parses the JSON object the host sends.
    pub fn from_json(json: &str) -> Result<Self> {
        match serde_json::from_str(json) {
            Ok(Json::Object(values)) => Ok(Self { values }),
            Ok(other) => Err(Error::new(
                "sdk.params.json",
                format!("expected a JSON object, found {other}"),
            )),
            Err(error) => Err(Error::new(
                "sdk.params.json",
                format!("parameters are not JSON: {error}"),
            )),
        }
    }

    /// True when the parameter was given or has a default.
    pub fn contains(&self, name: &str) -> bool {
        self.values.get(name).is_some_and(|v| !v.is_null())
    }

    /// A text parameter (string, date and path kinds), if present.
    pub fn opt_str(&self, name: &str) -> Result<Option<&str>> {
        match self.values.get(name) {
            None | Some(Json::Null) => Ok(None),
            Some(Json::String(s)) => Ok(Some(s)),
            Some(other) => Err(mismatch(name, "text", other)),
        }
    }

    /// A required text parameter.
    pub fn str(&self, name: &str) -> Result<&str> {
        self.opt_str(name)?.ok_or_else(|| missing(name))
    }

    /// A path parameter, if present.
    pub fn opt_path(&self, name: &str) -> Result<Option<PathBuf>> {
        Ok(self.opt_str(name)?.map(PathBuf::from))
    }

    /// An integer parameter, if present.
    pub fn opt_i64(&self, name: &str) -> Result<Option<i64>> {
        match self.values.get(name) {
            None | Some(Json::Null) => Ok(None),
            Some(value) => value
                .as_i64()
                .map(Some)
                .ok_or_else(|| mismatch(name, "an integer", value)),
        }
    }

    /// A required integer parameter.
    pub fn i64(&self, name: &str) -> Result<i64> {
        self.opt_i64(name)?.ok_or_else(|| missing(name))
    }

    /// A number parameter, if present (integers are accepted too).
    pub fn opt_f64(&self, name: &str) -> Result<Option<f64>> {
        match self.values.get(name) {
            None | Some(Json::Null) => Ok(None),
            Some(value) => value
                .as_f64()
                .map(Some)
                .ok_or_else(|| mismatch(name, "a number", value)),
        }
    }

    /// A required number parameter.
    pub fn f64(&self, name: &str) -> Result<f64> {
        self.opt_f64(name)?.ok_or_else(|| missing(name))
    }

    /// A boolean parameter, if present.
    pub fn opt_bool(&self, name: &str) -> Result<Option<bool>> {
        match self.values.get(name) {
            None | Some(Json::Null) => Ok(None),
            Some(value) => value
                .as_bool()
                .map(Some)
                .ok_or_else(|| mismatch(name, "true or false", value)),
        }
    }
}

fn missing(name: &str) -> Error {
    Error::new(
        "sdk.params.missing",
        format!("parameter `{name}` is required but was not given"),
    )
    .with_help(format!("pass it with -p {name}=..."))
}

fn mismatch(name: &str, expected: &str, found: &Json) -> Error {
    Error::new(
        "sdk.params.type",
        format!("parameter `{name}`: expected {expected}, found {found}"),
    )
}
