//! The host's one hand-written use of SQLite's C API: the statements that
//! `execute` and `execute_many` run for plugins, prepared by the host itself
//! and kept by SQL text, with text and blobs bound where the plugin holds them
//! (`SQLITE_STATIC`) instead of copied into SQLite first, as rusqlite does.
//!
//! Why it stays: measured with callgrind (instructions of the whole
//! `spine-host run` process, release build, 100,000 lines from
//! `scripts/gen-finra.py 100000 --weeks 4`; repeat runs agree to 0.01%):
//!
//! | how `execute` and `execute_many` run              | otc.ingest       | otc.summarize |
//! |---------------------------------------------------|-----------------:|--------------:|
//! | this module: values bound in place                | 2,174 M          | 448 M         |
//! | this module, values copied (`SQLITE_TRANSIENT`)   | 2,596 M (+19.4%) | 475 M (+6.0%) |
//! | rusqlite: `prepare_cached`, `raw_bind_parameter`, `raw_execute` | 2,654 M (+22.0%) | 479 M (+6.8%) |
//! | the same, SQLite built with a 1.8 MB lookaside    | 2,322 M (+6.8%)  | 459 M (+2.3%) |
//!
//! otc.normalize (an `INSERT … SELECT`) costs 1,013 M on every path. A
//! copied value costs a malloc, a memcpy and a free (a lookaside of
//! `SQLITE_DEFAULT_LOOKASIDE=1200,1500` makes the allocation cheaper but
//! not free), and a bulk load binds millions. The statement cache by itself
//! gains nothing over rusqlite's (hashing the SQL costs both about the same),
//! and calling SQLite directly instead of through `raw_bind_parameter` and
//! `raw_execute` gains 2.2%: both are here only because rusqlite never lends
//! out the handle of a statement it prepared, and binding in place needs one.
//!
//! Binding in place is sound because the values are borrowed for the whole
//! call, every parameter is bound before each step, and the statement is
//! reset and its bindings cleared before the call returns, whatever happens.

use rusqlite::{ffi, Connection};
use spine_plugin_api::host::Value;
use spine_plugin_api::SqlValue;
use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::{c_int, c_uint, CStr};
use std::ptr::NonNull;
use std::rc::Rc;

/// Statements kept prepared; the cache starts over when full.
const CAPACITY: usize = 64;

/// Plugin statements prepared by the host, by SQL text.
///
/// Its owner drops it before the connection: SQLite refuses to close a
/// connection that still has statements (rusqlite then leaks it).
#[derive(Default)]
pub(crate) struct RawStatements {
    statements: RefCell<HashMap<String, Rc<RawStatement>>>,
}

impl RawStatements {
    /// The statement of `sql` from the cache, or prepared now on `conn`;
    /// `None` for SQL that does not hold exactly one statement, which the
    /// caller runs through rusqlite instead (for its errors).
    pub(crate) fn get(&self, conn: &Connection, sql: &str) -> rusqlite::Result<Option<Rc<RawStatement>>> {
        if let Some(statement) = self.statements.borrow().get(sql) {
            return Ok(Some(Rc::clone(statement)));
        }
        let Some(statement) = RawStatement::prepare(conn, sql)? else {
            return Ok(None);
        };
        let statement = Rc::new(statement);
        let mut statements = self.statements.borrow_mut();
        if statements.len() >= CAPACITY {
            statements.clear();
        }
        statements.insert(sql.to_owned(), Rc::clone(&statement));
        Ok(Some(statement))
    }

    /// Finalizes every cached statement (one still running finishes first).
    pub(crate) fn clear(&self) {
        self.statements.borrow_mut().clear();
    }
}

/// One statement prepared through SQLite's C API.
pub(crate) struct RawStatement {
    statement: NonNull<ffi::sqlite3_stmt>,
    db: NonNull<ffi::sqlite3>,
}

impl RawStatement {
    /// Prepares `sql`; `None` when it holds no statement or more than one.
    fn prepare(conn: &Connection, sql: &str) -> rusqlite::Result<Option<RawStatement>> {
        let Ok(length) = c_int::try_from(sql.len()) else {
            return Ok(None);
        };
        // SAFETY: the handle of a live connection, which outlives the
        // statements prepared on it (see `RawStatements`).
        let db = unsafe { conn.handle() };
        let db = NonNull::new(db).expect("an open connection has a handle");
        let (mut statement, mut tail) = (std::ptr::null_mut(), std::ptr::null());
        // SAFETY: SQLite reads `length` bytes of `sql`, and writes the
        // statement and tail pointers, which live across the call.
        let code = unsafe {
            ffi::sqlite3_prepare_v3(
                db.as_ptr(),
                sql.as_ptr().cast(),
                length,
                ffi::SQLITE_PREPARE_PERSISTENT as c_uint,
                &mut statement,
                &mut tail,
            )
        };
        if code != ffi::SQLITE_OK {
            return Err(sqlite_error(db, code));
        }
        let Some(statement) = NonNull::new(statement) else {
            return Ok(None);
        };
        let statement = RawStatement { statement, db };
        // SQLite points `tail` into `sql`, just after the first statement.
        let used = tail.addr().saturating_sub(sql.as_ptr().addr());
        if !sql.get(used..).unwrap_or_default().trim().is_empty() {
            return Ok(None);
        }
        Ok(Some(statement))
    }

    /// Runs the statement once per row of `params` (rows of `columns`
    /// values, one after the other); returns the rows changed. The statement
    /// is reset and its bindings cleared before this returns, whatever happens.
    pub(crate) fn run_rows(&self, columns: usize, params: &[Value<'_>]) -> rusqlite::Result<u64> {
        let outcome = self.bind_and_step(columns, params);
        // SAFETY: a live statement. Clearing its bindings before `params`
        // can go away is what makes binding in place sound.
        unsafe {
            ffi::sqlite3_reset(self.statement.as_ptr());
            ffi::sqlite3_clear_bindings(self.statement.as_ptr());
        }
        outcome
    }

    fn bind_and_step(&self, columns: usize, params: &[Value<'_>]) -> rusqlite::Result<u64> {
        // SAFETY: a live statement.
        let expected = unsafe { ffi::sqlite3_bind_parameter_count(self.statement.as_ptr()) };
        let expected = usize::try_from(expected).unwrap_or(0);
        if expected != columns {
            return Err(rusqlite::Error::InvalidParameterCount(columns, expected));
        }
        // A statement without parameters runs once, with no values.
        let rows = params.len().checked_div(columns).unwrap_or(1);
        if rows * columns != params.len() {
            // A last row cut short: it has this many values.
            let given = params.len() - rows * columns;
            return Err(rusqlite::Error::InvalidParameterCount(given, expected));
        }
        let mut changed = 0;
        for row in 0..rows {
            for (index, value) in (1..).zip(&params[row * columns..(row + 1) * columns]) {
                // SAFETY: `value` is borrowed for this whole call, and
                // `run_rows` clears the bindings before it returns.
                unsafe { self.bind_in_place(index, value)? };
            }
            changed += self.step()?;
        }
        Ok(changed)
    }

    /// Binds `value` as parameter `index` where it lies, without copying it.
    ///
    /// # Safety
    /// The statement is never stepped after `value` is gone: its bindings are
    /// cleared first.
    unsafe fn bind_in_place(&self, index: c_int, value: &Value<'_>) -> rusqlite::Result<()> {
        let statement = self.statement.as_ptr();
        // SAFETY: a live statement; SQLite keeps the pointers it is given
        // (`SQLITE_STATIC`) only as long as the caller promises they live.
        let code = unsafe {
            match SqlValue::from(*value) {
                SqlValue::Null => ffi::sqlite3_bind_null(statement, index),
                SqlValue::Integer(v) => ffi::sqlite3_bind_int64(statement, index, v),
                SqlValue::Real(v) => ffi::sqlite3_bind_double(statement, index, v),
                SqlValue::Text(text) => {
                    // An empty string may point nowhere: bind one that
                    // points somewhere, as rusqlite does.
                    let text = if text.is_empty() { "" } else { text };
                    ffi::sqlite3_bind_text64(
                        statement,
                        index,
                        text.as_ptr().cast(),
                        text.len() as ffi::sqlite3_uint64,
                        ffi::SQLITE_STATIC(),
                        ffi::SQLITE_UTF8 as u8,
                    )
                }
                SqlValue::Blob([]) => ffi::sqlite3_bind_zeroblob(statement, index, 0),
                SqlValue::Blob(blob) => ffi::sqlite3_bind_blob64(
                    statement,
                    index,
                    blob.as_ptr().cast(),
                    blob.len() as ffi::sqlite3_uint64,
                    ffi::SQLITE_STATIC(),
                ),
            }
        };
        self.check(code)
    }

    /// Steps the statement once, to its end, and resets it; returns the rows
    /// it changed.
    fn step(&self) -> rusqlite::Result<u64> {
        // SAFETY: a live statement whose every parameter is bound to a value
        // that outlives the step.
        match unsafe { ffi::sqlite3_step(self.statement.as_ptr()) } {
            ffi::SQLITE_DONE => {}
            ffi::SQLITE_ROW => return Err(rusqlite::Error::ExecuteReturnedResults),
            code => return Err(sqlite_error(self.db, code)),
        }
        // SAFETY: the statement's connection is open (see `RawStatements`).
        let changed = unsafe { ffi::sqlite3_changes64(self.db.as_ptr()) };
        // SAFETY: a live statement; after a successful step the reset
        // cannot fail.
        unsafe { ffi::sqlite3_reset(self.statement.as_ptr()) };
        Ok(u64::try_from(changed).unwrap_or(0))
    }

    fn check(&self, code: c_int) -> rusqlite::Result<()> {
        match code {
            ffi::SQLITE_OK => Ok(()),
            code => Err(sqlite_error(self.db, code)),
        }
    }
}

impl Drop for RawStatement {
    fn drop(&mut self) {
        // SAFETY: the statement is finalized once, while its connection is
        // open (see `RawStatements`).
        unsafe { ffi::sqlite3_finalize(self.statement.as_ptr()) };
    }
}

/// The connection's error for result code `code`, as rusqlite words it.
fn sqlite_error(db: NonNull<ffi::sqlite3>, code: c_int) -> rusqlite::Error {
    // SAFETY: `db` is open; sqlite3_errmsg returns a NUL-terminated string
    // owned by the connection, copied at once.
    let message = unsafe { CStr::from_ptr(ffi::sqlite3_errmsg(db.as_ptr())) };
    rusqlite::Error::SqliteFailure(
        ffi::Error::new(code),
        Some(message.to_string_lossy().into_owned()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Database;
    use crate::progress::Progress;
    use crate::services::RunServices;
    use crate::transaction::RunTransaction;
    use rusqlite::types::Value as Stored;
    use spine_plugin_api::host::Services;
    use std::sync::atomic::AtomicBool;

    const INSERT: &str = "INSERT INTO t_values (id, v) VALUES (?1, ?2)";

    /// A database with the tables of domain `t`, and the host services a
    /// pipeline of `t` calls, its plugin SQL fenced as during a run.
    struct Host {
        db: Database,
        progress: Progress,
        cancel: AtomicBool,
        _dir: tempfile::TempDir,
    }

    impl Host {
        fn new() -> Self {
            let dir = tempfile::tempdir().unwrap();
            let db = Database::open(&dir.path().join("spine.db")).unwrap();
            db.conn
                .execute_batch(
                    "CREATE TABLE t_values (id INTEGER PRIMARY KEY, v);
                     CREATE TABLE t_pairs (a CHECK (a IS NOT 'refused'), b);",
                )
                .unwrap();
            // Statements are cached for domain `t` from the start, as in a
            // run of `t`: each call's services fence its SQL again.
            drop(db.fence_plugin_sql("t").unwrap());
            Self {
                db,
                progress: Progress::silent(),
                cancel: AtomicBool::new(false),
                _dir: dir,
            }
        }

        fn services(&self) -> RunServices<'_> {
            RunServices {
                db: &self.db,
                progress: &self.progress,
                cancel: &self.cancel,
                execution_info: serde_json::Value::Null,
                domain: "t",
                transaction: RunTransaction::Open(self.db.fence_plugin_sql("t").unwrap()),
            }
        }

        fn execute(&self, sql: &str, params: &[Value<'_>]) -> Result<u64, String> {
            let outcome = self.services().execute(sql, params);
            outcome.map_err(|e| e.message)
        }

        fn execute_many(&self, sql: &str, columns: u32, params: &[Value<'_>]) -> Result<u64, String> {
            let outcome = self.services().execute_many(sql, columns, params);
            outcome.map_err(|e| e.message)
        }

        fn rows(&self, sql: &str) -> Vec<(Stored, Stored)> {
            let mut statement = self.db.conn.prepare(sql).unwrap();
            let rows = statement
                .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
                .unwrap();
            rows.map(Result::unwrap).collect()
        }

        /// The cached statement of `sql`.
        fn statement(&self, sql: &str) -> Rc<RawStatement> {
            self.db.plugin_statement(sql).unwrap().expect("one statement")
        }
    }

    fn text(value: &str) -> Value<'_> {
        SqlValue::Text(value).into()
    }

    #[test]
    fn values_of_every_storage_class_are_stored_as_bound() {
        let host = Host::new();
        let name = String::from("Bee \"B\" Co, Inc. (ünï)");
        let empty = String::new(); // its pointer points nowhere
        let blob = vec![0u8, 1, 255];
        let values = [
            Value::Integer(1),
            Value::Null,
            Value::Integer(2),
            Value::Integer(i64::MIN),
            Value::Integer(3),
            Value::Real(-0.25),
            Value::Integer(4),
            text(&name),
            Value::Integer(5),
            text(&"xxMPIDxx"[2..6]), // no NUL where it ends
            Value::Integer(6),
            text(&empty),
            Value::Integer(7),
            SqlValue::Blob(&blob).into(),
            Value::Integer(8),
            SqlValue::Blob(&[]).into(),
        ];
        assert_eq!(host.execute_many(INSERT, 2, &values), Ok(8));
        // `execute` runs one row of every placeholder, as the bulk inserts do.
        let two_rows = "INSERT INTO t_values (id, v) VALUES (?, ?), (?, ?)";
        let values = [Value::Integer(9), text(""), Value::Integer(10), Value::Null];
        assert_eq!(host.execute(two_rows, &values), Ok(2));
        assert_eq!(host.execute("DELETE FROM t_values WHERE id > 10", &[]), Ok(0));

        let expected = [
            Stored::Null,
            Stored::Integer(i64::MIN),
            Stored::Real(-0.25),
            Stored::Text(name),
            Stored::Text("MPID".into()),
            Stored::Text(String::new()),
            Stored::Blob(blob),
            Stored::Blob(Vec::new()),
            Stored::Text(String::new()),
            Stored::Null,
        ];
        let expected: Vec<_> = (1..).map(Stored::Integer).zip(expected).collect();
        assert_eq!(host.rows("SELECT id, v FROM t_values ORDER BY id"), expected);
    }

    #[test]
    fn a_statement_that_failed_runs_again_with_new_values() {
        let host = Host::new();
        let statement = host.statement(INSERT);
        let repeated_key = [Value::Integer(1), text("first"), Value::Integer(1), text("again")];
        let error = host.execute_many(INSERT, 2, &repeated_key).unwrap_err();
        assert!(error.contains("UNIQUE constraint failed: t_values.id"), "{error}");
        let cut_short = [Value::Integer(2), text("second"), Value::Integer(3)];
        let error = host.execute_many(INSERT, 2, &cut_short).unwrap_err();
        assert!(error.contains("Got 1, needed 2"), "{error}");
        let error = host.execute(INSERT, &[Value::Integer(2)]).unwrap_err();
        assert!(error.contains("Got 1, needed 2"), "{error}");

        let values = [Value::Integer(2), text("second"), Value::Integer(3), Value::Null];
        assert_eq!(host.execute_many(INSERT, 2, &values), Ok(2));
        assert!(Rc::ptr_eq(&statement, &host.statement(INSERT)), "prepared again");
        // The first row of the failed call stays, as in rusqlite: the run's
        // transaction decides whether it is kept.
        let rows = host.rows("SELECT id, v FROM t_values ORDER BY id");
        let expected = [
            (Stored::Integer(1), Stored::Text("first".into())),
            (Stored::Integer(2), Stored::Text("second".into())),
            (Stored::Integer(3), Stored::Null),
        ];
        assert_eq!(rows, expected);
    }

    #[test]
    fn no_binding_outlives_the_call_that_made_it() {
        let host = Host::new();
        let insert = "INSERT INTO t_pairs (a, b) VALUES (?1, ?2)";
        let statement = host.statement(insert);
        // Steps the cached statement with whatever it still has bound.
        let step_unbound = || {
            // SAFETY: the statement is live, and `note` and `blob` (the only
            // values it was ever given) outlive every step of it.
            let code = unsafe { ffi::sqlite3_step(statement.statement.as_ptr()) };
            assert_eq!(code, ffi::SQLITE_DONE);
            // SAFETY: as above.
            unsafe { ffi::sqlite3_reset(statement.statement.as_ptr()) };
        };
        let note = String::from("bound for one call");
        let blob = vec![7u8; 3];
        let values = [text(&note), SqlValue::Blob(&blob).into()];
        assert_eq!(host.execute_many(insert, 2, &values), Ok(1));
        step_unbound();
        let values = [
            text(&note),
            Value::Null,
            text("refused"),
            SqlValue::Blob(&blob).into(),
        ];
        let error = host.execute_many(insert, 2, &values).unwrap_err();
        assert!(error.contains("CHECK constraint failed"), "{error}");
        step_unbound();

        let rows = host.rows("SELECT a, b FROM t_pairs ORDER BY rowid");
        let expected = [
            (Stored::Text(note.clone()), Stored::Blob(blob)),
            (Stored::Null, Stored::Null),
            (Stored::Text(note), Stored::Null),
            (Stored::Null, Stored::Null),
        ];
        assert_eq!(rows, expected);
    }
}
