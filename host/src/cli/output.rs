//! Shared output helpers: tables that read well at 80 columns, JSON, durations.

use comfy_table::{presets, ContentArrangement, Table};
use serde::Serialize;
use std::io::IsTerminal;

/// A table with `headers`, drawn with box characters on a terminal and plain
/// ASCII elsewhere, wrapping to the terminal's width (80 columns off one).
pub fn table(headers: &[&str]) -> Table {
    let mut table = Table::new();
    if std::io::stdout().is_terminal() {
        table.load_preset(presets::UTF8_FULL_CONDENSED);
    } else {
        table
            .load_preset(presets::ASCII_BORDERS_ONLY_CONDENSED)
            .set_width(80);
    }
    table
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(headers.to_vec());
    table
}

/// Prints `value` as pretty JSON on stdout.
pub fn print_json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// `12 ms`, `3.4 s`, `2 min 5 s`.
pub fn duration(ms: i64) -> String {
    match ms {
        ms if ms < 1_000 => format!("{ms} ms"),
        ms if ms < 60_000 => format!("{:.1} s", ms as f64 / 1000.0),
        ms => format!("{} min {} s", ms / 60_000, (ms % 60_000) / 1000),
    }
}

/// A JSON value as a table cell: strings without quotes.
pub fn cell(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn durations_read_naturally() {
        assert_eq!(super::duration(12), "12 ms");
        assert_eq!(super::duration(3_400), "3.4 s");
        assert_eq!(super::duration(125_000), "2 min 5 s");
    }
}
