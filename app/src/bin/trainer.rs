//! The training worker's binary, started by trunk's loader shim (`trainer_loader.js`) in a module
//! worker: there is no `window` here, only the device and the data.

fn main() {
    console_error_panic_hook::set_once();
    app::worker::run();
}
