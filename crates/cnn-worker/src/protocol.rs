//! Messages between the page and its training worker, sent as JSON strings through `postMessage`.

use cnn_models::ModelSpec;
use cnn_train::bench::{Speed, Trial};
use cnn_train::explain::{ExplainRequest, Explanation, GreyMaps};
use cnn_train::inspect::Predictions;
use cnn_train::{BackendKind, Event, TrainSpec};
use js_sys::{Array, Uint8Array};
use serde::de::DeserializeOwned;
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
    /// Every one of the first `test_images` test images' probabilities under run `run`'s stored
    /// weights (answered by [`FromWorker::Inspected`]).
    Inspect {
        run: u64,
        test_images: usize,
        backend: BackendKind,
    },
    /// What run `run`'s network makes of one picture (answered by [`FromWorker::Explained`]).
    Explain {
        run: u64,
        backend: BackendKind,
        picture: Picture,
        request: ExplainRequest,
        /// RGBA pixels for [`Picture::Pixels`], else empty.
        #[serde(skip)]
        bytes: Vec<u8>,
    },
    /// Destroys this worker's GPU device, as a driver reset or a crashed GPU process would: what
    /// WebGL's `WEBGL_lose_context` offers for WebGL, which WebGPU lacks. The page's tests drive
    /// a lost GPU with it (the page relays a `cnn-lose-gpu` event on its window).
    LoseGpu,
    /// Times training steps on the loaded training images (the benchmark drives this), on a GPU
    /// with `kernels` (as [`ToWorker::BenchMatmul`] names them) where given, else its default.
    Bench {
        model: ModelSpec,
        trial: Trial,
        backend: BackendKind,
        #[serde(default)]
        kernels: Option<String>,
    },
    /// Times products of two `size` x `size` matrices, `repeats` of them after one, on a GPU with
    /// `kernels`: one of our products (`simple`, `double`, `naive`: cubek's strategies; `blocked`)
    /// or `burn`'s; the CPU has one kind (answered by [`FromWorker::Matmul`]).
    BenchMatmul {
        size: usize,
        repeats: usize,
        backend: BackendKind,
        kernels: String,
    },
}

/// A picture to look at: a loaded test image, or the learner's own in the message's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Picture {
    Test(usize),
    /// RGBA pixels: a drawing, or a picked file the page had the browser decode.
    Pixels {
        width: u32,
        height: u32,
    },
}

/// What the test images say about a trained network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Inspection {
    pub predictions: Predictions,
    /// The first convolution's filters.
    pub filters: GreyMaps,
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
    /// The GPU was lost mid-run: the sentence, sent once the run's checkpoints are stored. This
    /// worker's GPU cannot be trusted again; the run resumes from its last checkpoint.
    GpuLost(String),
    /// What a panic said, sent just before the worker's wasm traps: the page shows it instead of
    /// the bare "unreachable" its error event carries.
    Panicked(String),
    Speed {
        backend: String,
        speed: Speed,
    },
    Matmul {
        backend: String,
        gflops: f64,
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
    Inspected {
        run: u64,
        result: Result<Inspection, String>,
        /// The inspected test images' pixels as the data set holds them, 28x28 each.
        #[serde(skip)]
        pixels: Vec<u8>,
    },
    Explained {
        run: u64,
        result: Result<Explanation, String>,
    },
    /// A request that is not a run (an export) could not be answered: the sentence.
    Refused(String),
    /// The worker's WebAssembly memory after an epoch or an inspection. It never shrinks, so a
    /// leak shows as growth from one report to the next (the page shows it; its soak test reads it).
    Memory {
        wasm_bytes: u64,
    },
}

/// A message that may carry bytes beside its JSON (weights, pictures): they are posted as they
/// are, which the browser copies, where JSON numbers would be several times their size.
pub trait Attached: Serialize + DeserializeOwned {
    fn attachment(&self) -> Option<&Vec<u8>>;
    fn attachment_mut(&mut self) -> Option<&mut Vec<u8>>;
}

impl Attached for ToWorker {
    fn attachment(&self) -> Option<&Vec<u8>> {
        match self {
            ToWorker::Explain { bytes, .. } => Some(bytes),
            _ => None,
        }
    }

    fn attachment_mut(&mut self) -> Option<&mut Vec<u8>> {
        match self {
            ToWorker::Explain { bytes, .. } => Some(bytes),
            _ => None,
        }
    }
}

impl Attached for FromWorker {
    fn attachment(&self) -> Option<&Vec<u8>> {
        match self {
            FromWorker::Exported { bytes, .. } | FromWorker::Inspected { pixels: bytes, .. } => Some(bytes),
            _ => None,
        }
    }

    fn attachment_mut(&mut self) -> Option<&mut Vec<u8>> {
        match self {
            FromWorker::Exported { bytes, .. } | FromWorker::Inspected { pixels: bytes, .. } => Some(bytes),
            _ => None,
        }
    }
}

pub fn encode<T: Serialize>(message: &T) -> String {
    // Our enums hold only strings, numbers and plain structs: serialising them cannot fail.
    serde_json::to_string(message).unwrap_or_default()
}

/// The message `json` holds, or the sentence that says why it is not one: the decoding both sides
/// do, apart from the browser so that it is fuzzed natively (tests/hostile_messages.rs).
pub fn read<T: DeserializeOwned>(json: &str) -> Result<T, String> {
    serde_json::from_str(json).map_err(|e| format!("the message is not one this build reads ({e})"))
}

fn decode<T: DeserializeOwned>(value: &JsValue) -> Result<T, String> {
    read(&value.as_string().ok_or("the message is not text")?)
}

/// A message as posted: its JSON, or where it carries bytes, an array of the JSON and the bytes.
pub fn to_js<T: Attached>(message: &T) -> JsValue {
    match message.attachment() {
        Some(bytes) => Array::of2(&encode(message).into(), &Uint8Array::from(bytes.as_slice())).into(),
        None => encode(message).into(),
    }
}

/// A message as [`to_js`] posted it, or the sentence that says why it is not one.
pub fn from_js<T: Attached>(value: &JsValue) -> Result<T, String> {
    let Some(pair) = value.dyn_ref::<Array>() else { return decode(value) };
    let mut message: T = decode(&pair.get(0))?;
    if let Some(bytes) = message.attachment_mut() {
        *bytes = Uint8Array::new(&pair.get(1)).to_vec();
    }
    Ok(message)
}
