//! How a run learns: the optimiser, the learning rate at every step, and the named recipes (the
//! book's, and a modern one that beats it).

use burn::optim::ModuleOptimizer;
use serde::{Deserialize, Serialize};

use crate::adam::Adam;
use crate::sgd::Sgd;
use crate::{TrainError, TrainSpec};

/// Adam's epsilon as PyTorch sets it (burn's default is 1e-5), so that a recipe means the same
/// here as in the book's code.
const ADAM_EPSILON: f32 = 1e-8;

/// How the weights move, given their gradients. Weight decay is [`TrainSpec::weight_decay`]: an L2
/// term in the gradient for SGD and Adam, decoupled from it for AdamW, as in PyTorch.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Optimizer {
    /// `torch.optim.SGD` (no dampening); momentum 0 is the book's plain SGD.
    Sgd {
        #[serde(default)]
        momentum: f64,
        #[serde(default)]
        nesterov: bool,
    },
    Adam {
        #[serde(default = "beta1")]
        beta1: f64,
        #[serde(default = "beta2")]
        beta2: f64,
    },
    #[serde(rename = "adamw")]
    AdamW {
        #[serde(default = "beta1")]
        beta1: f64,
        #[serde(default = "beta2")]
        beta2: f64,
    },
}

fn beta1() -> f64 {
    0.9
}

fn beta2() -> f64 {
    0.999
}

impl Default for Optimizer {
    fn default() -> Self {
        Optimizer::Sgd { momentum: 0.0, nesterov: false }
    }
}

impl Optimizer {
    pub fn adam() -> Self {
        Optimizer::Adam { beta1: beta1(), beta2: beta2() }
    }

    pub fn adamw() -> Self {
        Optimizer::AdamW { beta1: beta1(), beta2: beta2() }
    }

    /// The optimiser for these settings: burn's arithmetic, each step one pass in place on the
    /// CPU ([`Sgd`], [`Adam`]).
    pub fn init(&self, weight_decay: f64) -> ModuleOptimizer {
        let adam = |beta1: f64, beta2: f64, decoupled| Adam {
            beta_1: beta1 as f32,
            beta_2: beta2 as f32,
            epsilon: ADAM_EPSILON,
            weight_decay: weight_decay as f32,
            decoupled,
        };
        match *self {
            Optimizer::Sgd { momentum, nesterov } => ModuleOptimizer::from(Sgd { momentum, nesterov, weight_decay }),
            Optimizer::Adam { beta1, beta2 } => ModuleOptimizer::from(adam(beta1, beta2, false)),
            Optimizer::AdamW { beta1, beta2 } => ModuleOptimizer::from(adam(beta1, beta2, true)),
        }
    }

    fn check(&self) -> Result<(), TrainError> {
        let fraction = |what, value: f64| {
            if (0.0..1.0).contains(&value) {
                Ok(())
            } else {
                Err(TrainError::Setting { what, rule: "at least 0 and below 1", value: value.to_string() })
            }
        };
        match *self {
            Optimizer::Sgd { momentum, .. } => fraction("the momentum", momentum),
            Optimizer::Adam { beta1, beta2 } | Optimizer::AdamW { beta1, beta2 } => {
                fraction("Adam's beta 1", beta1)?;
                fraction("Adam's beta 2", beta2)
            }
        }
    }
}

/// The learning rate over a run, after the warm-up ([`TrainSpec::warmup_epochs`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Schedule {
    /// The same rate at every step (the book's).
    #[default]
    Constant,
    /// The rate times `gamma` after every `every` epochs.
    Step { every: usize, gamma: f64 },
    /// Half a cosine from the rate down to 0 at the last step.
    Cosine,
}

/// The recipes the page and the CLI offer by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Recipe {
    /// d2l's: plain SGD at the chapter's rate for the network, batch 128, 10 epochs.
    D2l,
    /// Nesterov momentum with weight decay, a warm-up then a cosine, random crops and flips, and
    /// label smoothing.
    Modern,
    /// The page's first run: Adam, which needs no tuning per network, for a few epochs with a
    /// cosine, so that a newcomer sees a network learn within minutes.
    Quick,
}

impl Recipe {
    /// `spec` with this recipe's settings; `d2l_lr` is the chapter's rate for the network.
    pub fn apply(self, spec: TrainSpec, d2l_lr: f64) -> TrainSpec {
        let base = TrainSpec { batch_size: 128, epochs: 10, learning_rate: d2l_lr, ..spec };
        match self {
            Recipe::Quick => TrainSpec {
                batch_size: 64,
                epochs: 3,
                learning_rate: 0.002,
                optimizer: Optimizer::adam(),
                weight_decay: 0.0,
                schedule: Schedule::Cosine,
                warmup_epochs: 0.0,
                augment: cnn_data::Augment::default(),
                label_smoothing: 0.0,
                ..base
            },
            // The book's recipe is `TrainSpec::new`'s plain SGD at the base's size, rate and length.
            Recipe::D2l => TrainSpec {
                batch_size: base.batch_size,
                epochs: base.epochs,
                learning_rate: base.learning_rate,
                seed: base.seed,
                ..TrainSpec::new(base.model, base.image_size)
            },
            Recipe::Modern => TrainSpec {
                optimizer: Optimizer::Sgd { momentum: 0.9, nesterov: true },
                weight_decay: 5e-4,
                schedule: Schedule::Cosine,
                warmup_epochs: 1.0,
                // CIFAR's 4 pixels of 32, at any size.
                augment: cnn_data::Augment { crop_padding: base.image_size / 8, flip: true },
                label_smoothing: 0.1,
                ..base
            },
        }
    }
}

impl TrainSpec {
    /// The learning rate of training step `step` (counted from 0 over the whole run).
    pub fn learning_rate_at(&self, step: usize, steps_per_epoch: usize) -> f64 {
        let total = self.epochs * steps_per_epoch;
        let warmup = ((self.warmup_epochs * steps_per_epoch as f64).round() as usize).min(total);
        let base = self.learning_rate;
        if step < warmup {
            return base * (step + 1) as f64 / warmup as f64;
        }
        match self.schedule {
            Schedule::Constant => base,
            Schedule::Step { every, gamma } => base * gamma.powi((step / steps_per_epoch.max(1) / every.max(1)) as i32),
            Schedule::Cosine => {
                let (t, span) = ((step - warmup) as f64, (total - warmup).max(1) as f64);
                base * 0.5 * (1.0 + (std::f64::consts::PI * t / span).cos())
            }
        }
    }

    /// Refuses settings that cannot train, with a sentence naming the setting.
    pub(crate) fn check_recipe(&self) -> Result<(), TrainError> {
        let setting = |what, rule, value: String| Err(TrainError::Setting { what, rule, value });
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return setting("the learning rate", "a positive number", self.learning_rate.to_string());
        }
        self.optimizer.check()?;
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return setting("the weight decay", "0 or more", self.weight_decay.to_string());
        }
        if !(self.warmup_epochs >= 0.0 && self.warmup_epochs <= self.epochs as f64) {
            return setting("the warm-up", "between 0 and the number of epochs", self.warmup_epochs.to_string());
        }
        if let Schedule::Step { every, gamma } = self.schedule {
            if every == 0 {
                return setting("the step schedule's interval", "at least 1 epoch", every.to_string());
            }
            if !(gamma > 0.0 && gamma <= 1.0) {
                return setting("the step schedule's factor", "above 0 and at most 1", gamma.to_string());
            }
        }
        if self.augment.crop_padding >= self.image_size {
            return setting("the crop padding", "smaller than the image size", self.augment.crop_padding.to_string());
        }
        if !(0.0..1.0).contains(&self.label_smoothing) {
            return setting("the label smoothing", "at least 0 and below 1", self.label_smoothing.to_string());
        }
        Ok(())
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use burn::module::{Module, Param};
    use burn::optim::GradientsParams;
    use burn::prelude::*;
    use cnn_models::ModelSpec;

    use super::*;
    use crate::{BackendKind, OpenedDevice};

    #[derive(Module, Debug)]
    struct Weights {
        w: Param<Tensor<1>>,
    }

    const W: [f32; 3] = [0.5, -1.0, 2.0];
    /// The gradient of `sum(w * X)` is `X`.
    const X: [f32; 3] = [0.2, -0.4, 0.1];

    /// `w` after one step of `optimizer` at rate `lr` on the loss `sum(w * X)`.
    fn first_step(optimizer: Optimizer, weight_decay: f64, lr: f64) -> Vec<f32> {
        let device = pollster::block_on(OpenedDevice::open(BackendKind::Cpu)).unwrap().device;
        let module = Weights { w: Param::from_tensor(Tensor::from_floats(W, &device).require_grad()) };
        let loss = (module.w.val() * Tensor::from_floats(X, &device)).sum();
        let grads = GradientsParams::from_grads(loss.backward(), &module);
        let module = optimizer.init(weight_decay).step(lr, module, grads);
        module.w.val().into_data().try_to_vec::<f32>().unwrap()
    }

    fn close(got: &[f32], want: impl Fn(f32, f32) -> f32) {
        let want: Vec<f32> = W.iter().zip(X).map(|(&w, g)| want(w, g)).collect();
        for (g, w) in got.iter().zip(&want) {
            assert!((g - w).abs() < 1e-5, "got {got:?}, want {want:?}");
        }
    }

    #[test]
    fn each_optimisers_first_step_is_the_textbook_update() {
        let (lr, wd) = (0.1f32, 0.01f32);
        // SGD with an L2 term: w - lr (g + wd w).
        close(&first_step(Optimizer::default(), wd.into(), lr.into()), |w, g| w - lr * (g + wd * w));
        // Momentum's first velocity is the gradient itself (PyTorch, no dampening).
        close(&first_step(Optimizer::Sgd { momentum: 0.9, nesterov: false }, 0.0, lr.into()), |w, g| w - lr * g);
        // Nesterov looks ahead: g + momentum * v with v = g.
        close(&first_step(Optimizer::Sgd { momentum: 0.9, nesterov: true }, 0.0, lr.into()), |w, g| w - lr * 1.9 * g);
        // Adam's bias-corrected first step is lr * g / (|g| + eps): lr times the gradient's sign.
        close(&first_step(Optimizer::adam(), 0.0, lr.into()), |w, g| w - lr * g / (g.abs() + 1e-8));
        // Adam's L2 term enters the gradient before the moments, so the step is still lr * sign.
        close(&first_step(Optimizer::adam(), wd.into(), lr.into()), |w, g| w - lr * (g + wd * w).signum());
        // AdamW decays the weights apart from the gradient: w (1 - lr wd) - lr sign(g).
        close(&first_step(Optimizer::adamw(), wd.into(), lr.into()), |w, g| w * (1.0 - lr * wd) - lr * g.signum());
    }

    fn spec(schedule: Schedule, warmup_epochs: f64) -> TrainSpec {
        let model = ModelSpec::preset("resnet-small").unwrap();
        TrainSpec { learning_rate: 0.1, epochs: 10, schedule, warmup_epochs, ..TrainSpec::new(model, 56) }
    }

    #[test]
    fn schedules_give_the_rate_at_chosen_steps() {
        let at = |s: &TrainSpec, step| s.learning_rate_at(step, 100);
        let constant = spec(Schedule::Constant, 0.0);
        assert_eq!([at(&constant, 0), at(&constant, 999)], [0.1, 0.1]);
        let step = spec(Schedule::Step { every: 3, gamma: 0.5 }, 0.0);
        assert_eq!([at(&step, 299), at(&step, 300), at(&step, 600), at(&step, 999)], [0.1, 0.05, 0.025, 0.0125]);
        // Warm-up climbs linearly over the first epoch, then the cosine runs from 0.1 to 0 over the
        // remaining 900 steps: half-way (step 550) it is at half the rate.
        let cosine = spec(Schedule::Cosine, 1.0);
        assert!((at(&cosine, 0) - 0.001).abs() < 1e-12);
        assert!((at(&cosine, 49) - 0.05).abs() < 1e-12);
        assert!((at(&cosine, 100) - 0.1).abs() < 1e-12);
        assert!((at(&cosine, 550) - 0.05).abs() < 1e-12);
        assert!(at(&cosine, 999) < 1e-5);
    }

    #[test]
    fn bad_settings_are_refused_with_a_sentence() {
        let refuse = |s: TrainSpec| s.check_recipe().unwrap_err().to_string();
        let base = spec(Schedule::Constant, 0.0);
        let momentum = TrainSpec { optimizer: Optimizer::Sgd { momentum: 1.5, nesterov: false }, ..base.clone() };
        assert_eq!(refuse(momentum), "the momentum must be at least 0 and below 1, got 1.5");
        let warmup = TrainSpec { warmup_epochs: 11.0, ..base.clone() };
        assert_eq!(refuse(warmup), "the warm-up must be between 0 and the number of epochs, got 11");
        let crop = TrainSpec { augment: cnn_data::Augment { crop_padding: 56, flip: false }, ..base.clone() };
        assert_eq!(refuse(crop), "the crop padding must be smaller than the image size, got 56");
        let decay = TrainSpec { weight_decay: f64::NAN, ..base.clone() };
        assert_eq!(refuse(decay), "the weight decay must be 0 or more, got NaN");
        assert!(base.check_recipe().is_ok());
    }

    #[test]
    fn recipes_serialize_and_fill_in_what_old_json_leaves_out() {
        let modern = Recipe::Modern.apply(spec(Schedule::Constant, 0.0), 0.05);
        let json = serde_json::to_string(&modern).unwrap();
        assert!(json.contains(r#""optimizer":{"kind":"sgd","momentum":0.9,"nesterov":true}"#), "{json}");
        assert_eq!(serde_json::from_str::<TrainSpec>(&json).unwrap(), modern);
        let mut old: serde_json::Value = serde_json::to_value(TrainSpec::new(modern.model.clone(), 56)).unwrap();
        for key in ["optimizer", "weight_decay", "schedule", "warmup_epochs", "augment", "label_smoothing"] {
            old.as_object_mut().unwrap().remove(key);
        }
        assert_eq!(serde_json::from_value::<TrainSpec>(old).unwrap(), TrainSpec::new(modern.model, 56));
    }
}
