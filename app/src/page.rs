//! The page: the model view, the training form and its run, the charts and the runs list, and
//! the messages from the training workers that move them.

use cnn_models::Preset;
use cnn_models::compare::thousands;
use cnn_train::{BackendKind, Event, TrainSpec};
use cnn_worker::protocol::{FromWorker, ToWorker};
use leptos::prelude::*;
use wasm_bindgen::JsValue;

use crate::charts::Charts;
use crate::model_view::{ModelView, analyze};
use crate::progress::{Progress, RunProgress};
use crate::runs::{RunState, StepPoint};
use crate::runs_view::{EpochTable, Runs, RunsView};
use crate::settings::{FIRST_MODEL, Form, RecipeFields, field};
use crate::workers::{Workers, has_webgpu, spawn_worker, threads_possible};
use crate::{share, spec_text, storage};

/// Where the edited spec and the training form are kept across reloads.
const SPEC_KEY: &str = "cnn-playground.spec";
const FORM_KEY: &str = "cnn-playground.form";

/// A learning rate as it reads best: 0.05, 0.00125, or 3.1e-6 near a cosine's end.
fn rate(r: f64) -> String {
    match r {
        0.0 => "0".into(),
        r if r.abs() < 1e-4 => format!("{r:.1e}"),
        r => format!("{r:.5}").trim_end_matches('0').trim_end_matches('.').to_string(),
    }
}

#[component]
pub fn App() -> impl IntoView {
    let status = RwSignal::new("Loading Fashion-MNIST…".to_string());
    let error = RwSignal::new(None::<String>);
    let data_len = RwSignal::new(None::<(usize, usize)>);
    let running = RwSignal::new(false);
    let default_spec = || Preset::find(FIRST_MODEL).map(|p| spec_text::format(&p.spec())).unwrap_or_default();
    // A link's setup comes first, then what this browser kept, then the defaults.
    let location = web_sys::window().map(|w| w.location());
    let (linked, link_note) = match location.and_then(|l| l.hash().ok()).and_then(|h| share::read(&h)) {
        Some(Ok(setup)) => (Some(setup), None),
        Some(Err(why)) => (Some(share::Setup { spec: default_spec(), form: Form::default() }), Some(why)),
        None => (None, None),
    };
    let stored_form = || storage::load(FORM_KEY).and_then(|json| serde_json::from_str::<Form>(&json).ok());
    let (spec_text, form) = match linked {
        Some(setup) => (setup.spec, setup.form),
        None => (storage::load(SPEC_KEY).unwrap_or_else(default_spec), stored_form().unwrap_or_default()),
    };
    let (spec_text, form) = (RwSignal::new(spec_text), RwSignal::new(form));
    let spec = Memo::new(move |_| spec_text.with(|t| spec_text::parse(t)));
    let analysis = Memo::new(move |_| form.with(|f| spec.with(|s| analyze(s, &f.size))));
    Effect::new(move |_| spec_text.with(|t| storage::save(SPEC_KEY, t)));
    Effect::new(move |_| form.with(|f| storage::save(FORM_KEY, &serde_json::to_string(f).unwrap_or_default())));
    // The address always carries the setup, so that copying it shares the exercise.
    Effect::new(move |_| {
        let setup = share::Setup { spec: spec_text.get(), form: form.get() };
        let history = web_sys::window().and_then(|w| w.history().ok());
        // Refused only for another origin's address, which this never is.
        let _ = history.map(|h| h.replace_state_with_url(&JsValue::NULL, "", Some(&share::fragment(&setup))));
    });
    let on_preset = Callback::new(move |size: usize| form.update(|f| f.size = size.to_string()));
    let batch = Signal::derive(move || form.with(|f| f.batch_size.clone()));
    let webgpu = has_webgpu();
    let backend_label =
        RwSignal::new(if webgpu { "Auto: chosen when you train" } else { "CPU (WebGPU is missing here)" }.to_string());
    let backend_why = RwSignal::new(None::<String>);
    let loss = RwSignal::new(None::<f32>);
    let accuracy = RwSignal::new(None::<f32>);
    let speed = RwSignal::new(None::<f64>);
    let learning_rate = RwSignal::new(None::<f64>);
    let run_params = RwSignal::new(None::<usize>);
    let progress = RwSignal::new(None::<Progress>);
    // The run's epochs (known at its start) and training images (reported by the worker).
    let planned = StoredValue::new((0usize, 0usize));
    // Held by the learner: the worker waits after its current step.
    let paused = RwSignal::new(false);
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
            Event::Started { params, steps_per_epoch, train_images, .. } => {
                planned.update_value(|p| p.1 = train_images);
                run_params.set(Some(params));
                status.set(format!("Training: {steps_per_epoch} steps per epoch…"))
            }
            Event::Step {
                epoch,
                step,
                steps,
                loss: l,
                accuracy: a,
                batch_loss,
                batch_accuracy,
                examples_per_sec,
                learning_rate: lr,
            } => {
                if !paused.get_untracked() {
                    status.set(format!("Epoch {epoch}: step {step} of {steps}"));
                }
                let (epochs, images) = planned.get_value();
                progress.set(Some(Progress { epoch, epochs, step, steps, images, examples_per_sec }));
                learning_rate.set(Some(lr));
                loss.set(Some(l));
                accuracy.set(Some(a));
                speed.set(Some(examples_per_sec));
                let point = StepPoint {
                    loss: batch_loss,
                    accuracy: Some(batch_accuracy),
                    learning_rate: Some(lr),
                    examples_per_sec: Some(examples_per_sec),
                };
                runs.update(false, |r| r.steps.push(point));
            }
            Event::Evaluating { epoch } => status.set(format!("Epoch {epoch}: measuring on the test images…")),
            Event::Epoch(stats) => runs.update(true, |r| r.record_epoch(stats)),
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
            paused.set(false);
        }
        FromWorker::Failed(message) => {
            pending.set_value(None);
            status.set("Training stopped.".into());
            runs.end(RunState::Failed(message.clone()));
            error.set(Some(message));
            running.set(false);
            paused.set(false);
        }
        FromWorker::Resumed { epochs: done } => {
            runs.rewind(done);
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
        paused.set(false);
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
        run_params.set(None);
        paused.set(false);
        progress.set(None);
        planned.set_value((run.0.epochs, 0));
        let backend = match form.with_untracked(|f| f.backend.clone()).as_str() {
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
    // The page answers at once; the worker holds after the step it is in.
    let pause = move || {
        let hold = !paused.get_untracked();
        paused.set(hold);
        workers.with_value(|w| {
            w.send(false, &ToWorker::Pause(hold));
            w.send(true, &ToWorker::Pause(hold));
        });
        status.set(if hold { "Paused: the run waits after its current step." } else { "Going on…" }.into());
    };
    let cancel = move || {
        pending.set_value(None);
        paused.set(false);
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
                <select id="backend-choice" prop:value=move || form.with(|f| f.backend.clone())
                    on:change=move |ev| form.update(|f| f.backend = event_target_value(&ev))>
                    <option value="auto" selected=move || form.with(|f| f.backend == "auto")>"Auto"</option>
                    <option value="webgpu" disabled={!webgpu} selected=move || form.with(|f| f.backend == "webgpu")>"WebGPU"</option>
                    <option value="cpu" selected=move || form.with(|f| f.backend == "cpu")>"CPU"</option>
                </select>
            </label>
            <button id="train" type="submit" disabled=move || data_len.get().is_none() || running.get()>"Train"</button>
            <button id="pause" type="button" disabled=move || !running.get() aria-pressed=move || paused.get().to_string()
                on:click=move |_| pause()>{move || if paused.get() { "Continue" } else { "Pause" }}</button>
            <button id="cancel" type="button" disabled=move || !running.get() on:click=move |_| cancel()>"Stop"</button>
        </form>
        <p id="status">{move || status.get()}</p>
        {move || backend_why.get().map(|w| view! { <p id="backend-why" class="note">{w}</p> })}
        {move || threads_note.get().map(|w| view! { <p id="threads-note" class="note">{w}</p> })}
        {move || error.get().map(|e| view! { <p id="error" class="error">{e}</p> })}
        {link_note.map(|n| view! { <p id="link-note" class="error">{n}</p> })}
        <div class="stats">
            <div><span class="k">"Backend"</span><span class="v" id="backend">{move || backend_label.get()}</span></div>
            <div><span class="k">"CPU threads"</span><span class="v" id="cpu-threads">{move || cpu_threads.get()}</span></div>
            <div><span class="k">"Parameters"</span><span class="v" id="run-params">{move || run_params.get().map_or("–".into(), |p| thousands(p as u64))}</span></div>
            <div><span class="k">"Loss"</span><span class="v" id="loss">{move || loss.get().map_or("–".into(), |l| format!("{l:.4}"))}</span></div>
            <div><span class="k">"Accuracy"</span><span class="v" id="accuracy">{move || accuracy.get().map_or("–".into(), |a| format!("{:.1}%", a * 100.0))}</span></div>
            <div><span class="k">"Learning rate"</span><span class="v" id="learning-rate-now">{move || learning_rate.get().map_or("–".into(), rate)}</span></div>
            <div><span class="k">"Speed"</span><span class="v" id="speed">{move || speed.get().map_or("–".into(), |s| format!("{s:.1} examples/s"))}</span></div>
        </div>
        <RunProgress progress=progress.into() paused=paused.into() />
        <Charts runs />
        <EpochTable runs />
        <RunsView runs busy=running.into() ready resume />
    }
}
