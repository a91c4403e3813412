//! The training loop's side of the worker: it loads the data, then answers the page's messages.
//! CPU training never blocks the page (WebGPU is available in workers too).

use std::cell::RefCell;
use std::rc::Rc;

use cnn_data::Split;
use cnn_train::{RunControl, TrainError};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::Closure;
// Not leptos's spawn_local: its executor is set up by mounting a page, and a worker mounts none.
use wasm_bindgen_futures::spawn_local;
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

use crate::data;
use crate::protocol::{FromWorker, ToWorker, from_js, to_js};
pub use crate::requests::Cpu;
use crate::requests::{self, Data, TrainRequest};

struct State {
    data: Option<Data>,
    control: RunControl,
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

/// Answers `message` with the loaded `data`; what it reports goes to the page through `scope`.
/// Each request's error becomes the page's sentence here, and only here.
fn answer(message: ToWorker, data: Data, state: &Rc<RefCell<State>>, scope: DedicatedWorkerGlobalScope) {
    let cpu = state.borrow().cpu;
    let say = move |message: FromWorker| post(&scope, &message);
    match message {
        // Answered as they arrive, before the data is asked for (see `run`).
        ToWorker::Cancel | ToWorker::Pause(_) | ToWorker::LoseGpu => {}
        ToWorker::Train { spec, backend, train_images, test_images, run, resume } => {
            let control = RunControl::default();
            state.borrow_mut().control = control.clone();
            let request = TrainRequest { spec, backend, images: (train_images, test_images), run, resume };
            spawn_local(async move {
                let say: Rc<dyn Fn(FromWorker)> = Rc::new(say);
                let message = match requests::train(request, data, cpu, &control, say.clone(), memory).await {
                    Ok(()) => FromWorker::Finished,
                    Err(e @ TrainError::GpuLost(_)) => {
                        requests::stored().await;
                        FromWorker::GpuLost(e.to_string())
                    }
                    Err(e) => FromWorker::Failed(e.to_string()),
                };
                say(message);
            });
        }
        ToWorker::Choose { model, image_size, batch_size } => spawn_local(async move {
            say(match requests::choose_backend(&model, image_size, batch_size, &data).await {
                Ok((backend, why)) => FromWorker::Chosen { backend, why },
                Err(e) => FromWorker::Failed(e.to_string()),
            });
        }),
        ToWorker::Evaluate { run, test_images, backend } => spawn_local(async move {
            let result = requests::evaluate_run(run, test_images, backend, &data, cpu).await;
            say(FromWorker::Evaluated { run, result: result.map_err(|e| e.to_string()) });
        }),
        ToWorker::Export { run } => spawn_local(async move {
            say(match requests::export_run(run).await {
                Ok(bytes) => FromWorker::Exported { run, bytes },
                Err(why) => FromWorker::Refused(format!("The safetensors could not be made: {why}.")),
            });
        }),
        ToWorker::Inspect { run, test_images, backend } => spawn_local(async move {
            let test_set = data.1.head(test_images);
            let result = requests::inspect_run(run, &test_set, backend, cpu).await;
            let pixels = if result.is_ok() { test_set.images.pixels } else { vec![] };
            say(FromWorker::Inspected { run, result: result.map_err(|e| e.to_string()), pixels });
            say(memory());
        }),
        ToWorker::Explain { run, backend, picture, request, bytes } => spawn_local(async move {
            let result = requests::explain_picture(run, (picture, bytes), request, (backend, cpu), &data).await;
            say(FromWorker::Explained { run, result: result.map_err(|e| e.to_string()) });
            say(memory());
        }),
        ToWorker::Bench { model, trial, backend, kernels } => spawn_local(async move {
            let result = requests::bench(&model, trial, (backend, cpu), kernels.as_deref(), &data).await;
            say(result.unwrap_or_else(|e| FromWorker::Failed(e.to_string())));
        }),
        ToWorker::BenchMatmul { size, repeats, backend, kernels } => spawn_local(async move {
            let result = requests::bench_matmul((size, repeats), (backend, cpu), &kernels).await;
            say(result.unwrap_or_else(|e| FromWorker::Failed(e.to_string())));
        }),
    }
}

/// Destroys the GPU device this worker opened, if it opened one.
fn lose_gpu() {
    #[cfg(feature = "gpu")]
    cnn_train::backend::lose_gpu(cnn_train::BackendKind::Wgpu);
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
    let state = Rc::new(RefCell::new(State { data: None, control: RunControl::default(), cpu }));

    let on_message = {
        let (scope, state) = (scope.clone(), state.clone());
        Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            let data = state.borrow().data.clone();
            match (from_js::<ToWorker>(&event.data()), data) {
                (Ok(ToWorker::Cancel), _) => state.borrow().control.stop(),
                (Ok(ToWorker::Pause(paused)), _) => state.borrow().control.pause(paused),
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
