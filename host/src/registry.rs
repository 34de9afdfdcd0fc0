//! The registry: every plugin loaded from the plugins folder, and every file
//! refused with its reason. One bad file never stops the good ones.

use crate::discover;
use crate::load::{load_plugin, LoadedPlugin, PipelineSpec};
use anyhow::Result;
use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// A file that was not loaded, and why (one line).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Refusal {
    pub path: PathBuf,
    pub reason: String,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.reason)
    }
}

/// What the plugins folder holds.
#[derive(Default)]
pub struct Registry {
    pub plugins: Vec<LoadedPlugin>,
    pub refused: Vec<Refusal>,
}

impl Registry {
    /// Loads every plugin under `dir`. A missing folder is an empty registry;
    /// a folder anyone may write to is refused as a whole.
    pub fn load(dir: &Path) -> Result<Self> {
        if !dir.exists() {
            log::info!(
                "plugins folder {} does not exist; no plugins loaded",
                dir.display()
            );
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
                self.refuse(plugin.path, reason);
            }
        }
    }

    fn refuse(&mut self, path: PathBuf, reason: String) {
        let refusal = Refusal { path, reason };
        log::warn!("plugin refused: {refusal}");
        self.refused.push(refusal);
    }

    /// The plugin and spec of pipeline `name`.
    pub fn pipeline(&self, name: &str) -> Option<(&LoadedPlugin, &PipelineSpec)> {
        self.plugins.iter().find_map(|plugin| {
            plugin
                .pipelines
                .iter()
                .find(|spec| spec.name == name)
                .map(|spec| (plugin, spec))
        })
    }

    /// Every pipeline name, sorted.
    pub fn pipeline_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .plugins
            .iter()
            .flat_map(|p| p.pipelines.iter().map(|s| s.name.as_str()))
            .collect();
        names.sort_unstable();
        names
    }

    /// The message for a pipeline name nobody provides, with a suggestion.
    pub fn unknown_pipeline(&self, name: &str) -> String {
        let names = self.pipeline_names();
        let mut message = format!("no pipeline named `{name}`");
        if let Some(suggestion) = crate::params::did_you_mean(name, names.iter().copied()) {
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
