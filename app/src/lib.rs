//! The page (UI only). `app` (src/main.rs) mounts it, and `trainer` (src/bin/trainer.rs) runs
//! `cnn-worker`'s training loop in a dedicated worker, which owns the device and trains, so the
//! page stays responsive even on the CPU backend. The page's binary links no tensor code, so it
//! loads and shows the model view while the trainer's larger binary is still arriving. Where the
//! page is cross-origin isolated, a second worker (`cnn-worker`'s `trainer-threads`) trains on
//! the CPU with every core.

pub mod charts;
pub mod compare;
pub mod files;
pub mod inspect_view;
pub mod look_view;
pub mod model_view;
pub mod page;
pub mod pictures;
pub mod progress;
pub mod runs;
pub mod runs_view;
pub mod settings;
pub mod storage;
pub mod tabs;
pub mod train_view;
pub mod workers;
