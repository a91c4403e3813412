//! The model spec and the training form being edited: a shared link's setup first, then what
//! this browser kept, then the defaults; kept across reloads, and carried by the page's address,
//! so that copying it shares the exercise.

use cnn_models::{Analysis, ModelSpec, Preset};
use cnn_setup::form::FIRST_MODEL;
use cnn_setup::link::{self, Linked};
use cnn_setup::{Form, spec_text};
use cnn_train::BackendKind;
use leptos::prelude::*;
use wasm_bindgen::JsValue;

use crate::storage;

/// Where the edited spec and the training form are kept across reloads.
const SPEC_KEY: &str = "cnn-playground.spec";
const FORM_KEY: &str = "cnn-playground.form";

#[derive(Clone, Copy)]
pub struct Setup {
    pub spec_text: RwSignal<String>,
    pub form: RwSignal<Form>,
    /// The spec read from its text, or the sentence that says why it cannot be.
    pub spec: Memo<Result<ModelSpec, String>>,
    /// Its layer table at the form's image size.
    pub analysis: Memo<Result<Analysis, String>>,
    /// Why a shared link's setup could not be opened (the defaults were).
    pub link_note: StoredValue<Option<String>>,
}

impl Setup {
    /// The setup a link brought (a sweep's or a lesson's base), else what this browser kept,
    /// else the defaults; kept as it changes, in this browser and in the address (which carries
    /// the open lesson instead, while there is one).
    pub fn load(linked: Option<&Result<Linked, String>>, lesson_address: Signal<Option<String>>) -> Self {
        let default_spec = || Preset::find(FIRST_MODEL).map(|p| spec_text::format(&p.spec())).unwrap_or_default();
        let (linked, link_note) = match linked {
            Some(Ok(Linked::Setup(setup))) => (Some(setup.clone()), None),
            Some(Ok(Linked::Sweep(sweep))) => (Some(sweep.base.clone()), None),
            Some(Ok(Linked::Lesson(lesson))) => (Some(lesson.setup().clone()), None),
            Some(Err(why)) => {
                (Some(cnn_setup::Setup { spec: default_spec(), form: Form::default() }), Some(why.clone()))
            }
            None => (None, None),
        };
        let stored_form = || storage::load_json::<Form>(FORM_KEY);
        let (text, form) = match linked {
            Some(setup) => (setup.spec, setup.form),
            None => (storage::load(SPEC_KEY).unwrap_or_else(default_spec), stored_form().unwrap_or_default()),
        };
        let (spec_text, form) = (RwSignal::new(text), RwSignal::new(form));
        let spec = Memo::new(move |_| spec_text.with(|t| spec_text::parse(t)));
        let analysis = Memo::new(move |_| form.with(|f| spec.with(|s| spec_text::analyze(s, &f.size))));
        Effect::new(move |_| spec_text.with(|t| storage::save(SPEC_KEY, t)));
        Effect::new(move |_| form.with(|f| storage::save_json(FORM_KEY, f)));
        Effect::new(move |_| {
            let setup = cnn_setup::Setup { spec: spec_text.get(), form: form.get() };
            let address = lesson_address.get().unwrap_or_else(|| link::fragment(&setup));
            let history = web_sys::window().and_then(|w| w.history().ok());
            // Refused only for another origin's address, which this never is.
            let _ = history.map(|h| h.replace_state_with_url(&JsValue::NULL, "", Some(&address)));
        });
        Setup { spec_text, form, spec, analysis, link_note: StoredValue::new(link_note) }
    }

    /// The backend the form asks for.
    pub fn backend(self) -> BackendKind {
        self.form.with_untracked(Form::backend_kind)
    }

    /// Where a run's inspection or an upload is measured: WebGPU where the form asks for it, else
    /// the CPU.
    pub fn measuring(self) -> BackendKind {
        match self.backend() {
            BackendKind::Wgpu => BackendKind::Wgpu,
            _ => BackendKind::Cpu,
        }
    }
}
