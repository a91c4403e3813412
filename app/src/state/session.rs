//! The page's session with its training workers: starting them (and a fresh one where one
//! failed), and the learner's commands. Where each worker message goes is in `messages`, what
//! becomes of an uploaded checkpoint in `upload`.

use cnn_setup::RunRequest;
use cnn_train::BackendKind;
use cnn_worker::protocol::ToWorker;
use leptos::prelude::*;

use super::inspector::Inspector;
use super::live::{Live, Phase};
use super::run::{Run, RunState};
use super::runs::Runs;
use super::setup::Setup;
use super::sweeps::Sweeps;
use crate::workers::{Workers, spawn_worker, threads_possible};

/// A checkpoint being evaluated: the run it will be listed as, its file's name, and whether its
/// checksum was verified (a checkpoint written before checksums has none).
pub(super) struct Upload {
    pub run: Run,
    pub file: String,
    pub verified: bool,
}

#[derive(Clone, Copy)]
pub struct Session {
    pub setup: Setup,
    pub live: Live,
    pub runs: Runs,
    pub sweeps: Sweeps,
    pub inspector: Inspector,
    pub(super) workers: StoredValue<Workers, LocalStorage>,
    /// An Auto run waits here while the main worker's trial chooses its backend.
    pub(super) pending: StoredValue<Option<RunRequest>>,
    /// Whether the run being started goes on from its stored checkpoint.
    resuming: StoredValue<bool>,
    /// Whether the run in progress trains in the threaded worker.
    pub(super) threads_running: StoredValue<bool>,
    /// A checkpoint uploaded and being evaluated, to be listed once the worker answers.
    pub(super) uploading: StoredValue<Option<Upload>>,
    /// Bumped to end the main worker and start a fresh one (see `main_failed`).
    pub(super) main_generation: RwSignal<u32>,
}

impl Session {
    pub fn new(setup: Setup, live: Live, runs: Runs, sweeps: Sweeps) -> Self {
        let workers = StoredValue::new_local(Workers::default());
        let on_threads = move |backend| on_threads(live, backend);
        let inspector = Inspector::new(
            Callback::new(move |(message, backend): (ToWorker, BackendKind)| {
                workers.with_value(|w| w.send(on_threads(backend), &message))
            }),
            Signal::derive(move || setup.measuring()),
        );
        Session {
            setup,
            live,
            runs,
            sweeps,
            inspector,
            workers,
            pending: StoredValue::new(None),
            resuming: StoredValue::new(false),
            threads_running: StoredValue::new(false),
            uploading: StoredValue::new(None),
            main_generation: RwSignal::new(0),
        }
    }

    /// Starts the main worker (again, whenever `main_generation` moves) and, once it has the
    /// data, the threaded one.
    pub fn start(self) {
        Effect::new(move |_| {
            self.main_generation.track();
            if let Some(old) = self.workers.try_update_value(|w| w.main.take()).flatten() {
                old.terminate();
            }
            let failed = move |message| self.main_failed(message);
            match spawn_worker("./trainer_loader.js", move |m| self.on_message(m), failed) {
                Ok(worker) => self.workers.update_value(|w| w.main = Some(worker)),
                Err(message) => self.live.error.set(Some(message)),
            }
        });
        // Started once the main worker has its data: on two cores, both workers compiling and
        // unpacking at once slowed the page's first view several times over. Until it has the
        // data, and wherever it cannot start, the main worker trains on the CPU with one thread.
        let started = StoredValue::new(false);
        Effect::new(move |_| {
            if self.live.data_len.get().is_none() || started.get_value() {
                return;
            }
            started.set_value(true);
            let failed = move |why| self.threads_failed(why);
            match threads_possible() {
                Ok(()) => {
                    match spawn_worker("./trainer_threads_loader.js", move |m| self.on_threads_message(m), failed) {
                        Ok(worker) => self.workers.update_value(|w| w.threads = Some(worker)),
                        Err(message) => self.threads_failed(message),
                    }
                }
                Err(why) => self.live.threads_note.set(Some(why)),
            }
        });
        // What WebGL's `WEBGL_lose_context` is for WebGL: the tests lose the worker's GPU with it.
        // Listens as long as the page lives: dropping the handle leaves the listener.
        let _listening = window_event_listener_untyped("cnn-lose-gpu", move |_| self.send(false, &ToWorker::LoseGpu));
        self.keep_sweeping();
    }

    pub(super) fn send(self, to_threads: bool, message: &ToWorker) {
        self.workers.with_value(|w| w.send(to_threads, message));
    }

    /// Sends `message` to the worker that does `backend`'s work.
    pub(super) fn send_for(self, backend: BackendKind, message: &ToWorker) {
        self.send(on_threads(self.live, backend), message);
    }

    /// Sends `run` to train on `backend`.
    pub(super) fn dispatch(self, run: RunRequest, backend: BackendKind) {
        let on_threads = on_threads(self.live, backend);
        self.threads_running.set_value(on_threads);
        let RunRequest { spec, train_images, test_images } = run;
        let (run, resume) = (self.runs.current(), self.resuming.get_value());
        self.send(on_threads, &ToWorker::Train { spec, backend, train_images, test_images, run, resume });
        if self.live.phase.get_untracked() == Phase::Choosing {
            self.live.phase.set(Phase::Training);
        }
    }

    /// A new run, or a stopped one going on (`resume`): the view is cleared and the run sent to
    /// the backend chosen in the menu.
    fn launch(self, run: RunRequest, resume: bool) {
        self.launch_on(run, resume, self.setup.backend());
    }

    /// [`launch`](Self::launch) on `backend` (a sweep's runs take their own form's).
    pub(super) fn launch_on(self, run: RunRequest, resume: bool, backend: BackendKind) {
        self.threads_running.set_value(false);
        self.resuming.set_value(resume);
        if backend == BackendKind::Auto {
            self.live.clear(run.spec.epochs, Phase::Choosing);
            self.live.status.set("Choosing the backend: a short trial…".into());
            let (model, image_size, batch_size) = (run.spec.model.clone(), run.spec.image_size, run.spec.batch_size);
            self.pending.set_value(Some(run));
            self.send(false, &ToWorker::Choose { model, image_size, batch_size });
        } else {
            self.live.clear(run.spec.epochs, Phase::Training);
            self.live.status.set("Opening the device…".into());
            self.dispatch(run, backend);
        }
    }

    /// Trains what the form says, or says why it cannot.
    pub fn train(self) {
        let Some(len) = self.live.data_len.get_untracked() else { return };
        let (spec, analysis) = (self.setup.spec.get_untracked(), self.setup.analysis.get_untracked());
        let run = match self.setup.form.get_untracked().parse(spec, analysis, len) {
            Ok(run) => run,
            Err(message) => return self.live.error.set(Some(message)),
        };
        self.runs.start(run.spec.clone(), run.images());
        self.launch(run, false);
    }

    /// Whether a stopped run can go on: the data is loaded and the CPU's thread pool is ready or
    /// known to be missing (only the threaded worker resumes on the CPU: see cnn-train's
    /// `check_resumes_on`).
    pub fn ready(self) -> bool {
        let live = self.live;
        live.data_len.get().is_some() && (live.cpu_threads.get() > 1 || live.threads_note.with(Option::is_some))
    }

    /// Trains stopped run `id` on from its last stored checkpoint.
    pub fn resume(self, id: u64) {
        if self.live.running() || !untrack(|| self.ready()) {
            return;
        }
        if let Some(run) = self.runs.resume(id) {
            let (train_images, test_images) = run.images;
            self.launch(RunRequest { spec: run.settings, train_images, test_images }, true);
        }
    }

    /// Looks inside run `id`'s stored network.
    pub fn inspect(self, id: u64) {
        let Some((_, test_images)) = self.live.data_len.get_untracked() else { return };
        if let Some(run) = self.runs.get(id) {
            self.inspector.open(&run, test_images);
        }
    }

    /// Asks the main worker for run `id`'s weights as safetensors.
    pub fn export(self, run: u64) {
        self.send(false, &ToWorker::Export { run });
    }

    /// Holds the run after its current step, or lets it go on. The page answers at once.
    pub fn pause(self) {
        let (hold, phase) = match self.live.phase.get_untracked() {
            Phase::Training => (true, Phase::Paused),
            Phase::Paused => (false, Phase::Training),
            _ => return,
        };
        self.live.phase.set(phase);
        self.workers.with_value(|w| w.send_both(&ToWorker::Pause(hold)));
        self.live.status.set(if hold { "Paused: the run waits after its current step." } else { "Going on…" }.into());
    }

    /// Stops the run after its current step, and the sweep it belongs to; a backend's trial
    /// stops at once.
    pub fn stop(self) {
        if self.runs.current().is_some_and(|id| self.sweeps.holds(id)) {
            self.sweeps.stop();
        }
        self.pending.set_value(None);
        self.workers.with_value(|w| w.send_both(&ToWorker::Cancel));
        match self.live.phase.get_untracked() {
            Phase::Choosing => {
                self.live.status.set("Cancelled.".into());
                self.runs.end(RunState::Stopped);
                self.live.ended(Phase::Ready);
            }
            Phase::Training | Phase::Paused => self.live.phase.set(Phase::Stopping),
            _ => {}
        }
    }
}

/// The CPU's work goes to the threaded worker once its pool is ready; the rest to the main one.
fn on_threads(live: Live, backend: BackendKind) -> bool {
    backend == BackendKind::Cpu && live.cpu_threads.get_untracked() > 1
}
