//! Checking `-p key=value` parameters against a pipeline's spec, before
//! anything runs: unknown names (with a did-you-mean), missing required ones,
//! and values of the wrong kind are refused; defaults are filled in. A path
//! that is the database itself, or its `-wal` or `-shm` file, is refused.

use crate::error::usage;
use crate::load::{ParamSpec, PipelineSpec};
use anyhow::Result;
use serde_json::{Map, Value as Json};
use std::path::Path;

/// Checks `given` against `spec` and returns the parameters as the JSON object
/// the plugin receives. Relative paths that do not exist from the working
/// folder are looked up in `data_dir`; a path naming `database` or its `-wal`
/// or `-shm` is refused.
pub(crate) fn validate(
    spec: &PipelineSpec,
    given: &[(String, String)],
    data_dir: &Path,
    database: &Path,
) -> Result<Map<String, Json>> {
    let mut values = Map::new();
    for (name, text) in given {
        let Some(param) = spec.params.iter().find(|p| &p.name == name) else {
            return Err(usage(unknown_parameter(spec, name)));
        };
        if values.contains_key(name) {
            return Err(usage(format!(
                "parameter `{name}` of {} is given twice",
                spec.name
            )));
        }
        values.insert(name.clone(), convert(spec, param, text, data_dir, database)?);
    }
    for param in &spec.params {
        if values.contains_key(&param.name) {
            continue;
        }
        match (&param.default, param.required) {
            (Some(default), _) => {
                values.insert(
                    param.name.clone(),
                    convert(spec, param, default, data_dir, database)?,
                );
            }
            (None, true) => {
                return Err(usage(format!(
                    "{} needs parameter `{}` ({}{}); pass it with -p {}=...",
                    spec.name,
                    param.name,
                    param.kind,
                    if param.help.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", param.help)
                    },
                    param.name
                )))
            }
            (None, false) => {}
        }
    }
    Ok(values)
}

fn unknown_parameter(spec: &PipelineSpec, name: &str) -> String {
    let names: Vec<&str> = spec.params.iter().map(|p| p.name.as_str()).collect();
    let mut message = format!("{} has no parameter `{name}`", spec.name);
    if let Some(suggestion) = crate::text::did_you_mean(name, names.iter().copied()) {
        message.push_str(&format!("; did you mean `{suggestion}`?"));
    }
    if names.is_empty() {
        message.push_str(" (it takes no parameters)");
    } else {
        message.push_str(&format!(" (it takes: {})", names.join(", ")));
    }
    message
}

fn convert(
    spec: &PipelineSpec,
    param: &ParamSpec,
    text: &str,
    data_dir: &Path,
    database: &Path,
) -> Result<Json> {
    let bad = |expected: &str| {
        usage(format!(
            "parameter `{}` of {} expects {expected}, got `{text}`",
            param.name, spec.name
        ))
    };
    Ok(match param.kind.as_str() {
        "integer" => Json::from(text.trim().parse::<i64>().map_err(|_| bad("an integer"))?),
        "number" => {
            let number = text
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|n| n.is_finite())
                .ok_or_else(|| bad("a number"))?;
            Json::from(number)
        }
        "boolean" => match text.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" => Json::Bool(true),
            "false" | "no" | "0" => Json::Bool(false),
            _ => return Err(bad("true or false")),
        },
        "date" => {
            chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
                .map_err(|_| bad("a date (YYYY-MM-DD)"))?;
            Json::String(text.trim().to_owned())
        }
        "path" => {
            let path = resolve_path(text, data_dir);
            if let Some(file) = database_file_named_by(Path::new(&path), database) {
                return Err(usage(format!(
                    "parameter `{}` of {} names {file}, a file of the database this run writes to; \
                     give an input file instead",
                    param.name, spec.name
                )));
            }
            if let Some((entry, file)) = database_file_in_folder(Path::new(&path), database) {
                return Err(usage(format!(
                    "parameter `{}` of {} names folder {path}, which holds {entry}, that is {file}, a file \
                     of the database this run writes to; keep input files in a folder of their own",
                    param.name, spec.name
                )));
            }
            Json::String(path)
        }
        _ => Json::String(text.to_owned()),
    })
}

fn resolve_path(text: &str, data_dir: &Path) -> String {
    let path = Path::new(text);
    if path.is_relative() && !path.exists() && data_dir.join(path).exists() {
        data_dir.join(path).display().to_string()
    } else {
        text.to_owned()
    }
}

/// Which of the database's files `path` names, if any. SQLite's locks are
/// POSIX locks: a plugin that opened and closed one of these files would drop
/// every lock this process holds on it, and another process could then
/// checkpoint or delete the WAL under the running writer. The files are
/// compared by device and inode where they exist (a symlink, a hard link or
/// another spelling of the path), and by name otherwise (a `-wal` that SQLite
/// has not created yet).
fn database_file_named_by(path: &Path, database: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let identity = |p: &Path| std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()));
    let by_name = |p: &Path| {
        let parent = p
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        Some(parent.canonicalize().ok()?.join(p.file_name()?))
    };
    let given = identity(path);
    let given_name = by_name(path);
    ["", "-wal", "-shm"].into_iter().find_map(|suffix| {
        let mut file = database.as_os_str().to_owned();
        file.push(suffix);
        let file = std::path::PathBuf::from(file);
        let same_inode = given.is_some() && given == identity(&file);
        let same_name = given_name.is_some() && given_name == by_name(&file);
        (same_inode || same_name).then(|| file.display().to_string())
    })
}

/// An entry of `folder` (one level down, as a plugin lists a folder of
/// inputs) that is the database or its `-wal` or `-shm`, by any name, a
/// symlink or a hard link, with that file. Judged from metadata alone:
/// nothing here opens a file.
fn database_file_in_folder(folder: &Path, database: &Path) -> Option<(String, String)> {
    if !folder.is_dir() {
        return None;
    }
    std::fs::read_dir(folder).ok()?.flatten().find_map(|entry| {
        let file = database_file_named_by(&entry.path(), database)?;
        Some((entry.path().display().to_string(), file))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> PipelineSpec {
        let param = |name: &str, kind: &str, required: bool, default: Option<&str>| ParamSpec {
            name: name.into(),
            kind: kind.into(),
            required,
            default: default.map(Into::into),
            help: String::new(),
        };
        PipelineSpec {
            name: "t.p".into(),
            description: String::new(),
            params: vec![
                param("name", "string", false, Some("World")),
                param("n", "integer", true, None),
            ],
        }
    }

    fn run(given: &[(&str, &str)]) -> Result<Map<String, Json>> {
        let given: Vec<(String, String)> = given
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        validate(&spec(), &given, Path::new("."), Path::new("spine-test-none.db"))
    }

    #[test]
    fn fills_defaults_and_types_values() {
        let values = run(&[("n", "5")]).unwrap();
        assert_eq!(values["n"], Json::from(5));
        assert_eq!(values["name"], Json::from("World"));
    }

    #[test]
    fn refuses_unknown_with_suggestion_missing_and_wrong_type() {
        let message = run(&[("n", "1"), ("nmae", "x")]).unwrap_err().to_string();
        assert_eq!(
            message,
            "t.p has no parameter `nmae`; did you mean `name`? (it takes: name, n)"
        );
        let message = run(&[]).unwrap_err().to_string();
        assert_eq!(
            message,
            "t.p needs parameter `n` (integer); pass it with -p n=..."
        );
        let message = run(&[("n", "ten")]).unwrap_err().to_string();
        assert_eq!(message, "parameter `n` of t.p expects an integer, got `ten`");
    }

    #[test]
    fn a_path_naming_the_database_or_its_wal_or_shm_is_found_by_inode_and_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let database = dir.path().join("spine.db");
        std::fs::write(&database, b"").unwrap();
        std::fs::write(dir.path().join("spine.db-shm"), b"").unwrap();
        std::os::unix::fs::symlink(&database, dir.path().join("link.psv")).unwrap();
        std::fs::hard_link(&database, dir.path().join("hard.psv")).unwrap();
        std::fs::write(dir.path().join("week.psv"), b"").unwrap();
        let named = |name: &str| database_file_named_by(&dir.path().join(name), &database);
        let shown = |suffix: &str| Some(format!("{}{suffix}", database.display()));
        assert_eq!(named("spine.db"), shown(""));
        assert_eq!(named("link.psv"), shown(""));
        assert_eq!(named("hard.psv"), shown(""));
        assert_eq!(named("./spine.db-shm"), shown("-shm"));
        // Not there yet: SQLite may create it during the run.
        assert_eq!(named("spine.db-wal"), shown("-wal"));
        assert_eq!(named("week.psv"), None);
        assert_eq!(named("missing.psv"), None);
        // A folder that holds one of them, under any name.
        let inputs = dir.path().join("inputs");
        std::fs::create_dir(&inputs).unwrap();
        std::fs::write(inputs.join("week.psv"), b"").unwrap();
        assert_eq!(database_file_in_folder(&inputs, &database), None);
        std::os::unix::fs::symlink(&database, inputs.join("link.txt")).unwrap();
        let (entry, file) = database_file_in_folder(&inputs, &database).unwrap();
        assert_eq!(
            (entry, file),
            (inputs.join("link.txt").display().to_string(), shown("").unwrap())
        );
        assert!(database_file_in_folder(dir.path(), &database).is_some());
    }
}
