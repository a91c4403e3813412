//! Adam and AdamW as burn computes them, with each step one call of [`cnn_kernels::adam_step`]:
//! on the CPU one pass in place over each parameter on every core instead of burn's dozen
//! tensors. The state is burn's `AdamState`, whose record names are `AdamWState`'s too, so
//! checkpoints saved with burn's optimisers resume with these and the other way round.

use burn::optim::{AdaptiveMomentumState, RecordState, StateSink, StateSource};
use burn::optim::{LearningRate, Optimizer};
use burn::tensor::{Device, Tensor};
use cnn_kernels::{AdamStep, Correction};

/// Adam (`decoupled: false`, weight decay as an L2 term in the gradient) or AdamW (`decoupled:
/// true`, the weights shrunk by `lr * weight_decay` apart from the gradient), without AMSGrad.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Adam {
    pub beta_1: f32,
    pub beta_2: f32,
    pub epsilon: f32,
    pub weight_decay: f32,
    pub decoupled: bool,
}

impl Adam {
    /// One step at `lr` from `state` (none before the first): the parameter and the new state.
    fn step_from<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<AdaptiveMomentumState<D>>,
    ) -> (Tensor<D>, AdaptiveMomentumState<D>) {
        // Moments of zeros make the first step's `beta m + (1 - beta) g` exactly burn's first
        // moments, `(1 - beta) g`.
        let (time, m, v) = match state {
            Some(state) => (state.time + 1, state.moment_1, state.moment_2),
            None => (1, grad.zeros_like(), grad.zeros_like()),
        };
        let t = time as i32;
        let (first, second) = (1.0 - self.beta_1.powi(t), 1.0 - self.beta_2.powi(t));
        let correction = match self.decoupled {
            false => Correction::Adam { scale: second.sqrt() / first, epsilon: self.epsilon * second.sqrt() },
            true => Correction::AdamW { first, second, epsilon: self.epsilon },
        };
        let step = AdamStep {
            lr,
            beta_1: self.beta_1,
            beta_2: self.beta_2,
            l2: if self.decoupled { 0.0 } else { self.weight_decay },
            decay: if self.decoupled { lr * self.weight_decay as f64 } else { 0.0 },
            correction,
        };
        let (tensor, moment_1, moment_2) = cnn_kernels::adam_step(tensor, grad, m, v, step);
        (tensor, AdaptiveMomentumState::new(time, moment_1, moment_2))
    }
}

/// burn's `AdamState`, recorded through [`crate::readback`] so that a browser's GPU can be read
/// asynchronously.
#[derive(Clone)]
pub struct AdamState<const D: usize>(burn::optim::AdamState<D>);

impl<const D: usize> RecordState for AdamState<D> {
    fn state_flatten(&self, prefix: &str, out: &mut StateSink) {
        let momentum = &self.0.momentum;
        crate::readback::flatten([&momentum.moment_1, &momentum.moment_2], |[moment_1, moment_2]| {
            let momentum = AdaptiveMomentumState { moment_1, moment_2, ..momentum.clone() };
            burn::optim::AdamState::new(momentum).state_flatten(prefix, out)
        });
    }

    fn state_unflatten(prefix: &str, src: &mut StateSource, device: &Device) -> Option<Self> {
        burn::optim::AdamState::state_unflatten(prefix, src, device).map(Self)
    }
}

impl Optimizer for Adam {
    type State<const D: usize> = AdamState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let (tensor, momentum) = self.step_from(lr, tensor, grad, state.map(|state| state.0.momentum));
        (tensor, Some(AdamState(burn::optim::AdamState::new(momentum))))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        AdamState(burn::optim::AdamState::new(state.0.momentum.to_device(device)))
    }
}

#[cfg(test)]
mod tests {
    use burn::optim::decay::WeightDecayConfig;
    use burn::optim::{AdamConfig, AdamWConfig, ModuleOptimizer};

    use super::*;
    use crate::sgd::tests::{three_steps, values};

    fn burns(adam: Adam) -> ModuleOptimizer {
        let (beta_1, beta_2, epsilon, decay) = (adam.beta_1, adam.beta_2, adam.epsilon, adam.weight_decay);
        match adam.decoupled {
            false => AdamConfig::new()
                .with_beta_1(beta_1)
                .with_beta_2(beta_2)
                .with_epsilon(epsilon)
                .with_weight_decay((decay > 0.0).then(|| WeightDecayConfig::new(decay)))
                .init(),
            true => AdamWConfig::new()
                .with_beta_1(beta_1)
                .with_beta_2(beta_2)
                .with_epsilon(epsilon)
                .with_weight_decay(decay)
                .init(),
        }
    }

    /// Adam and AdamW, with and without weight decay, move the weights exactly as burn's do, and a
    /// state saved by either optimiser resumes with the other.
    #[test]
    fn steps_equal_burns_adam_to_the_bit_and_states_resume_either_way() {
        let adam = Adam { beta_1: 0.9, beta_2: 0.999, epsilon: 1e-8, weight_decay: 0.0, decoupled: false };
        for adam in [
            adam,
            Adam { weight_decay: 0.01, ..adam },
            Adam { decoupled: true, ..adam },
            Adam { decoupled: true, weight_decay: 0.05, beta_1: 0.8, ..adam },
        ] {
            let ours = ModuleOptimizer::from(adam);
            let theirs = three_steps(burns(adam), burns(adam));
            assert!(theirs.iter().zip(values(f32::sin).iter::<f32>()).any(|(a, b)| *a != b), "{adam:?}: nothing moved");
            assert!(three_steps(ours.clone(), ours.clone()) == theirs, "{adam:?}: ours differs from burn's");
            assert!(three_steps(burns(adam), ours.clone()) == theirs, "{adam:?}: burn's state resumed with ours");
            assert!(three_steps(ours, burns(adam)) == theirs, "{adam:?}: our state resumed with burn's");
        }
    }
}
