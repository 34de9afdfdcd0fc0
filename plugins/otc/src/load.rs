//! `otc.load`: `otc.ingest`, `otc.normalize`, `otc.summarize` and
//! `otc.analytics` in one run, for the common case. One transaction: the
//! files load, normalize, summarize and analyse together or not at all, so
//! the analytics tables are never behind the summaries after a load. The
//! metrics hold each stage's, under its name.

use crate::analytics::Analytics;
use crate::ingest::Ingest;
use crate::normalize::Normalize;
use crate::summarize::Summarize;
use serde_json::Value as Json;
use spine_plugin_api::{Context, Metrics, Params, Pipeline, Result};

/// The `otc.load` pipeline.
pub struct Load {
    ingest: Ingest,
}

impl Load {
    /// Takes `otc.ingest`'s parameters, checked before the run as there.
    pub fn from_params(params: &Params) -> Result<Self> {
        Ok(Load {
            ingest: Ingest::from_params(params)?,
        })
    }
}

impl Pipeline for Load {
    fn run(&mut self, ctx: &mut Context<'_>) -> Result<Metrics> {
        let ingest = self.ingest.stage(ctx)?;
        let normalize = Normalize.stage(ctx)?;
        let summarize = Summarize::changed_weeks().stage(ctx)?;
        let analytics = Analytics::changed_weeks().stage(ctx)?;
        Ok(Metrics::new()
            .with("ingest", Json::Object(ingest))
            .with("normalize", Json::Object(normalize))
            .with("summarize", Json::Object(summarize))
            .with("analytics", Json::Object(analytics)))
    }
}
