//! `Plugin` and `Pipeline`: what a plugin author writes.

use super::context::Context;
use super::error::{Error, Result};
use super::migration::Migration;
use super::params::{Param, Params};
use crate::abi;
use serde_json::{Map, Value as Json};

/// One pipeline's work: a struct holding what its factory read from the
/// parameters, and a `run` method.
pub trait Pipeline: 'static {
    /// Does the work, called once inside the host's transaction: `Ok`
    /// commits every write with the run's record, `Err` (or a panic) rolls
    /// them back and records the run as failed.
    ///
    /// ```
    /// use spine_plugin_api::{Context, Metrics, Pipeline, Result};
    ///
    /// struct Hello { name: String }
    ///
    /// impl Pipeline for Hello {
    ///     fn run(&mut self, ctx: &mut Context<'_>) -> Result<Metrics> {
    ///         ctx.execute("INSERT INTO acme_greetings (name) VALUES (?1)", &[(&self.name).into()])?;
    ///         Ok(Metrics::new().with("greeted", 1))
    ///     }
    /// }
    /// ```
    fn run(&mut self, ctx: &mut Context<'_>) -> Result<Metrics>;
}

/// The figures a run reports, as a JSON object (`{"inserted": 3, ...}`):
/// printed by `spine-host run` and stored with the execution.
///
/// ```
/// use spine_plugin_api::Metrics;
///
/// let metrics = Metrics::new().with("inserted", 3_u64).with("source", "given").with("weeks", vec!["2025-12-12"]);
/// assert_eq!(metrics.get("inserted").and_then(|v| v.as_u64()), Some(3));
/// ```
///
/// Its values are `serde_json` 1 values, and they stay so for the 0.1 line:
/// `with` takes anything `serde_json::Value` converts from (integers,
/// floats, bools, text, `Vec`s and `Option`s of those), and `get` returns a
/// `&serde_json::Value`. Hiding that type would break the plugins that pass
/// one, so it waits for a new line.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metrics(Map<String, Json>);

impl Metrics {
    /// No figures yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one figure; later values replace earlier ones with the same key.
    pub fn with(mut self, key: &str, value: impl Into<Json>) -> Self {
        self.0.insert(key.to_owned(), value.into());
        self
    }

    /// The figure stored under `key`.
    pub fn get(&self, key: &str) -> Option<&Json> {
        self.0.get(key)
    }

    pub(crate) fn to_json(&self) -> String {
        Json::Object(self.0.clone()).to_string()
    }
}

type Factory = Box<dyn Fn(&Params) -> Result<Box<dyn Pipeline>> + Send + Sync>;

struct PipelineEntry {
    name: String,
    description: String,
    params: Vec<Param>,
    factory: Factory,
}

/// A pipeline's declaration: its full name (`<domain>.<name>`), a one-line
/// description and its parameters.
pub struct PipelineDef {
    name: String,
    description: String,
    params: Vec<Param>,
}

impl PipelineDef {
    /// A pipeline named `<domain>.<name>` with a one-line description (shown
    /// by `spine-host list` and `describe`).
    pub fn new(name: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            description: description.into(),
            params: Vec::new(),
        }
    }

    /// Declares one parameter.
    pub fn param(mut self, param: Param) -> Self {
        self.params.push(param);
        self
    }
}

/// Everything a plugin offers: its domain, migrations and pipelines. Built
/// once, when the host loads the library (see [`export_plugin!`](crate::export_plugin)),
/// or by a test (the `spine-plugin-test` harness takes it as it is).
///
/// ```
/// use spine_plugin_api::{Metrics, Param, ParamKind, PipelineDef, Plugin};
///
/// struct Count { n: i64 }
/// impl spine_plugin_api::Pipeline for Count {
///     fn run(&mut self, _ctx: &mut spine_plugin_api::Context<'_>) -> spine_plugin_api::Result<Metrics> {
///         Ok(Metrics::new().with("total", self.n * (self.n + 1) / 2))
///     }
/// }
///
/// let plugin = Plugin::new("acme", "1.0.0", "Acme figures")
///     .migration(1, "acme_counts", "CREATE TABLE acme_counts (n INTEGER)")
///     .pipeline(
///         PipelineDef::new("acme.count", "Adds up 1 + 2 + … + n")
///             .param(Param::new("n", ParamKind::Integer).default("10").help("The last number")),
///         |params| Ok(Count { n: params.i64("n")? }),
///     );
/// assert_eq!(plugin.domain(), "acme");
/// ```
pub struct Plugin {
    domain: String,
    version: String,
    description: String,
    migrations: Vec<Migration>,
    pipelines: Vec<PipelineEntry>,
}

impl Plugin {
    /// `domain` prefixes every pipeline and table name of the plugin.
    pub fn new(
        domain: impl Into<String>,
        version: impl Into<String>,
        description: impl Into<String>,
    ) -> Self {
        Self {
            domain: domain.into(),
            version: version.into(),
            description: description.into(),
            migrations: Vec::new(),
            pipelines: Vec::new(),
        }
    }

    /// Adds migration `version` (1, 2, 3, … without gaps). Once released, a
    /// migration's SQL must never change: the host refuses checksum drift.
    /// [`Plugin::migrations`] with [`include_migration!`](crate::include_migration)
    /// writes the version and name once, in the file name.
    pub fn migration(self, version: u32, name: impl Into<String>, sql: impl Into<String>) -> Self {
        self.migrations([Migration::new(version, name, sql)])
    }

    /// Adds migrations, in order; usually files embedded with
    /// [`include_migration!`](crate::include_migration).
    ///
    /// ```
    /// use spine_plugin_api::{Migration, Plugin};
    ///
    /// let plugin = Plugin::new("acme", "1.0.0", "Acme").migrations([
    ///     Migration::new(1, "acme_quotes", "CREATE TABLE acme_quotes (symbol TEXT)"),
    ///     Migration::new(2, "acme_quotes_by_symbol", "CREATE INDEX acme_quotes_by_symbol ON acme_quotes (symbol)"),
    /// ]);
    /// ```
    pub fn migrations(mut self, migrations: impl IntoIterator<Item = Migration>) -> Self {
        self.migrations.extend(migrations);
        self
    }

    /// Adds a pipeline; `create` builds it from the validated parameters.
    pub fn pipeline<P, F>(mut self, def: PipelineDef, create: F) -> Self
    where
        P: Pipeline,
        F: Fn(&Params) -> Result<P> + Send + Sync + 'static,
    {
        self.pipelines.push(PipelineEntry {
            name: def.name,
            description: def.description,
            params: def.params,
            factory: Box::new(move |params| Ok(Box::new(create(params)?) as Box<dyn Pipeline>)),
        });
        self
    }

    /// The domain name.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    pub(crate) fn manifest(&self) -> abi::Manifest {
        abi::Manifest {
            domain: self.domain.as_str().into(),
            version: self.version.as_str().into(),
            description: self.description.as_str().into(),
            pipelines: self
                .pipelines
                .iter()
                .map(|p| abi::PipelineSpec {
                    name: p.name.as_str().into(),
                    description: p.description.as_str().into(),
                    params: p.params.iter().map(Param::to_abi).collect(),
                })
                .collect(),
        }
    }

    pub(crate) fn abi_migrations(&self) -> Vec<abi::MigrationDef> {
        self.migrations.iter().map(Migration::to_abi).collect()
    }

    /// Creates pipeline `name` from `params`: what the host calls, and what a
    /// plugin's own tests can call directly.
    pub fn create(&self, name: &str, params: &Params) -> Result<Box<dyn Pipeline>> {
        let entry = self.pipelines.iter().find(|p| p.name == name).ok_or_else(|| {
            Error::new(
                "sdk.pipeline.unknown",
                format!("plugin `{}` has no pipeline `{name}`", self.domain),
            )
        })?;
        (entry.factory)(params)
    }
}
