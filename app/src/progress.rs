//! How far the run in progress is: a bar over all its steps, and the epoch, step, speed and time
//! left in words.

use leptos::prelude::*;

/// The latest step the run in progress reported.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    pub epoch: usize,
    pub epochs: usize,
    pub step: usize,
    pub steps: usize,
    /// Training images per epoch.
    pub images: usize,
    /// The epoch's mean speed so far.
    pub examples_per_sec: f64,
}

impl Progress {
    /// Steps trained over all epochs, and all the run's steps.
    pub fn steps_done(&self) -> (usize, usize) {
        (self.epoch.saturating_sub(1) * self.steps + self.step, self.epochs * self.steps)
    }

    /// Seconds of training left at this speed (none once the last step is done); the test passes
    /// after each epoch come on top.
    pub fn seconds_left(&self) -> Option<f64> {
        let (done, all) = self.steps_done();
        let images_per_step = self.images as f64 / self.steps.max(1) as f64;
        (self.examples_per_sec > 0.0 && done < all)
            .then(|| (all - done) as f64 * images_per_step / self.examples_per_sec)
    }
}

/// `seconds` as a person reads a wait: "45 s", "3 min 05 s", "1 h 20 min".
pub fn duration(seconds: f64) -> String {
    let s = seconds.round() as u64;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min {:02} s", s / 60, s % 60),
        _ => format!("{} h {:02} min", s / 3600, s / 60 % 60),
    }
}

/// The bar and its sentence, shown from the run's first step on; a run that ended before its
/// last step (stopped, failed, its GPU lost) says where it stopped, with no time left.
#[component]
pub fn RunProgress(progress: Signal<Option<Progress>>, paused: Signal<bool>, running: Signal<bool>) -> impl IntoView {
    move || {
        progress.get().map(|p| {
            let (done, all) = p.steps_done();
            let stopped = !running.get() && done < all;
            let state = if stopped {
                "Stopped at e"
            } else if paused.get() {
                "Paused at e"
            } else {
                "E"
            };
            let left = match p.seconds_left() {
                Some(s) if !stopped => format!(", about {} left", duration(s)),
                _ => String::new(),
            };
            let words = format!(
                "{state}poch {} of {}, step {} of {}, {:.0} examples/s{left}",
                p.epoch, p.epochs, p.step, p.steps, p.examples_per_sec
            );
            view! {
                <div class="progress">
                    <progress id="progress" max=all value=done aria-label="Training progress"></progress>
                    <span id="progress-text">{words}</span>
                </div>
            }
        })
    }
}
