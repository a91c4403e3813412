//! A 2-d convolution and both of its gradients on the CPU, each as one matrix product per chunk of
//! images over an unfolded input (rows: one per input channel and kernel tap; columns: one per
//! image and output pixel, see [`columns`]).
//!
//! burn-flex has a fast forward pass but takes burn's generic backward: the weight gradient is a
//! convolution on swapped axes whose product is `c_out x 9` wide (a sliver that gemm runs far
//! below its speed), and the input gradient a transposed convolution. Here all three are products
//! of the full `c_out x (c_in*k*k) x (images*pixels)` shape, as PyTorch's CPU path does. Chunks of
//! images run in parallel on rayon's pool (one thread where there is none), and each product runs
//! on its chunk's thread. The 3x3 stride-1 convolutions with channels and tiles enough take
//! Winograd's tiles instead ([`winograd`]): 2.25x fewer multiplications.
//!
//! Linear layers ([`linear`]), ReLU ([`relu`]), dropout's mask ([`dropout`]), max pooling
//! ([`pool`]), batch normalisation of a training batch ([`norm`]) and the SGD and Adam updates
//! ([`sgd`], [`adam`]) live beside it.

pub mod adam;
mod columns;
pub mod dropout;
pub mod elementwise;
pub mod linear;
pub mod norm;
pub mod pool;
pub mod relu;
pub mod sgd;
mod winograd;

use std::cell::RefCell;
use std::mem::MaybeUninit;

use burn::backend::ops::ConvOptions;
use rayon::prelude::*;

use columns::Layout;
use elementwise::as_uninit;

/// The shape of one convolution over NCHW tensors: input `[batch, c_in, h, w]`, weights
/// `[c_out, c_in / groups, kh, kw]`, output `[batch, c_out, oh, ow]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    pub batch: usize,
    pub c_in: usize,
    pub h: usize,
    pub w: usize,
    pub c_out: usize,
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    /// Rows and columns of zeros before the image; any after it only shape the output.
    pub padding: [usize; 2],
    pub dilation: [usize; 2],
    pub groups: usize,
    pub oh: usize,
    pub ow: usize,
}

impl Geometry {
    /// The convolution of an input of shape `[batch, c_in, h, w]` by weights `[c_out, c_in /
    /// groups, kh, kw]`; `None` where the kernel does not fit the padded input.
    pub fn new(x: [usize; 4], weight: [usize; 4], options: &ConvOptions<2>) -> Option<Self> {
        let [batch, c_in, h, w] = x;
        let [c_out, _, kh, kw] = weight;
        let [(top, bottom), (left, right)] = options.padding;
        let size = |input: usize, k: usize, stride: usize, dilation: usize, before: usize, after: usize| {
            (input + before + after).checked_sub(dilation * (k - 1) + 1).map(|span| span / stride + 1)
        };
        let oh = size(h, kh, options.stride[0], options.dilation[0], top, bottom)?;
        let ow = size(w, kw, options.stride[1], options.dilation[1], left, right)?;
        Some(Self {
            batch,
            c_in,
            h,
            w,
            c_out,
            kernel: [kh, kw],
            stride: options.stride,
            padding: [top, left],
            dilation: options.dilation,
            groups: options.groups,
            oh,
            ow,
        })
    }

    fn pixels(&self) -> usize {
        self.oh * self.ow
    }

    fn group_in(&self) -> usize {
        self.c_in / self.groups
    }

    fn group_out(&self) -> usize {
        self.c_out / self.groups
    }

    /// Rows of the unfolded input of one group: its input channels times the kernel's taps.
    fn taps(&self) -> usize {
        self.group_in() * self.kernel[0] * self.kernel[1]
    }

    /// Images per product: enough columns that gemm runs near its speed (a 3x3 map alone is a
    /// sliver of 9), but chunks enough that every thread has work.
    fn chunk(&self) -> usize {
        const COLUMNS: usize = 1024;
        let wanted = COLUMNS.div_ceil(self.pixels()).max(1);
        let spread = self.batch.div_ceil(4 * rayon::current_num_threads()).max(1);
        wanted.min(spread)
    }
}

/// `dst = lhs * rhs` (`accumulate`: `dst += lhs * rhs`), each matrix given by its base and its
/// (row, column) strides, on the calling thread (`Parallelism::None`) or on rayon's pool. Without
/// `accumulate`, `dst` may start uninitialised: every value of it is written.
#[allow(clippy::too_many_arguments)]
fn product(
    parallelism: gemm::Parallelism,
    [m, n, k]: [usize; 3],
    dst: &mut [MaybeUninit<f32>],
    dst_strides: [usize; 2],
    accumulate: bool,
    lhs: &[f32],
    lhs_strides: [usize; 2],
    rhs: &[f32],
    rhs_strides: [usize; 2],
) {
    let last = |[rows, cols]: [usize; 2], [rs, cs]: [usize; 2]| (rows - 1) * rs + (cols - 1) * cs;
    if m == 0 || n == 0 {
        return;
    }
    assert!(last([m, n], dst_strides) < dst.len(), "product: destination too short");
    if k == 0 {
        if !accumulate {
            for r in 0..m {
                for c in 0..n {
                    dst[r * dst_strides[0] + c * dst_strides[1]].write(0.0);
                }
            }
        }
        return;
    }
    assert!(
        last([m, k], lhs_strides) < lhs.len() && last([k, n], rhs_strides) < rhs.len(),
        "product: operand too short"
    );
    // SAFETY: the asserts above keep every index gemm forms from these shapes and strides inside
    // the slices, and `dst` is borrowed mutably, so it aliases neither operand; gemm reads `dst`
    // only to accumulate, when the caller has initialised it.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr().cast::<f32>(),
            dst_strides[1] as isize,
            dst_strides[0] as isize,
            accumulate,
            lhs.as_ptr(),
            lhs_strides[1] as isize,
            lhs_strides[0] as isize,
            rhs.as_ptr(),
            rhs_strides[1] as isize,
            rhs_strides[0] as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

thread_local! {
    /// Each thread's buffers for the unfolded input, a product and the padded planes: kept from
    /// call to call, so a step does not allocate (and zero) them for every chunk of every layer.
    static SCRATCH: RefCell<[Vec<f32>; 3]> = const { RefCell::new([Vec::new(), Vec::new(), Vec::new()]) };
}

/// Runs `work` on this thread's scratch buffers of at least `sizes` values (their contents are
/// left from earlier calls).
fn with_scratch<R>(sizes: [usize; 3], work: impl FnOnce(&mut [f32], &mut [f32], &mut [f32]) -> R) -> R {
    // Taken out of the cell for the duration, so that a nested call finds it empty and allocates
    // rather than panicking on a second borrow.
    let mut buffers = SCRATCH.with(|cell| std::mem::take(&mut *cell.borrow_mut()));
    for (buffer, size) in buffers.iter_mut().zip(sizes) {
        if buffer.len() < size {
            buffer.resize(size, 0.0);
        }
    }
    let [a, b, c] = &mut buffers;
    let out = work(&mut a[..sizes[0]], &mut b[..sizes[1]], &mut c[..sizes[2]]);
    SCRATCH.with(|cell| *cell.borrow_mut() = buffers);
    out
}

/// Values of the padded planes a chunk of `images` needs (none for the `Exact` layout).
fn padded_size(layout: Layout, images: usize, channels: usize) -> usize {
    match layout {
        Layout::Wide { plane, .. } => images * channels * plane,
        Layout::Exact => 0,
    }
}

/// Runs `work` on what [`columns::unfold`] reads for `images` images of `x` from `first` on, and
/// on this thread's scratch for their unfolded input and for a `[group_out, columns]` product.
fn with_input_chunk<R>(
    g: &Geometry,
    layout: Layout,
    x: &[f32],
    first: usize,
    images: usize,
    work: impl FnOnce(&[f32], &mut [f32], &mut [f32]) -> R,
) -> R {
    let image_in = g.c_in * g.h * g.w;
    let x = &x[first * image_in..][..images * image_in];
    let width = images * layout.span(g);
    let sizes = [g.taps() * width, g.group_out() * width, padded_size(layout, images, g.c_in)];
    with_scratch(sizes, |col, product, padded| work(columns::source(g, layout, x, images, padded), col, product))
}

/// The forward pass: `[batch, c_out, oh, ow]` from input `x`, weights `w` and an optional bias.
pub fn forward(g: &Geometry, x: &[f32], w: &[f32], bias: Option<&[f32]>) -> Vec<f32> {
    if winograd::applies(g) {
        return winograd::forward(g, x, w, bias);
    }
    let (layout, og, taps, chunk) = (Layout::of(g), g.group_out(), g.taps(), g.chunk());
    let (p, span) = (g.pixels(), layout.span(g));
    let fill = |y: &mut [MaybeUninit<f32>]| {
        y.par_chunks_mut(chunk * g.c_out * p).enumerate().for_each(|(index, y)| {
            let images = y.len() / (g.c_out * p);
            let width = images * span;
            with_input_chunk(g, layout, x, index * chunk, images, |source, col, result| {
                for group in 0..g.groups {
                    columns::unfold(g, layout, group, source, images, col);
                    let weights = &w[group * og * taps..];
                    product(
                        gemm::Parallelism::None,
                        [og, width, taps],
                        as_uninit(result),
                        [width, 1],
                        false,
                        weights,
                        [taps, 1],
                        col,
                        [width, 1],
                    );
                    columns::scatter(g, layout, group, result, bias, images, y);
                }
            });
        });
    };
    // SAFETY: each group's scatter writes its channels of every image of the chunk.
    unsafe { elementwise::written(g.batch * g.c_out * p, fill) }
}

/// The gradient of the weights, `[c_out, c_in / groups, kh, kw]`, from input `x` and output
/// gradient `dy`.
pub fn weight_grad(g: &Geometry, x: &[f32], dy: &[f32]) -> Vec<f32> {
    if winograd::applies(g) {
        return winograd::weight_grad(g, x, dy);
    }
    let (layout, og, taps, chunk) = (Layout::of(g), g.group_out(), g.taps(), g.chunk());
    let (p, span) = (g.pixels(), layout.span(g));
    summed_in_runs(g.batch.div_ceil(chunk), g.c_out * taps, |index, dw| {
        let first = index * chunk;
        let images = chunk.min(g.batch - first);
        let dy = &dy[first * g.c_out * p..];
        let width = images * span;
        with_input_chunk(g, layout, x, first, images, |source, col, grad| {
            for group in 0..g.groups {
                columns::unfold(g, layout, group, source, images, col);
                columns::gather(g, layout, group, dy, images, grad);
                let dst = &mut dw[group * og * taps..];
                product(
                    gemm::Parallelism::None,
                    [og, taps, width],
                    as_uninit(dst),
                    [taps, 1],
                    true,
                    grad,
                    [width, 1],
                    col,
                    [1, width],
                );
            }
        });
    })
}

/// The sum over chunks `0..chunks` of what `add(chunk, sum)` adds into a zeroed `size`-value sum.
/// The chunks are split into a fixed number of runs of consecutive chunks, each summed into its
/// own copy, and the copies are added in order: the same sums in the same order on every call, so
/// a run repeats to the bit (work stealing would otherwise pick the order).
fn summed_in_runs(chunks: usize, size: usize, add: impl Fn(usize, &mut [f32]) + Sync) -> Vec<f32> {
    let runs = chunks.min(2 * rayon::current_num_threads()).max(1);
    let partial = |run: usize| {
        let mut sum = vec![0.0; size];
        for index in run * chunks / runs..(run + 1) * chunks / runs {
            add(index, &mut sum);
        }
        sum
    };
    let partials: Vec<Vec<f32>> = (0..runs).into_par_iter().map(partial).collect();
    let mut partials = partials.into_iter();
    let mut sum = partials.next().unwrap_or_else(|| vec![0.0; size]);
    for other in partials {
        sum.iter_mut().zip(&other).for_each(|(a, b)| *a += b);
    }
    sum
}

/// The gradient of the input, `[batch, c_in, h, w]`, from weights `w` and output gradient `dy`.
pub fn input_grad(g: &Geometry, w: &[f32], dy: &[f32]) -> Vec<f32> {
    if winograd::applies(g) {
        return winograd::input_grad(g, w, dy);
    }
    let (layout, og, taps, chunk) = (Layout::of(g), g.group_out(), g.taps(), g.chunk());
    let (p, span) = (g.pixels(), layout.span(g));
    let image_in = g.c_in * g.h * g.w;
    let fill = |dx: &mut [MaybeUninit<f32>]| {
        dx.par_chunks_mut(chunk * image_in).enumerate().for_each(|(index, dx)| {
            let images = dx.len() / image_in;
            let dy = &dy[index * chunk * g.c_out * p..];
            let width = images * span;
            let sizes = [taps * width, og * width, padded_size(layout, images, g.group_in())];
            with_scratch(sizes, |col, grad, padded| {
                for group in 0..g.groups {
                    columns::gather(g, layout, group, dy, images, grad);
                    // The weights' transpose: row `tap`, column `o` sits at `o * taps + tap`.
                    let weights = &w[group * og * taps..];
                    product(
                        gemm::Parallelism::None,
                        [taps, width, og],
                        as_uninit(col),
                        [width, 1],
                        false,
                        weights,
                        [1, taps],
                        grad,
                        [width, 1],
                    );
                    columns::fold(g, layout, group, col, images, padded, dx);
                }
            });
        });
    };
    // SAFETY: each group's fold writes its channels of every image of the chunk.
    unsafe { elementwise::written(g.batch * image_in, fill) }
}

#[cfg(test)]
mod tests {
    use super::columns::inside;
    use super::*;

    /// Every term of the convolution, one at a time: the definition the kernels must equal.
    /// Calls `visit(y index, x index, w index)` for each product of the forward sum.
    fn each_term(g: &Geometry, mut visit: impl FnMut(usize, usize, usize)) {
        let (cg, og) = (g.group_in(), g.group_out());
        for n in 0..g.batch {
            for o in 0..g.c_out {
                let group = o / og;
                for oy in 0..g.oh {
                    for ox in 0..g.ow {
                        for c in 0..cg {
                            for i in 0..g.kernel[0] {
                                for j in 0..g.kernel[1] {
                                    let iy = (oy * g.stride[0] + i * g.dilation[0]) as isize - g.padding[0] as isize;
                                    let ix = (ox * g.stride[1] + j * g.dilation[1]) as isize - g.padding[1] as isize;
                                    if iy < 0 || ix < 0 || iy >= g.h as isize || ix >= g.w as isize {
                                        continue;
                                    }
                                    let channel = group * cg + c;
                                    let x = ((n * g.c_in + channel) * g.h + iy as usize) * g.w + ix as usize;
                                    let y = ((n * g.c_out + o) * g.oh + oy) * g.ow + ox;
                                    let w = ((o * cg + c) * g.kernel[0] + i) * g.kernel[1] + j;
                                    visit(y, x, w);
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    fn values(len: usize, seed: u32) -> Vec<f32> {
        let mut state = seed.wrapping_mul(2_654_435_761).max(1);
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                (state % 2001) as f32 / 1000.0 - 1.0
            })
            .collect()
    }

    /// `[batch, c_in, h, w]`, `c_out` and `[kernel, stride, padding, dilation, groups]`.
    fn geometry(
        [batch, c_in, h, w]: [usize; 4],
        c_out: usize,
        [kernel, stride, padding, dilation, groups]: [usize; 5],
    ) -> Geometry {
        let out = |size: usize| (size + 2 * padding - dilation * (kernel - 1) - 1) / stride + 1;
        Geometry {
            batch,
            c_in,
            h,
            w,
            c_out,
            kernel: [kernel; 2],
            stride: [stride; 2],
            padding: [padding; 2],
            dilation: [dilation; 2],
            groups,
            oh: out(h),
            ow: out(w),
        }
    }

    fn assert_close(actual: &[f32], expected: &[f32], what: &str) {
        assert_eq!(actual.len(), expected.len(), "{what}: length");
        for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
            assert!((a - e).abs() <= 1e-4 * (1.0 + e.abs()), "{what}[{i}]: {a} against {e}");
        }
    }

    /// Shapes the chapter's networks use: VGG's 3x3 (first layer of one channel, maps down to
    /// 3x3 that batch many images per product), ResNet's stride-2 3x3 and 1x1 shortcut, AlexNet's
    /// 11x11 at stride 4, ResNeXt's groups, and a dilation and an odd width for the edges.
    fn cases() -> Vec<Geometry> {
        vec![
            geometry([3, 1, 12, 12], 4, [3, 1, 1, 1, 1]),
            geometry([5, 6, 3, 3], 8, [3, 1, 1, 1, 1]),
            geometry([40, 3, 3, 3], 5, [3, 1, 1, 1, 1]),
            geometry([2, 4, 9, 7], 6, [3, 2, 1, 1, 1]),
            geometry([2, 4, 8, 8], 6, [1, 2, 0, 1, 1]),
            geometry([2, 2, 27, 27], 3, [11, 4, 1, 1, 1]),
            geometry([3, 8, 6, 6], 12, [3, 1, 1, 1, 4]),
            geometry([2, 3, 10, 11], 2, [3, 1, 2, 2, 1]),
            geometry([2, 3, 5, 5], 2, [5, 1, 0, 1, 1]),
            // Winograd's tiles: even and odd sides (a half tile at the edge), maps of 1 to 3
            // pixels, more output channels than input and the reverse.
            geometry([3, 16, 8, 6], 24, [3, 1, 1, 1, 1]),
            geometry([2, 20, 7, 5], 16, [3, 1, 1, 1, 1]),
            geometry([9, 16, 3, 3], 16, [3, 1, 1, 1, 1]),
            geometry([4, 16, 1, 2], 17, [3, 1, 1, 1, 1]),
        ]
    }

    #[test]
    fn the_forward_pass_equals_the_definition() {
        for g in cases() {
            let x = values(g.batch * g.c_in * g.h * g.w, 1);
            let w = values(g.c_out * g.taps(), 2);
            let bias = values(g.c_out, 3);
            let mut expected: Vec<f32> =
                (0..g.batch * g.c_out * g.pixels()).map(|i| bias[i / g.pixels() % g.c_out]).collect();
            each_term(&g, |y, xi, wi| expected[y] += x[xi] * w[wi]);
            assert_close(&forward(&g, &x, &w, Some(&bias)), &expected, &format!("{g:?} forward"));
            if winograd::fits(&g) {
                assert_close(&winograd::forward(&g, &x, &w, Some(&bias)), &expected, &format!("{g:?} Winograd"));
            }
        }
    }

    #[test]
    fn the_gradients_equal_the_definition() {
        for g in cases() {
            let x = values(g.batch * g.c_in * g.h * g.w, 4);
            let w = values(g.c_out * g.taps(), 5);
            let dy = values(g.batch * g.c_out * g.pixels(), 6);
            let (mut dx, mut dw) = (vec![0.0; x.len()], vec![0.0; w.len()]);
            each_term(&g, |y, xi, wi| {
                dx[xi] += dy[y] * w[wi];
                dw[wi] += dy[y] * x[xi];
            });
            assert_close(&input_grad(&g, &w, &dy), &dx, &format!("{g:?} input gradient"));
            assert_close(&weight_grad(&g, &x, &dy), &dw, &format!("{g:?} weight gradient"));
            if winograd::fits(&g) {
                assert_close(&winograd::input_grad(&g, &w, &dy), &dx, &format!("{g:?} Winograd input gradient"));
                assert_close(&winograd::weight_grad(&g, &x, &dy), &dw, &format!("{g:?} Winograd weight gradient"));
            }
        }
    }

    #[test]
    fn the_weight_gradient_repeats_to_the_bit() {
        // 3x3 maps: many chunks of several images each, summed on every thread (unfolded, then
        // in Winograd's tiles).
        for channels in [8, 16] {
            let g = geometry([96, channels, 3, 3], channels, [3, 1, 1, 1, 1]);
            let x = values(g.batch * g.c_in * g.h * g.w, 7);
            let dy = values(g.batch * g.c_out * g.pixels(), 8);
            let grad = if winograd::fits(&g) { winograd::weight_grad } else { weight_grad };
            let first = grad(&g, &x, &dy);
            for _ in 0..20 {
                assert!(grad(&g, &x, &dy) == first, "a second call summed in another order");
            }
        }
    }

    #[test]
    fn columns_inside_the_image_are_found_for_every_offset() {
        // 5 output columns at stride 2 reading a 7-wide row from offset -1: x = 1..=3 land inside
        // (1, 3, 5); x = 0 reads column -1 and x = 4 column 7.
        assert_eq!(inside(5, 2, -1, 7), (1, 4));
        assert_eq!(inside(4, 1, 0, 4), (0, 4));
        assert_eq!(inside(3, 1, 5, 4), (0, 0));
        assert_eq!(inside(3, 1, -5, 4), (3, 3));
    }
}
