//! Pictures on canvases: greyscale maps as the worker sends them, a heat map laid over a picture,
//! and a pad to draw on. Only painting: every value was computed by the worker.

use leptos::html::Canvas;
use leptos::prelude::*;
use wasm_bindgen::{Clamped, JsCast};
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement, ImageData, PointerEvent};

use crate::files::context;

/// `width * height` RGBA pixels on `canvas`, which takes that size.
fn put(canvas: &HtmlCanvasElement, width: usize, height: usize, rgba: &[u8]) -> Option<CanvasRenderingContext2d> {
    canvas.set_width(width as u32);
    canvas.set_height(height as u32);
    let context = context(canvas)?;
    let data = ImageData::new_with_u8_clamped_array_and_sh(Clamped(rgba), width as u32, height as u32).ok()?;
    context.put_image_data(&data, 0.0, 0.0).ok()?;
    Some(context)
}

fn grey_rgba(grey: &[u8]) -> Vec<u8> {
    grey.iter().flat_map(|&v| [v, v, v, 255]).collect()
}

/// A map in a warm colour whose opacity grows with the value: what lies under a low value stays
/// visible.
fn heat_rgba(heat: &[u8]) -> Vec<u8> {
    heat.iter().flat_map(|&v| [255, v, 0, (f32::from(v) * 0.75) as u8]).collect()
}

/// One greyscale map, drawn at its own size (the page's CSS scales it up, pixels kept sharp).
#[component]
pub fn MapCanvas(width: usize, height: usize, grey: Vec<u8>, #[prop(optional)] title: String) -> impl IntoView {
    let canvas = NodeRef::<Canvas>::new();
    Effect::new(move |_| {
        if let Some(canvas) = canvas.get() {
            put(&canvas, width, height, &grey_rgba(&grey));
        }
    });
    view! { <canvas node_ref=canvas class="map" title=title /> }
}

/// A picture with a heat map over it; the heat map may be coarser (a class activation map) and
/// is stretched over the picture smoothly.
#[component]
pub fn Overlay(size: usize, picture: Vec<u8>, heat: (usize, usize, Vec<u8>), title: String) -> impl IntoView {
    let canvas = NodeRef::<Canvas>::new();
    Effect::new(move |_| {
        let Some(canvas) = canvas.get() else { return };
        let Some(context) = put(&canvas, size, size, &grey_rgba(&picture)) else { return };
        let (width, height, heat) = &heat;
        let Some(document) = web_sys::window().and_then(|w| w.document()) else { return };
        let Some(layer) = document.create_element("canvas").ok().and_then(|e| e.dyn_into::<HtmlCanvasElement>().ok())
        else {
            return;
        };
        if put(&layer, *width, *height, &heat_rgba(heat)).is_some() {
            context.set_image_smoothing_enabled(true);
            let side = size as f64;
            let _ = context.draw_image_with_html_canvas_element_and_dw_and_dh(&layer, 0.0, 0.0, side, side);
        }
    });
    view! { <canvas node_ref=canvas class="map overlay" title=title /> }
}

/// A white square to draw on in black, as on paper; `drawn` gets its pixels (RGBA) after every
/// stroke.
#[component]
pub fn DrawingPad(drawn: Callback<(u32, u32, Vec<u8>)>) -> impl IntoView {
    const SIDE: u32 = 280;
    let canvas = NodeRef::<Canvas>::new();
    let drawing = StoredValue::new(false);
    let clear = move || {
        if let Some(context) = canvas.get_untracked().as_ref().and_then(context) {
            context.set_fill_style_str("white");
            context.fill_rect(0.0, 0.0, f64::from(SIDE), f64::from(SIDE));
        }
    };
    Effect::new(move |_| {
        if canvas.get().is_some() {
            clear();
        }
    });
    // Where the pointer is, in the canvas's own pixels (CSS may show it smaller).
    let at = move |event: &PointerEvent| {
        let canvas = canvas.get_untracked()?;
        let scale = f64::from(SIDE) / f64::from(canvas.client_width().max(1));
        Some((f64::from(event.offset_x()) * scale, f64::from(event.offset_y()) * scale, context(&canvas)?))
    };
    let down = move |event: PointerEvent| {
        let Some((x, y, context)) = at(&event) else { return };
        drawing.set_value(true);
        context.set_stroke_style_str("black");
        context.set_line_width(22.0);
        context.set_line_cap("round");
        context.set_line_join("round");
        context.begin_path();
        context.move_to(x, y);
        context.line_to(x, y);
        context.stroke();
    };
    let moved = move |event: PointerEvent| {
        if !drawing.get_value() {
            return;
        }
        if let Some((x, y, context)) = at(&event) {
            context.line_to(x, y);
            context.stroke();
        }
    };
    let up = move |_| {
        if !drawing.get_value() {
            return;
        }
        drawing.set_value(false);
        let Some(context) = canvas.get_untracked().as_ref().and_then(context) else { return };
        if let Ok(data) = context.get_image_data(0.0, 0.0, f64::from(SIDE), f64::from(SIDE)) {
            drawn.run((SIDE, SIDE, data.data().0));
        }
    };
    view! {
        <div class="pad">
            <canvas id="draw" node_ref=canvas width=SIDE height=SIDE aria-label="draw an item here"
                on:pointerdown=down on:pointermove=moved on:pointerup=up on:pointerleave=up />
            <button type="button" id="clear-drawing" on:click=move |_| clear()>"Clear"</button>
        </div>
    }
}
