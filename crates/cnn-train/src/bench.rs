//! The speed of training steps (forward, backward, update) after a warm-up, with the batches made
//! beforehand so that only the device's work is timed. The benchmark reports it, and a short trial
//! of it lets the page choose the faster backend.

use cnn_data::{Batch, BatchPlan, Dataset};
use cnn_models::{InputSpec, ModelSpec};
use serde::{Deserialize, Serialize};
use web_time::Instant;

use burn::prelude::*;
use burn::tensor::Distribution;

use crate::trainer::{read, read_summary};
use crate::{BackendKind, OpenedDevice, TrainError, TrainSpec, Trainer};

const LEARNING_RATE: f64 = 0.01;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Speed {
    pub examples_per_sec: f64,
    /// The share of the timed steps' time the worker spent building and recording them (the
    /// graph, autodiff, kernel launches), the rest waiting on the device: where it is large on a
    /// GPU, the launches' count and cost on the host hold the speed, not the kernels. On the CPU
    /// it is nearly all of it, the work itself.
    #[serde(default)]
    pub host_share: f64,
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
    backend: &OpenedDevice,
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
    let input = InputSpec::fashion_mnist(trial.image_size);
    backend.check_fits(&model.analyze(input)?, trial.batch_size)?;
    let plan = BatchPlan { batch_size: trial.batch_size, image_size: trial.image_size, seed: 0 };
    let batches: Vec<Batch> = (0..trial.warmup + trial.steps)
        .map(|step| {
            let indices: Vec<usize> =
                (0..trial.batch_size).map(|i| (step * trial.batch_size + i) % data.len()).collect();
            plan.batch(data, &indices)
        })
        .collect();
    // The book's plain SGD: what the benchmark's peers run.
    let mut trainer = Trainer::new(&TrainSpec::new(model.clone(), trial.image_size), &backend.device)?;
    for batch in &batches[..trial.warmup] {
        trainer.step(batch, LEARNING_RATE).await?;
    }
    let started = Instant::now();
    let mut host = 0.0;
    for batch in &batches[trial.warmup..] {
        let step_started = Instant::now();
        let summary = trainer.enqueue_step(batch, LEARNING_RATE)?;
        host += step_started.elapsed().as_secs_f64();
        read_summary(summary, batch.len()).await?;
        crate::yield_now().await;
    }
    let seconds = started.elapsed().as_secs_f64();
    let examples = (trial.steps * trial.batch_size) as f64;
    Ok(Speed { examples_per_sec: examples / seconds, host_share: host / seconds })
}

/// GFLOP/s of `repeats` products of two `size` x `size` matrices of random values through the
/// linear layers' kernels ([`cnn_kernels::linear`]: on a GPU ours or burn's, as
/// `cnn_kernels::gpu::kernels` says), after one untimed product that compiles them. Timed to the
/// read-back of the last product, which the device runs after the others.
pub async fn matmul(size: usize, repeats: usize, backend: &OpenedDevice) -> Result<f64, TrainError> {
    if size == 0 || repeats == 0 {
        let value = size.min(repeats).to_string();
        return Err(TrainError::Setting { what: "the matrix size and the repeats", rule: "at least 1", value });
    }
    let device = backend.device.clone().without_autodiff();
    let random = || Tensor::<2>::random([size, size], Distribution::Uniform(-1.0, 1.0), &device);
    let (a, b) = (random(), random());
    let corner = |product: Tensor<2>| read(product.slice([0..1, 0..1]));
    corner(cnn_kernels::linear(a.clone(), b.clone(), None)).await?;
    let started = Instant::now();
    let mut last = None;
    for _ in 0..repeats {
        last = Some(cnn_kernels::linear(a.clone(), b.clone(), None));
    }
    if let Some(last) = last {
        corner(last).await?;
    }
    let flops = 2.0 * (size as f64).powi(3) * repeats as f64;
    Ok(flops / started.elapsed().as_secs_f64() / 1e9)
}

/// The device for [`BackendKind::Auto`], and a sentence saying why it was chosen: the CPU where
/// there is no GPU or only a software one (tens of times slower than burn's CPU backend), else
/// whichever trains `model` faster in a short trial on `data`.
pub async fn choose(
    model: &ModelSpec,
    image_size: usize,
    batch_size: usize,
    data: &Dataset,
) -> Result<(OpenedDevice, String), TrainError> {
    let cpu = OpenedDevice::open(BackendKind::Cpu).await?;
    // Natively Vulkan first (SPIR-V), where the build has it; else wgpu's own pick.
    let opened = match OpenedDevice::open(BackendKind::Vulkan).await {
        Ok(vulkan) => Ok(vulkan),
        Err(_) => OpenedDevice::open(BackendKind::Wgpu).await,
    };
    let gpu = match opened {
        Ok(gpu) if !gpu.software => gpu,
        Ok(_) => {
            return Ok((
                cpu,
                "The only GPU here is a software adapter, far slower than the CPU, so the CPU trains.".into(),
            ));
        }
        Err(TrainError::NoGpu(detail)) => {
            return Ok((cpu, format!("There is no GPU to use here ({detail}), so the CPU trains.")));
        }
        Err(e) => return Err(e),
    };
    // The GPU's warm-up step compiles its kernels. The CPU needs none, and a few examples tell its
    // speed, so a large model does not keep the learner waiting on a slow CPU step.
    let gpu_trial = Trial { image_size, batch_size, warmup: 1, steps: 2 };
    let cpu_trial = Trial { image_size, batch_size: batch_size.min(8), warmup: 0, steps: 1 };
    let on_gpu = match measure(model, gpu_trial, data, &gpu).await {
        Ok(speed) => speed.examples_per_sec,
        Err(too_large @ TrainError::TooLarge { .. }) => return Ok((cpu, format!("The CPU trains: {too_large}."))),
        Err(e) => return Err(e),
    };
    let on_cpu = measure(model, cpu_trial, data, &cpu).await?.examples_per_sec;
    let trial = format!("in a short trial the GPU trained {on_gpu:.0} examples/s and the CPU {on_cpu:.0}");
    Ok(if on_gpu >= on_cpu {
        (gpu, format!("The GPU trains: {trial}."))
    } else {
        (cpu, format!("The CPU trains: {trial}."))
    })
}
