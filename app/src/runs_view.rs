//! The runs list: every run the learner started, as stored (see [`runs`](crate::runs)), with its
//! state and best test accuracy; rename, delete, or show one's curve and epochs.

use cnn_models::PRESETS;
use cnn_train::{EpochStats, TrainSpec};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::runs::{self, Run, RunState};

/// The page's runs: the list, the one in progress, and what storage last refused.
#[derive(Clone, Copy)]
pub struct Runs {
    pub list: RwSignal<Vec<Run>>,
    current: StoredValue<Option<u64>>,
    pub note: RwSignal<Option<String>>,
}

impl Runs {
    /// The list starts empty and fills once IndexedDB answers.
    pub fn load() -> Self {
        let runs = Runs { list: RwSignal::new(vec![]), current: StoredValue::new(None), note: RwSignal::new(None) };
        spawn_local(async move {
            match runs::load_all().await {
                Ok((stored, refused)) => {
                    // A run started before storage answered is kept in front of the stored ones.
                    runs.list.update(|list| list.extend(stored));
                    if !refused.is_empty() {
                        runs.note.set(Some(refused.join(" ")));
                    }
                }
                Err(why) => runs.note.set(Some(format!("Past runs could not be read: {why}."))),
            }
        });
        runs
    }

    /// A new run in front of the list, stored at once.
    pub fn start(self, settings: TrainSpec, images: (usize, usize)) {
        let id = js_sys::Date::now() as u64;
        let model = PRESETS.iter().find(|p| p.spec() == settings.model).map_or("own spec", |p| p.name);
        let number = self.list.with_untracked(Vec::len) + 1;
        let name = format!("Run {number}: {model}, {} px", settings.image_size);
        self.list.update(|l| l.insert(0, Run::new(id, name, settings, images)));
        self.current.set_value(Some(id));
        self.store(id);
    }

    /// The run in progress, to store its checkpoints under.
    pub fn current(self) -> Option<u64> {
        self.current.get_value()
    }

    /// Makes stopped run `id` the one in progress again, and gives it back to be trained.
    pub fn resume(self, id: u64) -> Option<Run> {
        let run = self.list.with_untracked(|l| l.iter().find(|r| r.id == id && r.resumable()).cloned())?;
        self.current.set_value(Some(id));
        self.update(true, |r| r.state = RunState::Training);
        Some(run)
    }

    /// The run in progress as a resumed one starts: after `epochs` epochs. Its curve and epochs.
    pub fn rewind(self, epochs: usize) -> (Vec<f32>, Vec<EpochStats>) {
        let mut shown = (vec![], vec![]);
        self.update(true, |r| {
            r.rewind(epochs);
            shown = (r.losses.clone(), r.epochs.clone());
        });
        shown
    }

    /// Changes the run in progress; `store` writes it and redraws the list (each epoch and the
    /// end). A step's loss does neither: redrawing at every step would take a name being typed.
    pub fn update(self, store: bool, change: impl FnOnce(&mut Run)) {
        let Some(id) = self.current.get_value() else { return };
        let apply = |l: &mut Vec<Run>| l.iter_mut().find(|r| r.id == id).map_or((), change);
        if store {
            self.list.update(apply);
            self.store(id);
        } else {
            self.list.update_untracked(apply);
        }
    }

    /// Ends the run in progress as `state` (unless it already ended) and stores it.
    pub fn end(self, state: RunState) {
        self.update(true, |run| {
            if run.state == RunState::Training {
                run.state = state;
            }
        });
        self.current.set_value(None);
    }

    fn store(self, id: u64) {
        let Some(run) = self.list.with_untracked(|l| l.iter().find(|r| r.id == id).cloned()) else { return };
        spawn_local(async move {
            if let Err(why) = runs::save(&run).await {
                self.note.set(Some(format!("“{}” could not be stored: {why}. It goes on in memory.", run.name)));
            }
        });
    }

    fn rename(self, id: u64, name: String) {
        self.list.update(|l| l.iter_mut().filter(|r| r.id == id).for_each(|r| r.name = name.clone()));
        self.store(id);
    }

    fn delete(self, id: u64) {
        self.list.update(|l| l.retain(|r| r.id != id));
        spawn_local(async move {
            if let Err(why) = runs::delete(id).await {
                self.note.set(Some(format!("The run could not be deleted from storage: {why}.")));
            }
        });
    }
}

/// The list; `show` puts a run's curve and epochs in the training view, `resume` trains a
/// stopped run on from its last checkpoint.
#[component]
pub fn RunsView(
    runs: Runs,
    busy: Signal<bool>,
    /// Whether a stopped run can go on: the data is loaded and the CPU's thread pool is ready
    /// or known to be missing.
    ready: Signal<bool>,
    show: Callback<(Vec<f32>, Vec<EpochStats>)>,
    resume: Callback<u64>,
) -> impl IntoView {
    let row = move |run: Run| {
        let id = run.id;
        let best = run.best_accuracy().map_or("–".into(), |a| format!("{:.1}%", a * 100.0));
        let state_class = match run.state {
            RunState::Failed(_) => "state error",
            _ => "state",
        };
        let (losses, epochs) = (run.losses.clone(), run.epochs.clone());
        // Nothing of a run in progress is deleted or swapped out of the view under it.
        let in_progress = run.state == RunState::Training;
        let resumable = run.resumable();
        view! {
            <tr data-run=id.to_string()>
                <td><input class="run-name" aria-label="run name" prop:value=run.name.clone()
                    on:change=move |ev| runs.rename(id, event_target_value(&ev)) /></td>
                <td class=state_class>{run.describe()}</td>
                <td class="num best">{best}</td>
                <td class="actions">
                    <button type="button" class="show" disabled=move || busy.get()
                        on:click=move |_| show.run((losses.clone(), epochs.clone()))>"Show"</button>
                    {resumable.then(|| view! {
                        <button type="button" class="resume" disabled=move || busy.get() || !ready.get() on:click=move |_| resume.run(id)>"Resume"</button>
                    })}
                    <button type="button" class="delete" disabled=move || in_progress && busy.get()
                        on:click=move |_| runs.delete(id)>"Delete"</button>
                </td>
            </tr>
        }
    };
    view! {
        <section class="runs">
            <h2>"Runs"</h2>
            {move || runs.note.get().map(|n| view! { <p id="runs-note" class="note">{n}</p> })}
            {move || if runs.list.with(Vec::is_empty) {
                view! { <p id="no-runs" class="note">"No runs yet: every run you train is kept here, across reloads."</p> }.into_any()
            } else {
                view! {
                    <table id="runs">
                        <thead><tr><th>"name"</th><th>"state"</th><th>"best test acc"</th><th></th></tr></thead>
                        <tbody>{move || runs.list.get().into_iter().map(row).collect_view()}</tbody>
                    </table>
                }.into_any()
            }}
        </section>
    }
}
