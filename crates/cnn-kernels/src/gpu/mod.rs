//! [`ConvKernels`], [`LinearKernels`], batch norm's training passes (`norm.rs`), ReLU and SGD's
//! step (`elementwise.rs`) on burn's Cube backend (WebGPU in the browser, Vulkan or another wgpu
//! API natively) for f32 tensors; burn's own for other types.
//!
//! burn 0.22 runs our networks' convolutions on the GPU with its *direct* kernels: one thread per
//! output value, summing over channels and taps with no reuse between threads, for the forward
//! pass and both gradients (its implicit-GEMM kernels need cooperative matrices, which WGSL lacks,
//! and its im2col paths are reachable only through autotune, which traps in the browser). Here a
//! convolution is one matrix product per chunk of images over the unfolded input, as on the CPU
//! ([`crate::cpu`]), run by cubek's register-tiled product ([`matmul`]):
//! - forward: `W [c_out, K] x columns [K, images * pixels]`, written back as NCHW;
//! - weight gradient: `dY [c_out, images * pixels] x columns^T`, summed over the chunks in order;
//! - input gradient: `W^T x dY`, folded back onto the image by a gather ([`kernels`]' `fold`: no
//!   atomics, a fixed order of sums, so a run repeats to the bit).
//!
//! `K` is the input channels times the kernel's taps; groups are the products' batch dimension.
//! A chunk's columns stay under [`COLUMNS_BYTES`], well inside WebGPU's default largest buffer
//! (128 MiB), so a batch that fits the device is chunked, never refused.
//!
//! The adapter decides the defaults ([`default_kernels`], [`matmul::default_tiles`]): on a software
//! adapter (SwiftShader, lavapipe) the product is our blocked one ([`blocked`]: no shared memory,
//! no barriers), on a hardware GPU cubek's tiled one.

mod blocked;
pub mod check;
mod elementwise;
mod kernels;
pub mod matmul;
mod norm;

use std::cell::Cell;
use std::sync::atomic::{AtomicU8, Ordering};

use burn::backend::Cube;
use burn::backend::TensorMetadata;
use burn::backend::ops::{ConvOptions, ModuleOps};
use burn::backend::tensor::FloatTensor;
use burn::tensor::{DType, Shape};
use burn_cubecl::cubecl::calculate_cube_count_elemwise;
use burn_cubecl::cubecl::prelude::{CubeCount, CubeDim};
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::ops::numeric::{add, empty_device_contiguous_dtype};
use burn_cubecl::ops::{permute, reshape};
use burn_cubecl::tensor::CubeTensor;

use crate::ConvKernels;
use crate::cpu::Geometry;
use crate::linear::{LinearKernels, burns_linear_forward, burns_linear_input_grad, burns_linear_weight_grad};
use matmul::product;

/// The most bytes of unfolded input one chunk of images may take.
pub const COLUMNS_BYTES: usize = 64 << 20;

thread_local! {
    /// A smaller budget than [`COLUMNS_BYTES`] for the convolutions this thread runs.
    static BUDGET: Cell<Option<usize>> = const { Cell::new(None) };
}

/// Makes the convolutions this thread runs keep each chunk's columns under `bytes` (`None`:
/// [`COLUMNS_BYTES`]), so that a test's small batch runs in several chunks.
pub fn set_columns_budget(bytes: Option<usize>) {
    BUDGET.set(bytes);
}

fn columns_budget() -> usize {
    BUDGET.get().unwrap_or(COLUMNS_BYTES)
}

/// Whose kernels a GPU convolution or linear layer runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernels {
    Ours,
    Burns,
}

// What was chosen (the CLI's A/B, the equality tests) and the opened adapter's default, each as
// `code`; a choice wins over a default, and with neither ours run.
static CHOSEN: AtomicU8 = AtomicU8::new(0);
static DEFAULT: AtomicU8 = AtomicU8::new(0);

fn code(kernels: Option<Kernels>) -> u8 {
    match kernels {
        None => 0,
        Some(Kernels::Ours) => 1,
        Some(Kernels::Burns) => 2,
    }
}

fn decode(code: u8) -> Option<Kernels> {
    match code {
        1 => Some(Kernels::Ours),
        2 => Some(Kernels::Burns),
        _ => None,
    }
}

/// Runs `kernels` from now on, whatever the adapter's default: the benchmark's A/B (the CLI's
/// `CNN_GPU_KERNELS=burn` or `ours`).
pub fn choose_kernels(kernels: Kernels) {
    swap_chosen(Some(kernels));
}

/// Makes `kernels` the choice (`None`: no choice), and gives back the one before.
fn swap_chosen(kernels: Option<Kernels>) -> Option<Kernels> {
    decode(CHOSEN.swap(code(kernels), Ordering::Relaxed))
}

/// Runs `kernels` from now on unless [`choose_kernels`] said otherwise: what an opened adapter
/// runs faster (cnn-train's `Backend::open` decides, from the measurements in the README's "The
/// GPU path").
pub fn default_kernels(kernels: Kernels) {
    DEFAULT.store(code(Some(kernels)), Ordering::Relaxed);
}

/// The kernels that run now.
pub fn kernels() -> Kernels {
    let chosen = decode(CHOSEN.load(Ordering::Relaxed));
    chosen.or_else(|| decode(DEFAULT.load(Ordering::Relaxed))).unwrap_or(Kernels::Ours)
}

/// Whether our kernels take these tensors: all f32, unless burn's kernels run now.
fn ours(tensors: &[&CubeTensor]) -> bool {
    tensors.iter().all(|t| t.dtype == DType::F32) && kernels() != Kernels::Burns
}

/// The geometry of a convolution our kernels take: f32 tensors, unless burn's run now.
fn geometry(x: &CubeTensor, weight: &CubeTensor, options: &ConvOptions<2>) -> Option<Geometry> {
    if !ours(&[x, weight]) {
        return None;
    }
    Geometry::new(x.shape().dims(), weight.shape().dims(), options)
}

/// A launch of one thread per item over `items` items (one at least) on `like`'s device.
fn grid(like: &CubeTensor, items: usize) -> (CubeCount, CubeDim) {
    let dim = CubeDim::new(&like.client, items.max(1));
    (calculate_cube_count_elemwise(&like.client, items.max(1), dim), dim)
}

/// A new contiguous f32 tensor on `like`'s device.
fn empty(like: &CubeTensor, shape: impl Into<Shape>) -> CubeTensor {
    empty_device_contiguous_dtype(like.client.clone(), like.device.clone(), shape.into(), DType::F32)
}

/// Images per chunk: as many as keep their columns under `budget` bytes, one at least.
fn chunk(g: &Geometry, budget: usize) -> usize {
    let per_image = g.c_in * g.kernel[0] * g.kernel[1] * g.oh * g.ow * size_of::<f32>();
    (budget / per_image.max(1)).clamp(1, g.batch)
}

/// The chunks of images `[first, first + images)` of a batch.
fn chunks(g: &Geometry, budget: usize) -> impl Iterator<Item = (usize, usize)> {
    let size = chunk(g, budget);
    (0..g.batch).step_by(size).map(move |first| (first, size.min(g.batch - first)))
}

/// The weights as the products' groups: `[groups, c_out / groups, K / groups]`.
fn grouped_weights(g: &Geometry, weight: CubeTensor) -> CubeTensor {
    let per_group = g.c_in / g.groups * g.kernel[0] * g.kernel[1];
    reshape(into_contiguous(weight), Shape::new([g.groups, g.c_out / g.groups, per_group]))
}

/// `[rows, images * pixels]` as the products' groups: `[groups, rows / groups, images * pixels]`.
fn grouped(g: &Geometry, t: CubeTensor) -> CubeTensor {
    let [rows, columns] = t.shape().dims();
    reshape(t, Shape::new([g.groups, rows / g.groups, columns]))
}

/// Swaps a grouped matrix's rows and columns, without moving it (the product reads either way).
fn transposed(t: CubeTensor) -> CubeTensor {
    permute(t, &[0, 2, 1])
}

pub(crate) fn conv_forward(g: &Geometry, x: CubeTensor, weight: CubeTensor, budget: usize) -> CubeTensor {
    let x = into_contiguous(x);
    let weights = grouped_weights(g, weight);
    let out = empty(&x, [g.batch, g.c_out, g.oh, g.ow]);
    for (first, images) in chunks(g, budget) {
        let columns = grouped(g, kernels::unfold(g, &x, first, images));
        let y = product(weights.clone(), columns);
        kernels::to_images(&y, &out, g.c_out, g.oh * g.ow, first, images);
    }
    out
}

pub(crate) fn conv_weight_grad(g: &Geometry, x: CubeTensor, output_grad: CubeTensor, budget: usize) -> CubeTensor {
    let (x, dy) = (into_contiguous(x), into_contiguous(output_grad));
    let mut sum: Option<CubeTensor> = None;
    for (first, images) in chunks(g, budget) {
        let columns = grouped(g, kernels::unfold(g, &x, first, images));
        let dy = grouped(g, kernels::to_channels(&dy, g.c_out, g.oh * g.ow, first, images));
        let part = product(dy, transposed(columns));
        sum = Some(match sum {
            Some(sum) => add(sum, part),
            None => part,
        });
    }
    let sum = sum.expect("a batch has at least one image");
    reshape(into_contiguous(sum), Shape::new([g.c_out, g.c_in / g.groups, g.kernel[0], g.kernel[1]]))
}

pub(crate) fn conv_input_grad(g: &Geometry, weight: CubeTensor, output_grad: CubeTensor, budget: usize) -> CubeTensor {
    let dy = into_contiguous(output_grad);
    let weights_t = transposed(grouped_weights(g, weight));
    let dx = empty(&dy, [g.batch, g.c_in, g.h, g.w]);
    for (first, images) in chunks(g, budget) {
        let dy = grouped(g, kernels::to_channels(&dy, g.c_out, g.oh * g.ow, first, images));
        let columns = into_contiguous(product(weights_t.clone(), dy));
        kernels::fold(g, &columns, &dx, first, images);
    }
    dx
}

impl ConvKernels for Cube {
    fn conv_forward(x: FloatTensor<Self>, weight: FloatTensor<Self>, options: ConvOptions<2>) -> FloatTensor<Self> {
        match geometry(&x, &weight, &options) {
            Some(g) => conv_forward(&g, x, weight, columns_budget()),
            None => Cube::conv2d(x, weight, None, options),
        }
    }

    fn conv_input_grad(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        output_grad: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        match geometry(&x, &weight, &options) {
            Some(g) => conv_input_grad(&g, weight, output_grad, columns_budget()),
            None => Cube::conv2d_x_backward(x, weight, output_grad, options),
        }
    }

    fn conv_weight_grad(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        output_grad: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        match geometry(&x, &weight, &options) {
            Some(g) => conv_weight_grad(&g, x, output_grad, columns_budget()),
            None => Cube::conv2d_weight_backward(x, weight, output_grad, options),
        }
    }
}

/// Whether our product takes these tensors: f32 matrices, unless burn's kernels run now.
fn f32_matrices(tensors: [&CubeTensor; 2]) -> bool {
    ours(&tensors) && tensors.iter().all(|t| t.shape().num_dims() == 2)
}

/// A matrix as a batch of one, the product's shape.
fn batch_of_one(t: CubeTensor) -> CubeTensor {
    let [rows, columns] = t.shape().dims();
    reshape(t, Shape::new([1, rows, columns]))
}

/// A batch of one back to a matrix.
fn matrix(t: CubeTensor) -> CubeTensor {
    let [_, rows, columns] = t.shape().dims();
    reshape(into_contiguous(t), Shape::new([rows, columns]))
}

/// Linear layers through the same product as the convolutions (burn's own matmul picks its
/// kernel by autotune natively, and in the browser tries cooperative matrices first); a
/// transposed operand is read in place.
impl LinearKernels for Cube {
    fn linear_forward(x: FloatTensor<Self>, weight: FloatTensor<Self>) -> FloatTensor<Self> {
        if !f32_matrices([&x, &weight]) {
            return burns_linear_forward::<Cube>(x, weight);
        }
        matrix(product(batch_of_one(x), batch_of_one(weight)))
    }

    fn linear_input_grad(weight: FloatTensor<Self>, output_grad: FloatTensor<Self>) -> FloatTensor<Self> {
        if !f32_matrices([&weight, &output_grad]) {
            return burns_linear_input_grad::<Cube>(weight, output_grad);
        }
        matrix(product(batch_of_one(output_grad), transposed(batch_of_one(weight))))
    }

    fn linear_weight_grad(x: FloatTensor<Self>, output_grad: FloatTensor<Self>) -> FloatTensor<Self> {
        if !f32_matrices([&x, &output_grad]) {
            return burns_linear_weight_grad::<Cube>(x, output_grad);
        }
        matrix(product(transposed(batch_of_one(x)), batch_of_one(output_grad)))
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Device, DeviceKind};

    fn devices() -> (Device, Device) {
        (Device::flex().autodiff(), Device::wgpu(DeviceKind::DefaultDevice).autodiff())
    }

    #[test]
    fn convolutions_equal_the_cpu_kernels() {
        let (cpu, gpu) = devices();
        pollster::block_on(super::check::convolutions(&cpu, &gpu));
    }

    #[test]
    fn linear_layers_equal_the_cpu_kernels() {
        let (cpu, gpu) = devices();
        pollster::block_on(super::check::linear_layers(&cpu, &gpu));
    }

    #[test]
    fn batch_norms_equal_the_cpu_kernels() {
        let (cpu, gpu) = devices();
        pollster::block_on(super::check::batch_norms(&cpu, &gpu));
    }

    #[test]
    fn relus_and_sgd_steps_equal_the_cpu_kernels() {
        let (cpu, gpu) = devices();
        pollster::block_on(super::check::relus_and_sgd_steps(&cpu, &gpu));
    }
}
