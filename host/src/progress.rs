//! Drawing a pipeline's progress reports: a bar on a terminal, nothing otherwise.
//!
//! A report is `done` of `total` (0 = unknown) in a unit the pipeline names.
//! The unit `bytes` is drawn as sizes (`12.5 MiB/48.0 MiB`, a rate, an ETA);
//! any other unit as counts. With no total there is no bar to fill, only a
//! spinner, the count and a rate: never a full count over an empty bar.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::cell::Cell;
use std::io::IsTerminal;

/// Where progress reports go during one run.
pub struct Progress {
    bar: Option<ProgressBar>,
    /// The kind of report the bar is styled for.
    drawn: Cell<Option<Kind>>,
}

/// What a report can show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Bytes { total_known: bool },
    Count { total_known: bool },
}

impl Kind {
    fn of(total: u64, unit: &str) -> Self {
        let total_known = total > 0;
        if unit == "bytes" {
            Kind::Bytes { total_known }
        } else {
            Kind::Count { total_known }
        }
    }

    fn template(self) -> &'static str {
        match self {
            Kind::Bytes { total_known: true } => {
                "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {percent}% {bytes_per_sec} ETA {eta}"
            }
            Kind::Bytes { total_known: false } => "{spinner} [{elapsed_precise}] {bytes} {bytes_per_sec}",
            Kind::Count { total_known: true } => {
                "{spinner} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} {msg} {percent}% ETA {eta}"
            }
            Kind::Count { total_known: false } => "{spinner} [{elapsed_precise}] {human_pos} {msg} {per_sec}",
        }
    }
}

impl Progress {
    /// A bar on stderr when stderr is a terminal and `quiet` is false
    /// (`--json`, pipes and cron get no bar).
    pub(crate) fn for_terminal(quiet: bool) -> Self {
        let draw = !quiet && std::io::stderr().is_terminal();
        let bar = draw.then(|| ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()));
        Self {
            bar,
            drawn: Cell::new(None),
        }
    }

    /// No output at all.
    pub fn silent() -> Self {
        Self {
            bar: None,
            drawn: Cell::new(None),
        }
    }

    /// One report: `done` of `total` (0 = unknown) `unit`.
    pub(crate) fn report(&self, done: u64, total: u64, unit: &str) {
        let Some(bar) = &self.bar else { return };
        let kind = Kind::of(total, unit);
        if self.drawn.get() != Some(kind) {
            let style =
                ProgressStyle::with_template(kind.template()).expect("the progress templates are valid");
            bar.set_style(style);
            self.drawn.set(Some(kind));
        }
        if total > 0 {
            bar.set_length(total);
        } else {
            bar.unset_length();
        }
        bar.set_position(done);
        bar.set_message(crate::text::escape_controls(unit).into_owned());
    }

    /// Removes the bar.
    pub(crate) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Kind;

    #[test]
    fn bytes_are_drawn_as_sizes_and_an_unknown_total_gets_no_bar() {
        assert_eq!(Kind::of(100, "bytes"), Kind::Bytes { total_known: true });
        assert_eq!(Kind::of(0, "bytes"), Kind::Bytes { total_known: false });
        assert_eq!(Kind::of(0, "lines"), Kind::Count { total_known: false });
        for kind in [Kind::of(0, "bytes"), Kind::of(0, "lines")] {
            assert!(!kind.template().contains("bar"), "{kind:?}");
        }
        for total_known in [true, false] {
            let template = Kind::Bytes { total_known }.template();
            assert!(template.contains("{bytes}") && template.contains("{bytes_per_sec}"));
            indicatif::ProgressStyle::with_template(template).unwrap();
            indicatif::ProgressStyle::with_template(Kind::Count { total_known }.template()).unwrap();
        }
    }
}
