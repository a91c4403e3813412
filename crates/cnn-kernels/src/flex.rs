//! [`ConvKernels`], [`LinearKernels`], [`ReluKernels`], [`DropoutKernels`], [`PoolKernels`],
//! [`NormKernels`], [`SgdKernels`] and [`AdamKernels`] on burn-flex: the [`cpu`] kernels for f32, burn's own for other types.

use burn::backend::Flex;
use burn::backend::TensorMetadata;
use burn::backend::ops::{ActivationOps, ConvOptions, FloatTensorOps, ModuleOps};
use burn::backend::tensor::{FloatTensor, IntTensor};
use burn::tensor::{DType, Distribution, FloatDType, Shape, TensorData};

use crate::ConvKernels;
use crate::adam::{AdamKernels, AdamStep, burns_adam_step};
use crate::cpu::norm::{self, Planes};
use crate::cpu::pool::{self, Window};
use crate::cpu::{self, Geometry};
use crate::dropout::{DropoutKernels, burns_dropout_mask};
use crate::linear::{LinearKernels, burns_linear_forward, burns_linear_input_grad, burns_linear_weight_grad};
use crate::norm::{NormKernels, burns_norm_train, burns_norm_train_backward};
use crate::pool::{PoolKernels, PoolOptions, burns_max_pool_backward, burns_max_pool_with_indices};
use crate::relu::ReluKernels;
use crate::sgd::{SgdKernels, SgdStep, burns_sgd_step};

/// The geometry of a conv of `x` by `weight`, where the CPU kernels take it: f32 tensors.
fn geometry(x: &FloatTensor<Flex>, weight: &FloatTensor<Flex>, options: &ConvOptions<2>) -> Option<Geometry> {
    if x.dtype() != DType::F32 || weight.dtype() != DType::F32 {
        return None;
    }
    Geometry::new(x.shape().dims(), weight.shape().dims(), options)
}

/// A kernel's values as a tensor of `shape`, without copying them.
fn tensor(data: Vec<f32>, shape: impl Into<Shape>) -> FloatTensor<Flex> {
    FloatTensor::<Flex>::from_data(TensorData::new(data, shape))
}

impl ConvKernels for Flex {
    fn conv_forward(x: FloatTensor<Self>, weight: FloatTensor<Self>, options: ConvOptions<2>) -> FloatTensor<Self> {
        let Some(g) = geometry(&x, &weight, &options) else { return Flex::conv2d(x, weight, None, options) };
        let y = cpu::forward(&g, x.to_contiguous().storage(), weight.to_contiguous().storage(), None);
        tensor(y, [g.batch, g.c_out, g.oh, g.ow])
    }

    fn conv_input_grad(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        output_grad: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        let Some(g) = geometry(&x, &weight, &options) else {
            return Flex::conv2d_x_backward(x, weight, output_grad, options);
        };
        let dx = cpu::input_grad(&g, weight.to_contiguous().storage(), output_grad.to_contiguous().storage());
        tensor(dx, [g.batch, g.c_in, g.h, g.w])
    }

    fn conv_weight_grad(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        output_grad: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        let Some(g) = geometry(&x, &weight, &options) else {
            return Flex::conv2d_weight_backward(x, weight, output_grad, options);
        };
        let dw = cpu::weight_grad(&g, x.to_contiguous().storage(), output_grad.to_contiguous().storage());
        let [c_out, per_group, kh, kw] = weight.shape().dims();
        tensor(dw, [c_out, per_group, kh, kw])
    }
}

/// Whether the CPU kernels take these tensors: f32 matrices.
fn f32_matrices(tensors: [&FloatTensor<Flex>; 2]) -> bool {
    tensors.iter().all(|t| t.dtype() == DType::F32 && t.shape().num_dims() == 2)
}

impl LinearKernels for Flex {
    fn linear_forward(x: FloatTensor<Self>, weight: FloatTensor<Self>) -> FloatTensor<Self> {
        if !f32_matrices([&x, &weight]) {
            return burns_linear_forward::<Flex>(x, weight);
        }
        let ([batch, input], [_, output]) = (x.shape().dims(), weight.shape().dims());
        let dims = [batch, input, output];
        tensor(
            cpu::linear::forward(x.to_contiguous().storage(), weight.to_contiguous().storage(), dims),
            [batch, output],
        )
    }

    fn linear_input_grad(weight: FloatTensor<Self>, output_grad: FloatTensor<Self>) -> FloatTensor<Self> {
        if !f32_matrices([&weight, &output_grad]) {
            return burns_linear_input_grad::<Flex>(weight, output_grad);
        }
        let ([input, output], [batch, _]) = (weight.shape().dims(), output_grad.shape().dims());
        let (w, dy) = (weight.to_contiguous(), output_grad.to_contiguous());
        tensor(cpu::linear::input_grad(w.storage(), dy.storage(), [batch, input, output]), [batch, input])
    }

    fn linear_weight_grad(x: FloatTensor<Self>, output_grad: FloatTensor<Self>) -> FloatTensor<Self> {
        if !f32_matrices([&x, &output_grad]) {
            return burns_linear_weight_grad::<Flex>(x, output_grad);
        }
        let ([batch, input], [_, output]) = (x.shape().dims(), output_grad.shape().dims());
        let (x, dy) = (x.to_contiguous(), output_grad.to_contiguous());
        tensor(cpu::linear::weight_grad(x.storage(), dy.storage(), [batch, input, output]), [input, output])
    }
}

impl ReluKernels for Flex {
    fn relu_forward(x: FloatTensor<Self>) -> FloatTensor<Self> {
        if x.dtype() != DType::F32 {
            return Flex::relu(x);
        }
        let shape = x.shape();
        tensor(cpu::relu::forward(x.to_contiguous().storage()), shape)
    }

    fn relu_input_grad(x: FloatTensor<Self>, output_grad: FloatTensor<Self>) -> FloatTensor<Self> {
        if x.dtype() != DType::F32 || output_grad.dtype() != DType::F32 {
            return Flex::relu_backward(x, output_grad);
        }
        let shape = x.shape();
        let dx = cpu::relu::input_grad(x.to_contiguous().storage(), output_grad.to_contiguous().storage());
        tensor(dx, shape)
    }
}

impl DropoutKernels for Flex {
    fn dropout_mask(like: FloatTensor<Self>, keep: f64) -> FloatTensor<Self> {
        if like.dtype() != DType::F32 {
            return burns_dropout_mask::<Flex>(like, keep);
        }
        // The seed comes from burn's generator, so a seeded device draws the same masks again.
        let device = like.device();
        let draws = Flex::float_random([4].into(), Distribution::Uniform(0.0, 65536.0), &device, FloatDType::F32);
        let draws = draws.into_data().try_to_vec::<f32>().unwrap_or_default();
        let seed = draws.iter().fold(0u64, |seed, &draw| seed << 16 | draw as u64 & 0xffff);
        let shape = like.shape();
        tensor(cpu::dropout::mask(shape.num_elements(), keep, seed), shape)
    }
}

/// The window of a pooling of `x`, where the CPU kernels take it: f32 planes.
fn window(x: &FloatTensor<Flex>, options: &PoolOptions) -> Option<(Window, usize)> {
    if x.dtype() != DType::F32 {
        return None;
    }
    let [batch, channels, h, w] = x.shape().dims();
    let PoolOptions { kernel, stride, padding, dilation } = *options;
    let size = |input: usize, i: usize| {
        (input + 2 * padding[i]).checked_sub(dilation[i] * (kernel[i] - 1) + 1).map(|span| span / stride[i] + 1)
    };
    let (oh, ow) = (size(h, 0)?, size(w, 1)?);
    Some((Window { h, w, kernel, stride, padding, dilation, oh, ow }, batch * channels))
}

impl PoolKernels for Flex {
    fn max_pool_forward(x: FloatTensor<Self>, options: PoolOptions) -> FloatTensor<Self> {
        let Some((win, planes)) = window(&x, &options) else {
            let PoolOptions { kernel, stride, padding, dilation } = options;
            return Flex::max_pool2d(x, kernel, stride, padding, dilation, false);
        };
        let [batch, channels, _, _] = x.shape().dims();
        tensor(pool::max_pool_values(&win, planes, x.to_contiguous().storage()), [batch, channels, win.oh, win.ow])
    }

    fn max_pool_with_indices(x: FloatTensor<Self>, options: PoolOptions) -> (FloatTensor<Self>, IntTensor<Self>) {
        let Some((win, planes)) = window(&x, &options) else { return burns_max_pool_with_indices::<Flex>(x, options) };
        let [batch, channels, _, _] = x.shape().dims();
        let (y, at) = pool::max_pool(&win, planes, x.to_contiguous().storage());
        let shape = [batch, channels, win.oh, win.ow];
        (tensor(y, shape), IntTensor::<Flex>::from_data(TensorData::new(at, shape)))
    }

    fn max_pool_backward(
        x: FloatTensor<Self>,
        options: PoolOptions,
        output_grad: FloatTensor<Self>,
        indices: IntTensor<Self>,
    ) -> FloatTensor<Self> {
        let Some((win, planes)) = window(&x, &options) else {
            return burns_max_pool_backward::<Flex>(x, options, output_grad, indices);
        };
        let dx = pool::max_pool_backward(
            &win,
            planes,
            output_grad.to_contiguous().storage(),
            indices.to_contiguous().storage(),
        );
        tensor(dx, x.shape())
    }
}

/// The planes of a batch norm of `x` by `gamma`, where the CPU kernels take it: f32 NCHW.
fn planes(x: &FloatTensor<Flex>, gamma: &FloatTensor<Flex>) -> Option<Planes> {
    if x.dtype() != DType::F32 || gamma.dtype() != DType::F32 || x.shape().num_dims() != 4 {
        return None;
    }
    let [batch, channels, h, w] = x.shape().dims();
    Some(Planes { batch, channels, plane: h * w })
}

impl NormKernels for Flex {
    fn norm_train(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let Some(p) = planes(&x, &gamma) else { return burns_norm_train::<Flex>(x, gamma, beta, epsilon) };
        let (gamma, beta) = (gamma.to_contiguous(), beta.to_contiguous());
        let (y, mean, variance) =
            norm::batch_norm_train(&p, x.to_contiguous().storage(), gamma.storage(), beta.storage(), epsilon);
        (tensor(y, x.shape()), tensor(mean, [p.channels]), tensor(variance, [p.channels]))
    }

    fn norm_train_backward(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        mean: FloatTensor<Self>,
        variance: FloatTensor<Self>,
        epsilon: f64,
        output_grad: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let Some(p) = planes(&x, &gamma) else {
            return burns_norm_train_backward::<Flex>(x, gamma, mean, variance, epsilon, output_grad);
        };
        let (gamma, mean, variance) = (gamma.to_contiguous(), mean.to_contiguous(), variance.to_contiguous());
        let (dx, dgamma, dbeta) = norm::batch_norm_train_backward(
            &p,
            x.to_contiguous().storage(),
            gamma.storage(),
            mean.storage(),
            variance.storage(),
            epsilon,
            output_grad.to_contiguous().storage(),
        );
        (tensor(dx, x.shape()), tensor(dgamma, [p.channels]), tensor(dbeta, [p.channels]))
    }
}

/// `t` with its values in one contiguous buffer of its own size, taking it as it is where it
/// already is (so that a tensor nothing else holds can be written in place).
fn owned_contiguous(t: FloatTensor<Flex>) -> FloatTensor<Flex> {
    let contiguous = t.to_contiguous();
    drop(t);
    contiguous
}

impl SgdKernels for Flex {
    fn sgd_step(
        param: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        velocity: FloatTensor<Self>,
        step: SgdStep,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        if [&param, &grad, &velocity].iter().any(|t| t.dtype() != DType::F32) {
            return burns_sgd_step::<Flex>(param, grad, velocity, step);
        }
        let (mut param, grad) = (owned_contiguous(param), grad.to_contiguous());
        let n = param.shape().num_elements();
        if step.momentum == 0.0 {
            cpu::sgd::step(&mut param.storage_mut()[..n], &grad.storage()[..n], None, step);
            return (param, velocity);
        }
        let mut velocity = owned_contiguous(velocity);
        let v = &mut velocity.storage_mut()[..n];
        cpu::sgd::step(&mut param.storage_mut()[..n], &grad.storage()[..n], Some(v), step);
        (param, velocity)
    }
}

impl AdamKernels for Flex {
    fn adam_step(
        param: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        moment_1: FloatTensor<Self>,
        moment_2: FloatTensor<Self>,
        step: AdamStep,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        if [&param, &grad, &moment_1, &moment_2].iter().any(|t| t.dtype() != DType::F32) {
            return burns_adam_step::<Flex>(param, grad, moment_1, moment_2, step);
        }
        let (mut param, grad) = (owned_contiguous(param), grad.to_contiguous());
        let (mut m, mut v) = (owned_contiguous(moment_1), owned_contiguous(moment_2));
        let n = param.shape().num_elements();
        let (p, g) = (&mut param.storage_mut()[..n], &grad.storage()[..n]);
        cpu::adam::step(p, g, &mut m.storage_mut()[..n], &mut v.storage_mut()[..n], step);
        (param, m, v)
    }
}
