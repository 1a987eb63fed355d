//! Progress on stderr: shown only on a terminal, and only once a run has lasted a second.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::time::{Duration, Instant};

/// A progress bar that stays hidden for the first second.
pub struct Progress {
    bar: ProgressBar,
    started: Instant,
    shown: bool,
    enabled: bool,
}

impl Progress {
    /// A bar counting `unit` up to `total` (if known); `quiet` hides it for good.
    pub fn new(total: Option<u64>, unit: &str, quiet: bool) -> Self {
        let bar = match total {
            Some(t) => ProgressBar::with_draw_target(Some(t), ProgressDrawTarget::hidden()),
            None => ProgressBar::hidden(),
        };
        let template = match total {
            Some(_) => format!(
                "{{elapsed_precise}} [{{bar:30}}] {{human_pos}}/{{human_len}} {unit} ({{per_sec}}) {{msg}}"
            ),
            None => format!("{{elapsed_precise}} {{human_pos}} {unit} ({{per_sec}}) {{msg}}"),
        };
        bar.set_style(ProgressStyle::with_template(&template).expect("valid template"));
        Self {
            bar,
            started: Instant::now(),
            shown: false,
            enabled: !quiet && std::io::IsTerminal::is_terminal(&std::io::stderr()),
        }
    }

    /// Sets the position.
    pub fn set(&mut self, position: u64) {
        self.reveal();
        self.bar.set_position(position);
    }

    /// Adds to the position.
    pub fn add(&mut self, delta: u64) {
        self.reveal();
        self.bar.inc(delta);
    }

    /// Sets the trailing message.
    pub fn message(&self, msg: String) {
        self.bar.set_message(msg);
    }

    fn reveal(&mut self) {
        if self.enabled && !self.shown && self.started.elapsed() > Duration::from_secs(1) {
            self.bar
                .set_draw_target(ProgressDrawTarget::stderr_with_hz(5));
            self.shown = true;
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
