//! `otc.summarize`: per-symbol weekly summaries and per-venue market shares.
//!
//! A week is recomputed whole: its rows in `otc_symbol_summary` and
//! `otc_venue_share` are deleted and written again, so no stale row survives a
//! revision. Without a `week_ending` parameter the weeks are those
//! `otc.normalize` queued in `otc_changed_weeks`.
//!
//! One pass over a week's venue volume, in key order (tier, symbol, MPID),
//! computes everything: a symbol's venues are consecutive rows, so its totals
//! are summed as they stream by and written a chunk of rows at a time;
//! venues are summed in hash maps. Divisions, rounding and ranks are done
//! here, with exact decimals. SQL's GROUP BY by venue would sort the week
//! instead, and count(DISTINCT) sorts again.
//!
//! Sums are exact: 128-bit, so no week wraps (about 92,000 rows at
//! normalize's bound of 10^14 shares already pass 2^63). A total that a
//! stored integer cannot hold fails its week alone: the week's rows are
//! removed, the reason goes to the log and to the metrics (`failed_weeks`),
//! the week stays queued, and every other week is summarized.

use crate::bulk::BulkInsert;
use crate::run::{stop_if_cancelled, Run};
use crate::{decimal, week};
use chrono::NaiveDate;
use serde_json::json;
use spine_plugin_api::{Context, Error, Level, Metrics, Params, Pipeline, Result, Row, SqlValue};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Summary rows per insert call.
const BATCH_ROWS: usize = 1024;

/// A week's venue volume after a key (?2, ?3, ?4), in key order, which the
/// primary key gives without sorting; ?5 rows at most.
const WEEK_ROWS: &str = "SELECT tier, symbol, mpid, share_volume, trade_count FROM otc_venue_figures \
    WHERE week_ending = ?1 AND (tier, symbol, mpid) > (?2, ?3, ?4) ORDER BY tier, symbol, mpid LIMIT ?5";

/// Rows read per query. The symbols they complete are written before the
/// next query, so memory follows this, not the size of the week.
const CHUNK_ROWS: i64 = 100_000;

const INSERT_SYMBOL: &str = "INSERT INTO otc_symbol_summary \
    (week_ending, tier, symbol, total_volume, total_trades, venue_count, avg_trade_size, computed_at)";
const SYMBOL_COLUMNS: usize = 8;

const INSERT_VENUE: &str = "INSERT INTO otc_venue_share \
    (week_ending, tier, mpid, total_volume, total_trades, symbol_count, market_share_pct, rank, computed_at)";
const VENUE_COLUMNS: usize = 9;

/// The code of the errors that fail one week, not the run.
const OVERFLOW: &str = "otc.summarize.overflow";

/// The `otc.summarize` pipeline.
pub struct Summarize {
    week_ending: Option<NaiveDate>,
}

impl Summarize {
    pub fn from_params(params: &Params) -> Result<Self> {
        Ok(Summarize {
            week_ending: week::week_ending_param(params)?,
        })
    }
}

/// One group's sums: a symbol's over its venues, or a venue's over its symbols.
#[derive(Debug)]
pub struct Totals {
    pub tier: String,
    /// The symbol, or the venue's MPID.
    pub name: String,
    pub volume: i128,
    pub trades: i128,
    /// Distinct venues of a symbol, or distinct symbols of a venue.
    pub count: i64,
}

/// A venue's place in its (week, tier).
#[derive(Debug)]
pub struct Ranked {
    pub market_share_pct: String,
    pub rank: i64,
}

/// Sorts `venues` by tier, then volume descending, then MPID ascending, and
/// returns each one's market share of its tier and rank (1, 2, 3, …).
pub fn rank_venues(venues: &mut [Totals]) -> Vec<Ranked> {
    venues.sort_by(|a, b| {
        a.tier
            .cmp(&b.tier)
            .then(b.volume.cmp(&a.volume))
            .then(a.name.cmp(&b.name))
    });
    let mut ranked = Vec::with_capacity(venues.len());
    for tier in venues.chunk_by(|a, b| a.tier == b.tier) {
        // At most a few thousand venues of 2^100 at most: no overflow.
        let total: i128 = tier.iter().map(|venue| venue.volume).sum();
        ranked.extend(tier.iter().zip(1..).map(|(venue, rank)| Ranked {
            market_share_pct: decimal::percent(venue.volume, total),
            rank,
        }));
    }
    ranked
}

/// `value` as SQLite stores an integer, or the error that fails the week.
fn stored(value: i128, what: impl FnOnce() -> String) -> Result<i64> {
    i64::try_from(value).map_err(|_| {
        Error::new(
            OVERFLOW,
            format!(
                "{} is {value}, beyond the 2^63 - 1 an integer column holds",
                what()
            ),
        )
    })
}

impl Pipeline for Summarize {
    fn run(&mut self, ctx: &mut Context<'_>) -> Result<Metrics> {
        let run = Run::start(ctx)?;
        let weeks = match self.week_ending {
            Some(week) => vec![week.format("%Y-%m-%d").to_string()],
            None => changed_weeks(ctx)?,
        };
        if weeks.is_empty() {
            ctx.log(
                Level::Info,
                "no week changed since the last summarize; nothing to do",
            );
        } else {
            ctx.log(Level::Info, &format!("recomputing weeks {}", weeks.join(", ")));
        }
        let (mut symbols, mut venues) = (0u64, 0u64);
        let mut failed = Vec::new();
        let week = WeekWriter {
            run: &run,
            symbols: BulkInsert::new(INSERT_SYMBOL, SYMBOL_COLUMNS, ""),
            venues: BulkInsert::new(INSERT_VENUE, VENUE_COLUMNS, ""),
        };
        let mut pass = WeekPass::default();
        for (done, name) in weeks.iter().enumerate() {
            stop_if_cancelled(ctx)?;
            let name_param = [SqlValue::Text(name)];
            week.clear(ctx, name)?;
            pass.clear();
            match week.summarize(ctx, &mut pass, name) {
                Ok((week_symbols, week_venues)) => {
                    symbols += week_symbols;
                    venues += week_venues;
                    ctx.execute(
                        "DELETE FROM otc_changed_weeks WHERE week_ending = ?1",
                        &name_param,
                    )?;
                }
                // The week's data cannot be summarized: it fails alone, with
                // nothing of it half written, and stays queued.
                Err(error) if error.code == OVERFLOW => {
                    week.clear(ctx, name)?;
                    ctx.log(
                        Level::Warn,
                        &format!("week {name} is not summarized: {}", error.message),
                    );
                    failed.push(json!({"week": name, "reason": error.message}));
                }
                Err(error) => return Err(error.with_location(format!("week {name}"))),
            }
            ctx.progress(done as u64 + 1, weeks.len() as u64, "weeks");
        }
        Ok(Metrics::new()
            .with("weeks", weeks.len() - failed.len())
            .with("symbols", symbols)
            .with("venues", venues)
            .with("failed_weeks", failed))
    }
}

/// Writes one week's summaries.
struct WeekWriter<'r> {
    run: &'r Run,
    symbols: BulkInsert,
    venues: BulkInsert,
}

impl WeekWriter<'_> {
    /// Removes the week's summaries.
    fn clear(&self, ctx: &mut Context<'_>, week: &str) -> Result<()> {
        let week = [SqlValue::Text(week)];
        ctx.execute("DELETE FROM otc_symbol_summary WHERE week_ending = ?1", &week)?;
        ctx.execute("DELETE FROM otc_venue_share WHERE week_ending = ?1", &week)?;
        Ok(())
    }

    /// Summarizes one week whose rows were removed; returns the symbol and
    /// venue rows written.
    fn summarize(&self, ctx: &mut Context<'_>, pass: &mut WeekPass, week: &str) -> Result<(u64, u64)> {
        let symbols = summarize_week(ctx, self.run, &self.symbols, pass, week)?;
        if symbols == 0 {
            ctx.log(Level::Warn, &format!("week {week} has no normalized volume"));
        }
        pass.correct_across_tiers(ctx, week)?;
        let mut week_venues = pass.venues();
        let venues = write_venue_share(ctx, &self.venues, self.run, week, &mut week_venues)?;
        Ok((symbols, venues))
    }
}

/// Reads a week's venue volume a chunk at a time, writing its symbol summaries
/// as they complete; returns the symbols written. Venue sums stay in `pass`.
fn summarize_week(
    ctx: &mut Context<'_>,
    run: &Run,
    insert: &BulkInsert,
    pass: &mut WeekPass,
    week: &str,
) -> Result<u64> {
    let mut written = 0;
    loop {
        let after = pass.last_key();
        let (mut read, mut failure) = (0, None);
        ctx.query(
            WEEK_ROWS,
            &[
                SqlValue::Text(week),
                SqlValue::Text(&after.0),
                SqlValue::Text(&after.1),
                SqlValue::Text(&after.2),
                SqlValue::Integer(CHUNK_ROWS),
            ],
            |row| {
                read += 1;
                match pass.row(row) {
                    Ok(()) => Ok(true),
                    Err(error) => {
                        failure = Some(error);
                        Ok(false)
                    }
                }
            },
        )?;
        if let Some(error) = failure {
            return Err(error);
        }
        if read < CHUNK_ROWS {
            pass.end_symbol();
        }
        written += write_symbol_summary(ctx, insert, run, week, &pass.symbols)?;
        pass.symbols.clear();
        if read < CHUNK_ROWS {
            return Ok(written);
        }
    }
}

fn changed_weeks(ctx: &mut Context<'_>) -> Result<Vec<String>> {
    let mut weeks = Vec::new();
    ctx.query(
        "SELECT week_ending FROM otc_changed_weeks ORDER BY week_ending",
        &[],
        |row| {
            weeks.push(row.str(0)?.to_owned());
            Ok(true)
        },
    )?;
    Ok(weeks)
}

/// Running sums of one group, in 128 bits: 2^64 rows of 2^63 cannot reach
/// its limit, so adding never fails and never wraps.
#[derive(Debug, Default, Clone, Copy)]
struct Sums {
    volume: i128,
    trades: i128,
    count: i64,
}

impl Sums {
    fn add(&mut self, volume: i64, trades: i64) {
        self.volume += i128::from(volume);
        self.trades += i128::from(trades);
        self.count += 1;
    }
}

/// FxHash, the compiler's own: a multiply and a rotate per word, several
/// times cheaper than the default SipHash on short keys. The keys are
/// symbols and MPIDs from our own tables; flooding attacks do not apply.
#[derive(Default, Clone, Copy)]
struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for word in bytes.chunks(8) {
            let mut padded = [0; 8];
            padded[..word.len()].copy_from_slice(word);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(padded)).wrapping_mul(0x517c_c1b7_2722_0a95);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// One week's sums, built row by row from the week's venue volume in key
/// order. Its size follows the week's symbols and venues, never the history.
#[derive(Default)]
struct WeekPass {
    /// Symbol totals completed and not written yet, in key order.
    symbols: Vec<Totals>,
    /// The symbol being summed: its tier, name and sums so far.
    current: Option<(String, String, Sums)>,
    /// The MPID of the last row read.
    last_mpid: String,
    /// MPIDs numbered in order of appearance, both ways.
    mpid_ids: FxMap<String, u32>,
    mpids: Vec<String>,
    /// Tiers in order of appearance.
    tiers: Vec<String>,
    /// Per tier (index of `tiers`) and MPID id, and across tiers per MPID id.
    by_tier: Vec<Vec<Sums>>,
    all_tiers: Vec<Sums>,
    /// The tiers (bits by index of `tiers`) each symbol traded in.
    symbol_tiers: FxMap<String, u32>,
    /// Symbols that traded in more than one tier: across tiers, a venue of
    /// such a symbol is counted once per tier until corrected.
    multi_tier: Vec<String>,
}

impl WeekPass {
    fn clear(&mut self) {
        self.symbols.clear();
        self.current = None;
        self.last_mpid.clear();
        self.mpid_ids.clear();
        self.mpids.clear();
        self.tiers.clear();
        self.by_tier.clear();
        self.all_tiers.clear();
        self.symbol_tiers.clear();
        self.multi_tier.clear();
    }

    /// The key (tier, symbol, MPID) of the last row read; empty texts before
    /// the first, which sort before every key.
    fn last_key(&self) -> (String, String, String) {
        match &self.current {
            Some((tier, symbol, _)) => (tier.clone(), symbol.clone(), self.last_mpid.clone()),
            None => Default::default(),
        }
    }

    /// Adds one venue-volume row: tier, symbol, mpid, share_volume, trade_count.
    fn row(&mut self, row: &Row<'_>) -> Result<()> {
        self.add(row.str(0)?, row.str(1)?, row.str(2)?, row.i64(3)?, row.i64(4)?);
        Ok(())
    }

    /// Adds one venue-volume row; rows come in key order (tier, symbol, mpid).
    fn add(&mut self, tier: &str, symbol: &str, mpid: &str, volume: i64, trades: i64) {
        let same_symbol = matches!(&self.current, Some((t, s, _)) if t == tier && s == symbol);
        if !same_symbol {
            self.end_symbol();
            if self.tiers.last().is_none_or(|last| last != tier) {
                self.tiers.push(tier.to_owned());
                self.by_tier.push(Vec::new());
            }
            let tier_bit = 1u32 << ((self.tiers.len() - 1) % 32);
            let tiers = self.symbol_tiers.entry(symbol.to_owned()).or_default();
            if *tiers != 0 && (*tiers & (*tiers - 1)) == 0 {
                // A second tier for this symbol; a third adds nothing new.
                self.multi_tier.push(symbol.to_owned());
            }
            *tiers |= tier_bit;
            self.current = Some((tier.to_owned(), symbol.to_owned(), Sums::default()));
        }
        if let Some((_, _, sums)) = &mut self.current {
            sums.add(volume, trades);
        }
        self.last_mpid.clear();
        self.last_mpid.push_str(mpid);
        let mpid_id = match self.mpid_ids.get(mpid) {
            Some(&id) => id,
            None => {
                let id = self.mpids.len() as u32;
                self.mpid_ids.insert(mpid.to_owned(), id);
                self.mpids.push(mpid.to_owned());
                self.all_tiers.push(Sums::default());
                id
            }
        };
        let tier_sums = self.by_tier.last_mut().expect("a tier is pushed before its rows");
        if tier_sums.len() <= mpid_id as usize {
            tier_sums.resize(mpid_id as usize + 1, Sums::default());
        }
        tier_sums[mpid_id as usize].add(volume, trades);
        self.all_tiers[mpid_id as usize].add(volume, trades);
    }

    /// Closes the symbol being summed.
    fn end_symbol(&mut self) {
        if let Some((tier, name, sums)) = self.current.take() {
            self.symbols.push(Totals {
                tier,
                name,
                volume: sums.volume,
                trades: sums.trades,
                count: sums.count,
            });
        }
    }

    /// Counts each symbol once per venue across tiers: a venue that a
    /// symbol traded on in n tiers was counted n times. Rare, so asked of
    /// SQL symbol by symbol (the primary key finds each tier's rows).
    fn correct_across_tiers(&mut self, ctx: &mut Context<'_>, week: &str) -> Result<()> {
        if self.multi_tier.is_empty() {
            return Ok(());
        }
        let tiers = vec!["?"; self.tiers.len()].join(", ");
        let sql = format!(
            "SELECT mpid, count(*) FROM otc_venue_figures \
             WHERE week_ending = ? AND tier IN ({tiers}) AND symbol = ? GROUP BY mpid HAVING count(*) > 1"
        );
        for symbol in std::mem::take(&mut self.multi_tier) {
            let mut params = vec![SqlValue::Text(week)];
            params.extend(self.tiers.iter().map(|tier| SqlValue::Text(tier)));
            params.push(SqlValue::Text(&symbol));
            let mut repeats = Vec::new();
            ctx.query(&sql, &params, |row| {
                repeats.push((row.str(0)?.to_owned(), row.i64(1)?));
                Ok(true)
            })?;
            for (mpid, tiers) in repeats {
                self.counted_in_tiers(&mpid, tiers);
            }
        }
        Ok(())
    }

    /// One symbol traded on venue `mpid` in `tiers` tiers: count it once.
    fn counted_in_tiers(&mut self, mpid: &str, tiers: i64) {
        if let Some(&id) = self.mpid_ids.get(mpid) {
            self.all_tiers[id as usize].count -= tiers - 1;
        }
    }

    /// Venue totals per tier, and across tiers as tier `ALL`.
    fn venues(&self) -> Vec<Totals> {
        let totals = |tier: &str, mpid_id: usize, sums: &Sums| Totals {
            tier: tier.to_owned(),
            name: self.mpids[mpid_id].clone(),
            volume: sums.volume,
            trades: sums.trades,
            count: sums.count,
        };
        let by_tier = self.tiers.iter().zip(&self.by_tier).flat_map(|(tier, sums)| {
            sums.iter()
                .enumerate()
                .filter(|(_, sums)| sums.count > 0)
                .map(move |(mpid_id, sums)| totals(tier, mpid_id, sums))
        });
        let all_tiers = self
            .all_tiers
            .iter()
            .enumerate()
            .map(|(mpid_id, sums)| totals("ALL", mpid_id, sums));
        by_tier.chain(all_tiers).collect()
    }
}

fn write_symbol_summary(
    ctx: &mut Context<'_>,
    insert: &BulkInsert,
    run: &Run,
    week: &str,
    symbols: &[Totals],
) -> Result<u64> {
    let mut written = 0;
    for batch in symbols.chunks(BATCH_ROWS) {
        let averages: Vec<Option<String>> = batch
            .iter()
            .map(|symbol| decimal::average(symbol.volume, symbol.trades))
            .collect();
        let mut values = Vec::with_capacity(batch.len() * SYMBOL_COLUMNS);
        for (symbol, average) in batch.iter().zip(&averages) {
            let what =
                |figure: &str| format!("the {figure} of symbol {} in tier {}", symbol.name, symbol.tier);
            values.extend([
                SqlValue::Text(week),
                SqlValue::Text(&symbol.tier),
                SqlValue::Text(&symbol.name),
                SqlValue::Integer(stored(symbol.volume, || what("share volume"))?),
                SqlValue::Integer(stored(symbol.trades, || what("trade count"))?),
                SqlValue::Integer(symbol.count),
                average.as_deref().into(),
                SqlValue::Text(&run.started_at),
            ]);
        }
        written += insert.insert(ctx, &values)?;
    }
    Ok(written)
}

fn write_venue_share(
    ctx: &mut Context<'_>,
    insert: &BulkInsert,
    run: &Run,
    week: &str,
    venues: &mut [Totals],
) -> Result<u64> {
    let ranked = rank_venues(venues);
    let mut values = Vec::with_capacity(venues.len() * VENUE_COLUMNS);
    for (venue, place) in venues.iter().zip(&ranked) {
        let what = |figure: &str| format!("the {figure} of venue {} in tier {}", venue.name, venue.tier);
        values.extend([
            SqlValue::Text(week),
            SqlValue::Text(&venue.tier),
            SqlValue::Text(&venue.name),
            SqlValue::Integer(stored(venue.volume, || what("share volume"))?),
            SqlValue::Integer(stored(venue.trades, || what("trade count"))?),
            SqlValue::Integer(venue.count),
            SqlValue::Text(&place.market_share_pct),
            SqlValue::Integer(place.rank),
            SqlValue::Text(&run.started_at),
        ]);
    }
    insert.insert(ctx, &values)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn venue(tier: &str, mpid: &str, volume: i128) -> Totals {
        Totals {
            tier: tier.into(),
            name: mpid.into(),
            volume,
            trades: 0,
            count: 1,
        }
    }

    fn table(venues: &[Totals], ranked: &[Ranked]) -> Vec<String> {
        venues
            .iter()
            .zip(ranked)
            .map(|(v, r)| format!("{} {} {} {}", v.tier, r.rank, v.name, r.market_share_pct))
            .collect()
    }

    #[test]
    fn venues_rank_by_volume_then_mpid_within_each_tier() {
        let mut venues = vec![
            venue("OTC", "B", 10),
            venue("OTC", "A", 10),
            venue("OTC", "C", 30),
            venue("ALL", "Z", 0),
            venue("ALL", "Y", 0),
        ];
        let ranked = rank_venues(&mut venues);
        assert_eq!(
            table(&venues, &ranked),
            [
                "ALL 1 Y 0.00",
                "ALL 2 Z 0.00",
                "OTC 1 C 60.00",
                "OTC 2 A 20.00",
                "OTC 3 B 20.00"
            ]
        );
    }

    #[test]
    fn one_pass_sums_symbols_venues_and_venues_across_tiers() {
        let mut pass = WeekPass::default();
        // Key order: tier, symbol, MPID. BBB trades in two tiers on V1.
        let rows = [
            ("NMS Tier 1", "AAA", "V1", 10, 1),
            ("NMS Tier 1", "AAA", "V2", 30, 3),
            ("NMS Tier 1", "BBB", "V1", 5, 1),
            ("NMS Tier 2", "BBB", "V1", 7, 1),
            ("NMS Tier 2", "BBB", "V3", 1, 1),
            ("NMS Tier 2", "CCC", "V2", 2, 2),
        ];
        for (tier, symbol, mpid, volume, trades) in rows {
            pass.add(tier, symbol, mpid, volume, trades);
        }
        pass.end_symbol();
        // What correct_across_tiers asks SQL for BBB: V1 in two tiers.
        assert_eq!(pass.multi_tier, ["BBB"]);
        pass.counted_in_tiers("V1", 2);
        let symbols: Vec<String> = pass
            .symbols
            .iter()
            .map(|s| format!("{} {} {} {} {}", s.tier, s.name, s.volume, s.trades, s.count))
            .collect();
        assert_eq!(
            symbols,
            [
                "NMS Tier 1 AAA 40 4 2",
                "NMS Tier 1 BBB 5 1 1",
                "NMS Tier 2 BBB 8 2 2",
                "NMS Tier 2 CCC 2 2 1"
            ]
        );
        let mut venues = pass.venues();
        let ranked = rank_venues(&mut venues);
        let venues: Vec<String> = venues
            .iter()
            .zip(&ranked)
            .map(|(v, r)| {
                format!(
                    "{} {} {} {} {} {}",
                    v.tier, r.rank, v.name, v.volume, v.count, r.market_share_pct
                )
            })
            .collect();
        assert_eq!(
            venues,
            [
                "ALL 1 V2 32 2 58.18",
                "ALL 2 V1 22 2 40.00",
                "ALL 3 V3 1 1 1.82",
                "NMS Tier 1 1 V2 30 1 66.67",
                "NMS Tier 1 2 V1 15 2 33.33",
                "NMS Tier 2 1 V1 7 1 70.00",
                "NMS Tier 2 2 V2 2 1 20.00",
                "NMS Tier 2 3 V3 1 1 10.00"
            ]
        );
        // The next week starts from nothing.
        pass.clear();
        pass.add("OTC", "DDD", "V9", 1, 1);
        pass.end_symbol();
        assert_eq!(pass.symbols.len(), 1);
        assert_eq!(pass.venues().len(), 2);
    }

    #[test]
    fn sums_beyond_63_bits_rank_exactly_and_fail_only_where_they_are_stored() {
        let mut pass = WeekPass::default();
        // 92,234 rows at normalize's bound pass 2^63 - 1 on one venue.
        for symbol in 0..92_234 {
            pass.add("OTC", &format!("S{symbol}"), "BIG", 100_000_000_000_000, 1);
        }
        pass.add("OTC", "ZZZ", "SMALL", 1, 1);
        pass.end_symbol();
        let mut venues = pass.venues();
        let ranked = rank_venues(&mut venues);
        let big = venues
            .iter()
            .position(|v| v.name == "BIG" && v.tier == "OTC")
            .unwrap();
        assert_eq!(venues[big].volume, 9_223_400_000_000_000_000);
        assert_eq!(ranked[big].market_share_pct, "100.00");
        let error = stored(venues[big].volume, || "the share volume of venue BIG".into()).unwrap_err();
        assert_eq!(error.code, OVERFLOW);
        assert_eq!(
            error.message,
            "the share volume of venue BIG is 9223400000000000000, beyond the 2^63 - 1 an integer column holds"
        );
        assert_eq!(stored(i128::from(i64::MAX), String::new).unwrap(), i64::MAX);
    }
}
