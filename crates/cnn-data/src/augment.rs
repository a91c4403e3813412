use rand::{Rng, SeedableRng, rngs::StdRng};
use serde::{Deserialize, Serialize};

use crate::{Batch, PIXEL_MEAN, PIXEL_STD};

/// Random changes to training images, as torchvision's `RandomCrop(size, padding)` and
/// `RandomHorizontalFlip()` make them: each image is padded with black on every side, a window of
/// its own size is cut at a random offset, and half the images are mirrored. Test images are never
/// augmented. The default changes nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Augment {
    /// Pixels of black added on each side before the crop; 0 for no crop.
    pub crop_padding: usize,
    /// Mirror each image left to right with probability 1/2.
    pub flip: bool,
}

impl Augment {
    pub fn is_none(&self) -> bool {
        self.crop_padding == 0 && !self.flip
    }

    /// Augments every image of `batch` in place. The same `seed` gives the same images on every
    /// platform; labels and shapes do not change.
    pub fn apply(&self, batch: &mut Batch, seed: u64) {
        if self.is_none() {
            return;
        }
        let mut rng = StdRng::seed_from_u64(seed);
        let size = batch.size;
        let black = -PIXEL_MEAN / PIXEL_STD;
        let pad = self.crop_padding as i32;
        let mut out = vec![0.0f32; size * size];
        for image in batch.images.chunks_exact_mut(size * size) {
            // Offsets in [-pad, pad]: where the window's corner lands in the unpadded image.
            let dy = rng.random_range(-pad..=pad) as isize;
            let dx = rng.random_range(-pad..=pad) as isize;
            let flip = self.flip && rng.random_bool(0.5);
            for y in 0..size {
                for x in 0..size {
                    let sy = y as isize + dy;
                    let cx = if flip { size - 1 - x } else { x };
                    let sx = cx as isize + dx;
                    let inside = (0..size as isize).contains(&sy) && (0..size as isize).contains(&sx);
                    out[y * size + x] = if inside { image[sy as usize * size + sx as usize] } else { black };
                }
            }
            image.copy_from_slice(&out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch() -> Batch {
        // Two 4x4 images with distinct pixels, so every move shows.
        Batch { images: (0..32).map(|v| v as f32).collect(), labels: vec![3, 7], size: 4 }
    }

    #[test]
    fn the_default_changes_nothing() {
        let mut b = batch();
        Augment::default().apply(&mut b, 1);
        assert_eq!(b, batch());
    }

    #[test]
    fn augmentation_is_seeded_and_keeps_labels_and_shapes() {
        let augment = Augment { crop_padding: 2, flip: true };
        let (mut a, mut b, mut c) = (batch(), batch(), batch());
        augment.apply(&mut a, 5);
        augment.apply(&mut b, 5);
        assert_eq!(a, b);
        // Some seed among a few must move the pixels differently.
        assert!((6..16).any(|seed| {
            c = batch();
            augment.apply(&mut c, seed);
            c != a
        }));
        assert_eq!((a.labels.clone(), a.images.len(), a.size), (vec![3, 7], 32, 4));
    }

    #[test]
    fn a_flip_mirrors_rows_and_a_crop_shifts_in_black() {
        let black = -PIXEL_MEAN / PIXEL_STD;
        // Flip only: every image is either itself or its mirror, and some seed mirrors the first.
        let flip = Augment { crop_padding: 0, flip: true };
        let mirrored: Vec<f32> = (0..4).flat_map(|y| (0..4).rev().map(move |x| (y * 4 + x) as f32)).collect();
        let mut seen_mirror = false;
        for seed in 0..20 {
            let mut b = batch();
            flip.apply(&mut b, seed);
            let first = &b.images[..16];
            assert!(first == &batch().images[..16] || first == mirrored.as_slice(), "{first:?}");
            seen_mirror |= first == mirrored.as_slice();
        }
        assert!(seen_mirror);
        // Crop only: each output pixel is the source pixel at one fixed offset, or black outside.
        let crop = Augment { crop_padding: 1, flip: false };
        for seed in 0..20 {
            let mut b = batch();
            crop.apply(&mut b, seed);
            let offsets: Vec<(isize, isize)> = (-1..=1).flat_map(|dy| (-1..=1).map(move |dx| (dy, dx))).collect();
            let fits = offsets.iter().any(|&(dy, dx)| {
                (0..16).all(|i| {
                    let (y, x) = (i as isize / 4 + dy, i as isize % 4 + dx);
                    let inside = (0..4).contains(&y) && (0..4).contains(&x);
                    b.images[i as usize] == if inside { (y * 4 + x) as f32 } else { black }
                })
            });
            assert!(fits, "seed {seed}: {:?}", &b.images[..16]);
        }
    }
}
