//! The example domain: the smallest complete Market Spine plugin.
//!
//! Copy this crate to start a plugin of your own. It shows every part a plugin
//! has: a domain with a migration, pipelines with parameters, database writes,
//! metrics and errors. `plugin-api/README.md` is the full guide.

use spine_plugin_api::{
    export_plugin, Context, Error, Level, Metrics, Param, ParamKind, Pipeline, PipelineDef, Plugin, Result,
};

/// Describes the plugin. The host calls this once, when it loads the library.
pub fn plugin() -> Plugin {
    // The domain ("example") prefixes every pipeline name and table name.
    Plugin::new(
        "example",
        env!("CARGO_PKG_VERSION"),
        "Example pipelines: hello, count and fail",
    )
    // Migrations are numbered 1, 2, 3, … and never edited once released:
    // the host stores a checksum of each one and refuses drift.
    .migration(
        1,
        "example_greetings",
        include_str!("../migrations/001_example_greetings.sql"),
    )
    .pipeline(
        PipelineDef::new("example.hello", "Greets someone and records the greeting").param(
            Param::new("name", ParamKind::String)
                .default("World")
                .help("Who to greet"),
        ),
        // The host has already checked the parameters against the spec
        // above and filled in defaults, so reading them cannot surprise.
        |params| {
            Ok(Hello {
                name: params.str("name")?.to_owned(),
            })
        },
    )
    .pipeline(
        PipelineDef::new("example.count", "Adds up 1 + 2 + … + n").param(
            Param::new("n", ParamKind::Integer)
                .default("10")
                .help("The last number to add"),
        ),
        |params| Ok(Count { n: params.i64("n")? }),
    )
    .pipeline(
        PipelineDef::new("example.fail", "Always fails, to show how failures look"),
        |_| Ok(Fail),
    )
}

// This one line makes the library loadable by spine-host.
export_plugin!(plugin);

/// `example.hello`: writes one row, reports the message.
pub struct Hello {
    name: String,
}

impl Pipeline for Hello {
    fn run(&mut self, ctx: &mut Context<'_>) -> Result<Metrics> {
        let message = format!("Hello, {}!", self.name);
        // Every write joins the run's transaction, which the host commits when
        // `run` returns Ok and rolls back when it returns Err or panics.
        ctx.execute(
            "INSERT INTO example_greetings (name, message) VALUES (?1, ?2)",
            &[self.name.as_str().into(), message.as_str().into()],
        )?;
        ctx.log(Level::Info, &message);
        Ok(Metrics::new().with("message", message).with("rows_written", 1))
    }
}

/// `example.count`: pure computation with progress reports.
pub struct Count {
    n: i64,
}

impl Pipeline for Count {
    fn run(&mut self, ctx: &mut Context<'_>) -> Result<Metrics> {
        if self.n < 0 {
            return Err(Error::new(
                "example.count.negative",
                format!("n must be 0 or more, got {}", self.n),
            )
            .with_help("pass -p n=10"));
        }
        let mut total: i64 = 0;
        for i in 1..=self.n {
            // Check for Ctrl-C in long loops; the host rolls back and records
            // the run as cancelled.
            if ctx.cancelled() {
                return Err(Error::new("example.count.cancelled", "stopped by the operator"));
            }
            total = total.checked_add(i).ok_or_else(|| {
                Error::new(
                    "example.count.overflow",
                    format!("the sum up to {} does not fit in 64 bits", self.n),
                )
            })?;
            if i % 100_000 == 0 {
                ctx.progress(i as u64, self.n as u64, "numbers");
            }
        }
        Ok(Metrics::new().with("n", self.n).with("total", total))
    }
}

/// `example.fail`: what a failing pipeline looks like to the operator.
pub struct Fail;

impl Pipeline for Fail {
    fn run(&mut self, _ctx: &mut Context<'_>) -> Result<Metrics> {
        Err(Error::new("example.fail", "example.fail always fails")
            .with_help("this pipeline exists to show how failures are reported"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use spine_plugin_api::Params;

    #[test]
    fn manifest_declares_the_three_pipelines_with_defaults() {
        let plugin = plugin();
        assert_eq!(plugin.domain(), "example");
        for name in ["example.hello", "example.count", "example.fail"] {
            // Defaults are filled by the host; here we pass them by hand.
            let params = Params::from_json(r#"{"name":"World","n":3}"#).unwrap();
            assert!(plugin.create(name, &params).is_ok(), "{name} should be creatable");
        }
        assert!(plugin.create("example.nope", &Params::default()).is_err());
    }

    #[test]
    fn hello_needs_its_name_parameter() {
        let error = plugin()
            .create("example.hello", &Params::default())
            .err()
            .unwrap();
        assert_eq!(error.code, "sdk.params.missing");
        assert!(error.message.contains("`name`"), "{}", error.message);
    }
}
