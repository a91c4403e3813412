//! A checkpoint's model for PyTorch: its weights as safetensors in PyTorch's layout (linear
//! weights transposed, batch norm's `gamma`/`beta` named `weight`/`bias`), with the settings in
//! the file's metadata, and logits of real test images to check a loaded copy against
//! (`dev/torch_check.py` does, with d2l's PyTorch code).

#[cfg(not(target_arch = "wasm32"))]
use std::path::Path;

use burn::prelude::*;
use burn_store::{BurnToPyTorchAdapter, ModuleSnapshot, SafetensorsStore};
#[cfg(not(target_arch = "wasm32"))]
use cnn_data::{BatchPlan, Dataset};
use cnn_models::Model;
#[cfg(not(target_arch = "wasm32"))]
use serde::Serialize;

use crate::{Checkpoint, TrainError};

/// `store` set up for PyTorch's layout, with the run's settings in the file's metadata.
fn for_pytorch(store: SafetensorsStore, checkpoint: &Checkpoint) -> SafetensorsStore {
    let spec = serde_json::to_string(&checkpoint.spec).unwrap_or_default();
    store.with_to_adapter(BurnToPyTorchAdapter).skip_enum_variants(true).metadata("cnn-playground.spec", spec)
}

/// The checkpoint's weights as a safetensors file's bytes (what the page downloads), made on
/// `device` (the CPU's: reading the tensors back must not wait on a GPU).
pub fn safetensors(checkpoint: &Checkpoint, device: &Device) -> Result<Vec<u8>, TrainError> {
    let model: Model = checkpoint.model(device)?;
    let mut store = for_pytorch(SafetensorsStore::from_bytes(None), checkpoint);
    let failed =
        |e: burn_store::SafetensorsStoreError| TrainError::Export(format!("the safetensors cannot be made: {e}"));
    model.save_into(&mut store).map_err(failed)?;
    store.get_bytes().map_err(failed)
}

/// What a loaded copy must reproduce: the images as the model saw them and its logits.
#[cfg(not(target_arch = "wasm32"))]
#[derive(Debug, Clone, Serialize)]
pub struct Reference {
    /// `[n, 1, size, size]`, resized and normalised.
    pub shape: [usize; 4],
    pub images: Vec<f32>,
    pub labels: Vec<i64>,
    /// `[n, classes]`, row by row.
    pub logits: Vec<f32>,
}

/// Writes the checkpoint's weights to `path` as safetensors, keys in the module's order
/// (`nodes.3.weight`, ...), and returns the logits of the first `n` images of `test`, computed on
/// `device` (one without autodiff, so that dropout is off).
#[cfg(not(target_arch = "wasm32"))]
pub fn export_safetensors(
    checkpoint: &Checkpoint,
    path: &Path,
    test: &Dataset,
    n: usize,
    device: &Device,
) -> Result<Reference, TrainError> {
    let model: Model = checkpoint.model(device)?;
    let mut store = for_pytorch(SafetensorsStore::from_file(path), checkpoint).overwrite(true);
    model.save_into(&mut store).map_err(|e| TrainError::Export(format!("cannot write {}: {e}", path.display())))?;

    let size = checkpoint.spec.image_size;
    let n = n.min(test.len());
    let plan = BatchPlan { batch_size: n.max(1), image_size: size, seed: 0 };
    let batch = plan.batch(test, &(0..n).collect::<Vec<_>>());
    let images = Tensor::from_data(TensorData::new(batch.images.clone(), [n, 1, size, size]), device);
    let logits = model.forward(images).into_data().convert::<f32>();
    let logits = logits.try_into_vec::<f32>().map_err(|e| TrainError::Device(format!("{e:?}")))?;
    Ok(Reference { shape: [n, 1, size, size], images: batch.images, labels: batch.labels, logits })
}
