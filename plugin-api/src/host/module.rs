//! A plugin's root module as the host calls it: its manifest and migrations,
//! copied into plain Rust values, and its pipeline factory.

use super::services::PluginPipeline;
use crate::abi::{self, SpinePluginRef};
use crate::sdk::{Error, Migration};

/// A plugin's root module: the entry points of a loaded library, or of an
/// in-process plugin (the test harness). Each entry point catches the
/// plugin's panics on the plugin's side, so a call returns an error instead.
#[derive(Clone, Copy)]
pub struct PluginModule(SpinePluginRef);

impl PluginModule {
    pub(crate) fn new(module: SpinePluginRef) -> Self {
        Self(module)
    }

    /// The plugin's domain, version, description and pipelines.
    pub fn manifest(&self) -> Result<Manifest, Error> {
        let manifest = self.0.manifest()().into_result()?;
        Ok(Manifest {
            domain: manifest.domain.into(),
            version: manifest.version.into(),
            description: manifest.description.into(),
            pipelines: manifest.pipelines.iter().map(PipelineSpec::from_abi).collect(),
        })
    }

    /// The plugin's own SQL migrations, in the order it declares them.
    pub fn migrations(&self) -> Result<Vec<Migration>, Error> {
        let migrations = self.0.migrations()().into_result()?;
        Ok(migrations.iter().map(Migration::from_abi).collect())
    }

    /// Asks the plugin's factory for pipeline `name`, with its parameters
    /// as a JSON object; nothing runs yet.
    pub fn create_pipeline(&self, name: &str, params_json: &str) -> Result<PluginPipeline, Error> {
        let created = (self.0.create_pipeline())(name.into(), params_json.into()).into_result()?;
        Ok(PluginPipeline::new(created))
    }
}

/// What a plugin is and offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// The domain: the prefix of its pipelines and tables.
    pub domain: String,
    /// The plugin's own version.
    pub version: String,
    /// One line on what it does.
    pub description: String,
    /// Every pipeline it offers.
    pub pipelines: Vec<PipelineSpec>,
}

/// One pipeline a plugin offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineSpec {
    /// `<domain>.<name>`, as the plugin declares it (the host checks it).
    pub name: String,
    /// One line on what it does.
    pub description: String,
    /// The parameters it takes.
    pub params: Vec<ParamSpec>,
}

/// One parameter a pipeline takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamSpec {
    /// Its name, as in `-p name=value`.
    pub name: String,
    /// `string`, `integer`, `number`, `boolean`, `date` or `path`: text, so
    /// that a kind a host does not know is refused by name.
    pub kind: String,
    /// Whether a run must give it.
    pub required: bool,
    /// Its value when a run does not give it.
    pub default: Option<String>,
    /// What it is for.
    pub help: String,
}

impl PipelineSpec {
    fn from_abi(spec: &abi::PipelineSpec) -> Self {
        Self {
            name: spec.name.to_string(),
            description: spec.description.to_string(),
            params: spec.params.iter().map(ParamSpec::from_abi).collect(),
        }
    }
}

impl ParamSpec {
    fn from_abi(param: &abi::ParamSpec) -> Self {
        Self {
            name: param.name.to_string(),
            kind: param.kind.to_string(),
            required: param.required,
            default: param.default.as_ref().into_option().map(|d| d.to_string()),
            help: param.help.to_string(),
        }
    }
}
