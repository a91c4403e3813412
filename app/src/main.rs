//! The page (UI only) and its training worker, in one wasm binary: `worker.js` loads this same
//! module inside a dedicated worker, where there is no `window`, and `main` then starts the worker
//! side instead of the page. Training there keeps the page responsive even on the CPU backend.

mod data;
mod model_view;
mod page;
mod protocol;
mod spec_text;
mod storage;
mod worker;

fn main() {
    console_error_panic_hook::set_once();
    if web_sys::window().is_some() {
        leptos::mount::mount_to_body(page::App);
    } else {
        worker::run();
    }
}
