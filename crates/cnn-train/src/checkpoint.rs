//! A run saved after an epoch, to resume exactly where it stopped: the settings, the epochs so
//! far, the model's weights (batch norm's running statistics included) and the optimiser's state
//! (momentum, Adam's moments). The schedule's position, the data order and the augmentation are
//! functions of the settings and the epoch, so the epoch is all a checkpoint needs of them.
//!
//! The file is three sections, each a little-endian u64 length and its bytes, after a magic tag:
//! the settings and epochs as JSON, then the weights and the optimiser's state as burn's burnpack
//! (`ModuleRecord::into_bytes`, `ModuleOptimizer::into_bytes`). By hand, because burnpack holds
//! tensors only, and the two records are two burnpacks.
//!
//! A trailer ends the file: [`CHECKSUM_TAG`] and the CRC32C of every byte before it (as
//! TensorFlow's checkpoint bundles keep per tensor), so that a damaged file is refused with a
//! sentence instead of training on corrupted weights. Files written before it (2026-12-07) end
//! after the optimiser's state; they still load, marked as not verified.

use burn::prelude::*;
use burn::store::ModuleRecord;
use burn::tensor::Bytes;
use cnn_models::{InputSpec, Model};
use serde::{Deserialize, Serialize};

use crate::{EpochStats, TrainError, TrainSpec};

const MAGIC: &[u8; 8] = b"CNNCKPT1";

/// What precedes the checksum at the end of a checkpoint.
const CHECKSUM_TAG: &[u8; 8] = b"CRC32C\0\0";

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CheckpointError {
    #[error(
        "this is not a checkpoint of the CNN playground (it does not start with {:?})",
        String::from_utf8_lossy(MAGIC)
    )]
    NotACheckpoint,
    #[error("the checkpoint is cut short in its {0}")]
    Truncated(&'static str),
    #[error(
        "the checkpoint is damaged: its contents do not match the checksum written with them (a changed or lost byte); use another copy"
    )]
    Damaged,
    #[error("the checkpoint has {0} bytes after its last section that are not its checksum: it is damaged")]
    Trailing(usize),
    #[error(
        "the checkpoint's run used its first {used_train} training and {used_test} test images, and resumes with them, not {train} and {test}"
    )]
    Images { used_train: usize, used_test: usize, train: usize, test: usize },
    #[error("the checkpoint's settings cannot be read: {0}")]
    Settings(String),
    #[error("the checkpoint's weights do not fit this model: {0}")]
    Weights(String),
    #[error("the checkpoint's optimiser state cannot be read: {0}")]
    Optimizer(String),
    #[error("the checkpoint was made with other settings ({0} differ); resume it with its own settings")]
    Mismatch(String),
    #[error("the checkpoint has trained all {0} epochs already; ask for more epochs to go on")]
    Finished(usize),
    /// Where checkpoints are kept (the browser's storage) could not give it back.
    #[error("the stored checkpoint could not be read: {0}")]
    Stored(String),
}

/// What a checkpoint holds besides its tensors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Header {
    spec: TrainSpec,
    epoch: usize,
    history: Vec<EpochStats>,
    /// Absent from checkpoints written before it was kept.
    #[serde(default)]
    images: Option<(usize, usize)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    pub spec: TrainSpec,
    /// Epochs trained; a resumed run starts with the next.
    pub epoch: usize,
    /// Each trained epoch's figures, so that a resumed run's curve starts where it was.
    pub history: Vec<EpochStats>,
    /// How many training and test images the run used (the first ones of each split).
    pub images: Option<(usize, usize)>,
    pub(crate) weights: Vec<u8>,
    pub(crate) optimizer: Vec<u8>,
    /// Whether it was read from bytes that ended in a checksum, which matched (bytes whose
    /// checksum does not match are refused). False for a file written before checksums, and for
    /// a checkpoint a run made and never wrote.
    pub verified: bool,
}

impl Checkpoint {
    pub fn to_bytes(&self) -> Vec<u8> {
        let header =
            Header { spec: self.spec.clone(), epoch: self.epoch, history: self.history.clone(), images: self.images };
        // Settings and figures always serialize: plain numbers, strings and enums.
        let header = serde_json::to_vec(&header).unwrap_or_default();
        let mut out = Vec::with_capacity(MAGIC.len() + 24 + header.len() + self.weights.len() + self.optimizer.len());
        out.extend_from_slice(MAGIC);
        for section in [&header, &self.weights, &self.optimizer] {
            out.extend_from_slice(&(section.len() as u64).to_le_bytes());
            out.extend_from_slice(section);
        }
        let checksum = crc32c::crc32c(&out);
        out.extend_from_slice(CHECKSUM_TAG);
        out.extend_from_slice(&checksum.to_le_bytes());
        out
    }

    /// The checkpoint in `bytes`, verified against its checksum where it has one.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CheckpointError> {
        let rest = bytes.strip_prefix(MAGIC.as_slice()).ok_or(CheckpointError::NotACheckpoint)?;
        let (rest, verified) = match verified(bytes) {
            Some(Ok(sections)) => (&sections[MAGIC.len()..], true),
            Some(Err(damaged)) => return Err(damaged),
            None => (rest, false),
        };
        let (header, rest) = section(rest, "settings")?;
        let (weights, rest) = section(rest, "weights")?;
        let (optimizer, rest) = section(rest, "optimiser state")?;
        if !rest.is_empty() {
            return Err(CheckpointError::Trailing(rest.len()));
        }
        let header: Header = serde_json::from_slice(header).map_err(|e| CheckpointError::Settings(e.to_string()))?;
        Ok(Checkpoint {
            spec: header.spec,
            epoch: header.epoch,
            history: header.history,
            images: header.images,
            weights: weights.to_vec(),
            optimizer: optimizer.to_vec(),
            verified,
        })
    }

    /// Whether the run resumed from here uses the images its run used (where the checkpoint
    /// says which: `images`, training and test).
    pub fn check_images(&self, (train, test): (usize, usize)) -> Result<(), CheckpointError> {
        match self.images {
            Some((used_train, used_test)) if (used_train, used_test) != (train, test) => {
                Err(CheckpointError::Images { used_train, used_test, train, test })
            }
            _ => Ok(()),
        }
    }

    /// The checkpoint's model on `device`, with its weights.
    pub fn model(&self, device: &Device) -> Result<Model, TrainError> {
        let model = self.spec.model.init(InputSpec::fashion_mnist(self.spec.image_size), device)?;
        Ok(load_weights(model, &self.weights)?)
    }

    /// Whether a run of `spec` may continue from here: the same settings, but perhaps more epochs.
    pub fn check_resumes(&self, spec: &TrainSpec) -> Result<(), CheckpointError> {
        let same = TrainSpec { epochs: spec.epochs, ..self.spec.clone() };
        if same != *spec {
            let (ours, theirs) = (serde_json::to_value(spec), serde_json::to_value(&self.spec));
            let differ = match (ours, theirs) {
                (Ok(serde_json::Value::Object(a)), Ok(serde_json::Value::Object(b))) => {
                    a.iter().filter(|(k, v)| *k != "epochs" && b.get(*k) != Some(v)).map(|(k, _)| k.clone()).collect()
                }
                _ => Vec::new(),
            };
            return Err(CheckpointError::Mismatch(differ.join(", ")));
        }
        if self.epoch >= spec.epochs {
            return Err(CheckpointError::Finished(self.epoch));
        }
        Ok(())
    }
}

/// The bytes before a checkpoint's checksum, where it ends in one that matches them; an error
/// where it ends in one that does not; `None` where it has none (written before checksums).
fn verified(bytes: &[u8]) -> Option<Result<&[u8], CheckpointError>> {
    let (sections, trailer) = bytes.split_at_checked(bytes.len().checked_sub(CHECKSUM_TAG.len() + 4)?)?;
    let (tag, checksum) = trailer.split_at(CHECKSUM_TAG.len());
    if tag != CHECKSUM_TAG || sections.len() < MAGIC.len() {
        return None;
    }
    let checksum = u32::from_le_bytes(checksum.try_into().ok()?);
    Some(if crc32c::crc32c(sections) == checksum { Ok(sections) } else { Err(CheckpointError::Damaged) })
}

/// `model` with the weights of a burnpack record; a record of another model gets a sentence.
pub(crate) fn load_weights(model: Model, weights: &[u8]) -> Result<Model, CheckpointError> {
    let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(weights.to_vec()))
        .map_err(|e| CheckpointError::Weights(e.to_string()))?;
    model.try_load_record(record).map_err(|e| CheckpointError::Weights(e.to_string()))
}

fn section<'a>(bytes: &'a [u8], what: &'static str) -> Result<(&'a [u8], &'a [u8]), CheckpointError> {
    let (len, rest) = bytes.split_first_chunk::<8>().ok_or(CheckpointError::Truncated(what))?;
    let len = usize::try_from(u64::from_le_bytes(*len)).map_err(|_| CheckpointError::Truncated(what))?;
    if rest.len() < len {
        return Err(CheckpointError::Truncated(what));
    }
    Ok(rest.split_at(len))
}

#[cfg(test)]
mod tests {
    use cnn_models::ModelSpec;

    use super::*;

    fn checkpoint() -> Checkpoint {
        let spec = TrainSpec { epochs: 3, ..TrainSpec::new(ModelSpec::preset("resnet-small").unwrap(), 28) };
        let (history, images) = (Vec::new(), Some((640, 64)));
        Checkpoint { spec, epoch: 1, history, images, weights: vec![1, 2, 3], optimizer: vec![4, 5], verified: false }
    }

    #[test]
    fn bytes_round_trip_and_bad_bytes_get_a_sentence() {
        let ck = checkpoint();
        let bytes = ck.to_bytes();
        assert_eq!(Checkpoint::from_bytes(&bytes).unwrap(), Checkpoint { verified: true, ..ck.clone() });
        assert_eq!(Checkpoint::from_bytes(b"PK\x03\x04 a zip file").unwrap_err(), CheckpointError::NotACheckpoint);
        let cut = Checkpoint::from_bytes(&bytes[..bytes.len() - 1]).unwrap_err();
        assert_eq!(cut, CheckpointError::Trailing(11));
        let cut = Checkpoint::from_bytes(&bytes[..bytes.len() - 13]).unwrap_err();
        assert_eq!(cut.to_string(), "the checkpoint is cut short in its optimiser state");
    }

    /// Every byte changed, one at a time, is caught: by the magic tag, the sections' lengths or
    /// the checksum.
    #[test]
    fn a_changed_byte_anywhere_is_refused() {
        let bytes = checkpoint().to_bytes();
        for at in 0..bytes.len() {
            let mut damaged = bytes.clone();
            damaged[at] ^= 0x10;
            let error = Checkpoint::from_bytes(&damaged).expect_err("a damaged checkpoint is refused");
            let sections = MAGIC.len()..bytes.len() - CHECKSUM_TAG.len() - 4;
            if sections.contains(&at) || at + 4 >= bytes.len() {
                assert_eq!(error, CheckpointError::Damaged, "byte {at}");
            }
        }
    }

    /// A checkpoint written before checksums loads, marked as not verified.
    #[test]
    fn a_checkpoint_without_a_checksum_loads_unverified() {
        let ck = checkpoint();
        let bytes = ck.to_bytes();
        let old = &bytes[..bytes.len() - CHECKSUM_TAG.len() - 4];
        assert_eq!(Checkpoint::from_bytes(old).unwrap(), ck);
    }

    #[test]
    fn a_run_resumes_on_the_images_it_used() {
        let ck = checkpoint();
        assert!(ck.check_images((640, 64)).is_ok());
        assert_eq!(
            ck.check_images((60_000, 64)).unwrap_err().to_string(),
            "the checkpoint's run used its first 640 training and 64 test images, and resumes with them, not 60000 and 64"
        );
        assert!(Checkpoint { images: None, ..ck }.check_images((60_000, 10_000)).is_ok());
    }

    #[test]
    fn only_more_epochs_may_differ_when_resuming() {
        let ck = checkpoint();
        assert!(ck.check_resumes(&TrainSpec { epochs: 5, ..ck.spec.clone() }).is_ok());
        let other = TrainSpec { learning_rate: 0.1, batch_size: 64, ..ck.spec.clone() };
        assert_eq!(
            ck.check_resumes(&other).unwrap_err().to_string(),
            "the checkpoint was made with other settings (batch_size, learning_rate differ); resume it with its own settings"
        );
        let done = TrainSpec { epochs: 1, ..ck.spec.clone() };
        assert_eq!(ck.check_resumes(&done).unwrap_err(), CheckpointError::Finished(1));
    }

    /// A real checkpoint of a tiny network (its weights and SGD's momentum as burnpacks), with the
    /// CPU backend.
    fn tiny() -> Checkpoint {
        use crate::{BackendKind, Optimizer, Trainer};
        let cpu = pollster::block_on(crate::OpenedDevice::open(BackendKind::Cpu)).unwrap();
        let model = cnn_models::VggSpec { arch: vec![(1, 2)], head_width: 4, dropout: 0.0 };
        let optimizer = Optimizer::Sgd { momentum: 0.9, nesterov: false };
        let spec = TrainSpec { optimizer, ..TrainSpec::new(ModelSpec::Vgg(model), 8) };
        let (weights, optimizer) = pollster::block_on(Trainer::new(&spec, &cpu.device).unwrap().save_state()).unwrap();
        Checkpoint { spec, epoch: 0, history: vec![], images: None, weights, optimizer, verified: false }
    }

    use proptest::prelude::*;
    use proptest::sample::Index;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 128, ..Default::default() })]

        /// Any change to a checkpoint (bytes replaced, inserted or cut) is refused with a sentence
        /// when it carries its checksum; without one (as before checksums), what still parses loads
        /// into its model and trainer or gets a sentence; never a panic.
        #[test]
        fn a_changed_checkpoint_is_refused_or_loads_never_panics(
            edits in prop::collection::vec((any::<Index>(), any::<u8>()), 1..6),
            insert in prop::option::weighted(0.3, (any::<Index>(), prop::collection::vec(any::<u8>(), 1..16))),
            cut in prop::option::weighted(0.2, any::<Index>()),
        ) {
            use std::sync::OnceLock;
            static TINY: OnceLock<Vec<u8>> = OnceLock::new();
            let bytes = TINY.get_or_init(|| tiny().to_bytes());
            let legacy = &bytes[..bytes.len() - CHECKSUM_TAG.len() - 4];
            for (source, checked) in [(bytes.as_slice(), true), (legacy, false)] {
                let mut changed = source.to_vec();
                for (at, byte) in &edits {
                    let at = at.index(changed.len());
                    changed[at] = *byte;
                }
                if let Some((at, extra)) = &insert {
                    let at = at.index(changed.len());
                    changed.splice(at..at, extra.iter().copied());
                }
                if let Some(at) = cut {
                    changed.truncate(at.index(changed.len()));
                }
                if changed == source {
                    continue;
                }
                match Checkpoint::from_bytes(&changed) {
                    Ok(ck) => {
                        prop_assert!(!checked || !ck.verified, "a changed checkpoint passed its checksum");
                        // Settings edited into a large network are a fair input, but not one to
                        // allocate gigabytes for here.
                        let input = cnn_models::InputSpec::fashion_mnist(ck.spec.image_size);
                        let small = ck.spec.model.analyze(input).is_ok_and(|a| a.totals().params() < 100_000);
                        let cpu = pollster::block_on(crate::OpenedDevice::open(crate::BackendKind::Cpu)).unwrap();
                        if let Some(Ok(mut trainer)) = small.then(|| crate::Trainer::new(&ck.spec, &cpu.device))
                            && let Err(e) = trainer.load_state(&ck.weights, &ck.optimizer)
                        {
                            prop_assert!(!e.to_string().is_empty());
                        }
                    }
                    Err(e) => prop_assert!(!e.to_string().is_empty()),
                }
            }
        }
    }
}
