//! What a trained network sees in one picture: its ten class probabilities, the maps any layer
//! makes of it, the first layer's filters, which pixels move the class score most (saliency: the
//! gradient of the score with respect to the input) and, for networks that end in global average
//! pooling, where in the picture the class was found (class activation maps).
//!
//! The maps are computed with one forward and one backward pass of the model, frozen (batch
//! norm's running statistics, no dropout, no parameter gradients), on the device it trained on.

use burn::prelude::*;
use burn::tensor::activation::softmax;
use cnn_data::Dataset;
use serde::{Deserialize, Serialize};

use crate::inspect::{CLASSES, most_likely};
use crate::run::trained;
use crate::trainer::read;
use crate::{Checkpoint, OpenedDevice, TrainError};

/// Maps of one size, map after map and row by row, each scaled for the eye to 0..=255 (see
/// [`GreyMaps::stretched`] and [`GreyMaps::from_zero`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GreyMaps {
    pub count: usize,
    pub height: usize,
    pub width: usize,
    pub grey: Vec<u8>,
}

impl GreyMaps {
    /// Each map from its least value (black) to its largest (white); a flat map is black.
    pub fn stretched(values: &[f32], count: usize, height: usize, width: usize) -> Self {
        Self::scaled(values, count, height, width, |map| {
            let low = map.iter().copied().fold(f32::INFINITY, f32::min);
            (low, map.iter().copied().fold(f32::NEG_INFINITY, f32::max))
        })
    }

    /// Each map from zero (black; what is below zero too) to its largest value (white), so that
    /// a zero stays black whatever else the map holds.
    pub fn from_zero(values: &[f32], count: usize, height: usize, width: usize) -> Self {
        Self::scaled(values, count, height, width, |map| (0.0, map.iter().copied().fold(0.0, f32::max)))
    }

    fn scaled(values: &[f32], count: usize, height: usize, width: usize, range: impl Fn(&[f32]) -> (f32, f32)) -> Self {
        let mut grey = Vec::with_capacity(values.len());
        for map in values.chunks(height * width) {
            let (low, high) = range(map);
            let span = if high > low { high - low } else { f32::INFINITY };
            grey.extend(map.iter().map(|v| (255.0 * ((v - low) / span).clamp(0.0, 1.0)).round() as u8));
        }
        Self { count, height, width, grey }
    }

    /// Map `i`'s pixels.
    pub fn map(&self, i: usize) -> &[u8] {
        &self.grey[i * self.height * self.width..(i + 1) * self.height * self.width]
    }
}

/// What to look at besides the probabilities.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ExplainRequest {
    /// The class whose score the saliency and the activation map explain; the predicted one
    /// where absent.
    pub class: Option<usize>,
    /// The analysis row whose feature maps to show.
    pub row: Option<usize>,
}

/// What the network makes of one picture.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Explanation {
    pub probabilities: Vec<f32>,
    /// The class explained.
    pub class: usize,
    /// The picture as the network gets it (one map at the run's image size).
    pub picture: GreyMaps,
    /// How much each pixel moves the class's score: the gradient's magnitude.
    pub saliency: GreyMaps,
    /// Where the class was found, at the resolution of the maps the global pooling averages;
    /// none for a network that does not end in global average pooling.
    pub activation: Option<GreyMaps>,
    /// The asked row's output channels.
    pub features: Option<GreyMaps>,
}

/// Test image `index` as a checkpoint's model takes it (resized to its image size, normalised).
pub fn test_picture(checkpoint: &Checkpoint, test: &Dataset, index: usize) -> Result<Vec<f32>, TrainError> {
    if index >= test.len() {
        let rule = "one of the loaded test images (counted from 0)";
        return Err(TrainError::Setting { what: "the test image", rule, value: index.to_string() });
    }
    let spec = &checkpoint.spec;
    let plan = cnn_data::BatchPlan { batch_size: 1, image_size: spec.image_size, seed: spec.seed };
    Ok(plan.batch(test, &[index]).images)
}

/// What the checkpoint's model makes of `picture` (`size * size` normalised values at its image
/// size, as [`test_picture`] and [`cnn_data::convert`] give them).
pub async fn explain(
    checkpoint: &Checkpoint,
    picture: &[f32],
    request: ExplainRequest,
    backend: &OpenedDevice,
) -> Result<Explanation, TrainError> {
    let spec = &checkpoint.spec;
    let size = spec.image_size;
    if picture.len() != size * size {
        let (rule, value) = ("one value per pixel at the run's image size", format!("{} values", picture.len()));
        return Err(TrainError::Setting { what: "the picture", rule, value });
    }
    let analysis = spec.check()?;
    if let Some(row) = request.row.filter(|&row| row >= analysis.rows.len()) {
        let rule = "a row of the layer table";
        return Err(TrainError::Setting { what: "the layer", rule, value: format!("row {row}") });
    }
    if let Some(class) = request.class.filter(|&class| class >= CLASSES) {
        return Err(TrainError::Setting { what: "the class", rule: "0 to 9", value: class.to_string() });
    }
    let (trainer, _) = trained(checkpoint, backend)?;
    let model = trainer.model()?.clone().freeze();
    let image = || Tensor::<4>::from_data(TensorData::new(picture.to_vec(), [1, 1, size, size]), trainer.device());
    let features = match request.row {
        Some(row) => {
            let inner = trainer.device().clone().without_autodiff();
            let maps = trainer.model()?.valid().feature_maps(image().to_device(&inner), row);
            let maps = maps.ok_or_else(|| TrainError::Device(format!("row {row} was not reached")))?;
            let [_, c, h, w] = maps.dims();
            Some(GreyMaps::stretched(&read(maps).await?, c, h, w))
        }
        None => None,
    };

    let images = image().require_grad();
    let logits = model.forward(images.clone());
    let probabilities = read(softmax(logits.clone().detach(), 1)).await?;
    let class = request.class.unwrap_or_else(|| most_likely(&probabilities).0);
    let grads = logits.slice([0..1, class..class + 1]).sum().backward();
    let gradient = images.grad(&grads).ok_or_else(|| TrainError::Device("the input got no gradient".into()))?;
    let saliency: Vec<f32> = read(gradient).await?.iter().map(|g| g.abs()).collect();
    // A second pass, cut at the pooled maps: the gradient stops there, so the first pass could
    // not have given the input's.
    let activation = match analysis.pooled_row() {
        Some(row) => {
            let (logits, maps) = model.forward_with_leaf(image(), row);
            let maps = maps.ok_or_else(|| TrainError::Device(format!("row {row} was not reached")))?;
            let grads = logits.slice([0..1, class..class + 1]).sum().backward();
            let [_, c, h, w] = maps.dims();
            let gradient = maps.grad(&grads).ok_or_else(|| TrainError::Device("the maps got no gradient".into()))?;
            let cam = activation_map(&read(maps.detach()).await?, &read(gradient).await?, c, h * w);
            Some(GreyMaps::from_zero(&cam, 1, h, w))
        }
        None => None,
    };
    Ok(Explanation {
        probabilities,
        class,
        picture: GreyMaps::stretched(picture, 1, size, size),
        saliency: GreyMaps::from_zero(&saliency, 1, size, size),
        activation,
        features,
    })
}

/// The first convolution's filters, one map per (output, input) channel pair.
pub async fn filters(checkpoint: &Checkpoint, backend: &OpenedDevice) -> Result<GreyMaps, TrainError> {
    let (trainer, _) = trained(checkpoint, backend)?;
    let weights = trainer.model()?.valid().first_filters();
    let weights = weights.ok_or_else(|| TrainError::Device("this network has no convolution".into()))?;
    let [out, channels, h, w] = weights.dims();
    Ok(GreyMaps::stretched(&read(weights).await?, out * channels, h, w))
}

/// Class activation map from `channels` maps of `pixels` values and the class score's gradient
/// with respect to them. Where a linear layer follows the global average pooling, each channel's
/// gradient is that layer's weight for the class (over the pixels), the same at every pixel, and
/// this is CAM (Zhou et al. 2016) exactly; for any other head it is Grad-CAM (Selvaraju et al.
/// 2017). Negative evidence is cut at zero, as both do.
fn activation_map(maps: &[f32], gradient: &[f32], channels: usize, pixels: usize) -> Vec<f32> {
    let mut cam = vec![0.0; pixels];
    for c in 0..channels {
        let (map, grad) = (&maps[c * pixels..(c + 1) * pixels], &gradient[c * pixels..(c + 1) * pixels]);
        let weight = grad.iter().sum::<f32>() / pixels as f32;
        cam.iter_mut().zip(map).for_each(|(out, v)| *out += weight * v);
    }
    cam.iter().map(|v| v.max(0.0)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    use cnn_models::{InputSpec, ModelSpec};

    use crate::{BackendKind, TrainSpec, Trainer};

    /// A checkpoint of `model`'s freshly drawn weights, with the CPU backend.
    fn fresh(model: ModelSpec, size: usize) -> (Checkpoint, OpenedDevice) {
        let cpu = pollster::block_on(OpenedDevice::open(BackendKind::Cpu)).unwrap();
        let spec = TrainSpec::new(model, size);
        let (weights, optimizer) = pollster::block_on(Trainer::new(&spec, &cpu.device).unwrap().save_state()).unwrap();
        (Checkpoint { spec, epoch: 0, history: vec![], images: None, weights, optimizer, verified: false }, cpu)
    }

    #[test]
    fn saliency_is_zero_where_the_input_cannot_reach() {
        // A 1x1 convolution with stride 2 reads only the pixels in even rows and columns.
        let model = serde_json::from_str(
            r#"{"kind":"alexnet","convs":[{"channels":8,"kernel":1,"stride":2,"padding":0,"pool":false}],
                "head":[16],"dropout":0.0}"#,
        )
        .unwrap();
        let (checkpoint, cpu) = fresh(model, 8);
        let look = pollster::block_on(explain(&checkpoint, &[0.5; 64], ExplainRequest::default(), &cpu)).unwrap();
        let map = look.saliency.map(0);
        for (i, &value) in map.iter().enumerate() {
            let (y, x) = (i / 8, i % 8);
            if y % 2 == 1 || x % 2 == 1 {
                assert_eq!(value, 0, "pixel ({y}, {x}) is never read");
            }
        }
        assert!(map.iter().any(|&v| v > 0), "the pixels that are read move the score: {map:?}");
        assert!((look.probabilities.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        assert_eq!(look.activation, None, "no global average pooling, no activation map");
    }

    #[test]
    fn a_pooled_network_gets_an_activation_map_and_any_rows_feature_maps() {
        let model = ModelSpec::preset("resnet-small").unwrap();
        let analysis = model.analyze(InputSpec::fashion_mnist(64)).unwrap();
        let (checkpoint, cpu) = fresh(model, 64);
        let picture: Vec<f32> = (0..64 * 64).map(|i| (i % 64) as f32 / 64.0).collect();
        let request = ExplainRequest { class: Some(3), row: Some(2) };
        let look = pollster::block_on(explain(&checkpoint, &picture, request, &cpu)).unwrap();
        assert_eq!(look.class, 3);
        let [_, h, w] = analysis.rows[analysis.pooled_row().unwrap()].shape;
        let cam = look.activation.unwrap();
        assert_eq!((cam.count, cam.height, cam.width, cam.grey.len()), (1, h, w, h * w));
        assert!(h > 1, "at 64 px the pooled maps have a place to point at");
        assert!(cam.grey.contains(&255), "scaled to its largest value: {:?}", cam.grey);
        let [c, h, w] = analysis.rows[2].shape;
        let features = look.features.unwrap();
        assert_eq!((features.count, features.height, features.width, features.grey.len()), (c, h, w, c * h * w));
        assert_eq!(look.picture.map(0)[..3], [0, 4, 8]);

        let filters = pollster::block_on(filters(&checkpoint, &cpu)).unwrap();
        let first = &analysis.rows[0];
        assert_eq!(
            (filters.count, filters.height * filters.width),
            (first.shape[0], first.params / first.shape[0] - 1)
        );
    }

    #[test]
    fn bad_asks_get_sentences() {
        let (checkpoint, cpu) = fresh(ModelSpec::preset("resnet-small").unwrap(), 28);
        let request =
            |row, class| pollster::block_on(explain(&checkpoint, &[0.0; 784], ExplainRequest { class, row }, &cpu));
        let err = request(Some(999), None).unwrap_err().to_string();
        assert_eq!(err, "the layer must be a row of the layer table, got row 999");
        assert_eq!(request(None, Some(10)).unwrap_err().to_string(), "the class must be 0 to 9, got 10");
        let err = pollster::block_on(explain(&checkpoint, &[0.0; 100], ExplainRequest::default(), &cpu)).unwrap_err();
        assert_eq!(err.to_string(), "the picture must be one value per pixel at the run's image size, got 100 values");
    }

    #[test]
    fn maps_are_scaled_each_on_its_own() {
        let maps = GreyMaps::stretched(&[1.0, 3.0, 2.0, 2.0, -4.0, 0.0, 4.0, 0.0], 2, 2, 2);
        assert_eq!(maps.map(0), [0, 255, 128, 128]);
        assert_eq!(maps.map(1), [0, 128, 255, 128]);
        assert_eq!(GreyMaps::stretched(&[5.0; 4], 1, 2, 2).grey, [0; 4]);
        assert_eq!(GreyMaps::from_zero(&[0.0, 2.0, -1.0, 1.0], 1, 2, 2).grey, [0, 255, 0, 128]);
    }

    #[test]
    fn the_activation_map_weighs_each_channel_by_its_mean_gradient() {
        // Two channels of two pixels; gradients average to 0.5 and -1.
        let cam = activation_map(&[2.0, 4.0, 1.0, 1.0], &[0.5, 0.5, -2.0, 0.0], 2, 2);
        assert_eq!(cam, [0.0, 1.0]);
    }
}
