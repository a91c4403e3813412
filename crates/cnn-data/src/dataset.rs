use std::path::{Path, PathBuf};

use crate::idx::{self, IdxError, IdxImages};

pub const CLASS_NAMES: [&str; 10] =
    ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    Train,
    Test,
}

impl Split {
    fn prefix(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Test => "t10k",
        }
    }

    pub fn images_file(self) -> String {
        format!("{}-images-idx3-ubyte.gz", self.prefix())
    }

    pub fn labels_file(self) -> String {
        format!("{}-labels-idx1-ubyte.gz", self.prefix())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error(transparent)]
    Idx(#[from] IdxError),
    #[error("cannot read {path}: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("{images} images but {labels} labels: the two files do not belong together")]
    CountMismatch { images: usize, labels: usize },
    #[error("label {label} of image {index} is not one of the {classes} classes")]
    LabelOutOfRange { index: usize, label: u8, classes: usize },
    #[error("the images are {rows}x{cols} pixels, expected 28x28")]
    WrongImageSize { rows: usize, cols: usize },
}

/// Greyscale 28x28 images with their class labels.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub images: IdxImages,
    pub labels: Vec<u8>,
}

impl Dataset {
    pub fn from_gz(split: Split, images_gz: &[u8], labels_gz: &[u8]) -> Result<Self, DataError> {
        let images = idx::parse_images(&split.images_file(), images_gz)?;
        let labels = idx::parse_labels(&split.labels_file(), labels_gz)?;
        if images.count != labels.len() {
            return Err(DataError::CountMismatch { images: images.count, labels: labels.len() });
        }
        if (images.rows, images.cols) != (28, 28) {
            return Err(DataError::WrongImageSize { rows: images.rows, cols: images.cols });
        }
        let classes = CLASS_NAMES.len();
        if let Some((index, &label)) = labels.iter().enumerate().find(|(_, l)| usize::from(**l) >= classes) {
            return Err(DataError::LabelOutOfRange { index, label, classes });
        }
        Ok(Self { images, labels })
    }

    /// Reads the two files of a split from a folder holding Debian's `.gz` files.
    pub fn load_dir(dir: &Path, split: Split) -> Result<Self, DataError> {
        let read = |name: String| {
            let path = dir.join(name);
            std::fs::read(&path).map_err(|e| DataError::Read { reason: e.to_string(), path })
        };
        Self::from_gz(split, &read(split.images_file())?, &read(split.labels_file())?)
    }

    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// A copy of the first `n` examples (all of them when `n` is larger).
    pub fn head(&self, n: usize) -> Self {
        let n = n.min(self.len());
        let pixels = self.images.pixels[..n * self.images.rows * self.images.cols].to_vec();
        Self { images: IdxImages { count: n, pixels, ..self.images }, labels: self.labels[..n].to_vec() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::idx::tests::{gz, images_file, labels_file};

    #[test]
    fn images_and_labels_must_agree_in_count() {
        let err = Dataset::from_gz(Split::Test, &gz(&images_file(3, 28)), &gz(&labels_file(&[1, 2]))).unwrap_err();
        assert_eq!(err.to_string(), "3 images but 2 labels: the two files do not belong together");
    }

    #[test]
    fn labels_beyond_the_ten_classes_are_refused() {
        let err = Dataset::from_gz(Split::Test, &gz(&images_file(2, 28)), &gz(&labels_file(&[1, 12]))).unwrap_err();
        assert!(matches!(err, DataError::LabelOutOfRange { index: 1, label: 12, .. }), "{err}");
    }

    #[test]
    fn a_missing_file_names_its_path() {
        let err = Dataset::load_dir(Path::new("/nonexistent"), Split::Train).unwrap_err();
        assert!(err.to_string().starts_with("cannot read /nonexistent/train-images-idx3-ubyte.gz"), "{err}");
    }

    #[test]
    fn head_keeps_images_and_labels_together() {
        let data = Dataset::from_gz(Split::Test, &gz(&images_file(3, 28)), &gz(&labels_file(&[4, 5, 6]))).unwrap();
        let data = data.head(2);
        assert_eq!((data.len(), data.images.count, data.images.pixels.len()), (2, 2, 2 * 784));
    }
}
