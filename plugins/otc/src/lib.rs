//! The OTC domain: FINRA's OTC weekly transparency data, as a Market Spine plugin.
//!
//! FINRA publishes, per tier (NMS Tier 1, NMS Tier 2, OTC), each venue's
//! weekly share volume and trade count in every security. This crate owns
//! reading those files and the `otc_` tables, through four pipelines:
//! - `otc.ingest` streams files into `otc_raw` (bad lines into `otc_rejects`),
//! - `otc.normalize` checks new raw rows into `otc_venue_volume`, applying
//!   revisions,
//! - `otc.summarize` recomputes changed weeks' `otc_symbol_summary`,
//!   `otc_venue_share` and `otc_symbol_offexchange`,
//! - `otc.load` runs the three in one go.
//!
//! It never links SQLite: the database is reached only through the host's
//! [`Context`](spine_plugin_api::Context).

mod bulk;
pub mod decimal;
pub mod hash;
pub mod ingest;
mod load;
pub mod normalize;
pub mod parse;
mod rejects;
mod run;
mod sources;
pub mod summarize;
pub mod tier;
mod upgrade;
pub mod week;

use spine_plugin_api::{export_plugin, Param, ParamKind, PipelineDef, Plugin};

/// Describes the plugin. The host calls this once, when it loads the library.
pub fn plugin() -> Plugin {
    Plugin::new(
        "otc",
        env!("CARGO_PKG_VERSION"),
        "FINRA OTC weekly transparency data: ingest, normalize, summarize",
    )
    // Released migrations never change: the host refuses checksum drift.
    .migration(1, "otc_tables", include_str!("../migrations/001_otc_tables.sql"))
    .migration(
        2,
        "otc_publications",
        include_str!("../migrations/002_otc_publications.sql"),
    )
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
        )),
        load::Load::from_params,
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
