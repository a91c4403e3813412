//! [`ReluKernels`] and [`SgdKernels`] on the GPU for f32 tensors: one launch each where burn's
//! composed operations launch two (ReLU: a comparison, then a masked fill) to five (SGD with
//! momentum and weight decay: a kernel per term). In a browser every launch pays the WebGPU
//! command overhead, which `resnet-small`'s small maps make a large share of a step.

use burn::backend::Cube;
use burn::backend::TensorMetadata;
use burn::backend::ops::ActivationOps;
use burn::backend::tensor::FloatTensor;
use burn_cubecl::cubecl;
use burn_cubecl::cubecl::prelude::*;
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::tensor::CubeTensor;

use super::{empty, grid, ours};
use crate::relu::ReluKernels;
use crate::sgd::{SgdKernels, SgdStep, burns_sgd_step};

/// `x` where it is positive (NaN stays NaN, as in PyTorch), else 0; backward, `grad` where `x`
/// is positive, else 0.
#[cube(launch_unchecked)]
fn relu_kernel(x: &[f32], grad: &[f32], out: &mut [f32], len: usize, #[comptime] backward: bool) {
    if ABSOLUTE_POS >= len {
        terminate!();
    }
    let v = x[ABSOLUTE_POS];
    let mut kept = v;
    if backward {
        kept = grad[ABSOLUTE_POS];
    }
    out[ABSOLUTE_POS] = select(v <= f32::new(0.0), f32::new(0.0), kept);
}

/// One SGD step's numbers.
#[derive(CubeLaunch, CubeType)]
struct Step {
    lr: f32,
    momentum: f32,
    decay: f32,
    len: usize,
}

/// burn's `Sgd` arithmetic in its order ([`crate::cpu::sgd`]'s), one value per thread.
#[cube(launch_unchecked)]
fn sgd_kernel(
    param: &[f32],
    grad: &[f32],
    velocity: &[f32],
    new_param: &mut [f32],
    new_velocity: &mut [f32],
    s: &Step,
    #[comptime] decay: bool,
    #[comptime] momentum: bool,
    #[comptime] nesterov: bool,
) {
    if ABSOLUTE_POS >= s.len {
        terminate!();
    }
    let p = param[ABSOLUTE_POS];
    let mut g = grad[ABSOLUTE_POS];
    if decay {
        g += p * s.decay;
    }
    if momentum {
        let v = g + velocity[ABSOLUTE_POS] * s.momentum;
        new_velocity[ABSOLUTE_POS] = v;
        if nesterov {
            g += v * s.momentum;
        } else {
            g = v;
        }
    }
    new_param[ABSOLUTE_POS] = p - g * s.lr;
}

fn relu(x: CubeTensor, grad: Option<CubeTensor>) -> CubeTensor {
    let x = into_contiguous(x);
    let grad = grad.map(into_contiguous);
    let len = x.shape().num_elements();
    let out = empty(&x, x.shape());
    let (count, dim) = grid(&x, len);
    let backward = grad.is_some();
    // WebGPU refuses a buffer bound twice in one launch where one binding may be written, so the
    // forward pass reads a placeholder, not `x` again.
    let grad = grad.unwrap_or_else(|| empty(&x, [1]));
    // Safety: every thread index is checked against `len`, the length of every buffer.
    unsafe {
        relu_kernel::launch_unchecked(
            &x.client,
            count,
            dim,
            x.clone().into_buffer_arg(),
            grad.into_buffer_arg(),
            out.clone().into_buffer_arg(),
            len,
            backward,
        )
    };
    out
}

impl ReluKernels for Cube {
    fn relu_forward(x: FloatTensor<Self>) -> FloatTensor<Self> {
        if !ours(&[&x]) {
            return Cube::relu(x);
        }
        relu(x, None)
    }

    fn relu_input_grad(x: FloatTensor<Self>, output_grad: FloatTensor<Self>) -> FloatTensor<Self> {
        if !ours(&[&x, &output_grad]) {
            return Cube::relu_backward(x, output_grad);
        }
        relu(x, Some(output_grad))
    }
}

impl SgdKernels for Cube {
    fn sgd_step(
        param: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        velocity: FloatTensor<Self>,
        step: SgdStep,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        let same = param.shape() == grad.shape() && (step.momentum == 0.0 || velocity.shape() == param.shape());
        if !ours(&[&param, &grad, &velocity]) || !same {
            return burns_sgd_step::<Cube>(param, grad, velocity, step);
        }
        let (param, grad) = (into_contiguous(param), into_contiguous(grad));
        let momentum = step.momentum != 0.0;
        let velocity = if momentum { into_contiguous(velocity) } else { velocity };
        let len = param.shape().num_elements();
        let new_param = empty(&param, param.shape());
        let new_velocity = if momentum { empty(&param, param.shape()) } else { velocity.clone() };
        let (count, dim) = grid(&param, len);
        let numbers = StepLaunch::new(step.lr as f32, step.momentum as f32, step.weight_decay as f32, len);
        // Without momentum the velocity is neither read nor written: placeholders stand in (a
        // buffer bound twice in one launch is refused, as in `relu`).
        let (velocity_in, velocity_out) =
            if momentum { (velocity, new_velocity.clone()) } else { (empty(&param, [1]), empty(&param, [1])) };
        // Safety: every thread index is checked against `len`, the length of every buffer.
        unsafe {
            sgd_kernel::launch_unchecked(
                &param.client,
                count,
                dim,
                param.clone().into_buffer_arg(),
                grad.into_buffer_arg(),
                velocity_in.into_buffer_arg(),
                new_param.clone().into_buffer_arg(),
                velocity_out.into_buffer_arg(),
                numbers,
                step.weight_decay != 0.0,
                momentum,
                step.nesterov,
            )
        };
        (new_param, new_velocity)
    }
}
