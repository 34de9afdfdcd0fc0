//! A plugin library's header: the static `export_plugin!` writes under
//! [`LIB_HEADER_SYMBOL`](crate::abi::LIB_HEADER_SYMBOL), checked before its
//! root module is used (abi_stable's own version, then the layout of every
//! type that crosses), and abi_stable's errors sorted for a one-line message.

use super::module::PluginModule;
use crate::abi::SpinePluginRef;
use abi_stable::library::{AbiHeaderRef, LibHeader, LibraryError};

/// What a plugin library's [`LIB_HEADER_SYMBOL`](crate::abi::LIB_HEADER_SYMBOL)
/// symbol holds, as a dynamic loader hands it over: the host reads the symbol
/// as a value of this type (with `libloading`, `*library.get::<HeaderRef>(…)`),
/// as abi_stable's own loader does.
#[repr(transparent)]
#[derive(Clone, Copy)]
pub struct HeaderRef(AbiHeaderRef);

impl HeaderRef {
    /// Checks that the library was built with this crate's abi_stable, and
    /// reads its header.
    pub fn check(self) -> Result<LibraryHeader, LoadError> {
        self.0.upgrade().map(LibraryHeader).map_err(LoadError::from)
    }
}

/// A plugin library's header, of this crate's abi_stable.
#[derive(Clone, Copy)]
pub struct LibraryHeader(&'static LibHeader);

impl LibraryHeader {
    /// The `spine-plugin-api` version the plugin was built against.
    pub fn api_version(&self) -> String {
        self.0.version_strings().version.to_string()
    }

    /// Checks the layout of every type that crosses against this crate's,
    /// and returns the plugin's root module (built once per library, by the
    /// loader `export_plugin!` wrote).
    pub fn root_module(&self) -> Result<PluginModule, LoadError> {
        self.0
            .init_root_module::<SpinePluginRef>()
            .map(PluginModule::new)
            .map_err(LoadError::from)
    }
}

/// Why a library's header or root module was refused: what kind of problem,
/// for a one-line message, and abi_stable's whole report (thousands of lines
/// for a layout mismatch), for a debug log.
#[derive(Debug)]
pub struct LoadError {
    /// What kind of problem it is.
    pub kind: LoadErrorKind,
    /// abi_stable's report, whole.
    pub report: String,
}

/// The kinds of [`LoadError`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadErrorKind {
    /// Built with an abi_stable whose header differs from this crate's.
    AbiStable,
    /// abi_stable's version check: the plugin was built against
    /// `spine-plugin-api` `actual`, and the host expects `expected`.
    Version {
        /// The version the host was built against.
        expected: String,
        /// The version the plugin was built against.
        actual: String,
    },
    /// The layout of a type that crosses differs: `detail` holds the first
    /// `Error:`, `Expected:` and `Found:` lines of the report.
    Layout {
        /// Up to three lines of the report, joined by spaces.
        detail: String,
    },
    /// The plugin's root-module loader failed.
    RootModule,
    /// Anything else abi_stable reports.
    Other,
}

impl From<LibraryError> for LoadError {
    fn from(error: LibraryError) -> Self {
        let report = error.to_string();
        let kind = match &error {
            LibraryError::InvalidAbiHeader(_) => LoadErrorKind::AbiStable,
            LibraryError::IncompatibleVersionNumber {
                expected_version,
                actual_version,
                ..
            } => LoadErrorKind::Version {
                expected: expected_version.to_string(),
                actual: actual_version.to_string(),
            },
            LibraryError::AbiInstability(_) => LoadErrorKind::Layout {
                detail: layout_detail(&report),
            },
            LibraryError::RootModule { .. } => LoadErrorKind::RootModule,
            _ => LoadErrorKind::Other,
        };
        Self { kind, report }
    }
}

/// The first lines of a layout report that say what differs.
fn layout_detail(report: &str) -> String {
    let lines: Vec<&str> = report
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("Error:") || l.starts_with("Expected:") || l.starts_with("Found:"))
        .take(3)
        .collect();
    lines.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_layout_report_is_cut_to_what_differs() {
        let report = "Layout mismatch\n  Error: too many fields\n  Expected: 3 fields\n   Found: 4 fields\n \
                      Error: another\n";
        assert_eq!(
            layout_detail(report),
            "Error: too many fields Expected: 3 fields Found: 4 fields"
        );
    }
}
