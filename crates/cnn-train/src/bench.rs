//! The speed of training steps (forward, backward, update) after a warm-up, with the batches made
//! beforehand so that only the device's work is timed. The benchmark reports it, and a short trial
//! of it lets the page choose the faster backend.

use cnn_data::{Batch, BatchPlan, Dataset};
use cnn_models::{InputSpec, ModelSpec};
use serde::{Deserialize, Serialize};
use web_time::Instant;

use crate::{TrainError, Trainer};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Speed {
    pub examples_per_sec: f64,
    /// Timed steps (after the warm-up).
    pub steps: usize,
    pub seconds: f64,
}

/// What a trial runs: `warmup` untimed steps (kernel compilation, allocator growth, autotuning),
/// then `steps` timed ones.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Trial {
    pub image_size: usize,
    pub batch_size: usize,
    pub warmup: usize,
    pub steps: usize,
}

/// Times SGD steps of `model` on the first images of `data` (cycled when there are too few).
pub async fn measure(
    model: &ModelSpec,
    trial: Trial,
    data: &Dataset,
    device: &burn::prelude::Device,
) -> Result<Speed, TrainError> {
    if data.is_empty() {
        return Err(TrainError::NoData("training"));
    }
    if trial.batch_size == 0 || trial.steps == 0 {
        let value = trial.batch_size.min(trial.steps).to_string();
        return Err(TrainError::Setting {
            what: "the batch size and the number of timed steps",
            rule: "at least 1",
            value,
        });
    }
    let plan = BatchPlan { batch_size: trial.batch_size, image_size: trial.image_size, seed: 0 };
    let batches: Vec<Batch> = (0..trial.warmup + trial.steps)
        .map(|step| {
            let indices: Vec<usize> =
                (0..trial.batch_size).map(|i| (step * trial.batch_size + i) % data.len()).collect();
            plan.batch(data, &indices)
        })
        .collect();
    let mut trainer = Trainer::new(model, InputSpec::fashion_mnist(trial.image_size), device, 0.01)?;
    for batch in &batches[..trial.warmup] {
        trainer.step(batch).await?;
    }
    let started = Instant::now();
    for batch in &batches[trial.warmup..] {
        trainer.step(batch).await?;
        crate::yield_now().await;
    }
    let seconds = started.elapsed().as_secs_f64();
    let examples = (trial.steps * trial.batch_size) as f64;
    Ok(Speed { examples_per_sec: examples / seconds, steps: trial.steps, seconds })
}
