//! Loading one plugin file, with every check, in order:
//! 1. it must be a regular file (a FIFO, a device or a socket is refused
//!    without being opened);
//! 2. ELF checks that need no loading ([`crate::elf`]): a shared library for
//!    this machine that neither carries nor links SQLite;
//! 3. the plain C symbol `spine_plugin_abi`: is it a plugin, of our ABI
//!    family (loading the library runs its initialisers, from here on);
//! 4. the library's header, of our abi_stable (one library per file);
//! 5. the `spine-plugin-api` version the plugin was built against;
//! 6. the full layout check, which gives the root module;
//! 7. the manifest and migrations (domain and pipeline names);
//! 8. no second SQLite appeared in the process while it loaded.
//!
//! This module opens the library; `spine_plugin_api::host` reads what it
//! holds, so no abi_stable type is named here. Each failure is one line
//! naming the file and the reason. Libraries are never unloaded: their
//! vtables and strings stay referenced until exit, and abi_stable does not
//! support unloading.

use crate::migrate::{check_numbering, Migration, CORE_DOMAIN};
use crate::text::one_line;
use spine_plugin_api::host::{
    HeaderRef, LoadError, LoadErrorKind, PluginModule, ABI_FAMILY, ABI_FAMILY_SYMBOL, API_VERSION,
    LIB_HEADER_SYMBOL,
};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// A pipeline and its parameters, as a plugin declares them.
pub(crate) use spine_plugin_api::host::{ParamSpec, PipelineSpec};

/// A plugin that passed every check.
pub(crate) struct LoadedPlugin {
    pub path: PathBuf,
    pub domain: String,
    pub version: String,
    pub description: String,
    /// The `spine-plugin-api` version the plugin was built against.
    pub api_version: String,
    pub pipelines: Vec<PipelineSpec>,
    pub migrations: Vec<Migration>,
    pub(crate) module: PluginModule,
}

/// Domain names may not start with these.
const RESERVED_DOMAIN_PREFIXES: &[&str] = &[CORE_DOMAIN, "sqlite"];

/// The parameter kinds this host can check; anything else is refused at load.
pub(crate) const PARAM_KINDS: &[&str] = &["string", "integer", "number", "boolean", "date", "path"];

/// Runs every check on `path` and loads the plugin, or says in one line why not.
pub(crate) fn load_plugin(path: &Path) -> Result<LoadedPlugin, String> {
    crate::elf::check_library(open_regular_file(path)?)?;
    let mapped_before = crate::elf::mapped_files();
    let plugin = initialise(path)?;
    check_no_second_sqlite(path, &mapped_before)?;
    check_manifest(&plugin)?;
    Ok(plugin)
}

/// Opens `path` for reading if it is a regular file, without opening
/// anything else: opening a FIFO waits for a writer, and a device may never
/// end.
pub(crate) fn open_regular_file(path: &Path) -> Result<std::fs::File, String> {
    use std::os::unix::fs::OpenOptionsExt;
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot be read: {e}"))?;
    if let Some(reason) = crate::discover::not_regular(&meta) {
        return Err(reason);
    }
    // Non-blocking, and checked again once open: the file may have been
    // swapped for a FIFO in between.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| format!("cannot be read: {e}"))?;
    let meta = file.metadata().map_err(|e| format!("cannot be read: {e}"))?;
    match crate::discover::not_regular(&meta) {
        Some(reason) => Err(reason),
        None => Ok(file),
    }
}

/// A library can bring SQLite in while it loads, past the checks of its
/// file: through a dependency, or by opening one in its initialisers. Any
/// file mapped since `before` that carries or links SQLite refuses it.
fn check_no_second_sqlite(path: &Path, before: &BTreeSet<PathBuf>) -> Result<(), String> {
    let plugin = std::fs::canonicalize(path).ok();
    for file in crate::elf::mapped_files().difference(before) {
        if Some(file) == plugin.as_ref() {
            continue;
        }
        if crate::elf::sqlite_in_file(file).is_some() {
            return Err(crate::elf::describe(&crate::elf::Sqlite::Brought(file.clone())));
        }
    }
    Ok(())
}

/// Opens the library, checks its ABI family, then reads its header (of our
/// abi_stable, built against a compatible API version), checks every type's
/// layout, and reads the root module's manifest and migrations.
fn initialise(path: &Path) -> Result<LoadedPlugin, String> {
    // SAFETY: opening a library runs its initialisers; the plugins folder is
    // trusted (see `discover::check_folder_is_safe`). The handle is leaked
    // below on purpose: libraries are never unloaded.
    let library = unsafe { libloading::Library::new(path) }
        .map_err(|e| format!("cannot be opened as a library: {}", one_line(&e.to_string())))?;
    let header = check_abi_family(&library).and_then(|()| {
        // SAFETY: a library of our ABI family exports the header static of
        // `export_plugin!` under this name, and `HeaderRef` is its address,
        // as abi_stable's own loader reads it.
        let symbol = unsafe { library.get::<HeaderRef>(LIB_HEADER_SYMBOL.as_bytes()) };
        symbol
            .map(|header| *header)
            .map_err(|_| "has no abi_stable root module".to_owned())
    });
    std::mem::forget(library);
    let header = header?.check().map_err(|e| describe_load_error(&e))?;
    let api_version = header.api_version();
    check_api_version(&api_version)?;
    let module = header.root_module().map_err(|e| describe_load_error(&e))?;
    read_module(path, api_version, module)
}

/// Reads the manifest and migrations of an initialised root module: a
/// library's, or an in-process plugin's ([`crate::testing`]).
pub(crate) fn read_module(
    path: &Path,
    api_version: String,
    module: PluginModule,
) -> Result<LoadedPlugin, String> {
    let manifest = module
        .manifest()
        .map_err(|e| plugin_error("reading its manifest", &e))?;
    let migrations = module
        .migrations()
        .map_err(|e| plugin_error("reading its migrations", &e))?;
    let plugin = LoadedPlugin {
        path: path.to_path_buf(),
        domain: manifest.domain,
        version: manifest.version,
        description: manifest.description,
        api_version,
        pipelines: manifest.pipelines,
        migrations: migrations
            .iter()
            .map(|m| Migration {
                version: m.version(),
                name: m.name().to_owned(),
                sql: m.sql().to_owned(),
            })
            .collect(),
        module,
    };
    Ok(plugin)
}

/// The plain C symbol `spine_plugin_abi` names the plugin's ABI family.
fn check_abi_family(library: &libloading::Library) -> Result<(), String> {
    // SAFETY: `spine_plugin_abi` is `extern "C" fn() -> u32` in every family.
    let symbol = unsafe { library.get::<extern "C" fn() -> u32>(ABI_FAMILY_SYMBOL.as_bytes()) };
    let family = symbol.map(|f| f()).map_err(|_| {
        "is not a Market Spine plugin (it has no `spine_plugin_abi` symbol; \
         plugins are built with spine_plugin_api::export_plugin!)"
            .to_owned()
    })?;
    match family {
        ABI_FAMILY => Ok(()),
        other => Err(format!(
            "speaks plugin ABI family {other}, but this host speaks family {ABI_FAMILY} \
             (spine-plugin-api {API_VERSION}); rebuild the plugin against spine-plugin-api {}",
            compatible_line(API_VERSION)
        )),
    }
}

/// abi_stable requires the same major, and for 0.y the same minor, version.
fn check_api_version(plugin_api: &str) -> Result<(), String> {
    if compatible_line(plugin_api) == compatible_line(API_VERSION) {
        return Ok(());
    }
    Err(format!(
        "was built against spine-plugin-api {plugin_api}; this host speaks {} — rebuild the plugin \
         against spine-plugin-api {}",
        compatible_line(API_VERSION),
        compatible_line(API_VERSION),
    ))
}

/// `0.1.3` → `0.1`, `1.4.0` → `1`: the part of a version that must match.
fn compatible_line(version: &str) -> String {
    let mut parts = version.split('.');
    match (parts.next(), parts.next()) {
        (Some("0"), Some(minor)) => format!("0.{minor}"),
        (Some(major), _) => major.to_owned(),
        (None, _) => version.to_owned(),
    }
}

pub(crate) fn check_manifest(plugin: &LoadedPlugin) -> Result<(), String> {
    let domain = &plugin.domain;
    let valid_domain = !domain.is_empty()
        && domain
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && domain.starts_with(|c: char| c.is_ascii_lowercase());
    if !valid_domain {
        return Err(format!(
            "declares domain `{domain}`; a domain is lowercase letters, digits and `_`, starting with a letter"
        ));
    }
    // A domain owns every `<domain>_…` name; these prefixes name the host's
    // tables and SQLite's own.
    if let Some(reserved) = RESERVED_DOMAIN_PREFIXES.iter().find(|r| domain.starts_with(*r)) {
        return Err(format!(
            "declares domain `{domain}`; domains starting with `{reserved}` are reserved for {}",
            if *reserved == "sqlite" {
                "SQLite"
            } else {
                "the host"
            }
        ));
    }
    check_numbering(&plugin.migrations)?;
    let mut seen = std::collections::HashSet::new();
    for pipeline in &plugin.pipelines {
        let prefix = format!("{domain}.");
        if !pipeline.name.starts_with(&prefix) || pipeline.name.len() == prefix.len() {
            return Err(format!(
                "declares pipeline `{}`, whose name does not start with `{prefix}`",
                pipeline.name
            ));
        }
        if !seen.insert(pipeline.name.as_str()) {
            return Err(format!("declares pipeline `{}` twice", pipeline.name));
        }
        if let Some(param) = pipeline
            .params
            .iter()
            .find(|p| !PARAM_KINDS.contains(&p.kind.as_str()))
        {
            return Err(format!(
                "pipeline `{}` declares parameter `{}` of unknown kind `{}` (this host knows: {})",
                pipeline.name,
                param.name,
                param.kind,
                PARAM_KINDS.join(", ")
            ));
        }
    }
    Ok(())
}

fn plugin_error(doing: &str, error: &spine_plugin_api::Error) -> String {
    format!("failed while {doing}: {}", error.message)
}

/// One line for a header or root module abi_stable refused; its whole report
/// (a layout dump runs to thousands of lines) goes to the debug log.
fn describe_load_error(error: &LoadError) -> String {
    log::debug!("full abi_stable report:\n{}", error.report);
    match &error.kind {
        LoadErrorKind::AbiStable => "was built with an incompatible abi_stable".to_owned(),
        LoadErrorKind::Version { expected, actual } => format!(
            "was built against spine-plugin-api {actual}; this host speaks {expected} — rebuild the plugin"
        ),
        LoadErrorKind::Layout { detail } => format!(
            "has a plugin ABI layout that differs from this host's ({detail}); rebuild it against \
             spine-plugin-api {} (details with --log-level debug)",
            compatible_line(API_VERSION)
        ),
        LoadErrorKind::RootModule => format!("failed to start: {}", one_line(&error.report)),
        LoadErrorKind::Other => one_line(&error.report),
    }
}
