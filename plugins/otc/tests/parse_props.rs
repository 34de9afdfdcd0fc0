//! Property tests of the parser, on arbitrary bytes and on arbitrary
//! mutations of valid files: it never panics, and nothing disappears.
//!
//! "Nothing disappears" is OTC.md's `records = inserted + duplicates +
//! rejected`, checked against the input itself: the records are counted
//! straight from its bytes (every non-blank line after the header, when no
//! quote joins lines), each must come out as a line or a reject at its own
//! line number, and the lines are then split into inserted and duplicates by
//! the ingest's own rule, the record hash (with `-p week_ending` given, so
//! every line has the same week).

use proptest::prelude::*;
use spine_otc::hash::{HashKey, RecordHasher, Venue};
use spine_otc::parse::{Parser, Record, COLUMNS};
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

/// A valid file of `rows` distinct lines after the header.
fn valid_file(rows: usize) -> Vec<u8> {
    let mut text = HEADER.to_owned();
    for i in 0..rows {
        text.push_str(&valid_fields(i).join("|"));
        text.push('\n');
    }
    text.into_bytes()
}

/// What parsing gave: each line's number and record hash, each reject's number.
#[derive(Debug, Default)]
struct Outcome {
    lines: Vec<(u64, String)>,
    rejects: Vec<u64>,
}

impl Outcome {
    /// The line numbers of every record, lines and rejects, in order.
    fn numbers(&self) -> Vec<u64> {
        let mut all: Vec<u64> = self
            .lines
            .iter()
            .map(|(n, _)| *n)
            .chain(self.rejects.clone())
            .collect();
        all.sort_unstable();
        all
    }

    /// (inserted, duplicates, rejected), as the ingest counts them: a line
    /// whose record hash was seen before is a duplicate.
    fn counts(&self) -> (usize, usize, usize) {
        let mut seen = HashSet::new();
        let inserted = self.lines.iter().filter(|(_, hash)| seen.insert(hash)).count();
        (inserted, self.lines.len() - inserted, self.rejects.len())
    }
}

/// Parses `input` whole; the error code when the file is refused.
fn parse(input: &[u8]) -> Result<Outcome, String> {
    let mut parser = Parser::new(input, "p.psv")
        .map_err(|e| e.code.to_string())?
        .expect("Parser::new never returns None");
    let mut outcome = Outcome::default();
    let mut hasher = RecordHasher::default();
    while let Some(record) = parser.next_record().map_err(|e| e.code.to_string())? {
        match record {
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
                outcome.lines.push((line.line, hash));
            }
            Record::Reject(reject) => {
                assert!(!reject.reason.is_empty(), "a reject without a reason");
                outcome.rejects.push(reject.line);
            }
        }
    }
    Ok(outcome)
}

/// The records of a quote-free `input`, counted from its bytes: the numbers
/// of its non-blank lines after the first non-blank one (the header).
fn records_in(input: &[u8]) -> Vec<u64> {
    assert!(
        !input.contains(&b'"'),
        "quotes may join lines; count those another way"
    );
    let mut non_blank = input
        .split(|&b| b == b'\n')
        .zip(1..)
        .filter(|(line, _)| !line.iter().all(u8::is_ascii_whitespace))
        .map(|(_, number)| number);
    non_blank.next(); // the header
    non_blank.collect()
}

/// Asserts that every record of quote-free `input` came out once, at its
/// line, and that records = inserted + duplicates + rejected.
fn assert_accounted(input: &[u8], outcome: &Outcome) -> Result<(), TestCaseError> {
    let records = records_in(input);
    prop_assert_eq!(outcome.numbers(), records.clone());
    let (inserted, duplicates, rejected) = outcome.counts();
    prop_assert_eq!(records.len(), inserted + duplicates + rejected);
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

/// Bytes that break fields and lines: separators, line ends, signs, digits,
/// letters, invalid UTF-8, a BOM's bytes and a NUL. No quote.
const EDIT_BYTES: &[u8] = &[
    b'|', b'\n', b'\r', b' ', b'\t', b',', b'-', b'+', b'9', b'0', b'x', b'$', 0xff, 0xe9, 0xef, 0xbb, 0xbf,
    0,
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_bytes_are_records_or_a_refused_file(input in proptest::collection::vec(any::<u8>(), 0..2048)) {
        match parse(&input) {
            Ok(outcome) => {
                let numbers = outcome.numbers();
                let physical_lines = input.iter().filter(|&&b| b == b'\n').count() as u64 + 1;
                prop_assert!(numbers.windows(2).all(|w| w[0] < w[1]), "two records on one line");
                prop_assert!(numbers.iter().all(|n| (2..=physical_lines).contains(n)));
                if !input.contains(&b'"') {
                    assert_accounted(&input, &outcome)?;
                }
            }
            Err(code) => {
                prop_assert!(code == "otc.parse.bad_header" || code == "otc.parse.empty", "{}", code);
                let blank = input.split(|&b| b == b'\n').all(|l| l.iter().all(u8::is_ascii_whitespace));
                prop_assert_eq!(code == "otc.parse.empty", blank);
            }
        }
    }

    #[test]
    fn any_bytes_after_a_header_are_accounted_for(
        body in proptest::collection::vec(any::<u8>().prop_filter("no quote", |&b| b != b'"'), 0..2048),
    ) {
        let input = [HEADER.as_bytes(), &body].concat();
        assert_accounted(&input, &parse(&input).unwrap())?;
    }

    #[test]
    fn any_mutation_of_a_valid_file_is_accounted_for_line_by_line(
        rows in 1usize..40,
        edits in mutations(EDIT_BYTES.to_vec()),
    ) {
        let input = apply(valid_file(rows), &edits);
        assert_accounted(&input, &parse(&input).unwrap())?;
    }

    #[test]
    fn copied_lines_are_duplicates_and_nothing_else(
        rows in 1usize..40,
        copies in proptest::collection::vec((any::<usize>(), any::<usize>()), 0..10),
    ) {
        let edits: Vec<Mutation> = copies.iter().map(|&(from, to)| Mutation::CopyLine(from, to)).collect();
        let input = apply(valid_file(rows), &edits);
        let outcome = parse(&input).unwrap();
        assert_accounted(&input, &outcome)?;
        prop_assert_eq!(outcome.counts(), (rows, copies.len(), 0));
    }

    #[test]
    fn quotes_may_join_lines_but_every_record_keeps_its_own_line(
        rows in 1usize..40,
        edits in mutations(vec![b'"', b'|', b'\n', b'\r', 0xff, b'x', b'9', b'-']),
    ) {
        let input = apply(valid_file(rows), &edits);
        let outcome = parse(&input).unwrap();
        let numbers = outcome.numbers();
        let physical_lines = input.iter().filter(|&&b| b == b'\n').count() as u64 + 1;
        prop_assert!(numbers.windows(2).all(|w| w[0] < w[1]), "two records on one line");
        prop_assert!(numbers.iter().all(|n| (2..=physical_lines).contains(n)));
        let (inserted, duplicates, rejected) = outcome.counts();
        prop_assert_eq!(numbers.len(), inserted + duplicates + rejected);
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
            let value = |column: usize| fields.get(column).cloned().unwrap_or(format!("noise {i}|x").replace('|', "/"));
            input += &(order.iter().map(|&c| value(c)).collect::<Vec<_>>().join("|") + "\n");
        }
        let reordered = parse(input.as_bytes()).unwrap();
        let canonical = parse(&valid_file(rows)).unwrap();
        prop_assert!(reordered.rejects.is_empty());
        prop_assert_eq!(reordered.lines, canonical.lines);
    }
}
