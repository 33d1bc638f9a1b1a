//! A progress bar on stderr while data files are read: only when stderr is a terminal,
//! and only once reading has taken a second (short runs print nothing extra). Results go
//! to stdout, so pipelines see the same bytes either way.

use std::io::IsTerminal as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use kpiblend::eval::Progress;

/// Reading takes this long before the bar appears.
const DELAY: Duration = Duration::from_secs(1);

/// The callback to hand the evaluator, and the bar to clear when it is done; `None` when
/// stderr is not a terminal.
pub fn start() -> Option<(Progress, ProgressBar)> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
    let style = ProgressStyle::with_template(
        "reading {prefix} [{wide_bar}] {bytes}/{total_bytes}, {eta} left",
    )
    .map_or_else(|_| ProgressStyle::default_bar(), |s| s.progress_chars("=> "));
    bar.set_style(style);
    let started = Instant::now();
    let shown = bar.clone();
    let progress = Progress(Arc::new(move |dataset: &str, done: u64, total: u64| {
        if shown.is_hidden() && started.elapsed() >= DELAY {
            shown.set_draw_target(ProgressDrawTarget::stderr());
        }
        if shown.length() != Some(total) {
            shown.set_length(total);
            shown.reset_eta();
        }
        shown.set_prefix(dataset.to_string());
        shown.set_position(done);
    }));
    Some((progress, bar))
}
