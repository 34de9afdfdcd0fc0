//! Bulk inserts: many rows per statement, one call across the plugin boundary.
//!
//! A statement of one row executed a thousand times pays SQLite's per-statement
//! work (opening cursors, the AUTOINCREMENT counter, halting) a thousand
//! times; `INSERT … VALUES (…), (…), …` pays it once per statement. Full
//! statements go through one cached multi-row statement, the rest through the
//! one-row statement, so two statements serve every batch size.

use spine_plugin_api::{Context, Result, SqlValue};

/// Rows per multi-row statement. With the widest table's 17 columns
/// (otc_concentration's) that is 4,352 parameters, far below SQLite's limit
/// of 32,766, and more rows per statement gain nothing measurable.
pub(crate) const ROWS_PER_STATEMENT: usize = 256;

/// One INSERT, prepared for any number of rows.
pub(crate) struct BulkInsert {
    columns: usize,
    /// `ROWS_PER_STATEMENT` rows per statement.
    many: String,
    /// One row per statement, for the rest.
    one: String,
}

impl BulkInsert {
    /// `head` is `INSERT INTO table (columns…)`, `tail` what follows the values
    /// (an `ON CONFLICT` clause, or nothing).
    pub(crate) fn new(head: &str, columns: usize, tail: &str) -> Self {
        let row = format!("({})", vec!["?"; columns].join(", "));
        let rows = vec![row.as_str(); ROWS_PER_STATEMENT].join(", ");
        Self {
            columns,
            many: format!("{head} VALUES {rows} {tail}"),
            one: format!("{head} VALUES {row} {tail}"),
        }
    }

    /// Inserts `values`, rows of the statement's columns one after the other;
    /// returns the rows SQLite changed.
    pub(crate) fn insert(&self, ctx: &mut Context<'_>, values: &[SqlValue<'_>]) -> Result<u64> {
        let mut changed = 0;
        let mut statements = values.chunks_exact(self.columns * ROWS_PER_STATEMENT);
        for statement in statements.by_ref() {
            changed += ctx.execute(&self.many, statement)?;
        }
        let rest = statements.remainder();
        if !rest.is_empty() {
            changed += ctx.execute_many(&self.one, self.columns, rest)?;
        }
        Ok(changed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_statements_have_one_placeholder_per_value() {
        let insert = BulkInsert::new("INSERT INTO t (a, b)", 2, "ON CONFLICT DO NOTHING");
        assert_eq!(
            insert.one,
            "INSERT INTO t (a, b) VALUES (?, ?) ON CONFLICT DO NOTHING"
        );
        assert_eq!(insert.many.matches('?').count(), 2 * ROWS_PER_STATEMENT);
        assert!(insert
            .many
            .starts_with("INSERT INTO t (a, b) VALUES (?, ?), (?, ?), "));
    }
}
