//! The fence around plugin SQL: an SQLite authorizer that judges every
//! statement of plugin SQL when it is prepared.
//!
//! The host owns transactions: plugin SQL may not control them, `ATTACH` or
//! `DETACH`, or run a `PRAGMA` other than a few read-only ones. It keeps each
//! plugin to its own objects: the SQL of domain `d`, its migrations' and its
//! pipelines', may create, change and write only objects named `d_…`, and it
//! may read every table. It never writes one of SQLite's own `sqlite_…`
//! tables: only SQLite's bookkeeping inside a statement that changes the
//! plugin's own objects does (a `DROP TABLE` deletes the table's
//! `sqlite_sequence` row). It may create temporary tables, views and indexes,
//! but no temporary trigger (one could fire on the host's own statements) and
//! no temporary object named like an object of the database (it would stand
//! in for it in every statement that does not name `main.`).

use rusqlite::hooks::{AuthAction, AuthContext, Authorization};
use rusqlite::Connection;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// Read-only pragmas plugin SQL may use to inspect tables.
const PLUGIN_READABLE_PRAGMAS: &[&str] = &["table_info", "table_xinfo", "index_list", "index_info"];

/// SQLite's schema tables: SQLite itself refuses direct writes to them (the
/// fence refuses `PRAGMA writable_schema`), so every write the authorizer
/// sees is SQLite recording a DDL statement.
const SCHEMA_TABLES: &[&str] = &[
    "sqlite_master",
    "sqlite_schema",
    "sqlite_temp_master",
    "sqlite_temp_schema",
];

/// The authorizer's state, shared with the connection's callback.
#[derive(Default)]
pub(crate) struct Fence {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// The domain whose plugin SQL is running; `None` while the host's own runs.
    domain: Option<String>,
    /// Every object of the `main` database, lowercase name → kind: those when
    /// the fence went up, and those plugin SQL was allowed to create since.
    objects: HashMap<String, &'static str>,
    /// True once the statement being prepared was allowed to change one of
    /// the plugin's own objects: SQLite's bookkeeping of that change (in
    /// `sqlite_sequence`, `sqlite_stat1`) comes after it in the same statement.
    own_change_in_statement: bool,
    last_refusal: Option<String>,
}

/// Plugin SQL of one domain is fenced while this lives.
pub(crate) struct FencedPluginSql {
    fence: Arc<Fence>,
}

impl Drop for FencedPluginSql {
    fn drop(&mut self) {
        let mut state = self.fence.lock();
        state.domain = None;
        state.objects.clear();
    }
}

impl FencedPluginSql {
    /// What the plugin SQL that ran under this fence left in the schema and
    /// the authorizer could not judge: `ALTER TABLE … RENAME TO` tells the
    /// authorizer the old name only, so a table renamed out of the domain's
    /// namespace (into another domain's, or `core_…`), or a temporary one
    /// renamed to stand in for an object of the database, is found here, by
    /// name, before the run or migration commits. `None` when all is well.
    pub(crate) fn schema_escape(&self, conn: &Connection) -> rusqlite::Result<Option<String>> {
        let mut statement = conn.prepare(
            "SELECT 'main', type, name FROM main.sqlite_schema
             UNION ALL SELECT 'temp', type, name FROM temp.sqlite_schema",
        )?;
        let rows = statement
            .query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let state = self.fence.lock();
        let Some(domain) = &state.domain else {
            return Ok(None);
        };
        let in_main: std::collections::HashSet<String> = rows
            .iter()
            .filter(|(database, _, _)| database == "main")
            .map(|(_, _, name)| name.to_ascii_lowercase())
            .collect();
        for (database, kind, name) in &rows {
            let lower = name.to_ascii_lowercase();
            if lower.starts_with("sqlite_") {
                continue; // SQLite's own (sqlite_sequence, sqlite_autoindex_…)
            }
            if database == "main" && !state.objects.contains_key(&lower) && !owned_by(domain, &lower) {
                return Ok(Some(format!(
                    "plugin SQL of domain `{domain}` may name its objects only `{domain}_…`; it left {kind} \
                     `{name}` (renamed out of its namespace), and the change was rolled back"
                )));
            }
            if database == "temp" && in_main.contains(&lower) {
                return Ok(Some(format!(
                    "plugin SQL may not leave temporary {kind} `{name}`: it would stand in for the object \
                     of that name, and the change was rolled back"
                )));
            }
        }
        Ok(None)
    }
}

impl Fence {
    /// Installs the authorizer on `conn`; it lets everything through until
    /// [`Fence::enter`] is called.
    pub(crate) fn install(conn: &mut Connection) -> rusqlite::Result<Arc<Fence>> {
        let fence = Arc::new(Fence::default());
        let judge = Arc::clone(&fence);
        conn.authorizer(Some(move |context: AuthContext<'_>| judge.authorize(&context)))?;
        Ok(fence)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the state half-changed
        // in a way that matters: every field is replaced whole.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Fences what runs from now until the guard drops as plugin SQL of
    /// `domain`; `objects` are the database's objects (lowercase name, kind).
    pub(crate) fn enter(
        self: &Arc<Self>,
        domain: &str,
        objects: impl IntoIterator<Item = (String, &'static str)>,
    ) -> FencedPluginSql {
        let mut state = self.lock();
        state.domain = Some(domain.to_owned());
        state.objects = objects.into_iter().collect();
        state.own_change_in_statement = false;
        FencedPluginSql {
            fence: Arc::clone(self),
        }
    }

    /// Called before each statement of plugin SQL is prepared or run: what the
    /// previous statement changed allows nothing in the next.
    pub(crate) fn new_statement(&self) {
        self.lock().own_change_in_statement = false;
    }

    /// Why the fence last refused a plugin statement, taken once.
    pub(crate) fn take_refusal(&self) -> Option<String> {
        self.lock().last_refusal.take()
    }

    fn authorize(&self, context: &AuthContext<'_>) -> Authorization {
        let mut state = self.lock();
        let Some(domain) = state.domain.clone() else {
            return Authorization::Allow;
        };
        match judge(&domain, &mut state, context) {
            Ok(()) => Authorization::Allow,
            Err(reason) => {
                state.last_refusal = Some(reason);
                Authorization::Deny
            }
        }
    }
}

fn judge(domain: &str, state: &mut State, context: &AuthContext<'_>) -> Result<(), String> {
    match &context.action {
        AuthAction::Transaction { .. } | AuthAction::Savepoint { .. } => Err(
            "plugin SQL may not begin, commit or roll back transactions: the host runs each \
             pipeline in one transaction of its own"
                .to_owned(),
        ),
        AuthAction::Attach { .. } | AuthAction::Detach { .. } => {
            Err("plugin SQL may not ATTACH or DETACH databases".to_owned())
        }
        AuthAction::Pragma { pragma_name, .. } if !PLUGIN_READABLE_PRAGMAS.contains(pragma_name) => Err(
            format!("plugin SQL may not run PRAGMA {pragma_name}: the host owns the connection's settings"),
        ),
        AuthAction::CreateTempTrigger { trigger_name, .. } => Err(format!(
            "plugin SQL may not create TEMP trigger `{trigger_name}`: a temporary trigger could fire on \
             the host's own statements"
        )),
        AuthAction::CreateTempTable { table_name: name }
        | AuthAction::CreateTempView { view_name: name }
        | AuthAction::CreateTempIndex { index_name: name, .. } => {
            match state.objects.get(&name.to_ascii_lowercase()) {
                Some(kind) => Err(format!(
                "plugin SQL may not create TEMP object `{name}`: it would stand in for the {kind} of that \
                 name"
            )),
                None => Ok(()),
            }
        }
        // Temporary objects are the run's own, and dropped when it ends.
        _ if context.database_name == Some("temp") => Ok(()),
        action => {
            let changed = changed_objects(action);
            for &(name, kind) in &changed {
                let lower = name.to_ascii_lowercase();
                if lower.starts_with("sqlite_") {
                    if !SCHEMA_TABLES.contains(&lower.as_str()) && !state.own_change_in_statement {
                        return Err(format!(
                            "plugin SQL may not write SQLite's own table `{name}`: SQLite keeps it \
                             for every domain"
                        ));
                    }
                } else if !owned_by(domain, &lower) {
                    let kinds = if kind == "index" {
                        "indexes"
                    } else {
                        &format!("{kind}s")
                    };
                    return Err(format!(
                        "plugin SQL of domain `{domain}` may change only its own {kinds}, named \
                         `{domain}_…`; `{name}` is not one of them"
                    ));
                }
            }
            if is_schema_change(action) {
                state.own_change_in_statement = true;
                if let Some(&(name, kind)) = changed.first().filter(|_| is_creation(action)) {
                    state.objects.insert(name.to_ascii_lowercase(), kind);
                }
            }
            Ok(())
        }
    }
}

/// The tables, views, indexes and triggers that `action` writes, creates,
/// alters or drops, each with its kind, the object itself first; none for reads.
fn changed_objects<'a>(action: &AuthAction<'a>) -> Vec<(&'a str, &'static str)> {
    match *action {
        AuthAction::Insert { table_name }
        | AuthAction::Update { table_name, .. }
        | AuthAction::Delete { table_name }
        | AuthAction::CreateTable { table_name }
        | AuthAction::DropTable { table_name }
        | AuthAction::AlterTable { table_name, .. }
        | AuthAction::CreateVtable { table_name, .. }
        | AuthAction::DropVtable { table_name, .. } => vec![(table_name, "table")],
        AuthAction::CreateView { view_name } | AuthAction::DropView { view_name } => {
            vec![(view_name, "view")]
        }
        AuthAction::CreateIndex {
            index_name,
            table_name,
        }
        | AuthAction::DropIndex {
            index_name,
            table_name,
        } => vec![(index_name, "index"), (table_name, "table")],
        AuthAction::CreateTrigger {
            trigger_name,
            table_name,
        }
        | AuthAction::DropTrigger {
            trigger_name,
            table_name,
        } => vec![(trigger_name, "trigger"), (table_name, "table")],
        // REINDEX rewrites an index (SQLite asks once per index, also for a
        // bare REINDEX of every index).
        AuthAction::Reindex { index_name } => vec![(index_name, "index")],
        _ => Vec::new(),
    }
}

fn is_creation(action: &AuthAction<'_>) -> bool {
    matches!(
        action,
        AuthAction::CreateTable { .. }
            | AuthAction::CreateView { .. }
            | AuthAction::CreateIndex { .. }
            | AuthAction::CreateTrigger { .. }
            | AuthAction::CreateVtable { .. }
    )
}

fn is_schema_change(action: &AuthAction<'_>) -> bool {
    is_creation(action)
        || matches!(
            action,
            AuthAction::DropTable { .. }
                | AuthAction::DropView { .. }
                | AuthAction::DropIndex { .. }
                | AuthAction::DropTrigger { .. }
                | AuthAction::DropVtable { .. }
                | AuthAction::AlterTable { .. }
        )
}

/// True when the lowercase `name` is one of `domain`'s objects.
fn owned_by(domain: &str, name: &str) -> bool {
    name.strip_prefix(&domain.to_ascii_lowercase())
        .is_some_and(|rest| rest.starts_with('_'))
}
