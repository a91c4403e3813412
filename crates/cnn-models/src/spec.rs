//! The architectures of d2l's "Modern CNNs" chapter as data. Each family keeps the knobs the
//! chapter and its exercises turn; [`crate::graph`] lowers any of them to one layer graph.

use serde::{Deserialize, Serialize};

/// What the network sees: `channels x size x size` images of one of `classes` classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputSpec {
    pub channels: usize,
    pub size: usize,
    pub classes: usize,
}

impl InputSpec {
    pub fn fashion_mnist(size: usize) -> Self {
        Self { channels: 1, size, classes: 10 }
    }
}

/// One convolution of AlexNet's feature extractor, with the 3x3/2 max-pool that may follow it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlexConv {
    pub channels: usize,
    pub kernel: usize,
    pub stride: usize,
    pub padding: usize,
    pub pool: bool,
}

/// AlexNet as in d2l: ReLU convolutions (some followed by a 3x3/2 max-pool), then ReLU linear
/// layers of `head` widths with dropout, then the classifier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlexNetSpec {
    pub convs: Vec<AlexConv>,
    pub head: Vec<usize>,
    pub dropout: f64,
}

/// VGG as in d2l: each `arch` tuple `(num_convs, channels)` is that many 3x3 convolutions
/// (padding 1, ReLU) and a 2x2 max-pool; then two `head_width` linear layers with dropout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VggSpec {
    pub arch: Vec<(usize, usize)>,
    pub head_width: usize,
    pub dropout: f64,
}

/// NiN as in d2l: each `(channels, kernel, stride, padding)` block is a convolution and two 1x1
/// convolutions (all ReLU) followed by a 3x3/2 max-pool; then dropout, a last block with one
/// channel per class and a global average pool instead of linear layers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NinSpec {
    pub blocks: Vec<(usize, usize, usize, usize)>,
    pub dropout: f64,
}

/// One Inception block's output channels per branch, as d2l writes them:
/// `(c1, (c2 reduce, c2), (c3 reduce, c3), c4)` for the 1x1, 3x3, 5x5 and pool branches.
pub type Inception = (usize, (usize, usize), (usize, usize), usize);

/// GoogLeNet as in d2l: a 7x7/2 convolution and a 1x1 + 3x3 convolution pair (`stem` widths),
/// each followed by a 3x3/2 max-pool; then stages of Inception blocks, a 3x3/2 max-pool after
/// every stage but the last, which ends in a global average pool and the classifier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GoogLeNetSpec {
    pub stem: (usize, usize),
    pub stages: Vec<Vec<Inception>>,
}

/// The block a ResNet stage repeats.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResBlock {
    /// d2l's `Residual`: two 3x3 convolutions with batch norm.
    #[default]
    Basic,
    /// d2l's `ResNeXtBlock`: 1x1 down to `channels * bottleneck`, a grouped 3x3 with
    /// `group_width` channels per group, 1x1 back up; all with batch norm.
    #[serde(rename = "resnext")]
    ResNeXt { group_width: usize, bottleneck: f64 },
}

/// ResNet as in d2l: a 7x7/2 stem with batch norm and a 3x3/2 max-pool, then stages of
/// `(num_blocks, channels)`; every stage but the first halves the map in its first block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResNetSpec {
    pub stem_channels: usize,
    pub stages: Vec<(usize, usize)>,
    #[serde(default)]
    pub block: ResBlock,
}

/// DenseNet as in d2l: the ResNet stem, dense blocks of `arch[i]` BN-ReLU-3x3 convolutions that
/// each add `growth_rate` channels, a transition (BN-ReLU-1x1 halving the channels, 2x2 average
/// pool) between blocks, then BN-ReLU, a global average pool and the classifier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DenseNetSpec {
    pub stem_channels: usize,
    pub growth_rate: usize,
    pub arch: Vec<usize>,
}

/// Which block an AnyNet stage repeats: d2l's ResNeXt block (the design space), or the plain
/// residual block (the exercise), which ignores groups and bottleneck.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnyBlock {
    #[default]
    #[serde(rename = "resnext")]
    ResNeXt,
    Residual,
}

/// AnyNet as in d2l: a 3x3/2 convolution stem with batch norm, then stages of
/// `(depth, channels, group width, bottleneck multiplier)` whose first block halves the map
/// (with a 1x1 shortcut), then a global average pool and the classifier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnyNetSpec {
    pub stem_channels: usize,
    pub stages: Vec<(usize, usize, usize, f64)>,
    #[serde(default)]
    pub block: AnyBlock,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ModelSpec {
    #[serde(rename = "alexnet")]
    AlexNet(AlexNetSpec),
    Vgg(VggSpec),
    Nin(NinSpec),
    #[serde(rename = "googlenet")]
    GoogLeNet(GoogLeNetSpec),
    #[serde(rename = "resnet")]
    ResNet(ResNetSpec),
    #[serde(rename = "densenet")]
    DenseNet(DenseNetSpec),
    #[serde(rename = "anynet")]
    AnyNet(AnyNetSpec),
}

impl ModelSpec {
    /// The family's name as the chapter writes it.
    pub fn family(&self) -> &'static str {
        match self {
            ModelSpec::AlexNet(_) => "AlexNet",
            ModelSpec::Vgg(_) => "VGG",
            ModelSpec::Nin(_) => "NiN",
            ModelSpec::GoogLeNet(_) => "GoogLeNet",
            ModelSpec::ResNet(_) => "ResNet",
            ModelSpec::DenseNet(_) => "DenseNet",
            ModelSpec::AnyNet(_) => "AnyNet",
        }
    }
}
