use image::{GrayImage, imageops::FilterType};
use rand::{SeedableRng, rngs::StdRng, seq::SliceRandom};

use crate::Dataset;

/// Mean and standard deviation of Fashion-MNIST training pixels scaled to [0, 1].
pub const PIXEL_MEAN: f32 = 0.2860;
pub const PIXEL_STD: f32 = 0.3530;

/// One batch, ready to become tensors: `images` is `[len, 1, size, size]` row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    pub images: Vec<f32>,
    pub labels: Vec<i64>,
    pub size: usize,
}

impl Batch {
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
}

/// How a dataset is cut into batches: the order is a seeded shuffle that changes every epoch
/// but is the same on every run and every platform with the same seed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchPlan {
    pub batch_size: usize,
    pub image_size: usize,
    pub seed: u64,
}

impl BatchPlan {
    pub fn shuffled(&self, len: usize, epoch: usize) -> Vec<usize> {
        let mut order: Vec<usize> = (0..len).collect();
        let mut rng = StdRng::seed_from_u64(self.seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        order.shuffle(&mut rng);
        order
    }

    /// Index chunks for one pass; the last batch may be short.
    pub fn chunks(&self, order: &[usize]) -> Vec<Vec<usize>> {
        order.chunks(self.batch_size.max(1)).map(<[usize]>::to_vec).collect()
    }

    /// The images at `indices`, resized (unless `data` is at the plan's size already, see
    /// [`Dataset::resized`]) and normalised.
    pub fn batch(&self, data: &Dataset, indices: &[usize]) -> Batch {
        let size = self.image_size;
        let normalised: [f32; 256] = std::array::from_fn(|p| (p as f32 / 255.0 - PIXEL_MEAN) / PIXEL_STD);
        let mut images = Vec::with_capacity(indices.len() * size * size);
        for &i in indices {
            let raw = data.images.image(i);
            if (data.images.rows, data.images.cols) == (size, size) {
                images.extend(raw.iter().map(|&p| normalised[usize::from(p)]));
            } else {
                let resized = resize(raw, data.images.cols as u32, data.images.rows as u32, size as u32);
                images.extend(resized.iter().map(|&p| normalised[usize::from(p)]));
            }
        }
        let labels = indices.iter().map(|&i| i64::from(data.labels[i])).collect();
        Batch { images, labels, size }
    }
}

impl Dataset {
    /// Every image resized once to `size` x `size`, so that batches only copy and normalise:
    /// resizing each batch again cost a share of every training step. `None` where the copy would
    /// take more than `budget` bytes (60,000 images at 224 px are 3 GB); batches then resize
    /// as they go.
    pub fn resized(&self, size: usize, budget: usize) -> Option<Dataset> {
        let (rows, cols) = (self.images.rows, self.images.cols);
        let bytes = self.len().checked_mul(size)?.checked_mul(size)?;
        if bytes > budget {
            return None;
        }
        let mut pixels = Vec::with_capacity(bytes);
        for i in 0..self.len() {
            pixels.extend(resize(self.images.image(i), cols as u32, rows as u32, size as u32));
        }
        let images = crate::IdxImages { count: self.len(), rows: size, cols: size, pixels };
        Some(Dataset { images, labels: self.labels.clone() })
    }
}

/// Bilinear resizing, as d2l's `transforms.Resize` does for Fashion-MNIST.
fn resize(raw: &[u8], width: u32, height: u32, size: u32) -> Vec<u8> {
    if (width, height) == (size, size) {
        return raw.to_vec();
    }
    let Some(img) = GrayImage::from_raw(width, height, raw.to_vec()) else {
        unreachable!("IdxImages::image returns exactly rows*cols bytes")
    };
    image::imageops::resize(&img, size, size, FilterType::Triangle).into_raw()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shuffle_is_seeded_and_changes_per_epoch() {
        let plan = BatchPlan { batch_size: 4, image_size: 28, seed: 7 };
        assert_eq!(plan.shuffled(100, 0), plan.shuffled(100, 0));
        assert_ne!(plan.shuffled(100, 0), plan.shuffled(100, 1));
        let mut sorted = plan.shuffled(100, 3);
        sorted.sort_unstable();
        assert_eq!(sorted, (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn chunks_keep_a_short_last_batch() {
        let plan = BatchPlan { batch_size: 4, image_size: 28, seed: 0 };
        let sizes: Vec<usize> = plan.chunks(&(0..10).collect::<Vec<_>>()).iter().map(Vec::len).collect();
        assert_eq!(sizes, [4, 4, 2]);
    }

    #[test]
    fn bilinear_upscale_keeps_flat_images_flat_and_interpolates_edges() {
        assert_eq!(resize(&[200; 4], 2, 2, 4), vec![200; 16]);
        let up = resize(&[0, 255, 0, 255], 2, 2, 4);
        // Columns go 0 -> 255 left to right, with in-between values in the middle columns.
        assert_eq!(up[0], 0);
        assert_eq!(up[3], 255);
        assert!(up[1] > 0 && up[1] < up[2] && up[2] < 255, "{up:?}");
    }

    #[test]
    fn batches_from_a_resized_copy_equal_batches_resized_on_the_way() {
        let pixels: Vec<u8> = (0..3 * 784).map(|i| (i * 7 % 256) as u8).collect();
        let images = crate::IdxImages { count: 3, rows: 28, cols: 28, pixels };
        let data = Dataset { images, labels: vec![4, 5, 6] };
        let plan = BatchPlan { batch_size: 2, image_size: 40, seed: 0 };
        let resized = data.resized(40, 3 * 40 * 40).expect("fits the budget exactly");
        assert_eq!((resized.images.rows, resized.images.pixels.len()), (40, 3 * 1600));
        assert_eq!(plan.batch(&resized, &[2, 0]), plan.batch(&data, &[2, 0]));
        assert!(data.resized(40, 3 * 40 * 40 - 1).is_none());
    }
}
