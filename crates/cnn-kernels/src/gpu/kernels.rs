//! The moves around the convolutions' products, one thread per value written: unfolding a chunk
//! of images into columns, NCHW to and from channel-major rows, and the fold of the input
//! gradient. All read and write contiguous f32 buffers, and bound their threads by the sizes they
//! are given, not by a buffer's length (a pooled buffer may be longer than its tensor).

use burn_cubecl::cubecl;
use burn_cubecl::cubecl::prelude::*;
use burn_cubecl::tensor::CubeTensor;

use super::{empty, grid};
use crate::cpu::Geometry;

/// Values along an output row that one thread of the unfold writes: their index
/// arithmetic (integer divisions, which a software adapter runs one lane at a time) is paid once
/// per span, and neighbouring threads still write neighbouring spans. 1 to 16 on SwiftShader,
/// `resnet-small` at 56 px, batch 32: the unfold's time 8.1, 3.1 (4), 2.2 (8), 1.8 s (16);
/// 8 values are one 32-byte sector of a real GPU's memory.
const SPAN: usize = 8;

/// A convolution's sizes for one chunk of `images` images starting at image `first`.
#[derive(CubeLaunch, CubeType)]
struct Conv {
    c_in: usize,
    h: usize,
    w: usize,
    kh: usize,
    kw: usize,
    stride_h: usize,
    stride_w: usize,
    pad_h: usize,
    pad_w: usize,
    dilation_h: usize,
    dilation_w: usize,
    oh: usize,
    ow: usize,
    first: usize,
    images: usize,
}

fn conv_args(g: &Geometry, first: usize, images: usize) -> ConvLaunch {
    ConvLaunch::new(
        g.c_in,
        g.h,
        g.w,
        g.kernel[0],
        g.kernel[1],
        g.stride[0],
        g.stride[1],
        g.padding[0],
        g.padding[1],
        g.dilation[0],
        g.dilation[1],
        g.oh,
        g.ow,
        first,
        images,
    )
}

/// `columns [c_in * kh * kw, images, oh * ow]`: row `(c, i, j)` holds, for each output pixel of
/// each image, the input under tap `(i, j)` of channel `c`, or 0 in the padding.
///
/// Each thread writes [`SPAN`] neighbouring pixels of one output row.
// As `fold_kernel`'s `%`: CubeCL's macro does not know `div_ceil`.
#[allow(clippy::manual_div_ceil)]
#[cube(launch_unchecked)]
fn unfold_kernel(input: &[f32], columns: &mut [f32], g: &Conv) {
    let spans = (g.ow + SPAN - 1) / SPAN;
    if ABSOLUTE_POS >= g.c_in * g.kh * g.kw * g.images * g.oh * spans {
        terminate!();
    }
    let left = (ABSOLUTE_POS % spans) * SPAN;
    let rest = ABSOLUTE_POS / spans;
    let oy = rest % g.oh;
    let rest = rest / g.oh;
    let image = rest % g.images;
    let row = rest / g.images;
    let j = row % g.kw;
    let i = (row / g.kw) % g.kh;
    let channel = row / (g.kw * g.kh);
    // In padded coordinates, so that nothing goes below zero.
    let y = oy * g.stride_h + i * g.dilation_h;
    let inside = y >= g.pad_h && y < g.pad_h + g.h;
    let plane = (g.first + image) * g.c_in + channel;
    let source = select(inside, (plane * g.h + y - g.pad_h) * g.w, 0);
    let target = ((row * g.images + image) * g.oh + oy) * g.ow;
    let end = select(left + SPAN < g.ow, left + SPAN, g.ow);
    for ox in left..end {
        let x = ox * g.stride_w + j * g.dilation_w;
        let mut value = f32::new(0.0);
        if inside && x >= g.pad_w && x < g.pad_w + g.w {
            value = input[source + x - g.pad_w];
        }
        columns[target + ox] = value;
    }
}

/// The input gradient of one chunk's images from its columns' gradient: each input value sums
/// the column entries of the taps that read it, in a fixed order.
// CubeCL's macro turns `%` into the kernel's own remainder; `is_multiple_of` is a Rust call it
// does not know.
#[allow(clippy::manual_is_multiple_of)]
#[cube(launch_unchecked)]
fn fold_kernel(columns: &[f32], dx: &mut [f32], g: &Conv) {
    let plane = g.h * g.w;
    if ABSOLUTE_POS >= g.images * g.c_in * plane {
        terminate!();
    }
    let x = ABSOLUTE_POS % g.w + g.pad_w;
    let y = (ABSOLUTE_POS / g.w) % g.h + g.pad_h;
    let channel = (ABSOLUTE_POS / plane) % g.c_in;
    let image = ABSOLUTE_POS / (plane * g.c_in);
    let pixels = g.oh * g.ow;
    let width = g.images * pixels;
    let mut sum = f32::new(0.0);
    for i in 0..g.kh {
        let top = i * g.dilation_h;
        if y >= top && (y - top) % g.stride_h == 0 && (y - top) / g.stride_h < g.oh {
            let oy = (y - top) / g.stride_h;
            for j in 0..g.kw {
                let left = j * g.dilation_w;
                if x >= left && (x - left) % g.stride_w == 0 && (x - left) / g.stride_w < g.ow {
                    let ox = (x - left) / g.stride_w;
                    let row = (channel * g.kh + i) * g.kw + j;
                    sum += columns[row * width + image * pixels + oy * g.ow + ox];
                }
            }
        }
    }
    dx[(g.first * g.c_in) * plane + ABSOLUTE_POS] = sum;
}

/// `[batch, channels, pixels]` images `first..first + images` to `[channels, images, pixels]`.
#[cube(launch_unchecked)]
fn to_channels_kernel(images: &[f32], rows: &mut [f32], channels: usize, pixels: usize, first: usize, count: usize) {
    if ABSOLUTE_POS >= channels * count * pixels {
        terminate!();
    }
    let pixel = ABSOLUTE_POS % pixels;
    let image = (ABSOLUTE_POS / pixels) % count;
    let channel = ABSOLUTE_POS / (pixels * count);
    rows[ABSOLUTE_POS] = images[((first + image) * channels + channel) * pixels + pixel];
}

/// `[channels, images, pixels]` into images `first..first + images` of `[batch, channels, pixels]`.
#[cube(launch_unchecked)]
fn to_images_kernel(rows: &[f32], images: &mut [f32], channels: usize, pixels: usize, first: usize, count: usize) {
    if ABSOLUTE_POS >= channels * count * pixels {
        terminate!();
    }
    let pixel = ABSOLUTE_POS % pixels;
    let image = (ABSOLUTE_POS / pixels) % count;
    let channel = ABSOLUTE_POS / (pixels * count);
    images[((first + image) * channels + channel) * pixels + pixel] = rows[ABSOLUTE_POS];
}

/// The columns of images `first..first + images` of the contiguous input `x`.
pub(super) fn unfold(g: &Geometry, x: &CubeTensor, first: usize, images: usize) -> CubeTensor {
    let rows = g.c_in * g.kernel[0] * g.kernel[1];
    let columns = empty(x, [rows, images * g.oh * g.ow]);
    let (count, dim) = grid(x, rows * images * g.oh * g.ow.div_ceil(SPAN));
    // Safety: every index is checked against the buffers' lengths or derived from the geometry
    // that sized them.
    unsafe {
        unfold_kernel::launch_unchecked(
            &x.client,
            count,
            dim,
            x.clone().into_buffer_arg(),
            columns.clone().into_buffer_arg(),
            conv_args(g, first, images),
        )
    };
    columns
}

/// Writes the input gradient of images `first..first + images` into the contiguous `dx`.
pub(super) fn fold(g: &Geometry, columns: &CubeTensor, dx: &CubeTensor, first: usize, images: usize) {
    let (count, dim) = grid(dx, images * g.c_in * g.h * g.w);
    // Safety: as in `unfold`.
    unsafe {
        fold_kernel::launch_unchecked(
            &dx.client,
            count,
            dim,
            columns.clone().into_buffer_arg(),
            dx.clone().into_buffer_arg(),
            conv_args(g, first, images),
        )
    };
}

/// Images `first..first + images` of the contiguous `[batch, channels, pixels...]` tensor as
/// `[channels, images * pixels]` rows.
pub(super) fn to_channels(x: &CubeTensor, channels: usize, pixels: usize, first: usize, images: usize) -> CubeTensor {
    let rows = empty(x, [channels, images * pixels]);
    let (count, dim) = grid(x, channels * images * pixels);
    // Safety: as in `unfold`.
    unsafe {
        to_channels_kernel::launch_unchecked(
            &x.client,
            count,
            dim,
            x.clone().into_buffer_arg(),
            rows.clone().into_buffer_arg(),
            channels,
            pixels,
            first,
            images,
        )
    };
    rows
}

/// Writes contiguous `[channels, images * pixels]` rows into images `first..first + images` of
/// the contiguous `out`.
pub(super) fn to_images(
    rows: &CubeTensor,
    out: &CubeTensor,
    channels: usize,
    pixels: usize,
    first: usize,
    images: usize,
) {
    let rows = burn_cubecl::kernel::into_contiguous(rows.clone());
    let (count, dim) = grid(out, channels * images * pixels);
    // Safety: as in `unfold`.
    unsafe {
        to_images_kernel::launch_unchecked(
            &out.client,
            count,
            dim,
            rows.into_buffer_arg(),
            out.clone().into_buffer_arg(),
            channels,
            pixels,
            first,
            images,
        )
    };
}
