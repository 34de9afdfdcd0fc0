//! The host's side of the boundary ([`spine_plugin_api::host`]), round
//! trip: a plugin value served in-process (as the test harness serves one)
//! through its root module, with host services that record every call.
//! Kept out of the crate's own modules so that `host` and the SDK's
//! in-process module do not import each other.

use spine_plugin_api::__private::in_process;
use spine_plugin_api::host::{Rows, Services, Value};
use spine_plugin_api::{
    Context, Error, Level, Metrics, Migration, Param, ParamKind, Pipeline, PipelineDef, Plugin, Result,
    SqlValue,
};
use std::sync::Arc;

struct Quotes;

impl Pipeline for Quotes {
    fn run(&mut self, _ctx: &mut Context<'_>) -> Result<Metrics> {
        Ok(Metrics::new())
    }
}

/// A plugin value crosses the root module and comes back whole.
#[test]
fn the_manifest_and_migrations_cross_whole() {
    let plugin = Plugin::new("acme", "1.2.3", "Acme quotes")
        .pipeline(
            PipelineDef::new("acme.quotes", "Loads quotes")
                .param(Param::new("day", ParamKind::Date).required().help("the day"))
                .param(Param::new("limit", ParamKind::Integer).default("10")),
            |_| Ok(Quotes),
        )
        .migration(1, "acme_quotes", "CREATE TABLE acme_quotes (day TEXT)");
    let module = in_process::module();
    let (manifest, migrations) = in_process::serve(&Arc::new(plugin), || {
        (module.manifest().unwrap(), module.migrations().unwrap())
    });
    assert_eq!(
        (
            manifest.domain.as_str(),
            manifest.version.as_str(),
            manifest.description.as_str()
        ),
        ("acme", "1.2.3", "Acme quotes")
    );
    let spec = &manifest.pipelines[0];
    assert_eq!(
        (spec.name.as_str(), spec.description.as_str()),
        ("acme.quotes", "Loads quotes")
    );
    let params: Vec<_> = spec
        .params
        .iter()
        .map(|p| {
            (
                p.name.as_str(),
                p.kind.as_str(),
                p.required,
                p.default.as_deref(),
                p.help.as_str(),
            )
        })
        .collect();
    assert_eq!(
        params,
        [
            ("day", "date", true, None, "the day"),
            ("limit", "integer", false, Some("10"), "")
        ]
    );
    assert_eq!(
        migrations,
        [Migration::new(
            1,
            "acme_quotes",
            "CREATE TABLE acme_quotes (day TEXT)"
        )]
    );
}

/// Host services that keep what the plugin asked for.
#[derive(Default)]
struct Recorded {
    calls: Vec<String>,
}

impl Services for Recorded {
    fn execute(&mut self, sql: &str, params: &[Value<'_>]) -> std::result::Result<u64, Error> {
        let values: Vec<SqlValue<'_>> = params.iter().copied().map(SqlValue::from).collect();
        self.calls.push(format!("execute {sql} {values:?}"));
        Ok(1)
    }

    fn execute_many(
        &mut self,
        sql: &str,
        columns: u32,
        params: &[Value<'_>],
    ) -> std::result::Result<u64, Error> {
        self.calls
            .push(format!("execute_many {sql} {columns}x{}", params.len()));
        Err(Error::new("host.sql", "refused").with_help("h"))
    }

    fn query(
        &mut self,
        sql: &str,
        _params: &[Value<'_>],
        rows: &mut Rows<'_, '_>,
    ) -> std::result::Result<u64, Error> {
        self.calls.push(format!("query {sql}"));
        let text = String::from("abc");
        let mut seen = 0;
        for n in 1..=3 {
            seen += 1;
            let row = [SqlValue::Integer(n).into(), SqlValue::Text(&text).into()];
            if !rows.send(&row)? {
                break;
            }
        }
        Ok(seen)
    }

    fn execute_batch(&mut self, sql: &str) -> std::result::Result<(), Error> {
        self.calls.push(format!("execute_batch {sql}"));
        Ok(())
    }

    fn log(&mut self, level: Level, message: &str) {
        self.calls.push(format!("log {level:?} {message}"));
    }

    fn progress(&mut self, done: u64, total: u64, unit: &str) {
        self.calls.push(format!("progress {done}/{total} {unit}"));
    }

    fn cancelled(&self) -> bool {
        false
    }

    fn call(&mut self, service: &str, request_json: &str) -> std::result::Result<String, Error> {
        self.calls.push(format!("call {service} {request_json}"));
        Ok("{}".to_owned())
    }
}

/// Uses every service once.
struct EveryService;

impl Pipeline for EveryService {
    fn run(&mut self, ctx: &mut Context<'_>) -> Result<Metrics> {
        ctx.execute("INSERT INTO acme_t VALUES (?1, ?2)", &[7.into(), "x".into()])?;
        let refused = ctx.execute_many("INSERT INTO acme_t VALUES (?1)", 1, &[1.into(), 2.into()]);
        let mut firsts = Vec::new();
        ctx.query("SELECT n, t FROM acme_t", &[], |row| {
            firsts.push(row.i64(0)?);
            Ok(firsts.len() < 2)
        })?;
        ctx.execute_batch("DELETE FROM acme_t")?;
        ctx.warn("careful");
        ctx.progress(1, 2, "rows");
        ctx.call("host.version", "{}")?;
        Ok(Metrics::new()
            .with("firsts", firsts)
            .with("refused", refused.unwrap_err().to_string()))
    }
}

#[test]
fn every_service_crosses_and_comes_back() {
    let plugin =
        Plugin::new("acme", "1", "d").pipeline(PipelineDef::new("acme.all", "d"), |_| Ok(EveryService));
    let mut services = Recorded::default();
    let metrics = in_process::serve(&Arc::new(plugin), || {
        let mut pipeline = in_process::module().create_pipeline("acme.all", "{}").unwrap();
        pipeline.run(&mut services).unwrap()
    });
    let metrics: serde_json::Value = serde_json::from_str(&metrics).unwrap();
    assert_eq!(metrics["firsts"], serde_json::json!([1, 2]));
    assert_eq!(metrics["refused"], "refused (help: h)");
    assert_eq!(
        services.calls,
        [
            "execute INSERT INTO acme_t VALUES (?1, ?2) [Integer(7), Text(\"x\")]",
            "execute_many INSERT INTO acme_t VALUES (?1) 1x2",
            "query SELECT n, t FROM acme_t",
            "execute_batch DELETE FROM acme_t",
            "log Warn careful",
            "progress 1/2 rows",
            "call host.version {}",
        ]
    );
}

#[test]
fn a_factory_error_and_a_panic_come_back_as_errors() {
    struct Panics;
    impl Pipeline for Panics {
        fn run(&mut self, _ctx: &mut Context<'_>) -> Result<Metrics> {
            panic!("on purpose")
        }
    }
    let plugin = Plugin::new("acme", "1", "d").pipeline(PipelineDef::new("acme.panics", "d"), |_| Ok(Panics));
    let (unknown, panicked) = in_process::serve(&Arc::new(plugin), || {
        let module = in_process::module();
        let unknown = module.create_pipeline("acme.none", "{}").err().unwrap();
        let mut pipeline = module.create_pipeline("acme.panics", "{}").unwrap();
        (unknown, pipeline.run(&mut Recorded::default()).unwrap_err())
    });
    assert_eq!(unknown.code, "sdk.pipeline.unknown");
    assert_eq!(panicked.code, "plugin.panic");
    assert!(panicked.message.contains("on purpose"), "{}", panicked.message);
}
