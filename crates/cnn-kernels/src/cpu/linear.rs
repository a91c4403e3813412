//! A linear layer's three products over `x` `[batch, in]`, weights `[in, out]` and the output's
//! gradient `dy` `[batch, out]`, each one product of the whole batch, split by gemm over rayon's
//! pool (a 4096x4096 layer has work for every thread even at batch 1).

use super::elementwise::zeros;
use super::product;

/// Threads for one product: the pool's, where there is one (gemm keeps small products on one).
fn parallelism() -> gemm::Parallelism {
    match rayon::current_num_threads() {
        1 => gemm::Parallelism::None,
        _ => gemm::Parallelism::Rayon(0),
    }
}

/// `x * w`, `[batch, out]`.
pub fn forward(x: &[f32], w: &[f32], [batch, input, output]: [usize; 3]) -> Vec<f32> {
    let mut y = zeros(batch * output);
    product(parallelism(), [batch, output, input], &mut y, [output, 1], false, x, [input, 1], w, [output, 1]);
    y
}

/// `dy * w^T`, `[batch, in]`.
pub fn input_grad(w: &[f32], dy: &[f32], [batch, input, output]: [usize; 3]) -> Vec<f32> {
    let mut dx = zeros(batch * input);
    // w^T's row `o`, column `i` sits at `i * output + o`.
    product(parallelism(), [batch, input, output], &mut dx, [input, 1], false, dy, [output, 1], w, [1, output]);
    dx
}

/// `x^T * dy`, `[in, out]`.
pub fn weight_grad(x: &[f32], dy: &[f32], [batch, input, output]: [usize; 3]) -> Vec<f32> {
    let mut dw = zeros(input * output);
    // x^T's row `i`, column `n` sits at `n * input + i`.
    product(parallelism(), [input, output, batch], &mut dw, [output, 1], false, x, [1, input], dy, [output, 1]);
    dw
}
