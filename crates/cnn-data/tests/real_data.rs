//! Facts about the real Fashion-MNIST files (Debian's `dataset-fashion-mnist`), from NOTES.md.
//! `bash dev/setup.sh` puts them in `public/data/fashion-mnist/`; these tests fail without them.

use std::path::PathBuf;

use cnn_data::{BatchPlan, Dataset, Split};

fn data_dir() -> PathBuf {
    std::env::var_os("FASHION_MNIST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../public/data/fashion-mnist"))
}

fn load(split: Split) -> Dataset {
    Dataset::load_dir(&data_dir(), split).unwrap_or_else(|e| panic!("{e} (run `bash dev/setup.sh`)"))
}

fn class_counts(data: &Dataset) -> [usize; 10] {
    let mut counts = [0; 10];
    data.labels.iter().for_each(|&l| counts[usize::from(l)] += 1);
    counts
}

#[test]
fn train_split_matches_the_published_facts() {
    let train = load(Split::Train);
    assert_eq!((train.images.count, train.images.rows, train.images.cols), (60_000, 28, 28));
    assert_eq!(train.labels[..20], [9, 0, 0, 3, 0, 2, 7, 2, 5, 5, 0, 9, 5, 5, 7, 9, 1, 0, 6, 4]);
    assert_eq!(class_counts(&train), [6_000; 10]);
}

#[test]
fn test_split_matches_the_published_facts() {
    let test = load(Split::Test);
    assert_eq!((test.images.count, test.len()), (10_000, 10_000));
    assert_eq!(test.labels[..10], [9, 2, 1, 1, 6, 1, 4, 6, 5, 7]);
    assert_eq!(class_counts(&test), [1_000; 10]);
}

#[test]
fn raw_files_have_the_idx_magics() {
    let dir = data_dir();
    let raw = cnn_data::idx::gunzip("x", &std::fs::read(dir.join(Split::Test.images_file())).unwrap()).unwrap();
    assert_eq!(raw[..4], [0, 0, 8, 3]);
    assert_eq!(raw.len(), 7_840_016);
    let raw = cnn_data::idx::gunzip("x", &std::fs::read(dir.join(Split::Test.labels_file())).unwrap()).unwrap();
    assert_eq!(raw[..4], [0, 0, 8, 1]);
    assert_eq!(raw.len(), 10_008);
}

#[test]
fn batches_are_resized_and_normalised() {
    let test = load(Split::Test).head(64);
    let plan = BatchPlan { batch_size: 16, image_size: 56, seed: 1 };
    let order = plan.shuffled(test.len(), 0);
    let batch = plan.batch(&test, &plan.chunks(&order)[0]);
    assert_eq!((batch.len(), batch.size, batch.images.len()), (16, 56, 16 * 56 * 56));
    let mean = batch.images.iter().sum::<f32>() / batch.images.len() as f32;
    assert!(mean.abs() < 0.5, "normalised pixels should centre near 0, got mean {mean}");
    let background = -cnn_data::PIXEL_MEAN / cnn_data::PIXEL_STD;
    assert!((batch.images[0] - background).abs() < 1e-6, "corner pixel is background");
}
