//! The registry: every plugin loaded from the plugins folder, and every file
//! refused with its reason. One bad file never stops the good ones.

use crate::discover;
use crate::load::{load_plugin, LoadedPlugin, PipelineSpec};
use anyhow::Result;
use std::collections::{BTreeSet, HashMap};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// A file that was not loaded, and why (one line).
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Refusal {
    pub path: PathBuf,
    pub reason: String,
    /// The domain, when the file was refused after its manifest was read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// The pipelines the refused plugin declares, so that running one of
    /// them says why it cannot run.
    #[serde(skip)]
    pub pipelines: Vec<String>,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.reason)
    }
}

/// What the plugins folder holds.
#[derive(Default)]
pub(crate) struct Registry {
    pub plugins: Vec<LoadedPlugin>,
    pub refused: Vec<Refusal>,
}

impl Registry {
    /// Loads every plugin under `dir`. A missing folder is an empty registry;
    /// a folder anyone may write to is refused as a whole. `established` are
    /// the domains with migrations applied in the database: they win a
    /// namespace overlap (see [`Registry::keep_separate_namespaces`]).
    pub(crate) fn load(dir: &Path, established: &BTreeSet<String>) -> Result<Self> {
        // Commands that need plugins refuse a missing folder first
        // (`session::require_plugins_folder`); the others work without it.
        if !dir.exists() {
            return Ok(Self::default());
        }
        discover::check_folder_is_safe(dir)?;
        let mut registry = Self::default();
        let mut loaded = Vec::new();
        let mut seen_files: HashMap<(u64, u64), PathBuf> = HashMap::new();
        for path in discover::candidates(dir)? {
            // The same file reached twice (a symlink, a hard link) loads once.
            if let Ok(meta) = std::fs::metadata(&path) {
                if let Some(first) = seen_files.insert((meta.dev(), meta.ino()), path.clone()) {
                    log::debug!(
                        "{} is the same file as {}; loaded once",
                        path.display(),
                        first.display()
                    );
                    seen_files.insert((meta.dev(), meta.ino()), first);
                    continue;
                }
            }
            if let Some(reason) = discover::unsafe_candidate(&path) {
                registry.refuse(path, reason);
                continue;
            }
            match load_plugin(&path) {
                Ok(plugin) => loaded.push(plugin),
                Err(reason) => registry.refuse(path, reason),
            }
        }
        registry.keep_unique_domains(loaded);
        registry.keep_separate_namespaces(established);
        Ok(registry)
    }

    /// Keeps plugins whose domain one file provides. When several files
    /// provide a domain, all of them are refused: there is no telling which
    /// one the user meant.
    fn keep_unique_domains(&mut self, loaded: Vec<LoadedPlugin>) {
        let mut by_domain: Vec<(String, Vec<LoadedPlugin>)> = Vec::new();
        for plugin in loaded {
            match by_domain.iter_mut().find(|(domain, _)| *domain == plugin.domain) {
                Some((_, group)) => group.push(plugin),
                None => by_domain.push((plugin.domain.clone(), vec![plugin])),
            }
        }
        for (domain, group) in by_domain {
            if group.len() == 1 {
                self.plugins.extend(group);
                continue;
            }
            let files: Vec<String> = group.iter().map(|p| p.path.display().to_string()).collect();
            for plugin in group {
                let reason = format!(
                    "domain `{domain}` is provided by {}; remove all but one",
                    files.join(" and ")
                );
                self.refuse_plugin(plugin, reason);
            }
        }
    }

    /// Refuses domains whose tables could not be told apart: a domain whose
    /// name lies inside another's `<domain>_…` names (`otc_raw` inside
    /// `otc`'s) would own some of the other's tables. The domain with
    /// migrations applied in this database keeps loading, so a newcomer never
    /// switches off an established plugin (whether or not that one is loaded
    /// now); when neither or both have migrations, both are refused and the
    /// operator chooses.
    fn keep_separate_namespaces(&mut self, established: &BTreeSet<String>) {
        let loaded: Vec<(String, String)> = self
            .plugins
            .iter()
            .map(|p| (p.domain.clone(), p.path.display().to_string()))
            .collect();
        let absent = established
            .iter()
            .filter(|d| *d != crate::migrate::CORE_DOMAIN && !loaded.iter().any(|(l, _)| l == *d))
            .map(|d| (d.clone(), "not loaded now".to_owned()));
        let others: Vec<(String, String)> = loaded.iter().cloned().chain(absent).collect();
        let mut refusals = Vec::new();
        for plugin in &self.plugins {
            let mine = established.contains(&plugin.domain);
            let clash = others.iter().find(|(other, _)| {
                let overlap = inside(&plugin.domain, other) || inside(other, &plugin.domain);
                // An established domain stands against a newcomer only.
                let stands = mine && !established.contains(other);
                overlap && !stands
            });
            if let Some((other, file)) = clash {
                let (inner, outer) = if inside(&plugin.domain, other) {
                    (plugin.domain.as_str(), other.as_str())
                } else {
                    (other.as_str(), plugin.domain.as_str())
                };
                let verdict = if established.contains(other) && !mine {
                    format!("`{other}` has migrations applied in this database and keeps loading")
                } else {
                    "neither or both have migrations applied in this database, so both are refused: \
                     remove one"
                        .to_owned()
                };
                refusals.push((
                    plugin.domain.clone(),
                    format!(
                        "domain `{}` overlaps domain `{other}` ({file}): every `{inner}_…` name is also \
                         an `{outer}_…` name, so table ownership would be ambiguous; {verdict}",
                        plugin.domain
                    ),
                ));
            }
        }
        self.refuse_domains(refusals);
    }

    /// Refuses the loaded plugins of these domains, each with its reason.
    pub(crate) fn refuse_domains(&mut self, refusals: Vec<(String, String)>) {
        for (domain, reason) in refusals {
            if let Some(index) = self.plugins.iter().position(|p| p.domain == domain) {
                let plugin = self.plugins.remove(index);
                self.refuse_plugin(plugin, reason);
            }
        }
    }

    fn refuse(&mut self, path: PathBuf, reason: String) {
        self.push_refusal(Refusal {
            path,
            reason,
            domain: None,
            pipelines: Vec::new(),
        });
    }

    /// Refuses a plugin that loaded: running one of its pipelines then
    /// says why it cannot run.
    fn refuse_plugin(&mut self, plugin: LoadedPlugin, reason: String) {
        self.push_refusal(Refusal {
            path: plugin.path,
            reason,
            domain: Some(plugin.domain),
            pipelines: plugin.pipelines.into_iter().map(|p| p.name).collect(),
        });
    }

    fn push_refusal(&mut self, refusal: Refusal) {
        log::warn!("plugin refused: {refusal}");
        self.refused.push(refusal);
    }

    /// Why pipeline `name` cannot run, when a refused plugin declares it.
    pub(crate) fn refused_pipeline(&self, name: &str) -> Option<&Refusal> {
        self.refused
            .iter()
            .find(|r| r.pipelines.iter().any(|p| p == name))
    }

    /// The plugin and spec of pipeline `name`.
    pub(crate) fn pipeline(&self, name: &str) -> Option<(&LoadedPlugin, &PipelineSpec)> {
        self.plugins.iter().find_map(|plugin| {
            plugin
                .pipelines
                .iter()
                .find(|spec| spec.name == name)
                .map(|spec| (plugin, spec))
        })
    }

    /// Every pipeline name, sorted.
    pub(crate) fn pipeline_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .plugins
            .iter()
            .flat_map(|p| p.pipelines.iter().map(|s| s.name.as_str()))
            .collect();
        names.sort_unstable();
        names
    }

    /// The message for a pipeline name nobody provides, with a suggestion.
    pub(crate) fn unknown_pipeline(&self, name: &str) -> String {
        let names = self.pipeline_names();
        let mut message = format!("no pipeline named `{name}`");
        if let Some(suggestion) = crate::text::did_you_mean(name, names.iter().copied()) {
            message.push_str(&format!("; did you mean `{suggestion}`?"));
        }
        if names.is_empty() {
            message.push_str(" (no plugins are loaded; see `spine-host plugins`)");
        } else {
            message.push_str(" (see `spine-host list`)");
        }
        if !self.refused.is_empty() {
            let count = self.refused.len();
            message.push_str(&format!(
                "; {count} plugin file(s) were refused, see `spine-host plugins`"
            ));
        }
        message
    }
}

/// True when domain `inner` lies inside `outer`'s names: `otc_raw` inside `otc`.
fn inside(inner: &str, outer: &str) -> bool {
    inner
        .strip_prefix(outer)
        .is_some_and(|rest| rest.starts_with('_'))
}
