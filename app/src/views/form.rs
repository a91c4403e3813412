//! The training form's fields on the page: each bound to one of [`Form`]'s strings, and the recipe
//! that fills them in.

use cnn_models::ModelSpec;
use cnn_setup::Form;
use cnn_setup::lesson::{Access, Control};
use cnn_train::Recipe;
use leptos::prelude::*;

use crate::state::lessons::Lessons;

/// How the open lesson leaves each control, read from the page's context (no lesson: all open).
#[derive(Clone, Copy)]
pub struct Locks(Option<Lessons>);

impl Locks {
    pub fn get() -> Self {
        Locks(use_context::<Lessons>())
    }

    /// Whether the learner may not change `control` (locked or hidden).
    pub fn locked(self, control: Control) -> impl Fn() -> bool + Copy + 'static {
        move || self.0.is_some_and(|l| l.access(control) != Access::Open)
    }

    pub fn hidden(self, control: Control) -> impl Fn() -> bool + Copy + 'static {
        move || self.0.is_some_and(|l| l.access(control) == Access::Hidden)
    }
}

/// A labelled text field bound to one of the form's strings.
pub fn field(
    form: RwSignal<Form>,
    control: Control,
    id: &'static str,
    label: &'static str,
    get: fn(&Form) -> String,
    set: fn(&mut Form, String),
) -> impl IntoView {
    let locks = Locks::get();
    view! {
        <label class:hidden=locks.hidden(control)>{label}
            <input id=id disabled=locks.locked(control) prop:value=move || form.with(get)
                on:input=move |ev| form.update(|f| set(f, event_target_value(&ev))) />
        </label>
    }
}

/// A labelled select bound to one of the form's strings.
fn choice(
    form: RwSignal<Form>,
    control: Control,
    id: &'static str,
    label: &'static str,
    options: &'static [(&'static str, &'static str)],
    get: fn(&Form) -> String,
    set: fn(&mut Form, String),
) -> impl IntoView {
    let locks = Locks::get();
    view! {
        <label class:hidden=locks.hidden(control)>{label}
            <select id=id disabled=locks.locked(control) prop:value=move || form.with(get) on:change=move |ev| form.update(|f| set(f, event_target_value(&ev)))>
                {options.iter().map(|&(value, text)| view! { <option value=value selected=move || form.with(get) == value>{text}</option> }).collect_view()}
            </select>
        </label>
    }
}

/// The recipes the form offers, by the value of their option.
const RECIPES: [(&str, Recipe); 3] = [("quick", Recipe::Quick), ("d2l", Recipe::D2l), ("modern", Recipe::Modern)];

/// How the run learns: a recipe to start from, then each of its settings. The recipe select shows
/// the recipe the form equals, or "your settings" once the learner changed one.
#[component]
pub fn RecipeFields(form: RwSignal<Form>, spec: Memo<Result<ModelSpec, String>>) -> impl IntoView {
    let apply = move |value: String| {
        let Some(&(_, recipe)) = RECIPES.iter().find(|(v, _)| *v == value) else { return };
        let model = spec.get_untracked().ok();
        form.update(|f| *f = f.with_recipe(recipe, model.as_ref()));
    };
    let current = move || {
        let model = spec.with(|s| s.as_ref().ok().cloned());
        form.with(|f| RECIPES.iter().find(|(_, r)| f.with_recipe(*r, model.as_ref()) == *f).map_or("", |(v, _)| *v))
    };
    let locks = Locks::get();
    view! {
        <fieldset class="recipe">
            <legend>"Recipe"</legend>
            <label class:hidden=locks.hidden(Control::Recipe)>"Start from"
                <select id="recipe" disabled=locks.locked(Control::Recipe) prop:value=current on:change=move |ev| apply(event_target_value(&ev))>
                    <option value="" selected=move || current().is_empty()>"(your settings)"</option>
                    <option value="quick" selected=move || current() == "quick">"Quick: Adam, 3 epochs"</option>
                    <option value="d2l" selected=move || current() == "d2l">"d2l's: plain SGD, 10 epochs"</option>
                    <option value="modern" selected=move || current() == "modern">"Modern: momentum, cosine, crops, flips"</option>
                </select>
            </label>
            {choice(form, Control::Optimizer, "optimizer", "Optimizer", &[("sgd", "SGD"), ("momentum", "SGD + momentum"), ("nesterov", "SGD + Nesterov"), ("adam", "Adam"), ("adamw", "AdamW")], |f| f.optimizer.clone(), |f, v| f.optimizer = v)}
            {field(form, Control::LearningRate, "learning-rate", "Learning rate", |f| f.learning_rate.clone(), |f, v| f.learning_rate = v)}
            <label class:hidden=locks.hidden(Control::Momentum)>"Momentum"
                <input id="momentum" prop:value=move || form.with(|f| f.momentum.clone())
                    disabled=move || locks.locked(Control::Momentum)() || form.with(|f| !matches!(f.optimizer.as_str(), "momentum" | "nesterov"))
                    on:input=move |ev| form.update(|f| f.momentum = event_target_value(&ev)) />
            </label>
            {field(form, Control::WeightDecay, "weight-decay", "Weight decay", |f| f.weight_decay.clone(), |f, v| f.weight_decay = v)}
            {choice(form, Control::Schedule, "schedule", "Schedule", &[("constant", "Constant"), ("step", "Step"), ("cosine", "Cosine")], |f| f.schedule.clone(), |f, v| f.schedule = v)}
            <label class:hidden=locks.hidden(Control::Schedule)>"Step: every (epochs)"
                <input id="step-every" prop:value=move || form.with(|f| f.step_every.clone())
                    disabled=move || locks.locked(Control::Schedule)() || form.with(|f| f.schedule != "step")
                    on:input=move |ev| form.update(|f| f.step_every = event_target_value(&ev)) />
            </label>
            <label class:hidden=locks.hidden(Control::Schedule)>"Step: rate times"
                <input id="step-gamma" prop:value=move || form.with(|f| f.step_gamma.clone())
                    disabled=move || locks.locked(Control::Schedule)() || form.with(|f| f.schedule != "step")
                    on:input=move |ev| form.update(|f| f.step_gamma = event_target_value(&ev)) />
            </label>
            {field(form, Control::Warmup, "warmup", "Warm-up (epochs)", |f| f.warmup.clone(), |f, v| f.warmup = v)}
            {field(form, Control::Epochs, "epochs", "Epochs", |f| f.epochs.clone(), |f, v| f.epochs = v)}
            {field(form, Control::BatchSize, "batch-size", "Batch size", |f| f.batch_size.clone(), |f, v| f.batch_size = v)}
            {field(form, Control::Augment, "crop-padding", "Crop padding (pixels)", |f| f.crop_padding.clone(), |f, v| f.crop_padding = v)}
            <label class="check" class:hidden=locks.hidden(Control::Augment)>
                <input id="flip" type="checkbox" disabled=locks.locked(Control::Augment) prop:checked=move || form.with(|f| f.flip) on:change=move |ev| form.update(|f| f.flip = event_target_checked(&ev)) />
                "Random flips"
            </label>
            {field(form, Control::LabelSmoothing, "label-smoothing", "Label smoothing", |f| f.label_smoothing.clone(), |f, v| f.label_smoothing = v)}
            {field(form, Control::Seed, "seed", "Seed", |f| f.seed.clone(), |f, v| f.seed = v)}
        </fieldset>
    }
}
