//! Which files an `otc.ingest` run reads: the one file given, or a folder's
//! data files (`*.psv`, `*.csv`, `*.txt`, any case) in name order. Subfolders
//! are not entered.

use spine_plugin_api::{Error, Result};
use std::path::{Path, PathBuf};

const EXTENSIONS: [&str; 3] = ["psv", "csv", "txt"];

/// The files to load, in order; an error when there are none.
pub(crate) fn list(path: &Path) -> Result<Vec<PathBuf>> {
    if path.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    if path.exists() && !path.is_dir() {
        return Err(Error::new(
            "otc.ingest.not_a_file",
            format!(
                "file_path {} is neither a regular file nor a folder (a FIFO, a device or a socket)",
                path.display()
            ),
        )
        .with_help(
            "pass a FINRA weekly file or a folder of them; to read a stream, save it to a file first",
        ));
    }
    if !path.is_dir() {
        return Err(Error::new(
            "otc.ingest.not_found",
            format!("file_path {} does not exist", path.display()),
        )
        .with_help("pass a FINRA weekly file or a folder of them, for example -p file_path=data/finra"));
    }
    let cannot_list = |e: std::io::Error| {
        Error::new(
            "otc.ingest.read",
            format!("cannot list folder {}: {e}", path.display()),
        )
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path).map_err(cannot_list)? {
        let file = entry.map_err(cannot_list)?.path();
        if file.is_file() && is_data_file(&file) {
            files.push(file);
        }
    }
    if files.is_empty() {
        return Err(Error::new(
            "otc.ingest.no_files",
            format!("folder {} holds no .psv, .csv or .txt files", path.display()),
        )
        .with_help("FINRA's weekly files are pipe-delimited text; put them in the folder or pass one file"));
    }
    files.sort();
    Ok(files)
}

fn is_data_file(path: &Path) -> bool {
    path.extension()
        .and_then(|extension| extension.to_str())
        .is_some_and(|extension| EXTENSIONS.iter().any(|e| e.eq_ignore_ascii_case(extension)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_gives_its_data_files_in_name_order() {
        let folder = tempfile::tempdir().unwrap();
        for name in ["b.psv", "a.TXT", "c.csv", "notes.md", "d.psv.bak"] {
            std::fs::write(folder.path().join(name), "x").unwrap();
        }
        std::fs::create_dir(folder.path().join("sub.psv")).unwrap();
        let names: Vec<String> = list(folder.path())
            .unwrap()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["a.TXT", "b.psv", "c.csv"]);
        let one = folder.path().join("notes.md");
        assert_eq!(list(&one).unwrap(), [one]);
    }

    #[test]
    fn a_fifo_is_neither_a_file_nor_a_folder() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("week.psv");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
        assert!(made.success());
        let error = list(&fifo).unwrap_err();
        assert_eq!(error.code, "otc.ingest.not_a_file");
        assert!(error
            .message
            .ends_with("is neither a regular file nor a folder (a FIFO, a device or a socket)"));
    }

    #[test]
    fn a_missing_path_or_a_folder_without_data_files_is_an_error() {
        let folder = tempfile::tempdir().unwrap();
        let missing = folder.path().join("nope.psv");
        let error = list(&missing).unwrap_err();
        assert_eq!(error.code, "otc.ingest.not_found");
        assert_eq!(
            error.message,
            format!("file_path {} does not exist", missing.display())
        );
        let error = list(folder.path()).unwrap_err();
        assert_eq!(error.code, "otc.ingest.no_files");
        assert_eq!(
            error.message,
            format!(
                "folder {} holds no .psv, .csv or .txt files",
                folder.path().display()
            )
        );
    }
}
