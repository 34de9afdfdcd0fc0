//! What every OTC pipeline takes from its run: the execution id that tags the
//! rows it writes, one timestamp for all of them, the host's date, a clean
//! stop on Ctrl-C, and the figures it reports.

use crate::week::parse_date;
use chrono::{NaiveDate, Utc};
use spine_plugin_api::{Context, Error, Metrics, Result};

/// The figures one stage reports: a pipeline's metrics, or (under its name)
/// one part of `otc.load`'s.
pub(crate) type Figures = serde_json::Map<String, serde_json::Value>;

/// A stage's figures as a run's metrics.
pub(crate) fn metrics(figures: Figures) -> Metrics {
    figures
        .into_iter()
        .fold(Metrics::new(), |metrics, (name, value)| {
            metrics.with(&name, value)
        })
}

/// One execution, as the host describes it.
pub(crate) struct Run {
    pub execution_id: String,
    /// ISO 8601 UTC. Read once: every row of a run carries the same time, and
    /// the clock is not read a million times.
    pub started_at: String,
}

impl Run {
    /// Asks the host which execution this is.
    pub(crate) fn start(ctx: &mut Context<'_>) -> Result<Run> {
        let answer = ctx.call("execution.info", "{}")?;
        let execution_id = serde_json::from_str::<serde_json::Value>(&answer)
            .ok()
            .and_then(|info| info.get("execution_id")?.as_str().map(str::to_owned))
            .ok_or_else(|| {
                Error::new(
                    "otc.host.execution_info",
                    format!("expected the host's execution.info to hold an execution_id, found {answer}"),
                )
            })?;
        Ok(Run {
            execution_id,
            started_at: Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        })
    }
}

/// Today's date as the host gives it (`SPINE_TODAY` fixes it for tests).
pub(crate) fn today(ctx: &mut Context<'_>) -> Result<NaiveDate> {
    let today = ctx.today()?;
    parse_date(&today).ok_or_else(|| {
        Error::new(
            "otc.host.today",
            format!("expected the host's date as YYYY-MM-DD, found {today:?}"),
        )
    })
}

/// Fails once the operator pressed Ctrl-C; the host then rolls the run back.
pub(crate) fn stop_if_cancelled(ctx: &Context<'_>) -> Result<()> {
    if ctx.cancelled() {
        return Err(Error::new(
            "otc.cancelled",
            "stopped by the operator (Ctrl-C); the run is rolled back",
        ));
    }
    Ok(())
}
