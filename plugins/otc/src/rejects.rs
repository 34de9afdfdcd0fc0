//! `otc_rejects`: every line or record that was not accepted, with its reason,
//! so that nothing disappears silently. Written in batches like the data, so a
//! file of garbage costs no more than a file of rows.

use crate::parse::clip;
use crate::run::Run;
use spine_plugin_api::{Context, Result, SqlValue};

/// Characters of the raw line kept; enough to see the problem.
pub(crate) const RAW_LINE_LIMIT: usize = 500;

/// Rejects held before one insert.
const BATCH_ROWS: usize = 500;

const INSERT: &str = "INSERT INTO otc_rejects \
    (execution_id, stage, source_file, line_number, raw_line, reason, raw_id, rejected_at) \
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
const COLUMNS: usize = 8;

/// The stage that rejected a line.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Stage {
    Parse,
    Normalize,
}

/// One rejected line or record.
pub(crate) struct Rejected<'a> {
    pub source_file: &'a str,
    pub line_number: u64,
    pub raw_line: &'a str,
    pub reason: &'a str,
    /// The otc_raw row, when the record got that far.
    pub raw_id: Option<i64>,
}

struct Pending {
    source_file: String,
    line_number: i64,
    raw_line: String,
    reason: String,
    raw_id: Option<i64>,
}

/// Collects one run's rejects and writes them in batches.
pub(crate) struct RejectWriter {
    execution_id: String,
    rejected_at: String,
    stage: &'static str,
    pending: Vec<Pending>,
    written: u64,
}

impl RejectWriter {
    pub(crate) fn new(run: &Run, stage: Stage) -> Self {
        Self {
            execution_id: run.execution_id.clone(),
            rejected_at: run.started_at.clone(),
            stage: match stage {
                Stage::Parse => "parse",
                Stage::Normalize => "normalize",
            },
            pending: Vec::new(),
            written: 0,
        }
    }

    /// Records one reject (written at the latest by [`RejectWriter::flush`]).
    pub(crate) fn add(&mut self, ctx: &mut Context<'_>, rejected: Rejected<'_>) -> Result<()> {
        self.pending.push(Pending {
            source_file: rejected.source_file.to_owned(),
            line_number: i64::try_from(rejected.line_number).unwrap_or(i64::MAX),
            raw_line: clip(rejected.raw_line, RAW_LINE_LIMIT),
            reason: rejected.reason.to_owned(),
            raw_id: rejected.raw_id,
        });
        if self.pending.len() >= BATCH_ROWS {
            self.flush(ctx)?;
        }
        Ok(())
    }

    /// Writes what is pending.
    pub(crate) fn flush(&mut self, ctx: &mut Context<'_>) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let mut values = Vec::with_capacity(self.pending.len() * COLUMNS);
        for reject in &self.pending {
            values.extend([
                SqlValue::Text(&self.execution_id),
                SqlValue::Text(self.stage),
                SqlValue::Text(&reject.source_file),
                SqlValue::Integer(reject.line_number),
                SqlValue::Text(&reject.raw_line),
                SqlValue::Text(&reject.reason),
                reject.raw_id.into(),
                SqlValue::Text(&self.rejected_at),
            ]);
        }
        self.written += ctx.execute_many(INSERT, COLUMNS, &values)?;
        self.pending.clear();
        Ok(())
    }

    /// Rejects recorded so far, written or pending.
    pub(crate) fn count(&self) -> u64 {
        self.written + self.pending.len() as u64
    }
}
