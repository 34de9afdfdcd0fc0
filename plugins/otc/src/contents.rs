//! Files already loaded, recognised by their bytes (`otc_raw_contents`).
//!
//! When an `otc.ingest` run stores every line of a file as new rows, with no
//! line rejected and no week mismatch, the file's SHA-256, size and what
//! decided its lines (the week given, the reading rules, its latest
//! lastUpdateDate) are kept with the ids of the rows it stored. The same
//! bytes loaded again the same way would find every line a duplicate, so a
//! later run that finds them, and the earlier rows all still there, counts
//! the lines as duplicates without parsing or hashing them: one pass of
//! SHA-256 over the file instead. Any difference (one changed byte, another
//! week given, a line deleted since) and the file is read line by line.

use crate::parse::DateWindow;
use chrono::NaiveDate;
use sha2::{Digest, Sha256};
use spine_plugin_api::{Context, Result, SqlValue};
use std::collections::BTreeSet;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

/// The version of the rules that turn a file's bytes into rows (parsing,
/// checking, hashing, placing in a week). Bump it with any change to them:
/// files recorded under other rules are then read again, line by line.
pub(crate) const READ_RULES: i64 = 1;

/// What a file was, once read whole.
#[derive(Debug)]
pub(crate) struct Content {
    pub sha256: [u8; 32],
    pub size: u64,
    /// The latest lastUpdateDate of its lines.
    pub latest_update: Option<NaiveDate>,
    /// The weeks of its lines.
    pub weeks: BTreeSet<NaiveDate>,
}

/// A file whose bytes an earlier run stored whole.
#[derive(Debug)]
pub(crate) struct Known {
    /// Its data lines, every one stored.
    pub lines: u64,
    pub weeks: Vec<NaiveDate>,
    /// The name the earlier run read it under.
    pub loaded_as: String,
}

/// The SHA-256 and size of what passes through a reader.
#[derive(Default)]
pub(crate) struct Digesting {
    sha: Sha256,
    size: u64,
}

impl Digesting {
    /// `input`, read through this digest.
    pub(crate) fn reader<R: Read>(&mut self, input: R) -> DigestingReader<'_, R> {
        DigestingReader { input, digest: self }
    }

    /// The digest of every byte read, and their count.
    pub(crate) fn finish(self) -> ([u8; 32], u64) {
        (self.sha.finalize().into(), self.size)
    }
}

/// A reader that adds every byte it reads to a [`Digesting`].
pub(crate) struct DigestingReader<'d, R> {
    input: R,
    digest: &'d mut Digesting,
}

impl<R: Read> Read for DigestingReader<'_, R> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let read = self.input.read(buffer)?;
        self.digest.sha.update(&buffer[..read]);
        self.digest.size += read as u64;
        Ok(read)
    }
}

/// The file at `path`, if an earlier run stored every line of the same bytes
/// read with the same week given (`week_given`), under these reading rules
/// and a date window that accepted every line then and accepts them now.
/// A file that cannot be read is not known: reading it reports why.
pub(crate) fn recognise(
    ctx: &mut Context<'_>,
    path: &Path,
    week_given: Option<&str>,
    dates: DateWindow,
) -> Result<Option<Known>> {
    let Ok(size) = path.metadata().map(|metadata| metadata.len()) else {
        return Ok(None);
    };
    let Ok(size) = i64::try_from(size) else {
        return Ok(None);
    };
    let latest_accepted = dates.last().format("%Y-%m-%d").to_string();
    let mut candidates = Vec::new();
    ctx.query(
        "SELECT content.content_sha256, content.lines, content.first_id, content.last_id, content.file_id, \
             content.weeks, file.source_file \
         FROM otc_raw_contents AS content JOIN otc_raw_files AS file ON file.id = content.file_id \
         WHERE content.byte_size = ?1 AND content.week_given IS ?2 AND content.read_rules = ?3 \
             AND content.latest_update <= ?4",
        &[
            SqlValue::Integer(size),
            week_given.into(),
            SqlValue::Integer(READ_RULES),
            SqlValue::Text(&latest_accepted),
        ],
        |row| {
            candidates.push((
                row.opt_bytes(0)?.unwrap_or_default().to_vec(),
                [row.i64(1)?, row.i64(2)?, row.i64(3)?, row.i64(4)?],
                row.str(5)?.to_owned(),
                row.str(6)?.to_owned(),
            ));
            Ok(true)
        },
    )?;
    if candidates.is_empty() {
        return Ok(None);
    }
    let Ok(sha256) = file_sha256(path) else {
        return Ok(None);
    };
    for (candidate, [lines, first_id, last_id, file_id], weeks, loaded_as) in candidates {
        if candidate != sha256 {
            continue;
        }
        // Rows are never deleted by the pipelines; an operator may have.
        let still_stored = ctx
            .query_one(
                "SELECT count(*) FROM otc_raw_lines WHERE id BETWEEN ?1 AND ?2 AND file_id = ?3",
                &[first_id.into(), last_id.into(), file_id.into()],
                |row| row.i64(0),
            )?
            .unwrap_or_default();
        if still_stored != lines {
            continue;
        }
        let weeks = weeks
            .split(',')
            .filter_map(|week| NaiveDate::parse_from_str(week, "%Y-%m-%d").ok())
            .collect();
        return Ok(Some(Known {
            lines: u64::try_from(lines).unwrap_or_default(),
            weeks,
            loaded_as,
        }));
    }
    Ok(None)
}

/// Keeps what file `file_id` was: its run stored all its `lines` as the rows
/// `first_id ..= last_id`.
pub(crate) fn record(
    ctx: &mut Context<'_>,
    file_id: i64,
    content: &Content,
    week_given: Option<&str>,
    lines: u64,
    [first_id, last_id]: [i64; 2],
) -> Result<()> {
    let (Some(latest), Ok(size), Ok(lines)) = (
        content.latest_update,
        i64::try_from(content.size),
        i64::try_from(lines),
    ) else {
        return Ok(());
    };
    let weeks: Vec<String> = content
        .weeks
        .iter()
        .map(|week| week.format("%Y-%m-%d").to_string())
        .collect();
    ctx.execute(
        "INSERT INTO otc_raw_contents (file_id, content_sha256, byte_size, week_given, read_rules, latest_update, \
             lines, first_id, last_id, weeks) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        &[
            SqlValue::Integer(file_id),
            SqlValue::Blob(&content.sha256),
            SqlValue::Integer(size),
            week_given.into(),
            SqlValue::Integer(READ_RULES),
            SqlValue::Text(&latest.format("%Y-%m-%d").to_string()),
            SqlValue::Integer(lines),
            SqlValue::Integer(first_id),
            SqlValue::Integer(last_id),
            SqlValue::Text(&weeks.join(",")),
        ],
    )?;
    Ok(())
}

/// The SHA-256 of the file at `path`.
fn file_sha256(path: &Path) -> io::Result<[u8; 32]> {
    let mut digest = Digesting::default();
    io::copy(&mut digest.reader(File::open(path)?), &mut io::sink())?;
    Ok(digest.finish().0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_digesting_reader_digests_every_byte_it_reads() {
        let mut digest = Digesting::default();
        let mut text = String::new();
        digest.reader("abc".as_bytes()).read_to_string(&mut text).unwrap();
        assert_eq!(text, "abc");
        let (sha256, size) = digest.finish();
        // SHA-256("abc"), FIPS 180-2's first example.
        let hex: String = sha256.iter().map(|byte| format!("{byte:02x}")).collect();
        assert_eq!(
            hex,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(size, 3);
    }
}
