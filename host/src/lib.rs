//! `spine-host`: loads domain plugins, keeps the SQLite database up to date,
//! and runs pipelines through a dispatcher that records every execution.
//!
//! The binary (`main.rs` and [`cli`]) is a thin edge over this library:
//! - `discover` and `load` find plugin files and run the load checks
//!   (`elf` reads a library without loading it); `registry` holds what
//!   loaded and what was refused;
//! - `db` opens the one SQLite connection, and `lock_wait` says how long
//!   it waits for another process's write lock; `fence` judges plugin SQL;
//!   `raw_sqlite` runs plugin statements through SQLite's C API;
//!   [`migrate`] applies core and per-domain migrations; `reset` empties
//!   an idle database in place; `reader` reads it without changing it;
//! - `params`, `services` and `runner` run one pipeline in one transaction
//!   (`transaction`); [`dispatcher`] and [`executions`] record every run,
//!   and `process` tells whether a run's process is still alive;
//! - [`session`] opens all of that from a [`config`], and is the CLI's one
//!   way in to loading, storage and running; [`error`] holds the exit codes;
//!   [`progress`], `logging`, `text` and `console` serve the output;
//! - [`testing`] runs a plugin value in-process through the same code, for
//!   the `spine-plugin-test` harness.
//!
//! Only what the binary and the tests (`host/tests`, `spine-plugin-test`)
//! use is public; the rest, the connection above all, is the crate's own,
//! so no code outside it can run SQL past the fence.
//!
//! This crate is the only one that links SQLite and the only one that opens
//! libraries. It never unloads a library: see `load`.

#![deny(clippy::print_stdout, clippy::print_stderr)] // see console.rs

// First, so that its macros (`outln!`, `errln!`) are in scope in every module.
#[macro_use]
mod console;
pub mod cli;
pub mod config;
pub mod dispatcher;
pub mod error;
pub mod executions;
pub mod migrate;
pub mod progress;
pub mod session;
pub mod testing;

mod db;
mod discover;
mod elf;
mod fence;
mod load;
mod lock_wait;
mod logging;
mod params;
mod process;
mod raw_sqlite;
mod reader;
mod registry;
mod reset;
mod runner;
mod services;
mod text;
mod transaction;
