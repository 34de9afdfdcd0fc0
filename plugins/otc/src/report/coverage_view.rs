//! The coverage block of the report: the last `otc.coverage` answer as a
//! grid, one row per (tier, venue type) and one column per week around the
//! report's week, each cell `✓` (loaded, `+N` revisions), `missing`, or the
//! day it is due.

use super::data::{Coverage, CoverageCell};
use super::format::{short_date, type_title};
use serde::Serialize;

/// The block, as the template reads it.
#[derive(Serialize)]
pub(super) struct CoverageView {
    as_of: String,
    first_week: String,
    last_week: String,
    loaded: i64,
    missing: i64,
    not_due: i64,
    weeks: Vec<CoverageWeek>,
    rows: Vec<CoverageRow>,
}

#[derive(Serialize)]
struct CoverageWeek {
    label: String,
    this_week: bool,
}

#[derive(Serialize)]
struct CoverageRow {
    label: String,
    cells: Vec<CoverageCellView>,
}

#[derive(Serialize)]
struct CoverageCellView {
    text: String,
    class: &'static str,
    detail: String,
}

/// The coverage grid: one row per (tier, venue type), one column per week.
pub(super) fn coverage_view(coverage: &Coverage, report_week: &str) -> CoverageView {
    CoverageView {
        as_of: coverage.as_of.clone(),
        first_week: coverage.first_week.clone(),
        last_week: coverage.last_week.clone(),
        loaded: coverage.loaded,
        missing: coverage.missing,
        not_due: coverage.not_due,
        weeks: coverage
            .weeks
            .iter()
            .map(|week| CoverageWeek {
                label: short_date(week),
                this_week: week == report_week,
            })
            .collect(),
        rows: coverage
            .pairs
            .iter()
            .map(|(tier, venue_type)| CoverageRow {
                label: format!("{tier} {}", type_title(venue_type)),
                cells: coverage
                    .weeks
                    .iter()
                    .map(|week| {
                        let key = (week.clone(), tier.clone(), venue_type.clone());
                        coverage_cell(coverage.cells.get(&key))
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// `✓` (and `+1` per revision) for a loaded week, `missing`, `due Jan 05`.
fn coverage_cell(cell: Option<&CoverageCell>) -> CoverageCellView {
    let Some(cell) = cell else {
        return CoverageCellView {
            text: String::new(),
            class: "",
            detail: String::new(),
        };
    };
    match cell.status.as_str() {
        "loaded" => CoverageCellView {
            text: if cell.revisions > 0 {
                format!("✓ +{}", cell.revisions)
            } else {
                "✓".to_owned()
            },
            class: "loaded",
            detail: format!(
                "lastUpdateDate {}, {} revision(s)",
                cell.last_update_date.as_deref().unwrap_or("?"),
                cell.revisions
            ),
        },
        "missing" => CoverageCellView {
            text: "missing".to_owned(),
            class: "missing",
            detail: format!("due {}", cell.due_date),
        },
        _ => CoverageCellView {
            text: format!("due {}", short_date(&cell.due_date)),
            class: "not-due",
            detail: format!("not published before {}", cell.due_date),
        },
    }
}
