//! ReLU through a backend extension: [`cpu::relu`](crate::cpu::relu) on Flex, one kernel a pass on
//! Cube (`gpu/elementwise.rs`), burn's own elsewhere. burn-flex maps every element on the calling
//! thread, so on two cores a `vgg11-r4` step spent a twentieth of its time in ReLU with one core
//! idle.

use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Dispatch, backend_extension};
use burn::tensor::Tensor;

/// ReLU's two passes; the defaults are burn's.
#[backend_extension(Flex, Cube: cfg(feature = "gpu"), Autodiff)]
pub trait ReluKernels: Backend {
    fn relu_forward(x: FloatTensor<Self>) -> FloatTensor<Self> {
        Self::relu(x)
    }

    /// `output_grad` where `x` is positive, zero elsewhere.
    fn relu_input_grad(x: FloatTensor<Self>, output_grad: FloatTensor<Self>) -> FloatTensor<Self> {
        Self::relu_backward(x, output_grad)
    }
}

/// `burn::tensor::activation::relu`, with the passes of [`ReluKernels`].
pub fn relu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    Tensor::from_dispatch(<Dispatch as ReluKernels>::relu_forward(x.into_dispatch()))
}

#[derive(Debug)]
struct ReluBackward;

impl<B: ReluKernels> Backward<B, 1> for ReluBackward {
    /// The checkpointed input.
    type State = NodeId;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, checkpointer: &mut Checkpointer) {
        let grad = grads.consume::<B>(&ops.node);
        let [node] = ops.parents;
        if let Some(node) = node {
            let x = checkpointer.retrieve_node_output::<FloatTensor<B>>(ops.state);
            grads.register::<B>(node.id, B::relu_input_grad(x, grad));
        }
    }
}

impl<B: ReluKernels, C: CheckpointStrategy> ReluKernels for Autodiff<B, C> {
    fn relu_forward(x: FloatTensor<Self>) -> FloatTensor<Self> {
        match ReluBackward.prepare::<C>([x.node()]).compute_bound().stateful() {
            OpsKind::Tracked(mut prep) => {
                let state = prep.checkpoint(&x);
                prep.finish(state, B::relu_forward(x.into_primitive()))
            }
            OpsKind::UnTracked(prep) => prep.finish(B::relu_forward(x.into_primitive())),
        }
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Distribution, Tolerance, activation};

    use super::*;

    /// On the CPU, the output (with and without autodiff) and the gradient equal burn's own,
    /// over more elements than one parallel chunk holds, and NaN stays NaN as in PyTorch.
    #[test]
    fn relu_and_its_gradient_equal_burns() {
        let device = burn::tensor::Device::flex().autodiff();
        let x = Tensor::<4>::random([3, 40, 33, 31], Distribution::Normal(0.0, 1.0), &device).require_grad();
        let ours = relu(x.clone());
        let theirs = activation::relu(x.clone());
        ours.to_data().assert_approx_eq::<f32>(&theirs.to_data(), Tolerance::absolute(0.0));
        let plain = relu(Tensor::<4>::from_data(x.to_data(), &burn::tensor::Device::flex()));
        plain.to_data().assert_approx_eq::<f32>(&theirs.to_data(), Tolerance::absolute(0.0));
        let weights = Tensor::<4>::random(ours.dims(), Distribution::Normal(0.0, 1.0), &device);
        let ours = x.grad(&(ours * weights.clone()).sum().backward()).expect("our gradient");
        let theirs = x.grad(&(theirs * weights).sum().backward()).expect("burn's gradient");
        ours.to_data().assert_approx_eq::<f32>(&theirs.to_data(), Tolerance::absolute(0.0));
        let nan = relu(Tensor::<1>::from_floats([f32::NAN, -1.0, 2.0], &burn::tensor::Device::flex()));
        let values = nan.to_data().try_to_vec::<f32>().expect("f32 values");
        assert!(values[0].is_nan() && values[1..] == [0.0, 2.0], "{values:?}");
    }
}
