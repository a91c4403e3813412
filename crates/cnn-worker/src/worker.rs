//! The training loop's side of the worker: it loads the data, then answers the page's messages.
//! CPU training never blocks the page (WebGPU is available in workers too).

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use cnn_data::{Dataset, Split};
use cnn_train::bench::{choose, measure};
use cnn_train::{
    Backend, BackendKind, Cancel, Checkpoint, CheckpointError, Checkpoints, TrainError, evaluate, train_from,
};
use cnn_train::{inspect, looks};
use js_sys::Uint8Array;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::Closure;
// Not leptos's spawn_local: its executor is set up by mounting a page, and a worker mounts none.
use wasm_bindgen_futures::spawn_local;
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

use crate::data;
use crate::protocol::{FromWorker, Inspection, Picture, ToWorker, from_js, to_js};
use crate::store;

/// The CPU this worker trains on: its threads, and whether its build multiplies and adds in one
/// relaxed-SIMD instruction (the threaded trainer's build for engines that have relaxed SIMD).
#[derive(Clone, Copy, Debug)]
pub struct Cpu {
    pub threads: usize,
    pub relaxed_simd: bool,
}

struct State {
    data: Option<Rc<(Dataset, Dataset)>>,
    cancel: Cancel,
    cpu: Cpu,
}

fn post(scope: &DedicatedWorkerGlobalScope, message: &FromWorker) {
    // Posting a string to the page fails only if the page is gone; nothing is left to tell then.
    let _ = scope.post_message(&to_js(message));
}

/// The worker's memory now (see [`FromWorker::Memory`]).
fn memory() -> FromWorker {
    #[cfg(target_arch = "wasm32")]
    let pages = core::arch::wasm32::memory_size::<0>();
    #[cfg(not(target_arch = "wasm32"))]
    let pages = 0;
    FromWorker::Memory { wasm_bytes: pages as u64 * 65_536 }
}

/// Opens `kind`, naming the CPU's threads where there is more than one, and relaxed SIMD where
/// the build uses it (its speed differs from the plain build's).
async fn open(kind: BackendKind, cpu: Cpu) -> Result<Backend, TrainError> {
    let mut backend = Backend::open(kind).await?;
    if backend.kind == BackendKind::Cpu && cpu.threads > 1 {
        backend.label = format!("{} on {} threads", backend.label, cpu.threads);
    }
    if backend.kind == BackendKind::Cpu && cpu.relaxed_simd {
        backend.label = format!("{}, relaxed SIMD", backend.label);
    }
    Ok(backend)
}

/// The checkpoint stored for run `id`, if any.
async fn stored_checkpoint(id: u64) -> Result<Option<Checkpoint>, CheckpointError> {
    let stored = store::get(store::CHECKPOINTS, id).await.map_err(CheckpointError::Stored)?;
    let bytes = stored.map(|value| Uint8Array::new(&value).to_vec());
    bytes.map(|b| Checkpoint::from_bytes(&b)).transpose()
}

/// The checkpoint stored for run `id`, or the sentence that says why there is none.
async fn checkpoint_of(id: u64) -> Result<Checkpoint, String> {
    match stored_checkpoint(id).await {
        Ok(Some(checkpoint)) => Ok(checkpoint),
        Ok(None) => Err("no checkpoint is stored for this run (one is kept after every finished epoch)".into()),
        Err(e) => Err(e.to_string()),
    }
}

thread_local! {
    /// Checkpoints being written: a run that ends on a lost GPU is reported once they are stored,
    /// as the page then ends this worker.
    static STORING: Cell<usize> = const { Cell::new(0) };
}

/// Stores `checkpoint` as run `id`'s latest, in the background: the next epoch does not wait
/// for the browser's storage. A refusal is told to the page, and the run goes on.
fn keep_checkpoint(id: u64, checkpoint: &Checkpoint, scope: DedicatedWorkerGlobalScope) {
    let bytes = Uint8Array::from(checkpoint.to_bytes().as_slice());
    let epoch = checkpoint.epoch;
    STORING.set(STORING.get() + 1);
    spawn_local(async move {
        if let Err(why) = store::put(store::CHECKPOINTS, id, &bytes).await {
            post(
                &scope,
                &FromWorker::NotStored(format!(
                    "The checkpoint after epoch {epoch} could not be stored ({why}): the run goes on in this tab, \
                     and after a reload it resumes from the last epoch stored."
                )),
            );
        }
        STORING.set(STORING.get() - 1);
    });
}

/// Waits until the checkpoints being written are stored (IndexedDB takes milliseconds; after
/// ten seconds the page is told anyway, and its list resumes from what was stored).
async fn stored() {
    for _ in 0..2000 {
        if STORING.get() == 0 {
            return;
        }
        gloo_timers::future::TimeoutFuture::new(5).await;
    }
}

/// Answers `message` with the loaded `data`; what it reports goes to the page through `scope`.
fn answer(
    message: ToWorker,
    data: Rc<(Dataset, Dataset)>,
    state: &Rc<RefCell<State>>,
    scope: DedicatedWorkerGlobalScope,
) {
    let cpu = state.borrow().cpu;
    match message {
        // Answered as they arrive, before the data is asked for (see `run`).
        ToWorker::Cancel | ToWorker::Pause(_) | ToWorker::LoseGpu => {}
        ToWorker::Train { spec, backend, train_images, test_images, run, resume } => {
            let cancel = Cancel::default();
            state.borrow_mut().cancel = cancel.clone();
            spawn_local(async move {
                let result = async {
                    let (train_set, test_set) = &*data;
                    let (train_set, test_set) = (train_set.head(train_images), test_set.head(test_images));
                    let resume = match run.filter(|_| resume) {
                        Some(id) => {
                            let stored = stored_checkpoint(id).await.map_err(TrainError::Checkpoint)?;
                            let epochs = stored.as_ref().map_or(0, |c| c.epoch);
                            post(&scope, &FromWorker::Resumed { epochs });
                            stored
                        }
                        None => None,
                    };
                    let backend = open(backend, cpu).await?;
                    post(&scope, &FromWorker::Backend { label: backend.label.clone(), why: None });
                    let keep = run.map(|id| {
                        let scope = scope.clone();
                        Box::new(move |checkpoint: Checkpoint| keep_checkpoint(id, &checkpoint, scope.clone()))
                            as Box<dyn FnMut(Checkpoint)>
                    });
                    let checkpoints = Checkpoints { resume, keep };
                    let on_event = |e: cnn_train::Event| {
                        let epoch_ended = matches!(e, cnn_train::Event::Epoch(_));
                        post(&scope, &FromWorker::Event(e));
                        if epoch_ended {
                            post(&scope, &memory());
                        }
                    };
                    train_from(&spec, &train_set, &test_set, &backend, &cancel, checkpoints, on_event).await
                }
                .await;
                let message = match result {
                    Ok(_) => FromWorker::Finished,
                    Err(e @ TrainError::GpuLost(_)) => {
                        stored().await;
                        FromWorker::GpuLost(e.to_string())
                    }
                    Err(e) => FromWorker::Failed(e.to_string()),
                };
                post(&scope, &message);
            });
        }
        ToWorker::Choose { model, image_size, batch_size } => spawn_local(async move {
            let result = choose(&model, image_size, batch_size, &data.0).await;
            post(
                &scope,
                &match result {
                    Ok((backend, why)) => FromWorker::Chosen { backend: backend.kind, why },
                    Err(e) => FromWorker::Failed(e.to_string()),
                },
            );
        }),
        ToWorker::Evaluate { run, test_images, backend } => spawn_local(async move {
            let result = async {
                let checkpoint = checkpoint_of(run).await?;
                let backend = open(backend, cpu).await.map_err(|e| e.to_string())?;
                let test_set = data.1.head(test_images);
                let stats = evaluate(&checkpoint, &test_set, &backend).await.map_err(|e| e.to_string())?;
                Ok((stats.loss, stats.accuracy(), stats.examples))
            }
            .await;
            post(&scope, &FromWorker::Evaluated { run, result });
        }),
        ToWorker::Export { run } => spawn_local(async move {
            let result = async {
                let checkpoint = checkpoint_of(run).await?;
                // On the CPU whatever trained it: the weights are read back at once.
                let on_cpu = Backend::open(BackendKind::Cpu).await.map_err(|e| e.to_string())?;
                let device = on_cpu.device.clone().without_autodiff();
                cnn_train::export::safetensors(&checkpoint, &device).map_err(|e| e.to_string())
            }
            .await;
            post(
                &scope,
                &match result {
                    Ok(bytes) => FromWorker::Exported { run, bytes },
                    Err(why) => FromWorker::Refused(format!("The safetensors could not be made: {why}.")),
                },
            );
        }),
        ToWorker::Inspect { run, test_images, backend } => spawn_local(async move {
            let test_set = data.1.head(test_images);
            let result = async {
                let checkpoint = checkpoint_of(run).await?;
                let backend = open(backend, cpu).await.map_err(|e| e.to_string())?;
                let predictions =
                    inspect::predict(&checkpoint, &test_set, &backend).await.map_err(|e| e.to_string())?;
                let filters = looks::filters(&checkpoint, &backend).await.map_err(|e| e.to_string())?;
                Ok(Inspection { predictions, filters })
            }
            .await;
            let pixels = if result.is_ok() { test_set.images.pixels } else { vec![] };
            post(&scope, &FromWorker::Inspected { run, result, pixels });
            post(&scope, &memory());
        }),
        ToWorker::Look { run, backend, picture, ask, bytes } => spawn_local(async move {
            let result = async {
                let checkpoint = checkpoint_of(run).await?;
                let size = checkpoint.spec.image_size;
                let pixels = match picture {
                    Picture::Test(index) => looks::test_picture(&checkpoint, &data.1, index).map_err(|e| e.to_string()),
                    Picture::Pixels { width, height } => {
                        cnn_data::convert::from_rgba(width, height, bytes, size).map_err(|e| e.to_string())
                    }
                }?;
                let backend = open(backend, cpu).await.map_err(|e| e.to_string())?;
                looks::look(&checkpoint, &pixels, ask, &backend).await.map_err(|e| e.to_string())
            }
            .await;
            post(&scope, &FromWorker::Looked { run, result });
            post(&scope, &memory());
        }),
        ToWorker::Bench { model, trial, backend, kernels } => spawn_local(async move {
            let result = async {
                if let Some(kernels) = &kernels {
                    choose_gpu_kernels(kernels)?;
                }
                let backend = open(backend, cpu).await?;
                let speed = measure(&model, trial, &data.0, &backend).await?;
                Ok::<_, TrainError>(FromWorker::Speed { backend: backend.label, speed })
            }
            .await;
            post(&scope, &result.unwrap_or_else(|e| FromWorker::Failed(e.to_string())));
        }),
        ToWorker::BenchMatmul { size, repeats, backend, kernels } => spawn_local(async move {
            let result = async {
                choose_gpu_kernels(&kernels)?;
                let backend = open(backend, cpu).await?;
                let gflops = cnn_train::bench::matmul(size, repeats, &backend).await?;
                Ok::<_, TrainError>(FromWorker::Matmul { backend: backend.label, gflops })
            }
            .await;
            post(&scope, &result.unwrap_or_else(|e| FromWorker::Failed(e.to_string())));
        }),
    }
}

/// Makes the GPU run `kernels` (see [`ToWorker::BenchMatmul`]) from now on; a worker without a GPU
/// has one kind.
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

/// Destroys the GPU device this worker opened, if it opened one.
fn lose_gpu() {
    #[cfg(feature = "gpu")]
    cnn_train::backend::lose_gpu(BackendKind::Wgpu);
}

/// A panic ends the worker's wasm with a bare "unreachable"; the page is told what it said first.
fn report_panics() {
    std::panic::set_hook(Box::new(|info| {
        console_error_panic_hook::hook(info);
        let scope: DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
        post(&scope, &FromWorker::Panicked(info.to_string()));
    }));
}

/// Loads the data and answers the page's messages for as long as the worker lives; its CPU
/// backend runs as `cpu` says.
pub fn run(cpu: Cpu) {
    report_panics();
    let scope: DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    let state = Rc::new(RefCell::new(State { data: None, cancel: Cancel::default(), cpu }));

    let on_message = {
        let (scope, state) = (scope.clone(), state.clone());
        Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            let data = state.borrow().data.clone();
            match (from_js::<ToWorker>(&event.data()), data) {
                (Ok(ToWorker::Cancel), _) => state.borrow().cancel.cancel(),
                (Ok(ToWorker::Pause(paused)), _) => state.borrow().cancel.pause(paused),
                (Ok(ToWorker::LoseGpu), _) => lose_gpu(),
                (Ok(message), Some(data)) => answer(message, data, &state, scope.clone()),
                (Ok(_), None) => post(&scope, &FromWorker::Failed("the data is not loaded yet".into())),
                (Err(why), _) => {
                    post(&scope, &FromWorker::Failed(format!("the worker could not read the page: {why}")))
                }
            }
        })
    };
    scope.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    // The handler lives as long as the worker does.
    on_message.forget();

    spawn_local(async move {
        let loaded = async { Ok::<_, String>((data::load(Split::Train).await?, data::load(Split::Test).await?)) }.await;
        match loaded {
            Ok((train_set, test_set)) => {
                let (train_images, test_images) = (train_set.len(), test_set.len());
                post(&scope, &FromWorker::Loaded { train_images, test_images, cpu_threads: cpu.threads });
                state.borrow_mut().data = Some(Rc::new((train_set, test_set)));
            }
            Err(message) => post(&scope, &FromWorker::LoadFailed(message)),
        }
    });
}
