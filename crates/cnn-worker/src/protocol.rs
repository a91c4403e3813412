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
    },
    Cancel,
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
    Event(Event),
    Finished,
    Failed(String),
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
