//! Messages between the page and its training worker, sent as JSON strings through `postMessage`.

use cnn_models::ModelSpec;
use cnn_train::bench::{Speed, Trial};
use cnn_train::{BackendKind, Event, TrainSpec};
use js_sys::{Array, Uint8Array};
use serde::{Deserialize, Serialize};
use wasm_bindgen::{JsCast, JsValue};

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
    /// The test loss and accuracy of run `run`'s stored checkpoint on the first `test_images`
    /// (answered by [`FromWorker::Evaluated`]).
    Evaluate {
        run: u64,
        test_images: usize,
        backend: BackendKind,
    },
    /// Run `run`'s stored weights as safetensors (answered by [`FromWorker::Exported`]).
    Export {
        run: u64,
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
    Evaluated {
        run: u64,
        /// The test loss and accuracy, and on how many images, or why not.
        result: Result<(f32, f32, usize), String>,
    },
    /// A safetensors file's bytes, posted beside the JSON (see [`to_js`]).
    Exported {
        run: u64,
        #[serde(skip)]
        bytes: Vec<u8>,
    },
    /// A request that is not a run (an export) could not be answered: the sentence.
    Refused(String),
}

pub fn encode<T: Serialize>(message: &T) -> String {
    // Our enums hold only strings, numbers and plain structs: serialising them cannot fail.
    serde_json::to_string(message).unwrap_or_default()
}

pub fn decode<T: for<'de> Deserialize<'de>>(value: &JsValue) -> Option<T> {
    serde_json::from_str(&value.as_string()?).ok()
}

/// A worker's message as posted: its JSON, and for an export, an array of the JSON and the
/// bytes, which the browser copies as they are (a model's weights as JSON numbers would be
/// several times their size).
pub fn to_js(message: &FromWorker) -> JsValue {
    match message {
        FromWorker::Exported { bytes, .. } => {
            Array::of2(&encode(message).into(), &Uint8Array::from(bytes.as_slice())).into()
        }
        _ => encode(message).into(),
    }
}

/// A worker's message as [`to_js`] posted it.
pub fn from_js(value: &JsValue) -> Option<FromWorker> {
    let Some(pair) = value.dyn_ref::<Array>() else { return decode(value) };
    let mut message = decode(&pair.get(0))?;
    if let FromWorker::Exported { bytes, .. } = &mut message {
        *bytes = Uint8Array::new(&pair.get(1)).to_vec();
    }
    Some(message)
}
