//! A learner's own picture as the networks see Fashion-MNIST: one grey channel, the item light on
//! a dark ground, square, at the run's size, normalised like the data set.

use image::imageops::{self, FilterType};
use image::{DynamicImage, GrayImage, Luma};

use crate::{PIXEL_MEAN, PIXEL_STD};

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConvertError {
    #[error("the image has no pixels, or fewer than its size says")]
    Empty,
}

/// A picture from a page's canvas (`width * height` RGBA pixels, as `getImageData` gives them: a
/// drawing, or a file the browser decoded), converted as [`convert`] does. Files are decoded by
/// the browser, not here: it reads more formats, and the trainer's wasm carries no decoders.
pub fn from_rgba(width: u32, height: u32, rgba: Vec<u8>, size: usize) -> Result<Vec<f32>, ConvertError> {
    let image = image::RgbaImage::from_raw(width, height, rgba).ok_or(ConvertError::Empty)?;
    convert(&DynamicImage::ImageRgba8(image), size)
}

/// `image` as a network trained on Fashion-MNIST takes it, `size * size` values row by row: its
/// luma; set on a square of its own background (so that nothing is stretched); inverted where that
/// background is light (the data set's items are light on black); resized as the data set is
/// (bilinear); normalised with the data set's mean and deviation.
pub fn convert(image: &DynamicImage, size: usize) -> Result<Vec<f32>, ConvertError> {
    let grey = image.to_luma8();
    let (width, height) = grey.dimensions();
    if width == 0 || height == 0 {
        return Err(ConvertError::Empty);
    }
    let background = border_mean(&grey);
    let side = width.max(height);
    let mut square = GrayImage::from_pixel(side, side, Luma([background]));
    imageops::replace(&mut square, &grey, i64::from((side - width) / 2), i64::from((side - height) / 2));
    if background > 127 {
        imageops::invert(&mut square);
    }
    let resized = imageops::resize(&square, size as u32, size as u32, FilterType::Triangle);
    Ok(resized.pixels().map(|p| (f32::from(p.0[0]) / 255.0 - PIXEL_MEAN) / PIXEL_STD).collect())
}

/// The mean of the pixels on the image's edge: what a photo of one item has around it.
fn border_mean(grey: &GrayImage) -> u8 {
    let (width, height) = grey.dimensions();
    let edge = grey.enumerate_pixels().filter(|(x, y, _)| *x == 0 || *y == 0 || *x == width - 1 || *y == height - 1);
    let (sum, count) = edge.fold((0u64, 0u64), |(s, n), (_, _, p)| (s + u64::from(p.0[0]), n + 1));
    (sum / count.max(1)) as u8
}

#[cfg(test)]
mod tests {
    use image::{Rgb, RgbImage};

    use super::*;

    const BLACK: f32 = -PIXEL_MEAN / PIXEL_STD;
    const WHITE: f32 = (1.0 - PIXEL_MEAN) / PIXEL_STD;

    /// 100x60 in colour: a `ground` background with a 40x40 square of `item` in its middle.
    fn picture(ground: [u8; 3], item: [u8; 3]) -> DynamicImage {
        let mut image = RgbImage::from_pixel(100, 60, Rgb(ground));
        for (x, y, pixel) in image.enumerate_pixels_mut() {
            if (30..70).contains(&x) && (10..50).contains(&y) {
                *pixel = Rgb(item);
            }
        }
        DynamicImage::ImageRgb8(image)
    }

    #[test]
    fn a_3_channel_100x60_image_becomes_a_square_normalised_grey_tensor() {
        let values = convert(&picture([0, 0, 0], [255, 255, 255]), 25).unwrap();
        assert_eq!(values.len(), 25 * 25);
        // On a 100x100 square (20 rows of background above and below), the item covers pixels
        // 30..70 both ways: rows and columns 7.5..17.5 of 25.
        let at = |x: usize, y: usize| values[y * 25 + x];
        assert_eq!((at(0, 0), at(24, 24), at(12, 3)), (BLACK, BLACK, BLACK));
        assert_eq!((at(12, 12), at(9, 9), at(15, 15)), (WHITE, WHITE, WHITE));
        assert!(at(7, 12) > BLACK && at(7, 12) < WHITE, "the item's edge is in between: {}", at(7, 12));
    }

    #[test]
    fn a_dark_item_on_a_light_ground_is_inverted_like_the_data_set() {
        let photo = convert(&picture([250, 250, 250], [5, 5, 5]), 28).unwrap();
        let data_like = convert(&picture([5, 5, 5], [250, 250, 250]), 28).unwrap();
        assert_eq!(photo, data_like);
    }

    #[test]
    fn canvas_pixels_convert_like_the_image_they_hold() {
        let image = picture([255, 255, 255], [0, 0, 0]);
        let rgba = image.to_rgba8();
        let (width, height) = rgba.dimensions();
        assert_eq!(from_rgba(width, height, rgba.into_raw(), 28).unwrap(), convert(&image, 28).unwrap());
        assert_eq!(from_rgba(10, 10, vec![0; 40], 28), Err(ConvertError::Empty));
    }
}
