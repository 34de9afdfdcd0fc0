//! `otc.normalize`: checks `otc_raw` rows and upserts them into
//! `otc_venue_volume` (the table `otc_venue_figures`), one row per (week,
//! tier, symbol, venue type, venue). A row with an MPID is an ATS row, its
//! venue the MPID; a row without one is a non-ATS row, its venue the firm's
//! name, and `De Minimis Firms` there is the aggregate of the small firms.
//!
//! Which row a key keeps never depends on the order rows arrive in: the row
//! with the latest lastUpdateDate wins, and of two rows published the same
//! day the one with the greater record hash (the upsert's WHERE decides). The
//! other row of such a same-day conflict is noted in `otc_rejects` whichever
//! of the two came first, so the rejects do not depend on the order either.
//!
//! Incremental: `otc_watermarks` keeps the last otc_raw id processed, so each
//! raw row is read once and no per-row flag is updated; `otc_normalize_queue`
//! holds older rows that an upgrade put back in play. The weeks touched are
//! queued in `otc_changed_weeks` for `otc.summarize`.
//!
//! The rows never cross into the plugin: one `INSERT … SELECT` moves every
//! row that [`SQL_CHECKED`] shows passes [`check`], with the average ingest
//! computed. The others (almost always none) are read through the partial
//! index that holds exactly them and go through [`check`] and the upsert one
//! by one. A same-day conflict is looked for only where one can be: at a row
//! that did not win its key, or whose figures the upsert replaced with a row
//! of the same day (the trigger `otc_venue_figures_same_day` lists those).

use crate::decimal;
use crate::hash::{Venue, VenueType};
use crate::rejects::{RejectWriter, Rejected, Stage};
use crate::run::{metrics, stop_if_cancelled, Figures, Run};
use crate::tier::{name_sql, Tier, SPELLINGS};
use crate::upgrade;
use serde_json::json;
use spine_plugin_api::{Context, Metrics, Pipeline, Result, Row, SqlValue};
use std::collections::{BTreeSet, HashSet};

/// Unchecked rows read at a time.
const CHUNK_ROWS: i64 = 2000;

/// This stage's name in otc_watermarks.
const STAGE: &str = "normalize";

/// The most shares one row may report: no real row comes near (the largest
/// seen is about 2.5 × 10^8), so a value beyond it is a corrupt file. The
/// bounds also keep a week's sums far inside what summarize adds up exactly.
pub const MAX_SHARE_VOLUME: i64 = 100_000_000_000_000;
/// The most trades one row may report.
pub const MAX_TRADE_COUNT: i64 = 1_000_000_000_000;

/// The rows SQL moves: they pass [`check`] (ingest stores text trimmed,
/// known tiers as their codes, and the average [`check`] computes). The
/// partial index `otc_raw_lines_unchecked` holds `NOT (this)`, word for word.
pub const SQL_CHECKED: &str = "(tier = 1 OR tier = 2 OR tier = 3) \
    AND symbol <> '' AND (mpid <> '' OR venue_name <> '') \
    AND share_volume >= 0 AND trade_count >= 0 AND (trade_count > 0 OR share_volume = 0) \
    AND share_volume <= 100000000000000 AND trade_count <= 1000000000000 \
    AND (avg_hundredths IS NOT NULL OR trade_count = 0)";

/// Why the loser of a same-day conflict is in otc_rejects.
pub const SAME_DAY_REASON: &str = "superseded by a conflicting row published the same day";

/// The participant name of the non-ATS row that aggregates the small firms.
pub const DE_MINIMIS: &str = "De Minimis Firms";

/// SQL for a raw row's venue type, venue and whether it is the de minimis
/// aggregate, its columns named after `line` (`""` or an alias and a dot).
/// ingest stores text trimmed, so the comparison needs no trim; NOCASE
/// folds ASCII, all the name holds.
fn venue_sql(line: &str) -> String {
    let (ats, non_ats) = (VenueType::Ats.code(), VenueType::NonAts.code());
    format!(
        "CASE WHEN {line}mpid <> '' THEN {ats} ELSE {non_ats} END, \
         CASE WHEN {line}mpid <> '' THEN {line}mpid ELSE {line}venue_name END, \
         ({line}mpid = '' AND {line}venue_name = '{DE_MINIMIS}' COLLATE NOCASE)"
    )
}

/// The upsert's conflict clause: the later lastUpdateDate wins, then the
/// greater record hash. Both are the row's content, never its load order.
/// The figures keep no hash (16 bytes a row): the two raw lines' hashes are
/// looked up, and only when a key meets a second row.
const ON_CONFLICT: &str = "ON CONFLICT (week_ending, tier, symbol, venue_type, venue) DO UPDATE SET \
        share_volume = excluded.share_volume, trade_count = excluded.trade_count, \
        avg_hundredths = excluded.avg_hundredths, raw_id = excluded.raw_id, \
        last_update_date = excluded.last_update_date, run_id = excluded.run_id \
    WHERE excluded.last_update_date > otc_venue_figures.last_update_date \
        OR (excluded.last_update_date = otc_venue_figures.last_update_date \
            AND (SELECT record_hash FROM otc_raw_lines WHERE id = excluded.raw_id) \
                > (SELECT record_hash FROM otc_raw_lines WHERE id = otc_venue_figures.raw_id))";

const INSERT_HEAD: &str = "INSERT INTO otc_venue_figures \
    (week_ending, tier, symbol, venue_type, venue, is_aggregate, share_volume, trade_count, avg_hundredths, \
     raw_id, last_update_date, run_id)";

/// The raw row's key and publication day, as the unique key
/// `otc_raw_lines_key` orders them: the rows of one (key, day) are neighbours.
const SAME_DAY_KEY: &str = "week_ending = ?1 AND tier = ?2 AND symbol = ?3 AND mpid = ?4 \
    AND (CASE mpid WHEN '' THEN venue_name ELSE '' END) = ?5 AND last_update_date = ?6";

/// Which raw rows a pass reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Selection {
    /// The rows ingested since the last run.
    New,
    /// The rows in otc_normalize_queue.
    Queued,
}

impl Selection {
    /// `FROM … WHERE …` of the selection's rows with ids in (?1, ?2], the raw
    /// row named `line`; `unchecked` reads only rows SQL does not move.
    fn rows(self, unchecked: bool) -> &'static str {
        match (self, unchecked) {
            (Selection::New, false) => "FROM otc_raw_lines AS line WHERE line.id > ?1 AND line.id <= ?2",
            (Selection::New, true) => {
                "FROM otc_raw_lines AS line INDEXED BY otc_raw_lines_unchecked \
                 WHERE line.id > ?1 AND line.id <= ?2"
            }
            (Selection::Queued, _) => {
                "FROM otc_normalize_queue AS queued JOIN otc_raw_lines AS line ON line.id = queued.raw_id \
                 WHERE queued.raw_id > ?1 AND queued.raw_id <= ?2"
            }
        }
    }
}

/// The columns [`RawRow::from_row`] reads, of the raw row `line`.
fn raw_row_columns() -> String {
    format!(
        "line.id, week_ending, last_update_date, {}, symbol, issue_name, venue_name, mpid, share_volume, \
         trade_count, lower(hex(record_hash)), \
         (SELECT source_file FROM otc_raw_files WHERE otc_raw_files.id = line.file_id), line_number",
        name_sql("tier")
    )
}

/// Counts the selected rows and lists their weeks.
fn scan_sql(selection: Selection) -> String {
    format!(
        "SELECT count(*), group_concat(DISTINCT week_ending) {}",
        selection.rows(false)
    )
}

/// Whether week ?3 has selected rows that SQL moves.
fn has_checked_rows_sql(selection: Selection) -> String {
    format!(
        "SELECT EXISTS (SELECT 1 {} AND week_ending = ?3 AND {SQL_CHECKED})",
        selection.rows(false)
    )
}

/// Moves the selected rows that pass the checks; ?3 is the run's
/// otc_normalize_runs id. `all_pass` when the partial index holds none of the
/// selected rows: every one passes, and the checks (a fifth of the statement's
/// work a row) are not evaluated again. `by_key` reads the rows in the order
/// of `otc_raw_lines_key`, which is the figures' (the weeks ?4 are a JSON
/// array): rows that did not come in that order are then upserted in it, each
/// after the previous one, instead of at several places of the table at
/// once (a third fewer instructions for tiers interleaved line by line; a
/// seventh more for rows in the key's order, which are read by id).
fn move_checked_sql(selection: Selection, all_pass: bool, by_key: bool) -> String {
    let checked = if all_pass {
        String::new()
    } else {
        format!("AND {SQL_CHECKED}")
    };
    let rows = match selection {
        Selection::New if by_key => {
            "FROM otc_raw_lines AS line INDEXED BY otc_raw_lines_key \
             WHERE line.week_ending IN (SELECT value FROM json_each(?4)) AND line.id > ?1 AND line.id <= ?2"
        }
        _ => selection.rows(false),
    };
    format!(
        "{INSERT_HEAD} SELECT week_ending, {}, symbol, {}, share_volume, trade_count, avg_hundredths, \
             line.id, last_update_date, ?3 \
         {rows} {checked} {ON_CONFLICT}",
        name_sql("tier"),
        venue_sql(""),
    )
}

/// Whether the raw rows after `first` came in the unique key's order, as
/// ingest noted per file (a file of an earlier version counts as in order).
fn new_rows_in_key_order(ctx: &mut Context<'_>, first: i64) -> Result<bool> {
    Ok(ctx
        .query_one(
            "SELECT coalesce(min(in_key_order), 1) FROM otc_raw_files \
             WHERE id >= (SELECT file_id FROM otc_raw_lines WHERE id > ?1 ORDER BY id LIMIT 1)",
            &[SqlValue::Integer(first)],
            |row| row.i64(0),
        )?
        .unwrap_or(1)
        == 1)
}

/// The selected rows that SQL does not move, after ?1 up to ?2, ?3 at a time.
fn read_unchecked_sql(selection: Selection) -> String {
    format!(
        "SELECT {} {} AND NOT ({SQL_CHECKED}) ORDER BY line.id LIMIT ?3",
        raw_row_columns(),
        selection.rows(true)
    )
}

/// Upserts the raw row ?1 that [`check`] passed, its tier's canonical name
/// ?2, its average ?3; ?4 is the run's otc_normalize_runs id.
fn upsert_one_sql() -> String {
    format!(
        "{INSERT_HEAD} SELECT week_ending, ?2, symbol, {}, share_volume, trade_count, ?3, id, \
             last_update_date, ?4 \
         FROM otc_raw_lines WHERE id = ?1 {ON_CONFLICT}",
        venue_sql("")
    )
}

/// The selected rows that passed the checks and are not the figures of
/// their key: those that lost, where a same-day conflict may hide.
fn not_winning_sql(selection: Selection) -> String {
    format!(
        "SELECT line.id {} AND {SQL_CHECKED} AND NOT EXISTS (SELECT 1 FROM otc_venue_figures AS venue \
             WHERE (venue.week_ending, venue.tier, venue.symbol, venue.venue_type, venue.venue, \
                    venue.is_aggregate) = (line.week_ending, {}, line.symbol, {}) \
             AND venue.raw_id = line.id)",
        selection.rows(false),
        name_sql("line.tier"),
        venue_sql("line.")
    )
}

/// The rows of raw row ?1's key and day that pass the checks, the greatest
/// record hash (the winner) first, each with whether it is in otc_rejects.
fn same_day_rows_sql() -> String {
    format!(
        "SELECT {}, EXISTS (SELECT 1 FROM otc_rejects WHERE otc_rejects.raw_id = line.id) \
         FROM otc_raw_lines AS line WHERE {SAME_DAY_KEY} AND {SQL_CHECKED} ORDER BY record_hash DESC",
        raw_row_columns()
    )
}

/// The `otc.normalize` pipeline.
pub struct Normalize;

/// One otc_raw row, as normalize reads it.
#[derive(Debug, Default)]
pub struct RawRow {
    pub id: i64,
    pub week_ending: String,
    pub last_update_date: String,
    pub tier: String,
    pub symbol: String,
    pub issue_name: String,
    pub venue_name: String,
    pub mpid: String,
    pub share_volume: i64,
    pub trade_count: i64,
    pub record_hash: String,
    pub source_file: String,
    pub line_number: i64,
}

impl RawRow {
    fn from_row(row: &Row<'_>) -> Result<Self> {
        Ok(RawRow {
            id: row.i64(0)?,
            week_ending: row.str(1)?.to_owned(),
            last_update_date: row.str(2)?.to_owned(),
            tier: row.str(3)?.to_owned(),
            symbol: row.str(4)?.to_owned(),
            issue_name: row.str(5)?.to_owned(),
            venue_name: row.str(6)?.to_owned(),
            mpid: row.str(7)?.to_owned(),
            share_volume: row.i64(8)?,
            trade_count: row.i64(9)?,
            record_hash: row.str(10)?.to_owned(),
            source_file: row.str(11)?.to_owned(),
            line_number: row.i64(12)?,
        })
    }

    /// The row in the shape of the line it came from, for a reject.
    fn as_line(&self) -> String {
        format!(
            "{}|{}|{}|{}|{}|{}|{}|{}",
            self.tier,
            self.symbol,
            self.issue_name,
            self.venue_name,
            self.mpid,
            self.share_volume,
            self.trade_count,
            self.last_update_date
        )
    }
}

/// What a row that passes the checks becomes.
#[derive(Debug)]
pub struct Checked<'a> {
    pub tier: Tier,
    pub venue: Venue<'a>,
    /// The non-ATS row of the small firms (its venue is [`DE_MINIMIS`]).
    pub is_aggregate: bool,
    pub avg_trade_size: Option<decimal::Hundredths>,
}

/// Checks one raw row; the error is the reason it is rejected. Field names
/// are FINRA's, because the reject points back at a line of a FINRA file.
pub fn check(row: &RawRow) -> std::result::Result<Checked<'_>, String> {
    let tier = Tier::parse(&row.tier).ok_or_else(|| {
        format!(
            "field tierDescription: expected {SPELLINGS}, found {:?}",
            row.tier
        )
    })?;
    if row.symbol.trim().is_empty() {
        return Err("field issueSymbolIdentifier: expected a symbol, found an empty field".to_owned());
    }
    let venue = Venue::of(row.mpid.trim(), row.venue_name.trim());
    if venue == Venue::NonAts("") {
        return Err(
            "fields MPID and marketParticipantName: expected an MPID (an ATS) or a participant \
                    name (a non-ATS firm), found both empty"
                .to_owned(),
        );
    }
    if row.share_volume < 0 {
        return Err(format!(
            "field totalWeeklyShareQuantity: expected 0 or more shares, found {}",
            row.share_volume
        ));
    }
    if row.trade_count < 0 {
        return Err(format!(
            "field totalWeeklyTradeCount: expected 0 or more trades, found {}",
            row.trade_count
        ));
    }
    if row.trade_count == 0 && row.share_volume > 0 {
        return Err(format!(
            "field totalWeeklyTradeCount: expected at least 1 trade for {} shares, found 0",
            row.share_volume
        ));
    }
    if row.share_volume > MAX_SHARE_VOLUME {
        return Err(format!(
            "field totalWeeklyShareQuantity: expected at most {MAX_SHARE_VOLUME} shares, found {}",
            row.share_volume
        ));
    }
    if row.trade_count > MAX_TRADE_COUNT {
        return Err(format!(
            "field totalWeeklyTradeCount: expected at most {MAX_TRADE_COUNT} trades, found {}",
            row.trade_count
        ));
    }
    Ok(Checked {
        tier,
        venue,
        is_aggregate: matches!(venue, Venue::NonAts(firm) if firm.eq_ignore_ascii_case(DE_MINIMIS)),
        avg_trade_size: decimal::average(row.share_volume, row.trade_count),
    })
}

impl Pipeline for Normalize {
    fn run(&mut self, ctx: &mut Context<'_>) -> Result<Metrics> {
        Ok(metrics(self.stage(ctx)?))
    }
}

impl Normalize {
    /// Normalizes what awaits; returns the run's figures.
    pub fn stage(&mut self, ctx: &mut Context<'_>) -> Result<Figures> {
        let run = Run::start(ctx)?;
        upgrade::rehash_legacy_lines(ctx)?;
        let awaiting = Awaiting::find(ctx)?;
        let mut pass = Pass::new(&run);
        pass.selection(ctx, Selection::Queued, 0, awaiting.queued_last)?;
        pass.selection(ctx, Selection::New, awaiting.watermark, awaiting.last)?;
        pass.settle_same_day(ctx)?;
        pass.rejects.flush(ctx)?;
        ctx.progress(pass.processed, pass.processed, "rows");
        awaiting.mark_done(ctx)?;
        pass.queue_weeks(ctx)?;
        Ok(pass.figures())
    }
}

/// The raw rows a run normalizes: those after the watermark, up to the last
/// stored, and the queue. The run holds the write lock, so no row arrives
/// meanwhile.
struct Awaiting {
    /// The last row an earlier run normalized.
    watermark: i64,
    /// The last row stored.
    last: i64,
    /// The last queued row.
    queued_last: i64,
}

impl Awaiting {
    fn find(ctx: &mut Context<'_>) -> Result<Self> {
        let mut integer = |sql: &str, params: &[SqlValue<'_>]| -> Result<i64> {
            Ok(ctx.query_one(sql, params, |row| row.i64(0))?.unwrap_or(0))
        };
        Ok(Awaiting {
            watermark: integer(
                "SELECT raw_id FROM otc_watermarks WHERE stage = ?1",
                &[STAGE.into()],
            )?,
            last: integer("SELECT coalesce(max(id), 0) FROM otc_raw_lines", &[])?,
            queued_last: integer("SELECT coalesce(max(raw_id), 0) FROM otc_normalize_queue", &[])?,
        })
    }

    /// Empties the queue and moves the watermark past the rows normalized.
    fn mark_done(&self, ctx: &mut Context<'_>) -> Result<()> {
        ctx.execute("DELETE FROM otc_normalize_queue", &[])?;
        ctx.execute(
            "INSERT INTO otc_watermarks (stage, raw_id) VALUES (?1, ?2) \
             ON CONFLICT (stage) DO UPDATE SET raw_id = excluded.raw_id",
            &[STAGE.into(), self.last.max(self.watermark).into()],
        )?;
        Ok(())
    }
}

/// The venue rows of `weeks`.
fn count_keys(ctx: &mut Context<'_>, weeks: &[String]) -> Result<u64> {
    let mut keys = 0;
    for week in weeks {
        keys += ctx
            .query_one(
                "SELECT count(*) FROM otc_venue_figures WHERE week_ending = ?1",
                &[SqlValue::Text(week)],
                |row| row.i64(0),
            )?
            .unwrap_or(0);
    }
    Ok(u64::try_from(keys).unwrap_or_default())
}

/// One normalize run's work.
struct Pass<'r> {
    run: &'r Run,
    /// The run's otc_normalize_runs id, once it has a row to write.
    run_id: Option<i64>,
    rejects: RejectWriter,
    /// Raw rows read.
    processed: u64,
    /// Rows of otc_venue_volume inserted or revised.
    changed: u64,
    /// Rows of otc_venue_volume inserted.
    new_keys: u64,
    /// Raw rows whose key and day may hold a same-day conflict.
    same_day_candidates: Vec<i64>,
    /// Losers of same-day conflicts this run noted.
    same_day: u64,
    /// Weeks of the accepted rows, for otc.summarize.
    weeks: BTreeSet<String>,
    /// Weeks of the rejected rows.
    rejected_weeks: BTreeSet<String>,
}

impl<'r> Pass<'r> {
    fn new(run: &'r Run) -> Self {
        Self {
            run,
            run_id: None,
            rejects: RejectWriter::new(run, Stage::Normalize),
            processed: 0,
            changed: 0,
            new_keys: 0,
            same_day_candidates: Vec::new(),
            same_day: 0,
            weeks: BTreeSet::new(),
            rejected_weeks: BTreeSet::new(),
        }
    }

    /// The run's figures: rows read, accepted, rejected and revised.
    fn figures(&self) -> Figures {
        let rejected = self.rejects.count() - self.same_day;
        let figures = json!({
            "processed": self.processed,
            "accepted": self.processed.saturating_sub(rejected),
            "rejected": rejected,
            "revised": self.changed.saturating_sub(self.new_keys),
            "same_day_conflicts": self.same_day,
        });
        figures.as_object().cloned().unwrap_or_default()
    }

    /// The id of this run's otc_normalize_runs row, which keeps the time and
    /// execution of every row the run writes once.
    fn run_id(&mut self, ctx: &mut Context<'_>) -> Result<i64> {
        if let Some(id) = self.run_id {
            return Ok(id);
        }
        let id = ctx
            .query_one(
                "INSERT INTO otc_normalize_runs (execution_id, normalized_at) VALUES (?1, ?2) RETURNING id",
                &[
                    SqlValue::Text(&self.run.execution_id),
                    SqlValue::Text(&self.run.started_at),
                ],
                |row| row.i64(0),
            )?
            .unwrap_or_default();
        self.run_id = Some(id);
        Ok(id)
    }

    /// Processes the rows of `selection` with ids in (first, last].
    fn selection(
        &mut self,
        ctx: &mut Context<'_>,
        selection: Selection,
        first: i64,
        last: i64,
    ) -> Result<()> {
        let range = [SqlValue::Integer(first), SqlValue::Integer(last)];
        let (rows, weeks) = ctx
            .query_one(&scan_sql(selection), &range, |row| {
                let weeks = row.opt_str(1)?.unwrap_or_default().split(',');
                let weeks: Vec<String> = weeks.filter(|week| !week.is_empty()).map(str::to_owned).collect();
                Ok((row.i64(0)?, weeks))
            })?
            .unwrap_or_default();
        let rows = u64::try_from(rows).unwrap_or_default();
        if rows == 0 {
            return Ok(());
        }
        self.processed += rows;
        let run_id = self.run_id(ctx)?;

        // The unchecked rows first: the before-and-after counts of the weeks
        // below then see only the INSERT … SELECT.
        let unchecked = self.unchecked(ctx, selection, first, last)?;
        self.rejects.flush(ctx)?;

        stop_if_cancelled(ctx)?;
        let keys_before = count_keys(ctx, &weeks)?;
        let by_key = selection == Selection::New && !new_rows_in_key_order(ctx, first)?;
        let weeks_json = serde_json::to_string(&weeks).unwrap_or_default();
        let mut params = vec![range[0], range[1], SqlValue::Integer(run_id)];
        if by_key {
            params.push(SqlValue::Text(&weeks_json));
        }
        let changed = ctx.execute(&move_checked_sql(selection, unchecked == 0, by_key), &params)?;
        // New keys are rows the week did not have; every other row changed
        // is a revision.
        self.new_keys += count_keys(ctx, &weeks)? - keys_before;
        self.changed += changed;
        // Every row moved changed its key's figures unless it lost to a
        // stored row; only then (and for queued rows, which an upgrade put
        // back because of a conflict) is a look at the losers needed.
        let moved = rows - unchecked;
        if selection == Selection::Queued || changed < moved {
            let sql = if selection == Selection::Queued {
                format!("SELECT line.id {} AND {SQL_CHECKED}", selection.rows(false))
            } else {
                not_winning_sql(selection)
            };
            ctx.query(&sql, &range, |row| {
                self.same_day_candidates.push(row.i64(0)?);
                Ok(true)
            })?;
        }

        // A week has accepted rows unless every selected row of it was rejected.
        for week in weeks {
            let accepted = self.weeks.contains(&week)
                || !self.rejected_weeks.contains(&week)
                || ctx
                    .query_one(
                        &has_checked_rows_sql(selection),
                        &[range[0], range[1], SqlValue::Text(&week)],
                        |row| row.i64(0),
                    )?
                    .unwrap_or_default()
                    == 1;
            if accepted {
                self.weeks.insert(week);
            }
        }
        Ok(())
    }

    /// Checks the selected rows (first, last] that SQL does not move, a chunk
    /// at a time; returns how many there were.
    fn unchecked(
        &mut self,
        ctx: &mut Context<'_>,
        selection: Selection,
        first: i64,
        last: i64,
    ) -> Result<u64> {
        let sql = read_unchecked_sql(selection);
        let (mut position, mut read) = (first, 0);
        loop {
            stop_if_cancelled(ctx)?;
            let mut chunk = Vec::new();
            ctx.query(&sql, &[position.into(), last.into(), CHUNK_ROWS.into()], |row| {
                chunk.push(RawRow::from_row(row)?);
                Ok(true)
            })?;
            let Some(tail) = chunk.last() else { break };
            position = tail.id;
            read += chunk.len() as u64;
            for row in &chunk {
                self.row(ctx, row)?;
            }
            ctx.progress(read, self.processed, "rows");
        }
        Ok(read)
    }

    /// Rejects one unchecked row, or upserts it.
    fn row(&mut self, ctx: &mut Context<'_>, row: &RawRow) -> Result<()> {
        let checked = match check(row) {
            Ok(checked) => checked,
            Err(reason) => {
                if !self.rejected_weeks.contains(&row.week_ending) {
                    self.rejected_weeks.insert(row.week_ending.clone());
                }
                return self.reject(ctx, row, &reason);
            }
        };
        let tier = checked.tier.canonical();
        let (venue_type, venue) = (checked.venue.venue_type().code(), checked.venue.name());
        let existed = ctx
            .query_one(
                "SELECT 1 FROM otc_venue_figures \
                 WHERE week_ending = ?1 AND tier = ?2 AND symbol = ?3 AND venue_type = ?4 AND venue = ?5",
                &[
                    SqlValue::Text(&row.week_ending),
                    SqlValue::Text(tier),
                    SqlValue::Text(&row.symbol),
                    SqlValue::Integer(venue_type),
                    SqlValue::Text(venue),
                ],
                |_| Ok(()),
            )?
            .is_some();
        let run_id = self.run_id(ctx)?;
        let changed = ctx.execute(
            &upsert_one_sql(),
            &[
                SqlValue::Integer(row.id),
                SqlValue::Text(tier),
                checked
                    .avg_trade_size
                    .and_then(decimal::Hundredths::to_i64)
                    .into(),
                SqlValue::Integer(run_id),
            ],
        )?;
        self.changed += changed;
        if changed == 0 {
            self.same_day_candidates.push(row.id);
        } else if !existed {
            self.new_keys += changed;
        }
        if !self.weeks.contains(&row.week_ending) {
            self.weeks.insert(row.week_ending.clone());
        }
        Ok(())
    }

    fn reject(&mut self, ctx: &mut Context<'_>, row: &RawRow, reason: &str) -> Result<()> {
        self.rejects.add(
            ctx,
            Rejected {
                source_file: &row.source_file,
                line_number: u64::try_from(row.line_number).unwrap_or_default(),
                raw_line: &row.as_line(),
                reason,
                raw_id: Some(row.id),
            },
        )
    }

    /// Notes, for every key and day a candidate belongs to, the rows that lost
    /// to a row of the same day with a greater hash and are not noted yet.
    fn settle_same_day(&mut self, ctx: &mut Context<'_>) -> Result<()> {
        let mut candidates = std::mem::take(&mut self.same_day_candidates);
        ctx.query("SELECT raw_id FROM otc_same_day_losers", &[], |row| {
            candidates.push(row.i64(0)?);
            Ok(true)
        })?;
        ctx.execute("DELETE FROM otc_same_day_losers", &[])?;
        candidates.sort_unstable();
        candidates.dedup();
        let same_day_rows = same_day_rows_sql();
        // Rows whose key and day were looked at.
        let mut settled = HashSet::new();
        for id in candidates {
            if settled.contains(&id) {
                continue;
            }
            stop_if_cancelled(ctx)?;
            // The candidate's key and day; a candidate passed the checks, so
            // its tier is a code.
            let key = ctx.query_one(
                "SELECT week_ending, tier, symbol, mpid, (CASE mpid WHEN '' THEN venue_name ELSE '' END), \
                     last_update_date \
                 FROM otc_raw_lines WHERE id = ?1",
                &[SqlValue::Integer(id)],
                |row| {
                    Ok((
                        [
                            row.str(0)?.to_owned(),
                            row.str(2)?.to_owned(),
                            row.str(3)?.to_owned(),
                        ],
                        row.i64(1)?,
                        [row.str(4)?.to_owned(), row.str(5)?.to_owned()],
                    ))
                },
            )?;
            let Some(([week, symbol, mpid], tier, [venue, day])) = key else {
                continue;
            };
            let params = [
                SqlValue::Text(&week),
                SqlValue::Integer(tier),
                SqlValue::Text(&symbol),
                SqlValue::Text(&mpid),
                SqlValue::Text(&venue),
                SqlValue::Text(&day),
            ];
            let mut rows = Vec::new();
            ctx.query(&same_day_rows, &params, |row| {
                rows.push((RawRow::from_row(row)?, row.i64(13)? == 1));
                Ok(true)
            })?;
            for (index, (row, noted)) in rows.iter().enumerate() {
                settled.insert(row.id);
                if index > 0 && !noted {
                    self.reject(ctx, row, SAME_DAY_REASON)?;
                    self.same_day += 1;
                }
            }
        }
        Ok(())
    }

    /// Queues the weeks touched for otc.summarize.
    fn queue_weeks(&self, ctx: &mut Context<'_>) -> Result<()> {
        if self.weeks.is_empty() {
            return Ok(());
        }
        let values: Vec<SqlValue<'_>> = self
            .weeks
            .iter()
            .flat_map(|week| [SqlValue::Text(week), SqlValue::Text(&self.run.started_at)])
            .collect();
        ctx.execute_many(
            "INSERT INTO otc_changed_weeks (week_ending, changed_at) VALUES (?1, ?2) \
             ON CONFLICT (week_ending) DO NOTHING",
            2,
            &values,
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// [`SQL_CHECKED`] in Rust, clause for clause, for a row whose
    /// avg_hundredths ingest computed (a known tier's code reads back as the
    /// canonical name, through name_sql).
    fn sql_checked(row: &RawRow) -> bool {
        ["NMS Tier 1", "NMS Tier 2", "OTC"].contains(&row.tier.as_str())
            && !row.symbol.is_empty()
            && (!row.mpid.is_empty() || !row.venue_name.is_empty())
            && row.share_volume >= 0
            && row.trade_count >= 0
            && (row.trade_count > 0 || row.share_volume == 0)
            && row.share_volume <= MAX_SHARE_VOLUME
            && row.trade_count <= MAX_TRADE_COUNT
    }

    #[test]
    fn the_partial_index_holds_exactly_the_rows_sql_does_not_check() {
        let migration = include_str!("../migrations/002_otc_publications.sql");
        let words = |text: &str| text.split_whitespace().collect::<Vec<_>>().join(" ");
        let index = format!(
            "CREATE INDEX otc_raw_lines_unchecked ON otc_raw_lines (id) WHERE NOT ({});",
            words(SQL_CHECKED)
        );
        assert!(words(migration).contains(&index), "{index}");
    }

    proptest! {
        #[test]
        fn rows_sql_checks_pass_the_checks(
            tier in prop::sample::select(vec!["NMS Tier 1", "NMS Tier 2", "OTC", "T1", "otc", "Tier 3", ""]),
            symbol in prop::sample::select(vec!["AAPL", "", "BRK.B"]),
            mpid in prop::sample::select(vec!["UBSA", ""]),
            firm in prop::sample::select(vec!["UBS ATS", "Citadel Securities LLC", "De Minimis Firms", ""]),
            shares in prop_oneof![
                Just(0i64), Just(-1i64), Just(i64::MAX), Just(MAX_SHARE_VOLUME), Just(MAX_SHARE_VOLUME + 1),
                0..1_000_000i64
            ],
            trades in prop_oneof![
                Just(0i64), Just(-1i64), Just(i64::MAX), Just(MAX_TRADE_COUNT), Just(MAX_TRADE_COUNT + 1),
                0..1_000i64
            ],
        ) {
            let row = RawRow { venue_name: firm.into(), ..row(tier, symbol, mpid, shares, trades) };
            if sql_checked(&row) {
                let checked = check(&row);
                prop_assert!(checked.is_ok(), "{:?}", checked);
                let checked = checked.unwrap();
                prop_assert_eq!(checked.tier.canonical(), tier);
                // What ingest stores for the row.
                prop_assert_eq!(checked.avg_trade_size, decimal::average(shares, trades));
                prop_assert_eq!(checked.venue, Venue::of(mpid, firm));
                prop_assert_eq!(checked.is_aggregate, mpid.is_empty() && firm == DE_MINIMIS);
            }
        }
    }

    fn row(tier: &str, symbol: &str, mpid: &str, shares: i64, trades: i64) -> RawRow {
        RawRow {
            tier: tier.into(),
            symbol: symbol.into(),
            mpid: mpid.into(),
            share_volume: shares,
            trade_count: trades,
            ..RawRow::default()
        }
    }

    #[test]
    fn good_rows_get_a_canonical_tier_and_an_exact_average() {
        let aapl = row("t1", "AAPL", "VENA", 1_000_000, 5000);
        let checked = check(&aapl).unwrap();
        assert_eq!(checked.tier, Tier::NmsTier1);
        assert_eq!(
            checked.avg_trade_size.map(|a| a.to_string()).as_deref(),
            Some("200.00")
        );
        assert_eq!((checked.venue, checked.is_aggregate), (Venue::Ats("VENA"), false));
        let brk = row("OTCE", "BRK.B", "OTCN", 0, 0);
        let checked = check(&brk).unwrap();
        assert_eq!((checked.tier, checked.avg_trade_size), (Tier::Otc, None));
        assert_eq!(
            check(&row("NMS Tier 2", "AAOI", "EBXL", 639_234, 7396))
                .unwrap()
                .avg_trade_size
                .map(|a| a.to_string())
                .as_deref(),
            Some("86.43")
        );
    }

    #[test]
    fn a_row_without_an_mpid_is_a_non_ats_firm_and_de_minimis_firms_their_aggregate() {
        let firm = |name: &str| RawRow {
            venue_name: name.into(),
            ..row("T1", "AAPL", "", 900, 9)
        };
        let citadel = firm("Citadel Securities LLC");
        let checked = check(&citadel).unwrap();
        assert_eq!(
            (checked.venue, checked.is_aggregate),
            (Venue::NonAts("Citadel Securities LLC"), false)
        );
        let aggregate = firm(" de minimis FIRMS ");
        let checked = check(&aggregate).unwrap();
        assert_eq!(
            (checked.venue, checked.is_aggregate),
            (Venue::NonAts("de minimis FIRMS"), true)
        );
        // An ATS named De Minimis Firms is an ATS.
        let ats = RawRow {
            mpid: "DEMI".into(),
            ..firm("De Minimis Firms")
        };
        assert!(!check(&ats).unwrap().is_aggregate);
    }

    #[test]
    fn bad_rows_are_rejected_with_what_was_expected_and_found() {
        let cases = [
            (
                row("Tier 3", "X", "M", 1, 1),
                "field tierDescription: expected NMS Tier 1, NMS Tier 2 or OTC (or T1, T2, OTCE), found \"Tier 3\"",
            ),
            (
                row("OTC", "", "PPEX", 1, 1),
                "field issueSymbolIdentifier: expected a symbol, found an empty field",
            ),
            (
                row("OTC", "X", " ", 1, 1),
                "fields MPID and marketParticipantName: expected an MPID (an ATS) or a participant name \
                 (a non-ATS firm), found both empty",
            ),
            (
                row("T2", "X", "M", -5, 1),
                "field totalWeeklyShareQuantity: expected 0 or more shares, found -5",
            ),
            (
                row("T2", "X", "M", 5, -1),
                "field totalWeeklyTradeCount: expected 0 or more trades, found -1",
            ),
            (
                row("T2", "X", "M", 1200, 0),
                "field totalWeeklyTradeCount: expected at least 1 trade for 1200 shares, found 0",
            ),
            (
                row("OTC", "X", "M", i64::MAX, 1),
                "field totalWeeklyShareQuantity: expected at most 100000000000000 shares, \
                 found 9223372036854775807",
            ),
            (
                row("OTC", "X", "M", 5, 1_000_000_000_001),
                "field totalWeeklyTradeCount: expected at most 1000000000000 trades, found 1000000000001",
            ),
        ];
        for (row, reason) in cases {
            assert_eq!(check(&row).unwrap_err(), reason);
        }
    }
}
