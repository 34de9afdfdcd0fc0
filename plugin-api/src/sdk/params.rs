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
///
/// Exhaustive for the 0.1 line: a host refuses a plugin that declares a kind
/// it does not know, so a new kind comes with a new line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    /// Any text.
    String,
    /// A 64-bit integer: `42`, `-7`.
    Integer,
    /// A number: `1.5`, `2`.
    Number,
    /// `true`/`false`, `yes`/`no`, `1`/`0`.
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

    /// A path parameter, if present. A relative path that does not exist
    /// from the working folder arrives joined to the host's data folder when
    /// it exists there (`--data-dir`).
    pub fn opt_path(&self, name: &str) -> Result<Option<PathBuf>> {
        Ok(self.opt_str(name)?.map(PathBuf::from))
    }

    /// A required path parameter.
    ///
    /// ```
    /// use spine_plugin_api::Params;
    ///
    /// let params = Params::from_json(r#"{"file_path": "data/quotes.csv"}"#).unwrap();
    /// assert_eq!(params.path("file_path").unwrap(), std::path::Path::new("data/quotes.csv"));
    /// assert_eq!(params.path("other").unwrap_err().code, "sdk.params.missing");
    /// ```
    pub fn path(&self, name: &str) -> Result<PathBuf> {
        self.opt_path(name)?.ok_or_else(|| missing(name))
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

    /// A required boolean parameter (declare it with a default to make it a
    /// switch that is off unless given).
    ///
    /// ```
    /// use spine_plugin_api::Params;
    ///
    /// let params = Params::from_json(r#"{"dry_run": true, "days": 5}"#).unwrap();
    /// assert!(params.bool("dry_run").unwrap());
    /// assert_eq!(params.bool("days").unwrap_err().code, "sdk.params.type");
    /// ```
    pub fn bool(&self, name: &str) -> Result<bool> {
        self.opt_bool(name)?.ok_or_else(|| missing(name))
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
