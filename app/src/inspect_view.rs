//! Inside a trained run: its test images' results (each class's accuracy, the confusion matrix
//! whose cells open their images, the surest mistakes) and what it makes of one picture (see
//! [`look_view`](crate::look_view)). The worker computes everything on the run's stored weights.

use std::sync::Arc;

use cnn_data::CLASS_NAMES;
use cnn_models::InputSpec;
use cnn_train::BackendKind;
use cnn_train::looks::{Ask, Look};
use cnn_worker::protocol::{Inspection, Picture, ToWorker};
use leptos::prelude::*;

use crate::look_view::LookView;
use crate::pictures::MapCanvas;
use crate::runs::Run;

/// The most images a confusion cell shows at once.
const CELL_IMAGES: usize = 100;
const MISTAKES: usize = 12;
/// The data set's images, as the worker sends their pixels.
const SIDE: usize = 28;

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
    pub look: RwSignal<Option<Arc<Look>>>,
    pub look_note: RwSignal<Option<String>>,
    /// The picture looked at, its bytes (the learner's own), and how to name it.
    looking: StoredValue<(Picture, Vec<u8>, String)>,
    pub ask: RwSignal<Ask>,
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
            look: RwSignal::new(None),
            look_note: RwSignal::new(None),
            looking: StoredValue::new((Picture::Test(0), vec![], String::new())),
            ask: RwSignal::new(Ask { class: None, row: Some(0) }),
        }
    }

    /// Asks the worker for `run`'s results on the test images it was measured on.
    pub fn open(self, run: &Run, loaded_test_images: usize) {
        let test_images = run.images.1.min(loaded_test_images);
        self.wanted.set_value(Some((run.id, run.name.clone())));
        self.note.set(Some(format!("Measuring “{}” on {test_images} test images…", run.name)));
        self.inspected.set(None);
        self.cell.set(None);
        self.look.set(None);
        self.look_note.set(None);
        self.ask.set(Ask { class: None, row: Some(0) });
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
                self.look_at(Picture::Test(first), vec![], format!("test image {first}"));
            }
            (Ok(_), None) => self.note.set(Some(format!("“{name}” was deleted."))),
            (Err(why), _) => self.note.set(Some(format!("“{name}” cannot be inspected: {why}."))),
        }
    }

    /// Asks what the network makes of `picture` (named `what` in sentences).
    pub fn look_at(self, picture: Picture, bytes: Vec<u8>, what: String) {
        self.looking.set_value((picture, bytes, what));
        self.ask_again();
    }

    /// Looks at the same picture again, as `ask` now says.
    pub fn ask_again(self) {
        let Some((run, _)) = self.wanted.get_value() else { return };
        let (picture, bytes, what) = self.looking.get_value();
        self.look_note.set(Some(format!("Looking at {what}…")));
        let backend = self.backend.get_untracked();
        let ask = self.ask.get_untracked();
        self.send.run((ToWorker::Look { run, backend, picture, ask, bytes }, backend));
    }

    /// The worker's answer to a look: shown, or its sentence, if it is about the run inspected.
    pub fn looked(self, run: u64, result: Result<Look, String>) {
        if self.wanted(run).is_none() {
            return;
        }
        let what = self.looking.with_value(|(_, _, what)| what.clone());
        match result {
            Ok(look) => {
                self.look.set(Some(Arc::new(look)));
                self.look_note.set(None);
            }
            Err(why) => self.look_note.set(Some(format!("{} cannot be looked at: {why}.", capitalised(&what)))),
        }
    }

    /// What is looked at, for captions.
    pub fn looking(self) -> String {
        self.looking.with_value(|(_, _, what)| what.clone())
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

/// A class name cut for a column head.
fn short(class: usize) -> &'static str {
    CLASS_NAMES[class].split('/').next().unwrap_or(CLASS_NAMES[class])
}

/// A test image, small, with a caption; clicking it looks at it.
fn thumb(inspector: Inspector, inspected: &Inspected, image: usize, caption: String) -> impl IntoView + use<> {
    let grey = inspected.image(image);
    let title = format!("test image {image}: {caption}");
    view! {
        <figure class="thumb" data-image=image.to_string()
            on:click=move |_| inspector.look_at(Picture::Test(image), vec![], format!("test image {image}"))>
            <MapCanvas width=SIDE height=SIDE grey title />
            <figcaption>{caption}</figcaption>
        </figure>
    }
}

#[component]
pub fn InspectView(inspector: Inspector) -> impl IntoView {
    let results = move || {
        inspector.inspected.get().map(|inspected| {
            let predictions = &inspected.inspection.predictions;
            let confusion = predictions.confusion();
            let accuracy = confusion.class_accuracy();
            let class_rows = (0..CLASS_NAMES.len())
                .map(|c| {
                    let share = accuracy[c].unwrap_or(0.0);
                    let text = accuracy[c].map_or("–".into(), |a| format!("{:.1}%", a * 100.0));
                    view! {
                        <tr>
                            <td>{CLASS_NAMES[c]}</td>
                            <td class="num">{confusion.class_count(c)}</td>
                            <td class="num">{text}</td>
                            <td class="bar"><span style=format!("width: {:.1}%", share * 100.0)></span></td>
                        </tr>
                    }
                })
                .collect_view();
            let matrix = confusion.counts.iter().enumerate().map(|(t, row)| {
                let total = confusion.class_count(t).max(1) as f32;
                let cells = row.iter().enumerate().map(|(p, &count)| {
                    let share = count as f32 / total;
                    let style = if count == 0 {
                        String::new()
                    } else {
                        let ink = if share > 0.5 { "color: white;" } else { "" };
                        format!("background: rgba(29, 78, 216, {:.3}); {ink}", 0.08 + 0.92 * share)
                    };
                    let title = format!("{count} {} taken for {} ({:.1}% of the class)", CLASS_NAMES[t], CLASS_NAMES[p], share * 100.0);
                    view! {
                        <td class="cell" class:diagonal=t == p data-true=t.to_string() data-predicted=p.to_string()
                            data-count=count.to_string() style=style title=title
                            class:chosen=move || inspector.cell.get() == Some((t, p))
                            on:click=move |_| inspector.cell.set(Some((t, p)))>
                            // An empty cell stays blank, so that the mistakes stand out.
                            {(count > 0).then(|| view! { {count}<small>{format!("{:.0}%", share * 100.0)}</small> })}
                        </td>
                    }
                }).collect_view();
                view! { <tr><th scope="row">{short(t)}</th>{cells}</tr> }
            }).collect_view();
            let heads = (0..CLASS_NAMES.len()).map(|p| view! { <th scope="col">{short(p)}</th> }).collect_view();
            let mistakes = predictions.mistakes(MISTAKES).into_iter().map(|m| {
                let caption = format!("{} → {} {:.0}%", short(m.label), short(m.predicted), m.probability * 100.0);
                thumb(inspector, &inspected, m.image, caption)
            }).collect_view();
            let summary = format!(
                "“{}” on {} test images: accuracy {:.1}%.",
                inspected.name, confusion.total(), confusion.accuracy() * 100.0
            );
            view! {
                <p id="inspect-summary">{summary}</p>
                <div class="inspect-results">
                    <table id="class-accuracy">
                        <thead><tr><th>"class"</th><th>"images"</th><th>"accuracy"</th><th></th></tr></thead>
                        <tbody>{class_rows}</tbody>
                    </table>
                    <div class="confusion-wrap">
                        <table id="confusion">
                            <caption>"Rows: the true class; columns: the class predicted. Click a cell for its images."</caption>
                            <thead><tr><th></th>{heads}</tr></thead>
                            <tbody>{matrix}</tbody>
                        </table>
                    </div>
                </div>
                {move || cell_images(inspector)}
                <h3>"Surest mistakes"</h3>
                <div id="mistakes" class="thumbs">{mistakes}</div>
            }
        })
    };
    view! {
        <section class="inspect" id="inspect">
            <h2>"Inside a trained network"</h2>
            {move || inspector.note.get().map(|n| view! { <p id="inspect-note" class="note">{n}</p> })}
            {move || (inspector.inspected.with(Option::is_none) && inspector.note.with(Option::is_none)).then(|| view! {
                <p class="note">"Press “Inspect” on a run with a finished epoch to see its results on the test images, its mistakes, and what it sees in a picture."</p>
            })}
            {results}
            {move || inspector.inspected.get().map(|inspected| view! { <LookView inspector inspected /> })}
        </section>
    }
}

/// The images of the chosen confusion cell, each with the probability of the class predicted.
fn cell_images(inspector: Inspector) -> Option<impl IntoView> {
    let (t, p) = inspector.cell.get()?;
    let inspected = inspector.inspected.get()?;
    let predictions = &inspected.inspection.predictions;
    let images: Vec<usize> =
        (0..predictions.len()).filter(|&i| (predictions.labels[i], predictions.predicted(i).0) == (t, p)).collect();
    let heading = if t == p {
        format!("{}, recognised: {} images", CLASS_NAMES[t], images.len())
    } else {
        format!("{} taken for {}: {} images", CLASS_NAMES[t], CLASS_NAMES[p], images.len())
    };
    let more = (images.len() > CELL_IMAGES).then(|| format!("The first {CELL_IMAGES} are shown."));
    let thumbs = images
        .iter()
        .take(CELL_IMAGES)
        .map(|&i| {
            let caption = format!("{} {:.0}%", short(p), predictions.row(i)[p] * 100.0);
            thumb(inspector, &inspected, i, caption)
        })
        .collect_view();
    Some(view! {
        <h3 id="cell-heading">{heading}</h3>
        {more.map(|m| view! { <p class="note">{m}</p> })}
        <div id="cell-images" class="thumbs">{thumbs}</div>
    })
}
