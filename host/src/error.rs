//! Exit codes, and the error that chooses one.
//!
//! Errors travel as `anyhow::Error` with context on every layer; the CLI prints
//! the chain once, on one line. A `Refused` anywhere in the chain carries its
//! exit code; any other error is an environment problem.

use std::fmt;

/// The documented exit codes of `spine-host`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// The command did what was asked.
    Success = 0,
    /// The pipeline ran and failed (its transaction was rolled back).
    PipelineFailed = 1,
    /// Bad usage: unknown pipeline or parameter, a malformed value, a bad path.
    Usage = 2,
    /// The environment is wrong: database, migrations, plugins.
    Environment = 3,
    /// Refused because something is in use: an execution with the same
    /// logical key is running, or (for `db reset`) another process has the
    /// database open.
    Conflict = 4,
    /// Stopped by Ctrl-C (the transaction was rolled back).
    Cancelled = 130,
}

/// A request refused before anything ran, with the exit code it calls for.
#[derive(Debug)]
pub(crate) struct Refused {
    pub(crate) code: ExitCode,
    pub(crate) message: String,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Refused {}

/// The exit code an error calls for.
pub fn exit_code_for(error: &anyhow::Error) -> ExitCode {
    error
        .chain()
        .find_map(|cause| cause.downcast_ref::<Refused>())
        .map_or(ExitCode::Environment, |r| r.code)
}

/// A request the user can fix by changing the command line (exit code 2).
pub(crate) fn usage(message: impl Into<String>) -> anyhow::Error {
    Refused {
        code: ExitCode::Usage,
        message: message.into(),
    }
    .into()
}

/// Refused because something is in use: a logical key held by a running
/// execution, a database another process has open (exit code 4).
pub(crate) fn conflict(message: impl Into<String>) -> anyhow::Error {
    Refused {
        code: ExitCode::Conflict,
        message: message.into(),
    }
    .into()
}
