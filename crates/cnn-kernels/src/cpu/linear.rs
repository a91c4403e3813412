//! A linear layer's three products over `x` `[batch, in]`, weights `[in, out]` and the output's
//! gradient `dy` `[batch, out]`, each one product of the whole batch, split by gemm over rayon's
//! pool (a 4096x4096 layer has work for every thread even at batch 1).

use super::elementwise::written;
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
    // SAFETY: a product that does not accumulate writes every value of its destination.
    unsafe {
        written(batch * output, |y| {
            product(parallelism(), [batch, output, input], y, [output, 1], false, x, [input, 1], w, [output, 1])
        })
    }
}

/// `dy * w^T`, `[batch, in]`.
pub fn input_grad(w: &[f32], dy: &[f32], [batch, input, output]: [usize; 3]) -> Vec<f32> {
    // w^T's row `o`, column `i` sits at `i * output + o`.
    // SAFETY: as in `forward`.
    unsafe {
        written(batch * input, |dx| {
            product(parallelism(), [batch, input, output], dx, [input, 1], false, dy, [output, 1], w, [1, output])
        })
    }
}

/// `x^T * dy`, `[in, out]`.
pub fn weight_grad(x: &[f32], dy: &[f32], [batch, input, output]: [usize; 3]) -> Vec<f32> {
    // x^T's row `i`, column `n` sits at `n * input + i`.
    // SAFETY: as in `forward`.
    unsafe {
        written(input * output, |dw| {
            product(parallelism(), [input, output, batch], dw, [output, 1], false, x, [1, input], dy, [output, 1])
        })
    }
}
