//! One SGD step through a backend extension: [`cpu::sgd`](crate::cpu::sgd) on Flex, one kernel on
//! Cube (`gpu/elementwise.rs`), burn's tensor operations elsewhere. burn's `Sgd` makes up to seven
//! passes over every parameter (weight decay, momentum, Nesterov's look-ahead, the update), each a
//! new tensor written on one thread; for `vgg11-r4`'s 18 million parameters that is more memory
//! traffic than a training step's convolutions move. The CPU kernel makes one pass, in place, on
//! every core.

use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Dispatch, backend_extension};
use burn::tensor::Tensor;

/// What one step does, as burn's `Sgd` with no dampening does it: `g = grad + weight_decay *
/// param`; with momentum `v = g + momentum * v` and `g = v` (Nesterov: `g = g + momentum * v`);
/// then `param = param - lr * g`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SgdStep {
    pub lr: f64,
    /// 0 for none: the velocity passed in is then left as it is.
    pub momentum: f64,
    pub nesterov: bool,
    pub weight_decay: f64,
}

/// One SGD step; the default is burn's tensor operations.
#[backend_extension(Flex, Cube: cfg(feature = "gpu"))]
pub trait SgdKernels: Backend {
    /// The parameter after the step, and the new velocity.
    fn sgd_step(
        param: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        velocity: FloatTensor<Self>,
        step: SgdStep,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        burns_sgd_step::<Self>(param, grad, velocity, step)
    }
}

/// burn's `Sgd` in tensor operations, in its order (so the CPU kernel can match it to the bit):
/// [`SgdKernels`]' default, and the fallback of a backend whose kernel takes only some tensors.
pub(crate) fn burns_sgd_step<B: Backend>(
    param: FloatTensor<B>,
    grad: FloatTensor<B>,
    velocity: FloatTensor<B>,
    step: SgdStep,
) -> (FloatTensor<B>, FloatTensor<B>) {
    let scalar = |value: f64| (value as f32).into();
    let mut grad = grad;
    if step.weight_decay != 0.0 {
        grad = B::float_add(B::float_mul_scalar(param.clone(), scalar(step.weight_decay)), grad);
    }
    let mut velocity = velocity;
    if step.momentum != 0.0 {
        velocity = B::float_add(grad.clone(), B::float_mul_scalar(velocity, scalar(step.momentum)));
        grad = match step.nesterov {
            true => B::float_add(B::float_mul_scalar(velocity.clone(), scalar(step.momentum)), grad),
            false => velocity.clone(),
        };
    }
    (B::float_sub(param, B::float_mul_scalar(grad, scalar(step.lr))), velocity)
}

/// One SGD step on a parameter (not tracked by autodiff) with the kernels of [`SgdKernels`].
pub fn sgd_step<const D: usize>(
    param: Tensor<D>,
    grad: Tensor<D>,
    velocity: Tensor<D>,
    step: SgdStep,
) -> (Tensor<D>, Tensor<D>) {
    let (param, velocity) =
        <Dispatch as SgdKernels>::sgd_step(param.into_dispatch(), grad.into_dispatch(), velocity.into_dispatch(), step);
    (Tensor::from_dispatch(param), Tensor::from_dispatch(velocity))
}
