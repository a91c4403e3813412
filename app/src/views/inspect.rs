//! Inside a trained run: its test images' results (each class's accuracy, the confusion matrix
//! whose cells open their images, the surest mistakes) and what it makes of one picture (see
//! [`explain`](super::explain)). The worker computes everything on the run's stored weights;
//! [`Inspector`] holds what it answered.

use cnn_data::CLASS_NAMES;
use cnn_worker::protocol::Picture;
use leptos::prelude::*;

use super::explain::ExplainView;
use super::pictures::MapCanvas;
use crate::state::inspector::{Inspected, Inspector, SIDE};

/// The most images a confusion cell shows at once.
const CELL_IMAGES: usize = 100;
const MISTAKES: usize = 12;

/// A class name cut for a column head.
fn short(class: usize) -> &'static str {
    CLASS_NAMES[class].split('/').next().unwrap_or(CLASS_NAMES[class])
}

/// A test image, small, with a caption; clicking it explains it.
fn thumb(inspector: Inspector, inspected: &Inspected, image: usize, caption: String) -> impl IntoView + use<> {
    let grey = inspected.image(image);
    let title = format!("test image {image}: {caption}");
    view! {
        <figure class="thumb" data-image=image.to_string()
            on:click=move |_| inspector.explain(Picture::Test(image), vec![], format!("test image {image}"))>
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
            {move || inspector.inspected.get().map(|inspected| view! { <ExplainView inspector inspected /> })}
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
