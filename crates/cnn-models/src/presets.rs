//! Named specs: the networks of d2l's "Modern CNNs" chapter and its exercises.

use crate::spec::*;

pub struct Preset {
    pub name: &'static str,
    pub about: &'static str,
    /// The input size the chapter trains it at (d2l resizes Fashion-MNIST to it).
    pub size: usize,
    /// The learning rate the chapter trains it with (plain SGD, batch 128, 10 epochs).
    pub d2l_lr: f64,
    spec: fn() -> ModelSpec,
}

impl Preset {
    pub fn spec(&self) -> ModelSpec {
        (self.spec)()
    }
}

/// Simonyan and Zisserman, Table 1: configurations A (VGG-11), B (13), D (16) and E (19).
const VGG11: [(usize, usize); 5] = [(1, 64), (1, 128), (2, 256), (2, 512), (2, 512)];
const VGG13: [(usize, usize); 5] = [(2, 64), (2, 128), (2, 256), (2, 512), (2, 512)];
const VGG16: [(usize, usize); 5] = [(2, 64), (2, 128), (3, 256), (3, 512), (3, 512)];
const VGG19: [(usize, usize); 5] = [(2, 64), (2, 128), (4, 256), (4, 512), (4, 512)];

/// d2l trains VGG with every width divided by a ratio of 4 and the 4096-wide head kept.
fn vgg(arch: [(usize, usize); 5], ratio: usize) -> ModelSpec {
    let arch = arch.iter().map(|&(n, c)| (n, c / ratio)).collect();
    ModelSpec::Vgg(VggSpec { arch, head_width: 4096, dropout: 0.5 })
}

fn resnet(stem_channels: usize, stages: &[(usize, usize)]) -> ModelSpec {
    ModelSpec::ResNet(ResNetSpec { stem_channels, stages: stages.to_vec(), block: ResBlock::Basic })
}

fn anynet(stages: &[(usize, usize, usize, f64)], block: AnyBlock) -> ModelSpec {
    ModelSpec::AnyNet(AnyNetSpec { stem_channels: 32, stages: stages.to_vec(), block })
}

/// d2l's RegNetX-32: depths (4, 6), widths (32, 80), group width 16, bottleneck 1.
const REGNETX32: [(usize, usize, usize, f64); 2] = [(4, 32, 16, 1.0), (6, 80, 16, 1.0)];

fn alexnet() -> ModelSpec {
    let c = |channels, kernel, stride, padding, pool| AlexConv { channels, kernel, stride, padding, pool };
    ModelSpec::AlexNet(AlexNetSpec {
        convs: vec![
            c(96, 11, 4, 1, true),
            c(256, 5, 1, 2, true),
            c(384, 3, 1, 1, false),
            c(384, 3, 1, 1, false),
            c(256, 3, 1, 1, true),
        ],
        head: vec![4096, 4096],
        dropout: 0.5,
    })
}

fn googlenet() -> ModelSpec {
    ModelSpec::GoogLeNet(GoogLeNetSpec {
        stem: (64, 192),
        stages: vec![
            vec![(64, (96, 128), (16, 32), 32), (128, (128, 192), (32, 96), 64)],
            vec![
                (192, (96, 208), (16, 48), 64),
                (160, (112, 224), (24, 64), 64),
                (128, (128, 256), (24, 64), 64),
                (112, (144, 288), (32, 64), 64),
                (256, (160, 320), (32, 128), 128),
            ],
            vec![(256, (160, 320), (32, 128), 128), (384, (192, 384), (48, 128), 128)],
        ],
    })
}

macro_rules! preset {
    ($name:literal, $size:literal, $lr:literal, $about:literal, $spec:expr) => {
        Preset { name: $name, about: $about, size: $size, d2l_lr: $lr, spec: || $spec }
    };
}

pub static PRESETS: &[Preset] = &[
    preset!("alexnet", 224, 0.01, "AlexNet as in d2l (one GPU's worth of the original)", alexnet()),
    preset!("vgg11", 224, 0.05, "VGG-11, configuration A", vgg(VGG11, 1)),
    preset!("vgg13", 224, 0.05, "VGG-13, configuration B", vgg(VGG13, 1)),
    preset!("vgg16", 224, 0.05, "VGG-16, configuration D", vgg(VGG16, 1)),
    preset!("vgg19", 224, 0.05, "VGG-19, configuration E", vgg(VGG19, 1)),
    preset!("vgg11-r4", 224, 0.05, "VGG-11 with widths divided by 4, as d2l trains it", vgg(VGG11, 4)),
    preset!("vgg13-r4", 224, 0.05, "VGG-13 with widths divided by 4", vgg(VGG13, 4)),
    preset!("vgg16-r4", 224, 0.05, "VGG-16 with widths divided by 4", vgg(VGG16, 4)),
    preset!("vgg19-r4", 224, 0.05, "VGG-19 with widths divided by 4", vgg(VGG19, 4)),
    preset!(
        "nin",
        224,
        0.1,
        "Network in Network as in d2l",
        ModelSpec::Nin(NinSpec { blocks: vec![(96, 11, 4, 0), (256, 5, 1, 2), (384, 3, 1, 1)], dropout: 0.5 })
    ),
    preset!("googlenet", 96, 0.1, "GoogLeNet (Inception v1) with d2l's channel table", googlenet()),
    preset!("resnet18", 96, 0.05, "ResNet-18", resnet(64, &[(2, 64), (2, 128), (2, 256), (2, 512)])),
    preset!("resnet34", 96, 0.05, "ResNet-34", resnet(64, &[(3, 64), (4, 128), (6, 256), (3, 512)])),
    preset!(
        "resnet-small",
        56,
        0.05,
        "ResNet-18's layout with widths 16..128",
        resnet(16, &[(2, 16), (2, 32), (2, 64), (2, 128)])
    ),
    preset!(
        "densenet",
        96,
        0.1,
        "DenseNet as in d2l: four dense blocks of 4 convolutions, growth rate 32",
        ModelSpec::DenseNet(DenseNetSpec { stem_channels: 64, growth_rate: 32, arch: vec![4, 4, 4, 4] })
    ),
    preset!(
        "regnetx32",
        96,
        0.05,
        "d2l's RegNetX-32 from the AnyNet design space",
        anynet(&REGNETX32, AnyBlock::ResNeXt)
    ),
    preset!(
        "anynet-4stage",
        96,
        0.05,
        "Exercise: a RegNetX with four stages (depths and widths growing)",
        anynet(&[(1, 32, 16, 1.0), (2, 64, 16, 1.0), (4, 128, 16, 1.0), (2, 256, 16, 1.0)], AnyBlock::ResNeXt)
    ),
    preset!(
        "anynet-resnet",
        96,
        0.05,
        "Exercise: RegNetX-32 with ResNet blocks instead of ResNeXt",
        anynet(&REGNETX32, AnyBlock::Residual)
    ),
    preset!(
        "vionet-narrowing",
        96,
        0.05,
        "Exercise: VioNet whose widths shrink from stage to stage",
        anynet(&[(4, 80, 16, 1.0), (6, 32, 16, 1.0)], AnyBlock::ResNeXt)
    ),
    preset!(
        "vionet-shallowing",
        96,
        0.05,
        "Exercise: VioNet whose depths shrink from stage to stage",
        anynet(&[(6, 32, 16, 1.0), (4, 80, 16, 1.0)], AnyBlock::ResNeXt)
    ),
    preset!(
        "vionet-unshared",
        96,
        0.05,
        "Exercise: VioNet with a different group width and bottleneck in each stage",
        anynet(&[(4, 32, 8, 0.5), (6, 80, 16, 1.0)], AnyBlock::ResNeXt)
    ),
];

impl Preset {
    pub fn find(name: &str) -> Option<&'static Preset> {
        PRESETS.iter().find(|p| p.name == name)
    }

    /// The preset whose layers `spec` has, if any (an edited spec is the learner's own).
    pub fn of(spec: &ModelSpec) -> Option<&'static Preset> {
        PRESETS.iter().find(|p| p.spec() == *spec)
    }
}

impl ModelSpec {
    pub fn preset(name: &str) -> Option<Self> {
        Preset::find(name).map(Preset::spec)
    }
}

/// The preset names, for error messages and help.
pub fn preset_names() -> String {
    PRESETS.iter().map(|p| p.name).collect::<Vec<_>>().join(", ")
}
