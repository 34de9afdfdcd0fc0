//! `otc.ingest`: streams FINRA files into `otc_raw_files` and `otc_raw_lines`
//! (read together through the view `otc_raw`), bad lines into `otc_rejects`.
//!
//! Every data line is counted once, as inserted, duplicate (the same record
//! hash was already stored for the same lastUpdateDate) or rejected, each
//! counted where it happens: `records` as the reader reads lines, `inserted`
//! as SQLite reports rows stored, `duplicates` as lines offered to the insert
//! that it did not store, `rejected` as rejects are written. So `records =
//! inserted + duplicates + rejected` is a check, not a definition.
//! A reading thread parses, checks and hashes lines into batches (each a few
//! reused buffers) while the run's thread stores the previous batches with
//! multi-row statements. What every line of a file shares (execution, file
//! name, time) is stored once, in `otc_raw_files`; the lines reference it.
//! Every publication read (a week, tier and venue type, and its
//! lastUpdateDate) is noted in `otc_publications`, for `otc.coverage`.
//! Each batch is inserted in the order of the unique key, not the file's (so
//! within a batch, ids follow the key; `line_number` keeps the file's place).
//! A file whose bytes a run stored whole before is not read line by line
//! (`contents.rs`): its publications were noted when it was first read; the
//! others are digested as they are read, for next time.

use crate::bulk::BulkInsert;
use crate::contents::{self, Content, Digesting, Known};
use crate::hash::{HashKey, RecordHasher, Venue, VenueType};
use crate::parse::{clip, DateWindow, Line, Parser, Record};
use crate::rejects::{RejectWriter, Rejected, Stage, RAW_LINE_LIMIT};
use crate::run::{self, metrics, stop_if_cancelled, Figures, Run};
use crate::tier::{Tier, SPELLINGS};
use crate::{decimal, sources, upgrade, week};
use chrono::NaiveDate;
use serde_json::json;
use spine_plugin_api::{Context, Error, Level, Metrics, Params, Pipeline, Result, SqlValue};
use std::any::Any;
use std::collections::BTreeSet;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread;

/// Lines per batch: one call across the plugin boundary per
/// [`crate::bulk::ROWS_PER_STATEMENT`] of them.
const BATCH_ROWS: usize = 1024;

// The column `batch_id` (named in migration 001, which cannot change) holds
// the ingest's execution id; "batch" in this file means a chunk of lines.
const INSERT_FILE: &str =
    "INSERT INTO otc_raw_files (batch_id, source_file, ingested_at) VALUES (?1, ?2, ?3) RETURNING id";

const INSERT_HEAD: &str = "INSERT INTO otc_raw_lines \
    (file_id, line_number, record_hash, week_ending, last_update_date, tier, symbol, issue_name, venue_name, \
     mpid, share_volume, trade_count, avg_hundredths)";
// ON CONFLICT DO NOTHING, not INSERT OR IGNORE: only a record hash already
// published on the same lastUpdateDate is a duplicate; a line that broke any
// other constraint must fail the run. The target is the unique index
// otc_raw_lines_key, column for column.
const INSERT_TAIL: &str = "ON CONFLICT (week_ending, tier, symbol, mpid, \
    (CASE mpid WHEN '' THEN venue_name ELSE '' END), last_update_date, record_hash) DO NOTHING";
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

    /// Loads `files`, found by the caller, as the week ending `week_ending`
    /// (`otc.fetch`'s downloads).
    pub fn for_files(files: Vec<PathBuf>, week_ending: NaiveDate) -> Self {
        Ingest {
            files,
            week_ending: Some(week_ending),
        }
    }
}

impl Pipeline for Ingest {
    fn run(&mut self, ctx: &mut Context<'_>) -> Result<Metrics> {
        Ok(metrics(self.stage(ctx)?))
    }
}

impl Ingest {
    /// Loads the files; returns the run's figures.
    pub fn stage(&mut self, ctx: &mut Context<'_>) -> Result<Figures> {
        let run = Run::start(ctx)?;
        // Lines an older version stored under its hash get this version's
        // first, so that no line of these files is taken for new.
        upgrade::rehash_legacy_lines(ctx)?;
        let dates = DateWindow::until_a_year_after(run::today(ctx)?);
        let week_given = self.week_ending.map(|week| week.format("%Y-%m-%d").to_string());
        // Files loaded whole before, recognised by their bytes, are not read
        // line by line (see contents.rs).
        let mut sources = Vec::with_capacity(self.files.len());
        for path in &self.files {
            stop_if_cancelled(ctx)?;
            let known = contents::recognise(ctx, path, week_given.as_deref(), dates)?;
            sources.push((path.clone(), known));
        }
        // Reading (parsing, checking, hashing) runs on its own thread, a few
        // batches ahead of storing, which is SQLite's work on this one: the
        // two take turns on one core no longer. The queue is bounded, so the
        // file still streams through a fixed amount of memory.
        let (events, received) = mpsc::sync_channel(QUEUED_BATCHES);
        let (recycle, recycled) = mpsc::channel();
        let reader = Reader {
            given_week: self.week_ending,
            dates,
            hasher: RecordHasher::default(),
            weeks: BTreeSet::new(),
            publications: BTreeSet::new(),
            last_publication: None,
            current_week: (NaiveDate::MIN, String::new()),
            mismatch: WeekMismatch::default(),
            file_weeks: BTreeSet::new(),
            latest_update: None,
            last_group: None,
            in_key_order: true,
            events,
            read_before: 0,
            recycled,
        };
        let reading = thread::Builder::new()
            .name("otc-ingest-read".to_owned())
            .spawn(move || reader.read(sources))
            .map_err(|e| {
                Error::new(
                    "otc.ingest.thread",
                    format!("cannot start the reading thread: {e}"),
                )
            })?;
        // Progress is drawn against the files' size, known from the start.
        let total_bytes = self
            .files
            .iter()
            .filter_map(|f| f.metadata().ok())
            .map(|m| m.len())
            .sum();
        let mut store = Store::new(&run, total_bytes, week_given);
        let stored = store.events(ctx, &received, &recycle);
        // A reader blocked on a full queue sees it gone and stops.
        drop(received);
        let read = match reading.join() {
            Ok(read) => read,
            Err(payload) => Err(reader_panicked(payload.as_ref())),
        };
        stored?;
        let (weeks, publications) = read?;
        store.rejects.flush(ctx)?;
        record_publications(ctx, &publications)?;
        let counts = &store.counts;
        let weeks: Vec<String> = weeks.iter().map(|w| w.format("%Y-%m-%d").to_string()).collect();
        let week_source = if self.week_ending.is_some() {
            "given"
        } else {
            "inferred"
        };
        let figures = json!({
            "records": counts.records,
            "inserted": counts.inserted,
            "duplicates": counts.duplicates,
            "rejected": store.rejects.count(),
            "files": self.files.len(),
            "files_known": counts.files_known,
            "weeks": weeks,
            "week_source": week_source,
            "week_mismatch": counts.week_mismatch,
        });
        Ok(figures.as_object().cloned().unwrap_or_default())
    }
}

/// The run's error when the reading thread panicked, with the panic's own
/// message (a `&str` or `String` payload; any other payload has none to give).
fn reader_panicked(payload: &(dyn Any + Send)) -> Error {
    let message = match (payload.downcast_ref::<&str>(), payload.downcast_ref::<String>()) {
        (Some(text), _) => text,
        (None, Some(text)) => text.as_str(),
        (None, None) => "a panic with no message",
    };
    Error::new(
        "otc.ingest.thread",
        format!("the reading thread panicked: {message}"),
    )
}

/// Batches read ahead of the one being stored.
const QUEUED_BATCHES: usize = 2;

/// What the reading thread hands over, in file order.
enum Event {
    /// A file with a header: its batches follow, then [`Event::FileEnd`].
    File(String),
    /// A file loaded whole before, not read again: its size, and what it holds.
    Known(String, u64, Known),
    Batch(Box<Batch>),
    /// The file is read: what its lines said of the given week, what it was,
    /// and whether its lines came in the unique key's order.
    FileEnd {
        mismatch: WeekMismatch,
        content: Content,
        in_key_order: bool,
    },
    /// Reading failed; the run fails with this error.
    Failed(Error),
}

/// Lines read and not stored yet: the well-formed ones, and the rejects.
#[derive(Default)]
struct Batch {
    lines: RawBatch,
    rejects: Vec<ReadReject>,
    /// Data lines read, whatever they turned out to be.
    records: u64,
    /// Bytes of the run's files read up to the end of this batch.
    read_to: u64,
}

/// A line rejected while reading.
struct ReadReject {
    line_number: u64,
    raw_line: String,
    reason: String,
}

impl Batch {
    fn clear(&mut self) {
        self.lines.clear();
        self.rejects.clear();
        self.records = 0;
        self.read_to = 0;
    }
}

/// The reading side: files → lines placed in their week and hashed.
struct Reader {
    given_week: Option<NaiveDate>,
    /// The `lastUpdateDate`s a line may carry.
    dates: DateWindow,
    hasher: RecordHasher,
    weeks: BTreeSet<NaiveDate>,
    publications: BTreeSet<Publication>,
    /// The publication of the previous line.
    last_publication: Option<Publication>,
    /// The week of the previous line and its text, formatted once per run of
    /// lines in the same week (files come in such runs).
    current_week: (NaiveDate, String),
    /// The current file's lines whose first publication says another week
    /// than the one given.
    mismatch: WeekMismatch,
    /// The weeks of the current file's lines, and their latest lastUpdateDate.
    file_weeks: BTreeSet<NaiveDate>,
    latest_update: Option<NaiveDate>,
    /// The (week, tier, symbol) the current file's last batch ended with,
    /// and whether its batches came in that order so far.
    last_group: Option<OwnedGroup>,
    in_key_order: bool,
    events: mpsc::SyncSender<Event>,
    /// Bytes of the files read before the current one.
    read_before: u64,
    /// Stored batches coming back, to be filled again.
    recycled: mpsc::Receiver<Box<Batch>>,
}

/// Why reading stopped short.
enum ReadError {
    /// A file cannot be read or is not a FINRA weekly file: the run fails
    /// with this error.
    Failed(Error),
    /// The storing side stopped: reading stops too.
    Stopped,
}

impl From<Error> for ReadError {
    fn from(error: Error) -> Self {
        ReadError::Failed(error)
    }
}

impl Reader {
    /// Reads every file, but those already known; returns the weeks and the
    /// publications of the lines read.
    fn read(
        mut self,
        files: Vec<(PathBuf, Option<Known>)>,
    ) -> Result<(BTreeSet<NaiveDate>, BTreeSet<Publication>)> {
        for (path, known) in files {
            let read = match known {
                Some(known) => self.known(&path, known),
                None => self.file(&path),
            };
            match read {
                Ok(()) => {}
                Err(ReadError::Failed(error)) => {
                    let _ = self.events.send(Event::Failed(error));
                    break;
                }
                Err(ReadError::Stopped) => break,
            }
        }
        Ok((self.weeks, self.publications))
    }

    fn send(&self, event: Event) -> std::result::Result<(), ReadError> {
        self.events.send(event).map_err(|_| ReadError::Stopped)
    }

    /// A file known from an earlier run: its weeks, and no line read.
    fn known(&mut self, path: &Path, known: Known) -> std::result::Result<(), ReadError> {
        self.weeks.extend(known.weeks.iter().copied());
        let size = path.metadata().map(|metadata| metadata.len()).unwrap_or(0);
        self.read_before += size;
        self.send(Event::Known(path.display().to_string(), self.read_before, known))
    }

    fn file(&mut self, path: &Path) -> std::result::Result<(), ReadError> {
        let name = path.display().to_string();
        let input = File::open(path)
            .map_err(|e| Error::new("otc.ingest.read", format!("cannot open {name}: {e}")))?;
        // The file's bytes are digested as they are read, so that a later run
        // can recognise them (contents.rs).
        let mut digest = Digesting::default();
        self.file_weeks.clear();
        self.latest_update = None;
        self.last_group = None;
        self.in_key_order = true;
        // A file starts a run of lines in its week afresh: its weeks are noted.
        self.current_week = (NaiveDate::MIN, String::new());
        let mut parser = Parser::new(digest.reader(input), &name, self.dates)?;
        self.send(Event::File(name.clone()))?;
        let mut batch = self.recycled.try_recv().unwrap_or_default();
        while let Some(record) = parser.next_record()? {
            batch.records += 1;
            match record {
                Record::Line(line) => self.line(&mut batch, &name, &line)?,
                Record::Reject(reject) => batch.rejects.push(ReadReject {
                    line_number: reject.line,
                    // Clipped now: a batch of long bad lines stays small.
                    raw_line: clip(&reject.raw_line, RAW_LINE_LIMIT),
                    reason: reject.reason,
                }),
            }
            if batch.lines.rows() >= BATCH_ROWS || batch.rejects.len() >= BATCH_ROWS {
                self.in_key_order &= batch.lines.sort(&mut self.last_group);
                batch.read_to = self.read_before + parser.bytes_read();
                self.send(Event::Batch(batch))?;
                batch = self.recycled.try_recv().unwrap_or_default();
            }
        }
        self.read_before += parser.bytes_read();
        drop(parser);
        if batch.records > 0 {
            self.in_key_order &= batch.lines.sort(&mut self.last_group);
            batch.read_to = self.read_before;
            self.send(Event::Batch(batch))?;
        }
        let mismatch = std::mem::take(&mut self.mismatch);
        let (sha256, size) = digest.finish();
        let content = Content {
            sha256,
            size,
            latest_update: self.latest_update,
            weeks: std::mem::take(&mut self.file_weeks),
        };
        let in_key_order = self.in_key_order;
        self.send(Event::FileEnd {
            mismatch,
            content,
            in_key_order,
        })
    }

    /// Places one well-formed line in its week and queues it for insertion.
    fn line(&mut self, batch: &mut Batch, file: &str, line: &Line<'_>) -> Result<()> {
        let tier = Tier::parse(line.tier);
        let week_ending = match (self.given_week, tier) {
            (Some(week), _) => week,
            // The help names this file alone: a week given for a whole
            // folder would file every one of its files under that week.
            (None, Some(tier)) => week::infer_week_ending(tier, line.last_update).map_err(|e| {
                e.with_location(format!("{file}: line {}", line.line))
                    .with_help(format!(
                        "load this file on its own with the Friday of the week it covers: \
                     spine-host run otc.ingest -p file_path={file} -p week_ending=YYYY-MM-DD \
                     (a week_ending given with a folder applies to every file in it)"
                    ))
            })?,
            // An unknown tier is the normalizer's to reject, but without a
            // known tier there is no publication rule to place the line with.
            (None, None) => {
                batch.rejects.push(ReadReject {
                    line_number: line.line,
                    raw_line: clip(&line.raw_line(), RAW_LINE_LIMIT),
                    reason: format!(
                        "field tierDescription: expected {SPELLINGS} to infer the trading week, found {:?} \
                         (or pass -p week_ending=YYYY-MM-DD)",
                        line.tier
                    ),
                });
                return Ok(());
            }
        };
        if let (Some(given), Some(tier)) = (self.given_week, tier) {
            self.mismatch.check(given, tier, line.last_update);
        }
        if let Some(tier) = tier {
            let publication = (
                week_ending,
                tier.canonical(),
                Venue::of(line.mpid, line.venue_name).venue_type(),
                line.last_update,
            );
            // Files hold one publication, or a few in runs of lines: the set
            // is looked up when the publication changes, not on every line.
            if self.last_publication != Some(publication) {
                self.publications.insert(publication);
                self.last_publication = Some(publication);
            }
        }
        if self.current_week.0 != week_ending {
            self.weeks.insert(week_ending);
            self.file_weeks.insert(week_ending);
            self.current_week = (week_ending, week_ending.format("%Y-%m-%d").to_string());
        }
        self.latest_update = self.latest_update.max(Some(line.last_update));
        let key = HashKey {
            week_ending: &self.current_week.1,
            tier: tier.map_or(line.tier, |tier| tier.canonical()),
            symbol: line.symbol,
            venue: Venue::of(line.mpid, line.venue_name),
            share_volume: line.share_volume,
            trade_count: line.trade_count,
        };
        batch.lines.push(&mut self.hasher, &key, tier, line);
        Ok(())
    }
}

/// A publication read: the week, the tier, the venue type and the
/// lastUpdateDate.
type Publication = (NaiveDate, &'static str, VenueType, NaiveDate);

/// Notes the publications of the lines read in `otc_publications`.
fn record_publications(ctx: &mut Context<'_>, publications: &BTreeSet<Publication>) -> Result<()> {
    for &(week, tier, venue_type, last_update) in publications {
        let (week, last_update) = (
            week.format("%Y-%m-%d").to_string(),
            last_update.format("%Y-%m-%d").to_string(),
        );
        ctx.execute(
            "INSERT INTO otc_publications (week_ending, tier, venue_type, last_update_date) \
             VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
            &[
                SqlValue::Text(&week),
                SqlValue::Text(tier),
                SqlValue::Text(venue_type.name()),
                SqlValue::Text(&last_update),
            ],
        )?;
    }
    Ok(())
}

/// Lines read, stored, and offered to the insert but not stored; lines
/// whose first publication says another week than the one given.
#[derive(Default)]
struct Counts {
    records: u64,
    inserted: u64,
    duplicates: u64,
    week_mismatch: u64,
    /// Files recognised by their bytes, not read again.
    files_known: u64,
}

/// Lines of one file whose lastUpdateDate is a Monday that, by the
/// first-publication rule, places them in another week than the one given:
/// a wrong `week_ending` would otherwise file a publication under the wrong
/// week without a sound. (A correction republished on a later Monday counts
/// too: the warning asks to check, it does not refuse.)
#[derive(Debug, Default)]
struct WeekMismatch {
    lines: u64,
    /// The given week, and the weeks the rule infers.
    given: Option<NaiveDate>,
    inferred: BTreeSet<NaiveDate>,
}

impl WeekMismatch {
    fn check(&mut self, given: NaiveDate, tier: Tier, last_update: NaiveDate) {
        // Not a Monday: not a first publication, and the rule says nothing.
        let Ok(inferred) = week::infer_week_ending(tier, last_update) else {
            return;
        };
        if inferred != given {
            self.lines += 1;
            self.given = Some(given);
            self.inferred.insert(inferred);
        }
    }

    /// The warning for file `name`, when it has such lines.
    fn warning(&self, name: &str) -> Option<String> {
        let given = self.given?;
        let inferred: Vec<String> = self.inferred.iter().map(|week| week.to_string()).collect();
        Some(format!(
            "{name}: week_ending {given} was given, but {} lines have a Monday lastUpdateDate that FINRA's \
             first-publication rule places in week {}; check -p week_ending",
            self.lines,
            inferred.join(", ")
        ))
    }
}

/// The storing side: batches → otc_raw_files, otc_raw_lines, otc_rejects.
struct Store<'r> {
    run: &'r Run,
    /// `-p week_ending`, when given.
    week_given: Option<String>,
    insert: BulkInsert,
    rejects: RejectWriter,
    counts: Counts,
    /// The size of the run's files, for progress in bytes.
    total_bytes: u64,
}

impl<'r> Store<'r> {
    fn new(run: &'r Run, total_bytes: u64, week_given: Option<String>) -> Self {
        Self {
            run,
            week_given,
            insert: BulkInsert::new(INSERT_HEAD, COLUMNS, INSERT_TAIL),
            rejects: RejectWriter::new(run, Stage::Parse),
            counts: Counts::default(),
            total_bytes,
        }
    }

    /// Stores what the reader sends, until it is done or something fails.
    fn events(
        &mut self,
        ctx: &mut Context<'_>,
        events: &mpsc::Receiver<Event>,
        recycle: &mpsc::Sender<Box<Batch>>,
    ) -> Result<()> {
        // The current file: its name, id, the counts when it started, and
        // the greatest otc_raw_lines id then.
        let mut file = None;
        for event in events {
            match event {
                Event::Failed(error) => return Err(error),
                Event::Known(name, read_to, known) => self.known(ctx, &name, read_to, &known)?,
                Event::File(name) => {
                    let id = self.file_row(ctx, &name)?;
                    let before = [
                        self.counts.records,
                        self.counts.inserted,
                        self.counts.duplicates,
                        self.rejects.count(),
                    ];
                    file = Some((name, id, before, last_raw_id(ctx)?));
                }
                Event::Batch(mut batch) => {
                    stop_if_cancelled(ctx)?;
                    let Some((name, id, _, _)) = &file else {
                        return Err(Error::new("otc.ingest.order", "lines arrived before their file"));
                    };
                    self.batch(ctx, name, *id, &batch)?;
                    batch.clear();
                    // The reader may be gone; the batch is then just freed.
                    let _ = recycle.send(batch);
                }
                Event::FileEnd {
                    mismatch,
                    content,
                    in_key_order,
                } => {
                    if let Some((name, id, [records, inserted, duplicates, rejected], last_id)) = file.take()
                    {
                        // otc.normalize reads the lines of a file that
                        // did not come in the key's order in that order.
                        ctx.execute(
                            "UPDATE otc_raw_files SET in_key_order = ?1 WHERE id = ?2",
                            &[SqlValue::Integer(i64::from(in_key_order)), SqlValue::Integer(id)],
                        )?;
                        if let Some(warning) = mismatch.warning(&name) {
                            ctx.log(Level::Warn, &warning);
                        }
                        self.counts.week_mismatch += mismatch.lines;
                        let records = self.counts.records - records;
                        let inserted = self.counts.inserted - inserted;
                        let duplicates = self.counts.duplicates - duplicates;
                        let rejected = self.rejects.count() - rejected;
                        ctx.log(
                            Level::Info,
                            &format!(
                                "{name}: {records} lines: {inserted} inserted, {duplicates} duplicates, \
                                 {rejected} rejected"
                            ),
                        );
                        // Every line a new row: the same bytes loaded again
                        // would all be duplicates.
                        if records > 0 && inserted == records && mismatch.lines == 0 {
                            let stored = [last_id + 1, last_raw_id(ctx)?];
                            let week_given = self.week_given.as_deref();
                            contents::record(ctx, id, &content, week_given, inserted, stored)?;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// A file loaded whole before: recorded, its lines counted as duplicates.
    fn known(&mut self, ctx: &mut Context<'_>, name: &str, read_to: u64, known: &Known) -> Result<()> {
        self.file_row(ctx, name)?;
        self.counts.records += known.lines;
        self.counts.duplicates += known.lines;
        self.counts.files_known += 1;
        let lines = known.lines;
        ctx.log(
            Level::Info,
            &format!(
                "{name}: {lines} lines: 0 inserted, {lines} duplicates, 0 rejected (the same bytes as {}, \
                 whose lines are all stored: not read again)",
                known.loaded_as
            ),
        );
        ctx.progress(read_to, self.total_bytes.max(read_to), "bytes");
        Ok(())
    }

    /// Records the file in otc_raw_files; returns its id.
    fn file_row(&self, ctx: &mut Context<'_>, name: &str) -> Result<i64> {
        ctx.query_one(
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
        })
    }

    fn batch(&mut self, ctx: &mut Context<'_>, name: &str, file_id: i64, batch: &Batch) -> Result<()> {
        for reject in &batch.rejects {
            self.rejects.add(
                ctx,
                Rejected {
                    source_file: name,
                    line_number: reject.line_number,
                    raw_line: &reject.raw_line,
                    reason: &reject.reason,
                    raw_id: None,
                },
            )?;
        }
        if batch.lines.rows() > 0 {
            let inserted = self.insert.insert(ctx, &batch.lines.values(file_id))?;
            self.counts.inserted += inserted;
            self.counts.duplicates += batch.lines.rows() as u64 - inserted;
        }
        self.counts.records += batch.records;
        ctx.progress(batch.read_to, self.total_bytes.max(batch.read_to), "bytes");
        Ok(())
    }
}

/// The greatest id in otc_raw_lines (0 when empty): ids stored after it are
/// greater (AUTOINCREMENT).
fn last_raw_id(ctx: &mut Context<'_>) -> Result<i64> {
    Ok(ctx
        .query_one("SELECT coalesce(max(id), 0) FROM otc_raw_lines", &[], |row| {
            row.i64(0)
        })?
        .unwrap_or_default())
}

/// Text fields per line, in INSERT order: week_ending, last_update_date,
/// tier, symbol, issue_name, venue_name, mpid.
const TEXT_FIELDS: usize = 7;
/// The tier's place among the text fields (empty for a known tier).
const TIER_FIELD: usize = 2;

/// A line's place in `otc_raw_lines_key`, and its place in the batch.
type Key<'a> = (
    &'a str,
    (bool, i64, &'a str),
    &'a str,
    &'a str,
    &'a str,
    &'a str,
    &'a [u8; 16],
    u32,
);

/// The (week, tier, symbol) of a [`Key`], owned.
type OwnedGroup = (String, (bool, i64, String), String);

/// Lines waiting for one insert. Their text sits in one buffer that is reused
/// from batch to batch, so queuing a line allocates nothing.
#[derive(Default)]
struct RawBatch {
    text: String,
    /// Where each text field ends in `text`, [`TEXT_FIELDS`] per line.
    ends: Vec<usize>,
    /// The record hash of each line.
    hashes: Vec<[u8; 16]>,
    /// share_volume, trade_count, line_number and tier code (0: unknown)
    /// of each line.
    numbers: Vec<[i64; 4]>,
    /// The average trade size of each line in hundredths, as
    /// otc_venue_volume keeps it.
    averages: Vec<Option<i64>>,
    /// The lines in the order they are inserted (see [`RawBatch::sort`]).
    order: Vec<u32>,
}

impl RawBatch {
    fn rows(&self) -> usize {
        self.numbers.len()
    }

    /// Queues one line; `tier` is its known tier, if any (`key.tier` is then
    /// the canonical name).
    fn push(&mut self, hasher: &mut RecordHasher, key: &HashKey<'_>, tier: Option<Tier>, line: &Line<'_>) {
        self.hashes.push(hasher.hash(key));
        for field in [
            key.week_ending,
            line.last_update_text,
            // A known tier is stored as its code; an unknown one as written.
            if tier.is_some() { "" } else { key.tier },
            line.symbol,
            line.issue_name,
            line.venue_name,
            line.mpid,
        ] {
            self.text.push_str(field);
            self.ends.push(self.text.len());
        }
        // The rows normalize moves in SQL take their average from here.
        let average = (line.share_volume >= 0 && line.trade_count >= 0)
            .then(|| decimal::average(line.share_volume, line.trade_count))
            .flatten();
        self.averages.push(average.and_then(decimal::Hundredths::to_i64));
        let line_number = i64::try_from(line.line).unwrap_or(i64::MAX);
        let tier = tier.map_or(0, Tier::code);
        self.numbers
            .push([line.share_volume, line.trade_count, line_number, tier]);
    }

    /// Text field `field` of line `line`.
    fn field(&self, line: usize, field: usize) -> &str {
        let index = line * TEXT_FIELDS + field;
        let start = if index == 0 { 0 } else { self.ends[index - 1] };
        &self.text[start..self.ends[index]]
    }

    /// Orders the lines as the unique key `otc_raw_lines_key` does. Each
    /// insert then lands just after the previous one, where SQLite's B-tree
    /// finds the place with one comparison and appends to the last page,
    /// instead of searching the page and splitting it in the middle.
    /// Returns whether the lines came in FINRA's order (a symbol's venues
    /// aside), after `previous`, the group the file's previous batch ended
    /// with; `previous` becomes this batch's last.
    fn sort(&mut self, previous: &mut Option<OwnedGroup>) -> bool {
        // Each line's key is taken once, then the keys are sorted: a key
        // taken afresh in every comparison costs more than the sort saves.
        // The line's place ends the key, so equal lines (a duplicate within
        // the batch) keep their order and the first is stored.
        let mut order = std::mem::take(&mut self.order);
        let mut keys: Vec<Key<'_>> = (0..self.rows())
            .map(|line| {
                let mpid = self.field(line, 6);
                let tier = self.numbers[line][3];
                (
                    self.field(line, 0),
                    // SQLite orders integers (known tiers' codes) before text.
                    (tier == 0, tier, self.field(line, TIER_FIELD)),
                    self.field(line, 3),
                    mpid,
                    if mpid.is_empty() { self.field(line, 5) } else { "" },
                    self.field(line, 1),
                    &self.hashes[line],
                    line as u32,
                )
            })
            .collect();
        // In FINRA's order (week, tier, symbol, and a symbol's venues in no
        // order) sorting each symbol's lines suffices, a few comparisons a
        // line. Any other order is sorted whole.
        fn group<'a>(key: &Key<'a>) -> (&'a str, (bool, i64, &'a str), &'a str) {
            (key.0, key.1, key.2)
        }
        let after_previous = match (previous.as_ref(), keys.first()) {
            (Some((week, (unknown, code, tier), symbol)), Some(first)) => {
                (week.as_str(), (*unknown, *code, tier.as_str()), symbol.as_str()) <= group(first)
            }
            _ => true,
        };
        let in_order = keys.windows(2).all(|pair| group(&pair[0]) <= group(&pair[1]));
        if in_order {
            for lines in keys.chunk_by_mut(|a, b| group(a) == group(b)) {
                lines.sort_unstable_by(|a, b| (a.3, a.4, a.5, a.6, a.7).cmp(&(b.3, b.4, b.5, b.6, b.7)));
            }
        } else {
            keys.sort_unstable();
        }
        if let Some(last) = keys.last() {
            let (week, (unknown, code, tier), symbol) = group(last);
            *previous = Some((
                week.to_owned(),
                (unknown, code, tier.to_owned()),
                symbol.to_owned(),
            ));
        }
        order.clear();
        order.extend(keys.iter().map(|key| key.7));
        self.order = order;
        in_order && after_previous
    }

    /// The INSERT's values, row after row, in the order [`RawBatch::sort`] gave.
    fn values(&self, file_id: i64) -> Vec<SqlValue<'_>> {
        let mut values = Vec::with_capacity(self.rows() * COLUMNS);
        for &line in &self.order {
            let line = line as usize;
            let [shares, trades, line_number, tier] = self.numbers[line];
            values.extend([
                SqlValue::Integer(file_id),
                SqlValue::Integer(line_number),
                SqlValue::Blob(&self.hashes[line]),
            ]);
            for index in 0..TEXT_FIELDS {
                values.push(if index == TIER_FIELD && tier != 0 {
                    SqlValue::Integer(tier)
                } else {
                    SqlValue::Text(self.field(line, index))
                });
            }
            let average = self.averages[line];
            values.extend([
                SqlValue::Integer(shares),
                SqlValue::Integer(trades),
                average.into(),
            ]);
        }
        values
    }

    fn clear(&mut self) {
        self.text.clear();
        self.ends.clear();
        self.hashes.clear();
        self.numbers.clear();
        self.averages.clear();
        self.order.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_of_the_reading_thread_reports_its_message() {
        let panicked = |body: fn()| {
            let payload = thread::spawn(body).join().unwrap_err();
            reader_panicked(payload.as_ref()).message
        };
        assert_eq!(
            panicked(|| panic!("a static message")),
            "the reading thread panicked: a static message"
        );
        assert_eq!(
            panicked(|| panic!("line {}", 7)),
            "the reading thread panicked: line 7"
        );
        assert_eq!(
            panicked(|| std::panic::panic_any(7_u8)),
            "the reading thread panicked: a panic with no message"
        );
    }

    /// A batch of `lines` (FINRA's columns, without the header), as the
    /// reader queues them for the week ending 2025-11-21.
    fn batch(lines: &[&str]) -> RawBatch {
        let text = format!(
            "tierDescription|issueSymbolIdentifier|issueName|marketParticipantName|MPID|\
             totalWeeklyShareQuantity|totalWeeklyTradeCount|lastUpdateDate\n{}\n",
            lines.join("\n")
        );
        let today = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        let mut parser =
            Parser::new(text.as_bytes(), "x.psv", DateWindow::until_a_year_after(today)).unwrap();
        let (mut batch, mut hasher) = (RawBatch::default(), RecordHasher::default());
        while let Some(record) = parser.next_record().unwrap() {
            let Record::Line(line) = record else {
                panic!("a reject")
            };
            let tier = Tier::parse(line.tier);
            let key = HashKey {
                week_ending: "2025-11-21",
                tier: tier.map_or(line.tier, |tier| tier.canonical()),
                symbol: line.symbol,
                venue: Venue::of(line.mpid, line.venue_name),
                share_volume: line.share_volume,
                trade_count: line.trade_count,
            };
            batch.push(&mut hasher, &key, tier, &line);
        }
        batch.sort(&mut None);
        batch
    }

    /// The line numbers of the batch in the order they are inserted.
    fn inserted_lines(batch: &RawBatch) -> Vec<i64> {
        let values = batch.values(1);
        values
            .chunks_exact(COLUMNS)
            .map(|row| match row[1] {
                SqlValue::Integer(line) => line,
                _ => panic!("line_number is an integer"),
            })
            .collect()
    }

    #[test]
    fn a_batch_in_finras_order_is_inserted_with_each_symbols_venues_in_key_order() {
        let batch = batch(&[
            "NMS Tier 1|AAPL|Apple|VENB ATS|VENB|1|1|2025-12-08",
            "NMS Tier 1|AAPL|Apple|Firm Z||5|1|2025-12-08",
            "NMS Tier 1|AAPL|Apple|VENA ATS|VENA|2|1|2025-12-08",
            "NMS Tier 1|MSFT|Microsoft|VENC ATS|VENC|3|1|2025-12-08",
            "NMS Tier 1|MSFT|Microsoft|VENA ATS|VENA|4|1|2025-12-08",
        ]);
        // A non-ATS line (empty MPID) comes first in its symbol, as in the key.
        assert_eq!(inserted_lines(&batch), [3, 4, 2, 6, 5]);
    }

    #[test]
    fn a_batch_in_another_order_is_sorted_whole_and_of_two_equal_lines_the_first_comes_first() {
        let batch = batch(&[
            "NMS Tier 2|AAA|A Inc|VENA ATS|VENA|1|1|2025-12-08",
            "Tier 9|AAA|A Inc|VENA ATS|VENA|1|1|2025-12-08",
            "NMS Tier 1|ZZZ|Z Inc|VENA ATS|VENA|1|1|2025-12-08",
            "NMS Tier 1|ZZZ|Z Inc|VENA ATS|VENA|1|1|2025-12-08",
            "NMS Tier 1|AAA|A Inc|VENB ATS|VENB|1|1|2025-12-08",
        ]);
        // Known tiers by code, then an unknown one (text sorts after integers).
        assert_eq!(inserted_lines(&batch), [6, 4, 5, 2, 3]);
    }

    #[test]
    fn a_batch_says_whether_it_came_in_finras_order_after_the_previous_one() {
        let line = |tier: &str, symbol: &str| format!("{tier}|{symbol}|X Inc|VENA ATS|VENA|1|1|2025-12-08");
        let in_order = |lines: &[String], previous: &mut Option<OwnedGroup>| {
            let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
            let mut batch = batch(&lines);
            batch.sort(previous)
        };
        let mut previous = None;
        assert!(in_order(
            &[line("NMS Tier 1", "AAA"), line("NMS Tier 1", "BBB")],
            &mut previous
        ));
        assert!(in_order(
            &[line("NMS Tier 1", "BBB"), line("NMS Tier 2", "AAA")],
            &mut previous
        ));
        // After NMS Tier 2 AAA, a batch starting with Tier 1 is out of order.
        assert!(!in_order(&[line("NMS Tier 1", "CCC")], &mut previous));
        assert!(!in_order(
            &[line("NMS Tier 2", "BBB"), line("NMS Tier 1", "CCC")],
            &mut None
        ));
    }
}
