//! `Plugin` and `Pipeline`: what a plugin author writes.

use super::context::Context;
use super::error::{Error, Result};
use super::params::{Param, Params};
use crate::abi;
use serde_json::{Map, Value as Json};

/// One pipeline's work. `run` is called once, inside the host's transaction.
pub trait Pipeline: 'static {
    fn run(&mut self, ctx: &mut Context<'_>) -> Result<Metrics>;
}

/// The figures a run reports, as a JSON object (`{"inserted": 3, ...}`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metrics(Map<String, Json>);

impl Metrics {
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

/// Everything a plugin offers. Built once, when the host loads the library.
pub struct Plugin {
    domain: String,
    version: String,
    description: String,
    migrations: Vec<(u32, String, String)>,
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
    pub fn migration(mut self, version: u32, name: impl Into<String>, sql: impl Into<String>) -> Self {
        self.migrations.push((version, name.into(), sql.into()));
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

    pub(crate) fn migrations(&self) -> Vec<abi::MigrationDef> {
        self.migrations
            .iter()
            .map(|(version, name, sql)| abi::MigrationDef {
                version: *version,
                name: name.as_str().into(),
                sql: sql.as_str().into(),
            })
            .collect()
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
