//! What the worker does for each of the page's requests, as async functions with typed errors;
//! [`crate::worker`] turns an error into the page's sentence once, where it posts the answer.

use std::cell::Cell;
use std::rc::Rc;

use cnn_data::Dataset;
use cnn_data::convert::ConvertError;
use cnn_models::ModelSpec;
use cnn_train::bench::{Trial, choose, measure};
use cnn_train::explain::{self, ExplainRequest, Explanation};
use cnn_train::{
    BackendKind, Checkpoint, CheckpointError, Checkpoints, Event, OpenedDevice, RunControl, TrainError, TrainSpec,
    evaluate, inspect, train_from,
};
use js_sys::Uint8Array;
use wasm_bindgen_futures::spawn_local;

use crate::protocol::{FromWorker, Inspection, Picture};
use crate::store;

/// Why a request could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error(transparent)]
    Train(#[from] TrainError),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error(transparent)]
    Picture(#[from] ConvertError),
    #[error("no checkpoint is stored for this run (one is kept after every finished epoch)")]
    NoCheckpoint,
}

/// The CPU this worker trains on: its threads, and whether its build multiplies and adds in one
/// relaxed-SIMD instruction (the threaded trainer's build for engines that have relaxed SIMD).
#[derive(Clone, Copy, Debug)]
pub struct Cpu {
    pub threads: usize,
    pub relaxed_simd: bool,
}

/// The data set as loaded: training and test images.
pub type Data = Rc<(Dataset, Dataset)>;

/// Opens `kind`, naming the CPU's threads where there is more than one, and relaxed SIMD where
/// the build uses it (its speed differs from the plain build's).
async fn open(kind: BackendKind, cpu: Cpu) -> Result<OpenedDevice, TrainError> {
    let mut device = OpenedDevice::open(kind).await?;
    if device.kind == BackendKind::Cpu && cpu.threads > 1 {
        device.label = format!("{} on {} threads", device.label, cpu.threads);
    }
    if device.kind == BackendKind::Cpu && cpu.relaxed_simd {
        device.label = format!("{}, relaxed SIMD", device.label);
    }
    Ok(device)
}

/// The checkpoint stored for run `id`, if any.
async fn stored_checkpoint(id: u64) -> Result<Option<Checkpoint>, CheckpointError> {
    let stored = store::get(store::CHECKPOINTS, id).await.map_err(CheckpointError::Stored)?;
    let bytes = stored.map(|value| Uint8Array::new(&value).to_vec());
    bytes.map(|b| Checkpoint::from_bytes(&b)).transpose()
}

/// The checkpoint stored for run `id`.
async fn checkpoint_of(id: u64) -> Result<Checkpoint, WorkerError> {
    stored_checkpoint(id).await?.ok_or(WorkerError::NoCheckpoint)
}

thread_local! {
    /// Checkpoints being written: a run that ends on a lost GPU is reported once they are stored,
    /// as the page then ends this worker.
    static STORING: Cell<usize> = const { Cell::new(0) };
}

/// Stores `checkpoint` as run `id`'s latest, in the background: the next epoch does not wait
/// for the browser's storage. A refusal is told to the page (`post`), and the run goes on.
fn keep_checkpoint(id: u64, checkpoint: &Checkpoint, post: Rc<dyn Fn(FromWorker)>) {
    let bytes = Uint8Array::from(checkpoint.to_bytes().as_slice());
    let epoch = checkpoint.epoch;
    STORING.set(STORING.get() + 1);
    spawn_local(async move {
        if let Err(why) = store::put(store::CHECKPOINTS, id, &bytes).await {
            post(FromWorker::NotStored(format!(
                "The checkpoint after epoch {epoch} could not be stored ({why}): the run goes on in this tab, \
                 and after a reload it resumes from the last epoch stored."
            )));
        }
        STORING.set(STORING.get() - 1);
    });
}

/// Waits until the checkpoints being written are stored (IndexedDB takes milliseconds; after
/// ten seconds the page is told anyway, and its list resumes from what was stored).
pub async fn stored() {
    for _ in 0..2000 {
        if STORING.get() == 0 {
            return;
        }
        gloo_timers::future::TimeoutFuture::new(5).await;
    }
}

/// What [`train`] is asked to do.
pub struct TrainRequest {
    pub spec: TrainSpec,
    pub backend: BackendKind,
    pub images: (usize, usize),
    /// The run's key in [`store`]: its checkpoint is stored there after every epoch.
    pub run: Option<u64>,
    /// Go on from that run's stored checkpoint.
    pub resume: bool,
}

/// Trains as `request` says, telling the page (`post`) every event, and its memory after each
/// epoch (`memory`).
pub async fn train(
    request: TrainRequest,
    data: Data,
    cpu: Cpu,
    control: &RunControl,
    post: Rc<dyn Fn(FromWorker)>,
    memory: fn() -> FromWorker,
) -> Result<(), TrainError> {
    let TrainRequest { spec, backend, images: (train_images, test_images), run, resume } = request;
    let (train_set, test_set) = (data.0.head(train_images), data.1.head(test_images));
    let resume = match run.filter(|_| resume) {
        Some(id) => {
            let stored = stored_checkpoint(id).await?;
            post(FromWorker::Resumed { epochs: stored.as_ref().map_or(0, |c| c.epoch) });
            stored
        }
        None => None,
    };
    let device = open(backend, cpu).await?;
    post(FromWorker::Backend { label: device.label.clone(), why: None });
    let keep = run.map(|id| {
        let post = post.clone();
        Box::new(move |checkpoint: Checkpoint| keep_checkpoint(id, &checkpoint, post.clone()))
            as Box<dyn FnMut(Checkpoint)>
    });
    let on_event = |e: Event| {
        let epoch_ended = matches!(e, Event::Epoch(_));
        post(FromWorker::Event(e));
        if epoch_ended {
            post(memory());
        }
    };
    let checkpoints = Checkpoints { resume, keep };
    train_from(&spec, &train_set, &test_set, &device, control, checkpoints, on_event).await.map(drop)
}

/// Which backend `Auto` means for this model, and why.
pub async fn choose_backend(
    model: &ModelSpec,
    image_size: usize,
    batch_size: usize,
    data: &Data,
) -> Result<(BackendKind, String), TrainError> {
    let (device, why) = choose(model, image_size, batch_size, &data.0).await?;
    Ok((device.kind, why))
}

/// Run `run`'s stored checkpoint on the first `test_images`: loss, accuracy and images.
pub async fn evaluate_run(
    run: u64,
    test_images: usize,
    backend: BackendKind,
    data: &Data,
    cpu: Cpu,
) -> Result<(f32, f32, usize), WorkerError> {
    let checkpoint = checkpoint_of(run).await?;
    let device = open(backend, cpu).await?;
    let stats = evaluate(&checkpoint, &data.1.head(test_images), &device).await?;
    Ok((stats.loss, stats.accuracy(), stats.examples))
}

/// Run `run`'s stored weights as safetensors, in PyTorch's layout.
pub async fn export_run(run: u64) -> Result<Vec<u8>, WorkerError> {
    let checkpoint = checkpoint_of(run).await?;
    // On the CPU whatever trained it: the weights are read back at once.
    let cpu = OpenedDevice::open(BackendKind::Cpu).await?;
    Ok(cnn_train::export::safetensors(&checkpoint, &cpu.device.clone().without_autodiff())?)
}

/// Every one of `test`'s images' probabilities under run `run`'s weights, and its first filters.
pub async fn inspect_run(run: u64, test: &Dataset, backend: BackendKind, cpu: Cpu) -> Result<Inspection, WorkerError> {
    let checkpoint = checkpoint_of(run).await?;
    let device = open(backend, cpu).await?;
    let predictions = inspect::predict(&checkpoint, test, &device).await?;
    let filters = explain::filters(&checkpoint, &device).await?;
    Ok(Inspection { predictions, filters })
}

/// What run `run`'s network makes of `picture` (`bytes`: its RGBA pixels, for one of the learner's).
pub async fn explain_picture(
    run: u64,
    (picture, bytes): (Picture, Vec<u8>),
    request: ExplainRequest,
    (backend, cpu): (BackendKind, Cpu),
    data: &Data,
) -> Result<Explanation, WorkerError> {
    let checkpoint = checkpoint_of(run).await?;
    let size = checkpoint.spec.image_size;
    let pixels = match picture {
        Picture::Test(index) => explain::test_picture(&checkpoint, &data.1, index)?,
        Picture::Pixels { width, height } => cnn_data::convert::from_rgba(width, height, bytes, size)?,
    };
    let device = open(backend, cpu).await?;
    Ok(explain::explain(&checkpoint, &pixels, request, &device).await?)
}

/// The speed of `trial`'s steps of `model` on `backend`, after choosing the GPU's kernels.
pub async fn bench(
    model: &ModelSpec,
    trial: Trial,
    (backend, cpu): (BackendKind, Cpu),
    kernels: Option<&str>,
    data: &Data,
) -> Result<FromWorker, TrainError> {
    if let Some(kernels) = kernels {
        choose_gpu_kernels(kernels)?;
    }
    let device = open(backend, cpu).await?;
    let speed = measure(model, trial, &data.0, &device).await?;
    Ok(FromWorker::Speed { backend: device.label, speed })
}

/// The GFLOP/s of a `size` matrix product with `kernels`, `repeats` times.
pub async fn bench_matmul(
    (size, repeats): (usize, usize),
    (backend, cpu): (BackendKind, Cpu),
    kernels: &str,
) -> Result<FromWorker, TrainError> {
    choose_gpu_kernels(kernels)?;
    let device = open(backend, cpu).await?;
    let gflops = cnn_train::bench::matmul(size, repeats, &device).await?;
    Ok(FromWorker::Matmul { backend: device.label, gflops })
}

/// Makes the GPU run `kernels` (see [`crate::protocol::ToWorker::BenchMatmul`]) from now on; a
/// worker without a GPU has one kind.
fn choose_gpu_kernels(kernels: &str) -> Result<(), TrainError> {
    #[cfg(feature = "gpu")]
    {
        use cnn_kernels::gpu::matmul::{Tiles, choose_tiles};
        use cnn_kernels::gpu::{Kernels, choose_kernels};
        if kernels == "burn" {
            choose_kernels(Kernels::Burns);
            return Ok(());
        }
        let tiles = Tiles::named(kernels).ok_or_else(|| TrainError::Setting {
            what: "the GPU kernels",
            rule: "simple, double, naive, blocked or burn",
            value: format!("{kernels:?}"),
        })?;
        choose_kernels(Kernels::Ours);
        choose_tiles(tiles);
    }
    let _ = kernels;
    Ok(())
}
