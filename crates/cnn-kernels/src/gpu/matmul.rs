//! The one matrix product every GPU kernel of ours runs: cubek's, with a strategy chosen here,
//! not by burn's autotune (which traps in the browser) nor by its `Auto` (which tries cooperative
//! matrices first and panics on any refusal but "unavailable").
//!
//! `SimpleUnit` is a register-tiled product: each unit computes a tile of the output from operand
//! tiles staged in shared memory, reading rows or columns as the operands' strides lie, so a
//! transposed operand is read in place. It needs neither cooperative matrices nor subgroups, so
//! it runs on every WebGPU adapter.

use std::sync::atomic::{AtomicU8, Ordering};

use burn::backend::TensorMetadata;
use burn::tensor::DType;
use burn_cubecl::cubecl::ir::{ElemType, FloatKind};
use burn_cubecl::kernel::matmul::init_matmul_output;
use burn_cubecl::tensor::CubeTensor;
use cubek::matmul::definition::{MatmulElems, MatmulGlobalElems};
use cubek::matmul::launch::launch_ref;
use cubek::matmul::multi_level;
use cubek::matmul::strategy::Strategy;
use cubek::std::InputBinding;

/// The first strategy the product tries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tiles {
    /// cubek's `SimpleUnit`: each thread a tile of outputs, operands staged in shared memory.
    Simple,
    /// `DoubleUnit`: the same with the next tiles loaded while the last are multiplied.
    Double,
    /// `Naive`: one thread per output, no shared memory, no barriers.
    Naive,
}

static FIRST: AtomicU8 = AtomicU8::new(Tiles::Simple as u8);

/// Makes the product try `tiles` first from now on: the benchmark's A/B (the CLI's
/// `CNN_GPU_MATMUL`). On lavapipe `SimpleUnit` and `DoubleUnit` trained as fast, `Naive` at less
/// than half their speed (README, "The GPU path").
pub fn choose_tiles(tiles: Tiles) {
    FIRST.store(tiles as u8, Ordering::Relaxed);
}

/// The strategies tried in order; the last one takes any layout.
fn strategies() -> [Strategy; 2] {
    let first = match FIRST.load(Ordering::Relaxed) {
        x if x == Tiles::Double as u8 => multi_level::Strategy::DoubleUnit(Default::default()),
        x if x == Tiles::Naive as u8 => multi_level::Strategy::Naive,
        _ => multi_level::Strategy::SimpleUnit(Default::default()),
    };
    [Strategy::MultiLevel(first), Strategy::MultiLevel(multi_level::Strategy::Naive)]
}

/// `lhs [batch, m, k] x rhs [batch, k, n]` (strided, transposed views included) into a new
/// contiguous `[batch, m, n]`, all f32.
pub fn product(lhs: CubeTensor, rhs: CubeTensor) -> CubeTensor {
    debug_assert!(lhs.dtype == DType::F32 && rhs.dtype == DType::F32);
    let out = init_matmul_output(&lhs, &rhs, DType::F32);
    let f32 = ElemType::Float(FloatKind::F32);
    let mut refusals = Vec::new();
    for strategy in strategies() {
        let mut dtypes = MatmulElems::from_globals(&MatmulGlobalElems { lhs: f32, rhs: f32, out: f32 });
        let result = launch_ref(
            &strategy,
            &out.client,
            InputBinding::new(lhs.clone().binding(), f32),
            InputBinding::new(rhs.clone().binding(), f32),
            out.clone().binding(),
            &mut dtypes,
        );
        match result {
            Ok(()) => return out,
            Err(error) => refusals.push(format!("{strategy}: {error:?}")),
        }
    }
    panic!(
        "no matrix product takes {:?} x {:?}: {}",
        lhs.shape().dims::<3>(),
        rhs.shape().dims::<3>(),
        refusals.join("; ")
    );
}
