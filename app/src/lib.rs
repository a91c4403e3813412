//! The page (UI only). `app` (src/main.rs) mounts it, and `trainer` (src/bin/trainer.rs) runs
//! `cnn-worker`'s training loop in a dedicated worker, which owns the device and trains, so the
//! page stays responsive even on the CPU backend. The page's binary links no tensor code, so it
//! loads and shows the model view while the trainer's larger binary is still arriving. Where the
//! page is cross-origin isolated, a second worker (`cnn-worker`'s `trainer-threads`) trains on
//! the CPU with every core.
//!
//! [`page`] wires [`state`] (what the page holds, moved by the workers' messages) to [`views`]
//! (how it is shown); [`workers`], [`files`] and [`storage`] are the browser's side of them.

pub mod files;
pub mod page;
pub mod state;
pub mod storage;
pub mod views;
pub mod workers;
