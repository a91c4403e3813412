//! The training worker's binary (WebGPU, and the CPU on one thread), started by trunk's loader shim
//! (`trainer_loader.js`) in a module worker: there is no `window` here, only the device and the
//! data. Built with the page so that both share one build of their dependencies.

fn main() {
    cnn_train::constructors::run();
    console_error_panic_hook::set_once();
    cnn_worker::worker::run(cnn_worker::worker::Cpu { threads: 1, relaxed_simd: false });
}
