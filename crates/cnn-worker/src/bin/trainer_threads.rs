//! The CPU training worker on every core. Its loader (`trainer_threads_loader.js` in `dist/`)
//! picks one of its two builds (with relaxed SIMD where the engine has it, else plain simd128),
//! initialises it and calls [`start`], which starts rayon's pool (one sub-worker per thread,
//! sharing this worker's memory) before the worker takes messages. The page thread never waits
//! on the pool: only this worker blocks while the pool computes.

use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

// Exported for the pool's sub-workers, which call into this module to run rayon's threads.
pub use wasm_bindgen_rayon::init_thread_pool;

/// gemm hands a product to the pool only above this many multiply-adds (m x n x k). Its default
/// (48 x 48 x 256) suits native threads; in a browser each hand-off wakes a sub-worker through
/// `Atomics.wait`, and below about 8x that size the hand-off costs more than it saves. Measured in
/// headless Chromium on 2 cores: a 1024^3 product took 67 ms on one thread, 105-121 ms on two with
/// the default, and 37.5 ms on two with this threshold.
const GEMM_THREADING_THRESHOLD: usize = 48 * 48 * 256 * 8;

/// The sub-workers run `main` too (each instantiates this module); it does nothing.
fn main() {}

#[wasm_bindgen]
pub async fn start(threads: usize) -> Result<(), JsValue> {
    console_error_panic_hook::set_once();
    JsFuture::from(init_thread_pool(threads.max(1))).await?;
    gemm::set_threading_threshold(GEMM_THREADING_THRESHOLD);
    let relaxed_simd = cfg!(feature = "relaxed-simd");
    cnn_worker::worker::run(cnn_worker::worker::Cpu { threads: rayon::current_num_threads(), relaxed_simd });
    Ok(())
}
