//! Finding candidate plugin files in the plugins folder.
//!
//! A candidate is a dynamic library (by extension) directly in the folder or
//! one folder down. Hidden files and folders (an installer's temporary file),
//! `target/` and source crates (folders with a `Cargo.toml`) are skipped, so
//! plugin sources beside the built `.so` files are never mistaken for plugins.
//! A candidate that is not a regular file (a FIFO, a device, a socket) is
//! refused from its metadata alone, never opened.

use anyhow::{bail, Context as _, Result};
use std::path::{Path, PathBuf};
use walkdir::{DirEntry, WalkDir};

/// Candidate library files under `dir`, sorted by path.
pub(crate) fn candidates(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let walker = WalkDir::new(dir)
        .min_depth(1)
        .max_depth(2)
        .sort_by_file_name()
        .into_iter();
    for entry in walker.filter_entry(|e| e.depth() == 0 || !is_skipped_folder(e)) {
        let entry = entry.with_context(|| format!("scanning plugins folder {}", dir.display()))?;
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        if !entry.file_type().is_dir() && !hidden && has_library_extension(entry.path()) {
            found.push(entry.into_path());
        }
    }
    Ok(found)
}

/// Refuses a plugins folder that anyone may write to: loading a library runs
/// its code, so such a folder would let any local user run code as us.
pub(crate) fn check_folder_is_safe(dir: &Path) -> Result<()> {
    if is_world_writable(dir).with_context(|| format!("reading plugins folder {}", dir.display()))? {
        bail!(
            "plugins folder {} is writable by every user, and loading a plugin runs its code; \
             refusing to load from it (fix: chmod o-w {})",
            dir.display(),
            dir.display()
        );
    }
    Ok(())
}

/// Why a file of these metadata is never read as a library: it is not a
/// regular file (a FIFO, a device, a socket, a folder).
pub(crate) fn not_regular(meta: &std::fs::Metadata) -> Option<String> {
    use std::os::unix::fs::FileTypeExt;
    let kind = meta.file_type();
    let what = if kind.is_file() {
        return None;
    } else if kind.is_dir() {
        "a folder"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else {
        "of an unknown kind"
    };
    Some(format!(
        "is {what}, not a regular file; refused without reading it"
    ))
}

/// Why a candidate file may not be loaded even before it is opened: it is
/// not a regular file, or it, or the subfolder holding it, is writable by
/// every user.
pub(crate) fn unsafe_candidate(path: &Path) -> Option<String> {
    if let Some(reason) = std::fs::metadata(path).ok().as_ref().and_then(not_regular) {
        return Some(reason);
    }
    let folder = path.parent()?;
    for (what, target) in [("the file", path), ("its folder", folder)] {
        if is_world_writable(target).unwrap_or(false) {
            return Some(format!(
                "{what} is writable by every user, and loading a plugin runs its code (fix: chmod o-w {})",
                target.display()
            ));
        }
    }
    None
}

fn is_world_writable(path: &Path) -> std::io::Result<bool> {
    use std::os::unix::fs::PermissionsExt;
    Ok(std::fs::metadata(path)?.permissions().mode() & 0o002 != 0)
}

fn is_skipped_folder(entry: &DirEntry) -> bool {
    if !entry.file_type().is_dir() {
        return false;
    }
    let name = entry.file_name().to_string_lossy();
    name.starts_with('.') || name == "target" || entry.path().join("Cargo.toml").exists()
}

fn has_library_extension(path: &Path) -> bool {
    path.extension()
        .is_some_and(|ext| ext == std::env::consts::DLL_EXTENSION)
}
