//! Our GPU kernels against the CPU's, on any pair of devices: natively (this crate's tests, on
//! whatever wgpu adapter the machine has) and in the browser on WebGPU (cnn-train's browser
//! tests), where a read-back must be asynchronous.

use burn::backend::ops::ConvOptions;
use burn::tensor::{Device, Distribution, Tensor, TensorData};

use super::matmul::{Tiles, swap_tiles};
use super::{Kernels, set_columns_budget, swap_chosen};
use crate::norm::batch_norm_train;
use crate::relu::relu;
use crate::sgd::{SgdStep, sgd_step};
use crate::{conv2d, linear};

/// The same values on the CPU and on the GPU, both tracked.
async fn pair<const D: usize>(shape: [usize; D], cpu: &Device, gpu: &Device) -> (Tensor<D>, Tensor<D>) {
    let on_cpu = Tensor::<D>::random(shape, Distribution::Normal(0.0, 1.0), cpu);
    let data: TensorData = on_cpu.to_data_async().await.expect("CPU values");
    (on_cpu.require_grad(), Tensor::<D>::from_data(data, gpu).require_grad())
}

/// Equal within f32's rounding of sums taken in another order, relative to the largest value.
async fn assert_close<const D: usize>(what: &str, on_gpu: Tensor<D>, on_cpu: Tensor<D>) {
    let on_gpu = on_gpu.into_data_async().await.expect("GPU values");
    let on_cpu = on_cpu.into_data_async().await.expect("CPU values");
    let scale = on_cpu.iter::<f32>().fold(0f32, |m, v| m.max(v.abs())).max(1.0);
    let off = on_gpu.iter::<f32>().zip(on_cpu.iter::<f32>()).fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    assert_eq!(on_gpu.shape(), on_cpu.shape(), "{what}: shapes");
    assert!(off <= 2e-5 * scale, "{what}: off by {off}, largest value {scale}");
}

/// Our kernels with `tiles`' product while it lives, whatever the adapter's default; then the
/// choices that were. (Tests running beside it may get either product: both must be right.)
struct Ours(Option<Kernels>, Option<Tiles>);

impl Ours {
    fn now(tiles: Tiles) -> Self {
        Ours(swap_chosen(Some(Kernels::Ours)), swap_tiles(Some(tiles)))
    }
}

impl Drop for Ours {
    fn drop(&mut self) {
        swap_chosen(self.0);
        swap_tiles(self.1);
    }
}

/// The products every check runs under: cubek's tiled one and our blocked one.
const PRODUCTS: [Tiles; 3] = [Tiles::Simple, Tiles::Blocked, Tiles::Blocked16];

/// `y`, computed from `x` and `w` on each device, and its gradients for `x` and `w` equal on both,
/// under a loss that weighs every output differently, so that no gradient is a plain sum.
async fn assert_pass_close<const D: usize>(
    case: &str,
    (cpu, gpu): (&Device, &Device),
    x: &(Tensor<D>, Tensor<D>),
    w: &(Tensor<D>, Tensor<D>),
    (y_cpu, y_gpu): (Tensor<D>, Tensor<D>),
) {
    assert_close(&format!("{case}: output"), y_gpu.clone(), y_cpu.clone()).await;
    let (weights_cpu, weights_gpu) = pair(y_cpu.dims(), cpu, gpu).await;
    let grads_cpu = (y_cpu * weights_cpu).sum().backward();
    let grads_gpu = (y_gpu * weights_gpu).sum().backward();
    let grad = |t: &Tensor<D>, grads| t.grad(grads).expect("a gradient");
    assert_close(&format!("{case}: input gradient"), grad(&x.1, &grads_gpu), grad(&x.0, &grads_cpu)).await;
    assert_close(&format!("{case}: weight gradient"), grad(&w.1, &grads_gpu), grad(&w.0, &grads_cpu)).await;
}

/// The output and both gradients of a convolution on each device, through [`conv2d`], for shapes
/// of every kind our networks have and some they do not: odd and unequal sides, stride 2, 1x1,
/// 7x7, groups, dilation, and a batch split into chunks.
pub async fn convolutions(cpu: &Device, gpu: &Device) {
    for tiles in PRODUCTS {
        let _ours = Ours::now(tiles);
        convolutions_with(cpu, gpu, tiles).await;
    }
}

async fn convolutions_with(cpu: &Device, gpu: &Device, tiles: Tiles) {
    // batch, c_in, h, w, c_out, kernel, stride, padding, dilation, groups, columns' budget
    let cases = [
        (3, 4, 9, 7, 6, 3, 1, 1, 1, 1, None),
        (2, 6, 11, 11, 8, 3, 2, 1, 1, 2, None),
        (4, 8, 5, 5, 16, 1, 1, 0, 1, 1, None),
        (4, 8, 6, 6, 8, 1, 2, 0, 1, 1, None),
        (2, 3, 14, 14, 5, 7, 2, 3, 1, 1, None),
        (2, 4, 9, 9, 4, 3, 1, 2, 2, 1, None),
        (1, 16, 12, 10, 8, 5, 1, 2, 1, 4, None),
        (3, 32, 7, 7, 32, 3, 1, 1, 1, 8, None),
        // 5 images of 4 x 9 x 64 columns (9,216 bytes each) in chunks of 2, 2 and 1.
        (5, 4, 8, 8, 6, 3, 1, 1, 1, 1, Some(2 * 9216 + 100)),
    ];
    for (batch, c_in, h, w, c_out, k, stride, padding, dilation, groups, budget) in cases {
        set_columns_budget(budget);
        let options = ConvOptions::new([stride; 2], [padding; 2], [dilation; 2], groups);
        let case = format!("{tiles:?}: {batch}x{c_in}x{h}x{w} by {c_out}x{}x{k}x{k}, {options:?}", c_in / groups);
        let x = pair([batch, c_in, h, w], cpu, gpu).await;
        let w = pair([c_out, c_in / groups, k, k], cpu, gpu).await;
        let y = |(x, w): (&Tensor<4>, &Tensor<4>)| conv2d(x.clone(), w.clone(), None, options.clone());
        let ys = (y((&x.0, &w.0)), y((&x.1, &w.1)));
        assert_pass_close(&case, (cpu, gpu), &x, &w, ys).await;
    }
    set_columns_budget(None);
}

/// A linear layer's three products on each device, through [`linear`], for a batch of one and
/// wide layers (the last one's weight gradient, 129 x 1001, has enough outputs for the blocked
/// product's 8x8 and 16x16 blocks, with a partial block on both edges).
pub async fn linear_layers(cpu: &Device, gpu: &Device) {
    for tiles in PRODUCTS {
        let _ours = Ours::now(tiles);
        linear_layers_with(cpu, gpu, tiles).await;
    }
}

async fn linear_layers_with(cpu: &Device, gpu: &Device, tiles: Tiles) {
    for [batch, input, output] in [[1, 5, 3], [7, 300, 130], [64, 129, 1001]] {
        let case = format!("{tiles:?}: {batch}x{input} by {input}x{output}");
        let x = pair([batch, input], cpu, gpu).await;
        let w = pair([input, output], cpu, gpu).await;
        let ys = (linear(x.0.clone(), w.0.clone(), None), linear(x.1.clone(), w.1.clone(), None));
        assert_pass_close(&case, (cpu, gpu), &x, &w, ys).await;
    }
}

/// A training batch norm's output, statistics and three gradients on each device, through
/// [`batch_norm_train`], for planes of one value, of fewer and of more values than a plane's
/// threads, and activations far from zero (where a one-pass variance fails).
pub async fn batch_norms(cpu: &Device, gpu: &Device) {
    let _ours = Ours::now(Tiles::Simple);
    // batch, channels, h, w, the activations' mean
    for (batch, channels, h, w, mean) in
        [(4, 3, 7, 5, 30.0), (3, 5, 1, 1, 0.0), (2, 70, 9, 9, 0.0), (8, 16, 14, 14, 1.0)]
    {
        let case = format!("batch norm of {batch}x{channels}x{h}x{w} around {mean}");
        let x = Tensor::<4>::random([batch, channels, h, w], Distribution::Normal(mean, 2.0), cpu);
        let x = (x.clone(), Tensor::from_data(x.to_data_async().await.expect("CPU values"), gpu));
        let gamma = pair([channels], cpu, gpu).await;
        let beta = pair([channels], cpu, gpu).await;
        let (x_cpu, x_gpu) = (x.0.require_grad(), x.1.require_grad());
        let (y_cpu, mean_cpu, var_cpu) = batch_norm_train(x_cpu.clone(), gamma.0.clone(), beta.0.clone(), 1e-5);
        let (y_gpu, mean_gpu, var_gpu) = batch_norm_train(x_gpu.clone(), gamma.1.clone(), beta.1.clone(), 1e-5);
        assert_close(&format!("{case}: output"), y_gpu.clone(), y_cpu.clone()).await;
        assert_close(&format!("{case}: mean"), mean_gpu, mean_cpu).await;
        assert_close(&format!("{case}: variance"), var_gpu, var_cpu).await;
        let weights = pair([batch, channels, h, w], cpu, gpu).await;
        let grads_cpu = (y_cpu * weights.0).sum().backward();
        let grads_gpu = (y_gpu * weights.1).sum().backward();
        let grad = |t: &Tensor<4>, grads| t.grad(grads).expect("a gradient");
        assert_close(&format!("{case}: input gradient"), grad(&x_gpu, &grads_gpu), grad(&x_cpu, &grads_cpu)).await;
        for (name, (on_cpu, on_gpu)) in [("gamma", &gamma), ("beta", &beta)] {
            let (a, b) = (on_gpu.grad(&grads_gpu).expect("a gradient"), on_cpu.grad(&grads_cpu).expect("a gradient"));
            assert_close(&format!("{case}: {name} gradient"), a, b).await;
        }
    }
}

/// ReLU's output and gradient, and one SGD step in each of its forms (momentum, Nesterov, weight
/// decay), on each device.
pub async fn relus_and_sgd_steps(cpu: &Device, gpu: &Device) {
    let _ours = Ours::now(Tiles::Simple);
    let x = pair([3, 5, 7, 9], cpu, gpu).await;
    let (y_cpu, y_gpu) = (relu(x.0.clone()), relu(x.1.clone()));
    assert_close("relu: output", y_gpu.clone(), y_cpu.clone()).await;
    let weights = pair([3, 5, 7, 9], cpu, gpu).await;
    let (grads_cpu, grads_gpu) = ((y_cpu * weights.0).sum().backward(), (y_gpu * weights.1).sum().backward());
    let (on_cpu, on_gpu) = (x.0.grad(&grads_cpu).expect("a gradient"), x.1.grad(&grads_gpu).expect("a gradient"));
    assert_close("relu: input gradient", on_gpu, on_cpu).await;

    let (cpu, gpu) = (cpu.clone().without_autodiff(), gpu.clone().without_autodiff());
    for (momentum, nesterov, weight_decay) in
        [(0.0, false, 0.0), (0.9, false, 0.0), (0.9, true, 5e-4), (0.0, false, 5e-4)]
    {
        let step = SgdStep { lr: 0.05, momentum, nesterov, weight_decay };
        let mut values = Vec::new();
        for _ in 0..3 {
            let on_cpu = Tensor::<2>::random([33, 17], Distribution::Normal(0.0, 1.0), &cpu);
            let data: TensorData = on_cpu.to_data_async().await.expect("CPU values");
            values.push((on_cpu, Tensor::<2>::from_data(data, &gpu)));
        }
        let [param, grad, velocity] = <[_; 3]>::try_from(values).expect("three tensors");
        let (p_cpu, v_cpu) = sgd_step(param.0, grad.0, velocity.0, step);
        let (p_gpu, v_gpu) = sgd_step(param.1, grad.1, velocity.1, step);
        assert_close(&format!("{step:?}: parameter"), p_gpu, p_cpu).await;
        assert_close(&format!("{step:?}: velocity"), v_gpu, v_cpu).await;
    }
}
