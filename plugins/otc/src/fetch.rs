//! `otc.fetch`: FINRA's OTC Transparency API as a source. Downloads the
//! weeks asked for (see [`crate::fetch_plan`]) through [`crate::fetch_api`],
//! keeps every download in the archive ([`crate::fetch_archive`]), then
//! loads the archived files through `otc.ingest`'s code with their week
//! given, so lineage, duplicates, revisions and rejects work exactly as for
//! files given by hand.
//!
//! Every download comes before the first database call: the host begins the
//! run's transaction (and takes the write lock) at that call, so other runs
//! go on while this one waits on the network. A download that fails fails
//! the run before anything is loaded; what was archived stays archived.

use crate::fetch_api::{Client, DEFAULT_BASE_URL, PAGE_LIMIT};
use crate::fetch_archive::{ArchiveWriter, Archived, COLUMNS};
use crate::fetch_plan::{self, api_tier, Download, Plan};
use crate::ingest::Ingest;
use crate::run::{stop_if_cancelled, Figures};
use crate::week::parse_date;
use chrono::NaiveDate;
use serde_json::{json, Map, Value as Json};
use spine_plugin_api::{Context, Error, Metrics, Params, Pipeline, Result};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The `otc.fetch` pipeline.
pub(crate) struct Fetch {
    plan: Plan,
    base_url: String,
    today: NaiveDate,
}

impl Fetch {
    /// Plans the downloads; a week not due yet is refused here, before any
    /// request (`otc.params.week_not_due`).
    pub(crate) fn from_params(params: &Params) -> Result<Self> {
        let today = fetch_plan::host_today()?;
        Ok(Fetch {
            plan: fetch_plan::plan(params, today)?,
            base_url: params.opt_str("base_url")?.unwrap_or(DEFAULT_BASE_URL).to_owned(),
            today,
        })
    }
}

/// What the downloads came to.
#[derive(Default)]
struct Downloaded {
    /// Archived files to load, per week.
    weeks: BTreeMap<NaiveDate, Vec<PathBuf>>,
    rows: u64,
    files_new: u64,
    files_unchanged: u64,
    not_published: Vec<String>,
    pages: u64,
}

impl Pipeline for Fetch {
    fn run(&mut self, ctx: &mut Context<'_>) -> Result<Metrics> {
        let archive = archive_root(ctx)?;
        let mut client = Client::new(&self.base_url);
        let mut downloaded = Downloaded::default();
        for (index, download) in self.plan.downloads.iter().enumerate() {
            let remaining = (self.plan.downloads.len() - index - 1) as u64;
            let files = self.download(ctx, &mut client, download, &archive, &mut downloaded, remaining)?;
            if files.is_empty() {
                downloaded.not_published.push(download.label());
            }
            for file in files {
                downloaded.rows += file.rows;
                *if file.new {
                    &mut downloaded.files_new
                } else {
                    &mut downloaded.files_unchanged
                } += 1;
                downloaded
                    .weeks
                    .entry(download.week_ending)
                    .or_default()
                    .push(file.path);
            }
        }
        if !self.plan.not_due.is_empty() {
            ctx.warn(format!(
                "not published yet, not fetched: {}",
                self.plan.not_due.join(", ")
            ));
        }
        if !downloaded.not_published.is_empty() {
            ctx.warn(format!(
                "FINRA has no rows for: {}",
                downloaded.not_published.join(", ")
            ));
        }
        // Every download is archived: now load, week by week, the week given.
        let mut ingest = Figures::new();
        for (week, files) in &downloaded.weeks {
            stop_if_cancelled(ctx)?;
            add_figures(&mut ingest, Ingest::for_files(files.clone(), *week).stage(ctx)?);
        }
        let weeks: Vec<String> = downloaded.weeks.keys().map(|w| w.to_string()).collect();
        Ok(Metrics::new()
            .with("downloads", self.plan.downloads.len() as u64)
            .with("pages", downloaded.pages)
            .with("requests", client.requests)
            .with("retries", client.retries)
            .with("rows", downloaded.rows)
            .with("files_new", downloaded.files_new)
            .with("files_unchanged", downloaded.files_unchanged)
            .with("weeks", json!(weeks))
            .with("not_published", json!(downloaded.not_published))
            .with("not_due", json!(self.plan.not_due))
            .with("archive", archive.display().to_string())
            .with("ingest", Json::Object(ingest)))
    }
}

impl Fetch {
    /// Downloads one week, tier and venue type page by page into the
    /// archive; the archived files (none when FINRA has no rows for it).
    fn download(
        &self,
        ctx: &mut Context<'_>,
        client: &mut Client,
        download: &Download,
        archive: &std::path::Path,
        downloaded: &mut Downloaded,
        downloads_after: u64,
    ) -> Result<Vec<Archived>> {
        let dataset = Client::dataset(download, self.today);
        let folder = archive.join(download.week_ending.to_string());
        let prefix = format!("{}-{}", api_tier(download.tier), download.venue_type.name());
        let mut writer = ArchiveWriter::new(folder, prefix);
        let mut offset = 0u64;
        loop {
            stop_if_cancelled(ctx)?;
            let page = client.page(ctx, download, dataset, offset)?;
            downloaded.pages += 1;
            let returned = page.records.len() as u64;
            for (index, record) in page.records.iter().enumerate() {
                let at = || {
                    format!(
                        "{} ({}), record {}",
                        page.url,
                        download.label(),
                        offset + index as u64 + 1
                    )
                };
                if let Some((last_update, line)) = psv_line(record, download, dataset)
                    .map_err(|what| Error::new("otc.fetch.bad_response", format!("{}: {what}", at())))?
                {
                    writer.push(&last_update, &line)?;
                }
            }
            offset += returned;
            let left = page.total.map_or(0, |total| total.saturating_sub(offset));
            let pages_left = left.div_ceil(returned.clamp(1, PAGE_LIMIT));
            ctx.progress(
                downloaded.pages,
                downloaded.pages + pages_left + downloads_after,
                "pages",
            );
            match page.total {
                _ if returned == 0 && left > 0 => {
                    return Err(Error::new(
                        "otc.fetch.bad_response",
                        format!(
                            "{} ({}): no records at offset {offset}, though Record-Total says {}",
                            page.url,
                            download.label(),
                            page.total.unwrap_or_default()
                        ),
                    ))
                }
                // Paged by the rows returned: a page can stop short of the
                // limit at FINRA's 3 MB, so only the total says it is over.
                Some(total) if offset >= total => break,
                _ if returned == 0 => break,
                _ => {}
            }
        }
        writer.finish()
    }
}

/// A record as a line of FINRA's file, with its `lastUpdateDate`; `None`
/// for a record of another venue type (the historic dataset cannot filter
/// on it). The error says what is wrong with the record.
fn psv_line(
    record: &Map<String, Json>,
    download: &Download,
    dataset: &str,
) -> std::result::Result<Option<(String, String)>, String> {
    let text = |field: &str| -> std::result::Result<String, String> {
        match record.get(field) {
            None | Some(Json::Null) => Ok(String::new()),
            Some(Json::String(text)) => Ok(text.clone()),
            Some(Json::Number(number)) => Ok(number.to_string()),
            Some(other) => Err(format!("field {field}: expected text or a number, found {other}")),
        }
    };
    let summary_type = text("summaryTypeCode")?;
    if summary_type != download.venue_type.summary_type_code() {
        if dataset != "weeklySummary" || summary_type.is_empty() {
            return Ok(None);
        }
        return Err(format!(
            "field summaryTypeCode: expected {}, found {summary_type:?}",
            download.venue_type.summary_type_code()
        ));
    }
    let week_start = crate::fetch_api::week_start(download).to_string();
    let record_week = text("weekStartDate")?;
    if !record_week.is_empty() && record_week != week_start {
        return Err(format!(
            "field weekStartDate: expected {week_start}, found {record_week:?}"
        ));
    }
    let last_update = text("lastUpdateDate")?;
    // Dates may come with a time (the API's date-time fields); the file
    // keeps the date.
    let last_update = last_update.get(..10).unwrap_or(&last_update).to_owned();
    if parse_date(&last_update).is_none() {
        return Err(format!(
            "field lastUpdateDate: expected a date YYYY-MM-DD, found {last_update:?}"
        ));
    }
    let mut fields = Vec::with_capacity(COLUMNS.len());
    for column in COLUMNS {
        fields.push(if column == "lastUpdateDate" {
            last_update.clone()
        } else {
            text(column)?
        });
    }
    Ok(Some((last_update, fields.join("|"))))
}

/// `<data-dir>/finra/archive`, the data folder as the host gives it.
fn archive_root(ctx: &mut Context<'_>) -> Result<PathBuf> {
    let answer = ctx.call("execution.info", "{}")?;
    let data_dir = serde_json::from_str::<Json>(&answer)
        .ok()
        .and_then(|info| info.get("data_dir")?.as_str().map(PathBuf::from))
        .ok_or_else(|| {
            Error::new(
                "otc.host.execution_info",
                format!("expected the host's execution.info to hold a data_dir, found {answer}"),
            )
            .with_help("otc.fetch needs a spine-host that gives plugins its data folder")
        })?;
    Ok(data_dir.join("finra").join("archive"))
}

/// Adds one ingest's figures to the run's: counts summed, weeks merged.
fn add_figures(total: &mut Figures, more: Figures) {
    for (name, value) in more {
        match (total.get_mut(&name), value) {
            (Some(Json::Number(sum)), Json::Number(n)) => {
                *sum = (sum.as_u64().unwrap_or(0) + n.as_u64().unwrap_or(0)).into();
            }
            (Some(Json::Array(all)), Json::Array(items)) => {
                for item in items {
                    if !all.contains(&item) {
                        all.push(item);
                    }
                }
            }
            (Some(_), _) => {}
            (None, value) => {
                total.insert(name, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fetch_plan::VenueType;
    use crate::tier::Tier;

    fn download() -> Download {
        Download {
            week_ending: parse_date("2025-11-14").unwrap(),
            tier: Tier::Otc,
            venue_type: VenueType::NonAts,
        }
    }

    fn record(json: &str) -> Map<String, Json> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn a_record_becomes_a_line_of_finras_file() {
        let row = record(
            r#"{"tierDescription":"OTC","issueSymbolIdentifier":"ACP$A","issueName":"Bee \"B\" Co",
                "marketParticipantName":"De Minimis Firms","MPID":null,"totalWeeklyShareQuantity":249703875,
                "totalWeeklyTradeCount":12,"lastUpdateDate":"2025-12-15","weekStartDate":"2025-11-10",
                "summaryTypeCode":"OTC_W_SMBL_FIRM"}"#,
        );
        let (date, line) = psv_line(&row, &download(), "weeklySummary").unwrap().unwrap();
        assert_eq!(date, "2025-12-15");
        assert_eq!(
            line,
            "OTC|ACP$A|Bee \"B\" Co|De Minimis Firms||249703875|12|2025-12-15"
        );
    }

    #[test]
    fn a_record_of_another_week_type_or_shape_is_an_error_naming_the_field() {
        let base = r#""lastUpdateDate":"2025-12-15","weekStartDate":"2025-11-10","summaryTypeCode":"OTC_W_SMBL_FIRM""#;
        let wrong_week = record(&format!("{{{}}}", base.replace("2025-11-10", "2025-11-03")));
        assert!(psv_line(&wrong_week, &download(), "weeklySummary")
            .unwrap_err()
            .contains("weekStartDate"));
        let bad_date = record(&format!("{{{}}}", base.replace("2025-12-15", "soon")));
        assert!(psv_line(&bad_date, &download(), "weeklySummary")
            .unwrap_err()
            .contains("lastUpdateDate"));
        let nested = record(&format!("{{{base},\"issueName\":[1]}}"));
        assert!(psv_line(&nested, &download(), "weeklySummary")
            .unwrap_err()
            .contains("issueName"));
        let ats = record(&format!(
            "{{{}}}",
            base.replace("OTC_W_SMBL_FIRM", "ATS_W_SMBL_FIRM")
        ));
        assert!(psv_line(&ats, &download(), "weeklySummary").is_err());
        // The historic dataset gives every type: the others are passed over.
        assert_eq!(
            psv_line(&ats, &download(), "weeklySummaryHistoric").unwrap(),
            None
        );
    }

    #[test]
    fn figures_of_several_ingests_add_up() {
        let mut total = Figures::new();
        for weeks in [["2025-11-07"], ["2025-11-14"]] {
            let more = json!({"records": 3, "inserted": 2, "weeks": weeks, "week_source": "given"});
            add_figures(&mut total, more.as_object().unwrap().clone());
        }
        assert_eq!(
            Json::Object(total),
            json!({"records": 6, "inserted": 4, "weeks": ["2025-11-07", "2025-11-14"], "week_source": "given"})
        );
    }
}
