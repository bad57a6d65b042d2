//! Progress on a terminal (indicatif): one overall bar with counts and ETA, and a line per running
//! server with its phase. Hidden when stderr is not a terminal or with `--quiet`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::ServerReport;

/// At most this many per-server lines are drawn; the others are counted in the overall bar.
const MAX_LINES: usize = 8;

/// The crawl's progress display (cheap to share; all methods take `&self`).
pub struct Progress {
    multi: Option<MultiProgress>,
    overall: ProgressBar,
    lines: Arc<AtomicUsize>,
    ok: AtomicUsize,
    failed: AtomicUsize,
}

impl Progress {
    /// A display on stderr, or none.
    pub fn new(visible: bool) -> Progress {
        if !visible {
            return Progress::hidden();
        }
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(10));
        let overall = multi.add(ProgressBar::new(0));
        overall.set_style(
            ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} servers · {msg} · ETA {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        Progress {
            multi: Some(multi),
            overall,
            lines: Arc::new(AtomicUsize::new(0)),
            ok: AtomicUsize::new(0),
            failed: AtomicUsize::new(0),
        }
    }

    pub fn hidden() -> Progress {
        Progress {
            multi: None,
            overall: ProgressBar::hidden(),
            lines: Arc::new(AtomicUsize::new(0)),
            ok: AtomicUsize::new(0),
            failed: AtomicUsize::new(0),
        }
    }

    pub(super) fn start(&self, total: usize) {
        self.overall.set_length(total as u64);
        self.overall.set_message("starting");
        // A hidden display needs no ticker thread.
        if self.multi.is_some() {
            self.overall.enable_steady_tick(Duration::from_millis(200));
        }
    }

    /// A line for one running server (drawn only while there is room).
    pub(super) fn line(&self, server: &str) -> Line {
        let Some(multi) = &self.multi else { return Line { bar: None, lines: None } };
        if self.lines.fetch_add(1, Ordering::SeqCst) >= MAX_LINES {
            self.lines.fetch_sub(1, Ordering::SeqCst);
            return Line { bar: None, lines: None };
        }
        let bar = multi.add(ProgressBar::new_spinner());
        bar.set_style(
            ProgressStyle::with_template("  {spinner} {prefix:.bold} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        let mut name: String = server.chars().take(60).collect();
        name.retain(|c| !c.is_control());
        bar.set_prefix(name);
        bar.enable_steady_tick(Duration::from_millis(120));
        Line { bar: Some(bar), lines: Some(Arc::clone(&self.lines)) }
    }

    pub(super) fn finished(&self, r: &ServerReport) {
        if matches!(r.outcome, "ok" | "partial" | "skipped") {
            self.ok.fetch_add(1, Ordering::Relaxed);
        } else {
            self.failed.fetch_add(1, Ordering::Relaxed);
        }
        self.overall.set_message(format!(
            "{} listed, {} not",
            self.ok.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed)
        ));
        self.overall.inc(1);
    }

    pub(super) fn clear(&self) {
        self.overall.finish_and_clear();
        if let Some(m) = &self.multi {
            let _ = m.clear();
        }
    }
}

/// One running server's line.
pub(super) struct Line {
    bar: Option<ProgressBar>,
    lines: Option<Arc<AtomicUsize>>,
}

impl Line {
    pub(super) fn phase(&self, phase: &str) {
        if let Some(bar) = &self.bar {
            bar.set_message(phase.to_string());
        }
    }

    pub(super) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        if let Some(lines) = &self.lines {
            lines.fetch_sub(1, Ordering::SeqCst);
        }
    }
}
