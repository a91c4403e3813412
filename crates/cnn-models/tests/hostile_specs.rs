//! Specs as a careless or hostile user could write them (through the page's editor, a shared
//! link or a file for the CLI): every family with numbers from zero to the largest, at any input.
//! Each is a table within the tool's limits or a sentence, quickly; never a panic.

use std::time::{Duration, Instant};

use cnn_models::limits::{MAX_LAYERS, MAX_MACS, MAX_VALUES};
use cnn_models::*;
use proptest::prelude::*;

/// A count or width: small ones that build real networks, and ones that should be refused.
fn number() -> impl Strategy<Value = usize> {
    prop_oneof![4 => 0usize..8, 3 => 0usize..600, 1 => any::<u32>().prop_map(|v| v as usize), 1 => Just(usize::MAX)]
}

fn fraction() -> impl Strategy<Value = f64> {
    prop_oneof![4 => 0.0f64..1.0, 1 => -2.0f64..2.0, 1 => Just(1e300), 1 => Just(-0.0)]
}

fn some<T: std::fmt::Debug>(item: impl Strategy<Value = T>) -> impl Strategy<Value = Vec<T>> {
    prop::collection::vec(item, 0..6)
}

fn spec() -> impl Strategy<Value = ModelSpec> {
    let alex = (number(), number(), number(), number(), any::<bool>())
        .prop_map(|(channels, kernel, stride, padding, pool)| AlexConv { channels, kernel, stride, padding, pool });
    prop_oneof![
        (some(alex), some(number()), fraction()).prop_map(|(convs, head, dropout)| ModelSpec::AlexNet(AlexNetSpec {
            convs,
            head,
            dropout
        })),
        (some((number(), number())), number(), fraction())
            .prop_map(|(arch, head_width, dropout)| ModelSpec::Vgg(VggSpec { arch, head_width, dropout })),
        (some((number(), number(), number(), number())), fraction())
            .prop_map(|(blocks, dropout)| ModelSpec::Nin(NinSpec { blocks, dropout })),
        ((number(), number()), some(some((number(), (number(), number()), (number(), number()), number()))))
            .prop_map(|(stem, stages)| ModelSpec::GoogLeNet(GoogLeNetSpec { stem, stages })),
        (number(), some((number(), number())), prop::option::of((number(), fraction()))).prop_map(
            |(stem_channels, stages, resnext)| {
                let block = resnext
                    .map_or(ResBlock::Basic, |(group_width, bottleneck)| ResBlock::ResNeXt { group_width, bottleneck });
                ModelSpec::ResNet(ResNetSpec { stem_channels, stages, block })
            }
        ),
        (number(), number(), some(number())).prop_map(|(stem_channels, growth_rate, arch)| {
            ModelSpec::DenseNet(DenseNetSpec { stem_channels, growth_rate, arch })
        }),
        (number(), some((number(), number(), number(), fraction())), any::<bool>()).prop_map(
            |(stem_channels, stages, residual)| {
                let block = if residual { AnyBlock::Residual } else { AnyBlock::ResNeXt };
                ModelSpec::AnyNet(AnyNetSpec { stem_channels, stages, block })
            }
        ),
    ]
}

fn input() -> impl Strategy<Value = InputSpec> {
    let size = prop_oneof![Just(0usize), Just(1), Just(28), Just(96), Just(224), Just(2048), Just(5000)];
    let classes = prop_oneof![Just(0usize), Just(10), Just(1000), Just(usize::MAX)];
    (prop_oneof![Just(1usize), Just(3)], size, classes).prop_map(|(channels, size, classes)| InputSpec {
        channels,
        size,
        classes,
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..Default::default() })]

    #[test]
    fn any_spec_gets_a_table_within_the_limits_or_a_sentence(spec in spec(), input in input()) {
        // Through the JSON the page and the CLI read.
        let json = serde_json::to_string(&spec).expect("a spec serializes");
        let spec: ModelSpec = serde_json::from_str(&json).expect("and reads back");
        let started = Instant::now();
        match spec.analyze(input) {
            Ok(analysis) => {
                let totals = analysis.totals();
                prop_assert!(spec.weighted_layers() <= MAX_LAYERS);
                prop_assert!(totals.params() as u64 <= MAX_VALUES && totals.activations <= MAX_VALUES);
                prop_assert!(totals.macs() <= MAX_MACS);
            }
            Err(e) => {
                let sentence = e.to_string();
                prop_assert!(sentence.len() > 20 && !sentence.contains("panic"), "{sentence}");
            }
        }
        // An analysis is a walk over at most MAX_LAYERS layers' numbers: far under a second.
        prop_assert!(started.elapsed() < Duration::from_secs(2), "{json} took {:?}", started.elapsed());
    }
}
