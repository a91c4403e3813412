//! Dropout's mask from a counter-based hash, so that every thread draws its own chunk of the same
//! mask: value `i` depends only on the seed and `i`, not on which thread drew it or when.

use super::elementwise::from_index;

/// SplitMix64's output function: 64 well-mixed bits from a counter.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// `len` values, each `1 / keep` with probability `keep` (to 2^-32) and 0 otherwise.
pub fn mask(len: usize, keep: f64, seed: u64) -> Vec<f32> {
    let threshold = (keep.clamp(0.0, 1.0) * 4_294_967_296.0).round() as u64;
    let scale = (1.0 / keep) as f32;
    from_index(len, |i| {
        let bits = mix(seed.wrapping_add((i as u64).wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15)));
        if bits >> 32 < threshold { scale } else { 0.0 }
    })
}
