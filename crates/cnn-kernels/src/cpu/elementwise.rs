//! Element-by-element work in chunks on rayon's pool. burn-flex maps, zips and zeroes on the
//! calling thread: on two cores each such pass left one core idle.

use std::mem::MaybeUninit;

use rayon::prelude::*;

/// Elements per task: enough to outweigh handing it to another thread (the optimisers' passes
/// split their parameters by it too).
pub(crate) const CHUNK: usize = 1 << 14;

/// A vector of `len` values, each chunk of which `fill` writes in full.
fn filled(len: usize, fill: impl Fn(usize, &mut [MaybeUninit<f32>]) + Sync) -> Vec<f32> {
    // SAFETY: the chunks cover the first `len` values, and every caller's `fill` writes each value
    // of its chunk (the loops below run over the chunk itself).
    unsafe {
        written(len, |out| {
            out.par_chunks_mut(CHUNK).enumerate().for_each(|(index, chunk)| fill(index * CHUNK, chunk));
        })
    }
}

/// A vector of `len` values written by `write`, with no zeroing first (a pass over every value
/// that the kernel's own writes make redundant).
///
/// # Safety
/// `write` must initialise every value of the slice it is given.
pub(crate) unsafe fn written(len: usize, write: impl FnOnce(&mut [MaybeUninit<f32>])) -> Vec<f32> {
    let mut out = Vec::with_capacity(len);
    write(&mut out.spare_capacity_mut()[..len]);
    // SAFETY: the caller's `write` initialised the first `len` values.
    unsafe { out.set_len(len) };
    out
}

/// `values` as memory to write. Sound because the kernels only ever store initialised values
/// through it.
pub(crate) fn as_uninit(values: &mut [f32]) -> &mut [MaybeUninit<f32>] {
    // SAFETY: `MaybeUninit<f32>` has `f32`'s layout; nothing writes an uninitialised value back.
    unsafe { &mut *(values as *mut [f32] as *mut [MaybeUninit<f32>]) }
}

/// `len` zeros.
pub fn zeros(len: usize) -> Vec<f32> {
    filled(len, |_, chunk| chunk.fill(MaybeUninit::new(0.0)))
}

/// `f(x)` for each value of `x`.
pub fn map(x: &[f32], f: impl Fn(f32) -> f32 + Sync) -> Vec<f32> {
    filled(x.len(), |first, chunk| {
        for (out, &x) in chunk.iter_mut().zip(&x[first..]) {
            out.write(f(x));
        }
    })
}

/// `f(a, b)` for each pair of values of `a` and `b`, which must be as long.
pub fn zip_map(a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> f32 + Sync) -> Vec<f32> {
    assert_eq!(a.len(), b.len(), "zip_map: operands differ in length");
    filled(a.len(), |first, chunk| {
        for ((out, &a), &b) in chunk.iter_mut().zip(&a[first..]).zip(&b[first..]) {
            out.write(f(a, b));
        }
    })
}

/// `f(i)` for each index `i` below `len`.
pub fn from_index(len: usize, f: impl Fn(usize) -> f32 + Sync) -> Vec<f32> {
    filled(len, |first, chunk| {
        for (i, out) in chunk.iter_mut().enumerate() {
            out.write(f(first + i));
        }
    })
}
