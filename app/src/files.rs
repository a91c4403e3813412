//! Files in and out of the page: a download made from bytes, and the bytes of a file the learner
//! picked.

use js_sys::{Array, Uint8Array};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Blob, BlobPropertyBag, HtmlAnchorElement, Url};

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
