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
    /// Ours ([`super::blocked`]): a block of 8x8 or 4x4 outputs per thread, no shared memory,
    /// no barriers.
    Blocked,
    /// The same with 16x16 blocks where a product has enough of them: lavapipe's choice.
    Blocked16,
}

// What was chosen (the CLI's `CNN_GPU_MATMUL`, the benchmark, the equality tests) and the
// opened adapter's default, each as `code`; a choice wins over a default, and with neither
// `SimpleUnit` runs.
static CHOSEN: AtomicU8 = AtomicU8::new(0);
static DEFAULT: AtomicU8 = AtomicU8::new(0);

const TILES: [Tiles; 5] = [Tiles::Simple, Tiles::Double, Tiles::Naive, Tiles::Blocked, Tiles::Blocked16];

impl Tiles {
    /// The product a user names (`simple`, `double`, `naive`, `blocked`, `blocked16`): the CLI's
    /// `CNN_GPU_MATMUL` and the benchmark's kernels.
    pub fn named(name: &str) -> Option<Tiles> {
        TILES.into_iter().find(|t| format!("{t:?}").to_lowercase() == name)
    }
}

fn code(tiles: Option<Tiles>) -> u8 {
    tiles.map_or(0, |t| t as u8 + 1)
}

fn decode(code: u8) -> Option<Tiles> {
    TILES.get(usize::from(code).checked_sub(1)?).copied()
}

/// Makes the product try `tiles` first from now on, whatever the adapter's default: the
/// benchmark's A/B (the CLI's `CNN_GPU_MATMUL`).
pub fn choose_tiles(tiles: Tiles) {
    swap_tiles(Some(tiles));
}

/// Makes `tiles` the choice (`None`: no choice), and gives back the one before.
pub(crate) fn swap_tiles(tiles: Option<Tiles>) -> Option<Tiles> {
    decode(CHOSEN.swap(code(tiles), Ordering::Relaxed))
}

/// The product an opened adapter runs unless [`choose_tiles`] said otherwise: on a software adapter
/// our blocked one (on SwiftShader 7.7x cubek's `SimpleUnit`; on lavapipe, in 16x16 blocks, it
/// trains faster than `SimpleUnit`), on a hardware GPU `SimpleUnit` (README, "The GPU path").
pub fn default_tiles(tiles: Tiles) {
    DEFAULT.store(code(Some(tiles)), Ordering::Relaxed);
}

/// The product that runs first now.
fn tiles() -> Tiles {
    let chosen = decode(CHOSEN.load(Ordering::Relaxed));
    chosen.or_else(|| decode(DEFAULT.load(Ordering::Relaxed))).unwrap_or(Tiles::Simple)
}

/// The strategies tried in order; the last one takes any layout.
fn strategies() -> [Strategy; 2] {
    let first = match tiles() {
        Tiles::Double => multi_level::Strategy::DoubleUnit(Default::default()),
        Tiles::Naive => multi_level::Strategy::Naive,
        _ => multi_level::Strategy::SimpleUnit(Default::default()),
    };
    [Strategy::MultiLevel(first), Strategy::MultiLevel(multi_level::Strategy::Naive)]
}

/// `lhs [batch, m, k] x rhs [batch, k, n]` (strided, transposed views included) into a new
/// contiguous `[batch, m, n]`, all f32.
pub fn product(lhs: CubeTensor, rhs: CubeTensor) -> CubeTensor {
    debug_assert!(lhs.dtype == DType::F32 && rhs.dtype == DType::F32);
    match tiles() {
        Tiles::Blocked => return super::blocked::product(lhs, rhs, false),
        Tiles::Blocked16 => return super::blocked::product(lhs, rhs, true),
        _ => {}
    }
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
