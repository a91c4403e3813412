use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use cnn_data::{Augment, BatchPlan, Dataset};
use cnn_models::{Analysis, InputSpec, ModelSpec};
use serde::{Deserialize, Serialize};
use web_time::{Duration, Instant};

use crate::checkpoint::Checkpoint;
use crate::recipe::{Optimizer, Schedule};
use crate::{OpenedDevice, StepStats, TrainError, Trainer, accuracy, yield_now};

/// The most bytes a run spends on copies of its images resized once (see [`Dataset::resized`]);
/// a page's worker shares a 4 GB address space with the model.
#[cfg(target_arch = "wasm32")]
const RESIZED_BUDGET: usize = 512 << 20;
#[cfg(not(target_arch = "wasm32"))]
const RESIZED_BUDGET: usize = 4 << 30;

/// Everything that decides a run, so that a run can be repeated exactly. The recipe's fields may
/// be left out of the JSON: they default to the book's plain SGD at a constant rate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainSpec {
    pub model: ModelSpec,
    pub image_size: usize,
    pub batch_size: usize,
    /// The peak rate; the schedule and the warm-up scale it at every step.
    pub learning_rate: f64,
    pub epochs: usize,
    pub seed: u64,
    #[serde(default)]
    pub optimizer: Optimizer,
    #[serde(default)]
    pub weight_decay: f64,
    #[serde(default)]
    pub schedule: Schedule,
    /// Epochs (a fraction is fine) over which the rate climbs linearly to `learning_rate`.
    #[serde(default)]
    pub warmup_epochs: f64,
    #[serde(default)]
    pub augment: Augment,
    #[serde(default)]
    pub label_smoothing: f64,
}

/// A loss above this stopped meaning anything (chance on 10 classes is 2.3): the run diverged.
const EXPLODED_LOSS: f32 = 50.0;

impl TrainSpec {
    pub fn new(model: ModelSpec, image_size: usize) -> Self {
        Self {
            model,
            image_size,
            batch_size: 32,
            learning_rate: 0.01,
            epochs: 1,
            seed: 0,
            optimizer: Optimizer::default(),
            weight_decay: 0.0,
            schedule: Schedule::Constant,
            warmup_epochs: 0.0,
            augment: Augment::default(),
            label_smoothing: 0.0,
        }
    }

    pub(crate) fn check(&self) -> Result<Analysis, TrainError> {
        let setting = |what, value: usize| TrainError::Setting { what, rule: "at least 1", value: value.to_string() };
        if self.batch_size == 0 {
            return Err(setting("the batch size", self.batch_size));
        }
        if self.epochs == 0 {
            return Err(setting("the number of epochs", self.epochs));
        }
        self.check_recipe()?;
        Ok(self.model.analyze(InputSpec::fashion_mnist(self.image_size))?)
    }
}

/// Asks a run to stop after its current step, or to wait there until it is let go on (a pause);
/// clones share the flags.
#[derive(Debug, Clone, Default)]
pub struct RunControl {
    stop: Arc<AtomicBool>,
    paused: Arc<AtomicBool>,
}

impl RunControl {
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    pub fn is_stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Holds the run after its current step (`true`) or lets it go on (`false`).
    pub fn pause(&self, paused: bool) {
        self.paused.store(paused, Ordering::Relaxed);
    }

    pub fn is_paused(&self) -> bool {
        self.paused.load(Ordering::Relaxed)
    }

    /// Waits while the run is paused and not cancelled; how long it waited. In a browser the
    /// worker's messages (the one that lets it go on) come in between the waits.
    async fn wait_while_paused(&self) -> Duration {
        let since = Instant::now();
        while self.is_paused() && !self.is_stopped() {
            #[cfg(target_arch = "wasm32")]
            gloo_timers::future::TimeoutFuture::new(50).await;
            #[cfg(not(target_arch = "wasm32"))]
            std::thread::sleep(Duration::from_millis(20));
        }
        since.elapsed()
    }
}

/// serde_json writes a float that is not finite (a test loss that overflowed) as `null`, and
/// refuses `null` where it reads a float: a stored run or a worker's message holding one would
/// not read back. These read `null` as NaN, what it was.
mod null_is_nan {
    use serde::{Deserialize, Deserializer};

    pub fn f32<'de, D: Deserializer<'de>>(d: D) -> Result<f32, D::Error> {
        Ok(Option::<f32>::deserialize(d)?.unwrap_or(f32::NAN))
    }

    pub fn f64<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochStats {
    pub epoch: usize,
    #[serde(deserialize_with = "null_is_nan::f32")]
    pub train_loss: f32,
    #[serde(deserialize_with = "null_is_nan::f32")]
    pub train_accuracy: f32,
    #[serde(deserialize_with = "null_is_nan::f32")]
    pub test_loss: f32,
    #[serde(deserialize_with = "null_is_nan::f32")]
    pub test_accuracy: f32,
    /// Training examples per second, evaluation excluded.
    #[serde(deserialize_with = "null_is_nan::f64")]
    pub examples_per_sec: f64,
    #[serde(deserialize_with = "null_is_nan::f64")]
    pub seconds: f64,
}

/// One training step as the loop reports it: where the run stands, the running means over the
/// epoch so far, and this step's batch alone.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StepReport {
    pub epoch: usize,
    pub step: usize,
    pub steps: usize,
    #[serde(deserialize_with = "null_is_nan::f32")]
    pub loss: f32,
    #[serde(deserialize_with = "null_is_nan::f32")]
    pub accuracy: f32,
    #[serde(deserialize_with = "null_is_nan::f32")]
    pub batch_loss: f32,
    #[serde(deserialize_with = "null_is_nan::f32")]
    pub batch_accuracy: f32,
    /// The epoch's mean speed up to this step.
    #[serde(deserialize_with = "null_is_nan::f64")]
    pub examples_per_sec: f64,
    /// The rate this step trained with, as the schedule set it.
    #[serde(deserialize_with = "null_is_nan::f64")]
    pub learning_rate: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Event {
    Started { params: usize, train_images: usize, test_images: usize, steps_per_epoch: usize },
    Step(StepReport),
    Evaluating { epoch: usize },
    Epoch(EpochStats),
    Cancelled,
}

/// Loss and accuracy of `trainer`'s model on every image of `test`, in `plan`'s batches.
async fn measure(
    trainer: &Trainer,
    plan: &BatchPlan,
    test: &Dataset,
    control: &RunControl,
) -> Result<StepStats, TrainError> {
    let order: Vec<usize> = (0..test.len()).collect();
    // Measuring on a slow device takes minutes: a cancel must stop it too.
    let batches = plan.chunks(&order).into_iter().take_while(|_| !control.is_stopped());
    trainer.evaluate(batches.map(|ix| plan.batch(test, &ix))).await
}

/// The loss and accuracy on `test` of the model a checkpoint holds, at its settings' image size.
/// Only its weights are loaded: the optimiser's state plays no part (and in a browser's WebGPU
/// worker could not be loaded, see [`crate::backend::check_resumes_on`]).
pub async fn evaluate(
    checkpoint: &Checkpoint,
    test: &Dataset,
    backend: &OpenedDevice,
) -> Result<StepStats, TrainError> {
    let (trainer, plan, resized) = with_weights(checkpoint, test, backend)?;
    measure(&trainer, &plan, resized.as_ref().unwrap_or(test), &RunControl::default()).await
}

/// What measuring a checkpoint's model starts from: the model with its weights (not the
/// optimiser's state) on `backend`, its settings' batches, and `test` resized to its image size
/// (none where it has that size already).
pub(crate) fn with_weights(
    checkpoint: &Checkpoint,
    test: &Dataset,
    backend: &OpenedDevice,
) -> Result<(Trainer, BatchPlan, Option<Dataset>), TrainError> {
    if test.is_empty() {
        return Err(TrainError::NoData("test"));
    }
    let (trainer, plan) = trained(checkpoint, backend)?;
    Ok((trainer, plan, test.resized(checkpoint.spec.image_size, RESIZED_BUDGET)))
}

/// A checkpoint's model with its weights on `backend`, and its settings' batches.
pub(crate) fn trained(checkpoint: &Checkpoint, backend: &OpenedDevice) -> Result<(Trainer, BatchPlan), TrainError> {
    let spec = &checkpoint.spec;
    backend.check_fits(&spec.check()?, spec.batch_size)?;
    let mut trainer = Trainer::new(spec, &backend.device)?;
    trainer.load_weights(&checkpoint.weights)?;
    Ok((trainer, BatchPlan { batch_size: spec.batch_size, image_size: spec.image_size, seed: spec.seed }))
}

/// A run's checkpoints: the one it resumes from, and who keeps a new one after every epoch.
#[derive(Default)]
pub struct Checkpoints<'a> {
    pub resume: Option<Checkpoint>,
    pub keep: Option<Box<dyn FnMut(Checkpoint) + 'a>>,
}

/// The seed of the device's random numbers (dropout) in `epoch`: set afresh every epoch, so that
/// a run resumed at an epoch draws what one that never stopped draws.
fn epoch_seed(seed: u64, epoch: usize) -> u64 {
    seed ^ (epoch as u64).wrapping_mul(0xA24B_AED4_963E_E407)
}

/// Trains `spec.model` on `train` and measures it on `test` after every epoch; a run the device
/// cannot hold is refused before it starts.
pub async fn train(
    spec: &TrainSpec,
    train: &Dataset,
    test: &Dataset,
    backend: &OpenedDevice,
    control: &RunControl,
    on_event: impl FnMut(Event),
) -> Result<Vec<EpochStats>, TrainError> {
    train_from(spec, train, test, backend, control, Checkpoints::default(), on_event).await
}

/// [`train`], resumed from a checkpoint (its epochs are reported first, as `Event::Epoch`) and
/// handing out one after every epoch, as `checkpoints` says.
pub async fn train_from(
    spec: &TrainSpec,
    train: &Dataset,
    test: &Dataset,
    backend: &OpenedDevice,
    control: &RunControl,
    checkpoints: Checkpoints<'_>,
    on_event: impl FnMut(Event),
) -> Result<Vec<EpochStats>, TrainError> {
    match epochs(spec, train, test, backend, control, checkpoints, on_event).await {
        Err(TrainError::Device(why)) => Err(crate::backend::lost_or(why, &backend.device).await),
        done => done,
    }
}

async fn epochs(
    spec: &TrainSpec,
    train: &Dataset,
    test: &Dataset,
    backend: &OpenedDevice,
    control: &RunControl,
    mut checkpoints: Checkpoints<'_>,
    mut on_event: impl FnMut(Event),
) -> Result<Vec<EpochStats>, TrainError> {
    backend.check_fits(&spec.check()?, spec.batch_size)?;
    let device = &backend.device;
    if train.is_empty() {
        return Err(TrainError::NoData("training"));
    }
    if test.is_empty() {
        return Err(TrainError::NoData("test"));
    }
    let plan = BatchPlan { batch_size: spec.batch_size, image_size: spec.image_size, seed: spec.seed };
    let train_resized = train.resized(spec.image_size, RESIZED_BUDGET);
    let spent = train_resized.as_ref().map_or(0, |d| d.images.pixels.len());
    let test_resized = test.resized(spec.image_size, RESIZED_BUDGET - spent);
    let (train, test) = (train_resized.as_ref().unwrap_or(train), test_resized.as_ref().unwrap_or(test));
    let images = (train.len(), test.len());
    let mut trainer = Trainer::new(spec, device)?;
    let (mut history, mut done) = (Vec::new(), 0);
    if let Some(checkpoint) = &checkpoints.resume {
        checkpoint.check_resumes(spec)?;
        checkpoint.check_images(images)?;
        crate::backend::check_resumes_on(backend)?;
        trainer.load_state(&checkpoint.weights, &checkpoint.optimizer)?;
        (history, done) = (checkpoint.history.clone(), checkpoint.epoch);
    }
    let steps = train.len().div_ceil(spec.batch_size);
    on_event(Event::Started {
        params: trainer.num_params(),
        train_images: train.len(),
        test_images: test.len(),
        steps_per_epoch: steps,
    });
    for stats in &history {
        on_event(Event::Epoch(stats.clone()));
    }

    for epoch in done + 1..=spec.epochs {
        device.seed(epoch_seed(spec.seed, epoch));
        let started = Instant::now();
        // Time spent paused counts in neither the speed nor the epoch's seconds.
        let mut paused = Duration::ZERO;
        let (mut loss_sum, mut correct, mut seen) = (0.0f64, 0usize, 0usize);
        for (step, indices) in plan.chunks(&plan.shuffled(train.len(), epoch)).iter().enumerate() {
            if control.is_stopped() {
                on_event(Event::Cancelled);
                return Ok(history);
            }
            let at = (epoch - 1) * steps + step;
            let learning_rate = spec.learning_rate_at(at, steps);
            let mut batch = plan.batch(train, indices);
            // Seeded by the run's seed and the step alone, so that a run resumed at any epoch
            // sees the same crops and flips as one that never stopped.
            spec.augment.apply(&mut batch, spec.seed ^ (at as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03));
            let stats = trainer.step(&batch, learning_rate).await?;
            if !stats.loss.is_finite() || stats.loss > EXPLODED_LOSS {
                return Err(TrainError::Diverged { loss: stats.loss, epoch, step: step + 1, learning_rate });
            }
            loss_sum += f64::from(stats.loss) * stats.examples as f64;
            correct += stats.correct;
            seen += stats.examples;
            on_event(Event::Step(StepReport {
                epoch,
                step: step + 1,
                steps,
                loss: (loss_sum / seen as f64) as f32,
                accuracy: accuracy(correct, seen),
                batch_loss: stats.loss,
                batch_accuracy: stats.accuracy(),
                examples_per_sec: seen as f64 / (started.elapsed() - paused).as_secs_f64(),
                learning_rate,
            }));
            yield_now().await;
            paused += control.wait_while_paused().await;
        }
        let train_seconds = (started.elapsed() - paused).as_secs_f64();
        on_event(Event::Evaluating { epoch });
        let test_stats = measure(&trainer, &plan, test, control).await?;
        if control.is_stopped() {
            on_event(Event::Cancelled);
            return Ok(history);
        }
        let stats = EpochStats {
            epoch,
            train_loss: (loss_sum / seen as f64) as f32,
            train_accuracy: accuracy(correct, seen),
            test_loss: test_stats.loss,
            test_accuracy: test_stats.accuracy(),
            examples_per_sec: seen as f64 / train_seconds,
            seconds: (started.elapsed() - paused).as_secs_f64(),
        };
        on_event(Event::Epoch(stats.clone()));
        history.push(stats);
        if let Some(keep) = &mut checkpoints.keep {
            let (weights, optimizer) = trainer.save_state().await?;
            let images = Some(images);
            keep(Checkpoint {
                spec: spec.clone(),
                epoch,
                history: history.clone(),
                images,
                weights,
                optimizer,
                verified: false,
            });
        }
    }
    Ok(history)
}
