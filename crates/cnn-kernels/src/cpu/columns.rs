//! The unfolded input of a chunk of images and the moves between it and NCHW tensors.
//!
//! Two layouts of the columns. `Exact`: one column per output pixel, any stride; each row is
//! built a few pixels at a time around the padding. `Wide` (stride 1): the input is first copied
//! into zero-padded planes, and each output row gets as many columns as a padded input row, so a
//! kernel tap's whole row of the unfolded input is one contiguous copy of a padded plane, shifted.
//! The extra columns (2 x padding per output row) hold values no output keeps: the forward pass
//! drops them, and the gradients put zeros there so they add nothing.

use std::mem::MaybeUninit;

use super::Geometry;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Layout {
    Exact,
    /// `width`: columns per output row (a padded input row); `plane`: values per padded plane,
    /// with room after its last row for the taps right of it to read.
    Wide {
        width: usize,
        plane: usize,
    },
}

impl Layout {
    pub(super) fn of(g: &Geometry) -> Self {
        if g.stride != [1, 1] {
            return Self::Exact;
        }
        // Stride 1: each output row spans the padded row minus the kernel's reach.
        let width = g.ow + g.dilation[1] * (g.kernel[1] - 1);
        let rows = g.oh + g.dilation[0] * (g.kernel[0] - 1);
        Self::Wide { width, plane: rows * width + g.dilation[1] * (g.kernel[1] - 1) }
    }

    /// Columns per output row.
    pub(super) fn row(&self, g: &Geometry) -> usize {
        match *self {
            Self::Exact => g.ow,
            Self::Wide { width, .. } => width,
        }
    }

    /// Columns per image.
    pub(super) fn span(&self, g: &Geometry) -> usize {
        g.oh * self.row(g)
    }
}

/// For output columns `0..out` of a tap at `offset` and `stride`: the range whose input column
/// lies inside `0..size`.
pub(super) fn inside(out: usize, stride: usize, offset: isize, size: usize) -> (usize, usize) {
    // x * stride + offset in 0..size  <=>  x in ceil(-offset / stride) .. ceil((size - offset) / stride)
    let first = if offset >= 0 { 0 } else { ((-offset) as usize).div_ceil(stride) };
    let end = if (size as isize) <= offset { 0 } else { ((size as isize - offset) as usize).div_ceil(stride) };
    (first.min(out), end.clamp(first.min(out), out))
}

/// The taps of one group's rows: `(row, channel, i, j)`.
fn taps(g: &Geometry, group: usize) -> impl Iterator<Item = (usize, usize, usize, usize)> + '_ {
    let [kh, kw] = g.kernel;
    let cg = g.group_in();
    (0..cg * kh * kw).map(move |row| (row, group * cg + row / (kh * kw), row / kw % kh, row % kw))
}

/// What [`unfold`] reads for the chunk's `images` of `x`: `x` itself (`Exact`), or its copy in
/// the zero-padded planes of `padded` (`Wide`).
pub(super) fn source<'a>(
    g: &Geometry,
    layout: Layout,
    x: &'a [f32],
    images: usize,
    padded: &'a mut [f32],
) -> &'a [f32] {
    let Layout::Wide { width, plane } = layout else { return x };
    let [top, left] = g.padding;
    for (p, padded) in padded.chunks_exact_mut(plane).take(images * g.c_in).enumerate() {
        // Zeros only around the image's rows: the rest is overwritten.
        let mut next = 0;
        for y in 0..g.h {
            let start = (top + y) * width + left;
            padded[next..start].fill(0.0);
            padded[start..][..g.w].copy_from_slice(&x[(p * g.h + y) * g.w..][..g.w]);
            next = start + g.w;
        }
        padded[next..].fill(0.0);
    }
    &padded[..images * g.c_in * plane]
}

/// `col[row][image * span + column]`: the input under each tap of `group` for each output column.
/// `source` is what [`source`] gave for the chunk.
pub(super) fn unfold(g: &Geometry, layout: Layout, group: usize, source: &[f32], images: usize, col: &mut [f32]) {
    let span = layout.span(g);
    let total = images * span;
    for (row, channel, i, j) in taps(g, group) {
        let out = &mut col[row * total..][..total];
        match layout {
            Layout::Wide { width, plane } => {
                let shift = i * g.dilation[0] * width + j * g.dilation[1];
                for (image, out) in out.chunks_exact_mut(span).enumerate() {
                    out.copy_from_slice(&source[(image * g.c_in + channel) * plane + shift..][..span]);
                }
            }
            Layout::Exact => unfold_exact(g, source, channel, [i, j], out),
        }
    }
}

/// Where one tap reads in the `Exact` layout: for output row `index` (image-major) of the tap's
/// row of columns, the input index of its first column inside the image, or none where the whole
/// output row falls in the padding; and the range of columns inside the image.
fn exact_reads(
    g: &Geometry,
    channel: usize,
    [i, j]: [usize; 2],
) -> (impl Fn(usize) -> Option<usize> + '_, (usize, usize)) {
    let offset = (j * g.dilation[1]) as isize - g.padding[1] as isize;
    let (first, end) = inside(g.ow, g.stride[1], offset, g.w);
    let start = move |index: usize| {
        let (image, oy) = (index / g.oh, index % g.oh);
        let iy = (oy * g.stride[0] + i * g.dilation[0]) as isize - g.padding[0] as isize;
        (0..g.h as isize).contains(&iy).then(|| {
            let row = ((image * g.c_in + channel) * g.h + iy as usize) * g.w;
            (row as isize + (first * g.stride[1]) as isize + offset) as usize
        })
    };
    (start, (first, end))
}

/// One tap's row of the `Exact` layout: for each image and output row, the input row it reads,
/// with zeros where the tap is in the padding.
fn unfold_exact(g: &Geometry, x: &[f32], channel: usize, tap: [usize; 2], out: &mut [f32]) {
    let (start, (first, end)) = exact_reads(g, channel, tap);
    for (index, out) in out.chunks_exact_mut(g.ow).enumerate() {
        let Some(start) = start(index) else {
            out.fill(0.0);
            continue;
        };
        out[..first].fill(0.0);
        out[end..].fill(0.0);
        for (o, value) in out[first..end].iter_mut().zip(x[start.min(x.len())..].iter().step_by(g.stride[1])) {
            *o = *value;
        }
    }
}

/// The adjoint of [`unfold`]: sums the column entries read from each input pixel of `group`'s
/// channels into `dx` (the chunk's input gradient, all channels), writing every value of those
/// channels. `padded` is scratch for `Wide`; the groups must be folded in order, the first one first.
pub(super) fn fold(
    g: &Geometry,
    layout: Layout,
    group: usize,
    col: &[f32],
    images: usize,
    padded: &mut [f32],
    dx: &mut [MaybeUninit<f32>],
) {
    let span = layout.span(g);
    let total = images * span;
    let cg = g.group_in();
    let plane_in = g.h * g.w;
    let Layout::Wide { width, plane } = layout else {
        // The sums start from zeros: all of them while folding the first group (groups are
        // folded in order).
        if group == 0 {
            dx.fill(MaybeUninit::new(0.0));
        }
        // SAFETY: every value was initialised above, on this call or the first group's.
        let dx = unsafe { &mut *(dx as *mut [MaybeUninit<f32>] as *mut [f32]) };
        for (row, channel, i, j) in taps(g, group) {
            fold_exact(g, &col[row * total..][..total], channel, [i, j], dx);
        }
        return;
    };
    // The group's channels of every image, padded; then the inside of each plane goes to `dx`.
    let padded = &mut padded[..images * cg * plane];
    padded.fill(0.0);
    for (row, channel, i, j) in taps(g, group) {
        let shift = i * g.dilation[0] * width + j * g.dilation[1];
        for (image, values) in col[row * total..][..total].chunks_exact(span).enumerate() {
            let dst = &mut padded[(image * cg + channel - group * cg) * plane + shift..][..span];
            dst.iter_mut().zip(values).for_each(|(d, v)| *d += v);
        }
    }
    let [top, left] = g.padding;
    for image in 0..images {
        for c in 0..cg {
            let from = &padded[(image * cg + c) * plane..];
            let to = &mut dx[(image * g.c_in + group * cg + c) * plane_in..];
            for y in 0..g.h {
                let from = &from[(top + y) * width + left..][..g.w];
                to[y * g.w..][..g.w].iter_mut().zip(from).for_each(|(d, v)| _ = d.write(*v));
            }
        }
    }
}

fn fold_exact(g: &Geometry, col: &[f32], channel: usize, tap: [usize; 2], dx: &mut [f32]) {
    let (start, (first, end)) = exact_reads(g, channel, tap);
    for (index, values) in col.chunks_exact(g.ow).enumerate() {
        let Some(start) = start(index) else { continue };
        for (x, value) in values[first..end].iter().enumerate() {
            dx[start + x * g.stride[1]] += value;
        }
    }
}

/// Copies the output gradient of `group`'s channels into `[group_out, images * span]`, with zeros
/// in the columns no output keeps.
pub(super) fn gather(g: &Geometry, layout: Layout, group: usize, dy: &[f32], images: usize, out: &mut [f32]) {
    let (row, og, pixels) = (layout.row(g), g.group_out(), g.pixels());
    for (index, out) in out.chunks_exact_mut(row).enumerate() {
        let (plane, oy) = (index / g.oh, index % g.oh);
        let (o, image) = (plane / images, plane % images);
        out[..g.ow].copy_from_slice(&dy[(image * g.c_out + group * og + o) * pixels + oy * g.ow..][..g.ow]);
        out[g.ow..].fill(0.0);
    }
}

/// The adjoint of [`gather`] for the forward pass: writes the kept columns of `result`
/// (`[group_out, images * span]`) into the chunk's output, plus each channel's bias.
pub(super) fn scatter(
    g: &Geometry,
    layout: Layout,
    group: usize,
    result: &[f32],
    bias: Option<&[f32]>,
    images: usize,
    y: &mut [MaybeUninit<f32>],
) {
    let (row, og, pixels) = (layout.row(g), g.group_out(), g.pixels());
    for (index, values) in result.chunks_exact(row).enumerate() {
        let (plane, oy) = (index / g.oh, index % g.oh);
        let (o, image) = (plane / images, plane % images);
        let channel = group * og + o;
        let add = bias.map_or(0.0, |b| b[channel]);
        let out = &mut y[(image * g.c_out + channel) * pixels + oy * g.ow..][..g.ow];
        out.iter_mut().zip(&values[..g.ow]).for_each(|(d, v)| _ = d.write(v + add));
    }
}
