//! Batch normalisation of a training batch through a backend extension:
//! [`cpu::norm`](crate::cpu::norm)'s kernels on Flex, the GPU's own on Cube (`gpu::norm`), burn's
//! own elsewhere.

use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Dispatch, backend_extension};
use burn::tensor::Tensor;

/// Batch normalisation's training passes, each backend's own; the defaults are burn's.
#[backend_extension(Flex, Cube: cfg(feature = "gpu"), Autodiff)]
pub trait NormKernels: Backend {
    /// The normalised batch, and its mean and biased variance per channel.
    fn norm_train(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        burns_norm_train::<Self>(x, gamma, beta, epsilon)
    }

    /// The gradients for the input, `gamma` and `beta`.
    fn norm_train_backward(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        mean: FloatTensor<Self>,
        variance: FloatTensor<Self>,
        epsilon: f64,
        output_grad: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        burns_norm_train_backward::<Self>(x, gamma, mean, variance, epsilon, output_grad)
    }
}

/// burn's own training batch norm: [`NormKernels`]' default, and the fallback of a backend whose
/// kernels take only some tensors.
pub(crate) fn burns_norm_train<B: Backend>(
    x: FloatTensor<B>,
    gamma: FloatTensor<B>,
    beta: FloatTensor<B>,
    epsilon: f64,
) -> (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>) {
    let out = B::batch_norm_train(x, gamma, beta, epsilon);
    (out.output, out.mean, out.variance)
}

/// burn's own gradients of [`burns_norm_train`].
pub(crate) fn burns_norm_train_backward<B: Backend>(
    x: FloatTensor<B>,
    gamma: FloatTensor<B>,
    mean: FloatTensor<B>,
    variance: FloatTensor<B>,
    epsilon: f64,
    output_grad: FloatTensor<B>,
) -> (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>) {
    let out = B::batch_norm_train_backward(x, gamma, mean, variance, epsilon, output_grad);
    (out.x_grad, out.gamma_grad, out.beta_grad)
}

/// `burn::tensor::module::batch_norm_train` with the passes of [`NormKernels`]: the output, and
/// the batch's mean and biased variance per channel (outside the autodiff graph).
pub fn batch_norm_train(
    x: Tensor<4>,
    gamma: Tensor<1>,
    beta: Tensor<1>,
    epsilon: f64,
) -> (Tensor<4>, Tensor<1>, Tensor<1>) {
    let (y, mean, variance) =
        <Dispatch as NormKernels>::norm_train(x.into_dispatch(), gamma.into_dispatch(), beta.into_dispatch(), epsilon);
    (Tensor::from_dispatch(y), Tensor::from_dispatch(mean), Tensor::from_dispatch(variance))
}

#[derive(Debug)]
struct NormBackward;

impl<B: NormKernels> Backward<B, 3> for NormBackward {
    /// The checkpointed input and gamma, and the batch's statistics as the forward pass made them.
    type State = (NodeId, NodeId, FloatTensor<B>, FloatTensor<B>, f64);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, checkpointer: &mut Checkpointer) {
        let grad = grads.consume::<B>(&ops.node);
        let (x_state, gamma_state, mean, variance, epsilon) = ops.state;
        let x = checkpointer.retrieve_node_output::<FloatTensor<B>>(x_state);
        let gamma = checkpointer.retrieve_node_output::<FloatTensor<B>>(gamma_state);
        let (dx, dgamma, dbeta) = B::norm_train_backward(x, gamma, mean, variance, epsilon, grad);
        let [node_x, node_gamma, node_beta] = ops.parents;
        for (node, grad) in [(node_x, dx), (node_gamma, dgamma), (node_beta, dbeta)] {
            if let Some(node) = node {
                grads.register::<B>(node.id, grad);
            }
        }
    }
}

impl<B: NormKernels, C: CheckpointStrategy> NormKernels for Autodiff<B, C> {
    fn norm_train(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        match NormBackward.prepare::<C>([x.node(), gamma.node(), beta.node()]).compute_bound().stateful() {
            OpsKind::Tracked(mut prep) => {
                let (x_state, gamma_state) = (prep.checkpoint(&x), prep.checkpoint(&gamma));
                let (y, mean, variance) =
                    B::norm_train(x.into_primitive(), gamma.into_primitive(), beta.into_primitive(), epsilon);
                let state = (x_state, gamma_state, mean.clone(), variance.clone(), epsilon);
                (prep.finish(state, y), FloatTensor::<Self>::new(mean), FloatTensor::<Self>::new(variance))
            }
            OpsKind::UnTracked(prep) => {
                let (y, mean, variance) =
                    B::norm_train(x.into_primitive(), gamma.into_primitive(), beta.into_primitive(), epsilon);
                (prep.finish(y), FloatTensor::<Self>::new(mean), FloatTensor::<Self>::new(variance))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Distribution, Tolerance, module};

    use super::*;

    /// On the CPU with autodiff, the output, the statistics and all three gradients equal burn's
    /// own batch norm's, on activations far from zero (where a one-pass variance fails).
    #[test]
    fn batch_norm_and_its_gradients_equal_burns() {
        let device = burn::tensor::Device::flex().autodiff();
        let x = Tensor::<4>::random([4, 3, 7, 5], Distribution::Normal(30.0, 2.0), &device).require_grad();
        let gamma = Tensor::<1>::random([3], Distribution::Normal(1.0, 0.5), &device).require_grad();
        let beta = Tensor::<1>::random([3], Distribution::Normal(0.0, 0.5), &device).require_grad();
        let (ours, mean, variance) = batch_norm_train(x.clone(), gamma.clone(), beta.clone(), 1e-5);
        let theirs = module::batch_norm_train(x.clone(), gamma.clone(), beta.clone(), 1e-5);
        let close = Tolerance::absolute(1e-4);
        ours.to_data().assert_approx_eq::<f32>(&theirs.output.to_data(), close);
        mean.to_data().assert_approx_eq::<f32>(&theirs.mean.to_data(), close);
        variance.to_data().assert_approx_eq::<f32>(&theirs.variance.to_data(), close);
        let weights = Tensor::<4>::random(ours.dims(), Distribution::Normal(0.0, 1.0), &device);
        let ours = (ours * weights.clone()).sum().backward();
        let theirs = (theirs.output * weights).sum().backward();
        let grad = |t: &Tensor<4>, g| t.grad(g).expect("a gradient").to_data();
        grad(&x, &ours).assert_approx_eq::<f32>(&grad(&x, &theirs), Tolerance::absolute(1e-3));
        for p in [&gamma, &beta] {
            let (a, b) = (p.grad(&ours).expect("ours"), p.grad(&theirs).expect("burn's"));
            a.to_data().assert_approx_eq::<f32>(&b.to_data(), Tolerance::absolute(1e-3));
        }
    }
}
