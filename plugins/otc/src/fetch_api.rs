//! FINRA's Query API, as `otc.fetch` reads it: one download is the rows of
//! one week, tier and venue type, asked for page by page.
//!
//! What this follows, from FINRA's API Developer Center (checked against its
//! pages, not against the live service):
//! - "POST Data" (developer.finra.org/post-data): `POST
//!   /data/group/{group}/name/{dataset}` with a JSON payload of `fields`,
//!   `compareFilters` (`{"fieldName", "fieldValue", "compareType": "EQUAL"}`),
//!   `limit` (default 1,000) and `offset` (exclusive, at most 500,000);
//!   `Accept: application/json` gives JSON.
//! - "Platform Usage Limits" (developer.finra.org/platform-usage-limits): at
//!   most 5,000 records and 3 MB a response, whichever comes first, so pages
//!   advance by the rows actually returned; the `Record-Total` response
//!   header is the number of records found; 20 synchronous requests a second
//!   per address.
//! - Technical Notice "OTC Transparency API Changes" (finra.org, 2021-03-08):
//!   dataset `otcMarket/weeklySummary` holds a rolling 12 months and
//!   `weeklySummaryHistoric` four years, with the same fields; the historic
//!   one filters only on `weekStartDate` (and the like) and `tierIdentifier`.
//!
//! Requests need no credentials. Failures: 429 and 5xx are retried with
//! backoff (honouring `Retry-After`); another status, a body that is not a
//! JSON array of records, or a host that cannot be reached fails the run
//! with one line.

use crate::fetch_plan::{api_tier, Download};
use chrono::{Days, NaiveDate};
use serde_json::{json, Map, Value as Json};
use spine_plugin_api::{Context, Error, Result};
use std::time::{Duration, Instant};

/// FINRA's API; `-p base_url` points elsewhere (a mirror, a test server).
pub(crate) const DEFAULT_BASE_URL: &str = "https://api.finra.org";
/// Rows asked for per page: FINRA's maximum.
pub(crate) const PAGE_LIMIT: u64 = 5000;
/// FINRA's largest `offset`.
const MAX_OFFSET: u64 = 500_000;
/// Time between two requests: 10 a second, half FINRA's limit of 20.
const REQUEST_INTERVAL: Duration = Duration::from_millis(100);
/// Tries of one page before a 429 or 5xx fails the run.
const ATTEMPTS: u32 = 5;
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// The weeks `weeklySummary` holds; older ones are in `weeklySummaryHistoric`.
const RECENT_DAYS: u64 = 364;

/// One page of records.
pub(crate) struct Page {
    pub records: Vec<Map<String, Json>>,
    /// The `Record-Total` header: every record of the query.
    pub total: Option<u64>,
    /// The address asked, for messages.
    pub url: String,
}

/// A blocking HTTP client with FINRA's pace.
pub(crate) struct Client {
    agent: ureq::Agent,
    base_url: String,
    last_request: Option<Instant>,
    /// Retries after a 429 or 5xx, for the metrics.
    pub retries: u64,
    pub requests: u64,
}

impl Client {
    pub(crate) fn new(base_url: &str) -> Client {
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(15))
            .timeout_read(Duration::from_secs(120))
            .timeout_write(Duration::from_secs(30))
            .user_agent(concat!("market-spine-otc/", env!("CARGO_PKG_VERSION")))
            .build();
        Client {
            agent,
            base_url: base_url.trim_end_matches('/').to_owned(),
            last_request: None,
            retries: 0,
            requests: 0,
        }
    }

    /// The dataset that holds `download`'s week on `today`.
    pub(crate) fn dataset(download: &Download, today: NaiveDate) -> &'static str {
        if week_start(download) + Days::new(RECENT_DAYS) >= today {
            "weeklySummary"
        } else {
            "weeklySummaryHistoric"
        }
    }

    /// One page of `download`'s records from `offset`.
    pub(crate) fn page(
        &mut self,
        ctx: &mut Context<'_>,
        download: &Download,
        dataset: &str,
        offset: u64,
    ) -> Result<Page> {
        if offset > MAX_OFFSET {
            return Err(Error::new(
                "otc.fetch.too_large",
                format!(
                    "{}: more than {MAX_OFFSET} records, beyond the offset FINRA's API allows",
                    download.label()
                ),
            ));
        }
        let url = format!("{}/data/group/otcMarket/name/{dataset}", self.base_url);
        let body = request_body(download, dataset, offset).to_string();
        let mut backoff = FIRST_BACKOFF;
        for attempt in 1..=ATTEMPTS {
            self.pace();
            self.requests += 1;
            let answer = self
                .agent
                .post(&url)
                .set("Accept", "application/json")
                .set("Content-Type", "application/json")
                .send_string(&body);
            let response = match answer {
                Ok(response) => response,
                Err(ureq::Error::Status(status, response)) if status == 429 || status >= 500 => {
                    if attempt == ATTEMPTS {
                        return Err(http_error(&url, download, status, response));
                    }
                    let wait = retry_after(&response).unwrap_or(backoff).min(MAX_BACKOFF);
                    ctx.warn(format!(
                        "{url} answered HTTP {status} for {} (offset {offset}); retrying in {:.1}s \
                         (attempt {} of {ATTEMPTS})",
                        download.label(),
                        wait.as_secs_f64(),
                        attempt + 1
                    ));
                    self.retries += 1;
                    wait_unless_cancelled(ctx, wait)?;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    continue;
                }
                Err(ureq::Error::Status(status, response)) => {
                    return Err(http_error(&url, download, status, response))
                }
                Err(ureq::Error::Transport(transport)) => return Err(unreachable(&url, &transport)),
            };
            return read_page(url, download, offset, response);
        }
        unreachable!("the last attempt returns")
    }

    /// Keeps requests [`REQUEST_INTERVAL`] apart.
    fn pace(&mut self) {
        if let Some(last) = self.last_request {
            let since = last.elapsed();
            if since < REQUEST_INTERVAL {
                std::thread::sleep(REQUEST_INTERVAL - since);
            }
        }
        self.last_request = Some(Instant::now());
    }
}

/// The Monday of `download`'s week: the API's `weekStartDate`.
pub(crate) fn week_start(download: &Download) -> NaiveDate {
    download.week_ending - Days::new(4)
}

/// The POST payload: the week and tier, and (where the dataset can filter
/// on it) the venue type; the historic dataset's rows are sorted by type as
/// they arrive.
fn request_body(download: &Download, dataset: &str, offset: u64) -> Json {
    let equal =
        |field: &str, value: &str| json!({"fieldName": field, "fieldValue": value, "compareType": "EQUAL"});
    let mut filters = vec![
        equal(
            "weekStartDate",
            &week_start(download).format("%Y-%m-%d").to_string(),
        ),
        equal("tierIdentifier", api_tier(download.tier)),
    ];
    if dataset == "weeklySummary" {
        filters.push(equal("summaryTypeCode", download.venue_type.summary_type_code()));
    }
    let mut fields: Vec<&str> = crate::fetch_archive::COLUMNS.to_vec();
    fields.extend(["weekStartDate", "summaryTypeCode"]);
    json!({
        "fields": fields,
        "compareFilters": filters,
        "limit": PAGE_LIMIT,
        "offset": offset,
    })
}

fn read_page(url: String, download: &Download, offset: u64, response: ureq::Response) -> Result<Page> {
    let bad = |what: String| {
        Error::new(
            "otc.fetch.bad_response",
            format!("{url} ({}, offset {offset}): {what}", download.label()),
        )
    };
    let total = match response.header("Record-Total") {
        None => None,
        Some(text) => Some(text.trim().parse::<u64>().map_err(|_| {
            bad(format!(
                "expected the Record-Total header to be a count, found {text:?}"
            ))
        })?),
    };
    if response.status() == 204 {
        return Ok(Page {
            records: Vec::new(),
            total,
            url,
        });
    }
    let text = response
        .into_string()
        .map_err(|e| bad(format!("the response could not be read: {e}")))?;
    let records = match serde_json::from_str::<Json>(&text) {
        Ok(Json::Array(items)) => items
            .into_iter()
            .enumerate()
            .map(|(index, item)| match item {
                Json::Object(record) => Ok(record),
                other => Err(bad(format!(
                    "record {} is not an object: {}",
                    offset + index as u64 + 1,
                    snippet(&other.to_string())
                ))),
            })
            .collect::<Result<Vec<_>>>()?,
        Ok(other) => {
            return Err(bad(format!(
                "expected a JSON array of records, found {}",
                snippet(&other.to_string())
            )))
        }
        Err(e) => {
            return Err(bad(format!(
                "expected a JSON array of records ({e}), found {}",
                snippet(&text)
            )))
        }
    };
    Ok(Page { records, total, url })
}

/// `Retry-After` in seconds, when the server gives it.
fn retry_after(response: &ureq::Response) -> Option<Duration> {
    let seconds: u64 = response.header("Retry-After")?.trim().parse().ok()?;
    Some(Duration::from_secs(seconds))
}

/// Sleeps `wait`, in short steps, stopping at Ctrl-C.
fn wait_unless_cancelled(ctx: &Context<'_>, wait: Duration) -> Result<()> {
    let until = Instant::now() + wait;
    while Instant::now() < until {
        crate::run::stop_if_cancelled(ctx)?;
        std::thread::sleep((until - Instant::now()).min(Duration::from_millis(50)));
    }
    crate::run::stop_if_cancelled(ctx)
}

fn http_error(url: &str, download: &Download, status: u16, response: ureq::Response) -> Error {
    let body = response.into_string().unwrap_or_default();
    Error::new(
        "otc.fetch.http",
        format!(
            "{url} answered HTTP {status} for {}: {}",
            download.label(),
            snippet(&body)
        ),
    )
}

/// One line naming the host that could not be reached.
fn unreachable(url: &str, transport: &ureq::Transport) -> Error {
    let host = transport
        .url()
        .and_then(|url| url.host_str().map(str::to_owned))
        .or_else(|| {
            url.split("//")
                .nth(1)?
                .split(['/', ':'])
                .next()
                .map(str::to_owned)
        })
        .unwrap_or_else(|| url.to_owned());
    let reason = match transport.message() {
        Some(message) => format!("{}: {message}", transport.kind()),
        None => transport.kind().to_string(),
    };
    Error::new(
        "otc.fetch.unreachable",
        one_line(&format!("cannot reach {host}: {reason}; nothing was loaded")),
    )
    .with_help("check the network connection (or -p base_url), then run otc.fetch again")
}

/// At most 200 characters of `text`, on one line, for messages.
fn snippet(text: &str) -> String {
    let line = one_line(text.trim());
    match line.char_indices().nth(200) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None if line.is_empty() => "an empty body".to_owned(),
        None => line,
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fetch_plan::VenueType;
    use crate::tier::Tier;

    fn download(week: &str) -> Download {
        Download {
            week_ending: crate::week::parse_date(week).unwrap(),
            tier: Tier::NmsTier2,
            venue_type: VenueType::NonAts,
        }
    }

    #[test]
    fn the_payload_asks_for_one_week_tier_and_type_by_the_apis_names() {
        let body = request_body(&download("2025-11-14"), "weeklySummary", 5000);
        let filters = body["compareFilters"].as_array().unwrap();
        let pairs: Vec<(&str, &str)> = filters
            .iter()
            .map(|f| {
                (
                    f["fieldName"].as_str().unwrap(),
                    f["fieldValue"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            pairs,
            [
                ("weekStartDate", "2025-11-10"),
                ("tierIdentifier", "T2"),
                ("summaryTypeCode", "OTC_W_SMBL_FIRM")
            ]
        );
        assert_eq!(body["limit"], 5000);
        assert_eq!(body["offset"], 5000);
        // The historic dataset filters on week and tier only.
        let historic = request_body(&download("2022-11-11"), "weeklySummaryHistoric", 0);
        assert_eq!(historic["compareFilters"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn weeks_older_than_a_year_come_from_the_historic_dataset() {
        let today = crate::week::parse_date("2025-12-15").unwrap();
        assert_eq!(Client::dataset(&download("2025-11-14"), today), "weeklySummary");
        assert_eq!(
            Client::dataset(&download("2024-11-15"), today),
            "weeklySummaryHistoric"
        );
    }

    #[test]
    fn messages_are_one_short_line() {
        assert_eq!(snippet("  {\"a\":\n 1}  "), "{\"a\": 1}");
        assert_eq!(snippet(""), "an empty body");
        assert_eq!(snippet(&"x".repeat(300)).chars().count(), 201);
    }
}
