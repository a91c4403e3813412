//! One layer graph for every family. The analysis and the burn module are both built from it,
//! so the table the learner reads and the network that trains cannot drift apart; the tests
//! still check one against the other, layer by layer.

use crate::SpecError;
use crate::limits::{MAX_LAYERS, MAX_VALUES};
use crate::spec::*;

/// A named layer; `Group`, `Concat` and `Residual` hold named children.
#[derive(Debug, Clone, PartialEq)]
pub struct Layer {
    pub name: String,
    pub op: Op,
}

/// A layer that computes: what the tables count and the module builds one burn layer for.
#[derive(Debug, Clone, PartialEq)]
pub enum Primitive {
    /// d2l keeps the bias of every convolution, also before batch norm; so do we, to match its counts.
    Conv {
        channels: usize,
        kernel: usize,
        stride: usize,
        padding: usize,
        groups: usize,
    },
    BatchNorm,
    Relu,
    MaxPool {
        kernel: usize,
        stride: usize,
        padding: usize,
    },
    AvgPool {
        kernel: usize,
        stride: usize,
    },
    GlobalAvgPool,
    Flatten,
    Linear {
        features: usize,
    },
    Dropout {
        prob: f64,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Primitive(Primitive),
    Group(Vec<Layer>),
    /// Branches over the same input, concatenated along channels; an empty branch is the input.
    Concat(Vec<Layer>),
    /// `relu(body(x) + shortcut(x))`; an empty shortcut is the identity.
    Residual {
        body: Vec<Layer>,
        shortcut: Vec<Layer>,
    },
}

impl From<Primitive> for Op {
    fn from(primitive: Primitive) -> Self {
        Op::Primitive(primitive)
    }
}

/// What kind of layer a table row is, for code that picks rows; [`Primitive::describe`] is for
/// people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpKind {
    Conv,
    BatchNorm,
    Relu,
    MaxPool,
    AvgPool,
    GlobalAvgPool,
    Flatten,
    Linear,
    Dropout,
    /// A group of layers: no row of its own, but the block summaries' rows.
    Block,
    Concat,
    /// A residual block's sum (and its ReLU).
    Add,
}

impl Primitive {
    pub fn kind(&self) -> OpKind {
        match self {
            Primitive::Conv { .. } => OpKind::Conv,
            Primitive::BatchNorm => OpKind::BatchNorm,
            Primitive::Relu => OpKind::Relu,
            Primitive::MaxPool { .. } => OpKind::MaxPool,
            Primitive::AvgPool { .. } => OpKind::AvgPool,
            Primitive::GlobalAvgPool => OpKind::GlobalAvgPool,
            Primitive::Flatten => OpKind::Flatten,
            Primitive::Linear { .. } => OpKind::Linear,
            Primitive::Dropout { .. } => OpKind::Dropout,
        }
    }

    /// What the layer does, in the chapter's words, for the table's "layer" column.
    pub fn describe(&self) -> String {
        match self {
            Primitive::Conv { channels, kernel, stride, padding, groups } => {
                let stride = if *stride == 1 { String::new() } else { format!("/{stride}") };
                let groups = if *groups == 1 { String::new() } else { format!(", {groups} groups") };
                format!("conv {kernel}x{kernel}{stride} pad {padding}, {channels} channels{groups}")
            }
            Primitive::BatchNorm => "batch norm".into(),
            Primitive::Relu => "ReLU".into(),
            Primitive::MaxPool { kernel, stride, padding } => {
                format!("max-pool {kernel}x{kernel}/{stride} pad {padding}")
            }
            Primitive::AvgPool { kernel, stride } => format!("avg-pool {kernel}x{kernel}/{stride}"),
            Primitive::GlobalAvgPool => "global avg-pool".into(),
            Primitive::Flatten => "flatten".into(),
            Primitive::Linear { features } => format!("linear, {features} features"),
            Primitive::Dropout { prob } => format!("dropout {prob}"),
        }
    }
}

fn layer(name: impl Into<String>, op: impl Into<Op>) -> Layer {
    Layer { name: name.into(), op: op.into() }
}

fn conv(name: impl Into<String>, channels: usize, kernel: usize, stride: usize, padding: usize) -> Layer {
    layer(name, Primitive::Conv { channels, kernel, stride, padding, groups: 1 })
}

fn relu() -> Layer {
    layer("relu", Primitive::Relu)
}

fn bn() -> Layer {
    layer("bn", Primitive::BatchNorm)
}

fn max_pool(kernel: usize, stride: usize, padding: usize) -> Layer {
    layer("max-pool", Primitive::MaxPool { kernel, stride, padding })
}

fn group(name: impl Into<String>, layers: Vec<Layer>) -> Layer {
    layer(name, Op::Group(layers))
}

/// Global average pool, flatten, and the classifier.
fn pooled_head(classes: usize, before: Vec<Layer>) -> Layer {
    let mut head = before;
    head.extend([
        layer("global avg-pool", Primitive::GlobalAvgPool),
        layer("flatten", Primitive::Flatten),
        layer("output", Primitive::Linear { features: classes }),
    ]);
    group("head", head)
}

fn non_empty<T>(items: &[T], what: &'static str) -> Result<(), SpecError> {
    if items.is_empty() { Err(SpecError::Empty(what)) } else { Ok(()) }
}

fn positive(value: usize, layer: &str, what: &'static str) -> Result<(), SpecError> {
    if value == 0 { Err(SpecError::Zero { layer: layer.into(), what }) } else { Ok(()) }
}

impl ModelSpec {
    /// The layer graph for `classes` outputs. Fails on what the graph cannot express (a block
    /// with no layers, a group width that does not divide a bottleneck); shapes are checked later.
    pub fn graph(&self, classes: usize) -> Result<Vec<Layer>, SpecError> {
        let layers = self.weighted_layers();
        if layers > MAX_LAYERS {
            return Err(SpecError::Limit {
                what: "convolutional and fully connected layers",
                count: layers,
                max: MAX_LAYERS,
            });
        }
        match self {
            ModelSpec::AlexNet(s) => alexnet(s, classes),
            ModelSpec::Vgg(s) => vgg(s, classes),
            ModelSpec::Nin(s) => nin(s, classes),
            ModelSpec::GoogLeNet(s) => googlenet(s, classes),
            ModelSpec::ResNet(s) => resnet(s, classes),
            ModelSpec::DenseNet(s) => densenet(s, classes),
            ModelSpec::AnyNet(s) => anynet(s, classes),
        }
    }
}

impl ModelSpec {
    /// The convolutional and fully connected layers the spec asks for, counted from its numbers
    /// alone (saturating), in time that grows with its stages, not its layers.
    pub fn weighted_layers(&self) -> u64 {
        let n = |v: usize| v as u64;
        let count = match self {
            ModelSpec::AlexNet(s) => total([n(s.convs.len()), n(s.head.len()), 1].into_iter()),
            ModelSpec::Vgg(s) => total(s.arch.iter().map(|&(convs, _)| n(convs))).saturating_add(3),
            ModelSpec::Nin(s) => n(s.blocks.len()).saturating_add(1).saturating_mul(3),
            // The stem's three convolutions, six per Inception block, the classifier.
            ModelSpec::GoogLeNet(s) => total(s.stages.iter().map(|stage| n(stage.len()).saturating_mul(6))),
            ModelSpec::ResNet(s) => {
                let per_block = if s.block == ResBlock::Basic { 2 } else { 3 };
                let mut channels = s.stem_channels;
                // A stage's first block has a projection where it halves the map or changes
                // the channels.
                total(s.stages.iter().enumerate().map(|(i, &(blocks, width))| {
                    let projection = blocks > 0 && (i > 0 || channels != width);
                    channels = width;
                    n(blocks).saturating_mul(per_block).saturating_add(u64::from(projection))
                }))
            }
            ModelSpec::DenseNet(s) => {
                total(s.arch.iter().map(|&convs| n(convs))).saturating_add(n(s.arch.len().saturating_sub(1)))
            }
            ModelSpec::AnyNet(s) => {
                let per_block = if s.block == AnyBlock::Residual { 2 } else { 3 };
                total(s.stages.iter().map(|&(depth, ..)| n(depth).saturating_mul(per_block).saturating_add(1)))
            }
        };
        // The stems and classifiers the sums leave out.
        let ends = match self {
            ModelSpec::AlexNet(_) | ModelSpec::Vgg(_) | ModelSpec::Nin(_) => 0,
            ModelSpec::GoogLeNet(_) => 4,
            ModelSpec::ResNet(_) | ModelSpec::DenseNet(_) | ModelSpec::AnyNet(_) => 2,
        };
        count.saturating_add(ends)
    }
}

fn total(counts: impl Iterator<Item = u64>) -> u64 {
    counts.fold(0, u64::saturating_add)
}

fn fully_connected(net: &mut Vec<Layer>, widths: &[usize], dropout: f64, classes: usize) {
    net.push(layer("flatten", Primitive::Flatten));
    for (i, &features) in widths.iter().enumerate() {
        let fc = vec![
            layer("linear", Primitive::Linear { features }),
            relu(),
            layer("dropout", Primitive::Dropout { prob: dropout }),
        ];
        net.push(group(format!("fc {}", i + 1), fc));
    }
    net.push(layer("output", Primitive::Linear { features: classes }));
}

fn alexnet(spec: &AlexNetSpec, classes: usize) -> Result<Vec<Layer>, SpecError> {
    non_empty(&spec.convs, "AlexNet convolutions")?;
    let mut net: Vec<Layer> = (spec.convs.iter().enumerate())
        .map(|(i, c)| {
            let mut block = vec![conv("conv", c.channels, c.kernel, c.stride, c.padding), relu()];
            if c.pool {
                block.push(max_pool(3, 2, 0));
            }
            group(format!("conv {}", i + 1), block)
        })
        .collect();
    fully_connected(&mut net, &spec.head, spec.dropout, classes);
    Ok(net)
}

fn vgg(spec: &VggSpec, classes: usize) -> Result<Vec<Layer>, SpecError> {
    non_empty(&spec.arch, "VGG blocks")?;
    let mut net = Vec::new();
    for (i, &(convs, channels)) in spec.arch.iter().enumerate() {
        let name = format!("block {}", i + 1);
        positive(convs, &name, "convolutions")?;
        let mut block = Vec::new();
        for j in 1..=convs {
            block.extend([conv(format!("conv {j}"), channels, 3, 1, 1), relu()]);
        }
        block.push(max_pool(2, 2, 0));
        net.push(group(name, block));
    }
    fully_connected(&mut net, &[spec.head_width; 2], spec.dropout, classes);
    Ok(net)
}

fn nin_block((channels, kernel, stride, padding): (usize, usize, usize, usize)) -> Vec<Layer> {
    vec![
        conv(format!("conv {kernel}x{kernel}"), channels, kernel, stride, padding),
        relu(),
        conv("conv 1x1 a", channels, 1, 1, 0),
        relu(),
        conv("conv 1x1 b", channels, 1, 1, 0),
        relu(),
    ]
}

fn nin(spec: &NinSpec, classes: usize) -> Result<Vec<Layer>, SpecError> {
    non_empty(&spec.blocks, "NiN blocks")?;
    let mut net = Vec::new();
    for (i, &block) in spec.blocks.iter().enumerate() {
        let name = format!("block {}", i + 1);
        let mut layers = nin_block(block);
        layers.push(max_pool(3, 2, 0));
        net.push(group(name, layers));
    }
    net.push(layer("dropout", Primitive::Dropout { prob: spec.dropout }));
    net.push(group(format!("block {} (classes)", spec.blocks.len() + 1), nin_block((classes, 3, 1, 1))));
    net.push(layer("global avg-pool", Primitive::GlobalAvgPool));
    net.push(layer("flatten", Primitive::Flatten));
    Ok(net)
}

fn inception(name: String, (c1, (c2r, c2), (c3r, c3), c4): Inception) -> Layer {
    let branches = vec![
        group("1x1", vec![conv("conv 1x1", c1, 1, 1, 0), relu()]),
        group("3x3", vec![conv("conv 1x1", c2r, 1, 1, 0), relu(), conv("conv 3x3", c2, 3, 1, 1), relu()]),
        group("5x5", vec![conv("conv 1x1", c3r, 1, 1, 0), relu(), conv("conv 5x5", c3, 5, 1, 2), relu()]),
        group("pool", vec![max_pool(3, 1, 1), conv("conv 1x1", c4, 1, 1, 0), relu()]),
    ];
    layer(name, Op::Concat(branches))
}

fn googlenet(spec: &GoogLeNetSpec, classes: usize) -> Result<Vec<Layer>, SpecError> {
    non_empty(&spec.stages, "Inception stages")?;
    let (c1, c2) = spec.stem;
    let mut net = vec![
        group("b1", vec![conv("conv 7x7", c1, 7, 2, 3), relu(), max_pool(3, 2, 1)]),
        group(
            "b2",
            vec![conv("conv 1x1", c1, 1, 1, 0), relu(), conv("conv 3x3", c2, 3, 1, 1), relu(), max_pool(3, 2, 1)],
        ),
    ];
    for (i, stage) in spec.stages.iter().enumerate() {
        // d2l's numbering: the first Inception stage is "3", its blocks "3a", "3b", ...
        let number = i + 3;
        if stage.is_empty() {
            return Err(SpecError::Zero { layer: format!("stage {number}"), what: "Inception blocks" });
        }
        for (j, &block) in stage.iter().enumerate() {
            let letter = char::from_u32('a' as u32 + j as u32).unwrap_or('?');
            net.push(inception(format!("inception {number}{letter}"), block));
        }
        if i + 1 < spec.stages.len() {
            net.push(layer(format!("max-pool {number}"), Primitive::MaxPool { kernel: 3, stride: 2, padding: 1 }));
        }
    }
    net.push(pooled_head(classes, Vec::new()));
    Ok(net)
}

/// The 7x7/2 convolution, batch norm and 3x3/2 max-pool that ResNet and DenseNet start with.
fn resnet_stem(channels: usize) -> Layer {
    group("stem", vec![conv("conv 7x7", channels, 7, 2, 3), bn(), relu(), max_pool(3, 2, 1)])
}

fn basic_block(channels: usize, stride: usize, projection: bool) -> Op {
    let body = vec![
        conv("conv 1", channels, 3, stride, 1),
        layer("bn 1", Primitive::BatchNorm),
        relu(),
        conv("conv 2", channels, 3, 1, 1),
        layer("bn 2", Primitive::BatchNorm),
    ];
    let shortcut = if projection { vec![conv("shortcut conv 1x1", channels, 1, stride, 0)] } else { Vec::new() };
    Op::Residual { body, shortcut }
}

/// d2l's `ResNeXtBlock`, whose `groups` argument is the group width: the grouped 3x3 has
/// `bottleneck channels / group width` groups.
fn resnext_block(
    name: &str,
    channels: usize,
    group_width: usize,
    bottleneck: f64,
    stride: usize,
    projection: bool,
) -> Result<Op, SpecError> {
    if !(bottleneck.is_finite() && bottleneck > 0.0) {
        return Err(SpecError::Bottleneck { layer: name.into(), value: bottleneck });
    }
    positive(group_width, name, "group width")?;
    let bot = (channels as f64 * bottleneck).round();
    if bot > MAX_VALUES as f64 {
        let (what, count, max) = ("bottleneck channels", bot as u64, MAX_VALUES);
        return Err(SpecError::TooLarge { layer: name.into(), what, count, max });
    }
    let bot = bot as usize;
    positive(bot, name, "bottleneck channels")?;
    if !bot.is_multiple_of(group_width) {
        return Err(SpecError::GroupWidth { layer: name.into(), channels: bot, group_width });
    }
    let body = vec![
        conv("conv 1x1 in", bot, 1, 1, 0),
        layer("bn 1", Primitive::BatchNorm),
        relu(),
        layer(
            "conv 3x3 grouped",
            Primitive::Conv { channels: bot, kernel: 3, stride, padding: 1, groups: bot / group_width },
        ),
        layer("bn 2", Primitive::BatchNorm),
        relu(),
        conv("conv 1x1 out", channels, 1, 1, 0),
        layer("bn 3", Primitive::BatchNorm),
    ];
    let shortcut = if projection {
        vec![conv("shortcut conv 1x1", channels, 1, stride, 0), layer("shortcut bn", Primitive::BatchNorm)]
    } else {
        Vec::new()
    };
    Ok(Op::Residual { body, shortcut })
}

fn resnet(spec: &ResNetSpec, classes: usize) -> Result<Vec<Layer>, SpecError> {
    non_empty(&spec.stages, "ResNet stages")?;
    let mut net = vec![resnet_stem(spec.stem_channels)];
    let mut channels = spec.stem_channels;
    for (i, &(blocks, width)) in spec.stages.iter().enumerate() {
        let stage = format!("stage {}", i + 1);
        positive(blocks, &stage, "blocks")?;
        let mut layers = Vec::new();
        for j in 0..blocks {
            let name = format!("{stage} / block {}", j + 1);
            // d2l's `first_block`: the first stage keeps the stem's map; the others halve it.
            let stride = if i > 0 && j == 0 { 2 } else { 1 };
            let projection = j == 0 && (stride != 1 || channels != width);
            let op = match spec.block {
                ResBlock::Basic => basic_block(width, stride, projection),
                ResBlock::ResNeXt { group_width, bottleneck } => {
                    resnext_block(&name, width, group_width, bottleneck, stride, projection)?
                }
            };
            layers.push(layer(format!("block {}", j + 1), op));
            channels = width;
        }
        net.push(group(stage, layers));
    }
    net.push(pooled_head(classes, Vec::new()));
    Ok(net)
}

fn densenet(spec: &DenseNetSpec, classes: usize) -> Result<Vec<Layer>, SpecError> {
    non_empty(&spec.arch, "dense blocks")?;
    positive(spec.growth_rate, "DenseNet", "growth rate")?;
    let mut net = vec![resnet_stem(spec.stem_channels)];
    let mut channels = spec.stem_channels;
    for (i, &convs) in spec.arch.iter().enumerate() {
        let name = format!("dense block {}", i + 1);
        positive(convs, &name, "convolutions")?;
        let layers = (1..=convs)
            .map(|j| {
                let conv_block = group("BN-ReLU-conv", vec![bn(), relu(), conv("conv 3x3", spec.growth_rate, 3, 1, 1)]);
                layer(format!("layer {j}"), Op::Concat(vec![group("input", Vec::new()), conv_block]))
            })
            .collect();
        net.push(group(name, layers));
        channels += convs * spec.growth_rate;
        if i + 1 < spec.arch.len() {
            channels /= 2;
            let transition = vec![
                bn(),
                relu(),
                conv("conv 1x1", channels, 1, 1, 0),
                layer("avg-pool", Primitive::AvgPool { kernel: 2, stride: 2 }),
            ];
            net.push(group(format!("transition {}", i + 1), transition));
        }
    }
    net.push(pooled_head(classes, vec![bn(), relu()]));
    Ok(net)
}

fn anynet(spec: &AnyNetSpec, classes: usize) -> Result<Vec<Layer>, SpecError> {
    non_empty(&spec.stages, "AnyNet stages")?;
    let mut net = vec![group("stem", vec![conv("conv 3x3", spec.stem_channels, 3, 2, 1), bn(), relu()])];
    for (i, &(depth, width, group_width, bottleneck)) in spec.stages.iter().enumerate() {
        let stage = format!("stage {}", i + 1);
        positive(depth, &stage, "blocks")?;
        let mut layers = Vec::new();
        for j in 0..depth {
            let name = format!("{stage} / block {}", j + 1);
            let (stride, projection) = if j == 0 { (2, true) } else { (1, false) };
            let op = match spec.block {
                AnyBlock::ResNeXt => resnext_block(&name, width, group_width, bottleneck, stride, projection)?,
                AnyBlock::Residual => basic_block(width, stride, projection),
            };
            layers.push(layer(format!("block {}", j + 1), op));
        }
        net.push(group(stage, layers));
    }
    net.push(pooled_head(classes, Vec::new()));
    Ok(net)
}
