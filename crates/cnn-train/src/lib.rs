//! Training, one code path for every device: the browser's WebGPU, native wgpu, and burn's `flex`
//! CPU backend. burn's `Learner` does not build for wasm, so the loop is ours:
//! - [`backend`]: opening a device and naming it for the user;
//! - [`trainer`]: one SGD step and one evaluation pass, read back asynchronously (a synchronous
//!   read panics on WebGPU in the browser);
//! - [`run`]: epochs over real data, progress as [`Event`]s, cancellation;
//! - [`bench`]: the speed of training steps after a warm-up.

pub mod backend;
pub mod bench;
pub mod run;
pub mod trainer;

pub use backend::{Backend, BackendKind, Capacity};
pub use run::{Cancel, EpochStats, Event, TrainSpec, train};
pub use trainer::{StepStats, Trainer};

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Spec(#[from] cnn_models::SpecError),
    #[error("WebGPU is not available here ({0}); choose the CPU backend")]
    NoGpu(String),
    #[error("{device} cannot hold this run: {what}")]
    TooLarge { what: String, device: String },
    #[error("the device failed while training ({0}); if it was a GPU that is gone, train on the CPU")]
    Device(String),
    #[error("there are no {0} images to work with: choose at least one")]
    NoData(&'static str),
    #[error("{what} must be {rule}, got {value}")]
    Setting { what: &'static str, rule: &'static str, value: String },
}

/// Gives the browser's event loop a turn, so the page repaints and takes clicks between steps.
/// Natively there is nothing to yield to.
pub async fn yield_now() {
    #[cfg(target_arch = "wasm32")]
    gloo_timers::future::TimeoutFuture::new(0).await;
}
