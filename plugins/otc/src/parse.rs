//! Reading FINRA's pipe-delimited weekly files, one line at a time.
//!
//! The parser owns the file format: the header (columns found by name, in any
//! order, extra ones ignored), quoting, a UTF-8 BOM, CRLF, a missing final
//! newline, and the check of every field. It knows nothing of the database or
//! of trading weeks, so it is tested on byte slices. A line it cannot read
//! becomes a [`Reject`] with its line number and a reason that says what was
//! expected and what was found; only an empty file, a header without FINRA's
//! columns, or a failing read, stops it. It never panics on any input.
//!
//! Quoting is csv's: a quoted field may hold `|` and even line breaks, so a
//! quote opened and never closed runs to the end of the file, as one reject
//! at the line where it opened whose reason names the lines it took in. Real
//! FINRA files have no quotes at all.
//!
//! Memory stays bounded whatever the input: of a line longer than
//! [`MAX_LINE_BYTES`] only the start is kept (it is a reject anyway), and a
//! quoted field running past [`MAX_RECORD_BYTES`] stops the file with an
//! error naming the line it opened on.

use crate::week::parse_date;
use chrono::NaiveDate;
use csv::{ByteRecord, ReaderBuilder};
use spine_plugin_api::{Error, Result};
use std::collections::VecDeque;
use std::io::{self, Read};
use std::num::IntErrorKind;

/// FINRA's columns. The indexes below point into this list.
pub const COLUMNS: [&str; 8] = [
    "tierDescription",
    "issueSymbolIdentifier",
    "issueName",
    "marketParticipantName",
    "MPID",
    "totalWeeklyShareQuantity",
    "totalWeeklyTradeCount",
    "lastUpdateDate",
];
const TIER: usize = 0;
const SYMBOL: usize = 1;
const ISSUE_NAME: usize = 2;
const VENUE_NAME: usize = 3;
const MPID: usize = 4;
const SHARE_VOLUME: usize = 5;
const TRADE_COUNT: usize = 6;
const LAST_UPDATE: usize = 7;

/// How much of a bad value a reason quotes, and of a bad header.
const VALUE_QUOTE_LIMIT: usize = 60;
const HEADER_QUOTE_LIMIT: usize = 300;

/// The longest line accepted, in bytes. FINRA's lines are about 100 bytes; a
/// longer one is a damaged file, and is rejected rather than stored.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// The most bytes one record may take in over several lines, through a quote
/// left open, before the file is refused.
pub const MAX_RECORD_BYTES: u64 = 1 << 20;

/// Bytes served of a line longer than [`MAX_LINE_BYTES`]: enough to see it
/// is too long.
const CUT_LINE_BYTES: u64 = MAX_LINE_BYTES as u64 + 1;

/// One well-formed line. Text is trimmed and borrowed from the parser.
#[derive(Debug)]
pub struct Line<'a> {
    pub line: u64,
    /// As written; an unknown tier is the normalizer's to reject.
    pub tier: &'a str,
    pub symbol: &'a str,
    pub issue_name: &'a str,
    pub venue_name: &'a str,
    pub mpid: &'a str,
    pub share_volume: i64,
    pub trade_count: i64,
    pub last_update: NaiveDate,
    pub last_update_text: &'a str,
    record: &'a ByteRecord,
}

impl Line<'_> {
    /// The line as written, for a reject raised after parsing.
    pub fn raw_line(&self) -> String {
        raw_line(self.record)
    }
}

/// A line that could not be read, and why.
#[derive(Debug)]
pub struct Reject {
    pub line: u64,
    /// The line's fields joined back with `|` (quoted where needed), untruncated.
    pub raw_line: String,
    pub reason: String,
}

/// What one data line turned out to be.
#[derive(Debug)]
pub enum Record<'a> {
    Line(Line<'a>),
    Reject(Reject),
}

/// Streams the lines of one file.
pub struct Parser<R> {
    reader: csv::Reader<Terminated<R>>,
    /// Reused for every line, so reading allocates nothing in the steady state.
    record: ByteRecord,
    /// Where each of [`COLUMNS`] sits in a line.
    positions: [usize; 8],
    /// Fields per line, as in the header.
    width: usize,
    file: String,
}

impl<R: Read> Parser<R> {
    /// Reads the header of `input`; `file` names it in errors. An input with
    /// no line at all (an empty file, often a download cut short) is an error,
    /// like a header without FINRA's columns, so `Ok(None)` is never returned.
    pub fn new(input: R, file: &str) -> Result<Option<Self>> {
        // Flexible: a line with the wrong number of fields must reach us, to
        // become a reject with its line number rather than a read error.
        // Lines end at `\n` only (a CRLF's `\r` is trimmed with the last
        // field), which is what lets `read` count lines exactly.
        let mut reader = ReaderBuilder::new()
            .delimiter(b'|')
            .terminator(csv::Terminator::Any(b'\n'))
            .has_headers(false)
            .flexible(true)
            .from_reader(Terminated::new(input));
        let mut header = ByteRecord::new();
        let Some(span) = read(&mut reader, &mut header, file)? else {
            return Err(Error::new(
                "otc.parse.empty",
                "the file is empty: it has no header and no lines",
            )
            .with_location(file)
            .with_help(format!(
                "a FINRA weekly file starts with the header {}; download it again",
                COLUMNS.join("|")
            )));
        };
        let header_checked = match span.cut_length {
            Some(length) => Err(format!(
                "expected a header of at most {MAX_LINE_BYTES} bytes, found {length} bytes"
            )),
            None => find_columns(&header),
        };
        let positions = header_checked.map_err(|message| {
            Error::new("otc.parse.bad_header", message)
                .with_location(format!("{file}: line {}", span.line))
                .with_help(format!(
                    "a FINRA weekly file starts with the header {} (in any order; extra columns are ignored)",
                    COLUMNS.join("|")
                ))
        })?;
        Ok(Some(Parser {
            reader,
            record: ByteRecord::new(),
            positions,
            width: header.len(),
            file: file.to_owned(),
        }))
    }

    /// The next data line, `Ok(None)` at the end. Blank lines are not lines of
    /// data and are passed over.
    pub fn next_record(&mut self) -> Result<Option<Record<'_>>> {
        let Some(Span {
            line,
            last_line,
            cut_length,
        }) = read(&mut self.reader, &mut self.record, &self.file)?
        else {
            return Ok(None);
        };
        let checked = match cut_length {
            Some(length) => Err(too_long(length)),
            None => check_line(&self.record, &self.positions, self.width, line),
        };
        Ok(Some(match checked {
            Ok(checked) => Record::Line(checked),
            Err(mut reason) => {
                if last_line > line {
                    reason.push_str(&format!(
                        " (a quoted field runs over lines {line} to {last_line}: a quote not closed on \
                             its own line takes in the lines after it)"
                    ));
                }
                Record::Reject(Reject {
                    line,
                    raw_line: raw_line(&self.record),
                    reason,
                })
            }
        }))
    }
}

/// Where a record sits in the file.
struct Span {
    /// The lines it starts and ends on (they differ when a quoted field
    /// holds line breaks).
    line: u64,
    last_line: u64,
    /// The length of its longest line, when that line was too long to keep
    /// whole.
    cut_length: Option<u64>,
}

/// Reads the next record that is not a blank line.
///
/// csv's own record positions lag behind blank lines and CRLF endings, so the
/// line is counted back from the reader's position after the record: that is
/// the line after the record's final newline (every record ends with one, see
/// [`Terminated`]), minus the newlines inside its quoted fields.
fn read<R: Read>(
    reader: &mut csv::Reader<Terminated<R>>,
    record: &mut ByteRecord,
    file: &str,
) -> Result<Option<Span>> {
    loop {
        let start_line = reader.position().line();
        match reader.read_byte_record(record) {
            Ok(true) => {}
            Ok(false) => return Ok(None),
            Err(_) if reader.get_ref().record_too_long() => {
                return Err(Error::new(
                    "otc.parse.unclosed_quote",
                    format!(
                        "a quoted field runs on past {MAX_RECORD_BYTES} bytes; expected a quote \
                         closing it, on the line it opens on"
                    ),
                )
                .with_location(format!("{file}: line {start_line}"))
                .with_help("FINRA's files have no quotes: this one is damaged; download it again"));
            }
            Err(error) => return Err(read_error(file, error)),
        }
        let end = reader.position().byte();
        let cut_length = reader.get_mut().record_ended(end);
        let inner_newlines = record.as_slice().iter().filter(|&&b| b == b'\n').count() as u64;
        let mut last_line = reader.position().line().saturating_sub(1);
        let line = last_line.saturating_sub(inner_newlines);
        if reader.get_ref().closed_by_ending(end) {
            // The quote was left open: the record took in the input's last
            // newline (or the ending's), and ends on the line before.
            last_line = last_line.saturating_sub(1).max(line);
        }
        let blank =
            cut_length.is_none() && record.len() == 1 && record[0].iter().all(u8::is_ascii_whitespace);
        if !blank {
            return Ok(Some(Span {
                line,
                last_line,
                cut_length,
            }));
        }
    }
}

/// The input, then an ending that makes every record end at a newline: a
/// `\n` when the input lacks a final one, then `"\n`. That quote closes a
/// quoted field left open at the end of the file (csv would otherwise end
/// the record at the end of the input, not at a newline); when no quote is
/// open it reads as a blank line, which is skipped.
///
/// It also bounds what csv holds in memory: of a line longer than
/// [`MAX_LINE_BYTES`] it serves only the first [`CUT_LINE_BYTES`] bytes and
/// the newline, noting the line's full length, and it fails a read once the
/// record being read passes [`MAX_RECORD_BYTES`].
struct Terminated<R> {
    inner: R,
    last_byte: Option<u8>,
    /// What is left to serve of the ending, once `inner` is exhausted.
    ending: Option<&'static [u8]>,
    /// Bytes served so far, the ending's included.
    served: u64,
    /// Bytes of the input's current line so far, served or not.
    line_bytes: u64,
    /// Lines cut short, oldest first: where each one's newline was served,
    /// and its full length.
    cut_lines: VecDeque<(u64, u64)>,
    /// Where the record being read starts, in bytes served.
    record_start: u64,
}

impl<R> Terminated<R> {
    fn new(inner: R) -> Self {
        Self {
            inner,
            last_byte: None,
            ending: None,
            served: 0,
            line_bytes: 0,
            cut_lines: VecDeque::new(),
            record_start: 0,
        }
    }

    /// True when a record that ended at byte `end` of what was served was
    /// closed by the ending's quote, that is, its quote was never closed.
    fn closed_by_ending(&self, end: u64) -> bool {
        self.ending.is_some_and(<[u8]>::is_empty) && end == self.served
    }

    /// Notes that a record ended at byte `end` of what was served; returns the
    /// full length of its longest line when one of its lines was cut short.
    fn record_ended(&mut self, end: u64) -> Option<u64> {
        self.record_start = end;
        let mut longest = None;
        while let Some(&(_, length)) = self.cut_lines.front().filter(|(newline, _)| *newline < end) {
            longest = longest.max(Some(length));
            self.cut_lines.pop_front();
        }
        longest
    }

    /// True when the record being read has passed [`MAX_RECORD_BYTES`].
    fn record_too_long(&self) -> bool {
        self.served - self.record_start > MAX_RECORD_BYTES
    }

    /// Drops from `buf[..read]`, just read from the input, the bytes of any
    /// line past its first [`CUT_LINE_BYTES`]; returns the bytes kept.
    fn cut_long_lines(&mut self, buf: &mut [u8], read: usize) -> usize {
        if self.line_bytes + read as u64 <= CUT_LINE_BYTES {
            // No line can be too long: the usual case, a search from the end.
            self.line_bytes = match buf[..read].iter().rposition(|&b| b == b'\n') {
                Some(newline) => (read - newline - 1) as u64,
                None => self.line_bytes + read as u64,
            };
            return read;
        }
        let mut kept = 0;
        for index in 0..read {
            let byte = buf[index];
            if byte == b'\n' {
                if self.line_bytes > CUT_LINE_BYTES {
                    self.cut_lines
                        .push_back((self.served + kept as u64, self.line_bytes));
                }
                self.line_bytes = 0;
            } else {
                self.line_bytes += 1;
                if self.line_bytes > CUT_LINE_BYTES {
                    continue;
                }
            }
            buf[kept] = byte;
            kept += 1;
        }
        kept
    }
}

impl<R: Read> Read for Terminated<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.record_too_long() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("a record runs on past {MAX_RECORD_BYTES} bytes"),
            ));
        }
        while self.ending.is_none() {
            let read = self.inner.read(buf)?;
            if read == 0 {
                if self.line_bytes > CUT_LINE_BYTES {
                    // The ending's newline ends the cut line.
                    self.cut_lines.push_back((self.served, self.line_bytes));
                }
                self.ending = Some(match self.last_byte {
                    None => b"",
                    Some(b'\n') => b"\"\n",
                    Some(_) => b"\n\"\n",
                });
                break;
            }
            let kept = self.cut_long_lines(buf, read);
            if kept > 0 {
                self.last_byte = Some(buf[kept - 1]);
                self.served += kept as u64;
                return Ok(kept);
            }
        }
        let ending = self.ending.unwrap_or_default();
        let served = ending.len().min(buf.len());
        buf[..served].copy_from_slice(&ending[..served]);
        self.ending = Some(&ending[served..]);
        self.served += served as u64;
        Ok(served)
    }
}

fn read_error(file: &str, error: csv::Error) -> Error {
    Error::new("otc.ingest.read", format!("cannot read the file: {error}")).with_location(file)
}

/// Maps FINRA's column names (trimmed, any case) to their positions, or says
/// which are missing or repeated.
fn find_columns(header: &ByteRecord) -> Result<[usize; 8], String> {
    let mut positions = [None; 8];
    for (position, name) in header.iter().enumerate() {
        let name = String::from_utf8_lossy(name);
        // Tools that write a BOM put it before the first column's name.
        let name = name.trim_start_matches('\u{feff}').trim();
        let Some(column) = COLUMNS.iter().position(|c| c.eq_ignore_ascii_case(name)) else {
            continue;
        };
        if let Some(first) = positions[column] {
            return Err(format!(
                "the header has column `{}` twice, as fields {} and {}",
                COLUMNS[column],
                first + 1,
                position + 1
            ));
        }
        positions[column] = Some(position);
    }
    let missing: Vec<String> = COLUMNS
        .iter()
        .zip(positions)
        .filter(|(_, position)| position.is_none())
        .map(|(name, _)| format!("`{name}`"))
        .collect();
    if !missing.is_empty() {
        let (noun, list) = match missing.len() {
            1 => ("column", missing[0].clone()),
            _ => ("columns", missing.join(", ")),
        };
        return Err(format!(
            "the header has no {noun} {list}; found {}",
            quote(&raw_line(header), HEADER_QUOTE_LIMIT)
        ));
    }
    Ok(positions.map(|position| position.unwrap_or_default()))
}

fn too_long(length: u64) -> String {
    format!("expected a line of at most {MAX_LINE_BYTES} bytes, found {length} bytes")
}

/// Checks one line's fields.
fn check_line<'r>(
    record: &'r ByteRecord,
    positions: &[usize; 8],
    width: usize,
    line: u64,
) -> Result<Line<'r>, String> {
    // The fields and the `|` between them; quotes and the newline not counted.
    let length = record.as_slice().len() + record.len().saturating_sub(1);
    if length > MAX_LINE_BYTES {
        return Err(too_long(length as u64));
    }
    if record.len() != width {
        let found = record.len();
        let noun = if found == 1 { "field" } else { "fields" };
        return Err(format!(
            "expected {width} fields as in the header, found {found} {noun}"
        ));
    }
    let text = |column: usize| -> Result<&'r str, String> {
        let bytes = &record[positions[column]];
        match std::str::from_utf8(bytes) {
            Ok(text) => Ok(text.trim()),
            Err(_) => Err(format!(
                "field {}: expected UTF-8 text, found \"{}\"",
                COLUMNS[column],
                clip(&bytes.escape_ascii().to_string(), VALUE_QUOTE_LIMIT)
            )),
        }
    };
    let integer = |column: usize| -> Result<i64, String> {
        let found = text(column)?;
        found.parse::<i64>().map_err(|error| {
            let expected = match error.kind() {
                IntErrorKind::PosOverflow | IntErrorKind::NegOverflow => "an integer that fits in 64 bits",
                _ => "an integer",
            };
            format!(
                "field {}: expected {expected}, found {}",
                COLUMNS[column],
                quote(found, VALUE_QUOTE_LIMIT)
            )
        })
    };
    // Checked in column order, so the reason is the first problem of the line.
    let tier = text(TIER)?;
    let symbol = text(SYMBOL)?;
    let issue_name = text(ISSUE_NAME)?;
    let venue_name = text(VENUE_NAME)?;
    let mpid = text(MPID)?;
    let share_volume = integer(SHARE_VOLUME)?;
    let trade_count = integer(TRADE_COUNT)?;
    let last_update_text = text(LAST_UPDATE)?;
    let last_update = parse_date(last_update_text).ok_or_else(|| {
        format!(
            "field {}: expected a date YYYY-MM-DD, found {}",
            COLUMNS[LAST_UPDATE],
            quote(last_update_text, VALUE_QUOTE_LIMIT)
        )
    })?;
    Ok(Line {
        line,
        tier,
        symbol,
        issue_name,
        venue_name,
        mpid,
        share_volume,
        trade_count,
        last_update,
        last_update_text,
        record,
    })
}

/// The record as a line again: fields joined by `|`, quoted when they hold a
/// `|`, a quote or a line break, invalid UTF-8 replaced, without a CRLF's `\r`.
fn raw_line(record: &ByteRecord) -> String {
    let mut line = String::new();
    for (index, field) in record.iter().enumerate() {
        if index > 0 {
            line.push('|');
        }
        let field = if index + 1 == record.len() {
            field.strip_suffix(b"\r").unwrap_or(field)
        } else {
            field
        };
        let field = String::from_utf8_lossy(field);
        if field.contains(['|', '"', '\n', '\r']) {
            line.push('"');
            line.push_str(&field.replace('"', "\"\""));
            line.push('"');
        } else {
            line.push_str(&field);
        }
    }
    line
}

/// `text` in double quotes, shortened to `limit` characters.
fn quote(text: &str, limit: usize) -> String {
    format!("{:?}", clip(text, limit))
}

/// `text` cut to `limit` characters, with `…` when cut.
pub(crate) fn clip(text: &str, limit: usize) -> String {
    match text.char_indices().nth(limit) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "tierDescription|issueSymbolIdentifier|issueName|marketParticipantName|MPID|\
totalWeeklyShareQuantity|totalWeeklyTradeCount|lastUpdateDate";

    /// Every record of `input`: lines as `N: tier|symbol|…|date`, rejects as `N! reason`.
    fn parse(input: &[u8]) -> Result<Vec<String>> {
        let Some(mut parser) = Parser::new(input, "t.psv")? else {
            return Ok(Vec::new());
        };
        let mut seen = Vec::new();
        while let Some(record) = parser.next_record()? {
            seen.push(match record {
                Record::Line(l) => format!(
                    "{}: {}|{}|{}|{}|{}|{}|{}|{}",
                    l.line,
                    l.tier,
                    l.symbol,
                    l.issue_name,
                    l.venue_name,
                    l.mpid,
                    l.share_volume,
                    l.trade_count,
                    l.last_update
                ),
                Record::Reject(r) => format!("{}! {}", r.line, r.reason),
            });
        }
        Ok(seen)
    }

    fn file(lines: &[&str]) -> Vec<u8> {
        let mut text = format!("{HEADER}\n");
        for line in lines {
            text.push_str(line);
            text.push('\n');
        }
        text.into_bytes()
    }

    const AAPL: &str = "NMS Tier 1|AAPL|Apple Inc. Common Stock|UBSA UBS ATS|UBSA|1000000|5000|2025-12-15";

    #[test]
    fn bom_crlf_and_no_final_newline_are_tolerated() {
        let input = format!("\u{feff}{HEADER}\r\n{AAPL}\r\n{}", AAPL.replace("UBSA", "SGMT"));
        assert_eq!(
            parse(input.as_bytes()).unwrap(),
            [
                "2: NMS Tier 1|AAPL|Apple Inc. Common Stock|UBSA UBS ATS|UBSA|1000000|5000|2025-12-15",
                "3: NMS Tier 1|AAPL|Apple Inc. Common Stock|SGMT UBS ATS|SGMT|1000000|5000|2025-12-15",
            ]
        );
    }

    #[test]
    fn quoted_fields_may_hold_pipes_and_text_is_trimmed_with_case_kept() {
        let input =
            file(&[r#"OTC| brk.b |"Pipe | Co, ""Inc"" $1 #2"|OTCN OTC LINK|OTCN| -5 |+3|2025-12-15"#]);
        assert_eq!(
            parse(&input).unwrap(),
            [r#"2: OTC|brk.b|Pipe | Co, "Inc" $1 #2|OTCN OTC LINK|OTCN|-5|3|2025-12-15"#]
        );
    }

    #[test]
    fn columns_are_found_by_name_in_any_order_and_extra_ones_are_ignored() {
        let input = "lastUpdateDate|MPID|extra|totalWeeklyTradeCount|issueName|TIERDESCRIPTION|\
                     issueSymbolIdentifier|marketParticipantName|totalWeeklyShareQuantity\n\
                     2025-12-15|UBSA|\u{fffd}anything|7|Apple|NMS Tier 1|AAPL|UBS ATS|700\n";
        assert_eq!(
            parse(input.as_bytes()).unwrap(),
            ["2: NMS Tier 1|AAPL|Apple|UBS ATS|UBSA|700|7|2025-12-15"]
        );
    }

    #[test]
    fn a_missing_column_fails_naming_the_column_and_the_file() {
        let input = HEADER.replace("|totalWeeklyTradeCount", "") + "\n" + AAPL;
        let error = parse(input.as_bytes()).unwrap_err();
        assert_eq!(error.code, "otc.parse.bad_header");
        assert_eq!(error.location.as_deref(), Some("t.psv: line 1"));
        assert!(
            error
                .message
                .starts_with("the header has no column `totalWeeklyTradeCount`; found \"tierDescription|"),
            "{}",
            error.message
        );
        assert!(error
            .help
            .unwrap()
            .contains("tierDescription|issueSymbolIdentifier|"));

        let error = parse(b"WeekEnding|Tier|Symbol|MPID|TotalShares|TotalTrades\n").unwrap_err();
        assert!(
            error.message.starts_with(
                "the header has no columns `tierDescription`, `issueSymbolIdentifier`, `issueName`, \
                 `marketParticipantName`, `totalWeeklyShareQuantity`, `totalWeeklyTradeCount`, `lastUpdateDate`"
            ),
            "{}",
            error.message
        );
        let error = parse(format!("{HEADER}|mpid\n").as_bytes()).unwrap_err();
        assert_eq!(
            error.message,
            "the header has column `MPID` twice, as fields 5 and 9"
        );
    }

    #[test]
    fn a_line_with_the_wrong_field_count_is_one_reject_at_its_line() {
        let input = file(&[AAPL, "BAD|ROW|MISSING|COLUMNS", AAPL, "A|B|C|D|E|F|G|H|I"]);
        let seen = parse(&input).unwrap();
        assert_eq!(seen[1], "3! expected 8 fields as in the header, found 4 fields");
        assert_eq!(seen[3], "5! expected 8 fields as in the header, found 9 fields");
        assert!(seen[0].starts_with("2: ") && seen[2].starts_with("4: "));
    }

    #[test]
    fn bad_fields_say_what_was_expected_and_what_was_found() {
        let bad = |from: &str, to: &str| AAPL.replace(from, to);
        let input = file(&[
            &bad("1000000", "1,2O0"),
            &bad("1000000", "9223372036854775808"),
            &bad("5000", "-9223372036854775809"),
            &bad("5000", ""),
            &bad("2025-12-15", "2025-12-32"),
            &bad("2025-12-15", "12/15/2025"),
        ]);
        assert_eq!(
            parse(&input).unwrap(),
            [
                "2! field totalWeeklyShareQuantity: expected an integer, found \"1,2O0\"",
                "3! field totalWeeklyShareQuantity: expected an integer that fits in 64 bits, found \
                 \"9223372036854775808\"",
                "4! field totalWeeklyTradeCount: expected an integer that fits in 64 bits, found \
                 \"-9223372036854775809\"",
                "5! field totalWeeklyTradeCount: expected an integer, found \"\"",
                "6! field lastUpdateDate: expected a date YYYY-MM-DD, found \"2025-12-32\"",
                "7! field lastUpdateDate: expected a date YYYY-MM-DD, found \"12/15/2025\"",
            ]
        );
        let edge = file(&[&bad("1000000", "9223372036854775807")]);
        assert!(parse(&edge).unwrap()[0].contains("|9223372036854775807|"));
    }

    #[test]
    fn invalid_utf8_is_a_reject_unless_in_an_ignored_column() {
        let mut input = format!("{HEADER}|note\n").into_bytes();
        input.extend_from_slice(b"OTC|CAF|Caf\xe9 Inc|OTCN|OTCN|1|1|2025-12-15|ok\n");
        input.extend_from_slice(b"OTC|CAF|Cafe Inc|OTCN|OTCN|1|1|2025-12-15|\xff\n");
        let seen = parse(&input).unwrap();
        assert_eq!(
            seen[0],
            "2! field issueName: expected UTF-8 text, found \"Caf\\xe9 Inc\""
        );
        assert_eq!(seen[1], "3: OTC|CAF|Cafe Inc|OTCN|OTCN|1|1|2025-12-15");
    }

    #[test]
    fn the_raw_line_of_a_reject_is_the_line_as_written() {
        let input = file(&[r#"OTC|X|"A | B"|V|M|1|x|2025-12-15"#]);
        let mut parser = Parser::new(input.as_slice(), "t.psv").unwrap().unwrap();
        let Some(Record::Reject(reject)) = parser.next_record().unwrap() else {
            panic!("expected a reject");
        };
        assert_eq!(reject.raw_line, r#"OTC|X|"A | B"|V|M|1|x|2025-12-15"#);
    }

    #[test]
    fn a_quoted_line_break_keeps_every_line_number_right() {
        let two_lines = AAPL.replace("Apple Inc. Common Stock", "\"Apple\r\nInc.\"");
        let input = format!("{HEADER}\r\n\r\n{AAPL}\r\n{two_lines}\r\n{AAPL}");
        let lines: Vec<String> = parse(input.as_bytes())
            .unwrap()
            .iter()
            .map(|seen| seen[..seen.find(':').unwrap()].to_owned())
            .collect();
        assert_eq!(lines, ["3", "4", "6"]);

        // A quote left open at the end swallows the rest of the file into one
        // reject, which still starts at its own line and names the lines it took.
        let takes_in = |fields: u64, last: u64| {
            format!(
                "4! expected 8 fields as in the header, found {fields} fields (a quoted field runs over \
                 lines 4 to {last}: a quote not closed on its own line takes in the lines after it)"
            )
        };
        let input = format!("{HEADER}\n\n\nOTC|\"open|x\n{AAPL}\n{AAPL}");
        assert_eq!(parse(input.as_bytes()).unwrap(), [takes_in(2, 6)]);
        assert_eq!(parse(format!("{input}\n").as_bytes()).unwrap(), [takes_in(2, 6)]);
        // Closed at the start of line 5, the record ends there.
        let input = format!("{HEADER}\n\n\nOTC|\"open|x\n\"|y\n{AAPL}\n");
        assert_eq!(parse(input.as_bytes()).unwrap()[0], takes_in(3, 5));
        // Opened on the last line, it takes in no other line.
        let input = format!("{HEADER}\n\n\nOTC|\"open|x");
        assert_eq!(
            parse(input.as_bytes()).unwrap(),
            ["4! expected 8 fields as in the header, found 2 fields"]
        );
    }

    #[test]
    fn an_empty_file_fails_naming_the_file() {
        for empty in [&b""[..], b"\n", b" \r\n\n"] {
            let error = Parser::new(empty, "t.psv").err().unwrap();
            assert_eq!(error.code, "otc.parse.empty");
            assert_eq!(error.location.as_deref(), Some("t.psv"));
            assert_eq!(error.message, "the file is empty: it has no header and no lines");
        }
    }

    #[test]
    fn a_line_longer_than_the_limit_is_a_reject_and_the_next_line_loads() {
        let long = AAPL.replace("Apple Inc. Common Stock", &"A".repeat(MAX_LINE_BYTES));
        let seen = parse(&file(&[&long, AAPL])).unwrap();
        let length = long.len();
        assert_eq!(
            seen[0],
            format!("2! expected a line of at most 65536 bytes, found {length} bytes")
        );
        assert!(seen[1].starts_with("3: "), "{seen:?}");
        let longest = AAPL.replace(
            "Apple Inc. Common Stock",
            &"A".repeat(MAX_LINE_BYTES - AAPL.len() + 23),
        );
        assert_eq!(longest.len(), MAX_LINE_BYTES);
        assert!(parse(&file(&[&longest])).unwrap()[0].starts_with("2: "));
    }

    #[test]
    fn a_line_of_megabytes_is_kept_only_in_part_and_rejected_with_its_full_length() {
        let long = AAPL.replace("Apple Inc. Common Stock", &"A".repeat(10 << 20));
        let input = file(&[AAPL, &long, AAPL]);
        // What csv is served of the long line stops just past the limit.
        let mut served = Vec::new();
        Terminated::new(input.as_slice())
            .read_to_end(&mut served)
            .unwrap();
        let served_lines: Vec<usize> = served.split(|&b| b == b'\n').map(<[u8]>::len).collect();
        assert_eq!(served_lines[2], MAX_LINE_BYTES + 1);
        assert_eq!(served_lines[3], AAPL.len());
        let seen = parse(&input).unwrap();
        assert_eq!(
            seen[1],
            format!(
                "3! expected a line of at most 65536 bytes, found {} bytes",
                long.len()
            )
        );
        assert!(
            seen[0].starts_with("2: ") && seen[2].starts_with("4: "),
            "{seen:?}"
        );
        // The same at the end of a file without a final newline.
        let seen = parse(format!("{HEADER}\n{AAPL}\n{long}").as_bytes()).unwrap();
        assert_eq!(seen.len(), 2);
        assert!(
            seen[1].ends_with(&format!("found {} bytes", long.len())),
            "{seen:?}"
        );
    }

    #[test]
    fn a_file_without_newlines_fails_at_its_header_without_being_read_whole() {
        let input = "A|".repeat(3 << 20);
        let error = Parser::new(input.as_bytes(), "t.psv").err().unwrap();
        assert_eq!(error.code, "otc.parse.bad_header");
        assert_eq!(error.location.as_deref(), Some("t.psv: line 1"));
        assert_eq!(
            error.message,
            format!(
                "expected a header of at most 65536 bytes, found {} bytes",
                input.len()
            )
        );
    }

    #[test]
    fn a_quote_left_open_past_the_record_limit_fails_naming_its_line() {
        let lines = vec![AAPL; (MAX_RECORD_BYTES as usize / AAPL.len()) + 10];
        let input = file(&[&[AAPL, "OTC|\"open|x"][..], &lines].concat());
        let error = parse(&input).unwrap_err();
        assert_eq!(error.code, "otc.parse.unclosed_quote");
        assert_eq!(error.location.as_deref(), Some("t.psv: line 3"));
        assert!(error.message.contains("past 1048576 bytes"), "{}", error.message);
        // Under the limit, it is one reject that names the lines it took in.
        let input = file(&[&[AAPL, "OTC|\"open|x"][..], &lines[..100]].concat());
        let seen = parse(&input).unwrap();
        assert_eq!(seen.len(), 2);
        assert!(seen[1].contains("runs over lines 3 to 103"), "{seen:?}");
    }

    #[test]
    fn header_only_files_and_blank_lines_give_no_records() {
        assert_eq!(
            parse(format!("{HEADER}\n").as_bytes()).unwrap(),
            Vec::<String>::new()
        );
        assert_eq!(parse(HEADER.as_bytes()).unwrap(), Vec::<String>::new());
        let seen = parse(&file(&["", AAPL, "  ", "\r", ""])).unwrap();
        assert_eq!(seen.len(), 1);
        assert!(seen[0].starts_with("3: "), "{seen:?}");
    }
}
