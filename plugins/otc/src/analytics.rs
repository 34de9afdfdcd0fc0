//! `otc.analytics`: concentration, venue movers and symbol movers, computed
//! from the summaries into `otc_concentration`, `otc_symbol_concentration`,
//! `otc_venue_movers` and `otc_symbol_movers`.
//!
//! A week is recomputed whole (its rows deleted and written again). Without
//! a `week_ending` parameter the weeks are those `otc.summarize` queued in
//! `otc_analytics_queue` since the last run, and after each the next six
//! loaded weeks of every tier and venue type: their movers and index changes
//! compare with it. A week given with `week_ending` is computed alone and
//! leaves the queue as it was. A week that has analytics but no summaries
//! any more (otc.summarize failed it) counts as changed: its rows go. Weeks are done in order, so a week's rows are computed
//! from its predecessors' summaries, never from analytics half done.
//!
//! Sources: the venues' weekly totals (`otc_venue_share`, tier `ALL`
//! included) for market concentration and venue movers; the symbols'
//! weekly totals (`otc_symbol_summary`) for symbol movers; the venue volume
//! itself (`otc_venue_figures`, one pass over the week in key order, as
//! summarize reads it) for symbol concentration. A "loaded week" of a tier
//! and venue type is one with summaries of it. The arithmetic is in
//! [`crate::concentration`] and [`crate::movers`].
//!
//! A week whose totals pass what an integer column holds fails alone, as in
//! summarize: its rows are removed, the reason is logged and listed in
//! `failed_weeks`, the week stays queued, and every other week is computed.

use crate::bulk::BulkInsert;
use crate::concentration::{Market, Squares, VenueVolume, OVERFLOW};
use crate::decimal::Hundredths;
use crate::hash::VenueType;
use crate::movers::{self, PRIOR_WEEKS};
use crate::run::{metrics, stop_if_cancelled, Figures, Run};
use crate::tier::Tier;
use crate::week;
use crate::week_chunks::{self, FigureKey};
use chrono::NaiveDate;
use serde_json::json;
use spine_plugin_api::{Context, Error, Level, Metrics, Params, Pipeline, Result, Row, SqlValue};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// `-p min_volume`'s default: symbols whose volume and median are both
/// below this many shares are `below_floor`, not scored.
pub const DEFAULT_MIN_VOLUME: i64 = 100_000;

/// The analytics tables, each keyed by week first.
const TABLES: [&str; 4] = [
    "otc_concentration",
    "otc_venue_movers",
    "otc_symbol_concentration",
    "otc_symbol_movers",
];

const INSERT_CONCENTRATION: &str = "INSERT INTO otc_concentration \
    (week_ending, tier, venue_type, total_volume, venues, hhi_low, hhi_high, effective_venues, top1_pct, \
     top3_pct, top5_pct, aggregate_pct, prev_week_ending, hhi_change, hhi_change_common, hhi_change_entry_exit, \
     computed_at)";
const CONCENTRATION_COLUMNS: usize = 17;

const INSERT_VENUE_MOVER: &str = "INSERT INTO otc_venue_movers \
    (week_ending, tier, venue_type, venue, is_aggregate, volume, share_pct, prev_week_ending, prev_volume, \
     prev_share_pct, change_pp, status, computed_at)";
const VENUE_MOVER_COLUMNS: usize = 13;

const INSERT_SYMBOL_CONCENTRATION: &str = "INSERT INTO otc_symbol_concentration \
    (week_ending, tier, venue_type, symbol, total_volume, venues, hhi_low, hhi_high, top_venue, top_venue_pct, \
     aggregate_pct, computed_at)";
const SYMBOL_CONCENTRATION_COLUMNS: usize = 12;

const INSERT_SYMBOL_MOVER: &str = "INSERT INTO otc_symbol_movers \
    (week_ending, venue_type, symbol, volume, prior_weeks, median, mad, robust_z, status, computed_at)";
const SYMBOL_MOVER_COLUMNS: usize = 10;

/// A week's venue volume after a key (?2, ?3, ?4, ?5), in key order, ?6 rows
/// at most (summarize's reading, without what concentration does not need).
const WEEK_FIGURES: &str = "SELECT tier, symbol, venue_type, venue, is_aggregate, share_volume \
    FROM otc_venue_figures \
    WHERE week_ending = ?1 AND (tier, symbol, venue_type, venue) > (?2, ?3, ?4, ?5) \
    ORDER BY tier, symbol, venue_type, venue LIMIT ?6";

/// The `otc.analytics` pipeline.
pub struct Analytics {
    week_ending: Option<NaiveDate>,
    min_volume: i64,
}

impl Analytics {
    pub fn from_params(params: &Params) -> Result<Self> {
        let min_volume = params.opt_i64("min_volume")?.unwrap_or(DEFAULT_MIN_VOLUME);
        if min_volume < 0 {
            return Err(Error::new(
                "otc.params.min_volume",
                format!("min_volume: expected a number of shares, 0 or more, found {min_volume}"),
            ));
        }
        Ok(Analytics {
            week_ending: week::week_ending_param(params)?,
            min_volume,
        })
    }

    /// Every week queued since the last run, and the six loaded weeks after
    /// each, with the default floor.
    pub fn changed_weeks() -> Self {
        Analytics {
            week_ending: None,
            min_volume: DEFAULT_MIN_VOLUME,
        }
    }

    /// Computes the weeks asked for; returns the run's figures.
    pub fn stage(&mut self, ctx: &mut Context<'_>) -> Result<Figures> {
        let run = Run::start(ctx)?;
        let awaiting = ctx.query_scalar::<i64>("SELECT count(*) FROM otc_changed_weeks", &[])?;
        if awaiting > 0 {
            ctx.log(
                Level::Warn,
                &format!(
                    "{awaiting} weeks await otc.summarize, and these analytics use their summaries as they \
                     were: run otc.summarize first (otc.load runs every stage in one go)"
                ),
            );
        }
        let loaded = LoadedWeeks::read(ctx)?;
        let weeks = match self.week_ending {
            Some(week) => {
                let week = week.format("%Y-%m-%d").to_string();
                if loaded.holds(&week) {
                    vec![week]
                } else {
                    // Rows it may have describe summaries that are gone.
                    clear(ctx, &week)?;
                    ctx.log(
                        Level::Warn,
                        &format!(
                            "week {week} has no summaries, so no analytics: load it, or run otc.summarize first"
                        ),
                    );
                    Vec::new()
                }
            }
            None => {
                let mut changed = queued_weeks(ctx)?;
                // A week otc.summarize could not summarize again (its totals
                // passed 63 bits) loses its summaries without being queued:
                // its analytics, and the weeks that compare with it, are
                // stale.
                for week in analysed_weeks(ctx)? {
                    if !loaded.holds(&week) {
                        ctx.log(
                            Level::Warn,
                            &format!(
                                "week {week} has analytics but no summaries any more: its analytics are \
                                 removed and the weeks after it computed again"
                            ),
                        );
                        changed.push(week);
                    }
                }
                loaded.with_followers(&changed)
            }
        };
        if weeks.is_empty() && self.week_ending.is_none() {
            ctx.log(
                Level::Info,
                "no week changed since the last otc.analytics; nothing to do",
            );
        } else if !weeks.is_empty() {
            ctx.log(Level::Info, &format!("computing weeks {}", weeks.join(", ")));
        }
        let mut writer = WeekWriter {
            run: &run,
            loaded: &loaded,
            min_volume: i128::from(self.min_volume),
            volumes: HashMap::new(),
            written: Written::default(),
        };
        let mut failed = Vec::new();
        for (done, week) in weeks.iter().enumerate() {
            stop_if_cancelled(ctx)?;
            clear(ctx, week)?;
            // A week without summaries (see above) has no analytics: its
            // venue volume alone would still give symbols' figures.
            let result = if loaded.holds(week) {
                writer.week(ctx, week)
            } else {
                Ok(())
            };
            match result {
                // Only a run of the queued weeks, which computes their
                // followers with them, takes them off the queue: a week
                // computed alone (`-p week_ending`) stays queued, or the
                // weeks that compare with it would keep figures of its old
                // summaries.
                Ok(()) if self.week_ending.is_none() => {
                    ctx.execute(
                        "DELETE FROM otc_analytics_queue WHERE week_ending = ?1",
                        &[SqlValue::Text(week)],
                    )?;
                }
                Ok(()) => {}
                // The week fails alone, with nothing of it half written, and
                // stays queued.
                Err(error) if error.code == OVERFLOW => {
                    clear(ctx, week)?;
                    ctx.log(
                        Level::Warn,
                        &format!("week {week} has no analytics: {}", error.message),
                    );
                    failed.push(json!({"week": week, "reason": error.message}));
                }
                Err(error) => return Err(error.with_location(format!("week {week}"))),
            }
            ctx.progress(done as u64 + 1, weeks.len() as u64, "weeks");
        }
        let written = &writer.written;
        let figures = json!({
            "weeks": weeks.len() - failed.len(),
            "concentration": written.concentration,
            "symbol_concentration": written.symbol_concentration,
            "venue_movers": written.venue_movers,
            "symbol_movers": written.symbol_movers,
            "failed_weeks": failed,
            "awaiting_summarize": awaiting,
        });
        Ok(figures.as_object().cloned().unwrap_or_default())
    }
}

impl Pipeline for Analytics {
    fn run(&mut self, ctx: &mut Context<'_>) -> Result<Metrics> {
        Ok(metrics(self.stage(ctx)?))
    }
}

fn queued_weeks(ctx: &mut Context<'_>) -> Result<Vec<String>> {
    let mut weeks = Vec::new();
    ctx.query(
        "SELECT week_ending FROM otc_analytics_queue ORDER BY week_ending",
        &[],
        |row| {
            weeks.push(row.str(0)?.to_owned());
            Ok(true)
        },
    )?;
    Ok(weeks)
}

/// The weeks `otc_concentration` holds (every week analysed has rows
/// there), one index seek each.
fn analysed_weeks(ctx: &mut Context<'_>) -> Result<Vec<String>> {
    let mut weeks: Vec<String> = Vec::new();
    loop {
        let last = weeks.last().map_or("", String::as_str);
        let next = ctx.query_one(
            "SELECT week_ending FROM otc_concentration WHERE week_ending > ?1 ORDER BY week_ending LIMIT 1",
            &[SqlValue::Text(last)],
            |row| Ok(row.str(0)?.to_owned()),
        )?;
        match next {
            Some(week) => weeks.push(week),
            None => return Ok(weeks),
        }
    }
}

/// Removes a week's analytics.
fn clear(ctx: &mut Context<'_>, week: &str) -> Result<()> {
    for table in TABLES {
        ctx.execute(
            &format!("DELETE FROM {table} WHERE week_ending = ?1"),
            &[SqlValue::Text(week)],
        )?;
    }
    Ok(())
}

/// The venue type a summary table names.
fn venue_type_named(name: &str) -> Result<VenueType> {
    VenueType::ALL
        .into_iter()
        .find(|kind| kind.name() == name)
        .ok_or_else(|| {
            Error::new(
                "otc.analytics.venue_type",
                format!("expected venue_type ATS or NON_ATS in the summaries, found {name:?}"),
            )
        })
}

/// A (venue type, tier) market: a canonical tier or `ALL`.
type MarketKey = (VenueType, String);

/// The weeks each market holds summaries of, ascending.
struct LoadedWeeks {
    by_market: BTreeMap<MarketKey, Vec<String>>,
}

impl LoadedWeeks {
    /// Reads the (week, tier, venue type) keys of `otc_venue_share`, one
    /// index seek each (its key leads with them): as many look-ups as
    /// markets, not as rows.
    fn read(ctx: &mut Context<'_>) -> Result<Self> {
        let mut by_market: BTreeMap<MarketKey, Vec<String>> = BTreeMap::new();
        let mut last = (String::new(), String::new(), String::new());
        loop {
            let next = ctx.query_one(
                "SELECT week_ending, tier, venue_type FROM otc_venue_share \
                 WHERE (week_ending, tier, venue_type) > (?1, ?2, ?3) \
                 ORDER BY week_ending, tier, venue_type LIMIT 1",
                &[
                    SqlValue::Text(&last.0),
                    SqlValue::Text(&last.1),
                    SqlValue::Text(&last.2),
                ],
                |row| {
                    Ok((
                        row.str(0)?.to_owned(),
                        row.str(1)?.to_owned(),
                        row.str(2)?.to_owned(),
                    ))
                },
            )?;
            let Some(key) = next else {
                return Ok(LoadedWeeks { by_market });
            };
            let venue_type = venue_type_named(&key.2)?;
            by_market
                .entry((venue_type, key.1.clone()))
                .or_default()
                .push(key.0.clone());
            last = key;
        }
    }

    /// Whether any market holds `week`.
    fn holds(&self, week: &str) -> bool {
        self.by_market
            .values()
            .any(|weeks| weeks.binary_search_by(|loaded| loaded.as_str().cmp(week)).is_ok())
    }

    fn weeks(&self, venue_type: VenueType, tier: &str) -> &[String] {
        self.by_market
            .get(&(venue_type, tier.to_owned()))
            .map_or(&[], Vec::as_slice)
    }

    /// The loaded week of a market before `week`. Across tiers (`ALL`), the
    /// last one that holds the same tiers of the venue type: a week holds
    /// Tier 1 alone for two weeks before the others are published, and its
    /// `ALL` market compared with a whole week (or a whole week with one
    /// that lacks a tier) would show every venue of the missing tiers
    /// entering or leaving.
    fn previous(&self, venue_type: VenueType, tier: &str, week: &str) -> Option<&str> {
        let weeks = self.weeks(venue_type, tier);
        let before = weeks.partition_point(|loaded| loaded.as_str() < week);
        if tier != "ALL" {
            return before.checked_sub(1).map(|index| weeks[index].as_str());
        }
        let tiers = self.tiers_of(venue_type, week);
        weeks[..before]
            .iter()
            .rev()
            .find(|earlier| self.tiers_of(venue_type, earlier) == tiers)
            .map(String::as_str)
    }

    /// The tiers (bits by index of [`Tier::ALL`]) that `week` holds of
    /// `venue_type`.
    fn tiers_of(&self, venue_type: VenueType, week: &str) -> u8 {
        Tier::ALL
            .iter()
            .enumerate()
            .filter(|(_, tier)| {
                self.weeks(venue_type, tier.canonical())
                    .binary_search_by(|loaded| loaded.as_str().cmp(week))
                    .is_ok()
            })
            .fold(0, |bits, (index, _)| bits | 1 << index)
    }

    /// The last [`PRIOR_WEEKS`] weeks before `week` that hold a summary of
    /// `venue_type` in any of `tiers` (bits by index of [`Tier::ALL`]),
    /// ascending.
    fn prior(&self, venue_type: VenueType, tiers: u8, week: &str) -> Vec<String> {
        let mut prior = BTreeSet::new();
        for (index, tier) in Tier::ALL.iter().enumerate() {
            if tiers & (1 << index) != 0 {
                let weeks = self.weeks(venue_type, tier.canonical());
                let before = weeks.partition_point(|loaded| loaded.as_str() < week);
                prior.extend(weeks[before.saturating_sub(PRIOR_WEEKS)..before].iter().cloned());
            }
        }
        let skip = prior.len().saturating_sub(PRIOR_WEEKS);
        prior.into_iter().skip(skip).collect()
    }

    /// `changed` and, after each, the next [`PRIOR_WEEKS`] loaded weeks of
    /// every market: the weeks whose figures compare with a changed one.
    fn with_followers(&self, changed: &[String]) -> Vec<String> {
        let mut weeks: BTreeSet<String> = changed.iter().cloned().collect();
        for loaded in self.by_market.values() {
            for week in changed {
                let after = loaded.partition_point(|other| other <= week);
                weeks.extend(loaded[after..].iter().take(PRIOR_WEEKS).cloned());
            }
        }
        weeks.into_iter().collect()
    }
}

/// Rows written, per table.
#[derive(Default)]
struct Written {
    concentration: u64,
    symbol_concentration: u64,
    venue_movers: u64,
    symbol_movers: u64,
}

/// Computes and writes weeks, one at a time, in order.
struct WeekWriter<'r> {
    run: &'r Run,
    loaded: &'r LoadedWeeks,
    min_volume: i128,
    /// Symbols' volumes of the weeks the current one compares with.
    volumes: HashMap<String, WeekVolumes>,
    written: Written,
}

impl WeekWriter<'_> {
    fn week(&mut self, ctx: &mut Context<'_>, week: &str) -> Result<()> {
        self.markets(ctx, week)?;
        self.symbol_concentration(ctx, week)?;
        self.symbol_movers(ctx, week)
    }

    /// Market concentration and venue movers of every (tier, venue type)
    /// of the week.
    fn markets(&mut self, ctx: &mut Context<'_>, week: &str) -> Result<()> {
        let mut concentration = Vec::new();
        let mut movers = Vec::new();
        for ((venue_type, tier), venues) in read_markets(ctx, week, None)? {
            let what = || format!("week {week}, tier {tier}, {}", venue_type.name());
            let market = Market::new(venues, what)?;
            let previous_week = self.loaded.previous(venue_type, &tier, week);
            let previous = match previous_week {
                Some(previous_week) => {
                    let venues = read_markets(ctx, previous_week, Some((venue_type, &tier)))?
                        .remove(&(venue_type, tier.clone()))
                        .unwrap_or_default();
                    let what = || format!("week {previous_week}, tier {tier}, {}", venue_type.name());
                    Some(Market::new(venues, what)?)
                }
                None => None,
            };
            let figures = market.concentration();
            let change = previous.as_ref().and_then(|previous| market.hhi_change(previous));
            concentration.push((tier.clone(), venue_type, figures, previous_week, change));
            for mv in movers::venue_moves(&market, previous.as_ref()) {
                movers.push((tier.clone(), venue_type, previous_week, mv));
            }
        }
        let real = |value: Option<Hundredths>| value.map(Hundredths::to_real);
        let mut values = Vec::with_capacity(concentration.len() * CONCENTRATION_COLUMNS);
        for (tier, venue_type, figures, previous_week, change) in &concentration {
            values.extend([
                SqlValue::Text(week),
                SqlValue::Text(tier),
                SqlValue::Text(venue_type.name()),
                SqlValue::Integer(figures.total_volume),
                SqlValue::Integer(figures.venues),
                real(figures.hhi_low).into(),
                real(figures.hhi_high).into(),
                real(figures.effective_venues).into(),
                SqlValue::Real(figures.top1_pct.to_real()),
                SqlValue::Real(figures.top3_pct.to_real()),
                SqlValue::Real(figures.top5_pct.to_real()),
                SqlValue::Real(figures.aggregate_pct.to_real()),
                (*previous_week).into(),
                real(change.as_ref().map(|change| change.total)).into(),
                real(change.as_ref().map(|change| change.common)).into(),
                real(change.as_ref().map(|change| change.entry_exit)).into(),
                SqlValue::Text(&self.run.started_at),
            ]);
        }
        self.written.concentration +=
            BulkInsert::new(INSERT_CONCENTRATION, CONCENTRATION_COLUMNS, "").insert(ctx, &values)?;
        let mut values = Vec::with_capacity(movers.len() * VENUE_MOVER_COLUMNS);
        for (tier, venue_type, previous_week, mv) in &movers {
            values.extend([
                SqlValue::Text(week),
                SqlValue::Text(tier),
                SqlValue::Text(venue_type.name()),
                SqlValue::Text(&mv.venue),
                SqlValue::Integer(i64::from(mv.is_aggregate)),
                SqlValue::Integer(mv.volume),
                SqlValue::Real(mv.share_pct.to_real()),
                (*previous_week).into(),
                mv.previous.map(|(volume, _)| volume).into(),
                mv.previous.map(|(_, share)| share.to_real()).into(),
                real(mv.change_pp).into(),
                SqlValue::Text(mv.status),
                SqlValue::Text(&self.run.started_at),
            ]);
        }
        self.written.venue_movers +=
            BulkInsert::new(INSERT_VENUE_MOVER, VENUE_MOVER_COLUMNS, "").insert(ctx, &values)?;
        Ok(())
    }

    /// Every symbol's concentration per tier, and across tiers: one pass
    /// over the week's venue volume in key order, a chunk at a time.
    fn symbol_concentration(&mut self, ctx: &mut Context<'_>, week: &str) -> Result<()> {
        let insert = BulkInsert::new(INSERT_SYMBOL_CONCENTRATION, SYMBOL_CONCENTRATION_COLUMNS, "");
        let mut pass = SymbolPass::default();
        loop {
            let last = week_chunks::read_chunk(ctx, WEEK_FIGURES, week, &pass.last_key(), |row| {
                pass.row(row, week)
            })?;
            if last {
                pass.end_group(week)?;
            }
            self.written.symbol_concentration += self.write_symbols(ctx, &insert, week, &pass.done)?;
            pass.done.clear();
            if last {
                break;
            }
        }
        // A symbol in several tiers: its first tier stood for it across
        // tiers; its venues are summed across tiers now (rare, so asked of
        // SQL symbol by symbol; the primary key finds each tier's rows).
        for symbol in std::mem::take(&mut pass.multi_tier) {
            ctx.execute(
                "DELETE FROM otc_symbol_concentration WHERE week_ending = ?1 AND tier = 'ALL' AND symbol = ?2",
                &[SqlValue::Text(week), SqlValue::Text(&symbol)],
            )?;
            let mut groups: Vec<SymbolGroup> = Vec::new();
            ctx.query(
                "SELECT venue_type, venue, max(is_aggregate), sum(share_volume) FROM otc_venue_figures \
                 WHERE week_ending = ?1 AND tier IN ('NMS Tier 1', 'NMS Tier 2', 'OTC') AND symbol = ?2 \
                 GROUP BY venue_type, venue ORDER BY venue_type, venue",
                &[SqlValue::Text(week), SqlValue::Text(&symbol)],
                |row| {
                    let venue_type = VenueType::from_code(row.i64(0)?).ok_or_else(bad_venue_type_code)?;
                    if groups.last().is_none_or(|group| group.venue_type != venue_type) {
                        groups.push(SymbolGroup::new("ALL", &symbol, venue_type));
                    }
                    if let Some(group) = groups.last_mut() {
                        group.add(row.str(1)?, row.i64(2)? != 0, row.i64(3)?);
                    }
                    Ok(true)
                },
            )?;
            let groups = groups
                .into_iter()
                .map(|group| group.checked(week))
                .collect::<Result<Vec<_>>>()?;
            self.written.symbol_concentration += self.write_symbols(ctx, &insert, week, &groups)?;
        }
        Ok(())
    }

    fn write_symbols(
        &self,
        ctx: &mut Context<'_>,
        insert: &BulkInsert,
        week: &str,
        groups: &[SymbolGroup],
    ) -> Result<u64> {
        let mut values = Vec::with_capacity(groups.len() * SYMBOL_CONCENTRATION_COLUMNS);
        for group in groups {
            let hhi = group.squares.hhi();
            let top = group.top.as_ref();
            values.extend([
                SqlValue::Text(week),
                SqlValue::Text(&group.tier),
                SqlValue::Text(group.venue_type.name()),
                SqlValue::Text(&group.symbol),
                SqlValue::Integer(group.squares.total_volume()),
                SqlValue::Integer(group.squares.named()),
                hhi.map(|(low, _)| low.to_real()).into(),
                hhi.map(|(_, high)| high.to_real()).into(),
                top.map(|(_, venue)| venue.as_str()).into(),
                top.map(|&(volume, _)| group.squares.percent(volume).to_real())
                    .into(),
                SqlValue::Real(group.squares.aggregate_pct().to_real()),
                SqlValue::Text(&self.run.started_at),
            ]);
        }
        insert.insert(ctx, &values)
    }

    /// Every symbol of the week, per venue type, across tiers, against its
    /// prior loaded weeks.
    fn symbol_movers(&mut self, ctx: &mut Context<'_>, week: &str) -> Result<()> {
        self.load_volumes(ctx, week)?;
        let Some(current) = self.volumes.get(week) else {
            return Ok(());
        };
        let mut rows = Vec::new();
        for venue_type in VenueType::ALL {
            let mut windows: HashMap<u8, Vec<String>> = HashMap::new();
            for (symbol, &(volume, tiers)) in &current.by_type[venue_type.index()] {
                let prior_weeks = windows
                    .entry(tiers)
                    .or_insert_with(|| self.loaded.prior(venue_type, tiers, week));
                let prior = prior_weeks
                    .iter()
                    .map(|prior| {
                        let volumes = self.volumes.get(prior).ok_or_else(|| {
                            Error::new(
                                "otc.analytics.window",
                                format!("week {prior}, in the window of week {week}, was not read"),
                            )
                        })?;
                        Ok(volumes.volume(venue_type, symbol))
                    })
                    .collect::<Result<Vec<i128>>>()?;
                let volume = i64::try_from(volume).map_err(|_| {
                    Error::new(
                        OVERFLOW,
                        format!(
                            "the {} volume of symbol {symbol} across tiers is {volume}, beyond the 2^63 - 1 \
                             an integer column holds",
                            venue_type.name()
                        ),
                    )
                })?;
                let score = movers::score(i128::from(volume), &prior, self.min_volume);
                rows.push((venue_type, symbol.as_str(), volume, score));
            }
        }
        let mut values = Vec::with_capacity(rows.len() * SYMBOL_MOVER_COLUMNS);
        for (venue_type, symbol, volume, score) in &rows {
            values.extend([
                SqlValue::Text(week),
                SqlValue::Text(venue_type.name()),
                SqlValue::Text(symbol),
                SqlValue::Integer(*volume),
                SqlValue::Integer(score.prior_weeks as i64),
                score.median.map(Hundredths::to_real).into(),
                score.mad.map(Hundredths::to_real).into(),
                score.robust_z.map(Hundredths::to_real).into(),
                SqlValue::Text(score.status),
                SqlValue::Text(&self.run.started_at),
            ]);
        }
        self.written.symbol_movers +=
            BulkInsert::new(INSERT_SYMBOL_MOVER, SYMBOL_MOVER_COLUMNS, "").insert(ctx, &values)?;
        Ok(())
    }

    /// Reads the symbols' volumes of `week` and of every week it compares
    /// with; forgets the weeks no longer needed (weeks go in order, so a
    /// week behind every window is not needed again).
    fn load_volumes(&mut self, ctx: &mut Context<'_>, week: &str) -> Result<()> {
        // A symbol's window is the last weeks of its tiers' weeks together,
        // each of which is among the last weeks of its own tier.
        let mut needed: BTreeSet<String> = BTreeSet::from([week.to_owned()]);
        for venue_type in VenueType::ALL {
            for index in 0..Tier::ALL.len() {
                needed.extend(self.loaded.prior(venue_type, 1 << index, week));
            }
        }
        self.volumes.retain(|cached, _| needed.contains(cached));
        for wanted in needed {
            if let std::collections::hash_map::Entry::Vacant(entry) = self.volumes.entry(wanted) {
                let volumes = WeekVolumes::read(ctx, entry.key())?;
                entry.insert(volumes);
            }
        }
        Ok(())
    }
}

/// The venues of a week's markets from `otc_venue_share` (one market, or
/// all of them), by market.
fn read_markets(
    ctx: &mut Context<'_>,
    week: &str,
    only: Option<(VenueType, &str)>,
) -> Result<BTreeMap<MarketKey, Vec<VenueVolume>>> {
    let mut markets: BTreeMap<MarketKey, Vec<VenueVolume>> = BTreeMap::new();
    let mut failure = None;
    let (venue_type, tier) = only.map_or(("", ""), |(venue_type, tier)| (venue_type.name(), tier));
    ctx.query(
        "SELECT tier, venue_type, venue, is_aggregate, total_volume FROM otc_venue_share \
         WHERE week_ending = ?1 AND (?2 = '' OR (tier = ?2 AND venue_type = ?3)) \
         ORDER BY tier, venue_type, venue",
        &[
            SqlValue::Text(week),
            SqlValue::Text(tier),
            SqlValue::Text(venue_type),
        ],
        |row| {
            let venue_type = match venue_type_named(row.str(1)?) {
                Ok(venue_type) => venue_type,
                Err(error) => {
                    failure = Some(error);
                    return Ok(false);
                }
            };
            markets
                .entry((venue_type, row.str(0)?.to_owned()))
                .or_default()
                .push(VenueVolume {
                    venue: row.str(2)?.to_owned(),
                    is_aggregate: row.i64(3)? != 0,
                    volume: row.i64(4)?,
                });
            Ok(true)
        },
    )?;
    match failure {
        Some(error) => Err(error),
        None => Ok(markets),
    }
}

fn bad_venue_type_code() -> Error {
    Error::new(
        "otc.analytics.venue_type",
        "otc_venue_figures: expected venue_type 1 (ATS) or 2 (NON_ATS)",
    )
}

/// One symbol's venues in one tier (or across tiers) and venue type.
#[derive(Debug)]
struct SymbolGroup {
    tier: String,
    symbol: String,
    venue_type: VenueType,
    squares: Squares,
    /// The named venue with the most volume; of equals, the first by name.
    top: Option<(i64, String)>,
}

impl SymbolGroup {
    fn new(tier: &str, symbol: &str, venue_type: VenueType) -> Self {
        SymbolGroup {
            tier: tier.to_owned(),
            symbol: symbol.to_owned(),
            venue_type,
            squares: Squares::default(),
            top: None,
        }
    }

    /// Adds a venue; venues come in name order.
    fn add(&mut self, venue: &str, is_aggregate: bool, volume: i64) {
        self.squares.add(volume, is_aggregate);
        if !is_aggregate && self.top.as_ref().is_none_or(|(top, _)| volume > *top) {
            self.top = Some((volume, venue.to_owned()));
        }
    }

    fn checked(mut self, week: &str) -> Result<Self> {
        self.squares = self.squares.checked(|| {
            format!(
                "symbol {} in week {week}, tier {}, {}",
                self.symbol,
                self.tier,
                self.venue_type.name()
            )
        })?;
        Ok(self)
    }
}

/// The pass over a week's venue volume.
#[derive(Default)]
struct SymbolPass {
    /// Groups completed and not written yet.
    done: Vec<SymbolGroup>,
    current: Option<SymbolGroup>,
    last_venue: String,
    /// The tiers (bits by index of [`Tier::ALL`]) each symbol was seen in.
    symbol_tiers: HashMap<String, u8>,
    /// Symbols seen in more than one tier.
    multi_tier: Vec<String>,
}

impl SymbolPass {
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

    fn row(&mut self, row: &Row<'_>, week: &str) -> Result<()> {
        let (tier, symbol, venue) = (row.str(0)?, row.str(1)?, row.str(3)?);
        let venue_type = VenueType::from_code(row.i64(2)?).ok_or_else(bad_venue_type_code)?;
        let same = matches!(&self.current, Some(group)
            if group.venue_type == venue_type && group.symbol == symbol && group.tier == tier);
        if !same {
            self.end_group(week)?;
            self.current = Some(SymbolGroup::new(tier, symbol, venue_type));
        }
        if let Some(group) = &mut self.current {
            group.add(venue, row.i64(4)? != 0, row.i64(5)?);
        }
        self.last_venue.clear();
        self.last_venue.push_str(venue);
        Ok(())
    }

    /// Closes the group being summed; a symbol's groups in its first tier
    /// also stand for it across tiers (`ALL`) until it shows up in another.
    fn end_group(&mut self, week: &str) -> Result<()> {
        let Some(group) = self.current.take() else {
            return Ok(());
        };
        let group = group.checked(week)?;
        let bit = Tier::ALL
            .iter()
            .position(|tier| tier.canonical() == group.tier)
            .map_or(0, |index| 1u8 << index);
        let tiers = self.symbol_tiers.entry(group.symbol.clone()).or_default();
        if *tiers & !bit != 0 && *tiers & bit == 0 && tiers.count_ones() == 1 {
            self.multi_tier.push(group.symbol.clone());
        }
        *tiers |= bit;
        if tiers.count_ones() == 1 {
            self.done.push(SymbolGroup {
                tier: "ALL".to_owned(),
                symbol: group.symbol.clone(),
                venue_type: group.venue_type,
                squares: group.squares,
                top: group.top.clone(),
            });
        }
        self.done.push(group);
        Ok(())
    }
}

/// The symbols' volumes of one week across tiers, per venue type, with the
/// tiers each traded in.
struct WeekVolumes {
    /// By [`VenueType::index`]: symbol → (volume, tiers as bits by index of
    /// [`Tier::ALL`]), in symbol order.
    by_type: [BTreeMap<String, (i128, u8)>; 2],
}

impl WeekVolumes {
    fn read(ctx: &mut Context<'_>, week: &str) -> Result<Self> {
        let mut by_type: [BTreeMap<String, (i128, u8)>; 2] = Default::default();
        let mut failure = None;
        ctx.query(
            "SELECT tier, symbol, venue_type, total_volume FROM otc_symbol_summary WHERE week_ending = ?1",
            &[SqlValue::Text(week)],
            |row| {
                let venue_type = match venue_type_named(row.str(2)?) {
                    Ok(venue_type) => venue_type,
                    Err(error) => {
                        failure = Some(error);
                        return Ok(false);
                    }
                };
                let bit = Tier::ALL
                    .iter()
                    .position(|tier| tier.canonical() == row.str(0).unwrap_or_default())
                    .map_or(0, |index| 1u8 << index);
                let entry = by_type[venue_type.index()]
                    .entry(row.str(1)?.to_owned())
                    .or_default();
                entry.0 += i128::from(row.i64(3)?);
                entry.1 |= bit;
                Ok(true)
            },
        )?;
        match failure {
            Some(error) => Err(error),
            None => Ok(WeekVolumes { by_type }),
        }
    }

    /// A symbol's volume of a venue type; 0 when it has no row.
    fn volume(&self, venue_type: VenueType, symbol: &str) -> i128 {
        self.by_type[venue_type.index()]
            .get(symbol)
            .map_or(0, |&(volume, _)| volume)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loaded(markets: &[(VenueType, &str, &[&str])]) -> LoadedWeeks {
        LoadedWeeks {
            by_market: markets
                .iter()
                .map(|&(venue_type, tier, weeks)| {
                    (
                        (venue_type, tier.to_owned()),
                        weeks.iter().map(|w| w.to_string()).collect(),
                    )
                })
                .collect(),
        }
    }

    #[test]
    fn prior_weeks_are_those_of_the_symbols_tiers() {
        use VenueType::Ats;
        let weeks = loaded(&[
            (
                Ats,
                "NMS Tier 1",
                &["01", "02", "03", "04", "05", "06", "07", "08"],
            ),
            // Tier 2 lacks weeks 03 and 07: not zeros for a Tier 2 symbol.
            (Ats, "NMS Tier 2", &["01", "02", "04", "05", "06", "08"]),
        ]);
        assert_eq!(
            weeks.prior(Ats, 0b001, "08"),
            ["02", "03", "04", "05", "06", "07"]
        );
        assert_eq!(weeks.prior(Ats, 0b010, "08"), ["01", "02", "04", "05", "06"]);
        assert_eq!(
            weeks.prior(Ats, 0b011, "08"),
            ["02", "03", "04", "05", "06", "07"]
        );
        assert_eq!(weeks.prior(Ats, 0b010, "02"), ["01"]);
        assert!(weeks.prior(VenueType::NonAts, 0b001, "08").is_empty());
        assert_eq!(weeks.previous(Ats, "NMS Tier 2", "07"), Some("06"));
        assert_eq!(weeks.previous(Ats, "NMS Tier 2", "01"), None);
    }

    #[test]
    fn across_tiers_the_previous_week_holds_the_same_tiers() {
        use VenueType::Ats;
        let weeks = loaded(&[
            (Ats, "NMS Tier 1", &["01", "02", "03", "04", "05"]),
            (Ats, "NMS Tier 2", &["01", "02", "04"]),
            (Ats, "ALL", &["01", "02", "03", "04", "05"]),
        ]);
        assert_eq!(weeks.previous(Ats, "ALL", "04"), Some("02"));
        assert_eq!(weeks.previous(Ats, "ALL", "05"), Some("03"));
        assert_eq!(weeks.previous(Ats, "ALL", "03"), None);
        assert_eq!(weeks.previous(Ats, "NMS Tier 1", "04"), Some("03"));
    }

    #[test]
    fn a_changed_week_brings_the_six_loaded_weeks_after_it_in_every_market() {
        use VenueType::{Ats, NonAts};
        let weeks = loaded(&[
            (
                Ats,
                "NMS Tier 1",
                &["01", "02", "03", "04", "05", "06", "07", "08", "09"],
            ),
            (NonAts, "OTC", &["01", "03", "05", "07", "09", "11", "13", "15"]),
        ]);
        assert_eq!(
            weeks.with_followers(&["02".to_owned()]),
            ["02", "03", "04", "05", "06", "07", "08", "09", "11", "13"]
        );
        assert!(weeks.with_followers(&[]).is_empty());
    }
}
