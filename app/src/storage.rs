//! What the learner typed survives a reload, in `localStorage`.
//!
//! Through `js_sys::Reflect` rather than web-sys's `Storage`: turning on one more web-sys feature
//! rebuilds burn and wgpu for wasm (about ten minutes on CI) for two method calls.

use wasm_bindgen::{JsCast, JsValue};

fn local_storage() -> Option<JsValue> {
    let window = web_sys::window()?;
    // Reading `localStorage` throws where storage is off (some private modes): then nothing is kept.
    js_sys::Reflect::get(&window, &"localStorage".into()).ok().filter(|s| !s.is_undefined() && !s.is_null())
}

fn call(method: &str, args: &[JsValue]) -> Option<JsValue> {
    let storage = local_storage()?;
    let f = js_sys::Reflect::get(&storage, &method.into()).ok()?.dyn_into::<js_sys::Function>().ok()?;
    let args: js_sys::Array = args.iter().collect();
    f.apply(&storage, &args).ok()
}

pub fn load(key: &str) -> Option<String> {
    call("getItem", &[key.into()])?.as_string()
}

/// Best effort: a full or disabled storage loses the copy, never the page's state.
pub fn save(key: &str, value: &str) {
    let _ = call("setItem", &[key.into(), value.into()]);
}
