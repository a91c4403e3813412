//! A 2-d convolution and both of its gradients on the CPU, each as one matrix product per chunk of
//! images over an unfolded input (rows: one per input channel and kernel tap; columns: one per
//! image and output pixel).
//!
//! burn-flex has a fast forward pass but takes burn's generic backward: the weight gradient is a
//! convolution on swapped axes whose product is `c_out x 9` wide (a sliver that gemm runs far
//! below its speed), and the input gradient a transposed convolution. Here all three are products
//! of the full `c_out x (c_in*k*k) x (images*pixels)` shape, as PyTorch's CPU path does. Chunks of
//! images run in parallel on rayon's pool (one thread where there is none), and each product runs
//! on its chunk's thread.

use rayon::prelude::*;

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

/// For each output column `x` of a kernel tap at offset `offset`: the input column, or none in
/// the padding. Returns the range of `x` whose input column is inside `0..size`.
fn inside(out: usize, stride: usize, offset: isize, size: usize) -> (usize, usize) {
    // x * stride + offset in 0..size  <=>  x in ceil(-offset / stride) .. ceil((size - offset) / stride)
    let first = if offset >= 0 { 0 } else { ((-offset) as usize).div_ceil(stride) };
    let end = if (size as isize) <= offset { 0 } else { ((size as isize - offset) as usize).div_ceil(stride) };
    (first.min(out), end.clamp(first.min(out), out))
}

/// Walks every (row of the unfolded input, image, output row) of one group with the input row it
/// reads and the range of output columns inside the image: the shared skeleton of unfold and fold.
fn walk(
    g: &Geometry,
    group: usize,
    images: usize,
    mut visit: impl FnMut(usize, usize, usize, Option<usize>, isize, (usize, usize)),
) {
    let [kh, kw] = g.kernel;
    let cg = g.group_in();
    for c in 0..cg {
        let channel = group * cg + c;
        for i in 0..kh {
            for j in 0..kw {
                let row = (c * kh + i) * kw + j;
                let x_offset = (j * g.dilation[1]) as isize - g.padding[1] as isize;
                let columns = inside(g.ow, g.stride[1], x_offset, g.w);
                for image in 0..images {
                    for oy in 0..g.oh {
                        let iy = (oy * g.stride[0] + i * g.dilation[0]) as isize - g.padding[0] as isize;
                        let plane = image * g.c_in + channel;
                        let source = (0..g.h as isize).contains(&iy).then(|| plane * g.h * g.w + iy as usize * g.w);
                        visit(row, image, oy, source, x_offset, columns);
                    }
                }
            }
        }
    }
}

/// `col[row][image * pixels + oy * ow + ox]` = the input under kernel tap `row` for that output
/// pixel, zero in the padding. `x` holds the chunk's images.
fn unfold(g: &Geometry, group: usize, x: &[f32], images: usize, col: &mut [f32]) {
    let width = images * g.pixels();
    let sx = g.stride[1];
    walk(g, group, images, |row, image, oy, source, x_offset, (first, end)| {
        let at = row * width + image * g.pixels() + oy * g.ow;
        let out = &mut col[at..at + g.ow];
        let Some(source) = source else {
            out.fill(0.0);
            return;
        };
        out[..first].fill(0.0);
        out[end..].fill(0.0);
        let start = (first * sx) as isize + x_offset;
        let src = &x[source + start as usize..];
        if sx == 1 {
            out[first..end].copy_from_slice(&src[..end - first]);
        } else {
            for (o, value) in out[first..end].iter_mut().zip(src.iter().step_by(sx)) {
                *o = *value;
            }
        }
    });
}

/// The adjoint of [`unfold`]: adds every column entry back onto the input pixel it was read from.
fn fold(g: &Geometry, group: usize, col: &[f32], images: usize, dx: &mut [f32]) {
    let width = images * g.pixels();
    let sx = g.stride[1];
    walk(g, group, images, |row, image, oy, source, x_offset, (first, end)| {
        let Some(source) = source else { return };
        let at = row * width + image * g.pixels() + oy * g.ow;
        let start = source + ((first * sx) as isize + x_offset) as usize;
        let values = &col[at + first..at + end];
        if sx == 1 {
            dx[start..start + values.len()].iter_mut().zip(values).for_each(|(d, v)| *d += v);
        } else {
            for (x, value) in values.iter().enumerate() {
                dx[start + x * sx] += value;
            }
        }
    });
}

/// `dst = lhs * rhs` (`accumulate`: `dst += lhs * rhs`), each matrix given by its base and its
/// (row, column) strides, on the calling thread.
#[allow(clippy::too_many_arguments)]
fn product(
    [m, n, k]: [usize; 3],
    dst: &mut [f32],
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
                    dst[r * dst_strides[0] + c * dst_strides[1]] = 0.0;
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
    // the slices, and `dst` is borrowed mutably, so it aliases neither operand.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
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
            gemm::Parallelism::None,
        );
    }
}

/// Copies the output gradient of a chunk's images for one group into `[group_out, images * pixels]`.
fn gather(g: &Geometry, group: usize, dy: &[f32], images: usize, out: &mut [f32]) {
    let (p, og) = (g.pixels(), g.group_out());
    for o in 0..og {
        for image in 0..images {
            let src = (image * g.c_out + group * og + o) * p;
            let dst = (o * images + image) * p;
            out[dst..dst + p].copy_from_slice(&dy[src..src + p]);
        }
    }
}

/// The forward pass: `[batch, c_out, oh, ow]` from input `x`, weights `w` and an optional bias.
pub fn forward(g: &Geometry, x: &[f32], w: &[f32], bias: Option<&[f32]>) -> Vec<f32> {
    let (p, og, taps, chunk) = (g.pixels(), g.group_out(), g.taps(), g.chunk());
    let mut y = vec![0.0; g.batch * g.c_out * p];
    let image_in = g.c_in * g.h * g.w;
    y.par_chunks_mut(chunk * g.c_out * p).enumerate().for_each(|(index, y)| {
        let images = y.len() / (g.c_out * p);
        let x = &x[index * chunk * image_in..];
        let mut col = vec![0.0; taps * images * p];
        let mut result = vec![0.0; og * images * p];
        for group in 0..g.groups {
            unfold(g, group, x, images, &mut col);
            let weights = &w[group * og * taps..];
            product(
                [og, images * p, taps],
                &mut result,
                [images * p, 1],
                false,
                weights,
                [taps, 1],
                &col,
                [images * p, 1],
            );
            for o in 0..og {
                let channel = group * og + o;
                let add = bias.map_or(0.0, |b| b[channel]);
                for image in 0..images {
                    let src = &result[(o * images + image) * p..][..p];
                    let dst = &mut y[(image * g.c_out + channel) * p..][..p];
                    for (d, s) in dst.iter_mut().zip(src) {
                        *d = s + add;
                    }
                }
            }
        }
    });
    y
}

/// The gradient of the weights, `[c_out, c_in / groups, kh, kw]`, from input `x` and output
/// gradient `dy`. Each thread sums its chunks into its own copy; the copies are added at the end.
pub fn weight_grad(g: &Geometry, x: &[f32], dy: &[f32]) -> Vec<f32> {
    let (p, og, taps, chunk) = (g.pixels(), g.group_out(), g.taps(), g.chunk());
    let image_in = g.c_in * g.h * g.w;
    let size = g.c_out * taps;
    let chunks = g.batch.div_ceil(chunk);
    (0..chunks)
        .into_par_iter()
        .fold(
            || vec![0.0; size],
            |mut dw, index| {
                let first = index * chunk;
                let images = chunk.min(g.batch - first);
                let x = &x[first * image_in..];
                let dy = &dy[first * g.c_out * p..];
                let mut col = vec![0.0; taps * images * p];
                let mut grad = vec![0.0; og * images * p];
                for group in 0..g.groups {
                    unfold(g, group, x, images, &mut col);
                    gather(g, group, dy, images, &mut grad);
                    let width = images * p;
                    let dst = &mut dw[group * og * taps..];
                    product([og, taps, width], dst, [taps, 1], true, &grad, [width, 1], &col, [1, width]);
                }
                dw
            },
        )
        .reduce(
            || vec![0.0; size],
            |mut a, b| {
                a.iter_mut().zip(&b).for_each(|(a, b)| *a += b);
                a
            },
        )
}

/// The gradient of the input, `[batch, c_in, h, w]`, from weights `w` and output gradient `dy`.
pub fn input_grad(g: &Geometry, w: &[f32], dy: &[f32]) -> Vec<f32> {
    let (p, og, taps, chunk) = (g.pixels(), g.group_out(), g.taps(), g.chunk());
    let image_in = g.c_in * g.h * g.w;
    let mut dx = vec![0.0; g.batch * image_in];
    dx.par_chunks_mut(chunk * image_in).enumerate().for_each(|(index, dx)| {
        let images = dx.len() / image_in;
        let dy = &dy[index * chunk * g.c_out * p..];
        let width = images * p;
        let mut col = vec![0.0; taps * width];
        let mut grad = vec![0.0; og * width];
        for group in 0..g.groups {
            gather(g, group, dy, images, &mut grad);
            // The weights' transpose: row `tap`, column `o` sits at `o * taps + tap`.
            let weights = &w[group * og * taps..];
            product([taps, width, og], &mut col, [width, 1], false, weights, [1, taps], &grad, [width, 1]);
            fold(g, group, &col, images, dx);
        }
    });
    dx
}

#[cfg(test)]
mod tests {
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
