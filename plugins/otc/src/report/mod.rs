//! `otc.report`: one self-contained HTML file for a week: the venue league
//! tables with their change since the previous loaded week and the week's
//! concentration, the top symbols with their ATS and non-ATS volume, charts
//! as inline SVG, the last coverage answer around the week, where the figures
//! came from, and FINRA's attribution. The file opens offline: no script,
//! font or stylesheet comes from anywhere.
//!
//! [`data`] reads the week, [`charts`] draws, [`page`] lays it out (with
//! [`format`]'s numbers and [`coverage_view`]'s grid), and the
//! file is written under a temporary name in its folder, then renamed over
//! `out`: a run that is killed, or fails, never leaves half a report, and a
//! reader of an older report at that name sees it whole until the new one
//! replaces it. The report only reads the database.

mod charts;
mod coverage_view;
mod data;
mod format;
mod page;

use crate::run::{self, Figures};
use spine_plugin_api::{Context, Error, Metrics, Param, ParamKind, Params, Pipeline, PipelineDef, Result};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// `otc.report`'s declaration.
pub(crate) fn definition() -> PipelineDef {
    PipelineDef::new(
        "otc.report",
        "Write one week's report as a self-contained HTML file: venue shares, top symbols, charts, provenance",
    )
    .param(Param::new("week_ending", ParamKind::Date).help(
        "the week to report (a Friday); without it, the latest week that holds every tier and venue type \
         loaded",
    ))
    // A string, not a path: the host looks a relative path up in the data
    // folder when it does not exist here, and a report is written here.
    .param(Param::new("out", ParamKind::String).help(
        "the file to write, ending in .html; default reports/otc-<week>.html, relative to the working \
         folder (folders are created)",
    ))
}

/// The `otc.report` pipeline.
pub(crate) struct Report {
    week_ending: Option<String>,
    out: Option<PathBuf>,
}

impl Report {
    /// Checks the week (a Friday) and `out` (an `.html` file name) before the run.
    pub(crate) fn from_params(params: &Params) -> Result<Self> {
        let week_ending = crate::week::week_ending_param(params)?.map(|week| week.to_string());
        let out = params.opt_str("out")?.map(checked_out).transpose()?;
        Ok(Report { week_ending, out })
    }
}

/// `out` must name an HTML file: a report never replaces anything else
/// (the database, a data file) by a slip of the keyboard.
fn checked_out(text: &str) -> Result<PathBuf> {
    let path = PathBuf::from(text);
    let html = path
        .extension()
        .and_then(|extension| extension.to_str())
        .is_some_and(|extension| {
            extension.eq_ignore_ascii_case("html") || extension.eq_ignore_ascii_case("htm")
        });
    if !html || path.file_stem().is_none() {
        return Err(Error::new(
            "otc.params.out",
            format!("out: expected a file name ending in .html, found {text:?}"),
        )
        .with_help("for example -p out=reports/week.html"));
    }
    if path.is_dir() {
        return Err(Error::new(
            "otc.params.out",
            format!("out: {text} is a folder; expected a file name ending in .html"),
        ));
    }
    Ok(path)
}

impl Pipeline for Report {
    fn run(&mut self, ctx: &mut Context<'_>) -> Result<Metrics> {
        let week = data::choose_week(ctx, self.week_ending.as_deref())?;
        if !week.missing.is_empty() {
            ctx.warn(format!(
                "week {} is not complete: it lacks {}",
                week.week_ending,
                data::pair_list(&week.missing)
            ));
        }
        if week.stale {
            ctx.warn(format!(
                "week {} changed after it was last summarized: run otc.summarize and report again",
                week.week_ending
            ));
        }
        let leagues = data::leagues(ctx, &week.week_ending)?;
        let (symbols, symbol_count) = data::top_symbols(ctx, &week.week_ending)?;
        let history = data::history(ctx, &week)?;
        let provenance = data::provenance(ctx, &week.week_ending)?;
        let charted_from = history
            .first()
            .map_or_else(|| week.week_ending.clone(), |first| first.week_ending.clone());
        let awaiting_analytics = data::awaiting_analytics(ctx, &charted_from, &week.week_ending)?;
        if !awaiting_analytics.is_empty() {
            ctx.warn(format!(
                "otc.analytics has not run since weeks {} were summarized: their concentration is \
                 missing or out of date",
                awaiting_analytics.join(", ")
            ));
        }
        let coverage = data::coverage(ctx, &charted_from, &week.week_ending)?;
        let execution_id = ctx.execution_id()?;
        let today = run::today(ctx)?.to_string();
        let html = page::render(&page::Inputs {
            week: &week,
            leagues: &leagues,
            symbols: &symbols,
            symbol_count,
            history: &history,
            provenance: &provenance,
            awaiting_analytics: &awaiting_analytics,
            coverage: coverage.as_ref(),
            execution_id: &execution_id,
            today: &today,
        })?;
        let out = self
            .out
            .clone()
            .unwrap_or_else(|| Path::new("reports").join(format!("otc-{}.html", week.week_ending)));
        write_atomically(&out, html.as_bytes())?;
        ctx.info(format_args!("wrote {}", out.display()));
        let mut figures = Figures::new();
        figures.insert("week_ending".into(), week.week_ending.clone().into());
        figures.insert("complete".into(), week.missing.is_empty().into());
        figures.insert("out".into(), out.display().to_string().into());
        figures.insert("bytes".into(), html.len().into());
        figures.insert(
            "venues".into(),
            leagues.iter().map(|l| l.venues.len()).sum::<usize>().into(),
        );
        figures.insert("symbols".into(), symbol_count.into());
        figures.insert("weeks_charted".into(), history.len().into());
        Ok(run::metrics(figures))
    }
}

/// Writes `bytes` to `path` whole or not at all: into a new temporary file
/// in the same folder (so the rename cannot cross file systems), synced,
/// then renamed over `path`, and the folder synced so the name lasts.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let fail = |what: &str, error: std::io::Error| {
        Error::new(
            "otc.report.out",
            format!("cannot write the report to {}: {what}: {error}", path.display()),
        )
        .with_help("pass -p out=FILE.html in a folder you can write to")
    };
    let folder = match path.parent() {
        Some(folder) if !folder.as_os_str().is_empty() => folder.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&folder).map_err(|e| fail("creating its folder", e))?;
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy())
        .unwrap_or_default();
    let mut temporary = TemporaryFile {
        path: folder.join(format!(".{name}.part-{}", std::process::id())),
        placed: false,
    };
    // A leftover of a killed run with this process id is ours to replace.
    let _ = std::fs::remove_file(&temporary.path);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&temporary.path)
        .map_err(|e| fail("creating a temporary file", e))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| fail("writing", e))?;
    drop(file);
    std::fs::rename(&temporary.path, path).map_err(|e| fail("renaming the temporary file", e))?;
    temporary.placed = true;
    File::open(&folder)
        .and_then(|folder| folder.sync_all())
        .map_err(|e| fail("syncing its folder", e))
}

/// A temporary file, removed unless it was renamed into place.
struct TemporaryFile {
    path: PathBuf,
    placed: bool,
}

impl Drop for TemporaryFile {
    fn drop(&mut self) {
        if !self.placed {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_must_name_an_html_file() {
        assert!(checked_out("reports/week.html").is_ok());
        assert!(checked_out("WEEK.HTM").is_ok());
        for bad in ["spine.db", "report", "reports/", ".html", "spine.db-wal"] {
            let error = checked_out(bad).unwrap_err();
            assert_eq!(error.code, "otc.params.out", "{bad}");
        }
    }

    #[test]
    fn a_report_replaces_the_old_file_whole_and_leaves_no_temporary_file() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("new/deeper/week.html");
        write_atomically(&path, b"first").unwrap();
        write_atomically(&path, b"second").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(names, ["week.html"]);
    }
}
