//! Every run the learner starts, kept in IndexedDB (through `idb`) so that a reload or a closed
//! tab loses none of them: settings, curves, epochs and how the run ended. IndexedDB rather than
//! `localStorage`: the latter holds about 5 MB per site, a few runs' curves, and blocks the page
//! thread on every write.

use cnn_train::{EpochStats, TrainSpec};
use idb::{Database, ObjectStore, TransactionMode, TransactionResult};
use serde::{Deserialize, Serialize};
use wasm_bindgen::JsValue;

/// The layout of a stored [`Run`]. A later page that changes it reads older versions or refuses
/// them with a sentence; it never drops them.
pub const VERSION: u32 = 1;
const DATABASE: &str = "cnn-playground";
const RUNS: &str = "runs";

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
    pub state: RunState,
    /// The running mean of the training loss at every step reported.
    pub losses: Vec<f32>,
    pub epochs: Vec<EpochStats>,
}

impl Run {
    pub fn new(id: u64, name: String, settings: TrainSpec) -> Self {
        Run { version: VERSION, id, name, settings, state: RunState::Training, losses: vec![], epochs: vec![] }
    }

    /// How the run stands, in a few words for the list.
    pub fn describe(&self) -> String {
        let done = self.epochs.len();
        match &self.state {
            RunState::Training => format!("training, {done} of {} epochs", self.settings.epochs),
            RunState::Finished => format!("finished, {done} epochs"),
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
    serde_json::from_str(json).map_err(|e| format!("a stored run (layout {}) is not readable: {e}", version.version))
}

fn sentence(error: idb::Error) -> String {
    format!("the browser's storage refused it ({error})")
}

async fn open() -> Result<Database, String> {
    let runs = ObjectStore::builder(RUNS);
    Database::builder(DATABASE).version(1).add_object_store(runs).build().await.map_err(sentence)
}

/// Every stored run, newest first, and a sentence for each record that could not be read. A tab
/// that closed while training left its run `Training`: it comes back `Stopped`.
pub async fn load_all() -> Result<(Vec<Run>, Vec<String>), String> {
    let db = open().await?;
    let tx = db.transaction(&[RUNS], TransactionMode::ReadOnly).map_err(sentence)?;
    let values = tx.object_store(RUNS).map_err(sentence)?.get_all(None, None).map_err(sentence)?.await;
    let (mut runs, mut refused) = (vec![], vec![]);
    for value in values.map_err(sentence)? {
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
    runs.sort_by(|a, b| b.id.cmp(&a.id));
    Ok((runs, refused))
}

/// Writes `run` over its stored copy. An error (a full or refused quota) is the caller's to
/// report; the run itself goes on in memory.
pub async fn save(run: &Run) -> Result<(), String> {
    let json = serde_json::to_string(run).map_err(|e| e.to_string())?;
    let db = open().await?;
    let tx = db.transaction(&[RUNS], TransactionMode::ReadWrite).map_err(sentence)?;
    let store = tx.object_store(RUNS).map_err(sentence)?;
    store
        .put(&JsValue::from_str(&json), Some(&JsValue::from_f64(run.id as f64)))
        .map_err(sentence)?
        .await
        .map_err(sentence)?;
    committed(tx).await
}

async fn committed(tx: idb::Transaction) -> Result<(), String> {
    match tx.commit().map_err(sentence)?.await.map_err(sentence)? {
        TransactionResult::Committed => Ok(()),
        TransactionResult::Aborted => Err("the browser's storage did not keep it (the write was aborted)".into()),
    }
}

pub async fn delete(id: u64) -> Result<(), String> {
    let db = open().await?;
    let tx = db.transaction(&[RUNS], TransactionMode::ReadWrite).map_err(sentence)?;
    let store = tx.object_store(RUNS).map_err(sentence)?;
    store.delete(JsValue::from_f64(id as f64)).map_err(sentence)?.await.map_err(sentence)?;
    committed(tx).await
}
