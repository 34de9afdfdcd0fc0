//! Property tests of the parser, on arbitrary bytes and on arbitrary
//! mutations of valid files: it never panics, and every physical line is
//! accounted for.
//!
//! The expectations are counted from the outside, never from what the parser
//! says: every `\n` of the input ends a line, every line after the header
//! (the first non-blank line) that is not blank is one record, and each must
//! come out once, in order, as a line or a reject at its own line number. A
//! parser that drops a line, merges two (as a stray `"` once did) or numbers
//! one wrongly fails. Beyond the count, a line whose `|`s do not make 8 fields
//! must be a reject, and a line still written as one of the valid file's must
//! be read with the values it was written with. Copied lines are checked
//! against the ingest's own rule for duplicates, the record hash (with
//! `-p week_ending` given, so every line has the same week).

use chrono::NaiveDate;
use proptest::prelude::*;
use spine_otc::hash::{HashKey, RecordHasher, Venue};
use spine_otc::parse::{DateWindow, Parser, Record, COLUMNS};
use spine_otc::tier::Tier;
use std::collections::HashSet;

const HEADER: &str = "tierDescription|issueSymbolIdentifier|issueName|marketParticipantName|MPID|\
totalWeeklyShareQuantity|totalWeeklyTradeCount|lastUpdateDate\n";

/// The week every line gets, as with `-p week_ending=2025-12-12`.
const GIVEN_WEEK: &str = "2025-12-12";

/// The fields of valid line `i`, in FINRA's column order.
fn valid_fields(i: usize) -> [String; 8] {
    [
        ["NMS Tier 1", "NMS Tier 2", "OTC"][i % 3].to_owned(),
        format!("SYM{i}"),
        format!("Issue {i}, Inc. $1"),
        format!("VENUE {i} ATS"),
        format!("V{i}"),
        (1000 + i * 7).to_string(),
        (1 + i).to_string(),
        "2025-12-15".to_owned(),
    ]
}

/// Valid line `i`, as written.
fn valid_line(i: usize) -> String {
    valid_fields(i).join("|")
}

/// A valid file of `rows` distinct lines after the header.
fn valid_file(rows: usize) -> Vec<u8> {
    let mut text = HEADER.to_owned();
    for i in 0..rows {
        text.push_str(&valid_line(i));
        text.push('\n');
    }
    text.into_bytes()
}

/// What the parser made of one line.
#[derive(Debug)]
struct Parsed {
    line: u64,
    /// A line's values joined by `|` in FINRA's column order, and its record
    /// hash; `None` for a reject.
    read: Option<(String, String)>,
}

/// Parses `input` whole, in the order the parser gives; the error code when
/// the file is refused.
fn parse(input: &[u8]) -> Result<Vec<Parsed>, String> {
    let run_day = NaiveDate::from_ymd_opt(2026, 1, 15).unwrap();
    let mut parser = Parser::new(input, "p.psv", DateWindow::until_a_year_after(run_day))
        .map_err(|e| e.code.to_string())?;
    let mut parsed = Vec::new();
    let mut hasher = RecordHasher::default();
    while let Some(record) = parser.next_record().map_err(|e| e.code.to_string())? {
        parsed.push(match record {
            Record::Line(line) => {
                let key = HashKey {
                    week_ending: GIVEN_WEEK,
                    tier: Tier::parse(line.tier).map_or(line.tier, |tier| tier.canonical()),
                    symbol: line.symbol,
                    venue: Venue::of(line.mpid, line.venue_name),
                    share_volume: line.share_volume,
                    trade_count: line.trade_count,
                };
                let mut hash = String::new();
                hasher.push_hash(&key, &mut hash);
                let values = [
                    line.tier,
                    line.symbol,
                    line.issue_name,
                    line.venue_name,
                    line.mpid,
                    &line.share_volume.to_string(),
                    &line.trade_count.to_string(),
                    line.last_update_text,
                ]
                .join("|");
                Parsed {
                    line: line.line,
                    read: Some((values, hash)),
                }
            }
            Record::Reject(reject) => {
                assert!(!reject.reason.is_empty(), "a reject without a reason");
                Parsed {
                    line: reject.line,
                    read: None,
                }
            }
        });
    }
    Ok(parsed)
}

fn blank(line: &[u8]) -> bool {
    line.iter().all(u8::is_ascii_whitespace)
}

/// The records of `input`, counted from its bytes: each line after the first
/// non-blank one (the header) that is not blank, as its number and its bytes
/// without the line ending.
fn records_in(input: &[u8]) -> Vec<(u64, &[u8])> {
    let mut non_blank = input
        .split(|&b| b == b'\n')
        .zip(1..)
        .filter(|(line, _)| !blank(line))
        .map(|(line, number)| (number, line.strip_suffix(b"\r").unwrap_or(line)));
    non_blank.next(); // the header
    non_blank.collect()
}

/// Asserts that every record of `input` came out once, in order, at its line.
fn assert_every_line_once(input: &[u8], parsed: &[Parsed]) -> Result<(), TestCaseError> {
    let expected: Vec<u64> = records_in(input).iter().map(|(number, _)| *number).collect();
    let emitted: Vec<u64> = parsed.iter().map(|p| p.line).collect();
    prop_assert_eq!(emitted, expected);
    Ok(())
}

/// Asserts, for `input` under the 8-column [`HEADER`], that every record came
/// out once at its line, that a line without 8 fields is a reject, and that a
/// line still written as valid line `i` (`i < rows`) is read as written.
fn assert_read_as_written(input: &[u8], parsed: &[Parsed], rows: usize) -> Result<(), TestCaseError> {
    assert_every_line_once(input, parsed)?;
    let valid: HashSet<String> = (0..rows).map(valid_line).collect();
    for ((number, written), parsed) in records_in(input).into_iter().zip(parsed) {
        let fields = written.iter().filter(|&&b| b == b'|').count() + 1;
        if fields != COLUMNS.len() {
            prop_assert!(
                parsed.read.is_none(),
                "line {} has {} fields, yet was read",
                number,
                fields
            );
        }
        if let Some(text) = std::str::from_utf8(written)
            .ok()
            .filter(|text| valid.contains(*text))
        {
            let values = parsed.read.as_ref().map(|(values, _)| values.as_str());
            prop_assert_eq!(values, Some(text), "line {}", number);
        }
    }
    Ok(())
}

/// One edit of a file, after its header.
#[derive(Debug, Clone)]
enum Mutation {
    Replace(usize, u8),
    Insert(usize, u8),
    Delete(usize),
    /// Copies a whole line (with its newline) to after another line.
    CopyLine(usize, usize),
    /// Cuts the file short, as a broken download would.
    Truncate(usize),
}

/// Applies `mutations` to the part of `input` after the header.
fn apply(mut input: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    let body = HEADER.len();
    for mutation in mutations {
        let span = input.len() - body;
        match *mutation {
            Mutation::Replace(at, byte) if span > 0 => input[body + at % span] = byte,
            Mutation::Insert(at, byte) => input.insert(body + at % (span + 1), byte),
            Mutation::Delete(at) if span > 0 => {
                input.remove(body + at % span);
            }
            Mutation::CopyLine(from, to) => {
                let starts: Vec<usize> = std::iter::once(body)
                    .chain((body..input.len()).filter(|&i| input[i] == b'\n').map(|i| i + 1))
                    .filter(|&start| start < input.len())
                    .collect();
                if starts.is_empty() {
                    continue;
                }
                let start = starts[from % starts.len()];
                let end = input[start..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(input.len(), |i| start + i + 1);
                let mut line = input[start..end].to_vec();
                if line.last() != Some(&b'\n') {
                    line.push(b'\n');
                }
                let at = starts[to % starts.len()];
                input.splice(at..at, line);
            }
            Mutation::Truncate(at) if span > 0 => input.truncate(body + at % span),
            _ => {}
        }
    }
    input
}

/// Up to 12 edits, writing bytes drawn from `bytes`.
fn mutations(bytes: Vec<u8>) -> impl Strategy<Value = Vec<Mutation>> {
    let byte = proptest::sample::select(bytes);
    let mutation = prop_oneof![
        3 => (any::<usize>(), byte.clone()).prop_map(|(at, b)| Mutation::Replace(at, b)),
        3 => (any::<usize>(), byte).prop_map(|(at, b)| Mutation::Insert(at, b)),
        2 => any::<usize>().prop_map(Mutation::Delete),
        2 => (any::<usize>(), any::<usize>()).prop_map(|(from, to)| Mutation::CopyLine(from, to)),
        1 => any::<usize>().prop_map(Mutation::Truncate),
    ];
    proptest::collection::vec(mutation, 0..12)
}

/// Bytes that break fields and lines: separators, quotes, line ends, signs,
/// digits, letters, invalid UTF-8, a BOM's bytes, a NUL and an ESC.
const EDIT_BYTES: &[u8] = &[
    b'|', b'"', b'\n', b'\r', b' ', b'\t', b',', b'-', b'+', b'9', b'0', b'x', b'$', 0xff, 0xe9, 0xef, 0xbb,
    0xbf, 0, 0x1b,
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_bytes_are_records_or_a_refused_file(input in proptest::collection::vec(any::<u8>(), 0..2048)) {
        match parse(&input) {
            Ok(parsed) => assert_every_line_once(&input, &parsed)?,
            Err(code) => {
                prop_assert!(code == "otc.parse.bad_header" || code == "otc.parse.empty", "{}", code);
                prop_assert_eq!(code == "otc.parse.empty", input.split(|&b| b == b'\n').all(blank));
            }
        }
    }

    #[test]
    fn any_bytes_after_a_header_are_accounted_for(body in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let input = [HEADER.as_bytes(), &body].concat();
        assert_read_as_written(&input, &parse(&input).unwrap(), 0)?;
    }

    #[test]
    fn any_mutation_of_a_valid_file_is_accounted_for_line_by_line(
        rows in 1usize..40,
        edits in mutations(EDIT_BYTES.to_vec()),
    ) {
        let input = apply(valid_file(rows), &edits);
        assert_read_as_written(&input, &parse(&input).unwrap(), rows)?;
    }

    #[test]
    fn quotes_anywhere_never_join_or_drop_a_line(
        rows in 1usize..40,
        edits in mutations(vec![b'"', b'"', b'"', b'|', b'\n', b'\r', b' ', 0xff, b'x']),
    ) {
        let input = apply(valid_file(rows), &edits);
        assert_read_as_written(&input, &parse(&input).unwrap(), rows)?;
    }

    #[test]
    fn a_stray_quote_in_a_name_is_kept_as_written(
        quotes in proptest::collection::vec((2usize..4, any::<usize>()), 1..40),
    ) {
        // Line i gets one `"` in its issue name (field 2) or participant
        // name (field 3), at any place, and must be read with it there.
        let mut expected = Vec::new();
        let mut input = HEADER.to_owned();
        for (i, &(field, at)) in quotes.iter().enumerate() {
            let mut fields = valid_fields(i);
            let place = at % (fields[field].len() + 1);
            fields[field].insert(place, '"');
            let line = fields.join("|");
            input += &line;
            input.push('\n');
            expected.push(Some(line));
        }
        let parsed = parse(input.as_bytes()).unwrap();
        assert_every_line_once(input.as_bytes(), &parsed)?;
        let read: Vec<Option<String>> = parsed.into_iter().map(|p| p.read.map(|(values, _)| values)).collect();
        prop_assert_eq!(read, expected);
    }

    #[test]
    fn copied_lines_are_duplicates_and_nothing_else(
        rows in 1usize..40,
        copies in proptest::collection::vec((any::<usize>(), any::<usize>()), 0..10),
    ) {
        let edits: Vec<Mutation> = copies.iter().map(|&(from, to)| Mutation::CopyLine(from, to)).collect();
        let input = apply(valid_file(rows), &edits);
        let parsed = parse(&input).unwrap();
        assert_read_as_written(&input, &parsed, rows)?;
        // Counted as the ingest counts: a line whose record hash was seen
        // before is a duplicate. The input has `rows` distinct lines, and
        // each copy is one more line.
        let mut seen = HashSet::new();
        let hashes: Vec<&str> = parsed.iter().filter_map(|p| p.read.as_ref().map(|(_, hash)| hash.as_str())).collect();
        let inserted = hashes.iter().filter(|hash| seen.insert(**hash)).count();
        prop_assert_eq!(
            (inserted, hashes.len() - inserted, parsed.len() - hashes.len()),
            (rows, copies.len(), 0)
        );
    }

    #[test]
    fn columns_in_any_order_with_extra_ones_read_the_same(
        order in Just((0..8 + 3).collect::<Vec<usize>>()).prop_shuffle(),
        rows in 1usize..20,
    ) {
        // Positions 8, 9 and 10 are extra columns; their values are noise.
        let name = |column: usize| COLUMNS.get(column).map_or(format!("extra{column}"), |c| c.to_string());
        let mut input = order.iter().map(|&c| name(c)).collect::<Vec<_>>().join("|") + "\n";
        for i in 0..rows {
            let fields = valid_fields(i);
            let value = |column: usize| fields.get(column).cloned().unwrap_or(format!("noise \"{i}/x"));
            input += &(order.iter().map(|&c| value(c)).collect::<Vec<_>>().join("|") + "\n");
        }
        let read = |parsed: Vec<Parsed>| parsed.into_iter().map(|p| (p.line, p.read)).collect::<Vec<_>>();
        let reordered = read(parse(input.as_bytes()).unwrap());
        let canonical = read(parse(&valid_file(rows)).unwrap());
        prop_assert!(reordered.iter().all(|(_, read)| read.is_some()));
        prop_assert_eq!(reordered, canonical);
    }
}
