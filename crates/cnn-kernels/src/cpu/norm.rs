//! Batch normalisation over a training batch and its gradient on the CPU.
//!
//! burn's own is composed of tensor operations: burn-flex runs it as about ten passes over the
//! activation for the forward pass and fifteen for the backward, with two layout copies each
//! (the channels swapped to the front to reduce them). Here each pass is one of: per-channel sums
//! (channels in parallel) or per-plane arithmetic (planes in parallel): two reads and one write
//! forward, three reads and one write backward.

use rayon::prelude::*;

use super::elementwise::zeros;

/// NCHW activations: `batch` images of `channels` planes of `plane` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Planes {
    pub batch: usize,
    pub channels: usize,
    pub plane: usize,
}

impl Planes {
    fn count(&self) -> usize {
        self.batch * self.plane
    }

    /// `f(channel, values)` for every plane of `channel` in `x`, folded into one f64 per channel,
    /// channels in parallel. f64 keeps a sum of a hundred thousand values exact enough.
    fn per_channel(&self, x: &[f32], f: impl Fn(usize, &[f32]) -> f64 + Sync) -> Vec<f64> {
        (0..self.channels)
            .into_par_iter()
            .map(|c| (0..self.batch).map(|n| f(c, &x[(n * self.channels + c) * self.plane..][..self.plane])).sum())
            .collect()
    }

    /// `f(channel, out, x)` for every plane, in parallel; `out` is the plane's slice of a new
    /// tensor of `x`'s shape.
    fn map_planes(&self, x: &[f32], f: impl Fn(usize, &mut [f32], &[f32]) + Sync) -> Vec<f32> {
        let mut out = zeros(x.len());
        out.par_chunks_mut(self.plane)
            .zip(x.par_chunks(self.plane))
            .enumerate()
            .for_each(|(i, (out, x))| f(i % self.channels, out, x));
        out
    }
}

/// The batch's mean and biased variance per channel, and `x` normalised with them, scaled by
/// `gamma` and shifted by `beta`.
pub fn batch_norm_train(
    planes: &Planes,
    x: &[f32],
    gamma: &[f32],
    beta: &[f32],
    epsilon: f64,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    assert_eq!(x.len(), planes.count() * planes.channels, "batch_norm_train: input size");
    let count = planes.count() as f64;
    let mean: Vec<f64> =
        planes.per_channel(x, |_, v| v.iter().map(|&v| v as f64).sum()).into_iter().map(|s| s / count).collect();
    // Two passes (mean, then squared deviations): one pass of E[x^2] - E[x]^2 loses the
    // variance of activations far from zero.
    let variance: Vec<f64> = planes
        .per_channel(x, |c, v| v.iter().map(|&v| (v as f64 - mean[c]).powi(2)).sum())
        .into_iter()
        .map(|s| s / count)
        .collect();
    let scale: Vec<f32> =
        (0..planes.channels).map(|c| (gamma[c] as f64 / (variance[c] + epsilon).sqrt()) as f32).collect();
    let shift: Vec<f32> = (0..planes.channels).map(|c| beta[c] - mean[c] as f32 * scale[c]).collect();
    let y = planes.map_planes(x, |c, y, x| {
        for (y, &x) in y.iter_mut().zip(x) {
            *y = x * scale[c] + shift[c];
        }
    });
    let to_f32 = |v: Vec<f64>| v.into_iter().map(|v| v as f32).collect();
    (y, to_f32(mean), to_f32(variance))
}

/// The gradients of [`batch_norm_train`] for its input, `gamma` and `beta`, from the statistics
/// it returned.
pub fn batch_norm_train_backward(
    planes: &Planes,
    x: &[f32],
    gamma: &[f32],
    mean: &[f32],
    variance: &[f32],
    epsilon: f64,
    grad: &[f32],
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    assert!(x.len() == grad.len() && x.len() == planes.count() * planes.channels, "batch_norm backward: sizes");
    let inv_std: Vec<f64> = variance.iter().map(|&v| 1.0 / (v as f64 + epsilon).sqrt()).collect();
    let beta_grad = planes.per_channel(grad, |_, g| g.iter().map(|&g| g as f64).sum());
    // Σ dy·x̂ per channel, from the planes of x and dy side by side.
    let gamma_grad: Vec<f64> = (0..planes.channels)
        .into_par_iter()
        .map(|c| {
            let (m, s) = (mean[c] as f64, inv_std[c]);
            (0..planes.batch)
                .map(|n| {
                    let at = (n * planes.channels + c) * planes.plane;
                    let (x, g) = (&x[at..][..planes.plane], &grad[at..][..planes.plane]);
                    x.iter().zip(g).map(|(&x, &g)| g as f64 * (x as f64 - m) * s).sum::<f64>()
                })
                .sum()
        })
        .collect();
    // dx = γ/σ · (dy - mean(dy) - x̂ · mean(dy·x̂)), as a scale of dy plus a line in x.
    let count = planes.count() as f64;
    let coefficients: Vec<[f32; 3]> = (0..planes.channels)
        .map(|c| {
            let k = gamma[c] as f64 * inv_std[c];
            let slope = inv_std[c] * gamma_grad[c] / count;
            let offset = -beta_grad[c] / count + mean[c] as f64 * slope;
            [k as f32, (-k * slope) as f32, (k * offset) as f32]
        })
        .collect();
    let mut dx = zeros(x.len());
    dx.par_chunks_mut(planes.plane).enumerate().for_each(|(i, dx)| {
        let [k, a, b] = coefficients[i % planes.channels];
        let at = i * planes.plane;
        for ((dx, &x), &g) in dx.iter_mut().zip(&x[at..][..planes.plane]).zip(&grad[at..][..planes.plane]) {
            *dx = k * g + a * x + b;
        }
    });
    let to_f32 = |v: Vec<f64>| v.into_iter().map(|v| v as f32).collect();
    (dx, to_f32(gamma_grad), to_f32(beta_grad))
}
