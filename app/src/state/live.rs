//! The run in progress as the workers report it: where the session stands ([`Phase`]), what it
//! says, the device, the latest step's figures and how far the run is.

use cnn_train::StepReport;
use leptos::prelude::*;

/// Where the page's run stands. The buttons, the status line and the message routing read it;
/// nothing reads it back from the status text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// No run: the form may start one once the data is loaded.
    Ready,
    /// An Auto run waits while a short trial chooses its backend.
    Choosing,
    Training,
    /// Held by the learner: the worker waits after its current step.
    Paused,
    /// Stop was pressed: the worker ends after its current step, and says so.
    Stopping,
    /// The last run failed (its sentence is in [`Live::error`]); the form may start another.
    Failed,
}

impl Phase {
    /// Whether a run is under way: the form waits, the run's buttons work.
    pub fn running(self) -> bool {
        matches!(self, Phase::Choosing | Phase::Training | Phase::Paused | Phase::Stopping)
    }
}

/// The latest step the run in progress reported.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    pub epoch: usize,
    pub epochs: usize,
    pub step: usize,
    pub steps: usize,
    /// Training images per epoch.
    pub images: usize,
    /// The epoch's mean speed so far.
    pub examples_per_sec: f64,
}

impl Progress {
    /// Steps trained over all epochs, and all the run's steps.
    pub fn steps_done(&self) -> (usize, usize) {
        (self.epoch.saturating_sub(1) * self.steps + self.step, self.epochs * self.steps)
    }

    /// Seconds of training left at this speed (none once the last step is done); the test passes
    /// after each epoch come on top.
    pub fn seconds_left(&self) -> Option<f64> {
        let (done, all) = self.steps_done();
        let images_per_step = self.images as f64 / self.steps.max(1) as f64;
        (self.examples_per_sec > 0.0 && done < all)
            .then(|| (all - done) as f64 * images_per_step / self.examples_per_sec)
    }
}

/// What the workers report, as the page shows it.
#[derive(Clone, Copy)]
pub struct Live {
    pub phase: RwSignal<Phase>,
    pub status: RwSignal<String>,
    pub error: RwSignal<Option<String>>,
    /// Whether this browser offers WebGPU.
    pub webgpu: bool,
    /// The data set's training and test images, once the main worker has loaded them.
    pub data_len: RwSignal<Option<(usize, usize)>>,
    pub backend_label: RwSignal<String>,
    pub backend_why: RwSignal<Option<String>>,
    pub cpu_threads: RwSignal<usize>,
    pub threads_note: RwSignal<Option<String>>,
    pub run_params: RwSignal<Option<usize>>,
    /// The training worker's WebAssembly memory, as it last reported it.
    pub trainer_memory: RwSignal<Option<u64>>,
    /// The latest step's running means and learning rate.
    pub step: RwSignal<Option<StepReport>>,
    pub progress: RwSignal<Option<Progress>>,
    /// The run's epochs (known at its start) and training images (reported by the worker).
    planned: StoredValue<(usize, usize)>,
}

impl Live {
    pub fn new(webgpu: bool) -> Self {
        let backend = if webgpu { "Auto: chosen when you train" } else { "CPU (WebGPU is missing here)" };
        Live {
            phase: RwSignal::new(Phase::Ready),
            status: RwSignal::new("Loading Fashion-MNIST…".into()),
            error: RwSignal::new(None),
            webgpu,
            data_len: RwSignal::new(None),
            backend_label: RwSignal::new(backend.into()),
            backend_why: RwSignal::new(None),
            cpu_threads: RwSignal::new(1),
            threads_note: RwSignal::new(None),
            run_params: RwSignal::new(None),
            trainer_memory: RwSignal::new(None),
            step: RwSignal::new(None),
            progress: RwSignal::new(None),
            planned: StoredValue::new((0, 0)),
        }
    }

    /// Whether a run is under way (untracked).
    pub fn running(self) -> bool {
        self.phase.get_untracked().running()
    }

    /// A run of `epochs` starts (or a stopped one goes on) in `phase`: last run's figures go.
    pub fn clear(self, epochs: usize, phase: Phase) {
        self.error.set(None);
        self.backend_why.set(None);
        self.phase.set(phase);
        self.step.set(None);
        self.run_params.set(None);
        self.progress.set(None);
        self.planned.set_value((epochs, 0));
    }

    /// The run's size as the worker reports it at its start.
    pub fn started(self, params: usize, train_images: usize, steps_per_epoch: usize) {
        self.planned.update_value(|p| p.1 = train_images);
        self.run_params.set(Some(params));
        self.status.set(format!("Training: {steps_per_epoch} steps per epoch…"));
    }

    /// A step's running means, where it stands, and the rate it trained with.
    pub fn stepped(self, report: StepReport) {
        let StepReport { epoch, step, steps, examples_per_sec, .. } = report;
        if self.phase.get_untracked() != Phase::Paused {
            self.status.set(format!("Epoch {epoch}: step {step} of {steps}"));
        }
        let (epochs, images) = self.planned.get_value();
        self.progress.set(Some(Progress { epoch, epochs, step, steps, images, examples_per_sec }));
        self.step.set(Some(report));
    }

    /// The run ended, however it ended: `Ready`, or `Failed`.
    pub fn ended(self, phase: Phase) {
        self.phase.set(phase);
    }
}
