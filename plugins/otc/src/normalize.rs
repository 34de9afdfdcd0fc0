//! `otc.normalize`: checks new `otc_raw` rows and upserts them into
//! `otc_venue_volume`, one row per (week, tier, symbol, MPID).
//!
//! Incremental through a watermark: `otc_watermarks` keeps the last otc_raw id
//! processed, so each raw row is read once and no per-row flag is updated.
//! A revision (same key, new figures) replaces the stored values when its
//! lastUpdateDate is later, or equal and it was ingested later (higher raw
//! id); the upsert's WHERE decides, so a late-arriving older publication never
//! overwrites a newer one. The weeks touched are queued in
//! `otc_changed_weeks` for `otc.summarize`.

use crate::decimal;
use crate::rejects::{RejectWriter, Rejected, Stage};
use crate::run::{stop_if_cancelled, Run};
use crate::tier::{Tier, SPELLINGS};
use spine_plugin_api::{Context, Metrics, Pipeline, Result, Row, SqlValue};
use std::collections::BTreeSet;

/// Raw rows read and upserted at a time.
const CHUNK_ROWS: i64 = 2000;

/// This stage's name in otc_watermarks.
const STAGE: &str = "normalize";

const READ_CHUNK: &str = "SELECT id, week_ending, last_update_date, tier, symbol, issue_name, venue_name, \
    mpid, share_volume, trade_count, record_hash, source_file, line_number \
    FROM otc_raw WHERE id > ?1 ORDER BY id LIMIT ?2";

const UPSERT: &str = "INSERT INTO otc_venue_volume \
    (week_ending, tier, symbol, mpid, share_volume, trade_count, avg_trade_size, record_hash, raw_id, \
     last_update_date, normalized_at) \
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) \
    ON CONFLICT (week_ending, tier, symbol, mpid) DO UPDATE SET \
        share_volume = excluded.share_volume, trade_count = excluded.trade_count, \
        avg_trade_size = excluded.avg_trade_size, record_hash = excluded.record_hash, \
        raw_id = excluded.raw_id, last_update_date = excluded.last_update_date, \
        normalized_at = excluded.normalized_at \
    WHERE (excluded.last_update_date, excluded.raw_id) \
        > (otc_venue_volume.last_update_date, otc_venue_volume.raw_id)";
const UPSERT_COLUMNS: usize = 11;

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
        // Exact unless ids have gaps; it only sizes the progress bar.
        let pending = u64::try_from(max_id(ctx, "otc_raw")? - first).unwrap_or(0);
        // New keys get ids above today's highest, so the rows above it at the
        // end are the keys inserted; every other row changed is a revision.
        let keys_before = max_id(ctx, "otc_venue_volume")?;

        let mut pass = Pass::new(&run);
        let mut position = first;
        loop {
            stop_if_cancelled(ctx)?;
            let mut chunk = Vec::new();
            ctx.query(READ_CHUNK, &[position.into(), CHUNK_ROWS.into()], |row| {
                chunk.push(RawRow::from_row(row)?);
                Ok(true)
            })?;
            let Some(tail) = chunk.last() else { break };
            position = tail.id;
            pass.chunk(ctx, &chunk)?;
            ctx.progress(pass.processed, pending, "rows");
        }
        pass.rejects.flush(ctx)?;
        ctx.execute(
            "INSERT INTO otc_watermarks (stage, raw_id) VALUES (?1, ?2) \
             ON CONFLICT (stage) DO UPDATE SET raw_id = excluded.raw_id",
            &[STAGE.into(), position.into()],
        )?;
        pass.queue_weeks(ctx)?;
        let new_keys = ctx
            .query_one(
                "SELECT count(*) FROM otc_venue_volume WHERE id > ?1",
                &[keys_before.into()],
                |row| row.i64(0),
            )?
            .unwrap_or(0);
        Ok(Metrics::new()
            .with("processed", pass.processed)
            .with("accepted", pass.accepted)
            .with("rejected", pass.rejects.count())
            .with("revised", pass.changed.saturating_sub(new_keys as u64)))
    }
}

/// One normalize run's progress through the raw rows.
struct Pass<'r> {
    run: &'r Run,
    rejects: RejectWriter,
    processed: u64,
    accepted: u64,
    /// Rows of otc_venue_volume inserted or revised.
    changed: u64,
    /// Weeks of the accepted rows, for otc.summarize.
    weeks: BTreeSet<String>,
}

impl<'r> Pass<'r> {
    fn new(run: &'r Run) -> Self {
        Self {
            run,
            rejects: RejectWriter::new(run, Stage::Normalize),
            processed: 0,
            accepted: 0,
            changed: 0,
            weeks: BTreeSet::new(),
        }
    }

    /// Checks a chunk of raw rows, rejects the bad ones, upserts the rest.
    fn chunk(&mut self, ctx: &mut Context<'_>, chunk: &[RawRow]) -> Result<()> {
        let mut passed = Vec::with_capacity(chunk.len());
        for row in chunk {
            match check(row) {
                Ok(checked) => {
                    if !self.weeks.contains(&row.week_ending) {
                        self.weeks.insert(row.week_ending.clone());
                    }
                    passed.push((row, checked));
                }
                Err(reason) => self.rejects.add(
                    ctx,
                    Rejected {
                        source_file: &row.source_file,
                        line_number: u64::try_from(row.line_number).unwrap_or_default(),
                        raw_line: &row.as_line(),
                        reason: &reason,
                        raw_id: Some(row.id),
                    },
                )?,
            }
        }
        self.processed += chunk.len() as u64;
        self.accepted += passed.len() as u64;
        self.changed += upsert(ctx, self.run, &passed)?;
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

/// Upserts the rows that passed; returns the rows inserted or revised.
fn upsert(ctx: &mut Context<'_>, run: &Run, passed: &[(&RawRow, Checked)]) -> Result<u64> {
    if passed.is_empty() {
        return Ok(0);
    }
    let mut values = Vec::with_capacity(passed.len() * UPSERT_COLUMNS);
    for (row, checked) in passed {
        values.extend([
            SqlValue::Text(&row.week_ending),
            SqlValue::Text(checked.tier.canonical()),
            SqlValue::Text(&row.symbol),
            SqlValue::Text(&row.mpid),
            SqlValue::Integer(row.share_volume),
            SqlValue::Integer(row.trade_count),
            checked.avg_trade_size.as_deref().into(),
            SqlValue::Text(&row.record_hash),
            SqlValue::Integer(row.id),
            SqlValue::Text(&row.last_update_date),
            SqlValue::Text(&run.started_at),
        ]);
    }
    ctx.execute_many(UPSERT, UPSERT_COLUMNS, &values)
}

/// The highest id of `table`, 0 when empty. `table` is one of ours, never input.
fn max_id(ctx: &mut Context<'_>, table: &str) -> Result<i64> {
    Ok(ctx
        .query_one(&format!("SELECT coalesce(max(id), 0) FROM {table}"), &[], |row| {
            row.i64(0)
        })?
        .unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

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
