//! `otc.ingest`: streams FINRA files into `otc_raw`, bad lines into `otc_rejects`.
//!
//! Every data line is counted once, as inserted, duplicate (its record hash is
//! already stored) or rejected, so `records = inserted + duplicates + rejected`.
//! Lines are inserted in batches of multi-row statements, from one reused text
//! buffer: the per-line cost is parsing, hashing and SQLite's own. What every
//! line of a file shares (execution, file name, time) is stored once, in
//! `otc_raw_files`; the lines reference it.

use crate::bulk::BulkInsert;
use crate::hash::{HashKey, RecordHasher};
use crate::parse::{Line, Parser, Record};
use crate::rejects::{RejectWriter, Rejected, Stage};
use crate::run::{stop_if_cancelled, Run};
use crate::tier::{Tier, SPELLINGS};
use crate::{decimal, sources, week};
use chrono::NaiveDate;
use spine_plugin_api::{Context, Error, Level, Metrics, Params, Pipeline, Result, SqlValue};
use std::collections::BTreeSet;
use std::fs::File;
use std::path::{Path, PathBuf};

/// Lines per batch: one call across the plugin boundary per
/// [`crate::bulk::ROWS_PER_STATEMENT`] of them.
const BATCH_ROWS: usize = 1024;
/// Lines between progress reports.
const PROGRESS_EVERY: u64 = 10_000;

const INSERT_FILE: &str =
    "INSERT INTO otc_raw_files (batch_id, source_file, ingested_at) VALUES (?1, ?2, ?3) RETURNING id";

const INSERT_HEAD: &str = "INSERT INTO otc_raw_lines \
    (file_id, line_number, record_hash, week_ending, last_update_date, tier, symbol, issue_name, venue_name, \
     mpid, share_volume, trade_count, avg_trade_size)";
// ON CONFLICT DO NOTHING, not INSERT OR IGNORE: only a repeated record hash is
// a duplicate; a line that broke any other constraint must fail the run.
const INSERT_TAIL: &str = "ON CONFLICT (week_ending, tier, symbol, record_hash) DO NOTHING";
const COLUMNS: usize = 13;

/// The `otc.ingest` pipeline.
pub struct Ingest {
    files: Vec<PathBuf>,
    week_ending: Option<NaiveDate>,
}

impl Ingest {
    /// Checks the parameters and finds the files, before the run's transaction.
    pub fn from_params(params: &Params) -> Result<Self> {
        let path = params.opt_path("file_path")?.unwrap_or_default();
        Ok(Ingest {
            week_ending: week::week_ending_param(params)?,
            files: sources::list(&path)?,
        })
    }
}

impl Pipeline for Ingest {
    fn run(&mut self, ctx: &mut Context<'_>) -> Result<Metrics> {
        let run = Run::start(ctx)?;
        let mut load = Load::new(&run, self.week_ending);
        for path in &self.files {
            load.file(ctx, path)?;
        }
        load.rejects.flush(ctx)?;
        let counts = &load.counts;
        let rejected = load.rejects.count();
        Ok(Metrics::new()
            .with("records", counts.records)
            .with("inserted", counts.inserted)
            .with("duplicates", counts.records - counts.inserted - rejected)
            .with("rejected", rejected)
            .with("files", self.files.len())
            .with(
                "weeks",
                load.weeks
                    .iter()
                    .map(|w| w.format("%Y-%m-%d").to_string())
                    .collect::<Vec<_>>(),
            )
            .with(
                "week_source",
                if self.week_ending.is_some() {
                    "given"
                } else {
                    "inferred"
                },
            ))
    }
}

#[derive(Default)]
struct Counts {
    records: u64,
    inserted: u64,
}

/// The state of one run's load, across its files.
struct Load<'r> {
    run: &'r Run,
    given_week: Option<NaiveDate>,
    batch: RawBatch,
    insert: BulkInsert,
    rejects: RejectWriter,
    hasher: RecordHasher,
    counts: Counts,
    next_progress: u64,
    weeks: BTreeSet<NaiveDate>,
    /// The week of the previous line and its text, formatted once per run of
    /// lines in the same week (files come in such runs).
    current_week: (NaiveDate, String),
}

impl<'r> Load<'r> {
    fn new(run: &'r Run, given_week: Option<NaiveDate>) -> Self {
        Self {
            run,
            given_week,
            batch: RawBatch::default(),
            insert: BulkInsert::new(INSERT_HEAD, COLUMNS, INSERT_TAIL),
            rejects: RejectWriter::new(run, Stage::Parse),
            hasher: RecordHasher::default(),
            counts: Counts::default(),
            next_progress: PROGRESS_EVERY,
            weeks: BTreeSet::new(),
            current_week: (NaiveDate::MIN, String::new()),
        }
    }

    fn file(&mut self, ctx: &mut Context<'_>, path: &Path) -> Result<()> {
        let name = &path.display().to_string();
        let input = File::open(path)
            .map_err(|e| Error::new("otc.ingest.read", format!("cannot open {name}: {e}")))?;
        let Some(mut parser) = Parser::new(input, name)? else {
            ctx.log(Level::Warn, &format!("{name} is empty: no header, no lines"));
            return Ok(());
        };
        let file_id = ctx
            .query_one(
                INSERT_FILE,
                &[
                    SqlValue::Text(&self.run.execution_id),
                    SqlValue::Text(name),
                    SqlValue::Text(&self.run.started_at),
                ],
                |row| row.i64(0),
            )?
            .ok_or_else(|| {
                Error::new(
                    "otc.ingest.file_id",
                    "inserting into otc_raw_files returned no id",
                )
            })?;
        let (records_before, inserted_before, rejected_before) =
            (self.counts.records, self.counts.inserted, self.rejects.count());
        while let Some(record) = parser.next_record()? {
            self.counts.records += 1;
            match record {
                Record::Line(line) => self.line(ctx, name, &line)?,
                Record::Reject(reject) => self.rejects.add(
                    ctx,
                    Rejected {
                        source_file: name,
                        line_number: reject.line,
                        raw_line: &reject.raw_line,
                        reason: &reject.reason,
                        raw_id: None,
                    },
                )?,
            }
            if self.batch.rows() >= BATCH_ROWS {
                self.flush(ctx, file_id)?;
            }
            if self.counts.records >= self.next_progress {
                ctx.progress(self.counts.records, 0, "lines");
                self.next_progress += PROGRESS_EVERY;
            }
        }
        self.flush(ctx, file_id)?;
        let records = self.counts.records - records_before;
        let inserted = self.counts.inserted - inserted_before;
        let rejected = self.rejects.count() - rejected_before;
        ctx.log(
            Level::Info,
            &format!(
                "{name}: {records} lines: {inserted} inserted, {} duplicates, {rejected} rejected",
                records - inserted - rejected
            ),
        );
        Ok(())
    }

    /// Places one well-formed line in its week and queues it for insertion.
    fn line(&mut self, ctx: &mut Context<'_>, file: &str, line: &Line<'_>) -> Result<()> {
        let tier = Tier::parse(line.tier);
        let week_ending = match (self.given_week, tier) {
            (Some(week), _) => week,
            (None, Some(tier)) => week::infer_week_ending(tier, line.last_update)
                .map_err(|e| e.with_location(format!("{file}: line {}", line.line)))?,
            // An unknown tier is the normalizer's to reject, but without a
            // known tier there is no publication rule to place the line with.
            (None, None) => {
                let reason = format!(
                    "field tierDescription: expected {SPELLINGS} to infer the trading week, found {:?} \
                     (or pass -p week_ending=YYYY-MM-DD)",
                    line.tier
                );
                return self.rejects.add(
                    ctx,
                    Rejected {
                        source_file: file,
                        line_number: line.line,
                        raw_line: &line.raw_line(),
                        reason: &reason,
                        raw_id: None,
                    },
                );
            }
        };
        if self.current_week.0 != week_ending {
            self.weeks.insert(week_ending);
            self.current_week = (week_ending, week_ending.format("%Y-%m-%d").to_string());
        }
        let key = HashKey {
            week_ending: &self.current_week.1,
            tier: tier.map_or(line.tier, |tier| tier.canonical()),
            symbol: line.symbol,
            mpid: line.mpid,
            share_volume: line.share_volume,
            trade_count: line.trade_count,
        };
        self.batch.push(&mut self.hasher, &key, line);
        Ok(())
    }

    fn flush(&mut self, ctx: &mut Context<'_>, file_id: i64) -> Result<()> {
        stop_if_cancelled(ctx)?;
        if self.batch.rows() > 0 {
            let values = self.batch.values(file_id);
            self.counts.inserted += self.insert.insert(ctx, &values)?;
            self.batch.clear();
        }
        Ok(())
    }
}

/// Text fields per line, in INSERT order: week_ending, last_update_date,
/// tier, symbol, issue_name, venue_name, mpid, then avg_trade_size (empty
/// for NULL).
const TEXT_FIELDS: usize = 8;

/// Lines waiting for one insert. Their text sits in one buffer that is reused
/// from batch to batch, so queuing a line allocates nothing.
#[derive(Default)]
struct RawBatch {
    text: String,
    /// Where each text field ends in `text`, [`TEXT_FIELDS`] per line.
    ends: Vec<usize>,
    /// The record hash of each line.
    hashes: Vec<[u8; 16]>,
    /// share_volume, trade_count and line_number of each line.
    numbers: Vec<[i64; 3]>,
}

impl RawBatch {
    fn rows(&self) -> usize {
        self.numbers.len()
    }

    fn push(&mut self, hasher: &mut RecordHasher, key: &HashKey<'_>, line: &Line<'_>) {
        self.hashes.push(hasher.hash(key));
        for field in [
            key.week_ending,
            line.last_update_text,
            // The hashed spelling: the unique key (the columns the hash
            // covers) then means exactly "the hash is unique".
            key.tier,
            line.symbol,
            line.issue_name,
            line.venue_name,
            line.mpid,
        ] {
            self.text.push_str(field);
            self.ends.push(self.text.len());
        }
        // The rows normalize moves in SQL take their average from here.
        if line.share_volume >= 0 && line.trade_count >= 0 {
            decimal::push_average(&mut self.text, line.share_volume, line.trade_count);
        }
        self.ends.push(self.text.len());
        let line_number = i64::try_from(line.line).unwrap_or(i64::MAX);
        self.numbers
            .push([line.share_volume, line.trade_count, line_number]);
    }

    /// The INSERT's values, row after row.
    fn values(&self, file_id: i64) -> Vec<SqlValue<'_>> {
        let mut values = Vec::with_capacity(self.rows() * COLUMNS);
        let mut start = 0;
        let mut field = |end: usize| {
            let text = &self.text[start..end];
            start = end;
            text
        };
        let lines = self
            .ends
            .chunks_exact(TEXT_FIELDS)
            .zip(&self.hashes)
            .zip(&self.numbers);
        for ((ends, hash), [shares, trades, line]) in lines {
            values.extend([
                SqlValue::Integer(file_id),
                SqlValue::Integer(*line),
                SqlValue::Blob(hash),
            ]);
            let (texts, average) = ends.split_at(TEXT_FIELDS - 1);
            values.extend(texts.iter().map(|&end| SqlValue::Text(field(end))));
            let average = field(average[0]);
            values.extend([
                SqlValue::Integer(*shares),
                SqlValue::Integer(*trades),
                if average.is_empty() {
                    SqlValue::Null
                } else {
                    SqlValue::Text(average)
                },
            ]);
        }
        values
    }

    fn clear(&mut self) {
        self.text.clear();
        self.ends.clear();
        self.hashes.clear();
        self.numbers.clear();
    }
}
