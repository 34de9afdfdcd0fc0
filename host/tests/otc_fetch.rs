//! `otc.fetch` against a local HTTP server that answers as FINRA's API is
//! documented to (JSON records, a `Record-Total` header, short pages, 429
//! and 5xx, empty weeks), never the internet: the archive files, the ingest
//! counts and the tables, the refusals made before any request, and the
//! write lock left free while the fetch waits on the network.

mod common;
mod otc_support;

use common::{finish, TestEnv};
use otc_support::{run_on, write_file};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{mpsc, Arc, Mutex};

/// The day the tests run on: Tier 1 of the week ending 2025-11-14 was due
/// 2025-12-01, Tier 2 and OTC are due this very day.
const TODAY: &str = "2025-12-15";
const WEEK: &str = "2025-11-14";

/// What the server answers to one request.
enum Reply {
    Json {
        status: u16,
        total: Option<u64>,
        body: String,
    },
    /// Waits until the test sends on the channel, then answers.
    HoldThen(mpsc::Receiver<()>, Box<Reply>),
}

/// A FINRA-shaped API on 127.0.0.1: `answer` gets each request's JSON
/// payload (and how many requests came before) and says what to reply.
struct Server {
    url: String,
    payloads: Arc<Mutex<Vec<Value>>>,
}

impl Server {
    fn start(answer: impl FnMut(&Value, usize) -> Reply + Send + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let payloads = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&payloads);
        let answer = Arc::new(Mutex::new(answer));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let payload = read_request(&stream);
                let count = {
                    let mut seen = seen.lock().unwrap();
                    seen.push(payload.clone());
                    seen.len() - 1
                };
                let reply = (answer.lock().unwrap())(&payload, count);
                write_reply(stream, reply);
            }
        });
        Server { url, payloads }
    }

    fn requests(&self) -> usize {
        self.payloads.lock().unwrap().len()
    }
}

/// Reads one HTTP request; its JSON body.
fn read_request(stream: &TcpStream) -> Value {
    let mut reader = BufReader::new(stream);
    let mut length = 0;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap();
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    serde_json::from_slice(&body).unwrap_or(Value::Null)
}

fn write_reply(mut stream: TcpStream, reply: Reply) {
    match reply {
        Reply::HoldThen(release, reply) => {
            let _ = release.recv();
            write_reply(stream, *reply);
        }
        Reply::Json { status, total, body } => {
            let total = total
                .map(|t| format!("Record-Total: {t}\r\n"))
                .unwrap_or_default();
            let head = format!(
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n{total}Content-Length: {}\r\n\
                 Connection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(body.as_bytes());
        }
    }
}

fn ok(total: u64, records: &[Value]) -> Reply {
    Reply::Json {
        status: 200,
        total: Some(total),
        body: Value::Array(records.to_vec()).to_string(),
    }
}

fn status(status: u16) -> Reply {
    Reply::Json {
        status,
        total: None,
        body: r#"{"message":"try later"}"#.to_owned(),
    }
}

/// The filter value of `field` in a request payload.
fn filter<'p>(payload: &'p Value, field: &str) -> &'p str {
    payload["compareFilters"]
        .as_array()
        .and_then(|filters| filters.iter().find(|f| f["fieldName"] == field))
        .and_then(|f| f["fieldValue"].as_str())
        .unwrap_or("")
}

/// A record as FINRA's API gives it.
fn record(
    tier: &str,
    symbol: &str,
    venue: (&str, &str),
    shares: u64,
    trades: u64,
    type_code: &str,
    published: &str,
) -> Value {
    let (name, mpid) = venue;
    json!({
        "tierDescription": tier, "tierIdentifier": "T1", "issueSymbolIdentifier": symbol,
        "issueName": format!("{symbol} Inc."), "marketParticipantName": name,
        "MPID": if mpid.is_empty() { Value::Null } else { Value::from(mpid) },
        "totalWeeklyShareQuantity": shares, "totalWeeklyTradeCount": trades,
        "lastUpdateDate": published, "weekStartDate": "2025-11-10", "summaryTypeCode": type_code,
        "firmCRDNumber": 1234,
    })
}

/// Tier 1 ATS of the week: five records, served two a page (as FINRA's
/// 3 MB cap can), the second page answered 429 once. AAPL's UBSA volume is
/// `aapl_ubsa`, published on `published`.
fn tier1_ats(aapl_ubsa: u64, published: &str) -> Vec<Value> {
    let ats = |symbol, mpid, shares| {
        record(
            "NMS Tier 1",
            symbol,
            ("ATS", mpid),
            shares,
            100,
            "ATS_W_SMBL_FIRM",
            published,
        )
    };
    vec![
        ats("AAPL", "UBSA", aapl_ubsa),
        ats("AAPL", "EBXL", 20_000),
        ats("MSFT", "UBSA", 30_000),
        ats("MSFT", "EBXL", 40_000),
        ats("BRK.B", "UBSA", 50_000),
    ]
}

/// The scripted API: Tier 1 ATS in three pages (429 before the second),
/// Tier 1 non-ATS in one page after a 500, Tier 2 ATS an empty week (`[]`),
/// Tier 2 non-ATS `204 No Content`.
fn finra(ats: Vec<Value>) -> impl FnMut(&Value, usize) -> Reply + Send + 'static {
    let mut refused_once = std::collections::HashSet::new();
    move |payload, _| {
        let offset = payload["offset"].as_u64().unwrap_or(0) as usize;
        let key = (
            filter(payload, "tierIdentifier").to_owned(),
            filter(payload, "summaryTypeCode").to_owned(),
            offset,
        );
        assert_eq!(filter(payload, "weekStartDate"), "2025-11-10", "{payload}");
        match (key.0.as_str(), key.1.as_str(), offset) {
            ("T1", "ATS_W_SMBL_FIRM", 2) if refused_once.insert(key.clone()) => status(429),
            ("T1", "ATS_W_SMBL_FIRM", _) => ok(
                ats.len() as u64,
                &ats[offset.min(ats.len())..(offset + 2).min(ats.len())],
            ),
            ("T1", "OTC_W_SMBL_FIRM", 0) if refused_once.insert(key.clone()) => status(500),
            ("T1", "OTC_W_SMBL_FIRM", 0) => ok(
                2,
                &[
                    record(
                        "NMS Tier 1",
                        "AAPL",
                        ("Wholesaler LLC", ""),
                        70_000,
                        700,
                        "OTC_W_SMBL_FIRM",
                        "2025-12-01",
                    ),
                    record(
                        "NMS Tier 1",
                        "AAPL",
                        ("De Minimis Firms", ""),
                        5_000,
                        50,
                        "OTC_W_SMBL_FIRM",
                        "2025-12-01",
                    ),
                ],
            ),
            ("T2", "ATS_W_SMBL_FIRM", 0) => ok(0, &[]),
            ("T2", "OTC_W_SMBL_FIRM", 0) => Reply::Json {
                status: 204,
                total: None,
                body: String::new(),
            },
            other => panic!("unexpected request {other:?}: {payload}"),
        }
    }
}

fn fetch_params(server: &Server, extra: &[&str]) -> Vec<String> {
    let mut params = vec![format!("base_url={}", server.url), format!("week_ending={WEEK}")];
    params.extend(extra.iter().map(|p| p.to_string()));
    params
}

fn archive(env: &TestEnv) -> std::path::PathBuf {
    env.dir.path().join("data/finra/archive").join(WEEK)
}

fn archived_names(env: &TestEnv) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(archive(env))
        .map(|entries| {
            entries
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn a_fetch_pages_retries_archives_every_download_and_ingests_it_with_its_week() {
    let env = TestEnv::with_plugins(&["spine_otc"]);
    let server = Server::start(finra(tier1_ats(10_000, "2025-12-01")));
    let (code, execution) = run_on(&env, TODAY, "otc.fetch", &fetch_params(&server, &["tiers=T1,T2"]));
    assert_eq!(code, 0, "{execution}");
    let metrics = &execution["metrics"];
    // Tier 1 ATS: 3 pages + one 429; non-ATS: 1 page + one 500; Tier 2: two empty answers.
    assert_eq!(metrics["downloads"], 4, "{metrics}");
    assert_eq!(metrics["pages"], 6, "{metrics}");
    assert_eq!(metrics["retries"], 2, "{metrics}");
    assert_eq!(metrics["requests"], 8, "{metrics}");
    assert_eq!(server.requests(), 8);
    assert_eq!(metrics["rows"], 7, "{metrics}");
    assert_eq!(metrics["files_new"], 2, "{metrics}");
    assert_eq!(
        metrics["not_published"],
        json!([format!("{WEEK} T2 ATS"), format!("{WEEK} T2 NON_ATS")])
    );
    assert_eq!(metrics["weeks"], json!([WEEK]));
    let ingest = &metrics["ingest"];
    assert_eq!(
        (ingest["records"].as_u64(), ingest["inserted"].as_u64()),
        (Some(7), Some(7)),
        "{ingest}"
    );
    assert_eq!(
        (ingest["duplicates"].as_u64(), ingest["rejected"].as_u64()),
        (Some(0), Some(0)),
        "{ingest}"
    );
    assert_eq!(ingest["week_source"], "given");

    // The archive holds each download as FINRA's file, header first.
    assert_eq!(
        archived_names(&env),
        ["T1-ATS-2025-12-01.psv", "T1-NON_ATS-2025-12-01.psv"]
    );
    let ats_file = std::fs::read_to_string(archive(&env).join("T1-ATS-2025-12-01.psv")).unwrap();
    let lines: Vec<&str> = ats_file.lines().collect();
    assert_eq!(lines[0], otc_support::HEADER);
    assert_eq!(
        lines[1],
        "NMS Tier 1|AAPL|AAPL Inc.|ATS|UBSA|10000|100|2025-12-01"
    );
    assert_eq!(lines.len(), 6);
    let non_ats = std::fs::read_to_string(archive(&env).join("T1-NON_ATS-2025-12-01.psv")).unwrap();
    assert!(
        non_ats.contains("\nNMS Tier 1|AAPL|AAPL Inc.|Wholesaler LLC||70000|700|2025-12-01\n"),
        "{non_ats}"
    );

    // The rows are stored under the week, from the archived files.
    let stored = otc_support::rows(
        &env,
        "SELECT week_ending, count(*), sum(share_volume), count(DISTINCT source_file) FROM otc_raw GROUP BY week_ending",
    );
    assert_eq!(stored, [[WEEK, "7", "225000", "2"]]);
    let sources = otc_support::rows(&env, "SELECT DISTINCT source_file FROM otc_raw ORDER BY 1");
    assert!(
        sources[0][0].ends_with("finra/archive/2025-11-14/T1-ATS-2025-12-01.psv"),
        "{sources:?}"
    );

    // The same publication again: the files are kept, every row a duplicate.
    let server = Server::start(finra(tier1_ats(10_000, "2025-12-01")));
    let (code, again) = run_on(&env, TODAY, "otc.fetch", &fetch_params(&server, &["tiers=T1,T2"]));
    assert_eq!(code, 0, "{again}");
    assert_eq!(again["metrics"]["files_unchanged"], 2, "{again}");
    assert_eq!(again["metrics"]["ingest"]["duplicates"], 7, "{again}");
    assert_eq!(again["metrics"]["ingest"]["inserted"], 0, "{again}");

    // FINRA corrects AAPL at UBSA: a new file, stored beside the old, and normalize applies it.
    let server = Server::start(finra(tier1_ats(12_345, "2025-12-08")));
    let (code, corrected) = run_on(&env, TODAY, "otc.fetch", &fetch_params(&server, &["tiers=T1,T2"]));
    assert_eq!(code, 0, "{corrected}");
    assert_eq!(corrected["metrics"]["files_new"], 1, "{corrected}");
    assert_eq!(
        archived_names(&env),
        [
            "T1-ATS-2025-12-01.psv",
            "T1-ATS-2025-12-08.psv",
            "T1-NON_ATS-2025-12-01.psv"
        ]
    );
    assert!(
        otc_support::run_ok(&env, "otc.normalize", &[])["accepted"]
            .as_u64()
            .unwrap()
            > 0
    );
    let aapl = otc_support::rows(
        &env,
        "SELECT share_volume, last_update_date FROM otc_venue_volume WHERE symbol = 'AAPL' AND venue = 'UBSA'",
    );
    assert_eq!(aapl, [["12345", "2025-12-08"]]);
}

#[test]
fn a_malformed_body_fails_the_run_with_one_line_and_loads_nothing() {
    let env = TestEnv::with_plugins(&["spine_otc"]);
    let server = Server::start(|_, _| Reply::Json {
        status: 200,
        total: Some(3),
        body: "<html>maintenance</html>".to_owned(),
    });
    let (code, execution) = run_on(
        &env,
        TODAY,
        "otc.fetch",
        &fetch_params(&server, &["tiers=T1", "types=ATS"]),
    );
    assert_eq!(code, 1, "{execution}");
    let error = execution["error"].as_str().unwrap();
    assert!(
        error.contains(
            "/data/group/otcMarket/name/weeklySummary (2025-11-14 T1 ATS, offset 0): expected a JSON array"
        ),
        "{error}"
    );
    assert!(error.contains("<html>maintenance</html>"), "{error}");
    assert!(!error.contains('\n'), "{error}");
    assert_eq!(env.count("SELECT count(*) FROM otc_raw"), 0);
    assert!(archived_names(&env).is_empty(), "{:?}", archived_names(&env));
}

#[test]
fn offline_is_one_line_naming_the_host_exit_1_and_nothing_loaded() {
    let env = TestEnv::with_plugins(&["spine_otc"]);
    // A port that was just free: nothing listens on it.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let output = env
        .cmd()
        .env("SPINE_TODAY", TODAY)
        .args([
            "run",
            "otc.fetch",
            "-p",
            &format!("base_url=http://127.0.0.1:{port}"),
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = common::stderr_of(&output);
    let lines: Vec<&str> = stderr.lines().filter(|l| l.contains("error")).collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(lines[0].contains("cannot reach 127.0.0.1: "), "{stderr}");
    assert!(lines[0].contains("nothing was loaded"), "{stderr}");
    assert_eq!(env.count("SELECT count(*) FROM otc_raw"), 0);
    assert_eq!(
        env.count("SELECT count(*) FROM core_executions WHERE status = 'failed'"),
        1
    );
}

#[test]
fn a_week_not_yet_due_is_refused_before_any_request_naming_its_date() {
    let env = TestEnv::with_plugins(&["spine_otc"]);
    let server = Server::start(|payload, _| panic!("no request may be made: {payload}"));
    let output = env
        .cmd()
        .env("SPINE_TODAY", TODAY)
        .args(["run", "otc.fetch", "-p", &format!("base_url={}", server.url)])
        .args(["-p", "week_ending=2025-11-21", "-p", "tiers=T1,OTCE"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = common::stderr_of(&output);
    assert!(
        stderr.contains(
            "week ending 2025-11-21 is not published yet (today is 2025-12-15): OTCE is due 2025-12-22"
        ),
        "{stderr}"
    );
    assert_eq!(server.requests(), 0);
    assert!(!env.db.exists(), "a refused request creates no database");
}

#[test]
fn another_process_writes_while_a_fetch_waits_on_the_network() {
    let env = TestEnv::with_plugins(&["spine_otc"]);
    assert_eq!(
        env.cmd().args(["db", "init"]).output().unwrap().status.code(),
        Some(0)
    );
    let (release, held) = mpsc::channel();
    let (asked, first_request) = mpsc::channel();
    let mut held = Some(held);
    let mut serve = finra(tier1_ats(10_000, "2025-12-01"));
    let server = Server::start(move |payload, count| {
        let reply = serve(payload, count);
        match held.take() {
            Some(held) => {
                asked.send(()).unwrap();
                Reply::HoldThen(held, Box::new(reply))
            }
            None => reply,
        }
    });
    let mut fetch = env.background_cmd();
    fetch
        .env("SPINE_TODAY", TODAY)
        .args(["run", "otc.fetch", "--json"]);
    for param in fetch_params(&server, &["tiers=T1", "types=ATS"]) {
        fetch.arg("-p").arg(param);
    }
    let fetch = fetch.spawn().unwrap();
    first_request.recv().unwrap();

    // The fetch is waiting on the server: the write lock is free. A writer
    // that does not wait at all gets it, and another run completes.
    let conn = env.conn();
    conn.busy_timeout(std::time::Duration::ZERO).unwrap();
    conn.execute_batch("BEGIN IMMEDIATE; CREATE TABLE outside_writer (n); COMMIT")
        .expect("the write lock is free while the fetch waits on the network");
    let file = write_file(
        &env,
        "other.psv",
        &["NMS Tier 1|IBM|IBM Corp.|ATS|UBSA|900|9|2025-12-01"],
    );
    let (code, other) = run_on(&env, TODAY, "otc.ingest", &[format!("file_path={file}")]);
    assert_eq!(code, 0, "{other}");

    release.send(()).unwrap();
    let output = finish(fetch, "the fetch");
    assert_eq!(output.status.code(), Some(0), "{}", common::stderr_of(&output));
    let execution: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(execution["metrics"]["ingest"]["inserted"], 5, "{execution}");
    assert_eq!(env.count("SELECT count(*) FROM otc_raw"), 6);
}

#[test]
fn ctrl_c_while_a_fetch_waits_for_the_lock_to_write_records_it_cancelled_once_the_lock_is_free() {
    let env = TestEnv::with_plugins(&["spine_otc"]);
    assert_eq!(
        env.cmd().args(["db", "init"]).output().unwrap().status.code(),
        Some(0)
    );
    let (release, held) = mpsc::channel();
    let (asked, first_request) = mpsc::channel();
    let mut held = Some(held);
    let mut serve = finra(tier1_ats(10_000, "2025-12-01"));
    let server = Server::start(move |payload, count| {
        let reply = serve(payload, count);
        match held.take() {
            Some(held) => {
                asked.send(()).unwrap();
                Reply::HoldThen(held, Box::new(reply))
            }
            None => reply,
        }
    });
    let mut fetch = env.background_cmd();
    fetch
        .env("SPINE_TODAY", TODAY)
        .env("SPINE_LOG_LEVEL", "info")
        .args(["run", "otc.fetch", "--json"]);
    for param in fetch_params(&server, &["tiers=T1", "types=ATS"]) {
        fetch.arg("-p").arg(param);
    }
    let mut fetch = fetch.spawn().unwrap();
    let lines = common::stderr_lines(&mut fetch);
    first_request.recv().unwrap();
    // The fetch has started (its execution is recorded) and waits on the
    // network; the test takes the write lock, then lets the download finish.
    let conn = env.conn();
    conn.busy_timeout(std::time::Duration::ZERO).unwrap();
    conn.execute_batch("BEGIN IMMEDIATE").unwrap();
    release.send(()).unwrap();
    common::wait_for_line(&lines, "waiting for another process's run to finish writing");
    common::signal(&fetch, libc::SIGINT);
    // Cancelled before it wrote, it still needs the lock to record its end:
    // it waits again (and says so) until the lock is free.
    common::wait_for_line(&lines, "waiting for another process's run to finish writing");
    conn.execute_batch("COMMIT").unwrap();
    let output = finish(fetch, "the cancelled fetch");
    assert_eq!(output.status.code(), Some(130));
    let execution: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(execution["status"], "cancelled", "{execution}");
    assert_eq!(
        env.count("SELECT count(*) FROM core_executions WHERE status = 'cancelled'"),
        1
    );
    assert_eq!(env.count("SELECT count(*) FROM otc_raw"), 0);
    // What was downloaded stays archived for the next run.
    assert_eq!(archived_names(&env), ["T1-ATS-2025-12-01.psv"]);
}
