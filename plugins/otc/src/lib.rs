//! The OTC domain: FINRA's OTC weekly transparency data, as a Market Spine plugin.
//!
//! FINRA publishes, per tier (NMS Tier 1, NMS Tier 2, OTC), each venue's
//! weekly share volume and trade count in every security. This crate owns
//! reading those files and the `otc_` tables, through these pipelines:
//! - `otc.ingest` streams files into `otc_raw` (bad lines into `otc_rejects`),
//! - `otc.normalize` checks new raw rows into `otc_venue_volume`, applying
//!   revisions,
//! - `otc.summarize` recomputes changed weeks' `otc_symbol_summary`,
//!   `otc_venue_share` and `otc_symbol_offexchange`,
//! - `otc.load` runs the three in one go (and `otc.analytics` when asked),
//! - `otc.fetch` downloads weeks from FINRA's API into an archive of files,
//!   then ingests them,
//! - `otc.analytics` computes concentration and movers of changed weeks,
//! - `otc.coverage` tells which weeks are loaded, missing or not due yet,
//! - `otc.report` writes one week's report as a self-contained HTML file.
//!
//! It never links SQLite: the database is reached only through the host's
//! [`Context`](spine_plugin_api::Context).

pub mod analytics;
mod bulk;
pub mod concentration;
mod contents;
mod coverage;
pub mod decimal;
mod fetch;
mod fetch_api;
mod fetch_archive;
mod fetch_plan;
pub mod hash;
pub mod ingest;
mod load;
pub mod movers;
pub mod normalize;
pub mod parse;
mod rejects;
mod report;
mod run;
mod sources;
pub mod summarize;
pub mod tier;
mod upgrade;
pub mod week;
mod week_chunks;

use spine_plugin_api::{export_plugin, Param, ParamKind, PipelineDef, Plugin};

/// Describes the plugin. The host calls this once, when it loads the library.
pub fn plugin() -> Plugin {
    Plugin::new(
        "otc",
        env!("CARGO_PKG_VERSION"),
        "FINRA OTC weekly transparency data: ingest, normalize, summarize",
    )
    // Released migrations never change: the host refuses checksum drift.
    // Where a released file's comments came to be wrong, the correction is in
    // migrations/README.md.
    .migration(1, "otc_tables", include_str!("../migrations/001_otc_tables.sql"))
    .migration(
        2,
        "otc_publications",
        include_str!("../migrations/002_otc_publications.sql"),
    )
    .migration(
        3,
        "otc_analytics",
        include_str!("../migrations/003_otc_analytics.sql"),
    )
    .migration(4, "otc_speed", include_str!("../migrations/004_otc_speed.sql"))
    .pipeline(
        with_file_params(PipelineDef::new(
            "otc.ingest",
            "Load FINRA weekly files into otc_raw; bad lines go to otc_rejects",
        )),
        ingest::Ingest::from_params,
    )
    .pipeline(
        PipelineDef::new(
            "otc.normalize",
            "Check new raw rows into otc_venue_volume, applying revisions",
        ),
        |_| Ok(normalize::Normalize),
    )
    .pipeline(
        PipelineDef::new(
            "otc.summarize",
            "Recompute symbol summaries and venue market shares of changed weeks",
        )
        .param(
            Param::new("week_ending", ParamKind::Date).help(
                "recompute this week (a Friday) only; without it, every week changed since the last run",
            ),
        ),
        summarize::Summarize::from_params,
    )
    .pipeline(
        with_file_params(PipelineDef::new(
            "otc.load",
            "Ingest, normalize and summarize in one run: files in, summaries out",
        ))
        .param(Param::new("analytics", ParamKind::Boolean).default("false").help(
            "also run otc.analytics in the same transaction (a load about 40% longer), so the analytics \
             tables are current after the load",
        )),
        load::Load::from_params,
    )
    .pipeline(report::definition(), report::Report::from_params)
    .pipeline(fetch_def(), fetch::Fetch::from_params)
    .pipeline(analytics_def(), analytics::Analytics::from_params)
    .pipeline(coverage_def(), coverage::Coverage::from_params)
}

/// `otc.analytics`' parameters.
fn analytics_def() -> PipelineDef {
    PipelineDef::new(
        "otc.analytics",
        "Concentration (HHI, top venues), venue movers and symbol movers of the weeks that changed",
    )
    .param(Param::new("week_ending", ParamKind::Date).help(
        "recompute this week (a Friday) only, leaving the queue of changed weeks as it is; without it, every \
         week summarized since the last run and the six loaded weeks after each",
    ))
    .param(
        Param::new("min_volume", ParamKind::Integer)
            .default(analytics::DEFAULT_MIN_VOLUME.to_string())
            .help("symbol movers: a symbol whose volume and 6-week median are both below this many shares is below_floor, not scored"),
    )
}

/// `otc.coverage`'s parameters.
fn coverage_def() -> PipelineDef {
    PipelineDef::new(
        "otc.coverage",
        "Which weeks are loaded, missing or not yet published, per tier and venue type, into otc_coverage",
    )
    .param(Param::new("from", ParamKind::Date).help("first week (a Friday); default: the first week loaded"))
    .param(Param::new("to", ParamKind::Date).help("last week (a Friday); default: the last Friday on or before as_of"))
    .param(Param::new("as_of", ParamKind::Date).help(
        "the date FINRA's schedule is judged on (default: today); Tier 1 is due 2 weeks after the week, the others 4",
    ))
    .param(Param::new("tiers", ParamKind::String).help(
        "tiers expected, comma-separated (T1, T2, OTCE or NMS Tier 1, ...); default: those loaded",
    ))
    .param(Param::new("types", ParamKind::String).help(
        "venue types expected, comma-separated: ATS, NON_ATS; default: those loaded",
    ))
    .param(
        Param::new("strict", ParamKind::Boolean)
            .default("false")
            .help("fail (exit 1), naming them, when a due week is missing or nothing is loaded"),
    )
}

/// `otc.fetch`'s parameters.
fn fetch_def() -> PipelineDef {
    PipelineDef::new(
        "otc.fetch",
        "Download weeks from FINRA's OTC Transparency API into data/finra/archive, then ingest them",
    )
    .param(Param::new("week_ending", ParamKind::Date).help(
        "the week to fetch (a Friday); without week_ending, from/to or weeks, the latest week due for          every tier asked for",
    ))
    .param(Param::new("from", ParamKind::Date).help("first week of a range (a Friday; with to)"))
    .param(Param::new("to", ParamKind::Date).help("last week of a range, inclusive (a Friday; with from)"))
    .param(Param::new("weeks", ParamKind::Integer).help("the last N weeks due for every tier asked for"))
    .param(
        Param::new("tiers", ParamKind::String)
            .default("T1,T2,OTCE")
            .help("tiers to fetch, comma-separated: T1 (NMS Tier 1), T2 (NMS Tier 2), OTCE (OTC)"),
    )
    .param(
        Param::new("types", ParamKind::String)
            .default("ATS,NON_ATS")
            .help("venue types to fetch, comma-separated: ATS, NON_ATS"),
    )
    .param(
        Param::new("base_url", ParamKind::String)
            .default(fetch_api::DEFAULT_BASE_URL)
            .help("the API's address (a mirror, or a test server)"),
    )
}

/// The parameters of a pipeline that reads files: `otc.ingest`'s.
fn with_file_params(def: PipelineDef) -> PipelineDef {
    def.param(
        Param::new("file_path", ParamKind::Path)
            .required()
            .help("a FINRA weekly file, or a folder whose .psv/.csv/.txt files load in name order"),
    )
    .param(Param::new("week_ending", ParamKind::Date).help(
        "the Friday of the trading week; without it, each line's week is inferred from its tier \
         and lastUpdateDate",
    ))
}

// Makes the library loadable by spine-host.
export_plugin!(plugin);

#[cfg(test)]
mod tests {
    use super::*;
    use spine_plugin_api::Params;

    #[test]
    fn the_pipelines_are_created_from_checked_parameters() {
        let plugin = plugin();
        assert_eq!(plugin.domain(), "otc");
        let folder = env!("CARGO_MANIFEST_DIR");
        let params = Params::from_json(&format!(r#"{{"file_path":"{folder}/src"}}"#)).unwrap();
        // src/ holds no data files, so ingest refuses it before any run.
        let error = plugin.create("otc.ingest", &params).err().unwrap();
        assert_eq!(error.code, "otc.ingest.no_files");
        assert!(plugin.create("otc.normalize", &Params::default()).is_ok());
        assert!(plugin.create("otc.summarize", &Params::default()).is_ok());
        let friday = Params::from_json(r#"{"week_ending":"2025-12-12"}"#).unwrap();
        assert!(plugin.create("otc.summarize", &friday).is_ok());
        let thursday = Params::from_json(r#"{"week_ending":"2025-12-11"}"#).unwrap();
        let error = plugin.create("otc.summarize", &thursday).err().unwrap();
        assert_eq!(error.code, "otc.params.week_ending_not_friday");
    }
}
