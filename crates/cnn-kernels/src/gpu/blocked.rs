//! A register-blocked matrix product with neither shared memory nor barriers: each thread
//! computes a block of 8x8 or 4x4 outputs, reading a value of each of its rows and columns per
//! step along the sum, straight from the operands' buffers (strided, so a transposed view is
//! read in place).
//!
//! Written for software adapters. SwiftShader runs the threads of a workgroup that meet a barrier
//! as coroutines and switches between them at every barrier, so cubek's tiled products, which
//! stage their tiles behind barriers at every step along the sum, run there far below their
//! speed; a CPU's caches serve repeated reads of an operand without shared memory. This is the
//! shape of TensorFlow.js's WebGL product (a block of outputs per fragment, no barriers).

use burn::backend::TensorMetadata;
use burn::tensor::DType;
use burn_cubecl::cubecl::prelude::*;
use burn_cubecl::cubecl::{self, calculate_cube_count_elemwise};
use burn_cubecl::kernel::matmul::init_matmul_output;
use burn_cubecl::tensor::CubeTensor;

/// The output block each thread computes, rows by columns: 8x8 (16x16 where `wide`) where the
/// product has enough such blocks to keep a software adapter's cores busy, else 4x4. A step along
/// the sum then reads 16 (32) values for 64 (256) multiply-adds, not 8 for 16. Measured natively
/// (2026-12-07, 56 px, batch 32): on SwiftShader `cnn bench --backend vulkan --matmul 1024` 4x4 2.9
/// GFLOP/s, 8x4 5.4, 8x8 6.6, 12x8 7.2, 16x8 7.1, 8x16 6.4, and `vgg11-r4` trained at 13.0 examples/s
/// with 8x8, 10.1 with 16x16; on lavapipe, whose threads keep more in registers, `vgg11-r4` 25.3
/// (8x8), 29.3 (16x8), 28.5 (8x16), 32.4 (32x8), 34.1 (16x16), `resnet-small` 69.9 (8x8), 81.1
/// (16x16). Loading four neighbouring values at once, the sum unrolled by 4, was slower on
/// SwiftShader (2.3-4.8 GFLOP/s).
fn block(batch: usize, m: usize, n: usize, wide: bool) -> (usize, usize) {
    let blocks = |size: usize| batch * m.div_ceil(size) * n.div_ceil(size);
    if wide && blocks(16) >= 256 {
        (16, 16)
    } else if blocks(8) >= 256 {
        (8, 8)
    } else {
        (4, 4)
    }
}

/// One product's sizes and the operands' strides (in values), `lhs [batch, m, k] x rhs [batch,
/// k, n]` into a contiguous `[batch, m, n]`.
#[derive(CubeLaunch, CubeType)]
struct Product {
    batch: usize,
    m: usize,
    n: usize,
    k: usize,
    lhs_batch: usize,
    lhs_row: usize,
    lhs_col: usize,
    rhs_batch: usize,
    rhs_row: usize,
    rhs_col: usize,
    blocks_m: usize,
    blocks_n: usize,
}

#[cube(launch_unchecked)]
fn blocked_kernel(
    lhs: &[f32],
    rhs: &[f32],
    out: &mut [f32],
    p: &Product,
    #[comptime] rows: usize,
    #[comptime] columns: usize,
) {
    let blocks = p.blocks_m * p.blocks_n;
    if ABSOLUTE_POS >= p.batch * blocks {
        terminate!();
    }
    let b = ABSOLUTE_POS / blocks;
    let block = ABSOLUTE_POS % blocks;
    let row = (block / p.blocks_n) * rows;
    let col = (block % p.blocks_n) * columns;
    // A block's rows and columns past the matrix's edge read its last one, and write nothing.
    let mut lhs_at = Array::<usize>::new(rows);
    #[unroll]
    for i in 0..rows {
        let r = select(row + i < p.m, row + i, p.m - 1);
        lhs_at[i] = b * p.lhs_batch + r * p.lhs_row;
    }
    let mut rhs_at = Array::<usize>::new(columns);
    #[unroll]
    for j in 0..columns {
        let c = select(col + j < p.n, col + j, p.n - 1);
        rhs_at[j] = b * p.rhs_batch + c * p.rhs_col;
    }
    let mut sums = Array::<f32>::new(rows * columns);
    #[unroll]
    for i in 0..rows * columns {
        sums[i] = 0.0;
    }
    let mut a = Array::<f32>::new(rows);
    let mut v = Array::<f32>::new(columns);
    for step in 0..p.k {
        #[unroll]
        for i in 0..rows {
            a[i] = lhs[lhs_at[i] + step * p.lhs_col];
        }
        #[unroll]
        for j in 0..columns {
            v[j] = rhs[rhs_at[j] + step * p.rhs_row];
        }
        #[unroll]
        for i in 0..rows {
            #[unroll]
            for j in 0..columns {
                sums[i * columns + j] += a[i] * v[j];
            }
        }
    }
    #[unroll]
    for i in 0..rows {
        #[unroll]
        for j in 0..columns {
            if row + i < p.m && col + j < p.n {
                out[(b * p.m + row + i) * p.n + col + j] = sums[i * columns + j];
            }
        }
    }
}

/// `lhs [batch, m, k] x rhs [batch, k, n]` (strided views included) into a new contiguous
/// `[batch, m, n]`, all f32, by [`blocked_kernel`], in 16x16 blocks where `wide` and there are
/// enough of them.
pub fn product(lhs: CubeTensor, rhs: CubeTensor, wide: bool) -> CubeTensor {
    debug_assert!(lhs.dtype == DType::F32 && rhs.dtype == DType::F32);
    let out = init_matmul_output(&lhs, &rhs, DType::F32);
    let [batch, m, k] = lhs.shape().dims::<3>();
    let n = rhs.shape().dims::<3>()[2];
    let (ls, rs) = (lhs.meta.strides.clone(), rhs.meta.strides.clone());
    let (rows, columns) = block(batch, m, n, wide);
    let (blocks_m, blocks_n) = (m.div_ceil(rows), n.div_ceil(columns));
    let threads = batch * blocks_m * blocks_n;
    if threads == 0 {
        return out;
    }
    let dim = CubeDim::new(&out.client, threads);
    let count = calculate_cube_count_elemwise(&out.client, threads, dim);
    let sizes = ProductLaunch::new(batch, m, n, k, ls[0], ls[1], ls[2], rs[0], rs[1], rs[2], blocks_m, blocks_n);
    // Safety: every index is within the operands' shapes through their strides, and within the
    // output's `[batch, m, n]`.
    unsafe {
        blocked_kernel::launch_unchecked(
            &out.client,
            count,
            dim,
            lhs.into_buffer_arg(),
            rhs.into_buffer_arg(),
            out.clone().into_buffer_arg(),
            sizes,
            rows,
            columns,
        )
    };
    out
}
