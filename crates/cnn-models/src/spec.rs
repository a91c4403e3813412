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

/// VGG as in d2l: each `arch` tuple `(num_convs, channels)` is that many 3x3 convolutions
/// (padding 1, ReLU) and a 2x2 max-pool; then two `head_width` linear layers with dropout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VggSpec {
    pub arch: Vec<(usize, usize)>,
    pub head_width: usize,
    pub dropout: f64,
}

/// ResNet as in d2l: a 7x7/2 stem with batch norm and a 3x3/2 max-pool, then stages of
/// `(num_residuals, channels)`; every stage but the first halves the map in its first block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResNetSpec {
    pub stem_channels: usize,
    pub stages: Vec<(usize, usize)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ModelSpec {
    Vgg(VggSpec),
    #[serde(rename = "resnet")]
    ResNet(ResNetSpec),
}

/// Named presets: (name, what it is).
pub const PRESETS: [(&str, &str); 4] = [
    ("vgg-small", "VGG with d2l's width ratio 4, for 56 or 84 pixels"),
    ("resnet-small", "ResNet-18's layout with widths 16..128, for 56 or 84 pixels"),
    ("vgg11", "VGG-11 (configuration A), for 224 pixels"),
    ("resnet18", "ResNet-18, for 96 or 224 pixels"),
];

impl ModelSpec {
    pub fn preset(name: &str) -> Option<Self> {
        let vgg =
            |arch: &[(usize, usize)]| ModelSpec::Vgg(VggSpec { arch: arch.to_vec(), head_width: 4096, dropout: 0.5 });
        let resnet = |stem, stages: &[(usize, usize)]| {
            ModelSpec::ResNet(ResNetSpec { stem_channels: stem, stages: stages.to_vec() })
        };
        Some(match name {
            "vgg-small" => vgg(&[(1, 16), (1, 32), (2, 64), (2, 128), (2, 128)]),
            "resnet-small" => resnet(16, &[(2, 16), (2, 32), (2, 64), (2, 128)]),
            "vgg11" => vgg(&[(1, 64), (1, 128), (2, 256), (2, 512), (2, 512)]),
            "resnet18" => resnet(64, &[(2, 64), (2, 128), (2, 256), (2, 512)]),
            _ => return None,
        })
    }
}
