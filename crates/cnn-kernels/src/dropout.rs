//! Dropout's mask through a backend extension: [`cpu::dropout`](crate::cpu::dropout) on Flex,
//! burn's random numbers elsewhere. burn-flex draws every mask value from one ChaCha generator on
//! the calling thread: on two cores, a twentieth of a `vgg11-r4` step with one core idle.

use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, AutodiffBackend, Backend, Dispatch, TensorMetadata, backend_extension};
use burn::tensor::{Distribution, Tensor};

/// Dropout's mask; the default is burn's Bernoulli draw.
#[backend_extension(Flex, Cube: cfg(feature = "gpu"), Autodiff)]
pub trait DropoutKernels: Backend {
    /// A tensor shaped like `like` holding `1 / keep` with probability `keep` and 0 otherwise,
    /// drawn from the device's generator (so a seeded device repeats it).
    fn dropout_mask(like: FloatTensor<Self>, keep: f64) -> FloatTensor<Self> {
        burns_dropout_mask::<Self>(like, keep)
    }
}

/// burn's mask: [`DropoutKernels`]' default, and the fallback of a backend whose kernels take
/// only some tensors.
pub(crate) fn burns_dropout_mask<B: Backend>(like: FloatTensor<B>, keep: f64) -> FloatTensor<B> {
    let (shape, device, dtype) = (like.shape(), like.device(), like.dtype());
    let mask = B::float_random(shape, Distribution::Bernoulli(keep), &device, dtype.into());
    B::float_mul_scalar(mask, (1.0 / keep).into())
}

#[cfg(feature = "gpu")]
impl DropoutKernels for burn::backend::Cube {}

impl<B: DropoutKernels, C: CheckpointStrategy> DropoutKernels for Autodiff<B, C> {
    /// The mask is a constant of the graph: the gradient flows through the product with it.
    fn dropout_mask(like: FloatTensor<Self>, keep: f64) -> FloatTensor<Self> {
        Self::from_inner(B::dropout_mask(Self::inner(like), keep))
    }
}

/// `burn::nn::Dropout::forward` in training: `x` times the mask of [`DropoutKernels`], with
/// probability `prob` of dropping each value.
pub fn dropout<const D: usize>(x: Tensor<D>, prob: f64) -> Tensor<D> {
    let mask = <Dispatch as DropoutKernels>::dropout_mask(x.clone().detach().into_dispatch(), 1.0 - prob);
    x * Tensor::from_dispatch(mask)
}

#[cfg(test)]
mod tests {
    use burn::tensor::Device;

    use super::*;
    use crate::cpu::dropout::mask;

    /// Each value is 0 or `1 / keep`, kept about `keep` of the time, and the gradient is the mask
    /// itself. (Whether a seeded device repeats its mask is left to the pure function below:
    /// other tests draw from burn's one generator at the same time.)
    #[test]
    fn the_mask_is_scaled_kept_at_the_rate_asked_and_is_the_gradient() {
        let device = Device::flex().autodiff();
        let x = Tensor::<2>::ones([200, 500], &device).require_grad();
        let y = dropout(x.clone(), 0.3);
        let grad = x.grad(&y.clone().sum().backward()).expect("a gradient");
        let y = y.to_data().try_to_vec::<f32>().expect("f32");
        assert_eq!(y, grad.to_data().try_to_vec::<f32>().expect("f32"), "the gradient of a sum is the mask");
        let kept = y.iter().filter(|&&v| v != 0.0).count() as f64 / y.len() as f64;
        assert!((kept - 0.7).abs() < 0.01, "kept {kept}");
        assert!(y.iter().all(|&v| v == 0.0 || (v - 1.0 / 0.7).abs() < 1e-6));
    }

    /// The same seed draws the same mask on any number of threads, another seed another, and
    /// neighbouring values are not alike (a mask of 2 x 100,000 values, 0.5 kept).
    #[test]
    fn a_seed_draws_one_mask_whose_values_are_independent() {
        let first = mask(200_000, 0.5, 7);
        assert_eq!(
            first,
            rayon::ThreadPoolBuilder::new().num_threads(3).build().unwrap().install(|| mask(200_000, 0.5, 7))
        );
        assert_ne!(first, mask(200_000, 0.5, 8));
        let kept = first.iter().filter(|&&v| v != 0.0).count();
        assert!((kept as f64 / 200_000.0 - 0.5).abs() < 0.005, "kept {kept}");
        // Pairs of neighbours both kept: a quarter of them when values are independent.
        let both = first.windows(2).filter(|w| w[0] != 0.0 && w[1] != 0.0).count();
        assert!((both as f64 / 199_999.0 - 0.25).abs() < 0.005, "both kept {both}");
    }
}
