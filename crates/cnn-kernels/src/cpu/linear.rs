//! A linear layer's three products over `x` `[batch, in]`, weights `[in, out]` and the output's
//! gradient `dy` `[batch, out]`, each one product of the whole batch, split by gemm over rayon's
//! pool (a 4096x4096 layer has work for every thread even at batch 1).

use std::sync::Once;

use super::elementwise::written;
use super::product;

/// Threads for one product: the pool's, where there is one (gemm keeps small products on one).
fn parallelism() -> gemm::Parallelism {
    // gemm reads the weights in place, unpacked, when the batch is narrow (under 16 of its
    // microkernel's columns on a pool, 8 on one thread); a 4096-wide layer's weights then come in
    // 16 KB apart along the sum, all in one set of the L1 cache: `vgg11-r4`'s 4096x4096 forward
    // product at batch 32 took 38 ms against 11 ms packed (2 threads). Packing always costs one
    // pass over the weights. This is gemm's global setting; the convolutions' operands are packed
    // either way.
    static PACK_ALWAYS: Once = Once::new();
    PACK_ALWAYS.call_once(|| {
        gemm::set_lhs_packing_threshold_multi_thread(0);
        gemm::set_lhs_packing_threshold_single_thread(0);
    });
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
