//! The example domain: the smallest complete Market Spine plugin.
//!
//! Copy this crate to start a plugin of your own. It shows every part a plugin
//! has: a domain with a migration, pipelines with parameters, database writes,
//! logging, progress, cancellation, metrics and errors, and tests of both kinds.
//! `plugin-api/README.md` is the full guide.
//!
//! To make the copy yours:
//! 1. in `Cargo.toml`, rename the package and `[lib] name`, and point the
//!    `spine-plugin-api` dependency at your checkout of Market Spine;
//! 2. here, pick your domain (below, `"example"`) and name every pipeline
//!    `<domain>.<name>` and every table `<domain>_<name>`;
//! 3. replace the migration in `migrations/` with your own tables, numbered
//!    from 001;
//! 4. replace the three pipelines with yours. Each is a struct holding its
//!    parameters plus an `impl Pipeline` with a `run` method;
//! 5. replace the tests in `tests/pipelines.rs`, which run the pipelines on
//!    the test harness (`spine-plugin-test`) with `cargo test`.

// Everything a plugin needs comes from this one crate.
use spine_plugin_api::{
    export_plugin, include_migration, Context, Error, Metrics, Param, ParamKind, Pipeline, PipelineDef,
    Plugin, Result,
};

/// Describes the plugin. The host calls this once, when it loads the library.
pub fn plugin() -> Plugin {
    // The domain ("example") prefixes every pipeline name and table name.
    // The version is the crate's own, shown by `spine-host plugins` and stored
    // with every execution. The description is one line for `plugins`.
    Plugin::new(
        "example",
        env!("CARGO_PKG_VERSION"),
        "Example pipelines: hello, count and fail",
    )
    // Migrations are numbered 1, 2, 3, … and never edited once released:
    // the host stores a checksum of each one and refuses drift. Put a change
    // in a new migration. `include_migration!` embeds `migrations/NNN_name.sql`
    // in the library and takes the version and name from the file name.
    .migrations([include_migration!("001_example_greetings.sql")])
    // A pipeline: its name, a one-line description, its parameters, and a
    // function that builds it from the parameters of one run.
    .pipeline(
        PipelineDef::new("example.hello", "Greets someone and records the greeting").param(
            // Kinds: String, Integer, Number, Boolean, Date, Path. A parameter is
            // optional unless `.required()`; `.default(..)` is written as on the
            // command line; `.help(..)` is shown by `spine-host describe`.
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

// This one line makes the library loadable by spine-host. It also wraps every
// call from the host so that a panic becomes an error instead of a crash.
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
        // Values are bound to `?1`, `?2`, …, never pasted into the SQL text.
        ctx.execute(
            "INSERT INTO example_greetings (name, message) VALUES (?1, ?2)",
            &[self.name.as_str().into(), message.as_str().into()],
        )?;
        // Goes to the host's log on stderr as `INFO  example: …`; `ctx.info`
        // takes anything printable, `format_args!(…)` included.
        ctx.info(&message);
        // Metrics are the run's result: printed by `spine-host run` and
        // stored as JSON with the execution.
        Ok(Metrics::new().with("message", message).with("rows_written", 1))
    }
}

/// `example.count`: pure computation with progress reports.
pub struct Count {
    n: i64,
}

impl Pipeline for Count {
    fn run(&mut self, ctx: &mut Context<'_>) -> Result<Metrics> {
        // An error has a dotted code, a message saying what is wrong and,
        // optionally, help saying what to do. The host prints it in one line.
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
            // Progress is drawn as a bar on a terminal. Report now and then,
            // not on every step.
            if i % 100_000 == 0 {
                ctx.progress(i as u64, self.n as u64, "numbers");
            }
        }
        Ok(Metrics::new().with("n", self.n).with("total", total))
    }
}

/// `example.fail`: what a failing pipeline looks like to the operator
/// (`error: … (help: …)` on stderr, exit code 1, the run recorded as failed).
pub struct Fail;

impl Pipeline for Fail {
    fn run(&mut self, _ctx: &mut Context<'_>) -> Result<Metrics> {
        Err(Error::new("example.fail", "example.fail always fails")
            .with_help("this pipeline exists to show how failures are reported"))
    }
}

// Unit tests call the plugin's Rust code directly (the crate is also an
// "rlib" for this): factories and pure functions. Runs are tested on the
// harness, in tests/pipelines.rs.
#[cfg(test)]
mod tests {
    use super::*;
    use spine_plugin_api::Params;

    #[test]
    fn the_migration_takes_its_version_and_name_from_its_file_name() {
        let migration = include_migration!("001_example_greetings.sql");
        assert_eq!((migration.version(), migration.name()), (1, "example_greetings"));
        assert_eq!(
            migration.sql(),
            include_str!("../migrations/001_example_greetings.sql")
        );
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
