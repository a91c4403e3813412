//! Kernels burn lacks, plugged in as a burn backend extension so that every model built from a
//! spec uses them on the devices where they pay and burn's own everywhere else.
//!
//! Today: the 2-d convolution on the CPU (burn-flex), whose backward pass burn-flex inherits from
//! burn's generic one (see [`cpu`] for why that is slow). [`conv2d`] is a drop-in for
//! `burn::tensor::module::conv2d`; its gradient comes from the [`ConvKernels`] methods of the
//! tensor's backend: ours on Flex, burn's on the GPU. Linear layers ([`linear`]), ReLU
//! ([`relu`]), dropout ([`dropout`]), max pooling ([`max_pool2d`]), batch normalisation in
//! training ([`batch_norm_train`]) and the SGD and Adam updates ([`sgd_step`], [`adam_step`])
//! likewise: burn-flex copies every product's output once more, maps and draws random numbers
//! element by element on one thread, pools through a generic 3-d kernel and normalises through a
//! dozen tensor operations, and burn's optimisers make a new tensor per term.

mod adam;
pub mod cpu;
mod dropout;
mod flex;
#[cfg(feature = "gpu")]
pub mod gpu;
mod linear;
mod norm;
mod pool;
mod relu;
mod sgd;

pub use adam::{AdamKernels, AdamStep, Correction, adam_step};
pub use dropout::{DropoutKernels, dropout};
pub use linear::{LinearKernels, linear};
pub use norm::{NormKernels, batch_norm_train};
pub use pool::{PoolKernels, PoolOptions, max_pool2d};
pub use relu::{ReluKernels, relu};
pub use sgd::{SgdKernels, SgdStep, sgd_step};

use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::ops::ConvOptions;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Dispatch, backend_extension};
use burn::tensor::Tensor;

/// A convolution whose three passes each backend may supply; the defaults are burn's own.
#[backend_extension(Flex, Cube: cfg(feature = "gpu"), Autodiff)]
pub trait ConvKernels: Backend {
    fn conv_forward(x: FloatTensor<Self>, weight: FloatTensor<Self>, options: ConvOptions<2>) -> FloatTensor<Self> {
        Self::conv2d(x, weight, None, options)
    }

    fn conv_input_grad(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        output_grad: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        Self::conv2d_x_backward(x, weight, output_grad, options)
    }

    fn conv_weight_grad(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        output_grad: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        Self::conv2d_weight_backward(x, weight, output_grad, options)
    }
}

/// `burn::tensor::module::conv2d`, with the passes of [`ConvKernels`]. The bias is added as a
/// tensor of its own (one more pass over the output), which keeps the extension to plain tensors.
pub fn conv2d(x: Tensor<4>, weight: Tensor<4>, bias: Option<Tensor<1>>, options: ConvOptions<2>) -> Tensor<4> {
    let out = <Dispatch as ConvKernels>::conv_forward(x.into_dispatch(), weight.into_dispatch(), options);
    let out = Tensor::from_dispatch(out);
    match bias {
        Some(bias) => {
            let channels = bias.dims()[0];
            out + bias.reshape([1, channels, 1, 1])
        }
        None => out,
    }
}

/// What the backward step needs: the checkpointed input and weights, and the options.
type State = (NodeId, NodeId, ConvOptions<2>);

/// The backward step of [`ConvKernels::conv_forward`] under autodiff, with parents input and
/// weights. Mirrors burn-autodiff's own conv2d step, with the gradients taken from
/// [`ConvKernels`] instead of burn's defaults.
#[derive(Debug)]
struct ConvBackward;

impl<B: ConvKernels> Backward<B, 2> for ConvBackward {
    type State = State;

    fn backward(self, ops: Ops<State, 2>, grads: &mut Gradients, checkpointer: &mut Checkpointer) {
        let grad = grads.consume::<B>(&ops.node);
        let (x_state, weight_state, options) = ops.state;
        let x = checkpointer.retrieve_node_output::<FloatTensor<B>>(x_state);
        let weight = checkpointer.retrieve_node_output::<FloatTensor<B>>(weight_state);
        let [node_x, node_weight] = ops.parents;
        if let Some(node) = node_x {
            let dx = B::conv_input_grad(x.clone(), weight.clone(), grad.clone(), options.clone());
            grads.register::<B>(node.id, dx);
        }
        if let Some(node) = node_weight {
            grads.register::<B>(node.id, B::conv_weight_grad(x, weight, grad, options));
        }
    }
}

impl<B: ConvKernels, C: CheckpointStrategy> ConvKernels for Autodiff<B, C> {
    fn conv_forward(x: FloatTensor<Self>, weight: FloatTensor<Self>, options: ConvOptions<2>) -> FloatTensor<Self> {
        match ConvBackward.prepare::<C>([x.node(), weight.node()]).compute_bound().stateful() {
            OpsKind::Tracked(mut prep) => {
                let state = (prep.checkpoint(&x), prep.checkpoint(&weight), options.clone());
                prep.finish(state, B::conv_forward(x.into_primitive(), weight.into_primitive(), options))
            }
            OpsKind::UnTracked(prep) => {
                prep.finish(B::conv_forward(x.into_primitive(), weight.into_primitive(), options))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Distribution, Tensor, Tolerance, module};

    use super::*;

    /// On the CPU with autodiff, the output and all three gradients equal burn's own conv2d's.
    #[test]
    fn gradients_equal_burns_own_convolution() {
        let device = burn::tensor::Device::flex().autodiff();
        for (options, groups, bias) in [
            (ConvOptions::new([1, 1], [1, 1], [1, 1], 1), 1, true),
            (ConvOptions::new([2, 2], [1, 1], [1, 1], 1), 1, false),
            (ConvOptions::new([1, 1], [0, 0], [1, 1], 2), 2, true),
        ] {
            let x = Tensor::<4>::random([3, 4, 9, 9], Distribution::Normal(0.0, 1.0), &device).require_grad();
            let w = Tensor::<4>::random([6, 4 / groups, 3, 3], Distribution::Normal(0.0, 1.0), &device).require_grad();
            let b = bias.then(|| Tensor::<1>::random([6], Distribution::Normal(0.0, 1.0), &device).require_grad());
            let ours = conv2d(x.clone(), w.clone(), b.clone(), options.clone());
            let theirs = module::conv2d(x.clone(), w.clone(), b.clone(), options.clone());
            ours.to_data().assert_approx_eq::<f32>(&theirs.to_data(), Tolerance::absolute(1e-4));
            // A loss that weighs every output differently, so no gradient is a plain sum.
            let weights = Tensor::<4>::random(ours.dims(), Distribution::Normal(0.0, 1.0), &device);
            let ours = (ours * weights.clone()).sum().backward();
            let theirs = (theirs * weights).sum().backward();
            let mut pairs = vec![(x.grad(&ours), x.grad(&theirs)), (w.grad(&ours), w.grad(&theirs))];
            if let Some(b) = &b {
                pairs.push((b.grad(&ours).map(|g| g.unsqueeze()), b.grad(&theirs).map(|g| g.unsqueeze())));
            }
            for (ours, theirs) in pairs {
                let (ours, theirs) = (ours.expect("our gradient"), theirs.expect("burn's gradient"));
                ours.to_data().assert_approx_eq::<f32>(&theirs.to_data(), Tolerance::absolute(1e-3));
            }
        }
    }
}
