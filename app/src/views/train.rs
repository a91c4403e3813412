//! The training view: the form (the recipe and every setting of a run), its buttons, what the run
//! in progress reports (status, backend, figures, progress), the charts and the epochs. The
//! session sets [`Live`] from the workers' messages; this view only shows it.

use cnn_models::units::{bytes, thousands};
use cnn_setup::lesson::Control;
use leptos::prelude::*;

use super::charts::Charts;
use super::form::{Locks, RecipeFields, field};
use super::progress::RunProgress;
use super::runs::EpochTable;
use crate::state::live::{Live, Phase};
use crate::state::runs::Runs;
use crate::state::setup::Setup;

/// A learning rate as it reads best: 0.05, 0.00125, or 3.1e-6 near a cosine's end.
fn rate(r: f64) -> String {
    match r {
        0.0 => "0".into(),
        r if r.abs() < 1e-4 => format!("{r:.1e}"),
        r => format!("{r:.5}").trim_end_matches('0').trim_end_matches('.').to_string(),
    }
}

/// The form, its buttons and the run in progress, with a note where a shared link's setup could
/// not be opened.
#[component]
pub fn TrainView(
    live: Live,
    setup: Setup,
    runs: Runs,
    train: Callback<()>,
    pause: Callback<()>,
    stop: Callback<()>,
) -> impl IntoView {
    let Live { phase, status, error, webgpu, data_len, backend_label, backend_why, cpu_threads, threads_note, .. } =
        live;
    let Live { run_params, trainer_memory, step, progress, .. } = live;
    let Setup { form, spec, link_note, .. } = setup;
    let running = move || phase.get().running();
    let locks = Locks::get();
    let paused = move || phase.get() == Phase::Paused;
    // The latest step's figures, or a dash before the first.
    let figure = move |show: fn(&cnn_train::StepReport) -> String| step.with(|s| s.as_ref().map_or("–".into(), show));
    view! {
        <h2>"Training"</h2>
        <form class="controls" on:submit=move |ev| { ev.prevent_default(); train.run(()); }>
            <label class:hidden=locks.hidden(Control::Size)>"Image size (pixels)"
                <input id="size" disabled=locks.locked(Control::Size) list="image-sizes" inputmode="numeric" prop:value=move || form.with(|f| f.size.clone())
                    on:input=move |ev| form.update(|f| f.size = event_target_value(&ev)) />
                // The book's sizes are offered; any other is typed.
                <datalist id="image-sizes">
                    {[28, 56, 84, 96, 224].map(|s| view! { <option value=s.to_string()></option> }).collect_view()}
                </datalist>
            </label>
            {field(form, Control::Images, "train-images", "Training images", |f| f.train_images.clone(), |f, v| f.train_images = v)}
            {field(form, Control::Images, "test-images", "Test images", |f| f.test_images.clone(), |f, v| f.test_images = v)}
            <RecipeFields form spec />
            <label class:hidden=locks.hidden(Control::Backend)>"Backend"
                <select id="backend-choice" disabled=locks.locked(Control::Backend) prop:value=move || form.with(|f| f.backend.clone())
                    on:change=move |ev| form.update(|f| f.backend = event_target_value(&ev))>
                    <option value="auto" selected=move || form.with(|f| f.backend == "auto")>"Auto"</option>
                    <option value="webgpu" disabled={!webgpu} selected=move || form.with(|f| f.backend == "webgpu")>"WebGPU"</option>
                    <option value="cpu" selected=move || form.with(|f| f.backend == "cpu")>"CPU"</option>
                </select>
            </label>
            <button id="train" type="submit" disabled=move || data_len.get().is_none() || running()>"Train"</button>
            // A run can be held only while it trains (a backend's trial cannot).
            <button id="pause" type="button" disabled=move || !matches!(phase.get(), Phase::Training | Phase::Paused)
                aria-pressed=move || paused().to_string()
                on:click=move |_| pause.run(())>{move || if paused() { "Continue" } else { "Pause" }}</button>
            <button id="cancel" type="button" disabled=move || !running() on:click=move |_| stop.run(())>"Stop"</button>
        </form>
        <p id="status" aria-live="polite">{move || status.get()}</p>
        {move || backend_why.get().map(|w| view! { <p id="backend-why" class="note">{w}</p> })}
        {move || threads_note.get().map(|w| view! { <p id="threads-note" class="note">{w}</p> })}
        {move || error.get().map(|e| view! { <p id="error" class="error" role="alert">{e}</p> })}
        {link_note.get_value().map(|n| view! { <p id="link-note" class="error">{n}</p> })}
        <div class="stats">
            <div><span class="k">"Backend"</span><span class="v" id="backend">{move || backend_label.get()}</span></div>
            <div><span class="k">"CPU threads"</span><span class="v" id="cpu-threads">{move || cpu_threads.get()}</span></div>
            <div><span class="k">"Parameters"</span><span class="v" id="run-params">{move || run_params.get().map_or("–".into(), |p| thousands(p as u64))}</span></div>
            <div><span class="k">"Loss"</span><span class="v" id="loss">{move || figure(|s| format!("{:.4}", s.loss))}</span></div>
            <div><span class="k">"Accuracy"</span><span class="v" id="accuracy">{move || figure(|s| format!("{:.1}%", s.accuracy * 100.0))}</span></div>
            <div><span class="k">"Learning rate"</span><span class="v" id="learning-rate-now">{move || figure(|s| rate(s.learning_rate))}</span></div>
            <div><span class="k">"Speed"</span><span class="v" id="speed">{move || figure(|s| format!("{:.1} examples/s", s.examples_per_sec))}</span></div>
            <div><span class="k">"Trainer memory"</span><span class="v" id="trainer-memory" data-bytes=move || trainer_memory.get().map(|b| b.to_string())>
                {move || trainer_memory.get().map_or("–".into(), bytes)}</span></div>
        </div>
        <RunProgress progress=progress.into() phase=phase.into() />
        <Charts runs />
        <EpochTable runs />
    }
}
