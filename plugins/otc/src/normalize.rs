//! `otc.normalize`: checks new `otc_raw` rows and upserts them into
//! `otc_venue_volume` (the table `otc_venue_figures`), one row per (week,
//! tier, symbol, MPID).
//!
//! Incremental through a watermark: `otc_watermarks` keeps the last otc_raw id
//! processed, so each raw row is read once and no per-row flag is updated.
//! A revision (same key, new figures) replaces the stored values when its
//! lastUpdateDate is later, or equal and it was ingested later (higher raw
//! id); the upsert's WHERE decides, so a late-arriving older publication never
//! overwrites a newer one, whatever order rows are processed in. The weeks
//! touched are queued in `otc_changed_weeks` for `otc.summarize`.
//!
//! The rows never cross into the plugin: one `INSERT … SELECT` moves every
//! row that [`SQL_CHECKED`] shows passes [`check`], with the average ingest
//! computed. The others (almost always none) are read through the partial
//! index that holds exactly them and go through [`check`] and the upsert one
//! by one.

use crate::decimal;
use crate::rejects::{RejectWriter, Rejected, Stage};
use crate::run::{stop_if_cancelled, Run};
use crate::tier::{Tier, NAME_SQL, SPELLINGS};
use spine_plugin_api::{Context, Metrics, Pipeline, Result, Row, SqlValue};
use std::collections::BTreeSet;

/// Unchecked rows read at a time.
const CHUNK_ROWS: i64 = 2000;

/// This stage's name in otc_watermarks.
const STAGE: &str = "normalize";

/// The rows SQL moves: they pass [`check`] (ingest stores text trimmed,
/// known tiers as their codes, and the average [`check`] computes). The
/// partial index `otc_raw_lines_unchecked` holds `NOT (this)`, word for word.
pub const SQL_CHECKED: &str = "(tier = 1 OR tier = 2 OR tier = 3) \
    AND symbol <> '' AND mpid <> '' \
    AND share_volume >= 0 AND trade_count >= 0 AND (trade_count > 0 OR share_volume = 0) \
    AND (avg_trade_size IS NOT NULL OR trade_count = 0)";

/// The upsert's conflict clause: later lastUpdateDate wins, then later ingest.
const ON_CONFLICT: &str = "ON CONFLICT (week_ending, tier, symbol, mpid) DO UPDATE SET \
        share_volume = excluded.share_volume, trade_count = excluded.trade_count, \
        avg_trade_size = excluded.avg_trade_size, raw_id = excluded.raw_id, \
        last_update_date = excluded.last_update_date, run_id = excluded.run_id \
    WHERE (excluded.last_update_date, excluded.raw_id) \
        > (otc_venue_figures.last_update_date, otc_venue_figures.raw_id)";

const INSERT_HEAD: &str = "INSERT INTO otc_venue_figures \
    (week_ending, tier, symbol, mpid, share_volume, trade_count, avg_trade_size, raw_id, last_update_date, \
     run_id)";

/// Counts the new rows (?1, ?2] and lists their weeks.
const SCAN: &str = "SELECT count(*), group_concat(DISTINCT week_ending) \
    FROM otc_raw_lines WHERE id > ?1 AND id <= ?2";

/// Whether week ?3 has rows among (?1, ?2] that SQL moves.
fn has_checked_rows_sql() -> String {
    format!(
        "SELECT EXISTS (SELECT 1 FROM otc_raw_lines \
         WHERE id > ?1 AND id <= ?2 AND week_ending = ?3 AND {SQL_CHECKED})"
    )
}

/// Moves the checked rows (?1, ?2]; ?3 is the run's otc_normalize_runs id.
fn move_checked_sql() -> String {
    format!(
        "{INSERT_HEAD} SELECT week_ending, {NAME_SQL}, symbol, mpid, share_volume, trade_count, avg_trade_size, \
             id, last_update_date, ?3 \
         FROM otc_raw_lines WHERE id > ?1 AND id <= ?2 AND {SQL_CHECKED} {ON_CONFLICT}"
    )
}

/// The unchecked rows after ?1 up to ?2, ?3 at a time, with their file.
fn read_unchecked_sql() -> String {
    format!(
        "SELECT line.id, week_ending, last_update_date, {NAME_SQL}, symbol, issue_name, venue_name, mpid, \
             share_volume, trade_count, lower(hex(record_hash)), source_file, line_number \
         FROM otc_raw_lines AS line INDEXED BY otc_raw_lines_unchecked \
             JOIN otc_raw_files AS file ON file.id = line.file_id \
         WHERE line.id > ?1 AND line.id <= ?2 AND NOT ({SQL_CHECKED}) ORDER BY line.id LIMIT ?3"
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
pub struct Checked {
    pub tier: Tier,
    pub avg_trade_size: Option<String>,
}

/// Checks one raw row; the error is the reason it is rejected. Field names
/// are FINRA's, because the reject points back at a line of a FINRA file.
pub fn check(row: &RawRow) -> std::result::Result<Checked, String> {
    let tier = Tier::parse(&row.tier).ok_or_else(|| {
        format!(
            "field tierDescription: expected {SPELLINGS}, found {:?}",
            row.tier
        )
    })?;
    if row.symbol.trim().is_empty() {
        return Err("field issueSymbolIdentifier: expected a symbol, found an empty field".to_owned());
    }
    if row.mpid.trim().is_empty() {
        return Err("field MPID: expected an MPID, found an empty field".to_owned());
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
    Ok(Checked {
        tier,
        avg_trade_size: decimal::average(row.share_volume, row.trade_count),
    })
}

impl Pipeline for Normalize {
    fn run(&mut self, ctx: &mut Context<'_>) -> Result<Metrics> {
        let run = Run::start(ctx)?;
        let first = ctx
            .query_one(
                "SELECT raw_id FROM otc_watermarks WHERE stage = ?1",
                &[STAGE.into()],
                |row| row.i64(0),
            )?
            .unwrap_or(0);
        // The rows to process: (first, last]. The run holds the write lock,
        // so no row arrives meanwhile.
        let last = ctx
            .query_one("SELECT coalesce(max(id), 0) FROM otc_raw_lines", &[], |row| {
                row.i64(0)
            })?
            .unwrap_or(0);
        let range = [SqlValue::Integer(first), SqlValue::Integer(last)];
        let (processed, weeks) = ctx
            .query_one(SCAN, &range, |row| {
                let weeks = row.opt_str(1)?.unwrap_or_default().split(',');
                let weeks: Vec<String> = weeks.filter(|week| !week.is_empty()).map(str::to_owned).collect();
                Ok((row.i64(0)?, weeks))
            })?
            .unwrap_or_default();
        let processed = u64::try_from(processed).unwrap_or_default();
        // The time and execution every row this run writes carries, kept once.
        let run_id = if processed == 0 {
            0
        } else {
            ctx.query_one(
                "INSERT INTO otc_normalize_runs (execution_id, normalized_at) VALUES (?1, ?2) RETURNING id",
                &[SqlValue::Text(&run.execution_id), SqlValue::Text(&run.started_at)],
                |row| row.i64(0),
            )?
            .unwrap_or_default()
        };

        let mut pass = Pass::new(&run, run_id);
        // The unchecked rows first: the before-and-after counts of the weeks
        // below then see only the INSERT … SELECT.
        pass.unchecked(ctx, first, last, processed)?;
        pass.rejects.flush(ctx)?;

        stop_if_cancelled(ctx)?;
        let keys_before = count_keys(ctx, &weeks)?;
        let changed = ctx.execute(
            &move_checked_sql(),
            &[range[0], range[1], SqlValue::Integer(run_id)],
        )?;
        // New keys are rows the week did not have; every other row changed
        // is a revision.
        let new_keys = count_keys(ctx, &weeks)? - keys_before;
        pass.changed += changed;
        pass.new_keys += new_keys;
        // A week has accepted rows unless every new row of it was rejected.
        for week in weeks {
            let accepted = pass.weeks.contains(&week)
                || !pass.rejected_weeks.contains(&week)
                || ctx
                    .query_one(
                        &has_checked_rows_sql(),
                        &[range[0], range[1], SqlValue::Text(&week)],
                        |row| row.i64(0),
                    )?
                    .unwrap_or_default()
                    == 1;
            if accepted {
                pass.weeks.insert(week);
            }
        }
        ctx.progress(processed, processed, "rows");

        ctx.execute(
            "INSERT INTO otc_watermarks (stage, raw_id) VALUES (?1, ?2) \
             ON CONFLICT (stage) DO UPDATE SET raw_id = excluded.raw_id",
            &[STAGE.into(), last.max(first).into()],
        )?;
        pass.queue_weeks(ctx)?;
        let rejected = pass.rejects.count();
        Ok(Metrics::new()
            .with("processed", processed)
            .with("accepted", processed.saturating_sub(rejected))
            .with("rejected", rejected)
            .with("revised", pass.changed.saturating_sub(pass.new_keys)))
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

/// One normalize run's work outside the INSERT … SELECT.
struct Pass<'r> {
    run: &'r Run,
    /// The run's otc_normalize_runs id.
    run_id: i64,
    rejects: RejectWriter,
    /// Rows of otc_venue_volume inserted or revised.
    changed: u64,
    /// Rows of otc_venue_volume inserted.
    new_keys: u64,
    /// Weeks of the accepted rows, for otc.summarize.
    weeks: BTreeSet<String>,
    /// Weeks of the rejected rows.
    rejected_weeks: BTreeSet<String>,
}

impl<'r> Pass<'r> {
    fn new(run: &'r Run, run_id: i64) -> Self {
        Self {
            run,
            run_id,
            rejects: RejectWriter::new(run, Stage::Normalize),
            changed: 0,
            new_keys: 0,
            weeks: BTreeSet::new(),
            rejected_weeks: BTreeSet::new(),
        }
    }

    /// Checks the rows (first, last] that SQL does not move, a chunk at a time.
    fn unchecked(&mut self, ctx: &mut Context<'_>, first: i64, last: i64, processed: u64) -> Result<()> {
        let sql = read_unchecked_sql();
        let mut position = first;
        loop {
            stop_if_cancelled(ctx)?;
            let mut chunk = Vec::new();
            ctx.query(&sql, &[position.into(), last.into(), CHUNK_ROWS.into()], |row| {
                chunk.push(RawRow::from_row(row)?);
                Ok(true)
            })?;
            let Some(tail) = chunk.last() else { break };
            position = tail.id;
            for row in &chunk {
                self.row(ctx, row)?;
            }
            ctx.progress(self.rejects.count(), processed, "rows");
        }
        Ok(())
    }

    /// Rejects one unchecked row, or upserts it.
    fn row(&mut self, ctx: &mut Context<'_>, row: &RawRow) -> Result<()> {
        let checked = match check(row) {
            Ok(checked) => checked,
            Err(reason) => {
                if !self.rejected_weeks.contains(&row.week_ending) {
                    self.rejected_weeks.insert(row.week_ending.clone());
                }
                return self.rejects.add(
                    ctx,
                    Rejected {
                        source_file: &row.source_file,
                        line_number: u64::try_from(row.line_number).unwrap_or_default(),
                        raw_line: &row.as_line(),
                        reason: &reason,
                        raw_id: Some(row.id),
                    },
                );
            }
        };
        let tier = checked.tier.canonical();
        let key = [
            SqlValue::Text(&row.week_ending),
            SqlValue::Text(tier),
            SqlValue::Text(&row.symbol),
            SqlValue::Text(&row.mpid),
        ];
        let existed = ctx
            .query_one(
                "SELECT 1 FROM otc_venue_figures \
                 WHERE week_ending = ?1 AND tier = ?2 AND symbol = ?3 AND mpid = ?4",
                &key,
                |_| Ok(()),
            )?
            .is_some();
        let changed = ctx.execute(
            &format!("{INSERT_HEAD} VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) {ON_CONFLICT}"),
            &[
                key[0],
                key[1],
                key[2],
                key[3],
                SqlValue::Integer(row.share_volume),
                SqlValue::Integer(row.trade_count),
                checked.avg_trade_size.as_deref().into(),
                SqlValue::Integer(row.id),
                SqlValue::Text(&row.last_update_date),
                SqlValue::Integer(self.run_id),
            ],
        )?;
        self.changed += changed;
        if !existed {
            self.new_keys += changed;
        }
        if !self.weeks.contains(&row.week_ending) {
            self.weeks.insert(row.week_ending.clone());
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
    /// avg_trade_size ingest computed (a known tier's code reads back as the
    /// canonical name, through NAME_SQL).
    fn sql_checked(row: &RawRow) -> bool {
        ["NMS Tier 1", "NMS Tier 2", "OTC"].contains(&row.tier.as_str())
            && !row.symbol.is_empty()
            && !row.mpid.is_empty()
            && row.share_volume >= 0
            && row.trade_count >= 0
            && (row.trade_count > 0 || row.share_volume == 0)
    }

    #[test]
    fn the_partial_index_holds_exactly_the_rows_sql_does_not_check() {
        let migration = include_str!("../migrations/001_otc_tables.sql");
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
            shares in prop_oneof![Just(0i64), Just(-1i64), Just(i64::MAX), 0..1_000_000i64],
            trades in prop_oneof![Just(0i64), Just(-1i64), Just(i64::MAX), 0..1_000i64],
        ) {
            let row = row(tier, symbol, mpid, shares, trades);
            if sql_checked(&row) {
                let checked = check(&row);
                prop_assert!(checked.is_ok(), "{:?}", checked);
                let checked = checked.unwrap();
                prop_assert_eq!(checked.tier.canonical(), tier);
                // What ingest stores for the row.
                let mut stored = String::new();
                decimal::push_average(&mut stored, shares, trades);
                prop_assert_eq!(checked.avg_trade_size.unwrap_or_default(), stored);
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
        let checked = check(&row("t1", "AAPL", "VENA", 1_000_000, 5000)).unwrap();
        assert_eq!(checked.tier, Tier::NmsTier1);
        assert_eq!(checked.avg_trade_size.as_deref(), Some("200.00"));
        let checked = check(&row("OTCE", "BRK.B", "OTCN", 0, 0)).unwrap();
        assert_eq!((checked.tier, checked.avg_trade_size), (Tier::Otc, None));
        assert_eq!(
            check(&row("NMS Tier 2", "AAOI", "EBXL", 639_234, 7396))
                .unwrap()
                .avg_trade_size
                .as_deref(),
            Some("86.43")
        );
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
            (row("OTC", "X", " ", 1, 1), "field MPID: expected an MPID, found an empty field"),
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
        ];
        for (row, reason) in cases {
            assert_eq!(check(&row).unwrap_err(), reason);
        }
    }
}
