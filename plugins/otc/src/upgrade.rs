//! What migration 002 leaves to Rust: record hashes that SQL cannot compute.
//!
//! The first version gave a line without an MPID the hash of an empty venue,
//! and normalize rejected it. Such lines are non-ATS rows, which hash their
//! firm's name after `NON_ATS:`. Migration 002 lists them in
//! `otc_raw_rehash` (and sends those normalize had rejected back to it);
//! the first `otc.ingest` or `otc.normalize` after the upgrade gives them
//! their hash, before anything else, so that a file loaded again finds its
//! lines already stored.

use crate::hash::{HashKey, RecordHasher, Venue};
use crate::run::stop_if_cancelled;
use crate::tier::{name_sql, Tier};
use spine_plugin_api::{Context, Result, SqlValue};

/// Lines rehashed per read.
const CHUNK_ROWS: i64 = 10_000;

/// Gives every line listed in `otc_raw_rehash` its record hash, and empties
/// the list. A line keeps its row and id; only the hash changes. No two
/// lines can meet under one new hash: the old hash already told apart every
/// line but those with the same figures and firms' names alike, and no line
/// has a non-ATS hash before this runs.
pub(crate) fn rehash_legacy_lines(ctx: &mut Context<'_>) -> Result<()> {
    let read = format!(
        "SELECT line.id, week_ending, {}, symbol, venue_name, share_volume, trade_count \
         FROM otc_raw_rehash AS pending JOIN otc_raw_lines AS line ON line.id = pending.raw_id \
         WHERE pending.raw_id > ?1 ORDER BY pending.raw_id LIMIT ?2",
        name_sql("tier")
    );
    let mut hasher = RecordHasher::default();
    let mut position = 0;
    loop {
        stop_if_cancelled(ctx)?;
        let mut rehashed = Vec::new();
        ctx.query(&read, &[position.into(), CHUNK_ROWS.into()], |row| {
            let tier = row.str(2)?;
            let key = HashKey {
                week_ending: row.str(1)?,
                tier: Tier::parse(tier).map_or(tier, |known| known.canonical()),
                symbol: row.str(3)?,
                venue: Venue::NonAts(row.str(4)?),
                share_volume: row.i64(5)?,
                trade_count: row.i64(6)?,
            };
            rehashed.push((row.i64(0)?, hasher.hash(&key)));
            Ok(true)
        })?;
        let Some(&(last, _)) = rehashed.last() else {
            break;
        };
        position = last;
        let values: Vec<SqlValue<'_>> = rehashed
            .iter()
            .flat_map(|(id, hash)| [SqlValue::Blob(hash), SqlValue::Integer(*id)])
            .collect();
        ctx.execute_many(
            "UPDATE otc_raw_lines SET record_hash = ?1 WHERE id = ?2",
            2,
            &values,
        )?;
    }
    ctx.execute("DELETE FROM otc_raw_rehash", &[])?;
    Ok(())
}
