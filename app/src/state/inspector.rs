//! Inside a trained run, as the page holds it: the run asked for, its test results as the
//! worker measured them, and what the network makes of one picture.

use std::sync::Arc;

use cnn_models::InputSpec;
use cnn_train::BackendKind;
use cnn_train::explain::{ExplainRequest, Explanation};
use cnn_worker::protocol::{Inspection, Picture, ToWorker};
use leptos::prelude::*;

use super::run::Run;

/// The data set's images, as the worker sends their pixels.
pub const SIDE: usize = 28;

/// A run's test results as the worker measured them.
pub struct Inspected {
    pub run: u64,
    pub name: String,
    pub image_size: usize,
    pub inspection: Inspection,
    pub pixels: Vec<u8>,
    /// The layer table's rows, named for the layer menu.
    pub layers: Vec<String>,
}

impl Inspected {
    pub fn image(&self, index: usize) -> Vec<u8> {
        self.pixels.get(index * SIDE * SIDE..(index + 1) * SIDE * SIDE).unwrap_or_default().to_vec()
    }

    pub fn test_images(&self) -> usize {
        self.inspection.predictions.len()
    }
}

/// What the learner is inspecting, and the worker's answers.
#[derive(Clone, Copy)]
pub struct Inspector {
    send: Callback<(ToWorker, BackendKind)>,
    backend: Signal<BackendKind>,
    /// The run asked for, and its name.
    wanted: StoredValue<Option<(u64, String)>>,
    pub note: RwSignal<Option<String>>,
    pub inspected: RwSignal<Option<Arc<Inspected>>>,
    pub cell: RwSignal<Option<(usize, usize)>>,
    pub explanation: RwSignal<Option<Arc<Explanation>>>,
    pub explain_note: RwSignal<Option<String>>,
    /// The picture explained, its bytes (the learner's own), and how to name it.
    picture: StoredValue<(Picture, Vec<u8>, String)>,
    /// What to explain besides the probabilities: a class, a layer's maps.
    pub request: RwSignal<ExplainRequest>,
}

impl Inspector {
    pub fn new(send: Callback<(ToWorker, BackendKind)>, backend: Signal<BackendKind>) -> Self {
        Self {
            send,
            backend,
            wanted: StoredValue::new(None),
            note: RwSignal::new(None),
            inspected: RwSignal::new(None),
            cell: RwSignal::new(None),
            explanation: RwSignal::new(None),
            explain_note: RwSignal::new(None),
            picture: StoredValue::new((Picture::Test(0), vec![], String::new())),
            request: RwSignal::new(ExplainRequest { class: None, row: Some(0) }),
        }
    }

    /// Asks the worker for `run`'s results on the test images it was measured on.
    pub fn open(self, run: &Run, loaded_test_images: usize) {
        let test_images = run.images.1.min(loaded_test_images);
        self.wanted.set_value(Some((run.id, run.name.clone())));
        self.note.set(Some(format!("Measuring “{}” on {test_images} test images…", run.name)));
        self.inspected.set(None);
        self.cell.set(None);
        self.explanation.set(None);
        self.explain_note.set(None);
        self.request.set(ExplainRequest { class: None, row: Some(0) });
        let backend = self.backend.get_untracked();
        self.send.run((ToWorker::Inspect { run: run.id, test_images, backend }, backend));
        scroll_to("inspect");
    }

    fn wanted(self, run: u64) -> Option<String> {
        self.wanted.get_value().filter(|(id, _)| *id == run).map(|(_, name)| name)
    }

    /// The worker's answer to [`open`](Self::open), shown if that run is still the one wanted;
    /// `listed` is the run as the list holds it (none if it was deleted meanwhile).
    pub fn inspected(self, run: u64, result: Result<Inspection, String>, pixels: Vec<u8>, listed: Option<Run>) {
        let Some(name) = self.wanted(run) else { return };
        match (result, listed) {
            (Ok(inspection), Some(listed)) => {
                let image_size = listed.settings.image_size;
                let analysis = listed.settings.model.analyze(InputSpec::fashion_mnist(image_size));
                let layers = analysis.map(|a| a.rows.iter().map(|r| r.name.clone()).collect()).unwrap_or_default();
                let first = inspection.predictions.mistakes(1).first().map_or(0, |m| m.image);
                self.inspected.set(Some(Arc::new(Inspected { run, name, image_size, inspection, pixels, layers })));
                self.note.set(None);
                self.explain(Picture::Test(first), vec![], format!("test image {first}"));
            }
            (Ok(_), None) => self.note.set(Some(format!("“{name}” was deleted."))),
            (Err(why), _) => self.note.set(Some(format!("“{name}” cannot be inspected: {why}."))),
        }
    }

    /// Asks what the network makes of `picture` (named `what` in sentences).
    pub fn explain(self, picture: Picture, bytes: Vec<u8>, what: String) {
        self.picture.set_value((picture, bytes, what));
        self.explain_again();
    }

    /// Explains the same picture again, as `request` now says.
    pub fn explain_again(self) {
        let Some((run, _)) = self.wanted.get_value() else { return };
        let (picture, bytes, what) = self.picture.get_value();
        self.explain_note.set(Some(format!("Looking at {what}…")));
        let backend = self.backend.get_untracked();
        let request = self.request.get_untracked();
        self.send.run((ToWorker::Explain { run, backend, picture, request, bytes }, backend));
    }

    /// The worker's answer to an explanation: shown, or its sentence, if it is about the run
    /// inspected.
    pub fn explained(self, run: u64, result: Result<Explanation, String>) {
        if self.wanted(run).is_none() {
            return;
        }
        let what = self.picture_name();
        match result {
            Ok(explanation) => {
                self.explanation.set(Some(Arc::new(explanation)));
                self.explain_note.set(None);
            }
            Err(why) => self.explain_note.set(Some(format!("{} cannot be looked at: {why}.", capitalised(&what)))),
        }
    }

    /// The picture explained, in words, for captions.
    pub fn picture_name(self) -> String {
        self.picture.with_value(|(_, _, what)| what.clone())
    }
}

pub fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| first.to_uppercase().chain(chars).collect())
}

fn scroll_to(id: &str) {
    if let Some(element) = web_sys::window().and_then(|w| w.document()).and_then(|d| d.get_element_by_id(id)) {
        element.scroll_into_view();
    }
}
