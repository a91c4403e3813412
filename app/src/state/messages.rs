//! Where each of the workers' messages goes: the live view, the runs list, the inspector. A
//! worker that fails is replaced; a run that cannot go on ends with its sentence.

use cnn_train::{Event, StepReport};
use cnn_worker::protocol::FromWorker;
use leptos::prelude::*;

use super::live::Phase;
use super::run::{RunState, StepPoint};
use super::session::Session;
use crate::files;

impl Session {
    pub(super) fn on_message(self, message: FromWorker) {
        let Session { live, runs, inspector, .. } = self;
        match message {
            FromWorker::Loaded { train_images, test_images, .. } => {
                live.status.set(format!("Ready: {train_images} training and {test_images} test images."));
                live.data_len.set(Some((train_images, test_images)));
            }
            FromWorker::LoadFailed(message) => {
                live.status.set("The data could not be loaded.".into());
                live.error.set(Some(message));
            }
            FromWorker::Chosen { backend, why } => {
                live.backend_why.set(Some(why));
                if let Some(run) = self.pending.try_update_value(Option::take).flatten() {
                    self.dispatch(run, backend);
                }
            }
            FromWorker::Backend { label, why } => {
                live.backend_label.set(label);
                if why.is_some() {
                    live.backend_why.set(why);
                }
            }
            FromWorker::Event(event) => self.on_event(event),
            FromWorker::Finished => {
                // A run the learner stopped was ended (and said so) when it was cancelled.
                if runs.current().is_some() {
                    live.status.set("Done.".into());
                }
                runs.end(RunState::Finished);
                live.ended(Phase::Ready);
            }
            FromWorker::Failed(message) => {
                self.pending.set_value(None);
                live.status.set("Training stopped.".into());
                runs.end(RunState::Failed(message.clone()));
                live.error.set(Some(message));
                live.ended(Phase::Failed);
            }
            FromWorker::GpuLost(sentence) => self.gpu_lost(sentence),
            FromWorker::Resumed { epochs: done } => {
                runs.rewind(done);
                live.status.set(format!("Resuming after epoch {done}…"));
            }
            FromWorker::NotStored(why) | FromWorker::Refused(why) => runs.note.set(Some(why)),
            FromWorker::Evaluated { run, result } => self.evaluated(run, result),
            FromWorker::Exported { run, bytes } => {
                let name = runs.get(run).map(|r| r.name).unwrap_or_default();
                if let Err(why) = files::download(&bytes, &files::file_name(&name, "safetensors")) {
                    runs.note.set(Some(format!("The safetensors cannot be downloaded: {why}.")));
                }
            }
            FromWorker::Inspected { run, result, pixels } => inspector.inspected(run, result, pixels, runs.get(run)),
            FromWorker::Explained { run, result } => inspector.explained(run, result),
            FromWorker::Memory { wasm_bytes } => live.trainer_memory.set(Some(wasm_bytes)),
            // Only the benchmark asks a worker for speeds; `spawn_worker` keeps a panic's words.
            FromWorker::Speed { .. } | FromWorker::Matmul { .. } | FromWorker::Panicked(_) => {}
        }
    }

    fn on_event(self, event: Event) {
        let Session { live, runs, .. } = self;
        match event {
            Event::Started { params, steps_per_epoch, train_images, .. } => {
                live.started(params, train_images, steps_per_epoch)
            }
            Event::Step(report) => {
                live.stepped(report);
                let StepReport { batch_loss, batch_accuracy, learning_rate, examples_per_sec, .. } = report;
                let point = StepPoint {
                    loss: batch_loss,
                    accuracy: Some(batch_accuracy),
                    learning_rate: Some(learning_rate),
                    examples_per_sec: Some(examples_per_sec),
                };
                runs.update(false, |r| r.steps.push(point));
            }
            Event::Evaluating { epoch } => live.status.set(format!("Epoch {epoch}: measuring on the test images…")),
            Event::Epoch(stats) => runs.update(true, |r| r.record_epoch(stats)),
            Event::Cancelled => {
                live.status.set("Cancelled.".into());
                runs.end(RunState::Stopped);
            }
        }
    }

    /// The threaded worker's messages: its own loading, then the same as the main worker's.
    pub(super) fn on_threads_message(self, message: FromWorker) {
        match message {
            FromWorker::Loaded { cpu_threads, .. } => self.live.cpu_threads.set(cpu_threads),
            FromWorker::LoadFailed(message) => self.threads_failed(message),
            other => self.on_message(other),
        }
    }

    /// The GPU was lost mid-run: the run stops at its last stored checkpoint (the worker reports
    /// once it is stored), Resume takes it on the CPU, and a fresh worker replaces this one, whose
    /// GPU (and burn's default device, where an optimiser's state loads) cannot be trusted again.
    fn gpu_lost(self, sentence: String) {
        let Session { live, runs, setup, .. } = self;
        self.pending.set_value(None);
        live.status.set("The GPU was lost: the run stopped.".into());
        runs.end(RunState::Stopped);
        live.error.set(Some(sentence));
        setup.form.update(|f| f.backend = "cpu".into());
        live.ended(Phase::Failed);
        live.data_len.set(None);
        self.main_generation.update(|g| *g += 1);
    }

    fn run_failed(self, message: String) {
        let Session { live, runs, .. } = self;
        live.status.set("Training stopped.".into());
        let message = format!("the training worker failed: {message}");
        runs.end(RunState::Failed(message.clone()));
        live.error.set(Some(message));
        live.ended(Phase::Failed);
    }

    /// A worker whose wasm trapped cannot be trusted again: the page starts a fresh one, which
    /// loads the data anew, and keeps everything the learner set.
    pub(super) fn main_failed(self, message: String) {
        let live = self.live;
        self.pending.set_value(None);
        if !live.running() {
            live.status.set("The training worker failed and restarts…".into());
            live.error.set(Some(format!("the training worker failed: {message}")));
        } else if !self.threads_running.get_value() {
            self.run_failed(message);
        }
        live.data_len.set(None);
        self.main_generation.update(|g| *g += 1);
    }

    /// The threaded worker could not start or failed: the CPU trains on one thread from now on.
    pub(super) fn threads_failed(self, why: String) {
        let live = self.live;
        self.workers.update_value(|w| w.threads = None);
        live.cpu_threads.set(1);
        live.threads_note
            .set(Some(format!("The CPU's thread pool could not start ({why}), so the CPU trains on one thread.")));
        if self.threads_running.get_value() && live.running() {
            self.run_failed(why);
        }
    }
}
