//! The training view: the form (the recipe and every setting of a run), its buttons, what the run
//! in progress reports (status, backend, figures, progress), the charts and the epochs. The page
//! (`page.rs`) sets [`Live`] from the workers' messages; this view only shows it.

use cnn_models::ModelSpec;
use cnn_models::units::{bytes, thousands};
use cnn_setup::Form;
use leptos::prelude::*;

use crate::charts::Charts;
use crate::progress::{Progress, RunProgress};
use crate::runs_view::{EpochTable, Runs};
use crate::settings::{RecipeFields, field};

/// What the workers report, as the page shows it.
#[derive(Clone, Copy)]
pub struct Live {
    pub status: RwSignal<String>,
    pub error: RwSignal<Option<String>>,
    /// The data set's training and test images, once the main worker has loaded them.
    pub data_len: RwSignal<Option<(usize, usize)>>,
    pub running: RwSignal<bool>,
    /// Held by the learner: the worker waits after its current step.
    pub paused: RwSignal<bool>,
    pub backend_label: RwSignal<String>,
    pub backend_why: RwSignal<Option<String>>,
    pub cpu_threads: RwSignal<usize>,
    pub threads_note: RwSignal<Option<String>>,
    pub run_params: RwSignal<Option<usize>>,
    /// The training worker's WebAssembly memory, as it last reported it.
    pub trainer_memory: RwSignal<Option<u64>>,
    loss: RwSignal<Option<f32>>,
    accuracy: RwSignal<Option<f32>>,
    speed: RwSignal<Option<f64>>,
    learning_rate: RwSignal<Option<f64>>,
    progress: RwSignal<Option<Progress>>,
    /// The run's epochs (known at its start) and training images (reported by the worker).
    planned: StoredValue<(usize, usize)>,
}

impl Live {
    pub fn new(webgpu: bool) -> Self {
        let backend = if webgpu { "Auto: chosen when you train" } else { "CPU (WebGPU is missing here)" };
        Live {
            status: RwSignal::new("Loading Fashion-MNIST…".into()),
            error: RwSignal::new(None),
            data_len: RwSignal::new(None),
            running: RwSignal::new(false),
            paused: RwSignal::new(false),
            backend_label: RwSignal::new(backend.into()),
            backend_why: RwSignal::new(None),
            cpu_threads: RwSignal::new(1),
            threads_note: RwSignal::new(None),
            run_params: RwSignal::new(None),
            trainer_memory: RwSignal::new(None),
            loss: RwSignal::new(None),
            accuracy: RwSignal::new(None),
            speed: RwSignal::new(None),
            learning_rate: RwSignal::new(None),
            progress: RwSignal::new(None),
            planned: StoredValue::new((0, 0)),
        }
    }

    /// A run of `epochs` starts (or a stopped one goes on): last run's figures go.
    pub fn clear(self, epochs: usize) {
        self.error.set(None);
        self.backend_why.set(None);
        self.running.set(true);
        self.paused.set(false);
        for figure in [self.loss, self.accuracy] {
            figure.set(None);
        }
        for figure in [self.speed, self.learning_rate] {
            figure.set(None);
        }
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
    #[allow(clippy::too_many_arguments)]
    pub fn step(self, epoch: usize, step: usize, steps: usize, loss: f32, accuracy: f32, speed: f64, rate: f64) {
        if !self.paused.get_untracked() {
            self.status.set(format!("Epoch {epoch}: step {step} of {steps}"));
        }
        let (epochs, images) = self.planned.get_value();
        self.progress.set(Some(Progress { epoch, epochs, step, steps, images, examples_per_sec: speed }));
        self.learning_rate.set(Some(rate));
        self.loss.set(Some(loss));
        self.accuracy.set(Some(accuracy));
        self.speed.set(Some(speed));
    }

    /// The run ended, however it ended.
    pub fn stopped(self) {
        self.running.set(false);
        self.paused.set(false);
    }
}

/// A learning rate as it reads best: 0.05, 0.00125, or 3.1e-6 near a cosine's end.
fn rate(r: f64) -> String {
    match r {
        0.0 => "0".into(),
        r if r.abs() < 1e-4 => format!("{r:.1e}"),
        r => format!("{r:.5}").trim_end_matches('0').trim_end_matches('.').to_string(),
    }
}

/// The form, its buttons and the run in progress; `link_note` says why a shared link's setup
/// could not be opened.
#[component]
pub fn TrainView(
    live: Live,
    form: RwSignal<Form>,
    spec: Memo<Result<ModelSpec, String>>,
    runs: Runs,
    webgpu: bool,
    link_note: Option<String>,
    train: Callback<()>,
    pause: Callback<()>,
    stop: Callback<()>,
) -> impl IntoView {
    let Live {
        status, error, data_len, running, paused, backend_label, backend_why, cpu_threads, threads_note, ..
    } = live;
    let Live { run_params, trainer_memory, loss, accuracy, speed, learning_rate, progress, .. } = live;
    view! {
        <h2>"Training"</h2>
        <form class="controls" on:submit=move |ev| { ev.prevent_default(); train.run(()); }>
            <label>"Image size (pixels)"
                <input id="size" list="image-sizes" inputmode="numeric" prop:value=move || form.with(|f| f.size.clone())
                    on:input=move |ev| form.update(|f| f.size = event_target_value(&ev)) />
                // The book's sizes are offered; any other is typed.
                <datalist id="image-sizes">
                    {[28, 56, 84, 96, 224].map(|s| view! { <option value=s.to_string()></option> }).collect_view()}
                </datalist>
            </label>
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
                on:click=move |_| pause.run(())>{move || if paused.get() { "Continue" } else { "Pause" }}</button>
            <button id="cancel" type="button" disabled=move || !running.get() on:click=move |_| stop.run(())>"Stop"</button>
        </form>
        <p id="status" aria-live="polite">{move || status.get()}</p>
        {move || backend_why.get().map(|w| view! { <p id="backend-why" class="note">{w}</p> })}
        {move || threads_note.get().map(|w| view! { <p id="threads-note" class="note">{w}</p> })}
        {move || error.get().map(|e| view! { <p id="error" class="error" role="alert">{e}</p> })}
        {link_note.map(|n| view! { <p id="link-note" class="error">{n}</p> })}
        <div class="stats">
            <div><span class="k">"Backend"</span><span class="v" id="backend">{move || backend_label.get()}</span></div>
            <div><span class="k">"CPU threads"</span><span class="v" id="cpu-threads">{move || cpu_threads.get()}</span></div>
            <div><span class="k">"Parameters"</span><span class="v" id="run-params">{move || run_params.get().map_or("–".into(), |p| thousands(p as u64))}</span></div>
            <div><span class="k">"Loss"</span><span class="v" id="loss">{move || loss.get().map_or("–".into(), |l| format!("{l:.4}"))}</span></div>
            <div><span class="k">"Accuracy"</span><span class="v" id="accuracy">{move || accuracy.get().map_or("–".into(), |a| format!("{:.1}%", a * 100.0))}</span></div>
            <div><span class="k">"Learning rate"</span><span class="v" id="learning-rate-now">{move || learning_rate.get().map_or("–".into(), rate)}</span></div>
            <div><span class="k">"Speed"</span><span class="v" id="speed">{move || speed.get().map_or("–".into(), |s| format!("{s:.1} examples/s"))}</span></div>
            <div><span class="k">"Trainer memory"</span><span class="v" id="trainer-memory" data-bytes=move || trainer_memory.get().map(|b| b.to_string())>
                {move || trainer_memory.get().map_or("–".into(), bytes)}</span></div>
        </div>
        <RunProgress progress=progress.into() paused=paused.into() running=running.into() />
        <Charts runs />
        <EpochTable runs />
    }
}
