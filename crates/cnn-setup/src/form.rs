//! The training form: what the learner typed (kept across reloads, carried by links), the recipes
//! that fill it in, and its parsing into a run's settings or a sentence saying what is wrong.

use cnn_data::Augment;
use cnn_models::{Analysis, ModelSpec, PRESETS, Preset};
use cnn_train::{BackendKind, Optimizer, Recipe, Schedule, TrainSpec};
use serde::{Deserialize, Serialize};

/// A run to train: its settings and how many of the data set's first images it uses.
#[derive(Clone, Debug, PartialEq)]
pub struct RunRequest {
    pub spec: TrainSpec,
    pub train_images: usize,
    pub test_images: usize,
}

impl RunRequest {
    /// Its training and test images, as a run's record keeps them.
    pub fn images(&self) -> (usize, usize) {
        (self.train_images, self.test_images)
    }
}

/// What the form holds, as typed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Form {
    pub size: String,
    pub train_images: String,
    pub test_images: String,
    pub epochs: String,
    pub batch_size: String,
    pub learning_rate: String,
    /// `sgd`, `momentum`, `nesterov`, `adam` or `adamw`.
    pub optimizer: String,
    pub momentum: String,
    pub weight_decay: String,
    /// `constant`, `step` or `cosine`.
    pub schedule: String,
    /// The step schedule's period (epochs) and factor.
    pub step_every: String,
    pub step_gamma: String,
    pub warmup: String,
    pub crop_padding: String,
    pub flip: bool,
    pub label_smoothing: String,
    pub seed: String,
    /// `auto`, `webgpu` or `cpu`.
    pub backend: String,
}

/// The page's first run: the settings a newcomer gets, chosen to learn visibly within a couple of
/// minutes on a two-core CPU (see the README's figures).
pub const FIRST_MODEL: &str = "resnet-small";
pub const FIRST_SIZE: usize = 28;
const FIRST_TRAIN_IMAGES: usize = 10_000;
const FIRST_TEST_IMAGES: usize = 2_000;

impl Default for Form {
    fn default() -> Self {
        let model = ModelSpec::preset(FIRST_MODEL).unwrap_or_else(|| PRESETS[0].spec());
        let mut form = Form::from_spec(&Recipe::Quick.apply(TrainSpec::new(model, FIRST_SIZE), 0.05));
        form.train_images = FIRST_TRAIN_IMAGES.to_string();
        form.test_images = FIRST_TEST_IMAGES.to_string();
        form
    }
}

fn number<T: std::str::FromStr>(what: &str, text: &str) -> Result<T, String> {
    text.trim().parse().map_err(|_| format!("{what} must be a number, got {text:?}"))
}

impl Form {
    /// The fields of a run's settings (the image counts stay as they are).
    fn from_spec(spec: &TrainSpec) -> Self {
        let (optimizer, momentum) = match spec.optimizer {
            Optimizer::Sgd { momentum: 0.0, .. } => ("sgd", 0.9),
            Optimizer::Sgd { momentum, nesterov: false } => ("momentum", momentum),
            Optimizer::Sgd { momentum, nesterov: true } => ("nesterov", momentum),
            Optimizer::Adam { .. } => ("adam", 0.9),
            Optimizer::AdamW { .. } => ("adamw", 0.9),
        };
        let (schedule, every, gamma) = match spec.schedule {
            Schedule::Constant => ("constant", 3, 0.1),
            Schedule::Step { every, gamma } => ("step", every, gamma),
            Schedule::Cosine => ("cosine", 3, 0.1),
        };
        Form {
            size: spec.image_size.to_string(),
            train_images: "60000".into(),
            test_images: "10000".into(),
            epochs: spec.epochs.to_string(),
            batch_size: spec.batch_size.to_string(),
            learning_rate: spec.learning_rate.to_string(),
            optimizer: optimizer.into(),
            momentum: momentum.to_string(),
            weight_decay: spec.weight_decay.to_string(),
            schedule: schedule.into(),
            step_every: every.to_string(),
            step_gamma: gamma.to_string(),
            warmup: spec.warmup_epochs.to_string(),
            crop_padding: spec.augment.crop_padding.to_string(),
            flip: spec.augment.flip,
            label_smoothing: spec.label_smoothing.to_string(),
            seed: spec.seed.to_string(),
            backend: "auto".into(),
        }
    }

    /// This form with `recipe`'s settings for `model` at the form's image size; the image counts,
    /// the seed and the backend stay. The book's rate is the preset's whose layers `model` has, else VGG's.
    pub fn with_recipe(&self, recipe: Recipe, model: Option<&ModelSpec>) -> Self {
        let size = self.size.trim().parse().unwrap_or(FIRST_SIZE);
        let preset = model.and_then(Preset::of);
        let lr = preset.map_or(0.05, |p| p.d2l_lr);
        let model = model.cloned().unwrap_or_else(|| PRESETS[0].spec());
        let spec = recipe.apply(TrainSpec::new(model, size), lr);
        Form {
            train_images: self.train_images.clone(),
            test_images: self.test_images.clone(),
            seed: self.seed.clone(),
            backend: self.backend.clone(),
            ..Form::from_spec(&spec)
        }
    }

    /// The backend the form's select names (`auto` and anything else: the automatic choice).
    pub fn backend_kind(&self) -> BackendKind {
        match self.backend.as_str() {
            "webgpu" => BackendKind::Wgpu,
            "cpu" => BackendKind::Cpu,
            _ => BackendKind::Auto,
        }
    }

    /// The run the form describes, or the first thing wrong with it as a sentence.
    pub fn parse(
        &self,
        model: Result<ModelSpec, String>,
        analysis: Result<Analysis, String>,
        (train_len, test_len): (usize, usize),
    ) -> Result<RunRequest, String> {
        let model = model?;
        let size: usize = number("the image size", &self.size)?;
        let images: usize = number("the number of training images", &self.train_images)?;
        if images == 0 || images > train_len {
            return Err(format!("the number of training images must be between 1 and {train_len}, got {images}"));
        }
        let test_images: usize = number("the number of test images", &self.test_images)?;
        if test_images == 0 || test_images > test_len {
            return Err(format!("the number of test images must be between 1 and {test_len}, got {test_images}"));
        }
        let momentum = || number("the momentum", &self.momentum);
        let optimizer = match self.optimizer.as_str() {
            "momentum" => Optimizer::Sgd { momentum: momentum()?, nesterov: false },
            "nesterov" => Optimizer::Sgd { momentum: momentum()?, nesterov: true },
            "adam" => Optimizer::adam(),
            "adamw" => Optimizer::adamw(),
            _ => Optimizer::default(),
        };
        let schedule = match self.schedule.as_str() {
            "step" => Schedule::Step {
                every: number("the step schedule's interval", &self.step_every)?,
                gamma: number("the step schedule's factor", &self.step_gamma)?,
            },
            "cosine" => Schedule::Cosine,
            _ => Schedule::Constant,
        };
        let spec = TrainSpec {
            epochs: number("the number of epochs", &self.epochs)?,
            batch_size: number("the batch size", &self.batch_size)?,
            learning_rate: number("the learning rate", &self.learning_rate)?,
            optimizer,
            weight_decay: number("the weight decay", &self.weight_decay)?,
            schedule,
            warmup_epochs: number("the warm-up", &self.warmup)?,
            augment: Augment { crop_padding: number("the crop padding", &self.crop_padding)?, flip: self.flip },
            label_smoothing: number("the label smoothing", &self.label_smoothing)?,
            seed: number("the seed", &self.seed)?,
            ..TrainSpec::new(model, size)
        };
        // The model view's table of this spec at this size: an error there refuses the run.
        analysis?;
        Ok(RunRequest { spec, train_images: images, test_images })
    }
}
