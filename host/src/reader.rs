//! Reading the database without changing it: a connection opened read-only,
//! on which every statement must be read-only (checked before it runs), with
//! rows streamed as they come. `query`, `shell`, the read-only listings and
//! the test harness read through it; nothing else opens the database for
//! reading.

use crate::db::{require_database, BUSY_TIMEOUT};
use crate::error::usage;
use anyhow::{Context as _, Result};
use rusqlite::{Connection, OpenFlags};
use std::path::Path;

/// One value of a row, borrowed from SQLite while the row is read.
pub(crate) use rusqlite::types::ValueRef;

/// Every table and view of the database, by name (the shell's `.tables`).
pub(crate) const TABLES: &str = "SELECT name, type FROM main.sqlite_schema WHERE type IN ('table', 'view') \
                          AND name NOT LIKE 'sqlite_%' ORDER BY name";

/// A read-only connection to the database.
pub(crate) struct Reader {
    pub(crate) conn: Connection,
}

impl Reader {
    /// Opens the database at `path` read-only; it must exist.
    pub(crate) fn open(path: &Path) -> Result<Self> {
        require_database(path)?;
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .with_context(|| format!("opening database {} read-only", path.display()))?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        Ok(Self { conn })
    }

    /// Like [`Reader::open`], or `None` when there is no database at `path`
    /// yet.
    pub(crate) fn open_if_exists(path: &Path) -> Result<Option<Self>> {
        if !path.exists() {
            return Ok(None);
        }
        Self::open(path).map(Some)
    }

    /// Runs one read-only statement: `columns` gets the column names and
    /// makes what receives the rows, then `row` gets each row's values as
    /// they come. A statement that would write is refused before it runs.
    pub(crate) fn query<W>(
        &self,
        sql: &str,
        columns: impl FnOnce(&[String]) -> Result<W>,
        mut row: impl FnMut(&mut W, &[ValueRef<'_>]) -> Result<()>,
    ) -> Result<W> {
        let mut stmt = self
            .conn
            .prepare(sql)
            .map_err(|e| usage(format!("query failed: {e}")))?;
        if !stmt.readonly() {
            return Err(usage(format!(
                "query is read-only, and `{}` would change the database; change data with a pipeline",
                sql.trim()
            )));
        }
        let names: Vec<String> = stmt.column_names().map(str::to_owned).collect();
        let mut rows = stmt.query([]).map_err(|e| usage(format!("query failed: {e}")))?;
        let mut receiver = columns(&names)?;
        while let Some(next) = rows.next().map_err(|e| usage(format!("query failed: {e}")))? {
            let values: Vec<ValueRef<'_>> = (0..names.len())
                .map(|i| next.get_ref(i))
                .collect::<rusqlite::Result<_>>()?;
            row(&mut receiver, &values)?;
        }
        Ok(receiver)
    }

    /// The `CREATE` statements of `table` and its indexes and triggers, or
    /// of every object when `table` is `None` (the shell's `.schema`).
    pub(crate) fn schema(&self, table: Option<&str>) -> Result<Vec<String>> {
        let mut stmt = self.conn.prepare(
            "SELECT sql FROM main.sqlite_schema WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'
             AND (?1 IS NULL OR tbl_name = ?1) ORDER BY tbl_name, type DESC, name",
        )?;
        let statements = stmt
            .query_map([table], |row| row.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(statements)
    }
}
