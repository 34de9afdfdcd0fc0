//! Reading a library file without loading it: is it a shared library for
//! this machine, and does it carry or link SQLite. Nothing in the file runs,
//! and reading is bounded: only its headers, its dynamic section and its
//! symbol tables are read (and, for a library stripped of its symbol table,
//! the whole file, in chunks), from a regular file of at most
//! [`MAX_LIBRARY_BYTES`].
//!
//! A second SQLite in the process breaks the host's file locks
//! (sqlite.org's "multiple copies of SQLite"). It arrives linked in (rusqlite
//! "bundled": SQLite's `sqlite3_…` functions are defined in the library,
//! hidden but listed in its symbol table), linked to (`DT_NEEDED
//! libsqlite3.so.0`), or opened while the library loads (see
//! [`mapped_files`]). A library is judged by what it links and defines, never
//! by one string any program may hold.

use object::elf::{self, FileHeader64};
use object::read::elf::{FileHeader as _, SectionHeader as _, Sym as _};
use object::{Endianness, ReadCache, ReadRef};
use std::collections::BTreeSet;
use std::fs::File;
use std::path::{Path, PathBuf};

/// The largest file judged as a library: far above any plugin (a debug
/// build of the OTC plugin is 22 MB), and a bound on what is read.
pub(crate) const MAX_LIBRARY_BYTES: u64 = 512 * 1024 * 1024;

/// Texts of SQLite's engine: the database file header and two of its error
/// messages. Every build of SQLite holds all three, even stripped; a plugin
/// that recognises a `.db` file by its header holds only the first.
const ENGINE_TEXTS: &[&[u8]] = &[
    b"SQLite format 3",
    b"database disk image is malformed",
    b"file is not a database",
];

#[cfg(target_arch = "x86_64")]
const THIS_MACHINE: elf::Machine = elf::EM_X86_64;
#[cfg(target_arch = "aarch64")]
const THIS_MACHINE: elf::Machine = elf::EM_AARCH64;

type Header = FileHeader64<Endianness>;

/// How a library brings SQLite along, if it does.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Sqlite {
    /// It defines SQLite's functions, or holds the engine's code.
    Carried,
    /// It names the system's SQLite library among the ones it needs.
    Linked(String),
    /// A file that carries or links SQLite was mapped into the process
    /// while the library loaded.
    Brought(PathBuf),
}

/// Checks `file`, a regular file: a 64-bit ELF shared library for this
/// machine, that neither carries nor links SQLite. Errors are one line,
/// worded to follow the file's name.
pub(crate) fn check_library(file: File) -> Result<(), String> {
    let size = file.metadata().map_err(|e| format!("cannot be read: {e}"))?.len();
    if size == 0 {
        return Err("is an empty file, not a plugin".to_owned());
    }
    if size > MAX_LIBRARY_BYTES {
        return Err(format!(
            "is {size} bytes; a plugin library is at most {} MiB",
            MAX_LIBRARY_BYTES >> 20
        ));
    }
    let scan = file.try_clone().map_err(|e| format!("cannot be read: {e}"))?;
    let cache = ReadCache::new(file);
    let not_a_library = |why: &str| format!("cannot be opened as a library: {why}");
    let header = Header::parse(&cache).map_err(|_| not_a_library("it is not a 64-bit ELF file"))?;
    let endian = header
        .endian()
        .map_err(|_| not_a_library("its ELF header is damaged"))?;
    if header.e_machine(endian) != THIS_MACHINE {
        return Err(not_a_library(&format!(
            "it is built for another machine (ELF machine {})",
            header.e_machine(endian).0
        )));
    }
    if header.e_type(endian) != elf::ET_DYN {
        return Err(not_a_library("it is not a shared library"));
    }
    match sqlite_in(&cache, header, endian, scan)? {
        None => Ok(()),
        Some(how) => Err(describe(&how)),
    }
}

/// The one-line refusal of a library that brings SQLite along.
pub(crate) fn describe(how: &Sqlite) -> String {
    let what = match how {
        Sqlite::Carried => "links its own copy of SQLite".to_owned(),
        Sqlite::Linked(name) => format!("links the system's SQLite ({name})"),
        Sqlite::Brought(file) => format!(
            "brought a second SQLite into the process while it loaded ({})",
            file.display()
        ),
    };
    format!(
        "{what}; plugins must use the host's database service, because two SQLite copies in one \
         process can corrupt the database (remove rusqlite/libsqlite3-sys from the plugin)"
    )
}

/// Whether the ELF file at `path` brings SQLite along; `None` for anything
/// that cannot be read as one (it is judged as a library elsewhere, if at all).
pub(crate) fn sqlite_in_file(path: &Path) -> Option<Sqlite> {
    let file = File::open(path).ok()?;
    if !file.metadata().ok()?.is_file() {
        return None;
    }
    let scan = file.try_clone().ok()?;
    let cache = ReadCache::new(file);
    let header = Header::parse(&cache).ok()?;
    let endian = header.endian().ok()?;
    sqlite_in(&cache, header, endian, scan).ok().flatten()
}

fn sqlite_in<'data, R: ReadRef<'data>>(
    data: R,
    header: &Header,
    endian: Endianness,
    scan: File,
) -> Result<Option<Sqlite>, String> {
    let damaged = |_| "cannot be opened as a library: its ELF sections are damaged".to_owned();
    let sections = header.sections(endian, data).map_err(damaged)?;
    if sections.is_empty() {
        return Err("has no ELF section headers, so what it links cannot be checked".to_owned());
    }
    let dynamic = sections.dynamic_table(endian, data).map_err(damaged)?;
    for entry in dynamic.iter().filter(|d| d.tag == elf::DT_NEEDED) {
        let name = dynamic.string(entry).map_err(damaged)?;
        if name.starts_with(b"libsqlite3") {
            return Ok(Some(Sqlite::Linked(String::from_utf8_lossy(name).into_owned())));
        }
    }
    let mut has_symbol_table = false;
    for kind in [elf::SHT_DYNSYM, elf::SHT_SYMTAB] {
        let Some((_, table)) = sections.enumerate().find(|(_, s)| s.sh_type(endian) == kind) else {
            continue;
        };
        has_symbol_table |= kind == elf::SHT_SYMTAB;
        // Each table and its names are read once, whole: reading names one
        // at a time would be a system call per symbol.
        let symbols: &[elf::Sym64<Endianness>] = table.data_as_array(endian, data).map_err(damaged)?;
        let names = sections
            .section(object::SectionIndex(table.sh_link(endian) as usize))
            .and_then(|s| s.data(endian, data))
            .map_err(damaged)?;
        let defines_sqlite = symbols.iter().any(|symbol| {
            symbol.st_shndx(endian) != elf::SHN_UNDEF
                && names
                    .get(symbol.st_name(endian) as usize..)
                    .is_some_and(|name| name.starts_with(b"sqlite3_"))
        });
        if defines_sqlite {
            return Ok(Some(Sqlite::Carried));
        }
    }
    if has_symbol_table {
        return Ok(None);
    }
    // Stripped: SQLite's functions have no names left, but its texts remain.
    let found = texts_in(scan, ENGINE_TEXTS).map_err(|e| format!("cannot be read: {e}"))?;
    Ok(found.iter().all(|&f| f).then_some(Sqlite::Carried))
}

/// Which of `texts` the file holds. Read a chunk at a time through one
/// buffer, each chunk after the tail of the one before, so a text across a
/// chunk boundary is found.
fn texts_in(mut file: File, texts: &[&[u8]]) -> std::io::Result<Vec<bool>> {
    use std::io::Read;
    const CHUNK: usize = 256 * 1024;
    let finders: Vec<_> = texts.iter().map(memchr::memmem::Finder::new).collect();
    let keep = texts.iter().map(|t| t.len()).max().unwrap_or(1) - 1;
    let mut found = vec![false; texts.len()];
    let mut buffer = vec![0; keep + CHUNK];
    let mut filled = 0;
    loop {
        let read = file.read(&mut buffer[filled..])?;
        if read == 0 {
            return Ok(found);
        }
        filled += read;
        for (finder, seen) in finders.iter().zip(&mut found) {
            *seen |= finder.find(&buffer[..filled]).is_some();
        }
        if filled == buffer.len() {
            buffer.copy_within(filled - keep.., 0);
            filled = keep;
        }
    }
}

/// The files mapped into this process, from `/proc/self/maps`: what a
/// library loaded or opened while it was loaded shows up here, whichever way
/// it got in (its own `DT_NEEDED`, a dependency's, or a `dlopen` in its
/// initialisers). Empty where the system has no such file.
pub(crate) fn mapped_files() -> BTreeSet<PathBuf> {
    let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
        return BTreeSet::new();
    };
    maps.lines()
        .filter_map(|line| {
            // address, permissions, offset, device, inode, then the path.
            let mut rest = line;
            for _ in 0..5 {
                rest = rest.trim_start();
                rest = &rest[rest.find(' ')?..];
            }
            let path = rest.trim();
            path.starts_with('/').then(|| PathBuf::from(path))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_found_anywhere_even_across_chunks() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("lib.so");
        let text: &[u8] = b"database disk image is malformed";
        let chunk = 256 * 1024;
        for at in [0, 1, chunk - 7, chunk - 1, chunk, 3 * chunk + 5] {
            let mut bytes = vec![b'x'; 4 * chunk];
            bytes[at..at + text.len()].copy_from_slice(text);
            std::fs::write(&path, &bytes).unwrap();
            let found = texts_in(File::open(&path).unwrap(), ENGINE_TEXTS).unwrap();
            assert_eq!(found, [false, true, false], "at {at}");
        }
    }

    #[test]
    fn the_host_itself_carries_sqlite_and_libc_does_not() {
        let host = std::env::current_exe().unwrap();
        assert_eq!(sqlite_in_file(&host), Some(Sqlite::Carried));
        let libc = mapped_files()
            .into_iter()
            .find(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("libc.so"))
            })
            .expect("libc is mapped");
        assert_eq!(sqlite_in_file(&libc), None);
    }
}
