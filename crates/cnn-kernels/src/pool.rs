//! Max pooling through a backend extension: [`cpu::pool`](crate::cpu::pool)'s kernels on Flex,
//! burn's own elsewhere. The indices of the forward pass are whatever the backend's backward
//! reads, so each backend's two passes stay a pair.

use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::{FloatTensor, IntTensor};
use burn::backend::{Autodiff, Backend, Dispatch, TensorMetadata, backend_extension, get_or_init_device_settings};
use burn::tensor::Tensor;

/// A max pooling's window: `kernel` taps `dilation` apart, every `stride` pixels, with `padding`
/// rows and columns on each side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolOptions {
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub padding: [usize; 2],
    pub dilation: [usize; 2],
}

/// Max pooling's passes, each backend's own; the defaults are burn's.
#[backend_extension(Flex, Cube: cfg(feature = "gpu"), Autodiff)]
pub trait PoolKernels: Backend {
    fn max_pool_forward(x: FloatTensor<Self>, options: PoolOptions) -> FloatTensor<Self> {
        let PoolOptions { kernel, stride, padding, dilation } = options;
        Self::max_pool2d(x, kernel, stride, padding, dilation, false)
    }

    /// The output and where each maximum was, in the form [`PoolKernels::max_pool_backward`]
    /// reads.
    fn max_pool_with_indices(x: FloatTensor<Self>, options: PoolOptions) -> (FloatTensor<Self>, IntTensor<Self>) {
        burns_max_pool_with_indices::<Self>(x, options)
    }

    fn max_pool_backward(
        x: FloatTensor<Self>,
        options: PoolOptions,
        output_grad: FloatTensor<Self>,
        indices: IntTensor<Self>,
    ) -> FloatTensor<Self> {
        burns_max_pool_backward::<Self>(x, options, output_grad, indices)
    }
}

/// burn's own pooling with indices: [`PoolKernels`]' default, and the fallback of a backend
/// whose kernels take only some tensors.
pub(crate) fn burns_max_pool_with_indices<B: Backend>(
    x: FloatTensor<B>,
    options: PoolOptions,
) -> (FloatTensor<B>, IntTensor<B>) {
    let PoolOptions { kernel, stride, padding, dilation } = options;
    let int_dtype = get_or_init_device_settings::<B>(&x.device()).int_dtype;
    let out = B::max_pool2d_with_indices(x, kernel, stride, padding, dilation, false, int_dtype);
    (out.output, out.indices)
}

/// burn's own input gradient of [`burns_max_pool_with_indices`].
pub(crate) fn burns_max_pool_backward<B: Backend>(
    x: FloatTensor<B>,
    options: PoolOptions,
    output_grad: FloatTensor<B>,
    indices: IntTensor<B>,
) -> FloatTensor<B> {
    let PoolOptions { kernel, stride, padding, dilation } = options;
    B::max_pool2d_with_indices_backward(x, kernel, stride, padding, dilation, false, output_grad, indices).x_grad
}

#[cfg(feature = "gpu")]
impl PoolKernels for burn::backend::Cube {}

/// `burn::tensor::module::max_pool2d` (floor mode), with the passes of [`PoolKernels`].
pub fn max_pool2d(x: Tensor<4>, options: PoolOptions) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as PoolKernels>::max_pool_forward(x.into_dispatch(), options))
}

#[derive(Debug)]
struct MaxPoolBackward;

impl<B: PoolKernels> Backward<B, 1> for MaxPoolBackward {
    type State = (NodeId, IntTensor<B>, PoolOptions);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, checkpointer: &mut Checkpointer) {
        let grad = grads.consume::<B>(&ops.node);
        let (x_state, indices, options) = ops.state;
        let [node] = ops.parents;
        if let Some(node) = node {
            let x = checkpointer.retrieve_node_output::<FloatTensor<B>>(x_state);
            grads.register::<B>(node.id, B::max_pool_backward(x, options, grad, indices));
        }
    }
}

impl<B: PoolKernels, C: CheckpointStrategy> PoolKernels for Autodiff<B, C> {
    fn max_pool_forward(x: FloatTensor<Self>, options: PoolOptions) -> FloatTensor<Self> {
        match MaxPoolBackward.prepare::<C>([x.node()]).compute_bound().stateful() {
            OpsKind::Tracked(mut prep) => {
                let x_state = prep.checkpoint(&x);
                let (y, indices) = B::max_pool_with_indices(x.into_primitive(), options);
                prep.finish((x_state, indices, options), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::max_pool_forward(x.into_primitive(), options)),
        }
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::module::max_pool2d as burns_max_pool2d;
    use burn::tensor::ops::MaxPoolOptions;
    use burn::tensor::{Distribution, Tolerance};

    use super::*;

    /// On the CPU, the output (with and without autodiff) and the input gradient equal burn's own
    /// pooling's.
    #[test]
    fn pooling_and_its_gradient_equal_burns() {
        let device = burn::tensor::Device::flex().autodiff();
        for (kernel, stride, padding) in [(2, 2, 0), (3, 2, 1), (3, 1, 1), (3, 2, 0)] {
            let options =
                PoolOptions { kernel: [kernel; 2], stride: [stride; 2], padding: [padding; 2], dilation: [1, 1] };
            let x = Tensor::<4>::random([2, 3, 9, 8], Distribution::Normal(0.0, 1.0), &device).require_grad();
            let ours = max_pool2d(x.clone(), options);
            let theirs = MaxPoolOptions::new([kernel; 2]).with_stride([stride; 2]).with_padding([padding; 2]);
            let theirs = burns_max_pool2d(x.clone(), theirs);
            ours.to_data().assert_approx_eq::<f32>(&theirs.to_data(), Tolerance::absolute(0.0));
            // Without autodiff, as in inference and the test pass: the maxima alone.
            let plain = max_pool2d(Tensor::from_data(x.to_data(), &burn::tensor::Device::flex()), options);
            plain.to_data().assert_approx_eq::<f32>(&theirs.to_data(), Tolerance::absolute(0.0));
            let weights = Tensor::<4>::random(ours.dims(), Distribution::Normal(0.0, 1.0), &device);
            let ours = x.grad(&(ours * weights.clone()).sum().backward()).expect("our gradient");
            let theirs = x.grad(&(theirs * weights).sum().backward()).expect("burn's gradient");
            ours.to_data().assert_approx_eq::<f32>(&theirs.to_data(), Tolerance::absolute(1e-6));
        }
    }
}
