//! One Adam or AdamW step through a backend extension: [`cpu::adam`](crate::cpu::adam) on Flex,
//! burn's tensor operations elsewhere. burn's `Adam` makes about a dozen passes over every
//! parameter, each a new tensor written on one thread; for `vgg11-r4`'s 18 million parameters
//! that took as long as the rest of a training step. The CPU kernel makes one pass, in place.

use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Dispatch, backend_extension};
use burn::tensor::Tensor;

/// What one step does, as burn's `Adam` and `AdamW` do it. With `g` the gradient (plus
/// `l2 * param`): `m = beta_1 m + (1 - beta_1) g`, `v = beta_2 v + (1 - beta_2) g^2`, then
/// the parameter moves by `lr` times the [`Correction`]'s update, after shrinking by
/// `1 - decay` (AdamW's decoupled weight decay, `lr * weight_decay`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamStep {
    pub lr: f64,
    pub beta_1: f32,
    pub beta_2: f32,
    /// Adam's weight decay: an L2 term in the gradient (0 for none).
    pub l2: f32,
    /// AdamW's weight decay this step, `lr * weight_decay` (0 for none).
    pub decay: f64,
    pub correction: Correction,
}

/// How the moments become an update, with the bias corrections of step `t`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Correction {
    /// Adam: `m * scale / (sqrt(v) + epsilon)`, with `scale = sqrt(1 - beta_2^t) / (1 -
    /// beta_1^t)` and `epsilon` already times `sqrt(1 - beta_2^t)`.
    Adam { scale: f32, epsilon: f32 },
    /// AdamW: `(m / first) / (sqrt(v / second) + epsilon)`, with `first = 1 - beta_1^t` and
    /// `second = 1 - beta_2^t`.
    AdamW { first: f32, second: f32, epsilon: f32 },
}

/// One Adam step; the default is burn's tensor operations.
#[backend_extension(Flex, Cube: cfg(feature = "gpu"))]
pub trait AdamKernels: Backend {
    /// The parameter and both moments after the step.
    fn adam_step(
        param: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        moment_1: FloatTensor<Self>,
        moment_2: FloatTensor<Self>,
        step: AdamStep,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        burns_adam_step::<Self>(param, grad, moment_1, moment_2, step)
    }
}

#[cfg(feature = "gpu")]
impl AdamKernels for burn::backend::Cube {}

/// burn's `Adam` and `AdamW` in tensor operations, in their order: [`AdamKernels`]' default,
/// and the fallback of a backend whose kernel takes only some tensors.
pub(crate) fn burns_adam_step<B: Backend>(
    param: FloatTensor<B>,
    grad: FloatTensor<B>,
    moment_1: FloatTensor<B>,
    moment_2: FloatTensor<B>,
    step: AdamStep,
) -> (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>) {
    let scalar = |value: f32| value.into();
    let grad = match step.l2 {
        0.0 => grad,
        l2 => B::float_add(B::float_mul_scalar(param.clone(), scalar(l2)), grad),
    };
    let m = B::float_add(
        B::float_mul_scalar(moment_1, scalar(step.beta_1)),
        B::float_mul_scalar(grad.clone(), scalar(1.0 - step.beta_1)),
    );
    let square = B::float_mul(grad.clone(), grad);
    let v = B::float_add(
        B::float_mul_scalar(moment_2, scalar(step.beta_2)),
        B::float_mul_scalar(square, scalar(1.0 - step.beta_2)),
    );
    let update = match step.correction {
        Correction::Adam { scale, epsilon } => B::float_div(
            B::float_mul_scalar(m.clone(), scalar(scale)),
            B::float_add_scalar(B::float_sqrt(v.clone()), scalar(epsilon)),
        ),
        Correction::AdamW { first, second, epsilon } => B::float_div(
            B::float_div_scalar(m.clone(), scalar(first)),
            B::float_add_scalar(B::float_sqrt(B::float_div_scalar(v.clone(), scalar(second))), scalar(epsilon)),
        ),
    };
    let param = match step.decay {
        0.0 => param,
        decay => B::float_mul_scalar(param, ((1.0 - decay) as f32).into()),
    };
    (B::float_sub(param, B::float_mul_scalar(update, (step.lr as f32).into())), m, v)
}

/// One Adam step on a parameter (not tracked by autodiff) with the kernels of [`AdamKernels`].
pub fn adam_step<const D: usize>(
    param: Tensor<D>,
    grad: Tensor<D>,
    moment_1: Tensor<D>,
    moment_2: Tensor<D>,
    step: AdamStep,
) -> (Tensor<D>, Tensor<D>, Tensor<D>) {
    let (param, m, v) = <Dispatch as AdamKernels>::adam_step(
        param.into_dispatch(),
        grad.into_dispatch(),
        moment_1.into_dispatch(),
        moment_2.into_dispatch(),
        step,
    );
    (Tensor::from_dispatch(param), Tensor::from_dispatch(m), Tensor::from_dispatch(v))
}
