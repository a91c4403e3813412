//! A linear layer through a backend extension: [`cpu::linear`](crate::cpu::linear)'s products on
//! Flex, burn's matmul elsewhere.
//!
//! burn-flex gives every matmul output a zeroed byte vector and then copies it into a 16-byte
//! aligned one (`FlexTensor::empty`): for VGG's 4096x4096 weight gradient that is 64 MB zeroed
//! and 64 MB copied per step, a tenth of a `vgg11-r4` step on one thread.

use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Dispatch, backend_extension};
use burn::tensor::Tensor;

/// A linear layer's three products over `x` `[batch, in]`, weights `[in, out]` (burn's layout)
/// and the output's gradient `[batch, out]`; the defaults are burn's matmul.
#[backend_extension(Flex, Cube: cfg(feature = "gpu"), Autodiff)]
pub trait LinearKernels: Backend {
    /// `x * weight`, `[batch, out]`.
    fn linear_forward(x: FloatTensor<Self>, weight: FloatTensor<Self>) -> FloatTensor<Self> {
        burns_linear_forward::<Self>(x, weight)
    }

    /// `output_grad * weight^T`, `[batch, in]`.
    fn linear_input_grad(weight: FloatTensor<Self>, output_grad: FloatTensor<Self>) -> FloatTensor<Self> {
        burns_linear_input_grad::<Self>(weight, output_grad)
    }

    /// `x^T * output_grad`, `[in, out]`.
    fn linear_weight_grad(x: FloatTensor<Self>, output_grad: FloatTensor<Self>) -> FloatTensor<Self> {
        burns_linear_weight_grad::<Self>(x, output_grad)
    }
}

/// burn's matmul: [`LinearKernels`]' defaults, and the fallbacks of a backend whose kernels take
/// only some tensors.
pub(crate) fn burns_linear_forward<B: Backend>(x: FloatTensor<B>, weight: FloatTensor<B>) -> FloatTensor<B> {
    B::float_matmul(x, weight)
}

pub(crate) fn burns_linear_input_grad<B: Backend>(
    weight: FloatTensor<B>,
    output_grad: FloatTensor<B>,
) -> FloatTensor<B> {
    B::float_matmul(output_grad, B::float_transpose(weight))
}

pub(crate) fn burns_linear_weight_grad<B: Backend>(x: FloatTensor<B>, output_grad: FloatTensor<B>) -> FloatTensor<B> {
    B::float_matmul(B::float_transpose(x), output_grad)
}

/// `burn::tensor::module::linear` for `x` `[batch, in]`, with the products of [`LinearKernels`].
/// The bias is added as a tensor of its own, as in [`conv2d`](crate::conv2d).
pub fn linear(x: Tensor<2>, weight: Tensor<2>, bias: Option<Tensor<1>>) -> Tensor<2> {
    let y =
        Tensor::from_dispatch(<Dispatch as LinearKernels>::linear_forward(x.into_dispatch(), weight.into_dispatch()));
    match bias {
        Some(bias) => y + bias.unsqueeze(),
        None => y,
    }
}

#[derive(Debug)]
struct LinearBackward;

impl<B: LinearKernels> Backward<B, 2> for LinearBackward {
    /// The checkpointed input and weights.
    type State = (NodeId, NodeId);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, checkpointer: &mut Checkpointer) {
        let grad = grads.consume::<B>(&ops.node);
        let (x_state, weight_state) = ops.state;
        let [node_x, node_weight] = ops.parents;
        if let Some(node) = node_x {
            let weight = checkpointer.retrieve_node_output::<FloatTensor<B>>(weight_state);
            grads.register::<B>(node.id, B::linear_input_grad(weight, grad.clone()));
        }
        if let Some(node) = node_weight {
            let x = checkpointer.retrieve_node_output::<FloatTensor<B>>(x_state);
            grads.register::<B>(node.id, B::linear_weight_grad(x, grad));
        }
    }
}

impl<B: LinearKernels, C: CheckpointStrategy> LinearKernels for Autodiff<B, C> {
    fn linear_forward(x: FloatTensor<Self>, weight: FloatTensor<Self>) -> FloatTensor<Self> {
        match LinearBackward.prepare::<C>([x.node(), weight.node()]).compute_bound().stateful() {
            OpsKind::Tracked(mut prep) => {
                let state = (prep.checkpoint(&x), prep.checkpoint(&weight));
                prep.finish(state, B::linear_forward(x.into_primitive(), weight.into_primitive()))
            }
            OpsKind::UnTracked(prep) => prep.finish(B::linear_forward(x.into_primitive(), weight.into_primitive())),
        }
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Distribution, Tolerance, module};

    use super::*;

    /// On the CPU with autodiff, the output and all three gradients equal burn's own linear's,
    /// for a batch of one (a sliver of a product) and a wide layer.
    #[test]
    fn gradients_equal_burns_own_linear() {
        let device = burn::tensor::Device::flex().autodiff();
        for [batch, input, output] in [[1, 5, 3], [7, 300, 130], [64, 129, 1000]] {
            let x = Tensor::<2>::random([batch, input], Distribution::Normal(0.0, 1.0), &device).require_grad();
            let w = Tensor::<2>::random([input, output], Distribution::Normal(0.0, 1.0), &device).require_grad();
            let b = Tensor::<1>::random([output], Distribution::Normal(0.0, 1.0), &device).require_grad();
            let ours = linear(x.clone(), w.clone(), Some(b.clone()));
            let theirs = module::linear(x.clone(), w.clone(), Some(b.clone()));
            ours.to_data().assert_approx_eq::<f32>(&theirs.to_data(), Tolerance::absolute(1e-3));
            let weights = Tensor::<2>::random(ours.dims(), Distribution::Normal(0.0, 1.0), &device);
            let ours = (ours * weights.clone()).sum().backward();
            let theirs = (theirs * weights).sum().backward();
            for (ours, theirs) in [(x.grad(&ours), x.grad(&theirs)), (w.grad(&ours), w.grad(&theirs))] {
                let (ours, theirs) = (ours.expect("our gradient"), theirs.expect("burn's gradient"));
                ours.to_data().assert_approx_eq::<f32>(&theirs.to_data(), Tolerance::absolute(1e-3));
            }
            let (ours, theirs) = (b.grad(&ours).expect("our bias gradient"), b.grad(&theirs).expect("burn's"));
            ours.to_data().assert_approx_eq::<f32>(&theirs.to_data(), Tolerance::absolute(1e-3));
        }
    }
}
