//! Reading a week of `otc_venue_figures` a chunk at a time, in key order
//! (tier, symbol, venue type, venue), each chunk starting after the last key
//! of the one before: what `otc.summarize` and `otc.analytics` both do, so
//! that memory follows the chunk, not the size of the week.

use spine_plugin_api::{Context, Result, Row, SqlValue};

/// Rows read per query.
pub(crate) const CHUNK_ROWS: i64 = 100_000;

/// The key of the last row read: (tier, symbol, venue type code, venue);
/// all empty (the default) before the first row.
pub(crate) type FigureKey = (String, String, i64, String);

/// Runs `sql` (parameters: week, the four parts of `after`, the chunk size)
/// and gives each row to `on_row`; its first error stops the chunk and is
/// returned. Returns whether this was the week's last chunk (fewer rows than
/// a chunk).
pub(crate) fn read_chunk(
    ctx: &mut Context<'_>,
    sql: &str,
    week: &str,
    after: &FigureKey,
    mut on_row: impl FnMut(&Row<'_>) -> Result<()>,
) -> Result<bool> {
    let (tier, symbol, venue_type, venue) = after;
    let (mut read, mut failure) = (0, None);
    ctx.query(
        sql,
        &[
            SqlValue::Text(week),
            SqlValue::Text(tier),
            SqlValue::Text(symbol),
            SqlValue::Integer(*venue_type),
            SqlValue::Text(venue),
            SqlValue::Integer(CHUNK_ROWS),
        ],
        |row| {
            read += 1;
            match on_row(row) {
                Ok(()) => Ok(true),
                Err(error) => {
                    failure = Some(error);
                    Ok(false)
                }
            }
        },
    )?;
    match failure {
        Some(error) => Err(error),
        None => Ok(read < CHUNK_ROWS),
    }
}
