//! SGD as burn's `Sgd` computes it, with each step one call of [`cnn_kernels::sgd_step`]: on the
//! CPU one pass in place over each parameter on every core instead of burn's seven tensors.
//!
//! Its state is recorded under the names burn's `SgdState` uses (`momentum.velocity`), so a
//! checkpoint saved with either optimiser resumes with the other.

use burn::optim::{LearningRate, Optimizer, RecordState, StateSink, StateSource, join_path};
use burn::tensor::{Device, Tensor};
use cnn_kernels::SgdStep;

/// SGD with optional momentum (no dampening, as in the book and PyTorch's defaults), Nesterov's
/// variant and weight decay as an L2 term in the gradient.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sgd {
    pub momentum: f64,
    pub nesterov: bool,
    pub weight_decay: f64,
}

/// The velocity, where there is momentum.
#[derive(Clone)]
pub struct SgdState<const D: usize> {
    velocity: Option<Tensor<D>>,
}

/// burn's `SgdState` nests the velocity in a `MomentumState` field named `momentum`.
const MOMENTUM: &str = "momentum";
const VELOCITY: &str = "velocity";

impl<const D: usize> RecordState for SgdState<D> {
    fn state_flatten(&self, prefix: &str, out: &mut StateSink) {
        if let Some(velocity) = &self.velocity {
            crate::readback::flatten([velocity], |[velocity]| {
                out.push_tensor(&join_path(prefix, MOMENTUM), VELOCITY, velocity.into_data())
            });
        }
    }

    fn state_unflatten(prefix: &str, src: &mut StateSource, device: &Device) -> Option<Self> {
        let path = join_path(prefix, MOMENTUM);
        let velocity = match src.has_under(&path) {
            true => Some(Tensor::from_data(src.take_tensor(&path, VELOCITY)?, device)),
            false => None,
        };
        Some(Self { velocity })
    }
}

impl Optimizer for Sgd {
    type State<const D: usize> = SgdState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let step = SgdStep { lr, momentum: self.momentum, nesterov: self.nesterov, weight_decay: self.weight_decay };
        let with_momentum = self.momentum != 0.0;
        // A first velocity of zeros makes the first step's `g + momentum * 0` exactly `g`, which
        // is burn's first velocity.
        let velocity = match state.and_then(|state| state.velocity) {
            Some(velocity) if with_momentum => velocity,
            _ if with_momentum => grad.zeros_like(),
            // Left as it is without momentum: any tensor of the shape will do.
            _ => grad.clone(),
        };
        let (tensor, velocity) = cnn_kernels::sgd_step(tensor, grad, velocity, step);
        (tensor, Some(SgdState { velocity: with_momentum.then_some(velocity) }))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        SgdState { velocity: state.velocity.map(|velocity| velocity.to_device(device)) }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use burn::module::{Module, Param};
    use burn::optim::decay::WeightDecayConfig;
    use burn::optim::momentum::MomentumConfig;
    use burn::optim::{GradientsParams, ModuleOptimizer, SgdConfig};
    use burn::tensor::{Bytes, TensorData};

    use super::*;

    #[derive(Module, Debug)]
    struct Weights {
        w: Param<Tensor<1>>,
    }

    /// More values than one parallel chunk of the CPU kernel holds.
    const LEN: usize = 40_000;

    pub(crate) fn values(f: impl Fn(f32) -> f32) -> TensorData {
        TensorData::new((0..LEN).map(|i| f(i as f32)).collect::<Vec<f32>>(), [LEN])
    }

    fn burns(sgd: Sgd) -> ModuleOptimizer {
        let momentum =
            MomentumConfig::new().with_momentum(sgd.momentum).with_dampening(0.0).with_nesterov(sgd.nesterov);
        SgdConfig::new()
            .with_weight_decay((sgd.weight_decay > 0.0).then(|| WeightDecayConfig::new(sgd.weight_decay as f32)))
            .with_momentum((sgd.momentum > 0.0).then_some(momentum))
            .init()
    }

    /// The weights after three steps on the loss `sum(w^2 x_k)` (a gradient that depends on the
    /// weights and changes from step to step): the first with `first`, whose state is saved and
    /// loaded into `then` for the other two.
    pub(crate) fn three_steps(mut first: ModuleOptimizer, then: ModuleOptimizer) -> Vec<f32> {
        let device = Device::flex().autodiff();
        let mut module = Weights { w: Param::from_tensor(Tensor::from_data(values(f32::sin), &device)) };
        let mut optim = None;
        for k in 0..3 {
            let x = Tensor::<1>::from_data(values(|i| (i * (k + 1) as f32).cos()), &device);
            let loss = (module.w.val() * module.w.val() * x).sum();
            let grads = GradientsParams::from_grads(loss.backward(), &module);
            let current = optim.get_or_insert_with(|| first.clone());
            module = current.step(0.05, module, grads);
            if k == 0 {
                let bytes = current.into_bytes().expect("the state saves");
                optim = Some(then.clone().from_bytes(Bytes::from_bytes_vec(bytes.to_vec())).expect("the state loads"));
                first = then.clone();
            }
        }
        module.w.val().into_data().try_to_vec::<f32>().expect("f32 weights")
    }

    /// Every variant moves the weights exactly as burn's `Sgd` does, and a state saved by either
    /// optimiser resumes with the other.
    #[test]
    fn steps_equal_burns_sgd_to_the_bit_and_states_resume_either_way() {
        for sgd in [
            Sgd { momentum: 0.0, nesterov: false, weight_decay: 0.0 },
            Sgd { momentum: 0.0, nesterov: false, weight_decay: 0.01 },
            Sgd { momentum: 0.9, nesterov: false, weight_decay: 0.0 },
            Sgd { momentum: 0.9, nesterov: true, weight_decay: 5e-4 },
        ] {
            let ours = ModuleOptimizer::from(sgd);
            let theirs = three_steps(burns(sgd), burns(sgd));
            assert!(theirs.iter().zip(values(f32::sin).iter::<f32>()).any(|(a, b)| *a != b), "{sgd:?}: nothing moved");
            assert!(three_steps(ours.clone(), ours.clone()) == theirs, "{sgd:?}: ours differs from burn's");
            assert!(three_steps(burns(sgd), ours.clone()) == theirs, "{sgd:?}: burn's state resumed with ours");
            assert!(three_steps(ours, burns(sgd)) == theirs, "{sgd:?}: our state resumed with burn's");
        }
    }
}
