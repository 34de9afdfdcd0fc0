//! `Migration`: one numbered SQL file of a plugin's domain, and the file-name
//! rule (`NNN_name.sql`) that `include_migration!` reads its number and name from.

use crate::abi;

/// One SQL migration of a plugin's domain: its version (1, 2, 3, … without
/// gaps), its name and its SQL text. Once released, its SQL must never
/// change: the host stores a checksum and refuses drift.
///
/// Usually made by [`include_migration!`](crate::include_migration) from a
/// file named `NNN_name.sql`, and added with [`Plugin::migrations`](crate::Plugin::migrations):
///
/// ```
/// use spine_plugin_api::Migration;
///
/// let migration = Migration::new(1, "acme_quotes", "CREATE TABLE acme_quotes (symbol TEXT)");
/// assert_eq!((migration.version(), migration.name()), (1, "acme_quotes"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    version: u32,
    name: String,
    sql: String,
}

impl Migration {
    /// Migration `version` named `name`, running `sql`.
    pub fn new(version: u32, name: impl Into<String>, sql: impl Into<String>) -> Self {
        Self {
            version,
            name: name.into(),
            sql: sql.into(),
        }
    }

    /// The version: 1 for the first migration.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// The name, as recorded in `core_migrations`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The SQL text.
    pub fn sql(&self) -> &str {
        &self.sql
    }

    pub(crate) fn from_abi(migration: &abi::MigrationDef) -> Self {
        Self::new(migration.version, migration.name.as_str(), migration.sql.as_str())
    }

    pub(crate) fn to_abi(&self) -> abi::MigrationDef {
        abi::MigrationDef {
            version: self.version,
            name: self.name.as_str().into(),
            sql: self.sql.as_str().into(),
        }
    }
}

/// The version and name of a migration file named `NNN_name.sql`: digits, an
/// underscore, a name, `.sql`. Evaluated at compile time by
/// `include_migration!`, so a file named otherwise stops the build with the
/// message below.
pub const fn parse_file_name(file: &str) -> (u32, &str) {
    const EXPECTED: &str =
        "include_migration!: expected a file name NNN_name.sql, such as 001_acme_quotes.sql \
                            (a version from 1, an underscore, a name, .sql)";
    let bytes = file.as_bytes();
    let mut digits = 0;
    let mut version: u32 = 0;
    while digits < bytes.len() && bytes[digits].is_ascii_digit() {
        version = match version.checked_mul(10) {
            Some(v) => match v.checked_add((bytes[digits] - b'0') as u32) {
                Some(v) => v,
                None => panic!("{}", EXPECTED),
            },
            None => panic!("{}", EXPECTED),
        };
        digits += 1;
    }
    let suffix = b".sql".len();
    // At least one digit, the underscore, one character of name, the suffix.
    if digits == 0 || version == 0 || bytes.len() < digits + 2 + suffix || bytes[digits] != b'_' {
        panic!("{}", EXPECTED);
    }
    let (stem, extension) = bytes.split_at(bytes.len() - suffix);
    if !matches!(extension, b".sql") {
        panic!("{}", EXPECTED);
    }
    let (_, name) = stem.split_at(digits + 1);
    match std::str::from_utf8(name) {
        Ok(name) => (version, name),
        Err(_) => panic!("{}", EXPECTED),
    }
}

/// Embeds migration file `migrations/NNN_name.sql` of the plugin's crate (the
/// folder beside its `Cargo.toml`), taking its version and name from the file
/// name, so that they are written once. A file name of another shape stops
/// the build.
///
/// ```ignore
/// use spine_plugin_api::{include_migration, Plugin};
///
/// Plugin::new("acme", env!("CARGO_PKG_VERSION"), "Acme daily quotes").migrations([
///     include_migration!("001_acme_quotes.sql"),        // version 1, name "acme_quotes"
///     include_migration!("002_acme_quotes_by_day.sql"), // version 2, name "acme_quotes_by_day"
/// ]);
/// ```
///
/// (Not run here: it reads the files of the crate that uses it.
/// `plugins/example` uses it, and its tests check the result.)
#[macro_export]
macro_rules! include_migration {
    ($file:literal) => {{
        const VERSION_AND_NAME: (u32, &str) = $crate::__private::parse_migration_file_name($file);
        $crate::Migration::new(
            VERSION_AND_NAME.0,
            VERSION_AND_NAME.1,
            include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/", $file)),
        )
    }};
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_give_version_and_name() {
        assert_eq!(parse_file_name("001_acme_quotes.sql"), (1, "acme_quotes"));
        assert_eq!(parse_file_name("12_x.sql"), (12, "x"));
        assert_eq!(parse_file_name("0042_a_b_c.sql"), (42, "a_b_c"));
        // Evaluated by the compiler, as include_migration! does.
        const AT_COMPILE_TIME: (u32, &str) = parse_file_name("003_by_day.sql");
        assert_eq!(AT_COMPILE_TIME, (3, "by_day"));
    }

    #[test]
    fn other_file_names_are_refused_with_the_expected_shape() {
        for bad in [
            "acme_quotes.sql",
            "000_zero.sql",
            "001acme.sql",
            "001_.sql",
            "001_acme.SQL",
            "001_acme.sq",
            "001_acme",
            "99999999999_overflow.sql",
            "",
        ] {
            let payload = std::panic::catch_unwind(|| parse_file_name(bad)).expect_err(bad);
            let message = payload
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| payload.downcast_ref::<&str>().copied())
                .expect("a panic message");
            assert!(
                message.contains("expected a file name NNN_name.sql"),
                "{bad}: {message}"
            );
        }
    }
}
