//! How large a spec may make a network. Every number a learner types (or a link carries) is
//! checked against these before anything is built, so that a typo like 100000 channels gets a
//! sentence, not numbers wrapped around `usize` (32 bits in the browser) or a page that hangs.

use crate::SpecError;

/// The most values one layer may hold or output: 4 GiB of f32, all that wasm32 can address. The
/// arithmetic runs in u64 and is checked against it.
pub const MAX_VALUES: u64 = 1 << 30;

/// The most multiply-accumulates a model may take per image: a trillion, 50 times VGG-19's at
/// 224 pixels. A model's parameters and its activation values per image are bounded by
/// [`MAX_VALUES`], as one layer's are: they cannot be more than a browser addresses either.
pub const MAX_MACS: u64 = 1_000_000_000_000;

/// The most convolutional and fully connected layers a model may have: a spec that asks for more
/// (a typo like a block of 1,000,000,000 convolutions) is refused before its graph is built, so
/// that no spec, typed into the page or carried by a link, can keep the tool busy. The chapter's
/// deepest network, DenseNet-264, has 264.
pub const MAX_LAYERS: u64 = 1000;

/// Input limits, for the same reason as [`MAX_VALUES`].
pub const MAX_SIZE: usize = 2048;
pub const MAX_CHANNELS: usize = 4096;

/// `count` as a `usize`, if a layer may hold that many values.
pub(crate) fn fits(layer: &str, what: &'static str, count: u64) -> Result<usize, SpecError> {
    match usize::try_from(count) {
        Ok(n) if count <= MAX_VALUES => Ok(n),
        _ => Err(SpecError::TooLarge { layer: layer.into(), what, count, max: MAX_VALUES }),
    }
}
