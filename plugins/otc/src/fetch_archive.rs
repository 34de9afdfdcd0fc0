//! The archive of what `otc.fetch` downloads: every download kept as a file
//! in FINRA's pipe-delimited format, at
//! `<data-dir>/finra/archive/<week>/<tier>-<type>-<lastUpdateDate>.psv`.
//!
//! A file is written under a temporary name, synced, then linked to its
//! name: a link never replaces an existing file, so nothing archived is ever
//! overwritten, and a reader never sees half a file. A download equal to the
//! file already at its name keeps that file; a different one (FINRA changed
//! a publication without changing its date) gets the next free name,
//! `…-2.psv`, `…-3.psv`.

use spine_plugin_api::{Error, Result};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

/// FINRA's header row: the columns of its downloadable files, as the parser
/// reads them.
pub(crate) use crate::parse::COLUMNS;

/// A file now in the archive.
#[derive(Debug)]
pub(crate) struct Archived {
    pub path: PathBuf,
    /// False when an equal file was already archived under that name.
    pub new: bool,
    pub rows: u64,
}

/// Writes one download into the archive: one file per `lastUpdateDate` it
/// holds (a week's rows normally share one; a partly revised week has two).
pub(crate) struct ArchiveWriter {
    folder: PathBuf,
    /// `T1-ATS`: the names' prefix.
    prefix: String,
    pending: BTreeMap<String, Pending>,
}

/// A file still under its temporary name; removed if never placed.
struct Pending {
    temporary: PathBuf,
    out: Option<BufWriter<File>>,
    rows: u64,
}

impl Drop for Pending {
    fn drop(&mut self) {
        drop(self.out.take());
        let _ = std::fs::remove_file(&self.temporary);
    }
}

impl ArchiveWriter {
    /// A writer for files named `<prefix>-<lastUpdateDate>.psv` in `folder`.
    pub(crate) fn new(folder: PathBuf, prefix: String) -> Self {
        ArchiveWriter {
            folder,
            prefix,
            pending: BTreeMap::new(),
        }
    }

    /// Appends one data line (without its newline) published on `last_update`.
    pub(crate) fn push(&mut self, last_update: &str, line: &str) -> Result<()> {
        if !self.pending.contains_key(last_update) {
            let pending = self.start(last_update)?;
            self.pending.insert(last_update.to_owned(), pending);
        }
        let pending = self.pending.get_mut(last_update).expect("inserted above");
        let out = pending.out.as_mut().expect("open until finished");
        writeln!(out, "{line}").map_err(|e| write_error(&pending.temporary, e))?;
        pending.rows += 1;
        Ok(())
    }

    fn start(&self, last_update: &str) -> Result<Pending> {
        std::fs::create_dir_all(&self.folder).map_err(|e| {
            Error::new(
                "otc.fetch.archive",
                format!("cannot create archive folder {}: {e}", self.folder.display()),
            )
        })?;
        let temporary = self.folder.join(format!(
            ".{}-{last_update}.psv.part-{}",
            self.prefix,
            std::process::id()
        ));
        let file = File::create(&temporary).map_err(|e| write_error(&temporary, e))?;
        let mut out = BufWriter::new(file);
        writeln!(out, "{}", COLUMNS.join("|")).map_err(|e| write_error(&temporary, e))?;
        Ok(Pending {
            temporary,
            out: Some(out),
            rows: 0,
        })
    }

    /// Syncs every file and gives each its name; the archived files in name order.
    pub(crate) fn finish(mut self) -> Result<Vec<Archived>> {
        let mut archived = Vec::new();
        for (last_update, mut pending) in std::mem::take(&mut self.pending) {
            let out = pending.out.take().expect("open until finished");
            let file = out
                .into_inner()
                .map_err(|e| write_error(&pending.temporary, e.into_error()))?;
            file.sync_all().map_err(|e| write_error(&pending.temporary, e))?;
            drop(file);
            let stem = format!("{}-{last_update}", self.prefix);
            let (path, new) = place(&pending.temporary, &self.folder, &stem)?;
            archived.push(Archived {
                path,
                new,
                rows: pending.rows,
            });
        }
        if archived.iter().any(|file| file.new) {
            // The new names are durable once the folder is synced.
            File::open(&self.folder)
                .and_then(|folder| folder.sync_all())
                .map_err(|e| write_error(&self.folder, e))?;
        }
        Ok(archived)
    }
}

/// Links `temporary` to the first free name `<stem>.psv`, `<stem>-2.psv`, …,
/// unless a name on the way already holds the same bytes; true when a new
/// file was made. The temporary file is removed by its owner.
fn place(temporary: &Path, folder: &Path, stem: &str) -> Result<(PathBuf, bool)> {
    for n in 1u32.. {
        let name = if n == 1 {
            format!("{stem}.psv")
        } else {
            format!("{stem}-{n}.psv")
        };
        let path = folder.join(name);
        // hard_link fails when the name exists: never an overwrite, even
        // with another fetch archiving the same week at the same time.
        match std::fs::hard_link(temporary, &path) {
            Ok(()) => return Ok((path, true)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                if same_bytes(temporary, &path)? {
                    return Ok((path, false));
                }
            }
            Err(e) => return Err(write_error(&path, e)),
        }
    }
    unreachable!("u32 names run out only after four billion versions")
}

fn same_bytes(a: &Path, b: &Path) -> Result<bool> {
    let read_error = |path: &Path, e: std::io::Error| {
        Error::new(
            "otc.fetch.archive",
            format!("cannot read archived file {}: {e}", path.display()),
        )
    };
    let (len_a, len_b) = (
        a.metadata().map_err(|e| read_error(a, e))?.len(),
        b.metadata().map_err(|e| read_error(b, e))?.len(),
    );
    if len_a != len_b {
        return Ok(false);
    }
    let mut files = [
        File::open(a).map_err(|e| read_error(a, e))?,
        File::open(b).map_err(|e| read_error(b, e))?,
    ];
    let (mut chunk_a, mut chunk_b) = (vec![0u8; 64 * 1024], vec![0u8; 64 * 1024]);
    loop {
        let n = read_full(&mut files[0], &mut chunk_a).map_err(|e| read_error(a, e))?;
        let m = read_full(&mut files[1], &mut chunk_b).map_err(|e| read_error(b, e))?;
        if n != m || chunk_a[..n] != chunk_b[..m] {
            return Ok(false);
        }
        if n == 0 {
            return Ok(true);
        }
    }
}

/// Reads until `buffer` is full or the file ends; the bytes read.
fn read_full(file: &mut File, buffer: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match file.read(&mut buffer[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

fn write_error(path: &Path, e: std::io::Error) -> Error {
    Error::new(
        "otc.fetch.archive",
        format!("cannot write archive file {}: {e}", path.display()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn archive(folder: &Path, rows: &[(&str, &str)]) -> Vec<Archived> {
        let mut writer = ArchiveWriter::new(folder.to_path_buf(), "T1-ATS".to_owned());
        for (date, line) in rows {
            writer.push(date, line).unwrap();
        }
        writer.finish().unwrap()
    }

    fn names(folder: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(folder)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn each_publication_gets_a_file_and_nothing_archived_is_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let first = archive(
            dir.path(),
            &[
                ("2025-12-15", "a|1"),
                ("2025-12-22", "b|2"),
                ("2025-12-15", "c|3"),
            ],
        );
        assert_eq!(
            first.iter().map(|f| (f.new, f.rows)).collect::<Vec<_>>(),
            [(true, 2), (true, 1)]
        );
        let text = std::fs::read_to_string(dir.path().join("T1-ATS-2025-12-15.psv")).unwrap();
        assert_eq!(text, format!("{}\na|1\nc|3\n", COLUMNS.join("|")));
        // The same download again keeps the file; a changed one gets a new name.
        let again = archive(dir.path(), &[("2025-12-15", "a|1"), ("2025-12-15", "c|3")]);
        assert!(!again[0].new);
        let changed = archive(dir.path(), &[("2025-12-15", "a|9")]);
        assert!(changed[0].new);
        assert_eq!(changed[0].path, dir.path().join("T1-ATS-2025-12-15-2.psv"));
        assert_eq!(
            std::fs::read_to_string(dir.path().join("T1-ATS-2025-12-15.psv")).unwrap(),
            text
        );
        // No temporary file is left behind.
        assert_eq!(
            names(dir.path()),
            [
                "T1-ATS-2025-12-15-2.psv",
                "T1-ATS-2025-12-15.psv",
                "T1-ATS-2025-12-22.psv"
            ]
        );
    }

    #[test]
    fn an_unfinished_download_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = ArchiveWriter::new(dir.path().to_path_buf(), "T2-NON_ATS".to_owned());
        writer.push("2025-12-15", "a|1").unwrap();
        drop(writer);
        assert!(names(dir.path()).is_empty());
    }
}
