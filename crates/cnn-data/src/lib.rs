//! Fashion-MNIST as plain data, without any tensor backend:
//! - [`idx`]: the gzipped IDX files as Debian ships them, with typed errors for bad files;
//! - [`dataset`]: images and labels together, loaded from bytes (browser) or a folder (native);
//! - [`batch`]: seeded shuffling, bilinear resizing and normalisation into `f32` batches;
//! - [`augment`]: seeded random crops and flips of training batches;
//! - [`convert`]: a learner's own picture, as the networks see the data set.

pub mod augment;
pub mod batch;
pub mod convert;
pub mod dataset;
pub mod idx;

pub use augment::Augment;
pub use batch::{Batch, BatchPlan, PIXEL_MEAN, PIXEL_STD};
pub use dataset::{CLASS_NAMES, DataError, Dataset, Split};
pub use idx::{IdxError, IdxImages};
