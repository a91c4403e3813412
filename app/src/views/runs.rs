//! The runs list: every run the learner started, with its state and best test accuracy; rename,
//! delete, draw one or several on the charts, resume, inspect, download. The list itself is
//! [`Runs`]'s.

use leptos::prelude::*;

use crate::state::run::{Run, RunState};
use crate::state::runs::Runs;

/// The list; "Show" puts a run alone on the charts and its epochs in the table, its tick box
/// draws it beside the others, `resume` trains a stopped run on from its last checkpoint.
#[component]
pub fn RunsView(
    runs: Runs,
    busy: Signal<bool>,
    /// Whether a stopped run can go on: the data is loaded and the CPU's thread pool is ready
    /// or known to be missing.
    ready: Signal<bool>,
    resume: Callback<u64>,
    /// Asks the worker for a run's weights as safetensors.
    export: Callback<u64>,
    /// Checks and evaluates a checkpoint file the learner picked, and lists it as a run.
    upload: Callback<web_sys::File>,
    /// Looks inside a run's stored network.
    inspect: Callback<u64>,
) -> impl IntoView {
    let row = move |run: Run| {
        let id = run.id;
        let best = run.best_accuracy().map_or("–".into(), |a| format!("{:.1}%", a * 100.0));
        let state_class = match run.state {
            RunState::Failed(_) => "state error",
            _ => "state",
        };
        // Nothing of a run in progress is deleted or swapped out of the view under it.
        let in_progress = run.state == RunState::Training;
        let resumable = run.resumable();
        // A checkpoint is kept after every finished epoch.
        let kept = !run.epochs.is_empty();
        let name = run.name.clone();
        let describe = if in_progress && !runs.training_here(id) {
            format!("training in another tab, {} of {} epochs", run.epochs.len(), run.settings.epochs)
        } else {
            run.describe()
        };
        view! {
            <tr data-run=id.to_string()>
                <td><input type="checkbox" class="draw" aria-label="draw on the charts"
                    prop:checked=move || runs.drawn.with(|d| d.contains(&id))
                    on:change=move |ev| runs.toggle_drawn(id, event_target_checked(&ev)) /></td>
                <td><input class="run-name" aria-label="run name" prop:value=run.name.clone()
                    on:change=move |ev| runs.rename(id, event_target_value(&ev)) /></td>
                <td class=state_class>{describe}</td>
                <td class="num best">{best}</td>
                <td class="actions">
                    <button type="button" class="show" disabled=move || busy.get()
                        on:click=move |_| runs.drawn.set(vec![id])>"Show"</button>
                    {resumable.then(|| view! {
                        <button type="button" class="resume" disabled=move || busy.get() || !ready.get() on:click=move |_| resume.run(id)>"Resume"</button>
                    })}
                    {kept.then(|| view! {
                        <button type="button" class="inspect" title="its test results, its mistakes, and what it sees in a picture"
                            disabled=move || !ready.get() on:click=move |_| inspect.run(id)>"Inspect"</button>
                        <button type="button" class="checkpoint" title="download the checkpoint: resume or inspect it later"
                            on:click=move |_| runs.download_checkpoint(id, name.clone())>"Checkpoint"</button>
                        <button type="button" class="safetensors" title="download the weights as safetensors, in PyTorch's layout"
                            disabled=move || busy.get() || !ready.get() on:click=move |_| export.run(id)>"Safetensors"</button>
                    })}
                    // In progress here or in another tab: stopped first, there.
                    <button type="button" class="delete" disabled=in_progress
                        on:click=move |_| runs.delete(id)>"Delete"</button>
                </td>
            </tr>
        }
    };
    view! {
        <section class="runs">
            <h2>"Runs"</h2>
            {move || runs.note.get().map(|n| view! { <p id="runs-note" class="note">{n}</p> })}
            <label class="upload">"Upload a checkpoint (.cnnckpt) to evaluate it and go on with it: "
                <input type="file" id="upload" accept=".cnnckpt" disabled=move || busy.get() || !ready.get()
                    on:change=move |ev| {
                        let input: web_sys::HtmlInputElement = event_target(&ev);
                        if let Some(file) = input.files().and_then(|f| f.get(0)) {
                            upload.run(file);
                        }
                        // The same file picked again is a new upload.
                        input.set_value("");
                    } />
            </label>
            {move || runs.uploaded.get().map(|n| view! { <p id="upload-note" class="note">{n}</p> })}
            {move || if runs.list.with(Vec::is_empty) {
                view! { <p id="no-runs" class="note">"No runs yet: every run you train is kept here, across reloads."</p> }.into_any()
            } else {
                view! {
                    <table id="runs">
                        <thead><tr><th title="drawn on the charts">"chart"</th><th>"name"</th><th>"state"</th><th>"best test acc"</th><th></th></tr></thead>
                        <tbody>{move || runs.list.get().into_iter().map(row).collect_view()}</tbody>
                    </table>
                }.into_any()
            }}
        </section>
    }
}

/// The epochs of the first run drawn: the one in progress, or the one shown.
#[component]
pub fn EpochTable(runs: Runs) -> impl IntoView {
    let rows = move || {
        let first = runs.drawn.with(|d| d.first().copied());
        runs.list.with(|l| l.iter().find(|r| Some(r.id) == first).map(|r| r.epochs.clone()).unwrap_or_default())
    };
    view! {
        <table id="epoch-table">
            <thead><tr><th>"epoch"</th><th>"train loss"</th><th>"train acc"</th><th>"test loss"</th><th>"test acc"</th><th>"examples/s"</th><th>"seconds"</th></tr></thead>
            <tbody>
                {move || rows().into_iter().map(|s| view! {
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
