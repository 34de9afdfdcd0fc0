//! Drawing a pipeline's progress reports: a bar on a terminal, nothing otherwise.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

/// Where progress reports go during one run.
pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    /// A bar on stderr when stderr is a terminal and `quiet` is false
    /// (`--json`, pipes and cron get no bar).
    pub fn for_terminal(quiet: bool) -> Self {
        let draw = !quiet && std::io::stderr().is_terminal();
        let bar = draw.then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} {msg}")
                    .expect("the progress template is valid"),
            );
            bar
        });
        Self { bar }
    }

    /// No output at all.
    pub fn silent() -> Self {
        Self { bar: None }
    }

    /// One report: `done` of `total` (0 = unknown) `unit`.
    pub fn report(&self, done: u64, total: u64, unit: &str) {
        if let Some(bar) = &self.bar {
            if total > 0 {
                bar.set_length(total);
            }
            bar.set_position(done);
            bar.set_message(unit.to_owned());
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
