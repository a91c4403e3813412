//! Static constructors run once, at start, rather than at every call from JavaScript.
//!
//! cubecl's kernel IR registers its operations with `inventory`, which on wasm runs them as static
//! constructors (`__wasm_call_ctors`). A wasm binary is linked as a "command", and for a command
//! that never calls `__wasm_call_ctors` itself, wasm-ld wraps *every* export in a call to it: each
//! call from JavaScript into the module (wasm-bindgen's `__externref_table_alloc` for every
//! `JsValue` made, its dealloc for every one dropped, every callback) ran thousands of
//! constructors. In the trainer that was 96% of a WebGPU step of `resnet-small` (batch 32): wgpu's
//! web backend makes a dozen `JsValue`s per kernel launch. A call of our own, from the binaries'
//! `main` and from [`crate::OpenedDevice::open`] (the wasm tests' way in), makes wasm-ld leave the
//! exports alone.

#[cfg(target_arch = "wasm32")]
unsafe extern "C" {
    fn __wasm_call_ctors();
}

/// Runs the binary's static constructors the first time it is called: first thing in `main`,
/// and before a device opens.
pub fn run() {
    #[cfg(target_arch = "wasm32")]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        // Safety: the constructors run once, before anything reads what they register.
        ONCE.call_once(|| unsafe { __wasm_call_ctors() });
    }
}
