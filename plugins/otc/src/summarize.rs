//! `otc.summarize`: per-symbol weekly summaries and per-venue market shares.
//!
//! A week is recomputed whole: its rows in `otc_symbol_summary` and
//! `otc_venue_share` are deleted and written again, so no stale row survives a
//! revision. Sums and distinct counts come from SQL `GROUP BY`; divisions,
//! rounding and ranks are done here, with exact decimals. Without a
//! `week_ending` parameter the weeks are those `otc.normalize` queued in
//! `otc_changed_weeks`.

use crate::run::{stop_if_cancelled, Run};
use crate::{decimal, week};
use chrono::NaiveDate;
use spine_plugin_api::{Context, Error, Level, Metrics, Params, Pipeline, Result, SqlValue};

/// Summary rows per insert.
const BATCH_ROWS: usize = 1000;

const SYMBOL_TOTALS: &str = "SELECT tier, symbol, sum(share_volume), sum(trade_count), count(DISTINCT mpid) \
    FROM otc_venue_volume WHERE week_ending = ?1 GROUP BY tier, symbol";

// The cross-tier share is the tier 'ALL'.
const VENUE_TOTALS: &str = "SELECT tier, mpid, sum(share_volume), sum(trade_count), count(DISTINCT symbol) \
    FROM otc_venue_volume WHERE week_ending = ?1 GROUP BY tier, mpid \
    UNION ALL \
    SELECT 'ALL', mpid, sum(share_volume), sum(trade_count), count(DISTINCT symbol) \
    FROM otc_venue_volume WHERE week_ending = ?1 GROUP BY mpid";

const INSERT_SYMBOL: &str = "INSERT INTO otc_symbol_summary \
    (week_ending, tier, symbol, total_volume, total_trades, venue_count, avg_trade_size, computed_at) \
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";

const INSERT_VENUE: &str = "INSERT INTO otc_venue_share \
    (week_ending, tier, mpid, total_volume, total_trades, symbol_count, market_share_pct, rank, computed_at) \
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";

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
    pub volume: i64,
    pub trades: i64,
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
pub fn rank_venues(venues: &mut [Totals]) -> Result<Vec<Ranked>> {
    venues.sort_by(|a, b| {
        a.tier
            .cmp(&b.tier)
            .then(b.volume.cmp(&a.volume))
            .then(a.name.cmp(&b.name))
    });
    let mut ranked = Vec::with_capacity(venues.len());
    for tier in venues.chunk_by(|a, b| a.tier == b.tier) {
        let total = tier
            .iter()
            .try_fold(0i64, |sum, venue| sum.checked_add(venue.volume))
            .ok_or_else(|| {
                Error::new(
                    "otc.summarize.overflow",
                    format!(
                        "the share volume of tier {} passes 2^63 in one week",
                        tier[0].tier
                    ),
                )
            })?;
        ranked.extend(tier.iter().zip(1..).map(|(venue, rank)| Ranked {
            market_share_pct: decimal::percent(venue.volume, total),
            rank,
        }));
    }
    Ok(ranked)
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
        for (done, week) in weeks.iter().enumerate() {
            stop_if_cancelled(ctx)?;
            let week_param = [SqlValue::Text(week)];
            ctx.execute(
                "DELETE FROM otc_symbol_summary WHERE week_ending = ?1",
                &week_param,
            )?;
            ctx.execute("DELETE FROM otc_venue_share WHERE week_ending = ?1", &week_param)?;
            let written = write_symbol_summary(ctx, &run, week)?;
            if written == 0 {
                ctx.log(Level::Warn, &format!("week {week} has no normalized volume"));
            }
            symbols += written;
            venues += write_venue_share(ctx, &run, week)?;
            ctx.execute(
                "DELETE FROM otc_changed_weeks WHERE week_ending = ?1",
                &week_param,
            )?;
            ctx.progress(done as u64 + 1, weeks.len() as u64, "weeks");
        }
        Ok(Metrics::new()
            .with("weeks", weeks.len())
            .with("symbols", symbols)
            .with("venues", venues))
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

/// Reads one week's groups. A week's groups number in the thousands (one per
/// symbol or venue), so they are held, not streamed.
fn totals(ctx: &mut Context<'_>, sql: &str, week: &str) -> Result<Vec<Totals>> {
    let mut groups = Vec::new();
    ctx.query(sql, &[SqlValue::Text(week)], |row| {
        groups.push(Totals {
            tier: row.str(0)?.to_owned(),
            name: row.str(1)?.to_owned(),
            volume: row.i64(2)?,
            trades: row.i64(3)?,
            count: row.i64(4)?,
        });
        Ok(true)
    })?;
    Ok(groups)
}

fn write_symbol_summary(ctx: &mut Context<'_>, run: &Run, week: &str) -> Result<u64> {
    let symbols = totals(ctx, SYMBOL_TOTALS, week)?;
    let averages: Vec<Option<String>> = symbols
        .iter()
        .map(|symbol| decimal::average(symbol.volume, symbol.trades))
        .collect();
    let rows = symbols.iter().zip(&averages).map(|(symbol, average)| {
        [
            SqlValue::Text(week),
            SqlValue::Text(&symbol.tier),
            SqlValue::Text(&symbol.name),
            SqlValue::Integer(symbol.volume),
            SqlValue::Integer(symbol.trades),
            SqlValue::Integer(symbol.count),
            average.as_deref().into(),
            SqlValue::Text(&run.started_at),
        ]
    });
    insert_rows(ctx, INSERT_SYMBOL, rows)
}

fn write_venue_share(ctx: &mut Context<'_>, run: &Run, week: &str) -> Result<u64> {
    let mut venues = totals(ctx, VENUE_TOTALS, week)?;
    let ranked = rank_venues(&mut venues)?;
    let rows = venues.iter().zip(&ranked).map(|(venue, place)| {
        [
            SqlValue::Text(week),
            SqlValue::Text(&venue.tier),
            SqlValue::Text(&venue.name),
            SqlValue::Integer(venue.volume),
            SqlValue::Integer(venue.trades),
            SqlValue::Integer(venue.count),
            SqlValue::Text(&place.market_share_pct),
            SqlValue::Integer(place.rank),
            SqlValue::Text(&run.started_at),
        ]
    });
    insert_rows(ctx, INSERT_VENUE, rows)
}

/// Inserts `rows` of `N` values through `sql`, [`BATCH_ROWS`] per call.
fn insert_rows<'v, const N: usize>(
    ctx: &mut Context<'_>,
    sql: &str,
    rows: impl Iterator<Item = [SqlValue<'v>; N]>,
) -> Result<u64> {
    let mut written = 0;
    let mut values = Vec::with_capacity(BATCH_ROWS * N);
    for row in rows {
        values.extend(row);
        if values.len() == BATCH_ROWS * N {
            written += ctx.execute_many(sql, N, &values)?;
            values.clear();
        }
    }
    if !values.is_empty() {
        written += ctx.execute_many(sql, N, &values)?;
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn venue(tier: &str, mpid: &str, volume: i64) -> Totals {
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
        let ranked = rank_venues(&mut venues).unwrap();
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
    fn a_week_whose_volume_passes_63_bits_is_an_error_not_a_wrong_share() {
        let mut venues = vec![venue("OTC", "A", i64::MAX), venue("OTC", "B", 1)];
        assert_eq!(
            rank_venues(&mut venues).unwrap_err().code,
            "otc.summarize.overflow"
        );
    }
}
