//! `otc.summarize`: per-symbol weekly summaries, per-venue market shares, and
//! each symbol's ATS and non-ATS volume side by side.
//!
//! A week is recomputed whole: its rows in `otc_symbol_summary`,
//! `otc_venue_share` and `otc_symbol_offexchange` are deleted and written
//! again, so no stale row survives a revision. Without a `week_ending`
//! parameter the weeks are those `otc.normalize` queued in
//! `otc_changed_weeks`. Each week summarized is queued for `otc.analytics`
//! (`otc_analytics_queue`).
//!
//! ATS and non-ATS figures are never mixed: summaries are per venue type,
//! and a market share is a share of one venue type's volume. The de minimis
//! row (the small non-ATS firms together) counts in the totals and is
//! listed, flagged and ranked with its share, but is not a venue that a
//! symbol's `venue_count` counts. Every venue-share row says which tiers its
//! week holds for its venue type and whether that is all three (`tiers`,
//! `complete`): until every tier is published a week's `ALL` rows cover part
//! of it.
//!
//! One pass over a week's venue volume, in key order (tier, symbol, venue
//! type, venue), computes everything: a symbol's venues are consecutive rows,
//! so its totals are summed as they stream by and written a chunk of rows at
//! a time; venues are summed in hash maps. Divisions, rounding and ranks are
//! done here, with exact decimals. SQL's GROUP BY by venue would sort the
//! week instead, and count(DISTINCT) sorts again. Names (a symbol's issue
//! name, a venue's participant name) are those of the raw line of the latest
//! publication: the latest lastUpdateDate, and of rows published the same day
//! the last in key order (so never the load order), looked up once per
//! summary row.
//!
//! Sums are exact: 128-bit, so no week wraps (about 92,000 rows at
//! normalize's bound of 10^14 shares already pass 2^63). A total that a
//! stored integer cannot hold fails its week alone: the week's rows are
//! removed, the reason goes to the log and to the metrics (`failed_weeks`),
//! the week stays queued, and every other week is summarized.

use crate::bulk::BulkInsert;
use crate::hash::VenueType;
use crate::run::{metrics, stop_if_cancelled, Figures, Run};
use crate::tier::Tier;
use crate::week_chunks::{self, FigureKey};
use crate::{decimal, week};
use chrono::NaiveDate;
use serde_json::json;
use spine_plugin_api::{Context, Error, Level, Metrics, Params, Pipeline, Result, Row, SqlValue};
// FxHash, the compiler's own, is several times cheaper than the default
// SipHash on short keys. The keys are symbols and MPIDs from our own tables;
// flooding attacks do not apply.
use rustc_hash::FxHashMap;

/// Summary rows per insert call.
const BATCH_ROWS: usize = 1024;

/// A week's venue volume after a key (?2, ?3, ?4, ?5), in key order, which
/// the primary key gives without sorting; ?6 rows at most.
const WEEK_ROWS: &str = "SELECT tier, symbol, venue_type, venue, is_aggregate, share_volume, trade_count, \
        last_update_date, raw_id \
    FROM otc_venue_figures \
    WHERE week_ending = ?1 AND (tier, symbol, venue_type, venue) > (?2, ?3, ?4, ?5) \
    ORDER BY tier, symbol, venue_type, venue LIMIT ?6";

const INSERT_SYMBOL: &str = "INSERT INTO otc_symbol_summary \
    (week_ending, tier, symbol, venue_type, issue_name, total_volume, total_trades, venue_count, avg_trade_size, \
     computed_at)";
const SYMBOL_COLUMNS: usize = 10;

const INSERT_VENUE: &str = "INSERT INTO otc_venue_share \
    (week_ending, tier, venue_type, venue, mpid, venue_name, is_aggregate, total_volume, total_trades, \
     symbol_count, market_share_pct, rank, tiers, complete, computed_at)";
const VENUE_COLUMNS: usize = 15;

const INSERT_SIDE_BY_SIDE: &str = "INSERT INTO otc_symbol_offexchange \
    (week_ending, tier, symbol, ats_volume, ats_trades, ats_avg_trade_size, non_ats_volume, non_ats_trades, \
     non_ats_avg_trade_size, ats_share_pct, computed_at)";
const SIDE_BY_SIDE_COLUMNS: usize = 11;

/// Raw lines whose names one query reads (the placeholders of [`names_sql`]).
const NAMES_PER_QUERY: usize = 256;

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

    /// Summarizes every week changed since the last summarize.
    pub fn changed_weeks() -> Self {
        Summarize { week_ending: None }
    }

    /// Summarizes the weeks asked for; returns the run's figures.
    pub fn stage(&mut self, ctx: &mut Context<'_>) -> Result<Figures> {
        let run = Run::start(ctx)?;
        let awaiting = awaiting_normalize(ctx)?;
        if awaiting > 0 {
            ctx.log(
                Level::Warn,
                &format!(
                    "{awaiting} raw rows await otc.normalize, and these summaries leave them out: run \
                     otc.normalize first (otc.load runs ingest, normalize and summarize in one go)"
                ),
            );
        }
        let weeks = match self.week_ending {
            Some(week) => vec![week.format("%Y-%m-%d").to_string()],
            None => changed_weeks(ctx)?,
        };
        if !weeks.is_empty() {
            ctx.log(Level::Info, &format!("recomputing weeks {}", weeks.join(", ")));
        } else if awaiting == 0 {
            ctx.log(
                Level::Info,
                "no week changed since the last summarize; nothing to do",
            );
        }
        let (mut symbols, mut venues) = (0u64, 0u64);
        let mut failed = Vec::new();
        let writer = WeekWriter {
            run: &run,
            symbols: BulkInsert::new(INSERT_SYMBOL, SYMBOL_COLUMNS, ""),
            venues: BulkInsert::new(INSERT_VENUE, VENUE_COLUMNS, ""),
            side_by_side: BulkInsert::new(INSERT_SIDE_BY_SIDE, SIDE_BY_SIDE_COLUMNS, ""),
            names: names_sql(),
        };
        let mut pass = WeekPass::default();
        for (done, week) in weeks.iter().enumerate() {
            stop_if_cancelled(ctx)?;
            writer.clear(ctx, week)?;
            pass.clear();
            match writer.summarize(ctx, &mut pass, week) {
                Ok((week_symbols, week_venues)) => {
                    symbols += week_symbols;
                    venues += week_venues;
                    ctx.execute(
                        "DELETE FROM otc_changed_weeks WHERE week_ending = ?1",
                        &[SqlValue::Text(week)],
                    )?;
                    // Its analytics, and those of the weeks that compare with it.
                    ctx.execute(
                        "INSERT INTO otc_analytics_queue (week_ending, queued_at) VALUES (?1, ?2) \
                         ON CONFLICT (week_ending) DO NOTHING",
                        &[SqlValue::Text(week), SqlValue::Text(&run.started_at)],
                    )?;
                }
                // The week's data cannot be summarized: it fails alone, with
                // nothing of it half written, and stays queued.
                Err(error) if error.code == OVERFLOW => {
                    writer.clear(ctx, week)?;
                    ctx.log(
                        Level::Warn,
                        &format!("week {week} is not summarized: {}", error.message),
                    );
                    failed.push(json!({"week": week, "reason": error.message}));
                }
                Err(error) => return Err(error.with_location(format!("week {week}"))),
            }
            ctx.progress(done as u64 + 1, weeks.len() as u64, "weeks");
        }
        let figures = json!({
            "weeks": weeks.len() - failed.len(),
            "symbols": symbols,
            "venues": venues,
            "failed_weeks": failed,
            "awaiting_normalize": awaiting,
        });
        Ok(figures.as_object().cloned().unwrap_or_default())
    }
}

impl Pipeline for Summarize {
    fn run(&mut self, ctx: &mut Context<'_>) -> Result<Metrics> {
        Ok(metrics(self.stage(ctx)?))
    }
}

/// Raw rows otc.normalize has not processed yet: those after its watermark,
/// and those an upgrade queued for it.
fn awaiting_normalize(ctx: &mut Context<'_>) -> Result<i64> {
    Ok(ctx
        .query_one(
            "SELECT (SELECT count(*) FROM otc_raw_lines WHERE id > \
                 coalesce((SELECT raw_id FROM otc_watermarks WHERE stage = 'normalize'), 0)) \
             + (SELECT count(*) FROM otc_normalize_queue)",
            &[],
            |row| row.i64(0),
        )?
        .unwrap_or_default())
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

/// The issue and participant names of [`NAMES_PER_QUERY`] raw lines.
fn names_sql() -> String {
    format!(
        "SELECT id, issue_name, venue_name FROM otc_raw_lines WHERE id IN ({})",
        vec!["?"; NAMES_PER_QUERY].join(", ")
    )
}

/// One group's sums: a symbol's over its venues, or a venue's over its symbols.
#[derive(Debug)]
pub struct Totals {
    pub tier: String,
    pub venue_type: VenueType,
    /// The symbol, or the venue (an MPID or a non-ATS firm's name).
    pub name: String,
    pub volume: i128,
    pub trades: i128,
    /// Named venues of a symbol, or distinct symbols of a venue.
    pub count: i64,
    /// The de minimis row of non-ATS firms (venues only).
    pub is_aggregate: bool,
    /// The raw line of the group's latest publication, for its name.
    pub latest_raw_id: i64,
}

/// A venue's place in its (week, tier, venue type).
#[derive(Debug)]
pub struct Ranked {
    pub market_share_pct: decimal::Hundredths,
    pub rank: i64,
}

/// Sorts `venues` by tier, venue type, then volume descending, then venue
/// ascending, and returns each one's market share of its tier and venue
/// type, and its rank there (1, 2, 3, …).
pub fn rank_venues(venues: &mut [Totals]) -> Vec<Ranked> {
    venues.sort_by(|a, b| {
        (&a.tier, a.venue_type)
            .cmp(&(&b.tier, b.venue_type))
            .then(b.volume.cmp(&a.volume))
            .then(a.name.cmp(&b.name))
    });
    let mut ranked = Vec::with_capacity(venues.len());
    for group in venues.chunk_by(|a, b| a.tier == b.tier && a.venue_type == b.venue_type) {
        // At most a few thousand venues of 2^100 at most: no overflow.
        let total: i128 = group.iter().map(|venue| venue.volume).sum();
        ranked.extend(group.iter().zip(1..).map(|(venue, rank)| Ranked {
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

/// Writes one week's summaries.
struct WeekWriter<'r> {
    run: &'r Run,
    symbols: BulkInsert,
    venues: BulkInsert,
    side_by_side: BulkInsert,
    /// [`names_sql`].
    names: String,
}

impl WeekWriter<'_> {
    /// Removes the week's summaries.
    fn clear(&self, ctx: &mut Context<'_>, week: &str) -> Result<()> {
        let week = [SqlValue::Text(week)];
        for table in ["otc_symbol_summary", "otc_venue_share", "otc_symbol_offexchange"] {
            ctx.execute(&format!("DELETE FROM {table} WHERE week_ending = ?1"), &week)?;
        }
        Ok(())
    }

    /// Summarizes one week whose rows were removed; returns the symbol and
    /// venue rows written.
    fn summarize(&self, ctx: &mut Context<'_>, pass: &mut WeekPass, week: &str) -> Result<(u64, u64)> {
        let symbols = self.read_week(ctx, pass, week)?;
        if symbols == 0 {
            ctx.log(Level::Warn, &format!("week {week} has no normalized volume"));
        }
        let corrected = pass.correct_across_tiers(ctx, week)?;
        let side_by_side = pass.side_by_side_in_key_order(corrected);
        self.write_side_by_side(ctx, week, &side_by_side)?;
        let mut venues = pass.venues();
        let venues = self.write_venue_share(ctx, week, pass, &mut venues)?;
        Ok((symbols, venues))
    }

    /// Reads a week's venue volume a chunk at a time, writing its symbol
    /// summaries as they complete; returns the symbol rows written. Venue
    /// and side-by-side sums stay in `pass`.
    fn read_week(&self, ctx: &mut Context<'_>, pass: &mut WeekPass, week: &str) -> Result<u64> {
        let mut written = 0;
        loop {
            let last = week_chunks::read_chunk(ctx, WEEK_ROWS, week, &pass.last_key(), |row| pass.row(row))?;
            if last {
                pass.end_symbol();
            }
            written += self.write_symbols(ctx, week, &pass.symbols)?;
            pass.symbols.clear();
            if last {
                return Ok(written);
            }
        }
    }

    /// The issue and participant names of the raw lines `ids`.
    fn names(&self, ctx: &mut Context<'_>, ids: &[i64]) -> Result<FxHashMap<i64, (String, String)>> {
        let mut names = FxHashMap::default();
        for chunk in ids.chunks(NAMES_PER_QUERY) {
            // Ids start at 1: 0 pads the last query.
            let params: Vec<SqlValue<'_>> = (0..NAMES_PER_QUERY)
                .map(|index| SqlValue::Integer(chunk.get(index).copied().unwrap_or(0)))
                .collect();
            ctx.query(&self.names, &params, |row| {
                names.insert(row.i64(0)?, (row.str(1)?.to_owned(), row.str(2)?.to_owned()));
                Ok(true)
            })?;
        }
        Ok(names)
    }

    fn write_symbols(&self, ctx: &mut Context<'_>, week: &str, symbols: &[Totals]) -> Result<u64> {
        let mut written = 0;
        for batch in symbols.chunks(BATCH_ROWS) {
            let ids: Vec<i64> = batch.iter().map(|symbol| symbol.latest_raw_id).collect();
            let names = self.names(ctx, &ids)?;
            let mut values = Vec::with_capacity(batch.len() * SYMBOL_COLUMNS);
            for symbol in batch {
                let what =
                    |figure: &str| format!("the {figure} of symbol {} in tier {}", symbol.name, symbol.tier);
                let average = decimal::average(symbol.volume, symbol.trades);
                values.extend([
                    SqlValue::Text(week),
                    SqlValue::Text(&symbol.tier),
                    SqlValue::Text(&symbol.name),
                    SqlValue::Text(symbol.venue_type.name()),
                    names
                        .get(&symbol.latest_raw_id)
                        .map(|(issue, _)| issue.as_str())
                        .into(),
                    SqlValue::Integer(stored(symbol.volume, || what("share volume"))?),
                    SqlValue::Integer(stored(symbol.trades, || what("trade count"))?),
                    SqlValue::Integer(symbol.count),
                    average.map(decimal::Hundredths::to_real).into(),
                    SqlValue::Text(&self.run.started_at),
                ]);
            }
            written += self.symbols.insert(ctx, &values)?;
        }
        Ok(written)
    }

    fn write_side_by_side(&self, ctx: &mut Context<'_>, week: &str, rows: &[SideBySide]) -> Result<()> {
        for batch in rows.chunks(BATCH_ROWS) {
            let mut values = Vec::with_capacity(batch.len() * SIDE_BY_SIDE_COLUMNS);
            for row in batch {
                values.extend([
                    SqlValue::Text(week),
                    SqlValue::Text(&row.tier),
                    SqlValue::Text(&row.symbol),
                ]);
                values.extend(row.figures()?);
                values.push(SqlValue::Text(&self.run.started_at));
            }
            self.side_by_side.insert(ctx, &values)?;
        }
        Ok(())
    }

    fn write_venue_share(
        &self,
        ctx: &mut Context<'_>,
        week: &str,
        pass: &WeekPass,
        venues: &mut [Totals],
    ) -> Result<u64> {
        let ranked = rank_venues(venues);
        let ids: Vec<i64> = venues.iter().map(|venue| venue.latest_raw_id).collect();
        let names = self.names(ctx, &ids)?;
        let held = VenueType::ALL.map(|kind| pass.tiers_held(kind));
        let mut values = Vec::with_capacity(venues.len() * VENUE_COLUMNS);
        for (venue, place) in venues.iter().zip(&ranked) {
            let what = |figure: &str| format!("the {figure} of venue {} in tier {}", venue.name, venue.tier);
            let (tiers, complete) = &held[venue.venue_type.index()];
            values.extend([
                SqlValue::Text(week),
                SqlValue::Text(&venue.tier),
                SqlValue::Text(venue.venue_type.name()),
                SqlValue::Text(&venue.name),
                (venue.venue_type == VenueType::Ats)
                    .then_some(venue.name.as_str())
                    .into(),
                names
                    .get(&venue.latest_raw_id)
                    .map(|(_, participant)| participant.as_str())
                    .into(),
                SqlValue::Integer(i64::from(venue.is_aggregate)),
                SqlValue::Integer(stored(venue.volume, || what("share volume"))?),
                SqlValue::Integer(stored(venue.trades, || what("trade count"))?),
                SqlValue::Integer(venue.count),
                SqlValue::Real(place.market_share_pct.to_real()),
                SqlValue::Integer(place.rank),
                SqlValue::Text(tiers),
                SqlValue::Integer(i64::from(*complete)),
                SqlValue::Text(&self.run.started_at),
            ]);
        }
        self.venues.insert(ctx, &values)
    }
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

/// The latest publication among a group's rows: the latest lastUpdateDate,
/// and of rows published that day the last offered. Rows are offered in key
/// order, which is their content's, so the choice never follows load order.
#[derive(Debug, Default, Clone, Copy)]
struct Latest {
    /// lastUpdateDate (YYYY-MM-DD), compared as bytes.
    date: [u8; 10],
    /// Its raw line; 0 before the first row.
    raw_id: i64,
}

impl Latest {
    fn offer(&mut self, date: &str, raw_id: i64) {
        let mut day = [0; 10];
        let date = date.as_bytes();
        day[..date.len().min(10)].copy_from_slice(&date[..date.len().min(10)]);
        if day >= self.date {
            *self = Latest { date: day, raw_id };
        }
    }
}

/// A venue's sums and latest publication, in one tier or across tiers.
#[derive(Debug, Default, Clone, Copy)]
struct VenueSums {
    sums: Sums,
    latest: Latest,
}

impl VenueSums {
    fn add(&mut self, figure: &Figure<'_>) {
        self.sums.add(figure.volume, figure.trades);
        self.latest.offer(figure.date, figure.raw_id);
    }
}

/// A symbol's ATS and non-ATS sums in one tier, or across tiers.
#[derive(Debug, Clone)]
struct SideBySide {
    tier: String,
    symbol: String,
    /// Indexed by [`VenueType::index`].
    sides: [Sums; 2],
}

impl SideBySide {
    /// ats_volume, ats_trades, ats_avg_trade_size, non_ats_volume,
    /// non_ats_trades, non_ats_avg_trade_size and ats_share_pct.
    fn figures(&self) -> Result<[SqlValue<'static>; 7]> {
        let what = |figure: &str| format!("the {figure} of symbol {} in tier {}", self.symbol, self.tier);
        let [ats, non_ats] = &self.sides;
        let total = ats.volume + non_ats.volume;
        Ok([
            SqlValue::Integer(stored(ats.volume, || what("ATS volume"))?),
            SqlValue::Integer(stored(ats.trades, || what("ATS trade count"))?),
            decimal::average(ats.volume, ats.trades)
                .map(decimal::Hundredths::to_real)
                .into(),
            SqlValue::Integer(stored(non_ats.volume, || what("non-ATS volume"))?),
            SqlValue::Integer(stored(non_ats.trades, || what("non-ATS trade count"))?),
            decimal::average(non_ats.volume, non_ats.trades)
                .map(decimal::Hundredths::to_real)
                .into(),
            (total != 0)
                .then(|| decimal::percent(ats.volume, total).to_real())
                .into(),
        ])
    }
}

/// The symbol, tier and venue type being summed.
#[derive(Debug)]
struct Group {
    tier: String,
    symbol: String,
    venue_type: VenueType,
    sums: Sums,
    /// Rows of named venues (not the de minimis aggregate).
    named: i64,
    latest: Latest,
}

/// One row of otc_venue_figures, as summarize reads it.
#[derive(Debug)]
struct Figure<'a> {
    tier: &'a str,
    symbol: &'a str,
    venue_type: VenueType,
    venue: &'a str,
    is_aggregate: bool,
    volume: i64,
    trades: i64,
    date: &'a str,
    raw_id: i64,
}

impl<'a> Figure<'a> {
    fn from_row(row: &Row<'a>) -> Result<Self> {
        let code = row.i64(2)?;
        let venue_type = VenueType::from_code(code).ok_or_else(|| {
            Error::new(
                "otc.summarize.venue_type",
                format!("otc_venue_figures: expected venue_type 1 (ATS) or 2 (NON_ATS), found {code}"),
            )
        })?;
        Ok(Figure {
            tier: row.str(0)?,
            symbol: row.str(1)?,
            venue_type,
            venue: row.str(3)?,
            is_aggregate: row.i64(4)? != 0,
            volume: row.i64(5)?,
            trades: row.i64(6)?,
            date: row.str(7)?,
            raw_id: row.i64(8)?,
        })
    }
}

/// A venue of the week.
#[derive(Debug)]
struct VenueOfWeek {
    venue_type: VenueType,
    name: String,
    is_aggregate: bool,
}

/// One week's sums, built row by row from the week's venue volume in key
/// order. Its size follows the week's symbols and venues, never the history.
#[derive(Default)]
struct WeekPass {
    /// Symbol totals completed and not written yet, in key order.
    symbols: Vec<Totals>,
    /// The (tier, symbol, venue type) being summed.
    current: Option<Group>,
    /// (tier, symbol) sums completed, the `ALL` rows among them. Written
    /// when the week is read, in key order: the `ALL` rows sort before
    /// the tiers', and written as they complete each would land in the middle
    /// of the week's rows (a B-tree search and a split page for each).
    side_by_side: Vec<SideBySide>,
    /// The (tier, symbol) being summed.
    current_side: Option<SideBySide>,
    /// The venue of the last row read.
    last_venue: String,
    /// Venues numbered in order of appearance, per venue type, both ways.
    venue_ids: [FxHashMap<String, u32>; 2],
    venues: Vec<VenueOfWeek>,
    /// Tiers in order of appearance.
    tiers: Vec<String>,
    /// Per tier (index of `tiers`) and venue id, and across tiers per venue id.
    by_tier: Vec<Vec<VenueSums>>,
    all_tiers: Vec<VenueSums>,
    /// Per venue type, the tiers of [`Tier::ALL`] (bits by index) it has rows in.
    tiers_held: [u8; 2],
    /// The tiers (bits by index of `tiers`) each symbol traded in.
    symbol_tiers: FxHashMap<String, u32>,
    /// Symbols that traded in more than one tier: across tiers, a venue of
    /// such a symbol is counted once per tier until corrected.
    multi_tier: Vec<String>,
}

impl WeekPass {
    fn clear(&mut self) {
        *self = WeekPass::default();
    }

    /// The key (tier, symbol, venue type code, venue) of the last row read;
    /// empty texts before the first, which sort before every key.
    fn last_key(&self) -> FigureKey {
        match &self.current {
            Some(group) => (
                group.tier.clone(),
                group.symbol.clone(),
                group.venue_type.code(),
                self.last_venue.clone(),
            ),
            None => Default::default(),
        }
    }

    /// Adds one row of the week's venue volume.
    fn row(&mut self, row: &Row<'_>) -> Result<()> {
        self.add(&Figure::from_row(row)?);
        Ok(())
    }

    /// Adds one row; rows come in key order (tier, symbol, venue type, venue).
    fn add(&mut self, figure: &Figure<'_>) {
        let same_group = matches!(&self.current,
            Some(group) if group.tier == figure.tier && group.symbol == figure.symbol
                && group.venue_type == figure.venue_type);
        if !same_group {
            self.end_group();
            let same_symbol = matches!(&self.current_side,
                Some(side) if side.tier == figure.tier && side.symbol == figure.symbol);
            if !same_symbol {
                self.end_symbol();
                self.start_symbol(figure.tier, figure.symbol);
            }
            self.current = Some(Group {
                tier: figure.tier.to_owned(),
                symbol: figure.symbol.to_owned(),
                venue_type: figure.venue_type,
                sums: Sums::default(),
                named: 0,
                latest: Latest::default(),
            });
        }
        if let Some(group) = &mut self.current {
            group.sums.add(figure.volume, figure.trades);
            group.named += i64::from(!figure.is_aggregate);
            group.latest.offer(figure.date, figure.raw_id);
        }
        if let Some(side) = &mut self.current_side {
            side.sides[figure.venue_type.index()].add(figure.volume, figure.trades);
        }
        if let Some(index) = Tier::ALL.iter().position(|tier| tier.canonical() == figure.tier) {
            self.tiers_held[figure.venue_type.index()] |= 1 << index;
        }
        self.last_venue.clear();
        self.last_venue.push_str(figure.venue);

        let ids = &mut self.venue_ids[figure.venue_type.index()];
        let id = match ids.get(figure.venue) {
            Some(&id) => id as usize,
            None => {
                let id = self.venues.len();
                ids.insert(figure.venue.to_owned(), id as u32);
                self.venues.push(VenueOfWeek {
                    venue_type: figure.venue_type,
                    name: figure.venue.to_owned(),
                    is_aggregate: figure.is_aggregate,
                });
                self.all_tiers.push(VenueSums::default());
                id
            }
        };
        let tier_sums = self.by_tier.last_mut().expect("a tier is pushed before its rows");
        if tier_sums.len() <= id {
            tier_sums.resize(id + 1, VenueSums::default());
        }
        tier_sums[id].add(figure);
        self.all_tiers[id].add(figure);
    }

    /// Starts a (tier, symbol): notes the tier and the symbol's tiers.
    fn start_symbol(&mut self, tier: &str, symbol: &str) {
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
        self.current_side = Some(SideBySide {
            tier: tier.to_owned(),
            symbol: symbol.to_owned(),
            sides: Default::default(),
        });
    }

    /// Closes the (tier, symbol, venue type) being summed.
    fn end_group(&mut self) {
        if let Some(group) = self.current.take() {
            self.symbols.push(Totals {
                tier: group.tier,
                venue_type: group.venue_type,
                name: group.symbol,
                volume: group.sums.volume,
                trades: group.sums.trades,
                count: group.named,
                is_aggregate: false,
                latest_raw_id: group.latest.raw_id,
            });
        }
    }

    /// Closes the (tier, symbol) being summed, and the group in it. A
    /// symbol's first tier also stands for it across tiers (`ALL`): almost
    /// every symbol trades in one tier, so only the few in several are
    /// summed again at the end of the week, and no map of every symbol's
    /// sums is kept.
    fn end_symbol(&mut self) {
        self.end_group();
        if let Some(side) = self.current_side.take() {
            let first_tier = self
                .symbol_tiers
                .get(&side.symbol)
                .is_none_or(|tiers| tiers.count_ones() == 1);
            if first_tier {
                self.side_by_side.push(SideBySide {
                    tier: "ALL".to_owned(),
                    ..side.clone()
                });
            }
            self.side_by_side.push(side);
        }
    }

    /// The tiers the week holds for `venue_type`, comma-separated, and whether
    /// that is all of them.
    fn tiers_held(&self, venue_type: VenueType) -> (String, bool) {
        let bits = self.tiers_held[venue_type.index()];
        let names: Vec<&str> = Tier::ALL
            .iter()
            .enumerate()
            .filter(|(index, _)| bits & (1 << index) != 0)
            .map(|(_, tier)| tier.canonical())
            .collect();
        (names.join(","), names.len() == Tier::ALL.len())
    }

    /// The symbols that traded in several tiers, corrected: each counted
    /// once per venue across tiers (a venue it traded on in n tiers was
    /// counted n times), and summed across tiers, which is returned. Rare,
    /// so asked of SQL symbol by symbol (the primary key finds each tier's
    /// rows).
    fn correct_across_tiers(&mut self, ctx: &mut Context<'_>, week: &str) -> Result<Vec<SideBySide>> {
        if self.multi_tier.is_empty() {
            return Ok(Vec::new());
        }
        let tiers = vec!["?"; self.tiers.len()].join(", ");
        let sql = format!(
            "SELECT venue_type, venue, count(*), sum(share_volume), sum(trade_count) FROM otc_venue_figures \
             WHERE week_ending = ? AND tier IN ({tiers}) AND symbol = ? GROUP BY venue_type, venue"
        );
        let mut across_tiers = Vec::new();
        for symbol in std::mem::take(&mut self.multi_tier) {
            let mut params = vec![SqlValue::Text(week)];
            params.extend(self.tiers.iter().map(|tier| SqlValue::Text(tier)));
            params.push(SqlValue::Text(&symbol));
            let mut venues = Vec::new();
            ctx.query(&sql, &params, |row| {
                venues.push((
                    row.i64(0)?,
                    row.str(1)?.to_owned(),
                    row.i64(2)?,
                    row.i64(3)?,
                    row.i64(4)?,
                ));
                Ok(true)
            })?;
            let mut sides = [Sums::default(); 2];
            for (code, venue, tiers, volume, trades) in venues {
                let Some(venue_type) = VenueType::from_code(code) else {
                    continue;
                };
                // At most three tiers' rows of 10^14: the sums are exact.
                sides[venue_type.index()].add(volume, trades);
                if tiers > 1 {
                    self.counted_in_tiers(venue_type, &venue, tiers);
                }
            }
            across_tiers.push(SideBySide {
                tier: "ALL".to_owned(),
                symbol,
                sides,
            });
        }
        Ok(across_tiers)
    }

    /// The week's side-by-side rows in key order (tier, symbol), the `ALL`
    /// rows of the symbols in several tiers replaced by `corrected`.
    fn side_by_side_in_key_order(&mut self, corrected: Vec<SideBySide>) -> Vec<SideBySide> {
        let mut rows = std::mem::take(&mut self.side_by_side);
        if !corrected.is_empty() {
            let mut corrected: FxHashMap<String, SideBySide> = corrected
                .into_iter()
                .map(|row| (row.symbol.clone(), row))
                .collect();
            for row in rows.iter_mut().filter(|row| row.tier == "ALL") {
                if let Some(across_tiers) = corrected.remove(&row.symbol) {
                    *row = across_tiers;
                }
            }
        }
        // Bytes order as SQLite's BINARY collation does.
        rows.sort_by(|a, b| (&a.tier, &a.symbol).cmp(&(&b.tier, &b.symbol)));
        rows
    }

    /// One symbol traded on `venue` in `tiers` tiers: count it once.
    fn counted_in_tiers(&mut self, venue_type: VenueType, venue: &str, tiers: i64) {
        if let Some(&id) = self.venue_ids[venue_type.index()].get(venue) {
            self.all_tiers[id as usize].sums.count -= tiers - 1;
        }
    }

    /// Venue totals per tier, and across tiers as tier `ALL`.
    fn venues(&self) -> Vec<Totals> {
        let totals = |tier: &str, id: usize, venue: &VenueSums| {
            let of_week = &self.venues[id];
            Totals {
                tier: tier.to_owned(),
                venue_type: of_week.venue_type,
                name: of_week.name.clone(),
                volume: venue.sums.volume,
                trades: venue.sums.trades,
                count: venue.sums.count,
                is_aggregate: of_week.is_aggregate,
                latest_raw_id: venue.latest.raw_id,
            }
        };
        let by_tier = self.tiers.iter().zip(&self.by_tier).flat_map(|(tier, venues)| {
            venues
                .iter()
                .enumerate()
                .filter(|(_, venue)| venue.sums.count > 0)
                .map(move |(id, venue)| totals(tier, id, venue))
        });
        let all_tiers = self
            .all_tiers
            .iter()
            .enumerate()
            .map(|(id, venue)| totals("ALL", id, venue));
        by_tier.chain(all_tiers).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn venue(tier: &str, venue_type: VenueType, name: &str, volume: i128) -> Totals {
        Totals {
            tier: tier.into(),
            venue_type,
            name: name.into(),
            volume,
            trades: 0,
            count: 1,
            is_aggregate: false,
            latest_raw_id: 0,
        }
    }

    fn table(venues: &[Totals], ranked: &[Ranked]) -> Vec<String> {
        venues
            .iter()
            .zip(ranked)
            .map(|(v, r)| {
                format!(
                    "{} {} {} {} {} {} {}",
                    v.tier,
                    v.venue_type.name(),
                    r.rank,
                    v.name,
                    v.volume,
                    v.count,
                    r.market_share_pct
                )
            })
            .collect()
    }

    /// A row of venue volume, published 2025-12-15 on raw line `raw_id`.
    fn figure<'a>(
        tier: &'a str,
        symbol: &'a str,
        venue_type: VenueType,
        venue: &'a str,
        volume: i64,
        trades: i64,
    ) -> Figure<'a> {
        Figure {
            tier,
            symbol,
            venue_type,
            venue,
            is_aggregate: venue == "De Minimis Firms",
            volume,
            trades,
            date: "2025-12-15",
            raw_id: 1,
        }
    }

    #[test]
    fn venues_rank_by_volume_then_venue_within_each_tier_and_venue_type() {
        use VenueType::{Ats, NonAts};
        let mut venues = vec![
            venue("OTC", Ats, "B", 10),
            venue("OTC", Ats, "A", 10),
            venue("OTC", Ats, "C", 30),
            venue("OTC", NonAts, "Firm", 1000),
            venue("ALL", Ats, "Z", 0),
            venue("ALL", Ats, "Y", 0),
        ];
        let ranked = rank_venues(&mut venues);
        assert_eq!(
            table(&venues, &ranked),
            [
                "ALL ATS 1 Y 0 1 0.00",
                "ALL ATS 2 Z 0 1 0.00",
                "OTC ATS 1 C 30 1 60.00",
                "OTC ATS 2 A 10 1 20.00",
                "OTC ATS 3 B 10 1 20.00",
                "OTC NON_ATS 1 Firm 1000 1 100.00"
            ]
        );
    }

    #[test]
    fn one_pass_sums_symbols_venues_and_venues_across_tiers() {
        use VenueType::{Ats, NonAts};
        let mut pass = WeekPass::default();
        // Key order: tier, symbol, venue type, venue. BBB trades in two tiers on V1.
        let rows = [
            figure("NMS Tier 1", "AAA", Ats, "V1", 10, 1),
            figure("NMS Tier 1", "AAA", Ats, "V2", 30, 3),
            figure("NMS Tier 1", "AAA", NonAts, "De Minimis Firms", 20, 4),
            figure("NMS Tier 1", "AAA", NonAts, "Firm X", 40, 4),
            figure("NMS Tier 1", "BBB", Ats, "V1", 5, 1),
            figure("NMS Tier 2", "BBB", Ats, "V1", 7, 1),
            figure("NMS Tier 2", "BBB", Ats, "V3", 1, 1),
            figure("NMS Tier 2", "CCC", Ats, "V2", 2, 2),
        ];
        for row in &rows {
            pass.add(row);
        }
        pass.end_symbol();
        // What correct_across_tiers asks SQL for BBB: V1 in two tiers.
        assert_eq!(pass.multi_tier, ["BBB"]);
        pass.counted_in_tiers(Ats, "V1", 2);
        let symbols: Vec<String> = pass
            .symbols
            .iter()
            .map(|s| {
                format!(
                    "{} {} {} {} {} {}",
                    s.tier,
                    s.name,
                    s.venue_type.name(),
                    s.volume,
                    s.trades,
                    s.count
                )
            })
            .collect();
        // The de minimis row counts in the non-ATS totals, not as a venue.
        assert_eq!(
            symbols,
            [
                "NMS Tier 1 AAA ATS 40 4 2",
                "NMS Tier 1 AAA NON_ATS 60 8 1",
                "NMS Tier 1 BBB ATS 5 1 1",
                "NMS Tier 2 BBB ATS 8 2 2",
                "NMS Tier 2 CCC ATS 2 2 1"
            ]
        );
        // A symbol's first tier stands for it across tiers; BBB's ALL row
        // is summed again from SQL (correct_across_tiers) at the week's end.
        let side_by_side: Vec<String> = pass
            .side_by_side
            .iter()
            .map(|s| {
                format!(
                    "{} {} {} {}",
                    s.tier, s.symbol, s.sides[0].volume, s.sides[1].volume
                )
            })
            .collect();
        assert_eq!(
            side_by_side,
            [
                "ALL AAA 40 60",
                "NMS Tier 1 AAA 40 60",
                "ALL BBB 5 0",
                "NMS Tier 1 BBB 5 0",
                "NMS Tier 2 BBB 8 0",
                "ALL CCC 2 0",
                "NMS Tier 2 CCC 2 0"
            ]
        );
        let mut venues = pass.venues();
        let ranked = rank_venues(&mut venues);
        assert_eq!(
            table(&venues, &ranked),
            [
                "ALL ATS 1 V2 32 2 58.18",
                "ALL ATS 2 V1 22 2 40.00",
                "ALL ATS 3 V3 1 1 1.82",
                "ALL NON_ATS 1 Firm X 40 1 66.67",
                "ALL NON_ATS 2 De Minimis Firms 20 1 33.33",
                "NMS Tier 1 ATS 1 V2 30 1 66.67",
                "NMS Tier 1 ATS 2 V1 15 2 33.33",
                "NMS Tier 1 NON_ATS 1 Firm X 40 1 66.67",
                "NMS Tier 1 NON_ATS 2 De Minimis Firms 20 1 33.33",
                "NMS Tier 2 ATS 1 V1 7 1 70.00",
                "NMS Tier 2 ATS 2 V2 2 1 20.00",
                "NMS Tier 2 ATS 3 V3 1 1 10.00"
            ]
        );
        assert_eq!(pass.tiers_held(Ats), ("NMS Tier 1,NMS Tier 2".to_owned(), false));
        assert_eq!(pass.tiers_held(NonAts), ("NMS Tier 1".to_owned(), false));
        // The next week starts from nothing.
        pass.clear();
        pass.add(&figure("OTC", "DDD", Ats, "V9", 1, 1));
        pass.end_symbol();
        assert_eq!(pass.symbols.len(), 1);
        assert_eq!(pass.venues().len(), 2);
    }

    #[test]
    fn the_latest_publication_names_a_group_and_a_tie_goes_to_the_last_in_key_order() {
        let mut latest = Latest::default();
        latest.offer("2025-12-15", 7);
        latest.offer("2025-12-22", 3);
        latest.offer("2025-12-22", 5);
        latest.offer("2025-12-01", 9);
        assert_eq!(latest.raw_id, 5);
    }

    #[test]
    fn sums_beyond_63_bits_rank_exactly_and_fail_only_where_they_are_stored() {
        let mut pass = WeekPass::default();
        // 92,234 rows at normalize's bound pass 2^63 - 1 on one venue.
        let symbols: Vec<String> = (0..92_234).map(|symbol| format!("S{symbol:05}")).collect();
        for symbol in &symbols {
            pass.add(&figure(
                "OTC",
                symbol,
                VenueType::Ats,
                "BIG",
                100_000_000_000_000,
                1,
            ));
        }
        pass.add(&figure("OTC", "ZZZ", VenueType::Ats, "SMALL", 1, 1));
        pass.end_symbol();
        let mut venues = pass.venues();
        let ranked = rank_venues(&mut venues);
        let big = venues
            .iter()
            .position(|v| v.name == "BIG" && v.tier == "OTC")
            .unwrap();
        assert_eq!(venues[big].volume, 9_223_400_000_000_000_000);
        assert_eq!(ranked[big].market_share_pct.to_string(), "100.00");
        let error = stored(venues[big].volume, || "the share volume of venue BIG".into()).unwrap_err();
        assert_eq!(error.code, OVERFLOW);
        assert_eq!(
            error.message,
            "the share volume of venue BIG is 9223400000000000000, beyond the 2^63 - 1 an integer column holds"
        );
        assert_eq!(stored(i128::from(i64::MAX), String::new).unwrap(), i64::MAX);
    }
}
