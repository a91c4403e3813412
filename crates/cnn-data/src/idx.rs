//! Reader for the IDX format (LeCun's MNIST layout), gzipped.
//!
//! Written by hand: the format is a 4-byte magic, big-endian dimension sizes and raw bytes, and
//! the crates that read it either download the files themselves or do not build for wasm.

use std::io::Read;

use flate2::read::GzDecoder;

pub const IMAGES_MAGIC: u32 = 0x0000_0803;
pub const LABELS_MAGIC: u32 = 0x0000_0801;

#[derive(Debug, thiserror::Error)]
pub enum IdxError {
    #[error("{file} is not a gzip file (it should start with the bytes 1f 8b)")]
    NotGzip { file: String },
    #[error("{file} could not be decompressed: {reason}")]
    BadGzip { file: String, reason: String },
    #[error("{file} has magic number {found:#010x}, expected {expected:#010x}")]
    BadMagic { file: String, expected: u32, found: u32 },
    #[error("{file} is truncated: it holds {found} bytes but its header promises {expected}")]
    Truncated { file: String, expected: usize, found: usize },
    #[error("{file} promises or holds more than {max} bytes, more than any Fashion-MNIST file (47 MB)")]
    TooLarge { file: String, max: usize },
}

/// The most bytes a file may decompress to or promise: Fashion-MNIST's largest holds 47 MB, and
/// a small gzip can expand to gigabytes.
pub const MAX_BYTES: usize = 256 << 20;

/// Images as stored: `count` images of `rows x cols` bytes, row-major, 0 = background.
#[derive(Debug, Clone, PartialEq)]
pub struct IdxImages {
    pub count: usize,
    pub rows: usize,
    pub cols: usize,
    pub pixels: Vec<u8>,
}

impl IdxImages {
    pub fn image(&self, index: usize) -> &[u8] {
        let len = self.rows * self.cols;
        &self.pixels[index * len..(index + 1) * len]
    }
}

pub fn gunzip(file: &str, gz: &[u8]) -> Result<Vec<u8>, IdxError> {
    if gz.len() < 2 || gz[0] != 0x1f || gz[1] != 0x8b {
        return Err(IdxError::NotGzip { file: file.into() });
    }
    let mut raw = Vec::with_capacity(gz.len().saturating_mul(2).min(MAX_BYTES));
    GzDecoder::new(gz)
        .take(MAX_BYTES as u64 + 1)
        .read_to_end(&mut raw)
        .map_err(|e| IdxError::BadGzip { file: file.into(), reason: e.to_string() })?;
    if raw.len() > MAX_BYTES {
        return Err(IdxError::TooLarge { file: file.into(), max: MAX_BYTES });
    }
    Ok(raw)
}

/// Checks the magic and the byte count, returning the dimension sizes and the payload.
fn parse<'a>(file: &str, raw: &'a [u8], magic: u32, dims: usize) -> Result<(Vec<usize>, &'a [u8]), IdxError> {
    let header = 4 + 4 * dims;
    let truncated = |expected| IdxError::Truncated { file: file.into(), expected, found: raw.len() };
    if raw.len() < 4 {
        return Err(truncated(header));
    }
    let found = u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]);
    if found != magic {
        return Err(IdxError::BadMagic { file: file.into(), expected: magic, found });
    }
    if raw.len() < header {
        return Err(truncated(header));
    }
    let sizes: Vec<usize> = (0..dims)
        .map(|d| {
            let at = 4 + 4 * d;
            u32::from_be_bytes([raw[at], raw[at + 1], raw[at + 2], raw[at + 3]]) as usize
        })
        .collect();
    // Checked: three u32 sizes overflow any usize, and a wrapped product would pass the test below.
    let payload = sizes.iter().try_fold(1usize, |n, &size| n.checked_mul(size));
    let expected = payload.and_then(|payload| payload.checked_add(header)).filter(|&n| n <= MAX_BYTES);
    let expected = expected.ok_or_else(|| IdxError::TooLarge { file: file.into(), max: MAX_BYTES })?;
    if raw.len() < expected {
        return Err(truncated(expected));
    }
    Ok((sizes, &raw[header..expected]))
}

pub fn parse_images(file: &str, gz: &[u8]) -> Result<IdxImages, IdxError> {
    let raw = gunzip(file, gz)?;
    let (sizes, payload) = parse(file, &raw, IMAGES_MAGIC, 3)?;
    Ok(IdxImages { count: sizes[0], rows: sizes[1], cols: sizes[2], pixels: payload.to_vec() })
}

pub fn parse_labels(file: &str, gz: &[u8]) -> Result<Vec<u8>, IdxError> {
    let raw = gunzip(file, gz)?;
    let (_, payload) = parse(file, &raw, LABELS_MAGIC, 1)?;
    Ok(payload.to_vec())
}

#[cfg(test)]
pub(crate) mod tests {
    use std::io::Write;

    use flate2::{Compression, write::GzEncoder};

    use super::*;

    pub(crate) fn gz(raw: &[u8]) -> Vec<u8> {
        let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
        enc.write_all(raw).unwrap();
        enc.finish().unwrap()
    }

    pub(crate) fn images_file(count: u32, side: u32) -> Vec<u8> {
        let mut raw = IMAGES_MAGIC.to_be_bytes().to_vec();
        for v in [count, side, side] {
            raw.extend(v.to_be_bytes());
        }
        raw.extend((0..count * side * side).map(|i| i as u8));
        raw
    }

    pub(crate) fn labels_file(labels: &[u8]) -> Vec<u8> {
        let mut raw = LABELS_MAGIC.to_be_bytes().to_vec();
        raw.extend((labels.len() as u32).to_be_bytes());
        raw.extend(labels);
        raw
    }

    #[test]
    fn reads_a_small_image_file() {
        let images = parse_images("x", &gz(&images_file(2, 3))).unwrap();
        assert_eq!((images.count, images.rows, images.cols), (2, 3, 3));
        assert_eq!(images.image(1), &[9, 10, 11, 12, 13, 14, 15, 16, 17]);
    }

    #[test]
    fn wrong_magic_is_named() {
        let err = parse_images("t10k-labels", &gz(&labels_file(&[1, 2]))).unwrap_err();
        assert!(matches!(err, IdxError::BadMagic { expected: 0x803, found: 0x801, .. }), "{err}");
        assert_eq!(err.to_string(), "t10k-labels has magic number 0x00000801, expected 0x00000803");
    }

    #[test]
    fn truncated_payload_is_reported_with_sizes() {
        let mut raw = images_file(2, 3);
        raw.truncate(raw.len() - 5);
        let err = parse_images("f", &gz(&raw)).unwrap_err();
        assert!(matches!(err, IdxError::Truncated { expected: 34, found: 29, .. }), "{err}");
    }

    #[test]
    fn truncated_header_is_reported() {
        let err = parse_labels("f", &gz(&LABELS_MAGIC.to_be_bytes()[..3])).unwrap_err();
        assert!(matches!(err, IdxError::Truncated { .. }), "{err}");
    }

    #[test]
    fn plain_bytes_are_not_gzip() {
        let err = parse_labels("labels", &labels_file(&[1])).unwrap_err();
        assert!(matches!(err, IdxError::NotGzip { .. }), "{err}");
    }

    #[test]
    fn a_cut_gzip_stream_is_bad_gzip() {
        let mut file = gz(&images_file(4, 8));
        file.truncate(file.len() / 2);
        let err = parse_images("f", &file).unwrap_err();
        assert!(matches!(err, IdxError::BadGzip { .. }), "{err}");
    }

    #[test]
    fn a_header_promising_more_than_any_file_is_refused() {
        let mut raw = IMAGES_MAGIC.to_be_bytes().to_vec();
        for v in [u32::MAX; 3] {
            raw.extend(v.to_be_bytes());
        }
        let err = parse_images("huge", &gz(&raw)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "huge promises or holds more than 268435456 bytes, more than any Fashion-MNIST file (47 MB)"
        );
        // A gzip of 256 MB of zeros is a few MB: refused once it passes 256 MB, not read to the end.
        let bomb = gz(&vec![0; MAX_BYTES + 1]);
        assert!(bomb.len() < MAX_BYTES / 64, "{}", bomb.len());
        assert!(matches!(parse_labels("bomb", &bomb).unwrap_err(), IdxError::TooLarge { .. }));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 256, ..Default::default() })]

        /// Any bytes, gzipped or not, and any change to a good file's header or payload: an image
        /// set whose every image can be read, or a sentence; never a panic.
        #[test]
        fn any_bytes_give_images_or_a_sentence(
            raw in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64),
            edits in proptest::collection::vec((0usize..64, proptest::prelude::any::<u8>()), 0..4),
            zipped in proptest::prelude::any::<bool>(),
        ) {
            let mut file = images_file(2, 3);
            file.extend(&raw);
            for (at, byte) in edits {
                let at = at % file.len();
                file[at] = byte;
            }
            let bytes = if zipped { gz(&file) } else { file };
            match parse_images("f", &bytes) {
                Ok(images) => {
                    for i in 0..images.count {
                        proptest::prop_assert_eq!(images.image(i).len(), images.rows * images.cols);
                    }
                }
                Err(e) => proptest::prop_assert!(e.to_string().starts_with("f ")),
            }
            if let Err(e) = parse_labels("f", &bytes) {
                proptest::prop_assert!(e.to_string().starts_with("f "));
            }
        }
    }
}
