//! [`NormKernels`] on the GPU for f32 NCHW batches: four launches forward and three backward,
//! where burn's composed batch norm launches about twenty kernels over the activation (most of
//! the element-wise time of `resnet-small` on SwiftShader: 23% of a step, over 7,900 launches an
//! epoch of 640 images). The arithmetic is [`crate::cpu::norm`]'s: two passes for the variance,
//! the gradient as a scale of `dy` plus a line in `x`.
//!
//! Sums run in two levels without atomics or barriers, in a fixed order, so a run repeats to the
//! bit: [`LANES`] threads per plane each sum every `LANES`-th value of it (neighbouring threads
//! read neighbouring values), then one thread per channel sums its planes' partial sums.

use burn::backend::Cube;
use burn::backend::TensorMetadata;
use burn::backend::tensor::FloatTensor;
use burn_cubecl::cubecl;
use burn_cubecl::cubecl::prelude::*;
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::tensor::CubeTensor;

use super::{empty, grid, ours};
use crate::norm::{NormKernels, burns_norm_train, burns_norm_train_backward};

/// Threads that share one plane's sums: at most this many, fewer for a smaller plane.
const LANES: usize = 64;

/// NCHW: `batch` images of `channels` planes of `plane` values, `lanes` threads per plane.
#[derive(CubeLaunch, CubeType, Clone, Copy)]
struct Planes {
    batch: usize,
    channels: usize,
    plane: usize,
    lanes: usize,
}

/// Per thread `(image, channel, lane)`: the sum of `x` (or, with `deviations`, of its squared
/// deviations from `mean`) over the lane's values of the plane.
#[cube(launch_unchecked)]
fn plane_sums_kernel(x: &[f32], mean: &[f32], partial: &mut [f32], p: &Planes, #[comptime] deviations: bool) {
    if ABSOLUTE_POS >= p.batch * p.channels * p.lanes {
        terminate!();
    }
    let lane = ABSOLUTE_POS % p.lanes;
    let plane = ABSOLUTE_POS / p.lanes;
    let m = mean[plane % p.channels];
    let start = plane * p.plane;
    let mut sum = f32::new(0.0);
    let mut at = lane;
    while at < p.plane {
        let v = x[start + at];
        if deviations {
            sum += (v - m) * (v - m);
        } else {
            sum += v;
        }
        at += p.lanes;
    }
    partial[ABSOLUTE_POS] = sum;
}

/// Per thread `(image, channel, lane)`: the sums of `dy` and of `dy * (x - mean)` over the lane's
/// values of the plane, side by side.
#[cube(launch_unchecked)]
fn grad_sums_kernel(x: &[f32], dy: &[f32], mean: &[f32], partial: &mut [f32], p: &Planes) {
    if ABSOLUTE_POS >= p.batch * p.channels * p.lanes {
        terminate!();
    }
    let lane = ABSOLUTE_POS % p.lanes;
    let plane = ABSOLUTE_POS / p.lanes;
    let m = mean[plane % p.channels];
    let start = plane * p.plane;
    let mut dy_sum = f32::new(0.0);
    let mut dy_x_sum = f32::new(0.0);
    let mut at = lane;
    while at < p.plane {
        let g = dy[start + at];
        dy_sum += g;
        dy_x_sum += g * (x[start + at] - m);
        at += p.lanes;
    }
    partial[2 * ABSOLUTE_POS] = dy_sum;
    partial[2 * ABSOLUTE_POS + 1] = dy_x_sum;
}

/// The sum over a channel's planes and lanes of `partial`'s `slot` of `width`, in a fixed order.
#[cube]
fn channel_sum(partial: &[f32], p: &Planes, channel: usize, width: usize, slot: usize) -> f32 {
    let mut sum = f32::new(0.0);
    for image in 0..p.batch {
        let first = (image * p.channels + channel) * p.lanes;
        for lane in 0..p.lanes {
            sum += partial[(first + lane) * width + slot];
        }
    }
    sum
}

/// Per channel: the mean of its planes.
#[cube(launch_unchecked)]
fn mean_kernel(partial: &[f32], mean: &mut [f32], p: &Planes) {
    if ABSOLUTE_POS >= p.channels {
        terminate!();
    }
    let count = f32::cast_from(p.batch * p.plane);
    mean[ABSOLUTE_POS] = channel_sum(partial, p, ABSOLUTE_POS, 1, 0) / count;
}

/// Per channel: the biased variance, and the scale and shift that normalise the channel:
/// `y = x * scale + shift`.
#[cube(launch_unchecked)]
fn variance_kernel(
    partial: &[f32],
    mean: &[f32],
    gamma: &[f32],
    beta: &[f32],
    variance: &mut [f32],
    line: &mut [f32],
    p: &Planes,
    epsilon: f32,
) {
    let c = ABSOLUTE_POS;
    if c >= p.channels {
        terminate!();
    }
    let v = channel_sum(partial, p, c, 1, 0) / f32::cast_from(p.batch * p.plane);
    variance[c] = v;
    let scale = gamma[c] / f32::sqrt(v + epsilon);
    line[2 * c] = scale;
    line[2 * c + 1] = beta[c] - mean[c] * scale;
}

/// Per channel: the gradients of `gamma` and `beta`, and the input gradient as
/// `dx = k * dy + a * x + b` (`[k, a, b]` in `line`).
#[cube(launch_unchecked)]
fn grad_channels_kernel(
    partial: &[f32],
    gamma: &[f32],
    mean: &[f32],
    variance: &[f32],
    gamma_grad: &mut [f32],
    beta_grad: &mut [f32],
    line: &mut [f32],
    p: &Planes,
    epsilon: f32,
) {
    let c = ABSOLUTE_POS;
    if c >= p.channels {
        terminate!();
    }
    let inv_std = f32::new(1.0) / f32::sqrt(variance[c] + epsilon);
    let dy_sum = channel_sum(partial, p, c, 2, 0);
    let dgamma = channel_sum(partial, p, c, 2, 1) * inv_std;
    gamma_grad[c] = dgamma;
    beta_grad[c] = dy_sum;
    let count = f32::cast_from(p.batch * p.plane);
    let k = gamma[c] * inv_std;
    let slope = inv_std * dgamma / count;
    let offset = mean[c] * slope - dy_sum / count;
    line[3 * c] = k;
    line[3 * c + 1] = -k * slope;
    line[3 * c + 2] = k * offset;
}

/// Per value: `y = x * line[c][0] + line[c][1]` (forward), or with `dy`, `dx = line[c][0] * dy +
/// line[c][1] * x + line[c][2]` (backward).
#[cube(launch_unchecked)]
fn affine_kernel(x: &[f32], dy: &[f32], line: &[f32], out: &mut [f32], p: &Planes, #[comptime] backward: bool) {
    if ABSOLUTE_POS >= p.batch * p.channels * p.plane {
        terminate!();
    }
    let c = (ABSOLUTE_POS / p.plane) % p.channels;
    let v = x[ABSOLUTE_POS];
    if backward {
        out[ABSOLUTE_POS] = line[3 * c] * dy[ABSOLUTE_POS] + line[3 * c + 1] * v + line[3 * c + 2];
    } else {
        out[ABSOLUTE_POS] = v * line[2 * c] + line[2 * c + 1];
    }
}

/// The planes of an f32 NCHW batch our kernels take, unless burn's run now.
fn planes(x: &CubeTensor, gamma: &CubeTensor) -> Option<Planes> {
    if !ours(&[x, gamma]) || x.shape().num_dims() != 4 {
        return None;
    }
    let [batch, channels, h, w] = x.shape().dims();
    let plane = h * w;
    let lanes = plane.clamp(1, LANES);
    Some(Planes { batch, channels, plane, lanes })
}

fn args(p: &Planes) -> PlanesLaunch {
    PlanesLaunch::new(p.batch, p.channels, p.plane, p.lanes)
}

/// The partial sums of `x` (or its squared deviations from `mean`), one per plane and lane.
fn plane_sums(x: &CubeTensor, mean: &CubeTensor, p: &Planes, deviations: bool) -> CubeTensor {
    let threads = p.batch * p.channels * p.lanes;
    let partial = empty(x, [threads]);
    let (count, dim) = grid(x, threads);
    // Safety: every thread index is bounded by the planes' sizes, which sized every buffer.
    unsafe {
        plane_sums_kernel::launch_unchecked(
            &x.client,
            count,
            dim,
            x.clone().into_buffer_arg(),
            mean.clone().into_buffer_arg(),
            partial.clone().into_buffer_arg(),
            args(p),
            deviations,
        )
    };
    partial
}

fn affine(x: &CubeTensor, dy: &CubeTensor, line: &CubeTensor, p: &Planes, backward: bool) -> CubeTensor {
    let out = empty(x, x.shape());
    let (count, dim) = grid(x, p.batch * p.channels * p.plane);
    // Safety: as in `plane_sums`.
    unsafe {
        affine_kernel::launch_unchecked(
            &x.client,
            count,
            dim,
            x.clone().into_buffer_arg(),
            dy.clone().into_buffer_arg(),
            line.clone().into_buffer_arg(),
            out.clone().into_buffer_arg(),
            args(p),
            backward,
        )
    };
    out
}

fn norm_train(p: &Planes, x: CubeTensor, gamma: CubeTensor, beta: CubeTensor, epsilon: f64) -> [CubeTensor; 3] {
    let (x, gamma, beta) = (into_contiguous(x), into_contiguous(gamma), into_contiguous(beta));
    let mean = empty(&x, [p.channels]);
    let sums = plane_sums(&x, &mean, p, false);
    let (count, dim) = grid(&x, p.channels);
    // Safety: as in `plane_sums`.
    unsafe {
        mean_kernel::launch_unchecked(
            &x.client,
            count.clone(),
            dim,
            sums.into_buffer_arg(),
            mean.clone().into_buffer_arg(),
            args(p),
        )
    };
    let deviations = plane_sums(&x, &mean, p, true);
    let (variance, line) = (empty(&x, [p.channels]), empty(&x, [2 * p.channels]));
    // Safety: as in `plane_sums`.
    unsafe {
        variance_kernel::launch_unchecked(
            &x.client,
            count,
            dim,
            deviations.into_buffer_arg(),
            mean.clone().into_buffer_arg(),
            gamma.into_buffer_arg(),
            beta.into_buffer_arg(),
            variance.clone().into_buffer_arg(),
            line.clone().into_buffer_arg(),
            args(p),
            epsilon as f32,
        )
    };
    let y = affine(&x, &x, &line, p, false);
    [y, mean, variance]
}

fn norm_train_backward(
    p: &Planes,
    x: CubeTensor,
    gamma: CubeTensor,
    mean: CubeTensor,
    variance: CubeTensor,
    epsilon: f64,
    dy: CubeTensor,
) -> [CubeTensor; 3] {
    let (x, dy, gamma) = (into_contiguous(x), into_contiguous(dy), into_contiguous(gamma));
    let (mean, variance) = (into_contiguous(mean), into_contiguous(variance));
    let threads = p.batch * p.channels * p.lanes;
    let partial = empty(&x, [2 * threads]);
    let (count, dim) = grid(&x, threads);
    // Safety: as in `plane_sums`.
    unsafe {
        grad_sums_kernel::launch_unchecked(
            &x.client,
            count,
            dim,
            x.clone().into_buffer_arg(),
            dy.clone().into_buffer_arg(),
            mean.clone().into_buffer_arg(),
            partial.clone().into_buffer_arg(),
            args(p),
        )
    };
    let (gamma_grad, beta_grad) = (empty(&x, [p.channels]), empty(&x, [p.channels]));
    let line = empty(&x, [3 * p.channels]);
    let (count, dim) = grid(&x, p.channels);
    // Safety: as in `plane_sums`.
    unsafe {
        grad_channels_kernel::launch_unchecked(
            &x.client,
            count,
            dim,
            partial.into_buffer_arg(),
            gamma.into_buffer_arg(),
            mean.into_buffer_arg(),
            variance.into_buffer_arg(),
            gamma_grad.clone().into_buffer_arg(),
            beta_grad.clone().into_buffer_arg(),
            line.clone().into_buffer_arg(),
            args(p),
            epsilon as f32,
        )
    };
    let dx = affine(&x, &dy, &line, p, true);
    [dx, gamma_grad, beta_grad]
}

impl NormKernels for Cube {
    fn norm_train(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let Some(p) = planes(&x, &gamma) else { return burns_norm_train::<Cube>(x, gamma, beta, epsilon) };
        let [y, mean, variance] = norm_train(&p, x, gamma, beta, epsilon);
        (y, mean, variance)
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
            return burns_norm_train_backward::<Cube>(x, gamma, mean, variance, epsilon, output_grad);
        };
        let [dx, gamma_grad, beta_grad] = norm_train_backward(&p, x, gamma, mean, variance, epsilon, output_grad);
        (dx, gamma_grad, beta_grad)
    }
}
