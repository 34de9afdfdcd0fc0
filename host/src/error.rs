//! Exit codes, and the error kinds that choose them.
//!
//! Errors travel as `anyhow::Error` with context on every layer; the CLI prints
//! the chain once, on one line. A [`UsageError`] or [`ConflictError`] anywhere
//! in the chain picks its exit code; any other error is an environment problem.

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
    /// Refused because an execution with the same logical key is running.
    Conflict = 4,
    /// Stopped by Ctrl-C (the transaction was rolled back).
    Cancelled = 130,
}

/// A request the user can fix by changing the command line.
#[derive(Debug)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// A run refused because another execution holds the same logical key.
#[derive(Debug)]
pub struct ConflictError(pub String);

impl fmt::Display for ConflictError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConflictError {}

/// The exit code an error calls for.
pub fn exit_code_for(error: &anyhow::Error) -> ExitCode {
    if error.chain().any(|cause| cause.is::<UsageError>()) {
        ExitCode::Usage
    } else if error.chain().any(|cause| cause.is::<ConflictError>()) {
        ExitCode::Conflict
    } else {
        ExitCode::Environment
    }
}

/// Shorthand for returning a [`UsageError`].
pub fn usage(message: impl Into<String>) -> anyhow::Error {
    UsageError(message.into()).into()
}
