//! `spine-host query`: read-only SQL, streamed to a table, CSV or JSON.
//!
//! The connection is opened read-only and every statement must be read-only
//! (checked before it runs), so a query can never change the database. Rows
//! are written as they come: CSV and JSON never hold the result, and tables
//! are printed in blocks of [`TABLE_BLOCK_ROWS`].

use super::output::table;
use crate::error::usage;
use anyhow::{Context as _, Result};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use std::io::Write;
use std::path::Path;

/// Output formats of `query`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Csv,
    Json,
}

/// Rows per printed table block, so a large result never sits in memory.
const TABLE_BLOCK_ROWS: usize = 1000;

/// Opens `path` read-only; the database must exist.
pub fn open_read_only(path: &Path) -> Result<Connection> {
    crate::db::refuse_a_folder(path)?;
    if !path.exists() {
        return Err(usage(format!(
            "database {} does not exist (create it with `spine-host db init`)",
            path.display()
        )));
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_context(|| format!("opening database {} read-only", path.display()))?;
    conn.busy_timeout(crate::db::BUSY_TIMEOUT)?;
    Ok(conn)
}

/// Runs one read-only statement and writes its rows to `out`.
pub fn run(conn: &Connection, sql: &str, format: Format, out: &mut dyn Write) -> Result<()> {
    let mut stmt = conn
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
    let mut writer = RowWriter::new(format, &names, out)?;
    while let Some(row) = rows.next().map_err(|e| usage(format!("query failed: {e}")))? {
        let values: Vec<ValueRef<'_>> = (0..names.len())
            .map(|i| row.get_ref(i))
            .collect::<rusqlite::Result<_>>()?;
        writer.row(&values)?;
    }
    writer.finish()
}

/// Writes rows in one format as they arrive.
struct RowWriter<'o> {
    names: Vec<String>,
    sink: Sink<'o>,
    rows: usize,
}

enum Sink<'o> {
    Table {
        out: &'o mut dyn Write,
        block: Vec<Vec<String>>,
    },
    Csv(Box<csv::Writer<&'o mut dyn Write>>),
    Json(&'o mut dyn Write),
}

impl<'o> RowWriter<'o> {
    fn new(format: Format, names: &[String], out: &'o mut dyn Write) -> Result<Self> {
        let sink = match format {
            Format::Table => Sink::Table {
                out,
                block: Vec::new(),
            },
            Format::Csv => {
                let mut csv = csv::Writer::from_writer(out);
                csv.write_record(names)?;
                Sink::Csv(Box::new(csv))
            }
            Format::Json => {
                write!(out, "[")?;
                Sink::Json(out)
            }
        };
        Ok(Self {
            names: names.to_vec(),
            sink,
            rows: 0,
        })
    }

    fn row(&mut self, values: &[ValueRef<'_>]) -> Result<()> {
        self.rows += 1;
        match &mut self.sink {
            Sink::Table { out, block } => {
                block.push(values.iter().map(|v| text(*v)).collect());
                if block.len() == TABLE_BLOCK_ROWS {
                    print_block(out, &self.names, block)?;
                }
            }
            Sink::Csv(csv) => csv.write_record(values.iter().map(|v| text(*v)))?,
            Sink::Json(out) => {
                let object: serde_json::Map<String, serde_json::Value> = self
                    .names
                    .iter()
                    .cloned()
                    .zip(values.iter().map(|v| json(*v)))
                    .collect();
                let separator = if self.rows == 1 { "\n  " } else { ",\n  " };
                write!(out, "{separator}{}", serde_json::Value::Object(object))?;
            }
        }
        Ok(())
    }

    fn finish(self) -> Result<()> {
        match self.sink {
            Sink::Table { out, mut block } => {
                if !block.is_empty() || self.rows == 0 {
                    print_block(out, &self.names, &mut block)?;
                }
                writeln!(
                    out,
                    "({} row{})",
                    self.rows,
                    if self.rows == 1 { "" } else { "s" }
                )?;
            }
            Sink::Csv(mut csv) => csv.flush()?,
            Sink::Json(out) => writeln!(out, "{}]", if self.rows == 0 { "" } else { "\n" })?,
        }
        Ok(())
    }
}

fn print_block(out: &mut dyn Write, names: &[String], block: &mut Vec<Vec<String>>) -> Result<()> {
    let headers: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut table = table(&headers);
    for row in block.drain(..) {
        table.add_row(row);
    }
    writeln!(out, "{}", super::output::render(&table))?;
    Ok(())
}

/// A value as a table or CSV cell; NULL is empty.
fn text(value: ValueRef<'_>) -> String {
    match value {
        ValueRef::Null => String::new(),
        ValueRef::Integer(v) => v.to_string(),
        ValueRef::Real(v) => v.to_string(),
        ValueRef::Text(v) => String::from_utf8_lossy(v).into_owned(),
        ValueRef::Blob(v) => format!("<{} bytes>", v.len()),
    }
}

/// A value as JSON; blobs become lowercase hex.
fn json(value: ValueRef<'_>) -> serde_json::Value {
    match value {
        ValueRef::Null => serde_json::Value::Null,
        ValueRef::Integer(v) => v.into(),
        ValueRef::Real(v) => v.into(),
        ValueRef::Text(v) => String::from_utf8_lossy(v).into(),
        ValueRef::Blob(v) => v.iter().map(|b| format!("{b:02x}")).collect::<String>().into(),
    }
}
