//! The sweep being written in the form, and the last one queued: its runs, trained one after
//! another by the session (`sweeping`), each an ordinary run in the list. Both are kept in this
//! browser, so a reload goes on with the queue where it was.

use cnn_setup::outcome::Outcome;
use cnn_setup::sweep::{Axis, Setting, Sweep};
use cnn_setup::{Setup, spec_text};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::run::{Run, RunState};
use crate::storage;

const DRAFT_KEY: &str = "cnn-playground.sweep-draft";
const QUEUED_KEY: &str = "cnn-playground.sweep";

/// The sweep's fields as typed: a setting and its values, and optionally a second.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Draft {
    pub first: Setting,
    pub first_values: String,
    /// None: the sweep varies one setting.
    pub second: Option<Setting>,
    pub second_values: String,
}

impl Default for Draft {
    fn default() -> Self {
        let first = Setting::Size;
        Draft { first, first_values: first.example().into(), second: None, second_values: String::new() }
    }
}

impl Draft {
    /// The sweep these fields describe over `base`, or the first thing wrong with them.
    pub fn sweep(&self, base: Setup) -> Result<Sweep, String> {
        let mut axes = vec![Axis::parse(self.first, &self.first_values)?];
        if let Some(second) = self.second {
            axes.push(Axis::parse(second, &self.second_values)?);
        }
        let sweep = Sweep { base, axes };
        sweep.check()?;
        Ok(sweep)
    }

    /// The fields that write `sweep` (a link's or a lesson's).
    pub fn of(sweep: &Sweep) -> Draft {
        let values = |i: usize| sweep.axes.get(i).map(|a| a.values.join(", ")).unwrap_or_default();
        Draft {
            first: sweep.axes.first().map_or(Setting::Size, |a| a.setting),
            first_values: values(0),
            second: sweep.axes.get(1).map(|a| a.setting),
            second_values: values(1),
        }
    }
}

/// A sweep being trained, or done.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Queued {
    /// Milliseconds since 1970 when it was queued.
    pub id: u64,
    pub name: String,
    pub sweep: Sweep,
    /// Each run's id in the list, in the sweep's order; none until it starts.
    pub runs: Vec<Option<u64>>,
    /// Stopped by the learner: no further run starts until they go on.
    pub stopped: bool,
}

#[derive(Clone, Copy)]
pub struct Sweeps {
    pub draft: RwSignal<Draft>,
    pub queued: RwSignal<Option<Queued>>,
    /// A sweep of more than `ASK_ABOVE` runs, waiting for the learner's yes.
    pub asking: RwSignal<Option<Sweep>>,
    /// Why a sweep cannot start, or what became of it.
    pub note: RwSignal<Option<String>>,
}

impl Sweeps {
    /// What this browser kept (a draft a link or lesson brings replaces the kept one).
    pub fn load(linked: Option<Draft>) -> Self {
        let draft = RwSignal::new(linked.or_else(|| storage::load_json::<Draft>(DRAFT_KEY)).unwrap_or_default());
        let queued = RwSignal::new(storage::load_json::<Queued>(QUEUED_KEY));
        Effect::new(move |_| draft.with(|d| storage::save_json(DRAFT_KEY, d)));
        Effect::new(move |_| queued.with(|q| storage::save_json(QUEUED_KEY, q)));
        Sweeps { draft, queued, asking: RwSignal::new(None), note: RwSignal::new(None) }
    }

    /// Whether run `id` is one of the queued sweep's.
    pub fn holds(self, id: u64) -> bool {
        self.queued.with_untracked(|q| q.as_ref().is_some_and(|q| q.runs.contains(&Some(id))))
    }

    /// Stops the queue after the run in progress.
    pub fn stop(self) {
        self.queued.update(|q| q.iter_mut().for_each(|q| q.stopped = true));
    }
}

/// Each run of `sweep` before it trains: the model table's figures at its size and batch.
pub fn planned(sweep: &Sweep) -> Vec<Outcome> {
    let Ok(points) = sweep.points() else { return vec![] };
    points
        .iter()
        .map(|point| {
            let values = point.values.iter().map(|(_, v)| v.clone()).collect();
            let form = &point.setup.form;
            let analysis = spec_text::analyze(&spec_text::parse(&point.setup.spec), &form.size).ok();
            let batch = form.batch_size.trim().parse().unwrap_or(1);
            Outcome::planned(values, analysis.as_ref(), batch)
        })
        .collect()
}

/// Each run of `queued` as its table shows it: its `planned` row, then what its epochs measured.
pub fn outcomes(planned: &[Outcome], queued: &Queued, runs: &[Run]) -> Vec<Outcome> {
    planned
        .iter()
        .zip(&queued.runs)
        .map(|(row, id)| {
            let mut row = row.clone();
            let Some(id) = id else { return row };
            let Some(run) = runs.iter().find(|r| r.id == *id) else {
                row.state = "deleted".into();
                return row;
            };
            row.state = match &run.state {
                RunState::Training => "training".into(),
                RunState::Finished => "finished".into(),
                RunState::Stopped => "stopped".into(),
                RunState::Failed(why) => format!("failed: {why}"),
            };
            row.epochs = run.epochs.len();
            row.final_accuracy = run.epochs.last().map(|e| e.test_accuracy);
            row.best_accuracy = run.best_accuracy();
            let seconds: f64 = run.epochs.iter().map(|e| e.seconds).sum();
            row.seconds_per_epoch = (!run.epochs.is_empty()).then(|| seconds / run.epochs.len() as f64);
            row
        })
        .collect()
}

/// What a queued sweep does next.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Next {
    /// Starts its run `i`.
    Start(usize),
    /// Goes on with a run a reload, a stop or a lost GPU cut off.
    Resume(u64),
    /// Waits: one of its runs trains (here, or in another tab).
    Busy,
    /// Every run finished, failed or was deleted.
    Done,
}

pub fn next(queued: &Queued, runs: &[Run]) -> Next {
    for (i, id) in queued.runs.iter().enumerate() {
        let Some(id) = id else { return Next::Start(i) };
        match runs.iter().find(|r| r.id == *id) {
            Some(run) if run.state == RunState::Training => return Next::Busy,
            Some(run) if run.resumable() => return Next::Resume(*id),
            _ => {}
        }
    }
    Next::Done
}
