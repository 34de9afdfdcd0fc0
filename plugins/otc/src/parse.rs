//! Reading FINRA's pipe-delimited weekly files, one physical line at a time.
//!
//! The parser owns the file format: the header (columns found by name, in any
//! order, extra ones ignored), a UTF-8 BOM, CRLF, a missing final newline,
//! and the check of every field. It knows nothing of the database, so it is
//! tested on byte slices. A line it cannot read becomes a [`Reject`] with its
//! line number and a reason that says what was expected and what was found;
//! only an empty file, a header without FINRA's columns, or a failing read,
//! stops it. It never panics on any input.
//!
//! FINRA's files are not CSV-quoted: every physical line is exactly one
//! record. A line is split on `|` first; then a field that both begins and
//! ends with `"` is unwrapped, `""` inside it read as `"`. A `"` anywhere else
//! is data (`Bee "B" Co`, or a name that opens a quote and never closes it).
//! So a stray quote can never take in the next line and credit one symbol
//! with another's volume: `"A|B"` is two fields, `"A` and `B"`, and its line
//! has the wrong field count, a reject.
//!
//! Memory stays bounded whatever the input: of a line longer than
//! [`MAX_LINE_BYTES`] only the start is kept (it is a reject anyway), and its
//! full length is counted as it streams past.

use crate::week::parse_date;
use chrono::{Months, NaiveDate};
use spine_plugin_api::{Error, Result};
use std::io::{self, BufRead, BufReader, Read};
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

/// The longest line accepted, in bytes, without its line ending. FINRA's
/// lines are about 100 bytes; a longer one is a damaged file, and is rejected
/// rather than stored.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// Bytes kept of a line: enough to hold a line of [`MAX_LINE_BYTES`] with a
/// CRLF's `\r`, or to see that a line is too long.
const KEPT_LINE_BYTES: usize = MAX_LINE_BYTES + 1;

/// The earliest `lastUpdateDate` accepted: before FINRA's first OTC
/// transparency files (2014), so no real line is refused.
const FIRST_DATE: NaiveDate = NaiveDate::from_ymd_opt(2010, 1, 1).unwrap();

/// The `lastUpdateDate`s a line may carry: from [`FIRST_DATE`] to one year
/// after today. A date outside is a damaged line; taken as it is, year 0001
/// or 9999 would file the line under a week thousands of years away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateWindow {
    first: NaiveDate,
    last: NaiveDate,
}

impl DateWindow {
    /// The window of a run on `today`. Pass the host's date
    /// ([`Context::today`](spine_plugin_api::Context::today)), never the
    /// clock's, so that tests can fix it with `SPINE_TODAY`.
    pub fn until_a_year_after(today: NaiveDate) -> Self {
        DateWindow {
            first: FIRST_DATE,
            last: today
                .checked_add_months(Months::new(12))
                .unwrap_or(NaiveDate::MAX),
        }
    }

    /// The latest date accepted.
    pub fn last(&self) -> NaiveDate {
        self.last
    }

    /// `date`, as written in `text`, if it lies in the window.
    fn check(&self, date: NaiveDate, text: &str) -> Result<NaiveDate, String> {
        if (self.first..=self.last).contains(&date) {
            return Ok(date);
        }
        Err(format!(
            "field {}: expected a date from {} to {} (a year after today), found {}",
            COLUMNS[LAST_UPDATE],
            self.first,
            self.last,
            quote(text, VALUE_QUOTE_LIMIT)
        ))
    }
}

/// Control characters, and the invisible ones that make two spellings of
/// a name look alike: zero-width characters, bidi controls, line and
/// paragraph separators, the BOM, the soft hyphen.
fn is_invisible(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{ad}' | '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{206f}' | '\u{feff}'
        )
}

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
    raw: &'a [u8],
}

impl Line<'_> {
    /// The line as written, for a reject raised after parsing.
    pub fn raw_line(&self) -> String {
        raw_line(self.raw)
    }
}

/// A line that could not be read, and why.
#[derive(Debug)]
pub struct Reject {
    pub line: u64,
    /// The line as written, without its line ending and with invalid UTF-8
    /// replaced; only its start when it is longer than [`MAX_LINE_BYTES`].
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
    lines: Lines<R>,
    /// The current line's fields; reused, so reading allocates nothing in the
    /// steady state.
    fields: Fields,
    /// Where each of [`COLUMNS`] sits in a line.
    positions: [usize; 8],
    /// Fields per line, as in the header.
    width: usize,
    /// The `lastUpdateDate`s accepted.
    dates: DateWindow,
    file: String,
}

impl<R: Read> Parser<R> {
    /// Reads the header of `input`; `file` names it in errors, and `dates`
    /// bounds the `lastUpdateDate`s accepted. An input with no line at all (an
    /// empty file, often a download cut short) is an error, like a header
    /// without FINRA's columns.
    pub fn new(input: R, file: &str, dates: DateWindow) -> Result<Self> {
        let mut lines = Lines::new(input);
        if !lines.next_non_blank().map_err(|e| read_error(file, e))? {
            return Err(Error::new(
                "otc.parse.empty",
                "the file is empty: it has no header and no lines",
            )
            .with_location(file)
            .with_help(format!(
                "a FINRA weekly file starts with the header {}; download it again",
                COLUMNS.join("|")
            )));
        }
        let mut header = Fields::default();
        let header_checked = match lines.too_long() {
            Some(length) => Err(format!(
                "expected a header of at most {MAX_LINE_BYTES} bytes, found {length} bytes"
            )),
            None => {
                header.split(&lines.kept);
                find_columns(&header, &lines.kept)
            }
        };
        let positions = header_checked.map_err(|message| {
            Error::new("otc.parse.bad_header", message)
                .with_location(format!("{file}: line {}", lines.number))
                .with_help(format!(
                    "a FINRA weekly file starts with the header {} (in any order; extra columns are ignored)",
                    COLUMNS.join("|")
                ))
        })?;
        Ok(Parser {
            lines,
            width: header.len(),
            fields: header,
            positions,
            dates,
            file: file.to_owned(),
        })
    }

    /// Bytes of the input read so far (the header and every line returned),
    /// for progress against the file's size.
    pub fn bytes_read(&self) -> u64 {
        self.lines.read
    }

    /// The next data line, `Ok(None)` at the end. Blank lines are not lines of
    /// data and are passed over.
    pub fn next_record(&mut self) -> Result<Option<Record<'_>>> {
        if !self
            .lines
            .next_non_blank()
            .map_err(|e| read_error(&self.file, e))?
        {
            return Ok(None);
        }
        let line = self.lines.number;
        let raw = &self.lines.kept;
        let checked = match self.lines.too_long() {
            Some(length) => Err(too_long(length)),
            None => {
                self.fields.split(raw);
                check_line(&self.fields, raw, &self.positions, self.width, &self.dates, line)
            }
        };
        Ok(Some(match checked {
            Ok(checked) => Record::Line(checked),
            Err(reason) => Record::Reject(Reject {
                line,
                raw_line: raw_line(raw),
                reason,
            }),
        }))
    }
}

/// The physical lines of an input, each cut to its first [`KEPT_LINE_BYTES`].
struct Lines<R> {
    input: BufReader<R>,
    /// The current line without its line ending (`\n` or `\r\n`), or the
    /// start of it when it is longer.
    kept: Vec<u8>,
    /// The current line's number, from 1.
    number: u64,
    /// The current line's full length without its line ending.
    length: u64,
    /// Bytes of the input read so far, line endings included.
    read: u64,
}

impl<R: Read> Lines<R> {
    fn new(input: R) -> Self {
        Self {
            input: BufReader::with_capacity(KEPT_LINE_BYTES, input),
            kept: Vec::new(),
            number: 0,
            length: 0,
            read: 0,
        }
    }

    /// Moves to the next line that is not blank; false at the end.
    fn next_non_blank(&mut self) -> io::Result<bool> {
        while self.advance()? {
            let blank = self.too_long().is_none() && self.kept.iter().all(u8::is_ascii_whitespace);
            if !blank {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Moves to the next line; false at the end of the input. The last line
    /// counts whether or not a newline ends it.
    fn advance(&mut self) -> io::Result<bool> {
        self.kept.clear();
        let mut length = 0u64;
        let mut last_byte = None;
        loop {
            let buffer = match self.input.fill_buf() {
                Ok(buffer) => buffer,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => return Err(error),
            };
            if buffer.is_empty() {
                if length == 0 {
                    return Ok(false);
                }
                break;
            }
            let newline = memchr::memchr(b'\n', buffer);
            let piece = &buffer[..newline.unwrap_or(buffer.len())];
            let room = KEPT_LINE_BYTES.saturating_sub(self.kept.len());
            self.kept.extend_from_slice(&piece[..piece.len().min(room)]);
            length += piece.len() as u64;
            last_byte = piece.last().copied().or(last_byte);
            let consumed = newline.map_or(piece.len(), |at| at + 1);
            self.input.consume(consumed);
            self.read += consumed as u64;
            if newline.is_some() {
                break;
            }
        }
        if last_byte == Some(b'\r') {
            length -= 1;
            if self.kept.len() as u64 > length {
                self.kept.pop();
            }
        }
        self.number += 1;
        self.length = length;
        Ok(true)
    }

    /// The current line's length, when it is longer than [`MAX_LINE_BYTES`]
    /// (and so not kept whole).
    fn too_long(&self) -> Option<u64> {
        (self.length > MAX_LINE_BYTES as u64).then_some(self.length)
    }
}

/// One line's fields, unwrapped, stored one after the other.
#[derive(Debug, Default)]
struct Fields {
    bytes: Vec<u8>,
    /// Where each field ends in `bytes`.
    ends: Vec<usize>,
}

impl Fields {
    /// Splits `line` on every `|`, then unwraps each field (see [`unwrap_field`]).
    fn split(&mut self, line: &[u8]) {
        self.bytes.clear();
        self.ends.clear();
        let mut start = 0;
        for end in memchr::memchr_iter(b'|', line).chain([line.len()]) {
            unwrap_field(&line[start..end], &mut self.bytes);
            self.ends.push(self.bytes.len());
            start = end + 1;
        }
    }

    fn len(&self) -> usize {
        self.ends.len()
    }

    fn get(&self, index: usize) -> &[u8] {
        let start = index.checked_sub(1).map_or(0, |before| self.ends[before]);
        &self.bytes[start..self.ends[index]]
    }

    fn iter(&self) -> impl Iterator<Item = &[u8]> {
        (0..self.len()).map(|index| self.get(index))
    }
}

/// Appends `field` to `out`. A field that both begins and ends with `"`
/// (spaces around it aside) loses those two quotes, and `""` inside it is read
/// as `"`. Any other `"` is kept as data.
fn unwrap_field(field: &[u8], out: &mut Vec<u8>) {
    let [b'"', inner @ .., b'"'] = field.trim_ascii() else {
        out.extend_from_slice(field);
        return;
    };
    let mut inner = inner;
    while let Some(at) = inner.windows(2).position(|pair| pair == b"\"\"") {
        out.extend_from_slice(&inner[..=at]);
        inner = &inner[at + 2..];
    }
    out.extend_from_slice(inner);
}

fn read_error(file: &str, error: io::Error) -> Error {
    Error::new("otc.ingest.read", format!("cannot read the file: {error}")).with_location(file)
}

/// Maps FINRA's column names (trimmed, any case) to their positions in
/// `header`, or says which are missing or repeated. `raw` is the header line
/// as written, quoted when columns are missing.
fn find_columns(header: &Fields, raw: &[u8]) -> Result<[usize; 8], String> {
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
            quote(&raw_line(raw), HEADER_QUOTE_LIMIT)
        ));
    }
    Ok(positions.map(|position| position.unwrap_or_default()))
}

fn too_long(length: u64) -> String {
    format!("expected a line of at most {MAX_LINE_BYTES} bytes, found {length} bytes")
}

/// Checks the fields of line number `line`, written as `raw`.
fn check_line<'a>(
    fields: &'a Fields,
    raw: &'a [u8],
    positions: &[usize; 8],
    width: usize,
    dates: &DateWindow,
    line: u64,
) -> Result<Line<'a>, String> {
    if fields.len() != width {
        let found = fields.len();
        let noun = if found == 1 { "field" } else { "fields" };
        return Err(format!(
            "expected {width} fields as in the header, found {found} {noun}"
        ));
    }
    // As written, untrimmed.
    let untrimmed = |column: usize| -> Result<&'a str, String> {
        let bytes = fields.get(positions[column]);
        match std::str::from_utf8(bytes) {
            Ok(text) => Ok(text),
            Err(_) => Err(format!(
                "field {}: expected UTF-8 text, found \"{}\"",
                COLUMNS[column],
                clip(&bytes.escape_ascii().to_string(), VALUE_QUOTE_LIMIT)
            )),
        }
    };
    let text = |column: usize| untrimmed(column).map(str::trim);
    // A control character (NUL, ESC, DEL, …) or an invisible one (a
    // zero-width space, a BOM, a bidi override, a line separator, which
    // trimming would remove) in a name is a damaged line, not a name: stored,
    // it would make two spellings of one symbol or venue that look alike. A
    // tab or space around a field is only padding, and trimmed.
    let name = |column: usize| -> Result<&'a str, String> {
        let written = untrimmed(column)?;
        let found = written.trim_matches([' ', '\t']);
        // Bytes first, as names almost never hold one: C0 controls and DEL
        // are single bytes, C1 controls start with 0xC2, the others with
        // 0xE2 or 0xEF.
        let suspect = found
            .bytes()
            .any(|b| b < 0x20 || b == 0x7f || b == 0xc2 || b == 0xe2 || b == 0xef);
        if suspect && found.contains(is_invisible) {
            return Err(format!(
                "field {}: expected text without control or invisible characters, found {}",
                COLUMNS[column],
                quote(found, VALUE_QUOTE_LIMIT)
            ));
        }
        Ok(found.trim())
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
    let tier = name(TIER)?;
    let symbol = name(SYMBOL)?;
    let issue_name = name(ISSUE_NAME)?;
    let venue_name = name(VENUE_NAME)?;
    let mpid = name(MPID)?;
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
    let last_update = dates.check(last_update, last_update_text)?;
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
        raw,
    })
}

/// A line as written, as text: invalid UTF-8 replaced.
fn raw_line(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw).into_owned()
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

    /// The window of a run on 2026-01-15.
    fn window() -> DateWindow {
        DateWindow::until_a_year_after(NaiveDate::from_ymd_opt(2026, 1, 15).unwrap())
    }

    /// Every record of `input`: lines as `N: tier|symbol|…|date`, rejects as `N! reason`.
    fn parse(input: &[u8]) -> Result<Vec<String>> {
        let mut parser = Parser::new(input, "t.psv", window())?;
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
    fn only_a_whole_quoted_field_is_unwrapped_and_text_is_trimmed_with_case_kept() {
        let input = file(&[
            r#"OTC| brk.b | "Co, ""Inc"" $1 #2" |OTCN OTC LINK|OTCN| -5 |+3|2025-12-15"#,
            r#"OTC|BBB|Bee "B" Co|V2 ATS|V2|999|9|2025-12-15"#,
            r#"OTC|AAA|"Acme Corp|V1 ATS|V1|100|1|2025-12-15"#,
            r#"OTC|CCC|Cee"|"|""|1|1|2025-12-15"#,
        ]);
        assert_eq!(
            parse(&input).unwrap(),
            [
                r#"2: OTC|brk.b|Co, "Inc" $1 #2|OTCN OTC LINK|OTCN|-5|3|2025-12-15"#,
                r#"3: OTC|BBB|Bee "B" Co|V2 ATS|V2|999|9|2025-12-15"#,
                r#"4: OTC|AAA|"Acme Corp|V1 ATS|V1|100|1|2025-12-15"#,
                r#"5: OTC|CCC|Cee"|"||1|1|2025-12-15"#,
            ]
        );
    }

    #[test]
    fn a_quote_never_takes_in_a_pipe_or_the_next_line() {
        // `"A|B"` is two fields, `"A` and `B"`: a reject at its own line.
        let input = format!(
            "{HEADER}\r\n\r\nOTC|X|\"A|B\"|V|M|1|1|2025-12-15\r\n{AAPL}\r\nOTC|\"open|x\n\n{AAPL}\nOTC|\"open"
        );
        assert_eq!(
            parse(input.as_bytes()).unwrap(),
            [
                "3! expected 8 fields as in the header, found 9 fields".to_owned(),
                format!("4: {AAPL}"),
                "5! expected 8 fields as in the header, found 3 fields".to_owned(),
                format!("7: {AAPL}"),
                "8! expected 8 fields as in the header, found 2 fields".to_owned(),
            ]
        );
        // A quote left open before a megabyte of lines costs its line alone.
        let lines = vec![AAPL; (1 << 20) / AAPL.len() + 10];
        let input = file(&[&["OTC|\"open|x"][..], &lines].concat());
        let seen = parse(&input).unwrap();
        assert_eq!(seen.len(), lines.len() + 1);
        assert_eq!(seen[0], "2! expected 8 fields as in the header, found 3 fields");
        assert!(seen[1..].iter().all(|line| !line.contains('!')));
        assert!(seen
            .last()
            .unwrap()
            .starts_with(&format!("{}: ", lines.len() + 2)));
    }

    #[test]
    fn columns_are_found_by_name_in_any_order_and_extra_ones_are_ignored() {
        let input = "lastUpdateDate|MPID|extra|totalWeeklyTradeCount|issueName|TIERDESCRIPTION|\
                     \"issueSymbolIdentifier\"|marketParticipantName|totalWeeklyShareQuantity\n\
                     2025-12-15|UBSA|\u{fffd}anything\u{1b}|7|Apple|NMS Tier 1|AAPL|UBS ATS|700\n";
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

        let error = parse(b"\n\nWeekEnding|Tier|Symbol|MPID|TotalShares|TotalTrades\n").unwrap_err();
        assert_eq!(error.location.as_deref(), Some("t.psv: line 3"));
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
        let input = file(&[AAPL, "BAD|ROW|MISSING|COLUMNS", AAPL, "A|B|C|D|E|F|G|H|I", "x"]);
        let seen = parse(&input).unwrap();
        assert_eq!(seen[1], "3! expected 8 fields as in the header, found 4 fields");
        assert_eq!(seen[3], "5! expected 8 fields as in the header, found 9 fields");
        assert_eq!(seen[4], "6! expected 8 fields as in the header, found 1 field");
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
    fn a_control_or_invisible_character_in_a_name_is_a_reject_naming_the_field() {
        let input = file(&[
            "NMS\u{7}Tier 1|AAPL|Apple|UBS ATS|UBSA|1|1|2025-12-15",
            "NMS Tier 1|AA\0BB|Apple|UBS ATS|UBSA|1|1|2025-12-15",
            "NMS Tier 1|AAPL|Apple\u{7f}|UBS ATS|UBSA|1|1|2025-12-15",
            "NMS Tier 1|AAPL|Apple|UBS\u{85}ATS|UBSA|1|1|2025-12-15",
            "NMS Tier 1|AAPL|Apple|UBS ATS|UB\u{1b}SA|1|1|2025-12-15",
            // Tabs and spaces around a field are trimmed, as any whitespace.
            "NMS Tier 1|\tAAPL |Apple|UBS ATS|UBSA|1|1|2025-12-15",
            // Invisible characters, which trimming would hide or remove.
            "NMS Tier 1|PPP\u{feff}|Apple|UBS ATS|UBSA|1|1|2025-12-15",
            "NMS Tier 1|A\u{200b}C|Apple|UBS ATS|UBSA|1|1|2025-12-15",
            "NMS Tier 1|AAPL|Apple|UBS ATS|\u{2028}|1|1|2025-12-15",
        ]);
        assert_eq!(
            parse(&input).unwrap(),
            [
                r#"2! field tierDescription: expected text without control or invisible characters, found "NMS\u{7}Tier 1""#,
                r#"3! field issueSymbolIdentifier: expected text without control or invisible characters, found "AA\0BB""#,
                r#"4! field issueName: expected text without control or invisible characters, found "Apple\u{7f}""#,
                r#"5! field marketParticipantName: expected text without control or invisible characters, found "UBS\u{85}ATS""#,
                r#"6! field MPID: expected text without control or invisible characters, found "UB\u{1b}SA""#,
                "7: NMS Tier 1|AAPL|Apple|UBS ATS|UBSA|1|1|2025-12-15",
                r#"8! field issueSymbolIdentifier: expected text without control or invisible characters, found "PPP\u{feff}""#,
                r#"9! field issueSymbolIdentifier: expected text without control or invisible characters, found "A\u{200b}C""#,
                r#"10! field MPID: expected text without control or invisible characters, found "\u{2028}""#,
            ]
        );
    }

    #[test]
    fn a_last_update_date_outside_2010_to_a_year_after_today_is_a_reject() {
        let dated = |date: &str| AAPL.replace("2025-12-15", date);
        let dates = [
            "0001-01-01",
            "2009-12-31",
            "2010-01-01",
            "2027-01-15",
            "2027-01-16",
            "9999-12-31",
        ];
        let lines: Vec<String> = dates.iter().map(|date| dated(date)).collect();
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        let outside = |line: u64, date: &str| {
            format!(
                "{line}! field lastUpdateDate: expected a date from 2010-01-01 to 2027-01-15 (a year after \
                 today), found \"{date}\""
            )
        };
        assert_eq!(
            parse(&file(&lines)).unwrap(),
            [
                outside(2, "0001-01-01"),
                outside(3, "2009-12-31"),
                format!("4: {}", dated("2010-01-01")),
                format!("5: {}", dated("2027-01-15")),
                outside(6, "2027-01-16"),
                outside(7, "9999-12-31"),
            ]
        );
        // A year after a 29 February is the 28th.
        let leap = DateWindow::until_a_year_after(NaiveDate::from_ymd_opt(2028, 2, 29).unwrap());
        assert_eq!(leap.last, NaiveDate::from_ymd_opt(2029, 2, 28).unwrap());
        let last = DateWindow::until_a_year_after(NaiveDate::MAX);
        assert_eq!(last.last, NaiveDate::MAX);
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
    fn bytes_read_counts_every_byte_line_endings_and_a_last_line_without_one() {
        for input in [
            format!("{HEADER}\r\n\n{AAPL}\r\nBAD|LINE\n{AAPL}"),
            format!("{HEADER}\n{AAPL}\n"),
        ] {
            let mut parser = Parser::new(input.as_bytes(), "t.psv", window()).unwrap();
            let header_end = input.find('\n').unwrap() as u64 + 1;
            assert_eq!(parser.bytes_read(), header_end);
            while parser.next_record().unwrap().is_some() {}
            assert_eq!(parser.bytes_read(), input.len() as u64);
        }
    }

    #[test]
    fn the_raw_line_of_a_reject_or_a_line_is_the_line_as_written() {
        let written = r#"OTC|X|"A | B"|V|M|1|x|2025-12-15"#;
        let input = format!("{HEADER}\r\n{written}\r\n{AAPL}\r\n");
        let mut parser = Parser::new(input.as_bytes(), "t.psv", window()).unwrap();
        let Some(Record::Reject(reject)) = parser.next_record().unwrap() else {
            panic!("expected a reject");
        };
        assert_eq!(reject.raw_line, written);
        let Some(Record::Line(line)) = parser.next_record().unwrap() else {
            panic!("expected a line");
        };
        assert_eq!(line.raw_line(), AAPL);
    }

    #[test]
    fn an_empty_file_fails_naming_the_file() {
        for empty in [&b""[..], b"\n", b" \r\n\n", b"\r"] {
            let error = Parser::new(empty, "t.psv", window()).err().unwrap();
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
        // The longest line loads, with a CRLF too; one byte more is a reject.
        for ending in ["\n", "\r\n"] {
            let input = format!("{HEADER}{ending}{longest}{ending}{longest}A{ending}");
            let seen = parse(input.as_bytes()).unwrap();
            assert!(seen[0].starts_with("2: "), "{ending:?}");
            assert_eq!(
                seen[1],
                "3! expected a line of at most 65536 bytes, found 65537 bytes"
            );
        }
    }

    #[test]
    fn a_line_of_megabytes_is_kept_only_in_part_and_rejected_with_its_full_length() {
        let long = AAPL.replace("Apple Inc. Common Stock", &"A".repeat(10 << 20));
        let input = file(&[AAPL, &long, AAPL]);
        // Of the long line only the start is held.
        let mut lines = Lines::new(input.as_slice());
        let mut held = Vec::new();
        while lines.advance().unwrap() {
            held.push((lines.kept.len(), lines.length));
        }
        let (short, length) = (AAPL.len(), AAPL.len() as u64);
        assert_eq!(
            held,
            [
                (HEADER.len(), HEADER.len() as u64),
                (short, length),
                (KEPT_LINE_BYTES, long.len() as u64),
                (short, length),
            ]
        );
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
        // The same at the end of a file without a final newline, with a CRLF's `\r`.
        let seen = parse(format!("{HEADER}\n{AAPL}\n{long}\r").as_bytes()).unwrap();
        assert_eq!(seen.len(), 2);
        assert!(
            seen[1].ends_with(&format!("found {} bytes", long.len())),
            "{seen:?}"
        );
    }

    #[test]
    fn a_file_without_newlines_fails_at_its_header_without_being_held_whole() {
        let input = "A|".repeat(3 << 20);
        let error = Parser::new(input.as_bytes(), "t.psv", window()).err().unwrap();
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
