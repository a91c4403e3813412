//! The runs list: every run the learner started, as stored (see [`runs`](crate::runs)), with its
//! state and best test accuracy; rename, delete, draw one or several on the charts, resume.

use cnn_models::Preset;
use cnn_train::TrainSpec;
use leptos::prelude::*;
use leptos::task::spawn_local;

use cnn_worker::store;
use js_sys::Uint8Array;

use crate::files;
use crate::runs::{self, Run, RunState};
use crate::tabs::{Said, Tabs};

/// The page's runs: the list, the one in progress, those drawn on the charts, and what storage
/// last refused.
#[derive(Clone, Copy)]
pub struct Runs {
    pub list: RwSignal<Vec<Run>>,
    current: StoredValue<Option<u64>>,
    /// The runs on the charts, the first one's epochs in the table.
    pub drawn: RwSignal<Vec<u64>>,
    /// Notified at every step of the run in progress, which does not redraw the list.
    pub stepped: Trigger,
    pub note: RwSignal<Option<String>>,
    /// What became of the last checkpoint uploaded.
    pub uploaded: RwSignal<Option<String>>,
    tabs: StoredValue<Option<Tabs>, LocalStorage>,
}

impl Runs {
    /// The list starts empty and fills once IndexedDB answers.
    pub fn load() -> Self {
        let runs = Runs {
            list: RwSignal::new(vec![]),
            current: StoredValue::new(None),
            drawn: RwSignal::new(vec![]),
            stepped: Trigger::new(),
            note: RwSignal::new(None),
            uploaded: RwSignal::new(None),
            tabs: StoredValue::new_local(None),
        };
        runs.tabs.set_value(Some(Tabs::open(move |said| runs.heard(said))));
        spawn_local(async move {
            match runs::load_all().await {
                Ok((stored, refused)) => {
                    // A run started before storage answered is kept in front of the stored ones.
                    runs.list.update(|list| list.extend(stored));
                    // After a reload the charts show the newest run, as they did before it.
                    let newest = runs.list.with_untracked(|l| l.first().map(|r| r.id));
                    if let (true, Some(id)) = (runs.drawn.with_untracked(Vec::is_empty), newest) {
                        runs.drawn.set(vec![id]);
                    }
                    if !refused.is_empty() {
                        runs.note.set(Some(refused.join(" ")));
                    }
                }
                Err(why) => runs.note.set(Some(format!("Past runs could not be read: {why}."))),
            }
            // Asked once the list is read, so that what the others answer replaces what it read.
            runs.say(&Said::Opened);
        });
        runs
    }

    fn say(self, said: &Said) {
        self.tabs.with_value(|tabs| tabs.as_ref().map(|t| t.say(said)));
    }

    /// What another tab said: its runs as it stores them (a run it trains comes in as training,
    /// and cannot be resumed or deleted here until it stops there).
    fn heard(self, said: Said) {
        match said {
            Said::Opened => {
                if let Some(id) = self.current() {
                    self.store(id);
                }
            }
            Said::Stored(json) => {
                let Ok(run) = runs::decode(&json) else { return };
                if self.current() == Some(run.id) {
                    return;
                }
                self.list.update(|list| match list.iter_mut().find(|r| r.id == run.id) {
                    Some(ours) => *ours = run,
                    None => {
                        let at = list.iter().position(|r| r.id < run.id).unwrap_or(list.len());
                        list.insert(at, run);
                    }
                });
            }
            Said::Deleted(id) => {
                if self.current() != Some(id) {
                    self.toggle_drawn(id, false);
                    self.list.update(|l| l.retain(|r| r.id != id));
                }
            }
        }
    }

    /// Whether run `id` is the one this tab trains (a run in training elsewhere is another tab's).
    fn training_here(self, id: u64) -> bool {
        self.current() == Some(id)
    }

    /// A new run in front of the list, stored at once.
    pub fn start(self, settings: TrainSpec, images: (usize, usize)) {
        let id = js_sys::Date::now() as u64;
        let model = Preset::of(&settings.model).map_or("own spec", |p| p.name);
        let number = self.list.with_untracked(Vec::len) + 1;
        let name = format!("Run {number}: {model}, {} px", settings.image_size);
        self.list.update(|l| l.insert(0, Run::new(id, name, settings, images)));
        self.current.set_value(Some(id));
        // The new run comes first on the charts; the runs ticked for comparison stay.
        self.draw_first(id);
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
        self.draw_first(id);
        self.update(true, |r| r.state = RunState::Training);
        Some(run)
    }

    /// The run in progress as a resumed one starts: after `epochs` epochs.
    pub fn rewind(self, epochs: usize) {
        self.update(true, |r| r.rewind(epochs));
    }

    /// Puts run `id` first on the charts and in the epoch table, the others drawn staying.
    fn draw_first(self, id: u64) {
        self.drawn.update(|d| {
            d.retain(|&other| other != id);
            d.insert(0, id);
        });
    }

    /// Draws run `id` on the charts beside the others, or takes it off.
    fn toggle_drawn(self, id: u64, drawn: bool) {
        self.drawn.update(|d| {
            d.retain(|&other| other != id);
            if drawn {
                d.push(id);
            }
        });
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
            self.stepped.notify();
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

    /// A run from elsewhere (an uploaded checkpoint) in front of the list, stored at once.
    pub fn add(self, run: Run) {
        let id = run.id;
        self.list.update(|l| l.insert(0, run));
        self.drawn.set(vec![id]);
        self.store(id);
    }

    /// Downloads run `id`'s stored checkpoint, as the CLI's `--resume` and an upload take it.
    fn download_checkpoint(self, id: u64, name: String) {
        spawn_local(async move {
            let stored = store::get(store::CHECKPOINTS, id).await;
            let done = match stored {
                Ok(Some(bytes)) => {
                    files::download(&Uint8Array::new(&bytes).to_vec(), &files::file_name(&name, "cnnckpt"))
                }
                Ok(None) => Err("none is stored yet: one is kept after every finished epoch".into()),
                Err(why) => Err(why),
            };
            if let Err(why) = done {
                self.note.set(Some(format!("The checkpoint of “{name}” cannot be downloaded: {why}.")));
            }
        });
    }

    fn store(self, id: u64) {
        let Some(run) = self.list.with_untracked(|l| l.iter().find(|r| r.id == id).cloned()) else { return };
        spawn_local(async move {
            match runs::save(&run).await {
                Ok(json) => self.say(&Said::Stored(json)),
                Err(why) => {
                    self.note.set(Some(format!("“{}” could not be stored: {why}. It goes on in memory.", run.name)))
                }
            }
        });
    }

    fn rename(self, id: u64, name: String) {
        self.list.update(|l| l.iter_mut().filter(|r| r.id == id).for_each(|r| r.name = name.clone()));
        self.store(id);
    }

    fn delete(self, id: u64) {
        self.toggle_drawn(id, false);
        self.list.update(|l| l.retain(|r| r.id != id));
        spawn_local(async move {
            match runs::delete(id).await {
                Ok(()) => self.say(&Said::Deleted(id)),
                Err(why) => self.note.set(Some(format!("The run could not be deleted from storage: {why}."))),
            }
        });
    }
}

/// The list; "Show" puts a run alone on the charts and its epochs in the table, its tick box
/// draws it beside the others, `resume` trains a stopped run on from its last checkpoint.
#[component]
pub fn RunsView(
    runs: Runs,
    busy: Signal<bool>,
    /// Whether a stopped run can go on: the data is loaded and the CPU's thread pool is ready
    /// or known to be missing.
    ready: Signal<bool>,
    resume: Callback<u64>,
    /// Asks the worker for a run's weights as safetensors.
    export: Callback<u64>,
    /// Checks and evaluates a checkpoint file the learner picked, and lists it as a run.
    upload: Callback<web_sys::File>,
    /// Looks inside a run's stored network.
    inspect: Callback<u64>,
) -> impl IntoView {
    let row = move |run: Run| {
        let id = run.id;
        let best = run.best_accuracy().map_or("–".into(), |a| format!("{:.1}%", a * 100.0));
        let state_class = match run.state {
            RunState::Failed(_) => "state error",
            _ => "state",
        };
        // Nothing of a run in progress is deleted or swapped out of the view under it.
        let in_progress = run.state == RunState::Training;
        let resumable = run.resumable();
        // A checkpoint is kept after every finished epoch.
        let kept = !run.epochs.is_empty();
        let name = run.name.clone();
        let describe = if in_progress && !runs.training_here(id) {
            format!("training in another tab, {} of {} epochs", run.epochs.len(), run.settings.epochs)
        } else {
            run.describe()
        };
        view! {
            <tr data-run=id.to_string()>
                <td><input type="checkbox" class="draw" aria-label="draw on the charts"
                    prop:checked=move || runs.drawn.with(|d| d.contains(&id))
                    on:change=move |ev| runs.toggle_drawn(id, event_target_checked(&ev)) /></td>
                <td><input class="run-name" aria-label="run name" prop:value=run.name.clone()
                    on:change=move |ev| runs.rename(id, event_target_value(&ev)) /></td>
                <td class=state_class>{describe}</td>
                <td class="num best">{best}</td>
                <td class="actions">
                    <button type="button" class="show" disabled=move || busy.get()
                        on:click=move |_| runs.drawn.set(vec![id])>"Show"</button>
                    {resumable.then(|| view! {
                        <button type="button" class="resume" disabled=move || busy.get() || !ready.get() on:click=move |_| resume.run(id)>"Resume"</button>
                    })}
                    {kept.then(|| view! {
                        <button type="button" class="inspect" title="its test results, its mistakes, and what it sees in a picture"
                            disabled=move || !ready.get() on:click=move |_| inspect.run(id)>"Inspect"</button>
                        <button type="button" class="checkpoint" title="download the checkpoint: resume or inspect it later"
                            on:click=move |_| runs.download_checkpoint(id, name.clone())>"Checkpoint"</button>
                        <button type="button" class="safetensors" title="download the weights as safetensors, in PyTorch's layout"
                            disabled=move || busy.get() || !ready.get() on:click=move |_| export.run(id)>"Safetensors"</button>
                    })}
                    // In progress here or in another tab: stopped first, there.
                    <button type="button" class="delete" disabled=in_progress
                        on:click=move |_| runs.delete(id)>"Delete"</button>
                </td>
            </tr>
        }
    };
    view! {
        <section class="runs">
            <h2>"Runs"</h2>
            {move || runs.note.get().map(|n| view! { <p id="runs-note" class="note">{n}</p> })}
            <label class="upload">"Upload a checkpoint (.cnnckpt) to evaluate it and go on with it: "
                <input type="file" id="upload" accept=".cnnckpt" disabled=move || busy.get() || !ready.get()
                    on:change=move |ev| {
                        let input: web_sys::HtmlInputElement = event_target(&ev);
                        if let Some(file) = input.files().and_then(|f| f.get(0)) {
                            upload.run(file);
                        }
                        // The same file picked again is a new upload.
                        input.set_value("");
                    } />
            </label>
            {move || runs.uploaded.get().map(|n| view! { <p id="upload-note" class="note">{n}</p> })}
            {move || if runs.list.with(Vec::is_empty) {
                view! { <p id="no-runs" class="note">"No runs yet: every run you train is kept here, across reloads."</p> }.into_any()
            } else {
                view! {
                    <table id="runs">
                        <thead><tr><th title="drawn on the charts">"chart"</th><th>"name"</th><th>"state"</th><th>"best test acc"</th><th></th></tr></thead>
                        <tbody>{move || runs.list.get().into_iter().map(row).collect_view()}</tbody>
                    </table>
                }.into_any()
            }}
        </section>
    }
}

/// The epochs of the first run drawn: the one in progress, or the one shown.
#[component]
pub fn EpochTable(runs: Runs) -> impl IntoView {
    let rows = move || {
        let first = runs.drawn.with(|d| d.first().copied());
        runs.list.with(|l| l.iter().find(|r| Some(r.id) == first).map(|r| r.epochs.clone()).unwrap_or_default())
    };
    view! {
        <table id="epoch-table">
            <thead><tr><th>"epoch"</th><th>"train loss"</th><th>"train acc"</th><th>"test loss"</th><th>"test acc"</th><th>"examples/s"</th><th>"seconds"</th></tr></thead>
            <tbody>
                {move || rows().into_iter().map(|s| view! {
                    <tr>
                        <td>{s.epoch}</td>
                        <td>{format!("{:.4}", s.train_loss)}</td>
                        <td>{format!("{:.1}%", s.train_accuracy * 100.0)}</td>
                        <td>{format!("{:.4}", s.test_loss)}</td>
                        <td>{format!("{:.1}%", s.test_accuracy * 100.0)}</td>
                        <td>{format!("{:.1}", s.examples_per_sec)}</td>
                        <td>{format!("{:.1}", s.seconds)}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}
