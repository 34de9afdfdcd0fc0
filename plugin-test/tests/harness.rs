//! The harness runs a plugin value through the host's own code: these tests
//! pin what that means (transactions, the fence, the loader's manifest
//! checks, parameter validation, the execution record) and exercise the SDK's
//! database and context calls against the real host services.

use spine_plugin_api::{
    Context, Error, Metrics, Param, ParamKind, Pipeline, PipelineDef, Plugin, Result, SqlValue,
};
use spine_plugin_test::{json, Harness, Status, Value};

/// A pipeline given as a closure over the context.
struct Steps(fn(&mut Context<'_>) -> Result<Metrics>);

impl Pipeline for Steps {
    fn run(&mut self, ctx: &mut Context<'_>) -> Result<Metrics> {
        (self.0)(ctx)
    }
}

/// Adds pipeline `probe.<name>` running `run`.
fn step(plugin: Plugin, name: &str, run: fn(&mut Context<'_>) -> Result<Metrics>) -> Plugin {
    plugin.pipeline(PipelineDef::new(format!("probe.{name}"), name), move |_| {
        Ok(Steps(run))
    })
}

/// The `probe` domain: one table, and one pipeline per behaviour under test.
fn plugin() -> Plugin {
    let plugin = Plugin::new("probe", "0.0.1", "Harness probes").migration(
        1,
        "probe_rows",
        "CREATE TABLE probe_rows (n INTEGER, tag TEXT)",
    );
    let plugin = step(plugin, "write_then_fail", |ctx| {
        ctx.execute("INSERT INTO probe_rows (n) VALUES (1)", &[])?;
        Err(Error::new("probe.failed", "failed after writing").with_help("nothing is kept"))
    });
    let plugin = step(plugin, "write_then_panic", |ctx| {
        ctx.execute("INSERT INTO probe_rows (n) VALUES (2)", &[])?;
        let empty: Vec<i64> = Vec::new();
        Ok(Metrics::new().with("never", empty[3]))
    });
    let plugin = step(plugin, "write_core", |ctx| {
        ctx.execute("DELETE FROM core_executions", &[])?;
        Ok(Metrics::new())
    });
    let plugin = step(plugin, "rows", |ctx| {
        let rows: Vec<[SqlValue; 2]> = (1..=3_i64).map(|n| [n.into(), "bulk".into()]).collect();
        let inserted = ctx.execute_rows("INSERT INTO probe_rows (n, tag) VALUES (?1, ?2)", &rows)?;
        let count: i64 = ctx.query_scalar("SELECT COUNT(*) FROM probe_rows", &[])?;
        let total: f64 = ctx.query_scalar("SELECT TOTAL(n) FROM probe_rows", &[])?;
        let sum: Option<i64> = ctx.query_scalar("SELECT SUM(n) FROM probe_rows WHERE n > 99", &[])?;
        let total_as_integer = ctx
            .query_scalar::<i64>("SELECT TOTAL(n) FROM probe_rows", &[])
            .unwrap_err();
        let no_row = ctx
            .query_scalar::<i64>("SELECT n FROM probe_rows WHERE n > 99", &[])
            .unwrap_err();
        let two_rows = ctx
            .query_scalar::<i64>("SELECT n FROM probe_rows", &[])
            .unwrap_err();
        Ok(Metrics::new()
            .with("inserted", inserted)
            .with("count", count)
            .with("total", total)
            .with("sum", sum)
            .with("total_as_integer", total_as_integer.to_string())
            .with("no_row", no_row.code)
            .with("two_rows", two_rows.code))
    });
    let plugin = step(plugin, "whoami", |ctx| {
        let id = ctx.execution_id()?;
        ctx.execute("INSERT INTO probe_rows (n, tag) VALUES (0, ?1)", &[(&id).into()])?;
        ctx.info(format_args!("running as {id}"));
        Ok(Metrics::new()
            .with("execution_id", id)
            .with("pipeline", ctx.pipeline()?)
            .with("today", ctx.today()?))
    });
    plugin.pipeline(
        PipelineDef::new("probe.days", "Takes a number of days")
            .param(Param::new("days", ParamKind::Integer).required()),
        |params| {
            let days = params.i64("days")?;
            if days > 7 {
                return Err(Error::new(
                    "probe.params.days",
                    format!("at most 7 days, got {days}"),
                ));
            }
            Ok(Steps(|_| Ok(Metrics::new())))
        },
    )
}

fn rows_stored(harness: &Harness) -> Value {
    harness.query("SELECT COUNT(*) AS n FROM probe_rows").unwrap()[0]["n"].clone()
}

#[test]
fn a_failed_run_is_recorded_and_its_writes_are_rolled_back() {
    let harness = Harness::new(plugin()).unwrap();
    let run = harness.run("probe.write_then_fail", &[]).unwrap();
    assert_eq!(run.status, Status::Failed);
    assert_eq!(
        run.error.as_deref(),
        Some("failed after writing (help: nothing is kept)")
    );
    assert_eq!(run.metrics, Value::Null);
    assert_eq!(rows_stored(&harness), 0);
    let recorded = harness
        .query("SELECT id, status, error FROM core_executions")
        .unwrap();
    assert_eq!(
        recorded,
        [json!({"id": run.id, "status": "failed", "error": run.error})]
    );
}

#[test]
fn a_panic_fails_the_run_without_ending_the_test_process() {
    let harness = Harness::new(plugin()).unwrap();
    let run = harness.run("probe.write_then_panic", &[]).unwrap();
    assert_eq!(run.status, Status::Failed);
    let error = run.error.unwrap();
    assert!(error.starts_with("the plugin panicked: "), "{error}");
    assert!(
        error.contains("index out of bounds") && error.contains("harness.rs"),
        "{error}"
    );
    assert_eq!(rows_stored(&harness), 0);
    // The harness goes on working after the panic.
    assert_eq!(harness.run("probe.rows", &[]).unwrap().status, Status::Completed);
}

#[test]
fn plugin_sql_is_fenced_as_in_the_host() {
    let harness = Harness::new(plugin()).unwrap();
    let run = harness.run("probe.write_core", &[]).unwrap();
    assert_eq!(run.status, Status::Failed);
    let error = run.error.unwrap();
    assert!(error.contains("core_executions"), "{error}");
    assert_eq!(
        harness
            .query("SELECT COUNT(*) AS n FROM core_executions")
            .unwrap()[0]["n"],
        1
    );
}

#[test]
fn migrations_are_applied_and_fenced_and_manifests_checked_as_the_loader_does() {
    let harness = Harness::new(plugin()).unwrap();
    assert_eq!(
        harness
            .query("SELECT domain, version, name FROM core_migrations WHERE domain = 'probe'")
            .unwrap(),
        [json!({"domain": "probe", "version": 1, "name": "probe_rows"})]
    );

    let outside = Plugin::new("probe", "1", "d").migration(1, "other", "CREATE TABLE other_rows (n)");
    let refused = Harness::new(outside)
        .err()
        .expect("a migration outside the domain is refused");
    assert_eq!(refused.exit_code(), 3);
    assert!(
        refused.message().contains("applying migration probe/001_other")
            && refused.message().contains("other_rows"),
        "{refused}"
    );

    let misnamed = Plugin::new("probe", "1", "d").pipeline(PipelineDef::new("other.run", "d"), |_| {
        Ok(Steps(|_| Ok(Metrics::new())))
    });
    let refused = Harness::new(misnamed)
        .err()
        .expect("a pipeline outside the domain is refused");
    assert_eq!(
        refused.message(),
        "in-process plugin `probe`: declares pipeline `other.run`, whose name does not start with `probe.`"
    );

    let gap = Plugin::new("probe", "1", "d").migration(2, "probe_two", "SELECT 1");
    assert!(Harness::new(gap).is_err(), "migration numbering is checked");
}

#[test]
fn requests_the_host_refuses_before_running_are_errors_with_exit_code_2_and_record_nothing() {
    let harness = Harness::new(plugin()).unwrap();
    /// A pipeline, its parameters, and a part of the refusal's message.
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);
    let cases: [Case; 4] = [
        (
            "probe.dyas",
            &[],
            "no pipeline named `probe.dyas`; did you mean `probe.days`?",
        ),
        ("probe.days", &[], "`days`"),
        ("probe.days", &[("days", "many")], "days"),
        ("probe.days", &[("days", "9")], "at most 7 days, got 9"),
    ];
    for (pipeline, params, expected) in cases {
        let refused = harness.run(pipeline, params).unwrap_err();
        assert_eq!(refused.exit_code(), 2, "{refused}");
        assert!(refused.message().contains(expected), "{refused}");
    }
    assert_eq!(
        harness
            .query("SELECT COUNT(*) AS n FROM core_executions")
            .unwrap()[0]["n"],
        0
    );
    let run = harness.run("probe.days", &[("days", "7")]).unwrap();
    assert_eq!(
        (run.status, run.params.clone()),
        (Status::Completed, json!({"days": 7}))
    );
}

#[test]
fn bulk_rows_and_scalar_queries_cross_the_real_host_services() {
    let harness = Harness::new(plugin()).unwrap();
    let run = harness.run("probe.rows", &[]).unwrap();
    assert_eq!(run.status, Status::Completed, "{:?}", run.error);
    assert_eq!(run.metrics["inserted"], 3);
    assert_eq!(run.metrics["count"], 3);
    assert_eq!(run.metrics["total"], 6.0);
    assert_eq!(run.metrics["sum"], Value::Null);
    assert_eq!(
        run.metrics["total_as_integer"],
        "`SELECT TOTAL(n) FROM probe_rows`: expected an integer, found a float (6.0) \
         (help: TOTAL() and AVG() give floats: read an f64, or use SUM(), or CAST(x AS INTEGER))"
    );
    assert_eq!(run.metrics["no_row"], "sdk.query.no_row");
    assert_eq!(run.metrics["two_rows"], "sdk.query.shape");
    assert_eq!(
        harness.query("SELECT n, tag FROM probe_rows ORDER BY n").unwrap(),
        [
            json!({"n": 1, "tag": "bulk"}),
            json!({"n": 2, "tag": "bulk"}),
            json!({"n": 3, "tag": "bulk"})
        ]
    );
}

#[test]
fn the_context_knows_its_execution_pipeline_and_the_fixed_date() {
    let mut harness = Harness::new(plugin()).unwrap();
    harness.set_today("2025-12-15").unwrap();
    let run = harness.run("probe.whoami", &[]).unwrap();
    assert_eq!(run.status, Status::Completed, "{:?}", run.error);
    assert_eq!(run.metrics["execution_id"], run.id.as_str());
    assert_eq!(run.metrics["pipeline"], "probe.whoami");
    assert_eq!(run.metrics["today"], "2025-12-15");
    assert_eq!(run.logs, [format!("INFO  probe: running as {}", run.id)]);
    assert_eq!(
        harness.query("SELECT tag FROM probe_rows").unwrap(),
        [json!({"tag": run.id})]
    );
}

#[test]
fn each_harness_has_its_own_database() {
    let first = Harness::new(plugin()).unwrap();
    let second = Harness::new(plugin()).unwrap();
    assert_ne!(first.database_path(), second.database_path());
    first.run("probe.rows", &[]).unwrap();
    assert_eq!(rows_stored(&first), 3);
    assert_eq!(rows_stored(&second), 0);
}
