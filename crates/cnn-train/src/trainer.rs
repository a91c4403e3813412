use burn::nn::loss::{CrossEntropyLoss, CrossEntropyLossConfig};
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use cnn_data::Batch;
use cnn_models::{InputSpec, Model};

use std::sync::Mutex;

use burn::tensor::Bytes;

use crate::checkpoint::{CheckpointError, load_weights};
use crate::readback;
use crate::{TrainError, TrainSpec};

/// Loss and accuracy of one batch (a mean over its examples).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepStats {
    pub loss: f32,
    pub correct: usize,
    pub examples: usize,
}

impl StepStats {
    pub fn accuracy(&self) -> f32 {
        accuracy(self.correct, self.examples)
    }
}

/// The share of `examples` classified right (0 of none).
pub fn accuracy(correct: usize, examples: usize) -> f32 {
    correct as f32 / examples.max(1) as f32
}

static DRAWING_WEIGHTS: Mutex<()> = Mutex::new(());

/// What a step that failed halfway leaves: no model, and this for everything asked of it after.
fn failed_before() -> TrainError {
    TrainError::Device("an earlier step failed".into())
}

/// A model with its optimiser on one device.
pub struct Trainer {
    model: Option<Model>,
    optim: ModuleOptimizer,
    /// With the recipe's label smoothing; evaluation measures the plain cross-entropy, so that
    /// test losses compare across recipes.
    train_loss: CrossEntropyLoss,
    loss: CrossEntropyLoss,
    device: Device,
}

impl Trainer {
    /// The model of `spec` with fresh weights drawn from `spec.seed`, and `spec`'s optimiser.
    pub fn new(spec: &TrainSpec, device: &Device) -> Result<Self, TrainError> {
        spec.check_recipe()?;
        let smoothing = (spec.label_smoothing > 0.0).then_some(spec.label_smoothing as f32);
        let model = {
            // burn keeps one generator per backend for the whole process: two trainers made at
            // once (the test harness's threads) would interleave their draws, and each would get
            // weights its seed does not give alone.
            let _drawing = DRAWING_WEIGHTS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            device.seed(spec.seed);
            spec.model.init(InputSpec::fashion_mnist(spec.image_size), device)?
        };
        Ok(Self {
            model: Some(model),
            optim: spec.optimizer.init(spec.weight_decay),
            train_loss: CrossEntropyLossConfig::new().with_smoothing(smoothing).init(device),
            loss: CrossEntropyLossConfig::new().init(device),
            device: device.clone(),
        })
    }

    /// The model, for looking inside it.
    pub(crate) fn model(&self) -> Result<&Model, TrainError> {
        self.model.as_ref().ok_or_else(failed_before)
    }

    /// A copy of the model to load weights into, where a failed step left one.
    fn model_to_load(&self) -> Result<Model, CheckpointError> {
        self.model.clone().ok_or_else(|| CheckpointError::Weights("the model is gone".into()))
    }

    pub(crate) fn device(&self) -> &Device {
        &self.device
    }

    /// Learnable parameters, as the layer table counts them.
    pub fn num_params(&self) -> usize {
        self.model.as_ref().map_or(0, Model::learnable_params)
    }

    /// One optimiser step on `batch` at `learning_rate`; the loss and accuracy are those before
    /// the update.
    pub async fn step(&mut self, batch: &Batch, learning_rate: f64) -> Result<StepStats, TrainError> {
        let summary = self.enqueue_step(batch, learning_rate)?;
        read_summary(summary, batch.len()).await
    }

    /// A step's work handed to the device, without waiting for it: the loss and the number of
    /// correct answers, still on the device. The benchmark times this part apart.
    pub(crate) fn enqueue_step(&mut self, batch: &Batch, learning_rate: f64) -> Result<Tensor<1>, TrainError> {
        let model = self.model.take().ok_or_else(failed_before)?;
        let (images, labels) = tensors(batch, &self.device);
        let logits = model.forward(images);
        let loss = self.train_loss.forward(logits.clone(), labels.clone());
        let correct = logits.argmax(1).squeeze_dim::<1>(1).equal(labels).int().sum().float();
        let summary = Tensor::cat(vec![loss.clone().detach(), correct.detach()], 0);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        self.model = Some(self.optim.step(learning_rate, model, grads));
        Ok(summary)
    }

    /// The weights and the optimiser's state as burnpack bytes, for a checkpoint; read back
    /// asynchronously ([`crate::readback`]), as WebGPU in a browser requires.
    pub async fn save_state(&self) -> Result<(Vec<u8>, Vec<u8>), TrainError> {
        let model = self.model()?;
        Ok((readback::weight_bytes(model).await?, readback::optimizer_bytes(&self.optim).await?))
    }

    /// Replaces the weights and the optimiser's state with a checkpoint's; on an error nothing
    /// changes.
    pub fn load_state(&mut self, weights: &[u8], optimizer: &[u8]) -> Result<(), CheckpointError> {
        let model = load_weights(self.model_to_load()?, weights)?;
        let optim = self
            .optim
            .clone()
            .from_bytes(Bytes::from_bytes_vec(optimizer.to_vec()))
            .map_err(|e| CheckpointError::Optimizer(e.to_string()))?;
        (self.model, self.optim) = (Some(model), optim);
        Ok(())
    }

    /// The weights of a checkpoint, without its optimiser's state: enough to evaluate.
    pub fn load_weights(&mut self, weights: &[u8]) -> Result<(), CheckpointError> {
        self.model = Some(load_weights(self.model_to_load()?, weights)?);
        Ok(())
    }

    /// The class probabilities (the softmax of the logits) of every image in `batches`, image
    /// after image, without dropout or gradient tracking.
    pub async fn probabilities(&self, batches: impl IntoIterator<Item = Batch>) -> Result<Vec<f32>, TrainError> {
        let model = self.model()?.valid();
        let device = self.device.clone().without_autodiff();
        let mut out = Vec::new();
        for batch in batches {
            let (images, _) = tensors(&batch, &device);
            out.extend(read(burn::tensor::activation::softmax(model.forward(images), 1)).await?);
            crate::yield_now().await;
        }
        Ok(out)
    }

    /// Mean loss and accuracy over `batches` without dropout or gradient tracking.
    pub async fn evaluate(&self, batches: impl IntoIterator<Item = Batch>) -> Result<StepStats, TrainError> {
        let model = self.model()?.valid();
        let device = self.device.clone().without_autodiff();
        let mut total = StepStats { loss: 0.0, correct: 0, examples: 0 };
        for batch in batches {
            let (images, labels) = tensors(&batch, &device);
            let logits = model.forward(images);
            let loss = self.loss.forward(logits.clone(), labels.clone());
            let correct = logits.argmax(1).squeeze_dim::<1>(1).equal(labels).int().sum().float();
            let stats = read_summary(Tensor::cat(vec![loss, correct], 0), batch.len()).await?;
            total.loss += stats.loss * stats.examples as f32;
            total.correct += stats.correct;
            total.examples += stats.examples;
            crate::yield_now().await;
        }
        if total.examples > 0 {
            total.loss /= total.examples as f32;
        }
        Ok(total)
    }
}

fn tensors(batch: &Batch, device: &Device) -> (Tensor<4>, Tensor<1, Int>) {
    let n = batch.len();
    let images = TensorData::new(batch.images.clone(), [n, 1, batch.size, batch.size]);
    let labels = TensorData::new(batch.labels.clone(), [n]);
    (Tensor::from_data(images, device), Tensor::from_data(labels, device))
}

/// A tensor's values, read back asynchronously (a synchronous read panics on WebGPU in a browser).
pub(crate) async fn read<const D: usize>(tensor: Tensor<D>) -> Result<Vec<f32>, TrainError> {
    let data = tensor.into_data_async().await.map_err(readback::execution)?;
    data.convert::<f32>().try_into_vec::<f32>().map_err(readback::data_error)
}

/// One read-back per batch: `[mean loss, correct count]`.
pub(crate) async fn read_summary(summary: Tensor<1>, examples: usize) -> Result<StepStats, TrainError> {
    let values = read(summary).await?;
    Ok(StepStats { loss: values[0], correct: values[1].round() as usize, examples })
}
