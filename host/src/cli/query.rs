//! `spine-host query`: read-only SQL, streamed to a table, CSV or JSON.
//!
//! The statement runs through a [`Reader`], which refuses any statement that
//! would write, so a query can never change the database. Rows are written
//! as they come: CSV and JSON never hold the result, and tables are printed
//! in blocks of [`TABLE_BLOCK_ROWS`].

use super::output::table;
use crate::reader::{Reader, ValueRef};
use anyhow::Result;
use std::io::Write;

/// Output formats of `query`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    Table,
    Csv,
    Json,
}

/// Rows per printed table block, so a large result never sits in memory.
const TABLE_BLOCK_ROWS: usize = 1000;

/// Runs one read-only statement and writes its rows to `out`.
pub(crate) fn run(reader: &Reader, sql: &str, format: Format, out: &mut dyn Write) -> Result<()> {
    reader
        .query(
            sql,
            |names| RowWriter::new(format, names, out),
            |writer, values| writer.row(values),
        )?
        .finish()
}

/// Writes rows in one format as they arrive.
struct RowWriter<'o> {
    names: Vec<String>,
    /// The names as JSON object keys: in the query's order, a repeated name
    /// suffixed with its occurrence (`id`, `id:1`, `id:2`), already quoted.
    json_keys: Vec<String>,
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
            json_keys: json_keys(names),
            sink,
            rows: 0,
        })
    }

    fn row(&mut self, values: &[ValueRef<'_>]) -> Result<()> {
        self.rows += 1;
        match &mut self.sink {
            Sink::Table { out, block } => {
                let cells = values
                    .iter()
                    .map(|v| crate::text::escape_controls(&text(*v)).into_owned());
                block.push(cells.collect());
                if block.len() == TABLE_BLOCK_ROWS {
                    print_block(out, &self.names, block)?;
                }
            }
            Sink::Csv(csv) => csv.write_record(values.iter().map(|v| text(*v)))?,
            Sink::Json(out) => {
                // Written field by field: a JSON map would sort the keys and
                // keep one of two columns with the same name.
                let separator = if self.rows == 1 { "\n  " } else { ",\n  " };
                write!(out, "{separator}{{")?;
                for (i, (key, value)) in self.json_keys.iter().zip(values).enumerate() {
                    let comma = if i == 0 { "" } else { "," };
                    write!(out, "{comma}{key}:{}", json(*value))?;
                }
                write!(out, "}}")?;
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

/// JSON keys for column `names`: see [`RowWriter::json_keys`]. A suffix
/// never makes a key that another column already has.
fn json_keys(names: &[String]) -> Vec<String> {
    let mut used: std::collections::HashSet<String> = std::collections::HashSet::new();
    let keys: Vec<String> = names
        .iter()
        .map(|name| {
            let mut key = name.clone();
            let mut occurrence = 0;
            while used.contains(&key) || (occurrence > 0 && names.contains(&key)) {
                occurrence += 1;
                key = format!("{name}:{occurrence}");
            }
            used.insert(key.clone());
            key
        })
        .collect();
    keys.into_iter()
        .map(|key| serde_json::Value::from(key).to_string())
        .collect()
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

#[cfg(test)]
mod tests {
    #[test]
    fn repeated_column_names_get_the_next_free_suffix() {
        let names = ["id", "x", "id", "id:1", "id"].map(String::from);
        assert_eq!(
            super::json_keys(&names),
            ["\"id\"", "\"x\"", "\"id:2\"", "\"id:1\"", "\"id:3\""]
        );
    }
}
