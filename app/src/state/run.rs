//! Every run the learner starts, kept in IndexedDB ([`cnn_worker::store`]) so that a reload or a closed
//! tab loses none of them: settings, curves, epochs and how the run ended. IndexedDB rather than
//! `localStorage`: the latter holds about 5 MB per site, a few runs' curves, and blocks the page
//! thread on every write.

use cnn_train::{Checkpoint, EpochStats, TrainSpec};
use cnn_worker::store;
use serde::{Deserialize, Serialize};
use wasm_bindgen::JsValue;

/// The layout of a stored [`Run`]. A later page that changes it reads older versions or refuses
/// them with a sentence; it never drops them. Layout 1 kept only the running mean of the loss at
/// each step; it reads as steps with that loss alone.
pub const VERSION: u32 = 2;

/// One training step as the charts draw it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(from = "StoredStep")]
pub struct StepPoint {
    /// This step's batch (layout 1: the epoch's running mean).
    pub loss: f32,
    pub accuracy: Option<f32>,
    pub learning_rate: Option<f64>,
    /// The epoch's mean speed up to this step.
    pub examples_per_sec: Option<f64>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum StoredStep {
    Point { loss: f32, accuracy: Option<f32>, learning_rate: Option<f64>, examples_per_sec: Option<f64> },
    Loss(f32),
}

impl From<StoredStep> for StepPoint {
    fn from(stored: StoredStep) -> Self {
        match stored {
            StoredStep::Point { loss, accuracy, learning_rate, examples_per_sec } => {
                StepPoint { loss, accuracy, learning_rate, examples_per_sec }
            }
            StoredStep::Loss(loss) => StepPoint { loss, accuracy: None, learning_rate: None, examples_per_sec: None },
        }
    }
}

/// How a run stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum RunState {
    Training,
    Finished,
    /// Cancelled by the learner, or cut off when its tab closed.
    Stopped,
    Failed(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    pub version: u32,
    /// Milliseconds since 1970 when it started: its key, and its order in the list.
    pub id: u64,
    pub name: String,
    pub settings: TrainSpec,
    /// How many of the data set's training and test images it uses (the first ones).
    pub images: (usize, usize),
    pub state: RunState,
    /// Every step reported (layout 1 called them `losses`).
    #[serde(alias = "losses")]
    pub steps: Vec<StepPoint>,
    /// `steps.len()` at the end of each epoch: where a resumed run's curve picks up.
    pub epoch_ends: Vec<usize>,
    pub epochs: Vec<EpochStats>,
}

/// Adds `stats` to `epochs`, or puts it in its place where a resumed run reports its stored
/// epochs again; true for a new epoch.
pub fn put_epoch(epochs: &mut Vec<EpochStats>, stats: EpochStats) -> bool {
    match epochs.get_mut(stats.epoch.saturating_sub(1)) {
        Some(old) if stats.epoch >= 1 => {
            *old = stats;
            false
        }
        _ => {
            epochs.push(stats);
            true
        }
    }
}

impl Run {
    pub fn new(id: u64, name: String, settings: TrainSpec, images: (usize, usize)) -> Self {
        let (state, steps, epoch_ends, epochs) = (RunState::Training, vec![], vec![], vec![]);
        Run { version: VERSION, id, name, settings, images, state, steps, epoch_ends, epochs }
    }

    /// A run made from an uploaded checkpoint: its settings and epochs, no per-step curve (a
    /// checkpoint keeps none); stopped where it can go on. A checkpoint that does not say how
    /// many images its run used gets `images`.
    pub fn uploaded(id: u64, name: String, checkpoint: &Checkpoint, images: (usize, usize)) -> Self {
        let mut run = Run::new(id, name, checkpoint.spec.clone(), checkpoint.images.unwrap_or(images));
        for stats in &checkpoint.history {
            run.record_epoch(stats.clone());
        }
        let done = checkpoint.epoch >= checkpoint.spec.epochs;
        run.state = if done { RunState::Finished } else { RunState::Stopped };
        run
    }

    pub fn record_epoch(&mut self, stats: EpochStats) {
        let end = self.steps.len();
        if put_epoch(&mut self.epochs, stats) {
            self.epoch_ends.push(end);
        }
    }

    /// Back to the end of epoch `epochs`, where its stored checkpoint goes on, training again.
    pub fn rewind(&mut self, epochs: usize) {
        let end = epochs.checked_sub(1).and_then(|i| self.epoch_ends.get(i)).copied().unwrap_or(0);
        self.steps.truncate(end);
        self.epoch_ends.truncate(epochs);
        self.epochs.truncate(epochs);
        self.state = RunState::Training;
    }

    /// A run cut off before its last epoch goes on from its last stored checkpoint.
    pub fn resumable(&self) -> bool {
        self.state == RunState::Stopped && self.epochs.len() < self.settings.epochs
    }

    /// How the run stands, in a few words for the list.
    pub fn describe(&self) -> String {
        let done = self.epochs.len();
        match &self.state {
            RunState::Training => format!("training, {done} of {} epochs", self.settings.epochs),
            RunState::Finished => format!("finished, {done} epoch{}", if done == 1 { "" } else { "s" }),
            RunState::Stopped => format!("stopped after epoch {done} of {}", self.settings.epochs),
            RunState::Failed(why) => format!("failed: {why}"),
        }
    }

    pub fn best_accuracy(&self) -> Option<f32> {
        self.epochs.iter().map(|e| e.test_accuracy).reduce(f32::max)
    }
}

/// A stored record read back: a run, or the sentence that says why it cannot be shown (it stays
/// stored for a page that can read it).
pub fn decode(json: &str) -> Result<Run, String> {
    #[derive(Deserialize)]
    struct Versioned {
        version: u32,
    }
    let version = serde_json::from_str::<Versioned>(json).map_err(|e| format!("a stored run is not readable: {e}"))?;
    if version.version > VERSION {
        return Err(format!(
            "a run stored by a newer page (layout {}, this page reads {VERSION}) is kept but not shown; reload to get \
             the newer page",
            version.version
        ));
    }
    let mut run: Run = serde_json::from_str(json)
        .map_err(|e| format!("a stored run (layout {}) is not readable: {e}", version.version))?;
    // Saved again in this page's layout.
    run.version = VERSION;
    Ok(run)
}

/// Every stored run, newest first, and a sentence for each record that could not be read. A tab
/// that closed while training left its run `Training`: it comes back `Stopped`.
pub async fn load_all() -> Result<(Vec<Run>, Vec<String>), String> {
    let (mut runs, mut refused) = (vec![], vec![]);
    for value in store::get_all(store::RUNS).await? {
        match decode(&value.as_string().unwrap_or_default()) {
            Ok(mut run) => {
                if run.state == RunState::Training {
                    run.state = RunState::Stopped;
                }
                runs.push(run);
            }
            Err(why) => refused.push(why),
        }
    }
    runs.sort_by_key(|r| std::cmp::Reverse(r.id));
    Ok((runs, refused))
}

/// Writes `run` over its stored copy, and gives back the record as stored. An error (a full or
/// refused quota) is the caller's to report; the run itself goes on in memory.
pub async fn save(run: &Run) -> Result<String, String> {
    let json = serde_json::to_string(run).map_err(|e| e.to_string())?;
    store::put(store::RUNS, run.id, &JsValue::from_str(&json)).await?;
    Ok(json)
}

/// Removes a run and its checkpoint.
pub async fn delete(id: u64) -> Result<(), String> {
    store::delete(id).await
}
