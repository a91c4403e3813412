//! Winograd's minimal filtering F(2x2, 3x3) for the 3x3, stride-1, same-size convolutions that
//! make up VGG and most of ResNet (Lavin and Gray, "Fast Algorithms for Convolutional Neural
//! Networks", 2016): each 2x2 block of outputs comes from a 4x4 patch of the input in 16
//! multiplications per channel pair instead of 36, so the three products of a training step do
//! 2.25x fewer multiply-adds, and the transformed input (4 values per input pixel) is less than
//! half the unfolded one (9). Patches, kernels and output blocks pass through fixed 4x4 transforms
//! (sums and halvings), and the multiplications become 16 matrix products, one per position of
//! the transformed tile: `[c_out, c_in] x [c_in, tiles]`.
//!
//! The gradients use the same tiles. The input gradient is this convolution of the output
//! gradient by the kernels turned half a turn, with input and output channels swapped. The weight
//! gradient is the transform's adjoint: 16 products `[c_out, tiles] x [tiles, c_in]` summed over
//! the batch, then taken back to 3x3 by `G^T . G`.
//!
//! The transforms run on channel-last copies of a chunk's planes (one copy in, one out), so that
//! each of their sums is a vector over the channels; the tiles' products are stored channel-last
//! too, which gemm reads through its strides.
//!
//! Transforms, with `d` a 4x4 input patch, `g` a 3x3 kernel and `m` a 4x4 product tile:
//! `V = B^T d B`, `U = G g G^T`, `Y = A^T m A` (2x2), where
//! `B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]`, `G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]`
//! and `A^T = [1 1 1 0; 0 1 -1 -1]`.

use std::mem::MaybeUninit;

use rayon::prelude::*;

use super::elementwise::{self, as_uninit};
use super::{Geometry, product, summed_in_runs, with_scratch};

/// Positions of a transformed tile.
const POSITIONS: usize = 16;

/// Fewer channels than this on either side make products too thin for gemm to gain from the
/// saved multiplications (VGG's first layer reads one channel).
const MIN_CHANNELS: usize = 16;

/// Fewer tiles per product than this lose to the unfolded products.
const MIN_TILES: usize = 64;

/// Values from the start of one position's plane of `values` values to the next: an odd number
/// of cache lines, so that the sixteen planes a transform writes at once fall in different sets of
/// the L1 cache (planes of a multiple of 4 KB put them all in one set: 8x slower transforms).
fn spaced(values: usize) -> usize {
    (values.div_ceil(16) | 1) * 16
}

/// Whether a convolution takes this path: one [`fits`], with tiles enough per product (each of
/// the 16 products reads all its transformed kernels, which a handful of tiles does not repay:
/// ResNet's 2x2 maps at batch 32 ran 3x slower than unfolded).
pub(super) fn applies(g: &Geometry) -> bool {
    fits(g) && Maps::of(g).chunk() * Maps::of(g).tiles_per_image() >= MIN_TILES
}

/// Whether these kernels can compute a convolution: 3x3, stride 1, no dilation, one group, one
/// pixel of padding before the image, an output of the input's size, and channels enough.
pub(super) fn fits(g: &Geometry) -> bool {
    g.kernel == [3, 3]
        && g.stride == [1, 1]
        && g.dilation == [1, 1]
        && g.padding == [1, 1]
        && g.groups == 1
        && (g.oh, g.ow) == (g.h, g.w)
        && g.c_in.min(g.c_out) >= MIN_CHANNELS
}

/// The planes one call convolves: `[batch, c_in, h, w]` in, `[batch, c_out, h, w]` out.
#[derive(Debug, Clone, Copy)]
struct Maps {
    batch: usize,
    c_in: usize,
    c_out: usize,
    h: usize,
    w: usize,
}

impl Maps {
    fn of(g: &Geometry) -> Self {
        Self { batch: g.batch, c_in: g.c_in, c_out: g.c_out, h: g.h, w: g.w }
    }

    /// Tile rows and columns of one image: 2x2 output blocks, the last ones cut by the edge.
    fn tiles(&self) -> [usize; 2] {
        [self.h.div_ceil(2), self.w.div_ceil(2)]
    }

    fn tiles_per_image(&self) -> usize {
        let [rows, cols] = self.tiles();
        rows * cols
    }

    /// Pixels of an image's padded channel-last copy: a pixel of zeros before the image and
    /// enough after it to fill the last tiles' 4x4 patches.
    fn padded(&self) -> [usize; 2] {
        let [rows, cols] = self.tiles();
        [2 * rows + 2, 2 * cols + 2]
    }

    /// Images per product: as many as keep a chunk's transformed input and products in a core's
    /// L2 cache (they are read back right after they are written), but chunks enough that every
    /// thread has work.
    fn chunk(&self) -> usize {
        const BYTES: usize = 3 << 19;
        let tiles = BYTES / (size_of::<f32>() * POSITIONS * (self.c_in + self.c_out));
        let wanted = tiles / self.tiles_per_image();
        let spread = self.batch.div_ceil(4 * rayon::current_num_threads());
        wanted.min(spread).max(1)
    }

    fn plane(&self) -> usize {
        self.h * self.w
    }

    /// Scratch sizes for `images` images: the channel-last copies, the transformed input and the
    /// products.
    fn scratch(&self, images: usize) -> [usize; 3] {
        let [rows, cols] = self.padded();
        let tiles = images * self.tiles_per_image();
        let widest = self.c_in.max(self.c_out);
        [images * rows * cols * widest, POSITIONS * spaced(tiles * self.c_in), POSITIONS * spaced(tiles * self.c_out)]
    }
}

/// The forward pass, `[batch, c_out, h, w]`.
pub(super) fn forward(g: &Geometry, x: &[f32], w: &[f32], bias: Option<&[f32]>) -> Vec<f32> {
    let maps = Maps::of(g);
    convolve(maps, x, &transform_weights(w, g.c_out, g.c_in, false), bias)
}

/// The input gradient, `[batch, c_in, h, w]`: the output gradient convolved by the kernels turned
/// half a turn, channels swapped.
pub(super) fn input_grad(g: &Geometry, w: &[f32], dy: &[f32]) -> Vec<f32> {
    let maps = Maps { batch: g.batch, c_in: g.c_out, c_out: g.c_in, h: g.h, w: g.w };
    convolve(maps, dy, &transform_weights(w, g.c_out, g.c_in, true), None)
}

/// The weight gradient, `[c_out, c_in, 3, 3]`.
pub(super) fn weight_grad(g: &Geometry, x: &[f32], dy: &[f32]) -> Vec<f32> {
    let maps = Maps::of(g);
    let (chunk, per_image) = (maps.chunk(), maps.tiles_per_image());
    let (c_in, c_out, plane, [rows, cols]) = (maps.c_in, maps.c_out, maps.plane(), maps.tiles());
    let pairs = c_out * c_in;
    let transformed = summed_in_runs(g.batch.div_ceil(chunk), POSITIONS * pairs, |index, du| {
        let first = index * chunk;
        let images = chunk.min(g.batch - first);
        let tiles = images * per_image;
        let x = &x[first * c_in * plane..][..images * c_in * plane];
        let dy = &dy[first * c_out * plane..][..images * c_out * plane];
        with_scratch(maps.scratch(images), |copy, v, m| {
            channels_last(maps, c_in, x, images, 1, maps.padded(), copy);
            transform_input(maps, c_in, copy, images, v);
            channels_last(maps, c_out, dy, images, 0, [2 * rows, 2 * cols], copy);
            transform_output_grad(maps, copy, images, m);
            for position in 0..POSITIONS {
                product(
                    gemm::Parallelism::None,
                    [c_out, c_in, tiles],
                    as_uninit(&mut du[position * pairs..][..pairs]),
                    [c_in, 1],
                    true,
                    &m[position * spaced(tiles * c_out)..],
                    [1, c_out],
                    &v[position * spaced(tiles * c_in)..],
                    [c_in, 1],
                );
            }
        });
    });
    // Back to 3x3 kernels: `G^T du G`, whose rows (and then columns) are
    // `d0 + (d1 + d2) / 2`, `(d1 - d2) / 2`, `(d1 + d2) / 2 + d3`.
    let back = |d: [f32; 4]| [d[0] + 0.5 * (d[1] + d[2]), 0.5 * (d[1] - d[2]), 0.5 * (d[1] + d[2]) + d[3]];
    let mut dw = vec![0.0; pairs * 9];
    for (pair, kernel) in dw.chunks_exact_mut(9).enumerate() {
        let at = |row: usize, col: usize| transformed[(row * 4 + col) * pairs + pair];
        let columns: [[f32; 3]; 4] = std::array::from_fn(|col| back(std::array::from_fn(|row| at(row, col))));
        for row in 0..3 {
            kernel[row * 3..][..3].copy_from_slice(&back(std::array::from_fn(|col| columns[col][row])));
        }
    }
    dw
}

/// `[batch, c_out, h, w]` from `x` (`[batch, c_in, h, w]`) and transformed kernels `u`
/// (`[position][c_out][c_in]`).
fn convolve(maps: Maps, x: &[f32], u: &[f32], bias: Option<&[f32]>) -> Vec<f32> {
    let (chunk, per_image, plane) = (maps.chunk(), maps.tiles_per_image(), maps.plane());
    let (c_in, c_out) = (maps.c_in, maps.c_out);
    let fill = |y: &mut [MaybeUninit<f32>]| {
        y.par_chunks_mut(chunk * c_out * plane).enumerate().for_each(|(index, y)| {
            let images = y.len() / (c_out * plane);
            let tiles = images * per_image;
            let x = &x[index * chunk * c_in * plane..][..images * c_in * plane];
            with_scratch(maps.scratch(images), |copy, v, m| {
                channels_last(maps, c_in, x, images, 1, maps.padded(), copy);
                transform_input(maps, c_in, copy, images, v);
                for position in 0..POSITIONS {
                    product(
                        gemm::Parallelism::None,
                        [c_out, tiles, c_in],
                        as_uninit(&mut m[position * spaced(tiles * c_out)..][..tiles * c_out]),
                        [1, c_out],
                        false,
                        &u[position * spaced(c_out * c_in)..],
                        [c_in, 1],
                        &v[position * spaced(tiles * c_in)..],
                        [1, c_in],
                    );
                }
                transform_output(maps, m, images, bias, copy);
                channels_first(maps, copy, images, y);
            });
        });
    };
    // SAFETY: each chunk's `channels_first` writes every pixel of its images' planes.
    unsafe { elementwise::written(maps.batch * c_out * plane, fill) }
}

/// `U = G g G^T` of each kernel, as `[position][row][col]` with [`spaced`] planes: rows are
/// output channels and columns input channels, or (`turned`) the reverse, with each kernel turned
/// half a turn.
fn transform_weights(w: &[f32], c_out: usize, c_in: usize, turned: bool) -> Vec<f32> {
    // `G` on three values: `g0`, `(g0 + g1 + g2) / 2`, `(g0 - g1 + g2) / 2`, `g2`.
    let spread = |g: [f32; 3]| [g[0], 0.5 * (g[0] + g[1] + g[2]), 0.5 * (g[0] - g[1] + g[2]), g[2]];
    let (rows, cols) = if turned { (c_in, c_out) } else { (c_out, c_in) };
    let plane = spaced(rows * cols);
    let mut u = vec![0.0; POSITIONS * plane];
    for row in 0..rows {
        for col in 0..cols {
            let (o, c) = if turned { (col, row) } else { (row, col) };
            let kernel = &w[(o * c_in + c) * 9..][..9];
            let tap = |i: usize, j: usize| if turned { kernel[8 - (i * 3 + j)] } else { kernel[i * 3 + j] };
            // `G g`: each column of the kernel spread to four rows; then each row to four columns.
            let columns: [[f32; 4]; 3] = std::array::from_fn(|j| spread(std::array::from_fn(|i| tap(i, j))));
            for r in 0..4 {
                let values = spread(std::array::from_fn(|j| columns[j][r]));
                for (s, value) in values.into_iter().enumerate() {
                    u[(r * 4 + s) * plane + row * cols + col] = value;
                }
            }
        }
    }
    u
}

/// Copies `images` images of `channels` planes each into `[image][row][col][channel]` of
/// `[rows, cols]` pixels, the image `before` pixels down and right, zeros around it.
fn channels_last(
    maps: Maps,
    channels: usize,
    x: &[f32],
    images: usize,
    before: usize,
    [rows, cols]: [usize; 2],
    out: &mut [f32],
) {
    let (h, w) = (maps.h, maps.w);
    let out = &mut out[..images * rows * cols * channels];
    for (image, out) in out.chunks_exact_mut(rows * cols * channels).enumerate() {
        for (row, line) in out.chunks_exact_mut(cols * channels).enumerate() {
            let Some(r) = row.checked_sub(before).filter(|&r| r < h) else {
                line.fill(0.0);
                continue;
            };
            line[..before * channels].fill(0.0);
            line[(before + w) * channels..].fill(0.0);
            // Blocks of four channels by four columns, each turned as a whole (a few shuffles);
            // what is left of a row or of the channels one value at a time.
            let (whole, wide) = (channels / 4 * 4, w / 4 * 4);
            let source = |channel: usize| &x[((image * channels + channel) * h + r) * w..][..w];
            for first in (0..whole).step_by(4) {
                let sources: [&[f32]; 4] = std::array::from_fn(|k| source(first + k));
                for col in (0..wide).step_by(4) {
                    let block: [[f32; 4]; 4] = std::array::from_fn(|k| array(&sources[k][col..]));
                    for j in 0..4 {
                        let out = &mut line[(before + col + j) * channels + first..][..4];
                        out.copy_from_slice(&block.map(|values| values[j]));
                    }
                }
                for col in wide..w {
                    for (k, source) in sources.iter().enumerate() {
                        line[(before + col) * channels + first + k] = source[col];
                    }
                }
            }
            for channel in whole..channels {
                for (col, &value) in source(channel).iter().enumerate() {
                    line[(before + col) * channels + channel] = value;
                }
            }
        }
    }
}

/// The first four values of `values`.
#[inline(always)]
fn array(values: &[f32]) -> [f32; 4] {
    values[..4].try_into().expect("four values")
}

/// Copies `[image][row][col][channel]` (rows and columns rounded up to whole tiles) back into
/// `[image][channel][h][w]`, in blocks of four channels by four columns as [`channels_last`] does.
fn channels_first(maps: Maps, copy: &[f32], images: usize, y: &mut [MaybeUninit<f32>]) {
    let ([rows, cols], (h, w), channels) = (maps.tiles(), (maps.h, maps.w), maps.c_out);
    let cols = 2 * cols;
    let (whole, wide) = (channels / 4 * 4, w / 4 * 4);
    for image in 0..images {
        let copy = &copy[image * 2 * rows * cols * channels..][..2 * rows * cols * channels];
        let y = &mut y[image * channels * h * w..][..channels * h * w];
        let pixel = |r: usize, col: usize| &copy[(r * cols + col) * channels..][..channels];
        for (first, planes) in y[..whole * h * w].chunks_exact_mut(4 * h * w).enumerate() {
            let first = 4 * first;
            let mut planes = planes.chunks_exact_mut(h * w);
            let mut out: [&mut [MaybeUninit<f32>]; 4] = std::array::from_fn(|_| planes.next().expect("four planes"));
            for r in 0..h {
                for col in (0..wide).step_by(4) {
                    let block: [[f32; 4]; 4] = std::array::from_fn(|j| array(&pixel(r, col + j)[first..]));
                    for (k, plane) in out.iter_mut().enumerate() {
                        for (value, values) in plane[r * w + col..][..4].iter_mut().zip(&block) {
                            value.write(values[k]);
                        }
                    }
                }
                for col in wide..w {
                    for (k, plane) in out.iter_mut().enumerate() {
                        plane[r * w + col].write(pixel(r, col)[first + k]);
                    }
                }
            }
        }
        for channel in whole..channels {
            let plane = &mut y[channel * h * w..][..h * w];
            for (r, line) in plane.chunks_exact_mut(w).enumerate() {
                for (col, out) in line.iter_mut().enumerate() {
                    out.write(pixel(r, col)[channel]);
                }
            }
        }
    }
}

/// The `channels` values of one tile in each of the sixteen [`spaced`] planes of `[position][tile]
/// [channel]` values, to write.
#[inline(always)]
fn tile_values(planes: &mut [f32], tiles: usize, channels: usize, tile: usize) -> [&mut [f32]; POSITIONS] {
    let mut planes = planes.chunks_exact_mut(spaced(tiles * channels));
    std::array::from_fn(|_| {
        let plane = planes.next().expect("sixteen positions");
        &mut plane[tile * channels..][..channels]
    })
}

/// `B^T` (or `B` from the right) on four values.
#[inline(always)]
fn input_sums([d0, d1, d2, d3]: [f32; 4]) -> [f32; 4] {
    [d0 - d2, d1 + d2, d2 - d1, d1 - d3]
}

/// `V = B^T d B` of every tile, from the padded channel-last copy, as `[position][tile][channel]`,
/// tiles numbered by image, tile row, tile column.
fn transform_input(maps: Maps, channels: usize, copy: &[f32], images: usize, v: &mut [f32]) {
    let ([tile_rows, tile_cols], [rows, cols]) = (maps.tiles(), maps.padded());
    let tiles = images * tile_rows * tile_cols;
    let v = &mut v[..POSITIONS * spaced(tiles * channels)];
    for image in 0..images {
        for tile_row in 0..tile_rows {
            for tile_col in 0..tile_cols {
                let tile = (image * tile_rows + tile_row) * tile_cols + tile_col;
                let d: [&[f32]; POSITIONS] = std::array::from_fn(|n| {
                    let pixel = (image * rows + 2 * tile_row + n / 4) * cols + 2 * tile_col + n % 4;
                    &copy[pixel * channels..][..channels]
                });
                let out = tile_values(v, tiles, channels, tile);
                for c in 0..channels {
                    let rows: [[f32; 4]; 4] = {
                        let columns: [[f32; 4]; 4] =
                            std::array::from_fn(|j| input_sums(std::array::from_fn(|i| d[i * 4 + j][c])));
                        std::array::from_fn(|k| std::array::from_fn(|j| columns[j][k]))
                    };
                    for (k, row) in rows.into_iter().enumerate() {
                        for (s, value) in input_sums(row).into_iter().enumerate() {
                            out[k * 4 + s][c] = value;
                        }
                    }
                }
            }
        }
    }
}

/// `A` on two values: `p`, `p + q`, `p - q`, `-q` (the output transform's adjoint).
#[inline(always)]
fn gradient_spread(p: f32, q: f32) -> [f32; 4] {
    [p, p + q, p - q, -q]
}

/// `A dy A^T` of every 2x2 block of the output gradient's channel-last copy (zeros past the
/// edge), as `[position][tile][channel]`.
fn transform_output_grad(maps: Maps, copy: &[f32], images: usize, m: &mut [f32]) {
    let ([tile_rows, tile_cols], channels) = (maps.tiles(), maps.c_out);
    let (tiles, cols) = (images * tile_rows * tile_cols, 2 * tile_cols);
    let m = &mut m[..POSITIONS * spaced(tiles * channels)];
    for image in 0..images {
        for tile_row in 0..tile_rows {
            for tile_col in 0..tile_cols {
                let tile = (image * tile_rows + tile_row) * tile_cols + tile_col;
                let dy: [&[f32]; 4] = std::array::from_fn(|n| {
                    let pixel = (image * 2 * tile_rows + 2 * tile_row + n / 2) * cols + 2 * tile_col + n % 2;
                    &copy[pixel * channels..][..channels]
                });
                let out = tile_values(m, tiles, channels, tile);
                for c in 0..channels {
                    // `A dy`, one column of the block at a time; then each row through `A`.
                    let columns = [0, 1].map(|side| gradient_spread(dy[side][c], dy[2 + side][c]));
                    for k in 0..4 {
                        for (s, value) in gradient_spread(columns[0][k], columns[1][k]).into_iter().enumerate() {
                            out[k * 4 + s][c] = value;
                        }
                    }
                }
            }
        }
    }
}

/// `A^T` on four values: `m0 + m1 + m2`, `m1 - m2 - m3`.
#[inline(always)]
fn output_sums([m0, m1, m2, m3]: [f32; 4]) -> [f32; 2] {
    [m0 + m1 + m2, m1 - m2 - m3]
}

/// `Y = A^T m A` of every tile, plus the bias, into the channel-last `[image][row][col][channel]`
/// (rows and columns rounded up to whole tiles).
fn transform_output(maps: Maps, m: &[f32], images: usize, bias: Option<&[f32]>, copy: &mut [f32]) {
    let ([tile_rows, tile_cols], channels) = (maps.tiles(), maps.c_out);
    let (tiles, cols) = (images * tile_rows * tile_cols, 2 * tile_cols);
    let zeros = vec![0.0; channels];
    let bias = &bias.unwrap_or(&zeros)[..channels];
    for image in 0..images {
        for tile_row in 0..tile_rows {
            // The tile row's two output rows, as one slice split in two.
            let top = (image * 2 * tile_rows + 2 * tile_row) * cols * channels;
            let (upper, lower) = copy[top..][..2 * cols * channels].split_at_mut(cols * channels);
            for tile_col in 0..tile_cols {
                let tile = (image * tile_rows + tile_row) * tile_cols + tile_col;
                let mm: [&[f32]; POSITIONS] = std::array::from_fn(|position| {
                    &m[position * spaced(tiles * channels) + tile * channels..][..channels]
                });
                let (y00, y01) = upper[2 * tile_col * channels..][..2 * channels].split_at_mut(channels);
                let (y10, y11) = lower[2 * tile_col * channels..][..2 * channels].split_at_mut(channels);
                for c in 0..channels {
                    let columns: [[f32; 2]; 4] =
                        std::array::from_fn(|s| output_sums(std::array::from_fn(|k| mm[k * 4 + s][c])));
                    let [top, bottom] = [0, 1].map(|side| output_sums(std::array::from_fn(|s| columns[s][side])));
                    y00[c] = top[0] + bias[c];
                    y01[c] = top[1] + bias[c];
                    y10[c] = bottom[0] + bias[c];
                    y11[c] = bottom[1] + bias[c];
                }
            }
        }
    }
}
