use std::cell::RefCell;
use std::rc::Rc;

use cnn_models::Preset;
use cnn_models::compare::thousands;
use cnn_train::{BackendKind, EpochStats, Event, TrainSpec};
use cnn_worker::protocol::{FromWorker, ToWorker, decode, encode};
use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::Closure;
use web_sys::{ErrorEvent, MessageEvent, Worker, WorkerOptions, WorkerType};

use crate::model_view::{ModelView, analyze};
use crate::runs::{RunState, put_epoch};
use crate::runs_view::{Runs, RunsView};
use crate::settings::{FIRST_MODEL, Form, RecipeFields, field};
use crate::{spec_text, storage};

/// Where the edited spec and the training form are kept across reloads.
const SPEC_KEY: &str = "cnn-playground.spec";
const FORM_KEY: &str = "cnn-playground.form";

/// Whether `navigator.gpu` exists. By reflection: web-sys's WebGPU bindings sit behind the
/// `web_sys_unstable_apis` cfg, which would change how every wasm crate is built.
fn has_webgpu() -> bool {
    let navigator = web_sys::window().map(|w| w.navigator());
    navigator.is_some_and(|n| js_sys::Reflect::get(&n, &"gpu".into()).is_ok_and(|gpu| !gpu.is_undefined()))
}

/// Whether the page may share memory with workers, which threads in wasm need. Read from the
/// global scope: web-sys has no binding for `crossOriginIsolated`.
fn cross_origin_isolated() -> bool {
    js_sys::Reflect::get(&js_sys::global(), &"crossOriginIsolated".into()).is_ok_and(|v| v.is_truthy())
}

/// Whether the threaded CPU worker can help here (it takes one thread per logical core), or why
/// the CPU trains on one thread.
fn threads_possible() -> Result<(), String> {
    let cores = web_sys::window().map_or(1.0, |w| w.navigator().hardware_concurrency()) as usize;
    if !cross_origin_isolated() {
        return Err("This page is not cross-origin isolated (its server does not send the COOP and COEP \
                    headers), so the CPU trains on one thread."
            .into());
    }
    if cores < 2 { Err("This device reports one CPU core, so the CPU trains on one thread.".into()) } else { Ok(()) }
}

/// A training worker, reached through JSON messages (`cnn_worker::protocol`); `on_error` gets a
/// sentence when its script fails (for the threaded one: no shared memory, no pool).
fn spawn_worker(
    script: &'static str,
    mut on_message: impl FnMut(FromWorker) + 'static,
    mut on_error: impl FnMut(String) + 'static,
) -> Result<Worker, String> {
    let options = WorkerOptions::new();
    options.set_type(WorkerType::Module);
    let worker =
        Worker::new_with_options(script, &options).map_err(|e| format!("cannot start the training worker: {e:?}"))?;
    let last_words = Rc::new(RefCell::new(None::<String>));
    let panicked = last_words.clone();
    let handler =
        Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| match decode::<FromWorker>(&event.data()) {
            Some(FromWorker::Panicked(what)) => *panicked.borrow_mut() = Some(what),
            Some(message) => on_message(message),
            None => {}
        });
    worker.set_onmessage(Some(handler.as_ref().unchecked_ref()));
    let failed = Closure::<dyn FnMut(web_sys::Event)>::new(move |event: web_sys::Event| {
        // A script that fails to load raises a plain Event, an exception in it an ErrorEvent.
        let message = event.dyn_ref::<ErrorEvent>().map(ErrorEvent::message);
        let message = last_words.borrow_mut().take().map(|what| format!("it {what}")).or(message);
        on_error(message.unwrap_or_else(|| format!("{script} did not load")));
    });
    worker.set_onerror(Some(failed.as_ref().unchecked_ref()));
    // The handlers live as long as the page does.
    handler.forget();
    failed.forget();
    Ok(worker)
}

/// The page's workers: `main` (WebGPU, the CPU on one thread, the Auto trial) and, where the page
/// is cross-origin isolated, `threads` (the CPU on every core), which trains every CPU run once
/// it has reported its data and its pool (the page's `cpu_threads` above 1).
#[derive(Default)]
struct Workers {
    main: Option<Worker>,
    threads: Option<Worker>,
}

impl Workers {
    fn send(&self, to_threads: bool, message: &ToWorker) {
        let worker = if to_threads { &self.threads } else { &self.main };
        // Posting a string to a live worker does not fail; a worker that failed to start was reported.
        if let Some(worker) = worker {
            let _ = worker.post_message(&encode(message).into());
        }
    }
}

#[component]
pub fn App() -> impl IntoView {
    let status = RwSignal::new("Loading Fashion-MNIST…".to_string());
    let error = RwSignal::new(None::<String>);
    let data_len = RwSignal::new(None::<(usize, usize)>);
    let running = RwSignal::new(false);
    let default_spec = || Preset::find(FIRST_MODEL).map(|p| spec_text::format(&p.spec()));
    let spec_text = RwSignal::new(storage::load(SPEC_KEY).or_else(default_spec).unwrap_or_default());
    let stored_form = storage::load(FORM_KEY).and_then(|json| serde_json::from_str::<Form>(&json).ok());
    let form = RwSignal::new(stored_form.unwrap_or_default());
    let spec = Memo::new(move |_| spec_text.with(|t| spec_text::parse(t)));
    let analysis = Memo::new(move |_| form.with(|f| spec.with(|s| analyze(s, &f.size))));
    Effect::new(move |_| spec_text.with(|t| storage::save(SPEC_KEY, t)));
    Effect::new(move |_| form.with(|f| storage::save(FORM_KEY, &serde_json::to_string(f).unwrap_or_default())));
    let on_preset = Callback::new(move |size: usize| form.update(|f| f.size = size.to_string()));
    let batch = Signal::derive(move || form.with(|f| f.batch_size.clone()));
    let webgpu = has_webgpu();
    let backend_choice = RwSignal::new("auto".to_string());
    let backend_label =
        RwSignal::new(if webgpu { "Auto: chosen when you train" } else { "CPU (WebGPU is missing here)" }.to_string());
    let backend_why = RwSignal::new(None::<String>);
    let loss = RwSignal::new(None::<f32>);
    let accuracy = RwSignal::new(None::<f32>);
    let speed = RwSignal::new(None::<f64>);
    let learning_rate = RwSignal::new(None::<f64>);
    let run_params = RwSignal::new(None::<usize>);
    let curve = RwSignal::new(Vec::<f32>::new());
    let epochs = RwSignal::new(Vec::<EpochStats>::new());
    let runs = Runs::load();

    let cpu_threads = RwSignal::new(1usize);
    let threads_note = RwSignal::new(None::<String>);
    let workers = StoredValue::new_local(Workers::default());
    // An Auto run waits here while the main worker's trial chooses its backend.
    let pending = StoredValue::new(None::<(TrainSpec, usize, usize)>);
    // Whether the run being started goes on from its stored checkpoint.
    let resuming = StoredValue::new(false);
    let threads_running = StoredValue::new(false);
    let dispatch = move |(spec, train_images, test_images): (TrainSpec, usize, usize), backend: BackendKind| {
        let on_threads = backend == BackendKind::Cpu && cpu_threads.get_untracked() > 1;
        threads_running.set_value(on_threads);
        let (run, resume) = (runs.current(), resuming.get_value());
        let message = ToWorker::Train { spec, backend, train_images, test_images, run, resume };
        workers.with_value(|w| w.send(on_threads, &message));
    };

    let on_message = move |message: FromWorker| match message {
        FromWorker::Loaded { train_images, test_images, .. } => {
            status.set(format!("Ready: {train_images} training and {test_images} test images."));
            data_len.set(Some((train_images, test_images)));
        }
        FromWorker::LoadFailed(message) => {
            status.set("The data could not be loaded.".into());
            error.set(Some(message));
        }
        FromWorker::Chosen { backend, why } => {
            backend_why.set(Some(why));
            if let Some(run) = pending.try_update_value(Option::take).flatten() {
                dispatch(run, backend);
            }
        }
        FromWorker::Backend { label, why } => {
            backend_label.set(label);
            if why.is_some() {
                backend_why.set(why);
            }
        }
        FromWorker::Event(event) => match event {
            Event::Started { params, steps_per_epoch, .. } => {
                run_params.set(Some(params));
                status.set(format!("Training: {steps_per_epoch} steps per epoch…"))
            }
            Event::Step { epoch, step, steps, loss: l, accuracy: a, examples_per_sec, learning_rate: lr } => {
                status.set(format!("Epoch {epoch}: step {step} of {steps}"));
                learning_rate.set(Some(lr));
                loss.set(Some(l));
                accuracy.set(Some(a));
                speed.set(Some(examples_per_sec));
                curve.update(|c| c.push(l));
                runs.update(false, |r| r.losses.push(l));
            }
            Event::Evaluating { epoch } => status.set(format!("Epoch {epoch}: measuring on the test images…")),
            Event::Epoch(stats) => {
                runs.update(true, |r| r.record_epoch(stats.clone()));
                epochs.update(|e| {
                    put_epoch(e, stats);
                });
            }
            Event::Cancelled => {
                status.set("Cancelled.".into());
                runs.end(RunState::Stopped);
            }
        },
        FromWorker::Finished => {
            if !status.get_untracked().starts_with("Cancelled") {
                status.set("Done.".into());
            }
            runs.end(RunState::Finished);
            running.set(false);
        }
        FromWorker::Failed(message) => {
            pending.set_value(None);
            status.set("Training stopped.".into());
            runs.end(RunState::Failed(message.clone()));
            error.set(Some(message));
            running.set(false);
        }
        FromWorker::Resumed { epochs: done } => {
            let (losses, stats) = runs.rewind(done);
            curve.set(losses);
            epochs.set(stats);
            status.set(format!("Resuming after epoch {done}…"));
        }
        FromWorker::NotStored(why) => runs.note.set(Some(why)),
        // Only the benchmark asks a worker for speeds; `spawn_worker` keeps a panic's words.
        FromWorker::Speed { .. } | FromWorker::Panicked(_) => {}
    };
    let run_failed = move |message: String| {
        status.set("Training stopped.".into());
        let message = format!("the training worker failed: {message}");
        runs.end(RunState::Failed(message.clone()));
        error.set(Some(message));
        running.set(false);
    };
    // A worker whose wasm trapped (a lost GPU can end that way) cannot be trusted again: the page
    // starts a fresh one, which loads the data anew, and keeps everything the learner set.
    let main_generation = RwSignal::new(0u32);
    let main_failed = move |message: String| {
        pending.set_value(None);
        if !running.get_untracked() {
            status.set("The training worker failed and restarts…".into());
            error.set(Some(format!("the training worker failed: {message}")));
        } else if !threads_running.get_value() {
            run_failed(message);
        }
        data_len.set(None);
        main_generation.update(|g| *g += 1);
    };
    Effect::new(move |_| {
        main_generation.track();
        let old = workers.try_update_value(|w| w.main.take()).flatten();
        if let Some(old) = old {
            old.terminate();
        }
        match spawn_worker("./trainer_loader.js", on_message, main_failed) {
            Ok(worker) => workers.update_value(|w| w.main = Some(worker)),
            Err(message) => error.set(Some(message)),
        }
    });

    // The threaded worker: until it has the data, and wherever it cannot start, the main worker
    // trains on the CPU with one thread, and the page says why.
    let threads_failed = move |why: String| {
        workers.update_value(|w| w.threads = None);
        cpu_threads.set(1);
        threads_note
            .set(Some(format!("The CPU's thread pool could not start ({why}), so the CPU trains on one thread.")));
        if threads_running.get_value() && running.get_untracked() {
            run_failed(why);
        }
    };
    let on_threads_message = move |message: FromWorker| match message {
        FromWorker::Loaded { cpu_threads: threads, .. } => cpu_threads.set(threads),
        FromWorker::LoadFailed(message) => threads_failed(message),
        other => on_message(other),
    };
    // Started once the main worker has its data: on two cores, both workers compiling and
    // unpacking at once slowed the page's first view several times over.
    let threads_started = StoredValue::new(false);
    Effect::new(move |_| {
        if data_len.get().is_none() || threads_started.get_value() {
            return;
        }
        threads_started.set_value(true);
        match threads_possible() {
            Ok(_) => match spawn_worker("./trainer_threads_loader.js", on_threads_message, threads_failed) {
                Ok(worker) => workers.update_value(|w| w.threads = Some(worker)),
                Err(message) => threads_failed(message),
            },
            Err(why) => threads_note.set(Some(why)),
        }
    });

    // A new run, or a stopped one going on (`resume`): the view is cleared and the run sent to
    // the backend chosen in the menu.
    let launch = move |run: (TrainSpec, usize, usize), resume: bool| {
        error.set(None);
        backend_why.set(None);
        threads_running.set_value(false);
        resuming.set_value(resume);
        running.set(true);
        loss.set(None);
        accuracy.set(None);
        speed.set(None);
        learning_rate.set(None);
        curve.set(Vec::new());
        epochs.set(Vec::new());
        run_params.set(None);
        let backend = match backend_choice.get_untracked().as_str() {
            "webgpu" => BackendKind::Wgpu,
            "cpu" => BackendKind::Cpu,
            _ => BackendKind::Auto,
        };
        if backend == BackendKind::Auto {
            status.set("Choosing the backend: a short trial…".into());
            let (model, image_size, batch_size) = (run.0.model.clone(), run.0.image_size, run.0.batch_size);
            pending.set_value(Some(run));
            workers.with_value(|w| w.send(false, &ToWorker::Choose { model, image_size, batch_size }));
        } else {
            status.set("Opening the device…".into());
            dispatch(run, backend);
        }
    };
    let start = move || {
        let Some(len) = data_len.get_untracked() else { return };
        let run = match form.get_untracked().parse(spec.get_untracked(), analysis.get_untracked(), len) {
            Ok(parsed) => parsed,
            Err(message) => return error.set(Some(message)),
        };
        runs.start(run.0.clone(), (run.1, run.2));
        launch(run, false);
    };
    // A stopped run resumes once the data is loaded and the CPU's thread pool is ready or known
    // to be missing: only the threaded worker resumes on the CPU (see cnn-train's
    // `check_resumes_on`).
    let ready = Signal::derive(move || {
        data_len.get().is_some() && (cpu_threads.get() > 1 || threads_note.with(Option::is_some))
    });
    let resume = Callback::new(move |id: u64| {
        if running.get_untracked() || !ready.get_untracked() {
            return;
        }
        if let Some(run) = runs.resume(id) {
            launch((run.settings, run.images.0, run.images.1), true);
        }
    });
    let cancel = move || {
        pending.set_value(None);
        workers.with_value(|w| {
            w.send(false, &ToWorker::Cancel);
            w.send(true, &ToWorker::Cancel);
        });
        if running.get_untracked() && status.get_untracked().starts_with("Choosing") {
            status.set("Cancelled.".into());
            runs.end(RunState::Stopped);
            running.set(false);
        }
    };

    view! {
        <h1>"CNN playground"</h1>
        <p class="lede">"The networks of d2l's “Modern CNNs” chapter: read their layers, change them, and train them on the real Fashion-MNIST, in your browser, on your GPU through WebGPU."</p>
        <ModelView spec_text analysis batch on_preset />
        <h2>"Training"</h2>
        <form class="controls" on:submit=move |ev| { ev.prevent_default(); start(); }>
            {field(form, "size", "Image size (pixels)", |f| f.size.clone(), |f, v| f.size = v)}
            {field(form, "train-images", "Training images", |f| f.train_images.clone(), |f, v| f.train_images = v)}
            {field(form, "test-images", "Test images", |f| f.test_images.clone(), |f, v| f.test_images = v)}
            <RecipeFields form spec />
            <label>"Backend"
                <select id="backend-choice" on:change=move |ev| backend_choice.set(event_target_value(&ev))>
                    <option value="auto" selected=true>"Auto"</option>
                    <option value="webgpu" disabled={!webgpu}>"WebGPU"</option>
                    <option value="cpu">"CPU"</option>
                </select>
            </label>
            <button id="train" type="submit" disabled=move || data_len.get().is_none() || running.get()>"Train"</button>
            <button id="cancel" type="button" disabled=move || !running.get() on:click=move |_| cancel()>"Cancel"</button>
        </form>
        <p id="status">{move || status.get()}</p>
        {move || backend_why.get().map(|w| view! { <p id="backend-why" class="note">{w}</p> })}
        {move || threads_note.get().map(|w| view! { <p id="threads-note" class="note">{w}</p> })}
        {move || error.get().map(|e| view! { <p id="error" class="error">{e}</p> })}
        <div class="stats">
            <div><span class="k">"Backend"</span><span class="v" id="backend">{move || backend_label.get()}</span></div>
            <div><span class="k">"CPU threads"</span><span class="v" id="cpu-threads">{move || cpu_threads.get()}</span></div>
            <div><span class="k">"Parameters"</span><span class="v" id="run-params">{move || run_params.get().map_or("–".into(), |p| thousands(p as u64))}</span></div>
            <div><span class="k">"Loss"</span><span class="v" id="loss">{move || loss.get().map_or("–".into(), |l| format!("{l:.4}"))}</span></div>
            <div><span class="k">"Accuracy"</span><span class="v" id="accuracy">{move || accuracy.get().map_or("–".into(), |a| format!("{:.1}%", a * 100.0))}</span></div>
            <div><span class="k">"Learning rate"</span><span class="v" id="learning-rate-now">{move || learning_rate.get().map_or("–".into(), |r| format!("{r:.5}"))}</span></div>
            <div><span class="k">"Speed"</span><span class="v" id="speed">{move || speed.get().map_or("–".into(), |s| format!("{s:.1} examples/s"))}</span></div>
        </div>
        <LossCurve points=curve />
        <EpochTable rows=epochs />
        <RunsView runs busy=running.into() ready resume show=Callback::new(move |(losses, stats)| {
            curve.set(losses);
            epochs.set(stats);
        }) />
    }
}

/// The running training loss per step, as a polyline scaled to the largest loss so far.
#[component]
fn LossCurve(points: RwSignal<Vec<f32>>) -> impl IntoView {
    let path = move || {
        points.with(|p| {
            let max = p.iter().copied().fold(f32::MIN_POSITIVE, f32::max);
            let step = 600.0 / (p.len().max(2) - 1) as f32;
            p.iter()
                .enumerate()
                .map(|(i, l)| format!("{:.1},{:.1}", i as f32 * step, 195.0 - 190.0 * l / max))
                .collect::<Vec<_>>()
                .join(" ")
        })
    };
    view! {
        <svg class="curve" viewBox="0 0 600 200" preserveAspectRatio="none" aria-label="training loss per step">
            <polyline points=path fill="none" stroke="#2456c9" stroke-width="2" vector-effect="non-scaling-stroke" />
        </svg>
    }
}

#[component]
fn EpochTable(rows: RwSignal<Vec<EpochStats>>) -> impl IntoView {
    view! {
        <table id="epoch-table">
            <thead><tr><th>"epoch"</th><th>"train loss"</th><th>"train acc"</th><th>"test loss"</th><th>"test acc"</th><th>"examples/s"</th><th>"seconds"</th></tr></thead>
            <tbody>
                {move || rows.get().into_iter().map(|s| view! {
                    <tr>
                        <td>{s.epoch}</td>
                        <td>{format!("{:.4}", s.train_loss)}</td>
                        <td>{format!("{:.1}%", s.train_accuracy * 100.0)}</td>
                        <td>{format!("{:.4}", s.test_loss)}</td>
                        <td>{format!("{:.1}%", s.test_accuracy * 100.0)}</td>
                        <td>{format!("{:.1}", s.examples_per_sec)}</td>
                        <td>{format!("{:.1}", s.seconds)}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}
