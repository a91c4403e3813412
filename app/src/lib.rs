//! The page (UI only) and its training worker, as two wasm binaries that share this library:
//! `app` (src/main.rs) mounts the page, and `trainer` (src/bin/trainer.rs) runs in a dedicated
//! worker, owns the device and trains, so the page stays responsive even on the CPU backend. The
//! page's binary links no tensor code, so it loads and shows the model view while the trainer's
//! larger binary is still arriving.

pub mod data;
pub mod model_view;
pub mod page;
pub mod protocol;
pub mod spec_text;
pub mod storage;
pub mod worker;
