//! Files in and out of the page: a download made from bytes, the bytes of a file the learner
//! picked, and the pixels of a picture they picked.

use js_sys::{Array, Uint8Array};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Blob, BlobPropertyBag, HtmlAnchorElement, HtmlCanvasElement, ImageBitmap, Url};

/// `name` made safe as a file name: letters, digits, `-`, `_` and `.` kept, runs of anything else
/// one `-`.
pub fn file_name(name: &str, extension: &str) -> String {
    let mut out = String::new();
    for c in name.trim().chars() {
        if c.is_alphanumeric() || matches!(c, '-' | '_' | '.') {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let stem = out.trim_matches('-');
    format!("{}.{extension}", if stem.is_empty() { "run" } else { stem })
}

/// Hands `bytes` to the browser as a download called `name`.
pub fn download(bytes: &[u8], name: &str) -> Result<(), String> {
    let failed = |e: wasm_bindgen::JsValue| format!("the browser refused the download ({e:?})");
    let options = BlobPropertyBag::new();
    options.set_type("application/octet-stream");
    let parts = Array::of1(&Uint8Array::from(bytes));
    let blob = Blob::new_with_u8_array_sequence_and_options(&parts, &options).map_err(failed)?;
    let url = Url::create_object_url_with_blob(&blob).map_err(failed)?;
    let document = web_sys::window().and_then(|w| w.document()).ok_or("the page has no document")?;
    let link: HtmlAnchorElement = document.create_element("a").map_err(failed)?.unchecked_into();
    link.set_href(&url);
    link.set_download(name);
    link.click();
    // The browser reads the blob after this turn: let it go a while later.
    leptos::prelude::set_timeout(move || drop(Url::revoke_object_url(&url)), std::time::Duration::from_secs(60));
    Ok(())
}

/// The bytes of a file the learner picked.
pub async fn read(file: &web_sys::File) -> Result<Vec<u8>, String> {
    let buffer = JsFuture::from(file.array_buffer()).await.map_err(|e| format!("it cannot be read ({e:?})"))?;
    Ok(Uint8Array::new(&buffer).to_vec())
}

/// The longest side a picked picture keeps: the networks see it at 28-224 px, and a phone's photo
/// at full size would be tens of megabytes of pixels to hand to the worker.
const PICTURE_SIDE: u32 = 1024;

/// The RGBA pixels (width, height, values) of a picture the learner picked, scaled down to at most
/// [`PICTURE_SIDE`] on its longest side. The browser decodes it, so every format it shows reads
/// here, and the trainer's wasm carries no image decoders (a tenth of a megabyte gzipped).
pub async fn pixels(file: &web_sys::File) -> Result<(u32, u32, Vec<u8>), String> {
    let window = web_sys::window().ok_or("the page has no window")?;
    let not_an_image = |_| String::from("this file is not an image the browser reads");
    let decoding = window.create_image_bitmap_with_blob(file).map_err(not_an_image)?;
    let bitmap: ImageBitmap = JsFuture::from(decoding).await.map_err(not_an_image)?.unchecked_into();
    let (width, height) = (bitmap.width(), bitmap.height());
    let scale = (f64::from(PICTURE_SIDE) / f64::from(width.max(height).max(1))).min(1.0);
    let scaled = |side: u32| ((f64::from(side) * scale).round() as u32).max(1);
    let (w, h) = (scaled(width), scaled(height));
    let failed = |e: wasm_bindgen::JsValue| format!("the browser could not draw it ({e:?})");
    let document = window.document().ok_or("the page has no document")?;
    let canvas: HtmlCanvasElement = document.create_element("canvas").map_err(failed)?.unchecked_into();
    canvas.set_width(w);
    canvas.set_height(h);
    let context = context(&canvas).ok_or("the browser gave no 2D canvas")?;
    context
        .draw_image_with_image_bitmap_and_dw_and_dh(&bitmap, 0.0, 0.0, f64::from(w), f64::from(h))
        .map_err(failed)?;
    bitmap.close();
    let data = context.get_image_data(0.0, 0.0, f64::from(w), f64::from(h)).map_err(failed)?;
    Ok((w, h, data.data().0))
}

/// The canvas's 2D context, where the browser gives one.
pub fn context(canvas: &HtmlCanvasElement) -> Option<web_sys::CanvasRenderingContext2d> {
    canvas.get_context("2d").ok().flatten()?.dyn_into().ok()
}
