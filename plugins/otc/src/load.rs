//! `otc.load`: `otc.ingest`, `otc.normalize` and `otc.summarize` in one run,
//! for the common case, and with `-p analytics=true` `otc.analytics` too.
//! One transaction: the files load, normalize and summarize (and analyse)
//! together or not at all. The metrics hold each stage's, under its name.
//!
//! Why analytics is not run by default: it reads every row of the weeks
//! loaded again and writes a row per symbol and week to two tables, which
//! made a load of a million rows about 40% longer (README, Performance),
//! far past the few percent a load may grow by. A load that asks for it
//! leaves the analytics current; one that does not leaves the weeks queued
//! for `otc.analytics`.

use crate::analytics::Analytics;
use crate::ingest::Ingest;
use crate::normalize::Normalize;
use crate::summarize::Summarize;
use serde_json::Value as Json;
use spine_plugin_api::{Context, Level, Metrics, Params, Pipeline, Result};

/// The `otc.load` pipeline.
pub(crate) struct Load {
    ingest: Ingest,
    analytics: bool,
}

impl Load {
    /// Takes `otc.ingest`'s parameters, checked before the run as there, and
    /// `analytics`.
    pub(crate) fn from_params(params: &Params) -> Result<Self> {
        Ok(Load {
            ingest: Ingest::from_params(params)?,
            analytics: params.opt_bool("analytics")?.unwrap_or(false),
        })
    }
}

impl Pipeline for Load {
    fn run(&mut self, ctx: &mut Context<'_>) -> Result<Metrics> {
        let ingest = self.ingest.stage(ctx)?;
        let normalize = Normalize.stage(ctx)?;
        let summarize = Summarize::changed_weeks().stage(ctx)?;
        let metrics = Metrics::new()
            .with("ingest", Json::Object(ingest))
            .with("normalize", Json::Object(normalize))
            .with("summarize", Json::Object(summarize));
        if self.analytics {
            let analytics = Analytics::changed_weeks().stage(ctx)?;
            return Ok(metrics.with("analytics", Json::Object(analytics)));
        }
        let queued = ctx.query_scalar::<i64>("SELECT count(*) FROM otc_analytics_queue", &[])?;
        if queued > 0 {
            ctx.log(
                Level::Info,
                &format!(
                    "{queued} weeks await otc.analytics: run it, or load with -p analytics=true to compute \
                     them in the load"
                ),
            );
        }
        Ok(metrics)
    }
}
