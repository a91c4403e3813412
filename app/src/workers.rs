//! The page's side of its training workers: starting them, their messages (the protocol itself is
//! `cnn_worker::protocol`), and what the browser offers them (WebGPU, threads).

use std::cell::RefCell;
use std::rc::Rc;

use cnn_worker::protocol::{FromWorker, ToWorker, from_js, to_js};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::Closure;
use web_sys::{ErrorEvent, MessageEvent, Worker, WorkerOptions, WorkerType};

/// Whether `navigator.gpu` exists. By reflection: web-sys's WebGPU bindings sit behind the
/// `web_sys_unstable_apis` cfg, which would change how every wasm crate is built.
pub fn has_webgpu() -> bool {
    let navigator = web_sys::window().map(|w| w.navigator());
    navigator.is_some_and(|n| js_sys::Reflect::get(&n, &"gpu".into()).is_ok_and(|gpu| !gpu.is_undefined()))
}

/// Whether the page may share memory with workers, which threads in wasm need. Read from the
/// global scope: web-sys has no binding for `crossOriginIsolated`.
fn cross_origin_isolated() -> bool {
    js_sys::Reflect::get(&js_sys::global(), &"crossOriginIsolated".into()).is_ok_and(|v| v.is_truthy())
}

/// Whether the threaded CPU worker can help here (it takes one thread per logical core), or why
/// the CPU trains on one thread.
pub fn threads_possible() -> Result<(), String> {
    let cores = web_sys::window().map_or(1.0, |w| w.navigator().hardware_concurrency()) as usize;
    if !cross_origin_isolated() {
        return Err("This page is not cross-origin isolated (its server does not send the COOP and COEP \
                    headers), so the CPU trains on one thread."
            .into());
    }
    if cores < 2 { Err("This device reports one CPU core, so the CPU trains on one thread.".into()) } else { Ok(()) }
}

/// A training worker, reached through JSON messages (`cnn_worker::protocol`); `on_error` gets a
/// sentence when its script fails (for the threaded one: no shared memory, no pool).
pub fn spawn_worker(
    script: &'static str,
    mut on_message: impl FnMut(FromWorker) + 'static,
    mut on_error: impl FnMut(String) + 'static,
) -> Result<Worker, String> {
    let options = WorkerOptions::new();
    options.set_type(WorkerType::Module);
    let worker =
        Worker::new_with_options(script, &options).map_err(|e| format!("cannot start the training worker: {e:?}"))?;
    let last_words = Rc::new(RefCell::new(None::<String>));
    let panicked = last_words.clone();
    let handler = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| match from_js(&event.data()) {
        Ok(FromWorker::Panicked(what)) => *panicked.borrow_mut() = Some(what),
        Ok(message) => on_message(message),
        // Only a worker script older or newer than the page (a stale cache) sends what this page
        // cannot read; the run it belongs to goes on, and the page keeps what it was told.
        Err(_) => {}
    });
    worker.set_onmessage(Some(handler.as_ref().unchecked_ref()));
    let failed = Closure::<dyn FnMut(web_sys::Event)>::new(move |event: web_sys::Event| {
        // A script that fails to load raises a plain Event, an exception in it an ErrorEvent.
        let message = event.dyn_ref::<ErrorEvent>().map(ErrorEvent::message);
        let message = last_words.borrow_mut().take().map(|what| format!("it {what}")).or(message);
        on_error(message.unwrap_or_else(|| format!("{script} did not load")));
    });
    worker.set_onerror(Some(failed.as_ref().unchecked_ref()));
    // The handlers live as long as the page does.
    handler.forget();
    failed.forget();
    Ok(worker)
}

/// The page's workers: `main` (WebGPU, the CPU on one thread, the Auto trial) and, where the page
/// is cross-origin isolated, `threads` (the CPU on every core), which trains every CPU run once
/// it has reported its data and its pool (the page's `cpu_threads` above 1).
#[derive(Default)]
pub struct Workers {
    pub main: Option<Worker>,
    pub threads: Option<Worker>,
}

impl Workers {
    pub fn send(&self, to_threads: bool, message: &ToWorker) {
        let worker = if to_threads { &self.threads } else { &self.main };
        // Posting to a live worker does not fail; a worker that failed to start was reported.
        if let Some(worker) = worker {
            let _ = worker.post_message(&to_js(message));
        }
    }

    /// Sends `message` to both workers: whichever runs the run in progress acts on it.
    pub fn send_both(&self, message: &ToWorker) {
        self.send(false, message);
        self.send(true, message);
    }
}
