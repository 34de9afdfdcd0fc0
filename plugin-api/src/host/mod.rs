//! The host's side of the boundary, in plain Rust: what a host needs to read
//! a plugin library's root module, call its entry points and lend a running
//! pipeline its services, without naming an abi_stable type. As in
//! datafusion-ffi, each concept keeps its stable struct (in [`crate::abi`])
//! and its host-side wrapper in this crate, so a move to another ABI layer
//! changes this crate and not the host.
//!
//! Opening a library stays with the host: this crate does no I/O. The host
//! opens the file, checks the plain C symbol [`ABI_FAMILY_SYMBOL`], reads the
//! symbol [`LIB_HEADER_SYMBOL`] as a [`HeaderRef`], and goes on from there:
//! [`HeaderRef::check`], [`LibraryHeader::root_module`], [`PluginModule`].
//!
//! Plugin authors never use this module. It wraps the frozen [`crate::abi`],
//! so within a 0.y line it only grows.
//!
//! Who allocates what: every value a plugin returns ([`Manifest`], a
//! migration, an [`Error`](crate::Error), a [`PluginPipeline`]) is copied
//! into host-owned Rust values or freed by the plugin's side when dropped;
//! every value the host lends ([`Services`], [`Value`]s) is borrowed for
//! one call.

mod library;
mod module;
mod services;

pub use crate::abi::{Value, ABI_FAMILY, ABI_FAMILY_SYMBOL, API_VERSION, LIB_HEADER_SYMBOL};
pub use library::{HeaderRef, LibraryHeader, LoadError, LoadErrorKind};
pub use module::{Manifest, ParamSpec, PipelineSpec, PluginModule};
pub use services::{PluginPipeline, Rows, Services};
