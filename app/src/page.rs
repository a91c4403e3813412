//! The page: the model view, the training form and its run, the charts, the runs list and the
//! inspection of a trained run, and the messages from the training workers that move them.

use cnn_models::Preset;
use cnn_setup::form::FIRST_MODEL;
use cnn_setup::{Form, RunRequest, link, spec_text};
use cnn_train::{BackendKind, Checkpoint, Event};
use cnn_worker::protocol::{FromWorker, ToWorker};
use leptos::prelude::*;
use wasm_bindgen::JsValue;

use crate::files;
use crate::inspect_view::{InspectView, Inspector};
use crate::model_view::{ModelView, analyze};
use crate::runs::{Run, RunState, StepPoint};
use crate::runs_view::{Runs, RunsView};
use crate::storage;
use crate::train_view::{Live, TrainView};
use crate::workers::{Workers, has_webgpu, spawn_worker, threads_possible};

/// Where the edited spec and the training form are kept across reloads.
const SPEC_KEY: &str = "cnn-playground.spec";
const FORM_KEY: &str = "cnn-playground.form";
/// Said of an uploaded checkpoint without a checksum.
const UNVERIFIED: &str =
    " It has no checksum (it was written before checkpoints had one), so it could not be checked for damage.";

#[component]
pub fn App() -> impl IntoView {
    let default_spec = || Preset::find(FIRST_MODEL).map(|p| spec_text::format(&p.spec())).unwrap_or_default();
    // A link's setup comes first, then what this browser kept, then the defaults.
    let location = web_sys::window().map(|w| w.location());
    let (linked, link_note) = match location.and_then(|l| l.hash().ok()).and_then(|h| link::read(&h)) {
        Some(Ok(setup)) => (Some(setup), None),
        Some(Err(why)) => (Some(cnn_setup::Setup { spec: default_spec(), form: Form::default() }), Some(why)),
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
        let setup = cnn_setup::Setup { spec: spec_text.get(), form: form.get() };
        let history = web_sys::window().and_then(|w| w.history().ok());
        // Refused only for another origin's address, which this never is.
        let _ = history.map(|h| h.replace_state_with_url(&JsValue::NULL, "", Some(&link::fragment(&setup))));
    });
    let on_preset = Callback::new(move |size: usize| form.update(|f| f.size = size.to_string()));
    let batch = Signal::derive(move || form.with(|f| f.batch_size.clone()));
    let webgpu = has_webgpu();
    let live = Live::new(webgpu);
    let Live {
        status, error, data_len, running, paused, backend_label, backend_why, cpu_threads, threads_note, ..
    } = live;
    // A checkpoint uploaded and being evaluated, to be listed as this run; its file's name; and
    // whether its checksum was verified (a checkpoint written before checksums has none).
    let uploading = StoredValue::new(None::<(Run, String, bool)>);
    let runs = Runs::load();

    let workers = StoredValue::new_local(Workers::default());
    // An Auto run waits here while the main worker's trial chooses its backend.
    let pending = StoredValue::new(None::<RunRequest>);
    // Whether the run being started goes on from its stored checkpoint.
    let resuming = StoredValue::new(false);
    let threads_running = StoredValue::new(false);
    // The CPU's work goes to the threaded worker once its pool is ready; the rest to the main one.
    let on_threads = move |backend: BackendKind| backend == BackendKind::Cpu && cpu_threads.get_untracked() > 1;
    let dispatch = move |RunRequest { spec, train_images, test_images }: RunRequest, backend: BackendKind| {
        let on_threads = on_threads(backend);
        threads_running.set_value(on_threads);
        let (run, resume) = (runs.current(), resuming.get_value());
        let message = ToWorker::Train { spec, backend, train_images, test_images, run, resume };
        workers.with_value(|w| w.send(on_threads, &message));
    };

    // Inspecting a run goes where its upload would be evaluated: WebGPU where the form asks
    // for it, else the CPU (on its threads where they are ready).
    let measuring = move || match form.with_untracked(Form::backend_kind) {
        BackendKind::Wgpu => BackendKind::Wgpu,
        _ => BackendKind::Cpu,
    };
    let inspector = Inspector::new(
        Callback::new(move |(message, backend): (ToWorker, BackendKind)| {
            workers.with_value(|w| w.send(on_threads(backend), &message))
        }),
        Signal::derive(measuring),
    );

    // Bumped to end the main worker and start a fresh one (see `main_failed`).
    let main_generation = RwSignal::new(0u32);
    // The GPU was lost mid-run: the run stops at its last stored checkpoint (the worker reports
    // once it is stored), Resume takes it on the CPU, and a fresh worker replaces this one, whose
    // GPU (and burn's default device, where an optimiser's state loads) cannot be trusted again.
    let gpu_lost = move |sentence: String| {
        pending.set_value(None);
        status.set("The GPU was lost: the run stopped.".into());
        runs.end(RunState::Stopped);
        error.set(Some(sentence));
        form.update(|f| f.backend = "cpu".into());
        live.stopped();
        data_len.set(None);
        main_generation.update(|g| *g += 1);
    };
    // What WebGL's `WEBGL_lose_context` is for WebGL: the tests lose the worker's GPU with it.
    // Listens as long as the page lives: dropping the handle leaves the listener.
    let _listening = window_event_listener_untyped("cnn-lose-gpu", move |_| {
        workers.with_value(|w| w.send(false, &ToWorker::LoseGpu));
    });

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
                live.started(params, train_images, steps_per_epoch)
            }
            Event::Step {
                epoch,
                step,
                steps,
                loss,
                accuracy,
                batch_loss,
                batch_accuracy,
                examples_per_sec,
                learning_rate,
            } => {
                live.step(epoch, step, steps, loss, accuracy, examples_per_sec, learning_rate);
                let point = StepPoint {
                    loss: batch_loss,
                    accuracy: Some(batch_accuracy),
                    learning_rate: Some(learning_rate),
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
            live.stopped();
        }
        FromWorker::Failed(message) => {
            pending.set_value(None);
            status.set("Training stopped.".into());
            runs.end(RunState::Failed(message.clone()));
            error.set(Some(message));
            live.stopped();
        }
        FromWorker::GpuLost(sentence) => gpu_lost(sentence),
        FromWorker::Resumed { epochs: done } => {
            runs.rewind(done);
            status.set(format!("Resuming after epoch {done}…"));
        }
        FromWorker::NotStored(why) => runs.note.set(Some(why)),
        FromWorker::Evaluated { run, result } => {
            let Some((uploaded, file, verified)) = uploading.try_update_value(Option::take).flatten() else { return };
            if uploaded.id != run {
                return;
            }
            match result {
                Ok((loss, accuracy, images)) => {
                    let unverified = if verified { "" } else { UNVERIFIED };
                    runs.uploaded.set(Some(format!(
                        "“{file}” is listed as “{}”: test accuracy {:.1}%, loss {loss:.4}, on {images} test images.{unverified}",
                        uploaded.name,
                        accuracy * 100.0
                    )));
                    runs.add(uploaded);
                }
                Err(why) => {
                    runs.uploaded.set(Some(format!("“{file}” cannot be used: {why}. Nothing was changed.")));
                    // Its checkpoint was stored to be evaluated; no run names it.
                    leptos::task::spawn_local(async move { drop(cnn_worker::store::delete(run).await) });
                }
            }
        }
        FromWorker::Exported { run, bytes } => {
            let name = runs.list.with_untracked(|l| l.iter().find(|r| r.id == run).map(|r| r.name.clone()));
            let name = files::file_name(&name.unwrap_or_default(), "safetensors");
            if let Err(why) = files::download(&bytes, &name) {
                runs.note.set(Some(format!("The safetensors cannot be downloaded: {why}.")));
            }
        }
        FromWorker::Inspected { run, result, pixels } => {
            let listed = runs.list.with_untracked(|l| l.iter().find(|r| r.id == run).cloned());
            inspector.inspected(run, result, pixels, listed);
        }
        FromWorker::Looked { run, result } => inspector.looked(run, result),
        FromWorker::Refused(why) => runs.note.set(Some(why)),
        FromWorker::Memory { wasm_bytes } => live.trainer_memory.set(Some(wasm_bytes)),
        // Only the benchmark asks a worker for speeds; `spawn_worker` keeps a panic's words.
        FromWorker::Speed { .. } | FromWorker::Matmul { .. } | FromWorker::Panicked(_) => {}
    };
    let run_failed = move |message: String| {
        status.set("Training stopped.".into());
        let message = format!("the training worker failed: {message}");
        runs.end(RunState::Failed(message.clone()));
        error.set(Some(message));
        live.stopped();
    };
    // A worker whose wasm trapped cannot be trusted again: the page starts a fresh one, which
    // loads the data anew, and keeps everything the learner set.
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
    let launch = move |run: RunRequest, resume: bool| {
        live.clear(run.spec.epochs);
        threads_running.set_value(false);
        resuming.set_value(resume);
        let backend = form.with_untracked(Form::backend_kind);
        if backend == BackendKind::Auto {
            status.set("Choosing the backend: a short trial…".into());
            let (model, image_size, batch_size) = (run.spec.model.clone(), run.spec.image_size, run.spec.batch_size);
            pending.set_value(Some(run));
            workers.with_value(|w| w.send(false, &ToWorker::Choose { model, image_size, batch_size }));
        } else {
            status.set("Opening the device…".into());
            dispatch(run, backend);
        }
    };
    let start = Callback::new(move |()| {
        let Some(len) = data_len.get_untracked() else { return };
        let run = match form.get_untracked().parse(spec.get_untracked(), analysis.get_untracked(), len) {
            Ok(parsed) => parsed,
            Err(message) => return error.set(Some(message)),
        };
        runs.start(run.spec.clone(), run.images());
        launch(run, false);
    });
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
            let (train_images, test_images) = run.images;
            launch(RunRequest { spec: run.settings, train_images, test_images }, true);
        }
    });
    // A checkpoint file: read and checked here (a malformed one goes no further), stored, then
    // evaluated by the worker, which loads its weights into its model; only then is it listed.
    let upload = Callback::new(move |file: web_sys::File| {
        let Some(len) = data_len.get_untracked() else { return };
        let name = file.name();
        runs.uploaded.set(Some(format!("Reading “{name}”…")));
        leptos::task::spawn_local(async move {
            let refuse =
                |why: String| runs.uploaded.set(Some(format!("“{name}” cannot be used: {why}. Nothing was changed.")));
            let bytes = match files::read(&file).await {
                Ok(bytes) => bytes,
                Err(why) => return refuse(why),
            };
            let checkpoint = match Checkpoint::from_bytes(&bytes) {
                Ok(checkpoint) => checkpoint,
                Err(why) => return refuse(why.to_string()),
            };
            let id = js_sys::Date::now() as u64;
            let stem = name.rsplit_once('.').map_or(name.as_str(), |(stem, _)| stem);
            let run = Run::uploaded(id, format!("{stem} (uploaded)"), &checkpoint, len);
            let stored = js_sys::Uint8Array::from(bytes.as_slice());
            if let Err(why) = cnn_worker::store::put(cnn_worker::store::CHECKPOINTS, id, &stored).await {
                return refuse(format!("it cannot be stored ({why})"));
            }
            let test_images = run.images.1.min(len.1);
            runs.uploaded.set(Some(format!("Evaluating “{name}” on {test_images} test images…")));
            uploading.set_value(Some((run, name.clone(), checkpoint.verified)));
            // On the CPU's threads where they are ready, else in the main worker.
            let backend = measuring();
            workers.with_value(|w| w.send(on_threads(backend), &ToWorker::Evaluate { run: id, test_images, backend }));
        });
    });
    let inspect = Callback::new(move |id: u64| {
        let Some((_, test_images)) = data_len.get_untracked() else { return };
        if let Some(run) = runs.list.with_untracked(|l| l.iter().find(|r| r.id == id).cloned()) {
            inspector.open(&run, test_images);
        }
    });
    let export = Callback::new(move |run: u64| workers.with_value(|w| w.send(false, &ToWorker::Export { run })));
    // The page answers at once; the worker holds after the step it is in.
    let pause = Callback::new(move |()| {
        let hold = !paused.get_untracked();
        paused.set(hold);
        workers.with_value(|w| w.send_both(&ToWorker::Pause(hold)));
        status.set(if hold { "Paused: the run waits after its current step." } else { "Going on…" }.into());
    });
    let stop = Callback::new(move |()| {
        pending.set_value(None);
        paused.set(false);
        workers.with_value(|w| w.send_both(&ToWorker::Cancel));
        if running.get_untracked() && status.get_untracked().starts_with("Choosing") {
            status.set("Cancelled.".into());
            runs.end(RunState::Stopped);
            running.set(false);
        }
    });

    view! {
        <h1>"CNN playground"</h1>
        <p class="lede">"The networks of d2l's “Modern CNNs” chapter: read their layers, change them, and train them on the real Fashion-MNIST, in your browser, on your GPU through WebGPU."</p>
        <ModelView spec_text analysis batch on_preset />
        <TrainView live form spec runs webgpu link_note train=start pause stop />
        <RunsView runs busy=running.into() ready resume export upload inspect />
        <InspectView inspector />
    }
}
