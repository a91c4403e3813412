//! Training, one code path for every device: the browser's WebGPU, native wgpu, and burn's `flex`
//! CPU backend. burn's `Learner` does not build for wasm, so the loop is ours:
//! - [`backend`]: opening a device and naming it for the user;
//! - [`trainer`]: one SGD step and one evaluation pass, read back asynchronously (a synchronous
//!   read panics on WebGPU in the browser);
//! - [`recipe`]: optimisers, learning-rate schedules and the named recipes;
//! - [`run`]: epochs over real data, progress as [`Event`]s, cancellation;
//! - [`checkpoint`]: a run saved after an epoch, to resume exactly (read back asynchronously by
//!   `readback`);
//! - [`inspect`]: every test image's probabilities, the confusion matrix, the surest mistakes;
//! - [`explain`]: what a network sees in one picture (feature maps, filters, saliency, CAM);
//! - [`bench`]: the speed of training steps after a warm-up.

pub mod adam;
pub mod backend;
pub mod bench;
pub mod checkpoint;
pub mod constructors;
pub mod explain;
pub mod export;
pub mod inspect;
mod readback;
pub mod recipe;
pub mod run;
pub mod sgd;
pub mod trainer;

pub use backend::{BackendKind, Capacity, OpenedDevice};
pub use checkpoint::{Checkpoint, CheckpointError};
pub use recipe::{Optimizer, Recipe, Schedule};
pub use run::{Checkpoints, EpochStats, Event, RunControl, StepReport, TrainSpec, evaluate, train, train_from};
pub use trainer::{StepStats, Trainer, accuracy};

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
    /// The GPU went away (a driver reset, a GPU process that crashed, a laptop that switched
    /// GPUs): nothing more runs on it in this process.
    #[error(
        "the GPU was lost ({0}): the run stops here and keeps every epoch its last checkpoint holds; \
         resume it on the CPU"
    )]
    GpuLost(String),
    #[error("there are no {0} images to work with: choose at least one")]
    NoData(&'static str),
    #[error("{}", diverged(*.loss, *.epoch, *.step, *.learning_rate))]
    Diverged { loss: f32, epoch: usize, step: usize, learning_rate: f64 },
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error("{0}")]
    Export(String),
    #[error("{what} must be {rule}, got {value}")]
    Setting { what: &'static str, rule: &'static str, value: String },
}

fn diverged(loss: f32, epoch: usize, step: usize, learning_rate: f64) -> String {
    let what = if loss.is_nan() {
        "became NaN".to_string()
    } else if loss.is_infinite() {
        "became infinite".to_string()
    } else {
        format!("exploded to {loss:.1}")
    };
    format!(
        "the run diverged: the loss {what} at step {step} of epoch {epoch}, at learning rate {}; \
         try a lower learning rate (for example {}), a warm-up, or a network with batch normalization",
        short(learning_rate),
        short(learning_rate / 10.0)
    )
}

/// A rate as a person writes it: 0.005, not 0.005000000000000001.
fn short(value: f64) -> String {
    let text = format!("{value:.6}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Waits `milliseconds`, without blocking a browser's event loop.
#[cfg_attr(not(feature = "gpu"), allow(dead_code))]
pub(crate) async fn sleep(milliseconds: u32) {
    #[cfg(target_arch = "wasm32")]
    gloo_timers::future::TimeoutFuture::new(milliseconds).await;
    #[cfg(not(target_arch = "wasm32"))]
    std::thread::sleep(std::time::Duration::from_millis(milliseconds.into()));
}

/// Gives the browser's event loop a turn, so the page repaints and takes clicks between steps.
/// Natively there is nothing to yield to.
pub async fn yield_now() {
    #[cfg(target_arch = "wasm32")]
    gloo_timers::future::TimeoutFuture::new(0).await;
}
