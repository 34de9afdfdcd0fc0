//! Property tests of the parser: whatever the bytes, it never panics, every
//! record it sees is either a line or a reject, and line numbers stay true.

use proptest::prelude::*;
use spine_otc::parse::{Parser, Record};

const HEADER: &str = "tierDescription|issueSymbolIdentifier|issueName|marketParticipantName|MPID|\
totalWeeklyShareQuantity|totalWeeklyTradeCount|lastUpdateDate\n";

/// A valid file of `rows` lines after the header.
fn valid_file(rows: usize) -> Vec<u8> {
    let mut text = HEADER.to_owned();
    for i in 0..rows {
        let tier = ["NMS Tier 1", "NMS Tier 2", "OTC"][i % 3];
        text.push_str(&format!(
            "{tier}|SYM{i}|Issue {i}, Inc. $1|VENUE {i} ATS|V{i}|{}|{}|2025-12-15\n",
            1000 + i * 7,
            1 + i
        ));
    }
    text.into_bytes()
}

/// What parsing `input` gave: the line number of each accepted line and of
/// each reject, or the error code when the header was refused.
struct Outcome {
    lines: Vec<u64>,
    rejects: Vec<u64>,
}

fn parse(input: &[u8]) -> Result<Option<Outcome>, String> {
    let parser = Parser::new(input, "p.psv").map_err(|e| e.code)?;
    let Some(mut parser) = parser else { return Ok(None) };
    let mut outcome = Outcome {
        lines: Vec::new(),
        rejects: Vec::new(),
    };
    while let Some(record) = parser.next_record().map_err(|e| e.code)? {
        match record {
            Record::Line(line) => outcome.lines.push(line.line),
            Record::Reject(reject) => {
                assert!(!reject.reason.is_empty());
                outcome.rejects.push(reject.line);
            }
        }
    }
    Ok(Some(outcome))
}

/// Replace, insert or delete one byte at a position after the header.
#[derive(Debug, Clone)]
enum Mutation {
    Replace(usize, u8),
    Insert(usize, u8),
    Delete(usize),
}

fn apply(mut input: Vec<u8>, mutations: &[Mutation], keep_lines: bool) -> Vec<u8> {
    let body = HEADER.len();
    for mutation in mutations {
        let span = input.len() - body;
        match *mutation {
            Mutation::Replace(at, byte) if span > 0 => {
                let at = body + at % span;
                if !(keep_lines && input[at] == b'\n') {
                    input[at] = byte;
                }
            }
            // With lines kept, never after the final newline: that would add a line.
            Mutation::Insert(at, byte) => {
                let room = if keep_lines { span } else { span + 1 };
                input.insert(body + at % room.max(1), byte);
            }
            Mutation::Delete(at) if span > 0 => {
                let at = body + at % span;
                if !(keep_lines && input[at] == b'\n') {
                    input.remove(at);
                }
            }
            _ => {}
        }
    }
    input
}

fn mutations(bytes: Vec<u8>) -> impl Strategy<Value = Vec<Mutation>> {
    let byte = proptest::sample::select(bytes);
    let mutation = prop_oneof![
        (any::<usize>(), byte.clone()).prop_map(|(at, b)| Mutation::Replace(at, b)),
        (any::<usize>(), byte).prop_map(|(at, b)| Mutation::Insert(at, b)),
        any::<usize>().prop_map(Mutation::Delete),
    ];
    proptest::collection::vec(mutation, 0..12)
}

proptest! {
    #[test]
    fn any_bytes_give_records_or_a_refused_header(input in proptest::collection::vec(any::<u8>(), 0..2048)) {
        match parse(&input) {
            Ok(_) => {}
            Err(code) => prop_assert_eq!(code, "otc.parse.bad_header"),
        }
    }

    #[test]
    fn any_bytes_after_a_header_are_lines_or_rejects(body in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let mut input = HEADER.as_bytes().to_vec();
        input.extend(body);
        let physical_lines = input.iter().filter(|&&b| b == b'\n').count() as u64 + 1;
        let outcome = parse(&input).unwrap().unwrap();
        let mut all: Vec<u64> = outcome.lines.iter().chain(&outcome.rejects).copied().collect();
        all.sort_unstable();
        all.dedup();
        // Every record has its own line, after the header.
        prop_assert_eq!(all.len(), outcome.lines.len() + outcome.rejects.len());
        prop_assert!(all.iter().all(|&line| (2..=physical_lines).contains(&line)));
    }

    #[test]
    fn mutations_that_keep_lines_keep_every_record_at_its_line(
        rows in 1usize..40,
        edits in mutations(vec![b'|', b' ', b',', b'-', b'9', b'x', b'$', 0xff, 0xe9, b'\r', b'\t']),
    ) {
        let input = apply(valid_file(rows), &edits, true);
        let outcome = parse(&input).unwrap().unwrap();
        let mut all: Vec<u64> = outcome.lines.iter().chain(&outcome.rejects).copied().collect();
        all.sort_unstable();
        // records = accepted + rejected, each at the line it was written on.
        prop_assert_eq!(all, (2..rows as u64 + 2).collect::<Vec<_>>());
    }

    #[test]
    fn any_mutation_of_a_valid_file_is_lines_or_rejects(
        rows in 1usize..40,
        edits in mutations(vec![b'|', b'"', b'\n', b'\r', 0xff, b'x', b'9', b'-']),
    ) {
        let input = apply(valid_file(rows), &edits, false);
        let outcome = parse(&input).unwrap().unwrap();
        // Quotes and newlines may join or split lines, but nothing panics and
        // every record is accounted for once.
        let records = outcome.lines.len() + outcome.rejects.len();
        prop_assert!(records <= rows + edits.len());
    }
}
