//! One picture through a trained network: a test image, a drawing or an uploaded image; its ten
//! class probabilities, where the network looked (saliency and, for networks that end in global
//! average pooling, the class activation map), any layer's feature maps, and the first layer's
//! filters.

use std::sync::Arc;

use cnn_data::CLASS_NAMES;
use cnn_train::explain::{ExplainRequest, Explanation, GreyMaps};
use cnn_worker::protocol::Picture;
use leptos::prelude::*;

use super::pictures::{DrawingPad, MapCanvas, Overlay};
use crate::files;
use crate::state::inspector::{Inspected, Inspector, capitalised};

/// The most feature maps drawn for one layer (a DenseNet's concatenations hold hundreds).
const MAX_MAPS: usize = 128;

/// Every map of `maps` as a small canvas.
fn grid(maps: &GreyMaps, id: &'static str, limit: usize) -> impl IntoView + use<> {
    let canvases = (0..maps.count.min(limit))
        .map(|i| {
            let title = format!("channel {}", i + 1);
            view! { <MapCanvas width=maps.width height=maps.height grey=maps.map(i).to_vec() title /> }
        })
        .collect_view();
    view! { <div id=id class="maps">{canvases}</div> }
}

fn probabilities(look: &Explanation) -> impl IntoView + use<> {
    let rows = look
        .probabilities
        .iter()
        .enumerate()
        .map(|(c, &p)| {
            view! {
                <tr class:predicted=c == look.class data-p=p.to_string()>
                    <td>{CLASS_NAMES[c]}</td>
                    <td class="bar"><span style=format!("width: {:.1}%", p * 100.0)></span></td>
                    <td class="num">{format!("{:.1}%", p * 100.0)}</td>
                </tr>
            }
        })
        .collect_view();
    view! { <table id="probabilities"><tbody>{rows}</tbody></table> }
}

fn explained(inspector: Inspector, inspected: &Inspected, look: Arc<Explanation>) -> impl IntoView + use<> {
    let size = look.picture.width;
    let picture = look.picture.grey.clone();
    let saliency = (look.saliency.width, look.saliency.height, look.saliency.grey.clone());
    let explained = CLASS_NAMES[look.class];
    let activation = match &look.activation {
        Some(cam) if cam.width * cam.height == 1 => view! {
            <p class="note" id="no-cam">{format!("No class activation map at this image size: the maps this network pools are 1x1 at {size} px, so they cannot say where “{explained}” was found. Train it on larger images (96 px, say) to see where.")}</p>
        }
        .into_any(),
        Some(cam) => view! {
            <figure>
                <Overlay size picture=picture.clone() heat=(cam.width, cam.height, cam.grey.clone())
                    title=format!("where {explained} was found") />
                <figcaption>{format!("Class activation map ({}x{}): where “{explained}” was found", cam.width, cam.height)}</figcaption>
            </figure>
        }
        .into_any(),
        None => view! {
            <p class="note" id="no-cam">"No class activation map: this network does not end in global average pooling (VGG and AlexNet flatten their maps into dense layers)."</p>
        }
        .into_any(),
    };
    let features = look.features.as_ref().map(|maps| {
        let row = inspector.request.get_untracked().row.unwrap_or(0);
        let name = inspected.layers.get(row).cloned().unwrap_or_default();
        let more = (maps.count > MAX_MAPS).then(|| format!(" The first {MAX_MAPS} are drawn."));
        let (count, more) = (maps.count, more.unwrap_or_default());
        let heading = format!("Layer {}, {name}: {count} maps of {}x{}.{more}", row + 1, maps.height, maps.width);
        view! { <p class="maps-heading">{heading}</p>{grid(maps, "feature-maps", MAX_MAPS)} }
    });
    view! {
        <p id="look-caption">{format!("{}: “{explained}”, {:.1}%.", capitalised(&inspector.picture_name()), look.probabilities[look.class] * 100.0)}</p>
        <div class="look">
            {probabilities(&look)}
            <figure>
                <MapCanvas width=size height=size grey=picture.clone() title="as the network gets it".to_string() />
                <figcaption>{format!("As the network gets it ({size}x{size})")}</figcaption>
            </figure>
            <figure>
                <Overlay size picture=picture.clone() heat=saliency title="saliency".to_string() />
                <figcaption>{format!("Saliency: the pixels that move “{explained}” most")}</figcaption>
            </figure>
            {activation}
        </div>
        {features}
    }
}

#[component]
pub fn ExplainView(inspector: Inspector, inspected: Arc<Inspected>) -> impl IntoView {
    let last = inspected.test_images().saturating_sub(1);
    let index = RwSignal::new(String::from("0"));
    let look_at_index = move || match index.get_untracked().trim().parse::<usize>() {
        Ok(i) if i <= last => inspector.explain(Picture::Test(i), vec![], format!("test image {i}")),
        _ => inspector.explain_note.set(Some(format!("Choose a test image from 0 to {last}."))),
    };
    let drawn = Callback::new(move |(width, height, rgba): (u32, u32, Vec<u8>)| {
        inspector.explain(Picture::Pixels { width, height }, rgba, "your drawing".into())
    });
    let upload = move |file: web_sys::File| {
        let name = file.name();
        leptos::task::spawn_local(async move {
            match files::pixels(&file).await {
                Ok((width, height, rgba)) => {
                    inspector.explain(Picture::Pixels { width, height }, rgba, format!("“{name}”"))
                }
                Err(why) => inspector.explain_note.set(Some(format!("“{name}” cannot be looked at: {why}."))),
            }
        });
    };
    let set_request = move |change: &dyn Fn(&mut ExplainRequest)| {
        inspector.request.update(|request| change(request));
        inspector.explain_again();
    };
    let layers = inspected
        .layers
        .iter()
        .enumerate()
        .map(|(i, name)| view! { <option value=i.to_string() selected=i == 0>{format!("{}. {name}", i + 1)}</option> })
        .collect_view();
    let classes = CLASS_NAMES
        .iter()
        .enumerate()
        .map(|(c, name)| view! { <option value=c.to_string()>{*name}</option> })
        .collect_view();
    let filters = &inspected.inspection.filters;
    let filters_heading =
        format!("The first convolution's {} filters, {}x{} each:", filters.count, filters.height, filters.width);
    let filters = grid(filters, "filters", 256);
    let shown = inspected.clone();
    view! {
        <h3>"One picture"</h3>
        <div class="sources">
            <label>"Test image " <input id="look-index" type="number" min="0" max=last.to_string() prop:value=index
                on:input=move |ev| index.set(event_target_value(&ev))
                on:change=move |_| look_at_index() /></label>
            <button type="button" id="look-test" on:click=move |_| look_at_index()>"Look"</button>
            <label>"or your own image: "
                <input type="file" id="picture-file" accept="image/*" on:change=move |ev| {
                    let input: web_sys::HtmlInputElement = event_target(&ev);
                    if let Some(file) = input.files().and_then(|f| f.get(0)) {
                        upload(file);
                    }
                    input.set_value("");
                } />
            </label>
        </div>
        <div class="look-inputs">
            <div>
                <p class="note">"Or draw an item (black on white, as on paper):"</p>
                <DrawingPad drawn />
            </div>
            <div class="asks">
                <label>"Explain the class "
                    <select id="look-class" on:change=move |ev| {
                        let class = event_target_value(&ev).parse().ok();
                        set_request(&|request| request.class = class);
                    }>
                        <option value="" selected>"predicted"</option>
                        {classes}
                    </select>
                </label>
                <label>"Feature maps of layer "
                    <select id="look-layer" on:change=move |ev| {
                        let row = event_target_value(&ev).parse().ok();
                        set_request(&|request| request.row = row);
                    }>{layers}</select>
                </label>
            </div>
        </div>
        {move || inspector.explain_note.get().map(|n| view! { <p id="look-note" class="note">{n}</p> })}
        {move || inspector.explanation.get().map(|look| explained(inspector, &shown, look))}
        <p>{filters_heading}</p>
        {filters}
    }
}
