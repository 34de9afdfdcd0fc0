//! Shared output: tables that read well at 80 columns, JSON, durations, and
//! the listings and run reports that more than one command prints.

use crate::executions::Execution;
use crate::registry::Registry;
use comfy_table::{ContentArrangement, Table};
use serde::Serialize;
use std::io::IsTerminal;

/// comfy-table presets (19 positions; see `comfy_table::presets`) that draw
/// only the rule under the header: no borders, no lines between columns.
const HEADER_RULE_ONLY_ASCII: &str = "     --            ";
const HEADER_RULE_ONLY_UTF8: &str = "     ──            ";

/// A table with `headers`: a rule under the header and no vertical lines (so
/// columns get the room), box characters on a terminal and ASCII elsewhere.
/// On a terminal long cells wrap to its width; piped output is never wrapped,
/// so every row stays one line for grep.
pub(super) fn table(headers: &[&str]) -> Table {
    let mut table = Table::new();
    if std::io::stdout().is_terminal() {
        table.load_preset(HEADER_RULE_ONLY_UTF8);
    } else {
        table.load_preset(HEADER_RULE_ONLY_ASCII);
    }
    table
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(headers.to_vec());
    for column in table.column_iter_mut() {
        column.set_padding((0, 1));
    }
    table
}

/// A table as text, without the trailing spaces that column padding leaves.
pub(super) fn render(table: &Table) -> String {
    table
        .lines()
        .map(|line| line.trim_end().to_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

/// `text` in red for stderr when it is a terminal, plain otherwise.
pub(super) fn red_on_stderr(text: &str) -> String {
    if colours(std::io::stderr().is_terminal()) {
        format!("\x1b[31m{text}\x1b[0m")
    } else {
        text.to_owned()
    }
}

/// Whether a stream that is (or is not) a terminal gets colours: only a
/// terminal, and only while `NO_COLOR` is unset (<https://no-color.org>).
fn colours(terminal: bool) -> bool {
    terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// A status word as a table cell, coloured by outcome on a terminal (the
/// table measures the word, not the colour codes).
pub(super) fn status_cell(status: crate::executions::Status) -> comfy_table::Cell {
    use crate::executions::Status;
    let colour = match status {
        Status::Completed => comfy_table::Color::Green,
        Status::Failed => comfy_table::Color::Red,
        Status::Pending | Status::Running | Status::Cancelled => comfy_table::Color::Yellow,
    };
    let cell = comfy_table::Cell::new(status.as_str());
    if colours(std::io::stdout().is_terminal()) {
        cell.fg(colour)
    } else {
        cell
    }
}

/// The width tables are fitted to: `COLUMNS` when set, else the terminal's;
/// `None` when stdout is not a terminal (piped output is never cut).
pub(super) fn terminal_width() -> Option<usize> {
    if !std::io::stdout().is_terminal() {
        return None;
    }
    let columns = std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok());
    columns.or_else(|| Some(usize::from(comfy_table::Table::new().width()?)))
}

/// Prints `value` as pretty JSON on stdout.
pub(super) fn print_json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    outln!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// `12 ms`, `3.4 s`, `2 min 5 s`.
pub(super) fn duration(ms: i64) -> String {
    match ms {
        ms if ms < 1_000 => format!("{ms} ms"),
        ms if ms < 60_000 => format!("{:.1} s", ms as f64 / 1000.0),
        ms => format!("{} min {} s", ms / 60_000, (ms % 60_000) / 1000),
    }
}

/// Prints one pipeline's spec: description and parameters.
pub(super) fn print_pipeline(spec: &crate::load::PipelineSpec, indent: &str) {
    outln!("{indent}{}  {}", spec.name, spec.description);
    if spec.params.is_empty() {
        outln!("{indent}  (no parameters)");
    }
    for p in &spec.params {
        let mut facts = vec![p.kind.clone()];
        if p.required {
            facts.push("required".to_owned());
        }
        if let Some(default) = &p.default {
            facts.push(format!("default {default}"));
        }
        let help = if p.help.is_empty() {
            String::new()
        } else {
            format!("  {}", p.help)
        };
        outln!("{indent}  -p {}=…  ({}){help}", p.name, facts.join(", "));
    }
}

/// A JSON value as a table cell: strings without quotes, control characters
/// escaped (see [`crate::text::escape_controls`]).
pub(super) fn cell(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(text) => crate::text::escape_controls(text).into_owned(),
        other => other.to_string(),
    }
}

/// One pipeline as `list` shows it.
#[derive(serde::Serialize)]
pub(super) struct PipelineListing<'a> {
    name: &'a str,
    description: &'a str,
    params: Vec<ParamListing<'a>>,
    domain: &'a str,
    plugin_version: &'a str,
    plugin_file: String,
}

/// One parameter as `list` shows it.
#[derive(serde::Serialize)]
struct ParamListing<'a> {
    name: &'a str,
    kind: &'a str,
    required: bool,
    default: Option<&'a str>,
    help: &'a str,
}

impl<'a> From<&'a crate::load::ParamSpec> for ParamListing<'a> {
    fn from(param: &'a crate::load::ParamSpec) -> Self {
        Self {
            name: &param.name,
            kind: &param.kind,
            required: param.required,
            default: param.default.as_deref(),
            help: &param.help,
        }
    }
}

/// Every pipeline of every loaded plugin, by name.
pub(super) fn pipeline_listings(registry: &Registry) -> Vec<PipelineListing<'_>> {
    let mut listings: Vec<PipelineListing<'_>> = registry
        .plugins
        .iter()
        .flat_map(|plugin| {
            plugin.pipelines.iter().map(move |spec| PipelineListing {
                name: &spec.name,
                description: &spec.description,
                params: spec.params.iter().map(ParamListing::from).collect(),
                domain: &plugin.domain,
                plugin_version: &plugin.version,
                plugin_file: plugin.path.display().to_string(),
            })
        })
        .collect();
    listings.sort_by(|a, b| a.name.cmp(b.name));
    listings
}

/// The pipelines as a table: name, description, parameters.
pub(super) fn print_pipelines(registry: &Registry) {
    let listings = pipeline_listings(registry);
    if listings.is_empty() {
        outln!("no pipelines: no plugin is loaded (see `spine-host plugins`)");
        return;
    }
    let mut table = table(&["pipeline", "description", "parameters"]);
    for listing in &listings {
        let params: Vec<String> = listing
            .params
            .iter()
            .map(|p| {
                let default = p.default.map(|d| format!("={d}")).unwrap_or_default();
                let required = if p.required { " (required)" } else { "" };
                format!("{}{default}{required}", p.name)
            })
            .collect();
        table.add_row(vec![
            listing.name.to_owned(),
            listing.description.to_owned(),
            params.join(", "),
        ]);
    }
    outln!("{}", render(&table));
}

/// A finished run: what ran, how it ended, its metrics, and its error on stderr.
pub(super) fn print_run(execution: &Execution) {
    let took = execution.duration_ms.map(duration).unwrap_or_default();
    outln!(
        "{} {} in {took} (execution {})",
        execution.pipeline,
        execution.status.as_str(),
        execution.id
    );
    if let Some(serde_json::Value::Object(metrics)) = &execution.metrics {
        let width = metrics.keys().map(String::len).max().unwrap_or(0);
        for (key, value) in metrics {
            outln!("  {key:<width$}  {}", cell(value));
        }
    }
    if let Some(error) = &execution.error {
        errln!("{} {error}", red_on_stderr("error:"));
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
