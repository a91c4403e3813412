//! The runs list as the page holds it: every run the learner started, as stored (see
//! [`run`](super::run)), the one in progress, those drawn on the charts, and what another tab
//! said about them (see [`tabs`](super::tabs)).

use cnn_models::Preset;
use cnn_train::TrainSpec;
use cnn_worker::store;
use js_sys::Uint8Array;
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::run::{self, Run, RunState};
use super::tabs::{Said, Tabs};
use crate::files;

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
    /// Whether the stored runs were read (a sweep goes on after a reload only then).
    pub loaded: RwSignal<bool>,
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
            loaded: RwSignal::new(false),
            tabs: StoredValue::new_local(None),
        };
        runs.tabs.set_value(Some(Tabs::open(move |said| runs.heard(said))));
        spawn_local(async move {
            match run::load_all().await {
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
            runs.loaded.set(true);
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
                let Ok(run) = run::decode(&json) else { return };
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
    pub fn training_here(self, id: u64) -> bool {
        self.current() == Some(id)
    }

    /// A new run in front of the list, stored at once.
    pub fn start(self, settings: TrainSpec, images: (usize, usize)) {
        let model = Preset::of(&settings.model).map_or("own spec", |p| p.name);
        let number = self.list.with_untracked(Vec::len) + 1;
        let name = format!("Run {number}: {model}, {} px", settings.image_size);
        self.start_named(settings, images, name);
    }

    /// A new run called `name` in front of the list, stored at once; its id.
    pub fn start_named(self, settings: TrainSpec, images: (usize, usize), name: String) -> u64 {
        // Two runs started in one millisecond (a sweep's first, right after another) get apart.
        let newest = self.list.with_untracked(|l| l.iter().map(|r| r.id).max().unwrap_or(0));
        let id = (js_sys::Date::now() as u64).max(newest + 1);
        self.list.update(|l| l.insert(0, Run::new(id, name, settings, images)));
        self.current.set_value(Some(id));
        // The new run comes first on the charts; the runs ticked for comparison stay.
        self.draw_first(id);
        self.store(id);
        id
    }

    /// Run `id` as the list holds it (none once deleted).
    pub fn get(self, id: u64) -> Option<Run> {
        self.list.with_untracked(|l| l.iter().find(|r| r.id == id).cloned())
    }

    /// The run in progress, to store its checkpoints under.
    pub fn current(self) -> Option<u64> {
        self.current.get_value()
    }

    /// Makes stopped run `id` the one in progress again, and gives it back to be trained.
    pub fn resume(self, id: u64) -> Option<Run> {
        let run = self.get(id).filter(Run::resumable)?;
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
    pub fn toggle_drawn(self, id: u64, drawn: bool) {
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
    pub fn download_checkpoint(self, id: u64, name: String) {
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
        let Some(run) = self.get(id) else { return };
        spawn_local(async move {
            match run::save(&run).await {
                Ok(json) => self.say(&Said::Stored(json)),
                Err(why) => {
                    self.note.set(Some(format!("“{}” could not be stored: {why}. It goes on in memory.", run.name)))
                }
            }
        });
    }

    pub fn rename(self, id: u64, name: String) {
        self.list.update(|l| l.iter_mut().filter(|r| r.id == id).for_each(|r| r.name = name.clone()));
        self.store(id);
    }

    pub fn delete(self, id: u64) {
        self.toggle_drawn(id, false);
        self.list.update(|l| l.retain(|r| r.id != id));
        spawn_local(async move {
            match run::delete(id).await {
                Ok(()) => self.say(&Said::Deleted(id)),
                Err(why) => self.note.set(Some(format!("The run could not be deleted from storage: {why}."))),
            }
        });
    }
}
