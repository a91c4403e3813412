//! How far the run in progress is: a bar over all its steps, and the epoch, step, speed and time
//! left in words.

use leptos::prelude::*;

use crate::state::live::{Phase, Progress};

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
pub fn RunProgress(progress: Signal<Option<Progress>>, phase: Signal<Phase>) -> impl IntoView {
    move || {
        progress.get().map(|p| {
            let (done, all) = p.steps_done();
            let stopped = !phase.get().running() && done < all;
            let state = if stopped {
                "Stopped at e"
            } else if phase.get() == Phase::Paused {
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
