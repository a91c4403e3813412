//! Messages between the page and its training worker, sent as JSON strings through `postMessage`.

use cnn_models::ModelSpec;
use cnn_train::bench::{Speed, Trial};
use cnn_train::{BackendKind, Event, TrainSpec};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
pub enum ToWorker {
    Train {
        spec: TrainSpec,
        backend: BackendKind,
        train_images: usize,
        test_images: usize,
        /// The run's key in [`store`](crate::store): its checkpoint is stored there after every
        /// epoch (none where absent, as in the benchmark).
        run: Option<u64>,
        /// Go on from that run's stored checkpoint (answered by [`FromWorker::Resumed`]).
        resume: bool,
    },
    Cancel,
    /// Holds the run after its current step (`true`), or lets it go on (`false`).
    Pause(bool),
    /// Which backend [`BackendKind::Auto`] means for this model (answered by [`FromWorker::Chosen`]).
    Choose {
        model: ModelSpec,
        image_size: usize,
        batch_size: usize,
    },
    /// Times training steps on the loaded training images (the benchmark drives this).
    Bench {
        model: ModelSpec,
        trial: Trial,
        backend: BackendKind,
    },
}

#[derive(Debug, Serialize, Deserialize)]
pub enum FromWorker {
    Loaded {
        train_images: usize,
        test_images: usize,
        /// The CPU backend's threads in this worker.
        cpu_threads: usize,
    },
    LoadFailed(String),
    /// The device that trains, and for an automatic choice, why.
    Backend {
        label: String,
        why: Option<String>,
    },
    Chosen {
        backend: BackendKind,
        why: String,
    },
    /// A resumed run starts after this many epochs (0: no checkpoint was stored, so from the start).
    Resumed {
        epochs: usize,
    },
    /// A checkpoint could not be stored (a full quota): the sentence; the run goes on.
    NotStored(String),
    Event(Event),
    Finished,
    Failed(String),
    /// What a panic said, sent just before the worker's wasm traps: the page shows it instead of
    /// the bare "unreachable" its error event carries.
    Panicked(String),
    Speed {
        backend: String,
        speed: Speed,
    },
}

pub fn encode<T: Serialize>(message: &T) -> String {
    // Our enums hold only strings, numbers and plain structs: serialising them cannot fail.
    serde_json::to_string(message).unwrap_or_default()
}

pub fn decode<T: for<'de> Deserialize<'de>>(value: &wasm_bindgen::JsValue) -> Option<T> {
    serde_json::from_str(&value.as_string()?).ok()
}
