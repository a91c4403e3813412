//! The analysis table against the reference figures and against the built burn module.

use burn::prelude::*;
use cnn_models::compare::compare;
use cnn_models::graph::OpKind;
use cnn_models::{InputSpec, ModelSpec, PRESETS, Traced};

fn imagenet_shaped(classes: usize) -> InputSpec {
    InputSpec { channels: 3, size: 224, classes }
}

fn totals(name: &str, input: InputSpec) -> cnn_models::Totals {
    ModelSpec::preset(name).unwrap().analyze(input).unwrap().totals()
}

#[test]
fn vgg11_and_alexnet_match_the_reference_figures() {
    let vgg = totals("vgg11", imagenet_shaped(10));
    assert_eq!((vgg.conv_params, vgg.dense_params), (9_220_480, 119_586_826));
    assert_eq!(vgg.conv_macs, 7_485_456_384);
    let alex = totals("alexnet", imagenet_shaped(10));
    assert_eq!((alex.conv_params, alex.dense_params), (3_747_200, 43_040_778));
    assert_eq!(alex.conv_macs, 962_858_112);
    // Linear MACs are the weights without the biases.
    assert_eq!(alex.dense_macs, 43_040_778 - (4096 + 4096 + 10));
}

#[test]
fn vgg_configurations_match_torchvisions_counts() {
    // torchvision's vgg11/13/16/19 (no batch norm) on 3x224x224 with 1000 classes: the same
    // layers, so the same counts, from a second implementation.
    for (name, params) in
        [("vgg11", 132_863_336), ("vgg13", 133_047_848), ("vgg16", 138_357_544), ("vgg19", 143_667_240)]
    {
        assert_eq!(totals(name, imagenet_shaped(1000)).params(), params, "{name}");
    }
}

/// (preset, channels, size, learnable parameters, conv MACs, linear MACs) of every preset with 10
/// classes, from a second implementation: d2l's code transcribed to tinygrad, `dev/crosscheck.py`.
const TINYGRAD: [(&str, usize, usize, usize, u64, u64); 23] = [
    ("alexnet", 1, 224, 46764746, 895113600, 43032576),
    ("vgg11", 1, 224, 128806154, 7427653632, 119578624),
    ("vgg13", 1, 224, 128990666, 11127029760, 119578624),
    ("vgg16", 1, 224, 134300362, 15288827904, 119578624),
    ("vgg19", 1, 224, 139610058, 19450626048, 119578624),
    ("vgg11-r4", 1, 224, 43093322, 469647360, 42508288),
    ("vgg13-r4", 1, 224, 43104890, 700858368, 42508288),
    ("vgg16-r4", 1, 224, 43436986, 960970752, 42508288),
    ("vgg19-r4", 1, 224, 43769082, 1221083136, 42508288),
    ("nin", 1, 224, 1992166, 762297352, 0),
    ("googlenet", 1, 96, 5977530, 276056064, 10240),
    ("resnet18", 1, 96, 11178378, 318652416, 5120),
    ("resnet34", 1, 96, 21290250, 658391040, 5120),
    ("resnet-small", 1, 56, 702570, 8220928, 1280),
    ("densenet", 1, 96, 758226, 129074688, 2480),
    ("regnetx32", 1, 96, 179290, 40292352, 800),
    ("anynet-4stage", 1, 96, 598218, 24920064, 2560),
    ("anynet-resnet", 1, 96, 738906, 138645504, 800),
    ("vionet-narrowing", 1, 96, 145690, 67829760, 320),
    ("vionet-shallowing", 1, 96, 143098, 40955904, 800),
    ("vionet-unshared", 1, 96, 160986, 29085696, 800),
    ("alexnet", 3, 224, 46787978, 962858112, 43032576),
    ("vgg11", 3, 224, 128807306, 7485456384, 119578624),
];

#[test]
fn every_preset_matches_the_tinygrad_transcription() {
    for (name, channels, size, params, conv_macs, dense_macs) in TINYGRAD {
        let t = totals(name, InputSpec { channels, size, classes: 10 });
        assert_eq!((t.params(), t.conv_macs, t.dense_macs), (params, conv_macs, dense_macs), "{name} at {size} px");
    }
    // Every preset is in the cross-check.
    for preset in PRESETS {
        assert!(TINYGRAD.iter().any(|c| c.0 == preset.name), "{}", preset.name);
    }
}

#[test]
fn resnet18_matches_d2ls_count() {
    assert_eq!(totals("resnet18", InputSpec::fashion_mnist(96)).params(), 11_178_378);
}

/// Rows of the analysis against what a real forward pass of the built module reports.
fn check_against_module(name: &str, spec: &ModelSpec, input: InputSpec) {
    let device = Device::flex();
    let analysis = spec.analyze(input).unwrap();
    let model = spec.init(input, &device).unwrap();
    let images = Tensor::<4>::zeros([2, input.channels, input.size, input.size], &device);
    let traced = model.trace(images.clone());
    let expected: Vec<Traced> = analysis.rows.iter().map(|r| Traced { shape: r.shape, params: r.params }).collect();
    assert_eq!(traced.len(), expected.len(), "{name}: rows");
    for ((got, want), row) in traced.iter().zip(&expected).zip(&analysis.rows) {
        assert_eq!(got, want, "{name}: {} ({})", row.name, row.op);
    }
    // burn also counts each batch norm's running mean and variance, which are not learnable.
    let running: usize = analysis.rows.iter().filter(|r| r.kind == OpKind::BatchNorm).map(|r| r.params).sum();
    assert_eq!(model.num_params(), analysis.totals().params() + running, "{name}: num_params");
    assert_eq!(model.learnable_params(), analysis.totals().params(), "{name}: learnable");
    assert_eq!(model.forward(images).dims(), [2, input.classes], "{name}: logits");
}

#[test]
fn each_rows_feature_maps_have_the_shape_of_its_table_row() {
    let device = Device::flex();
    for (name, size) in [("resnet-small", 28), ("googlenet", 96)] {
        let input = InputSpec::fashion_mnist(size);
        let spec = ModelSpec::preset(name).unwrap();
        let (analysis, model) = (spec.analyze(input).unwrap(), spec.init(input, &device).unwrap());
        let images = Tensor::<4>::zeros([1, 1, size, size], &device);
        for (i, row) in analysis.rows.iter().enumerate() {
            let maps = model.feature_maps(images.clone(), i).unwrap_or_else(|| panic!("{name}: row {i}"));
            let [c, h, w] = row.shape;
            assert_eq!(maps.dims(), [1, c, h, w], "{name}: {} ({})", row.name, row.op);
        }
        assert!(model.feature_maps(images, analysis.rows.len()).is_none(), "{name}: no row past the last");
    }
}

#[test]
fn every_preset_table_matches_its_module() {
    for preset in PRESETS {
        let input = InputSpec::fashion_mnist(preset.size);
        check_against_module(preset.name, &preset.spec(), input);
    }
    check_against_module("alexnet rgb", &ModelSpec::preset("alexnet").unwrap(), imagenet_shaped(10));
}

#[test]
fn resnext_blocks_group_the_bottleneck() {
    let spec: ModelSpec = serde_json::from_str(
        r#"{"kind":"resnet","stem_channels":16,"stages":[[1,32],[2,64]],
            "block":{"resnext":{"group_width":8,"bottleneck":0.5}}}"#,
    )
    .unwrap();
    let input = InputSpec::fashion_mnist(64);
    let a = spec.analyze(input).unwrap();
    let grouped = a.rows.iter().find(|r| r.name == "stage 2 / block 1 / conv 3x3 grouped").unwrap();
    // 64 x 0.5 = 32 bottleneck channels in groups of 8: 4 groups of 8x8x3x3 weights, 32 biases.
    assert_eq!(grouped.op, "conv 3x3/2 pad 1, 32 channels, 4 groups");
    assert_eq!(grouped.params, 32 * 8 * 9 + 32);
    // 64 px: the stem quarters it to 16, stage 2 halves it.
    assert_eq!(grouped.shape, [32, 8, 8]);
    assert_eq!(grouped.macs, 32 * 8 * 8 * 8 * 9);
    check_against_module("resnext", &spec, input);
}

#[test]
fn presets_survive_json() {
    for preset in PRESETS {
        let json = serde_json::to_string(&preset.spec()).unwrap();
        assert_eq!(serde_json::from_str::<ModelSpec>(&json).unwrap(), preset.spec(), "{}", preset.name);
    }
}

#[test]
fn vgg_against_alexnet() {
    let vgg = ModelSpec::preset("vgg11").unwrap().analyze(imagenet_shaped(10)).unwrap();
    let alex = ModelSpec::preset("alexnet").unwrap().analyze(imagenet_shaped(10)).unwrap();
    let rows = compare(&vgg, &alex, 128);
    let row = |what: &str| rows.iter().find(|r| r.what == what).unwrap();
    assert_eq!((row("conv parameters").left, row("conv parameters").right), (9_220_480, 3_747_200));
    let macs = row("conv MACs").ratio().unwrap();
    assert!((macs - 7_485_456_384.0 / 962_858_112.0).abs() < 1e-9, "{macs}");
    assert_eq!((row("convolutional layers").left, row("convolutional layers").right), (8, 5));
    assert!(row("training memory").left > row("training memory").right);
}

fn error(json: &str, size: usize) -> String {
    let spec: ModelSpec = serde_json::from_str(json).unwrap();
    let err = spec.analyze(InputSpec::fashion_mnist(size)).unwrap_err();
    // The module refuses the same spec with the same error.
    assert_eq!(spec.init(InputSpec::fashion_mnist(size), &Device::flex()).unwrap_err(), err);
    err.to_string()
}

#[test]
fn bad_specs_name_the_layer_and_the_reason() {
    let cases = [
        (
            r#"{"kind":"vgg","arch":[[1,16],[1,32],[2,64],[2,128],[2,128]],"head_width":64,"dropout":0.5}"#,
            "block 5 / max-pool (max-pool 2x2/2 pad 0) gets a 1x1 map and would shrink it below 1x1: use images larger than 28 pixels or fewer blocks",
        ),
        (
            r#"{"kind":"vgg","arch":[[1,8],[1,0]],"head_width":64,"dropout":0.5}"#,
            "block 2 / conv 1 has zero channels: every layer needs at least one",
        ),
        (
            r#"{"kind":"anynet","stem_channels":16,"stages":[[2,48,32,1.0]]}"#,
            "stage 1 / block 1 has a bottleneck of 48 channels, which groups of 32 cannot split evenly: pick a group width that divides it",
        ),
        (
            r#"{"kind":"anynet","stem_channels":16,"stages":[[2,48,0,1.0]]}"#,
            "stage 1 / block 1 has zero group width: every layer needs at least one",
        ),
        (
            r#"{"kind":"vgg","arch":[[1,8]],"head_width":64,"dropout":1.0}"#,
            "fc 1 / dropout drops with probability 1: it must be at least 0 and below 1",
        ),
        (
            r#"{"kind":"densenet","stem_channels":16,"growth_rate":0,"arch":[2]}"#,
            "DenseNet has zero growth rate: every layer needs at least one",
        ),
        (r#"{"kind":"resnet","stem_channels":8,"stages":[]}"#, "the model has no ResNet stages: add at least one"),
        (
            r#"{"kind":"vgg","arch":[[1,8]],"head_width":100000,"dropout":0.5}"#,
            "fc 2 / linear would hold 10000100000 parameters, more than the 1073741824 a browser can keep in memory: use fewer channels or features",
        ),
        (
            r#"{"kind":"anynet","stem_channels":8,"stages":[[1,64,16,100000000.0]]}"#,
            "stage 1 / block 1 would hold 6400000000 bottleneck channels, more than the 1073741824 a browser can keep in memory: use fewer channels or features",
        ),
    ];
    for (json, sentence) in cases {
        assert_eq!(error(json, 28), sentence);
    }
    let err = error(
        r#"{"kind":"alexnet","convs":[{"channels":8,"kernel":11,"stride":4,"padding":1,"pool":true},
            {"channels":8,"kernel":5,"stride":1,"padding":2,"pool":true}],"head":[32],"dropout":0.5}"#,
        28,
    );
    assert_eq!(
        err,
        "conv 2 / max-pool (max-pool 3x3/2 pad 0) gets a 2x2 map and would shrink it below 1x1: use images larger than 28 pixels or fewer blocks"
    );
}

/// A spec that asks for more than the tool takes is refused with the limit it passed, before its
/// graph is built (a block of a billion convolutions used to keep `cnn summary` busy for minutes).
#[test]
fn specs_past_the_tools_limits_are_refused_before_any_layer_is_built() {
    let cases = [
        (
            r#"{"kind":"vgg","arch":[[1000000000,8]],"head_width":64,"dropout":0.5}"#,
            28,
            "the model would have at least 1000000003 convolutional and fully connected layers, more than the 1000 this tool takes: use fewer or narrower layers",
        ),
        (
            r#"{"kind":"resnet","stem_channels":8,"stages":[[300,8],[300,16]]}"#,
            28,
            "the model would have at least 1203 convolutional and fully connected layers, more than the 1000 this tool takes: use fewer or narrower layers",
        ),
        (
            r#"{"kind":"vgg","arch":[[1,8]],"head_width":32000,"dropout":0.5}"#,
            28,
            "the model would have at least 1074240080 parameters, more than the 1073741824 this tool takes: use fewer or narrower layers",
        ),
        (
            r#"{"kind":"vgg","arch":[[1,8],[3,1024]],"head_width":64,"dropout":0.5}"#,
            512,
            "the model would have at least 1241801293824 multiply-accumulates per image, more than the 1000000000000 this tool takes: use fewer or narrower layers",
        ),
        (
            r#"{"kind":"vgg","arch":[[20,64]],"head_width":64,"dropout":0.5}"#,
            1024,
            "the model would have at least 1140850688 activation values per image, more than the 1073741824 this tool takes: use fewer or narrower layers",
        ),
    ];
    for (json, size, sentence) in cases {
        assert_eq!(error(json, size), sentence, "{json}");
    }
}

/// The count the limit is checked on is the graph's own, for every preset.
#[test]
fn every_presets_layer_count_is_its_graphs() {
    use cnn_models::graph::{Layer, Op, Primitive};
    fn weighted(layers: &[Layer]) -> u64 {
        layers
            .iter()
            .map(|l| match &l.op {
                Op::Primitive(Primitive::Conv { .. } | Primitive::Linear { .. }) => 1,
                Op::Group(children) => weighted(children),
                Op::Concat(branches) => weighted(branches),
                Op::Residual { body, shortcut } => weighted(body) + weighted(shortcut),
                _ => 0,
            })
            .sum()
    }
    for preset in PRESETS {
        let spec = preset.spec();
        assert_eq!(spec.weighted_layers(), weighted(&spec.graph(10).unwrap()), "{}", preset.name);
    }
}

#[test]
fn grouped_convolutions_need_divisible_channels() {
    use cnn_models::analysis::analyze_graph;
    use cnn_models::graph::{Layer, Primitive};
    // The families choose group counts that divide; the graph still refuses ones that do not.
    let mut graph = ModelSpec::preset("regnetx32").unwrap().graph(10).unwrap();
    let odd = Primitive::Conv { channels: 30, kernel: 1, stride: 1, padding: 0, groups: 4 };
    graph.insert(1, Layer { name: "odd".into(), op: odd.into() });
    let err = analyze_graph("AnyNet", &graph, InputSpec::fashion_mnist(96)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "odd (conv 1x1 pad 0, 30 channels, 4 groups) gets 32 input channels and makes 30, which 4 groups cannot split evenly: make both multiples of 4"
    );
}

#[test]
fn inputs_beyond_what_the_tool_takes_are_refused() {
    let spec = ModelSpec::preset("resnet18").unwrap();
    let err = spec.analyze(InputSpec { channels: 1, size: 100_000, classes: 10 }).unwrap_err();
    assert_eq!(err.to_string(), "the input's image size is 100000, more than the 2048 this tool takes");
}

#[test]
fn training_memory_counts_weights_gradients_and_activations() {
    let a = ModelSpec::preset("vgg11-r4").unwrap().analyze(InputSpec::fashion_mnist(224)).unwrap();
    let t = a.totals();
    let at = |b: u64| a.training_memory(b as usize);
    assert_eq!(at(0), 4 * 2 * t.params() as u64);
    assert_eq!(at(2) - at(1), 4 * (224 * 224 + t.activations));
}

/// The largest magnitude of each weight and bias, with the bounds d2l's `init_cnn` gives them in
/// PyTorch: Xavier-uniform weights, `sqrt(6 / (fan_in + fan_out))`, and PyTorch's default biases,
/// `1 / sqrt(fan_in)`. Parameters come in module order, each bias right after its weight.
#[derive(Default)]
struct InitRanges {
    fans: (usize, usize),
    seen: Vec<(usize, f32, f64)>,
}

impl burn::module::ModuleVisitor for InitRanges {
    fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<D>>) {
        let value = param.val();
        let dims = value.dims();
        let bound = match D {
            // Conv weights are [out, in / groups, k, k], linear weights [in, out].
            4 | 2 => {
                let k: usize = dims[2..].iter().product();
                self.fans = if D == 4 { (dims[1] * k, dims[0] * k) } else { (dims[0], dims[1]) };
                (6.0 / (self.fans.0 + self.fans.1) as f64).sqrt()
            }
            _ => 1.0 / (self.fans.0 as f64).sqrt(),
        };
        let largest = value.into_data().iter::<f32>().fold(0.0f32, |m, v| m.max(v.abs()));
        self.seen.push((dims.iter().product(), largest, bound));
    }
}

#[test]
fn weights_and_biases_start_as_in_d2l() {
    let spec: ModelSpec = serde_json::from_str(r#"{"kind":"vgg","arch":[[1,8]],"head_width":64,"dropout":0}"#).unwrap();
    let model = spec.init(InputSpec::fashion_mnist(28), &Device::flex()).unwrap();
    let mut ranges = InitRanges::default();
    burn::module::Module::visit(&model, &mut ranges);
    // conv 1->8, then linear 1568->64, 64->64, 64->10: a weight and a bias each.
    assert_eq!(ranges.seen.len(), 8);
    for (i, &(count, largest, bound)) in ranges.seen.iter().enumerate() {
        assert!(f64::from(largest) <= bound, "parameter {i}: {largest} beyond {bound}");
        // Drawn from the whole range: 64 uniform draws all below 0.8 of it has odds of 1e-6.
        if count >= 64 {
            assert!(f64::from(largest) > 0.8 * bound, "parameter {i}: {largest}, far inside {bound}");
        }
    }
}
