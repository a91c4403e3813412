use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::relu;

use crate::{InputSpec, VggSpec, XAVIER};

#[derive(Module, Debug)]
pub struct VggBlock {
    convs: Vec<Conv2d>,
    pool: MaxPool2d,
}

impl VggBlock {
    fn new(num_convs: usize, in_channels: usize, channels: usize, device: &Device) -> Self {
        let convs = (0..num_convs)
            .map(|i| {
                let c_in = if i == 0 { in_channels } else { channels };
                Conv2dConfig::new([c_in, channels], [3, 3])
                    .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                    .with_initializer(XAVIER)
                    .init(device)
            })
            .collect();
        Self { convs, pool: MaxPool2dConfig::new([2, 2]).init() }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = self.convs.iter().fold(x, |x, conv| relu(conv.forward(x)));
        self.pool.forward(x)
    }
}

#[derive(Module, Debug)]
pub struct Vgg {
    blocks: Vec<VggBlock>,
    fc1: Linear,
    fc2: Linear,
    out: Linear,
    dropout: Dropout,
}

impl Vgg {
    /// Callers check the spec first (`ModelSpec::init` does), so sizes here are all non-zero.
    pub(crate) fn new(spec: &VggSpec, input: InputSpec, device: &Device) -> Self {
        let mut channels = input.channels;
        let mut side = input.size;
        let blocks = spec
            .arch
            .iter()
            .map(|&(num_convs, out)| {
                let block = VggBlock::new(num_convs, channels, out, device);
                channels = out;
                side /= 2;
                block
            })
            .collect();
        let linear = |i, o| LinearConfig::new(i, o).with_initializer(XAVIER).init(device);
        Self {
            blocks,
            fc1: linear(channels * side * side, spec.head_width),
            fc2: linear(spec.head_width, spec.head_width),
            out: linear(spec.head_width, input.classes),
            dropout: DropoutConfig::new(spec.dropout).init(),
        }
    }

    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let x = self.blocks.iter().fold(images, |x, block| block.forward(x));
        let x: Tensor<2> = x.flatten(1, 3);
        let x = self.dropout.forward(relu(self.fc1.forward(x)));
        let x = self.dropout.forward(relu(self.fc2.forward(x)));
        self.out.forward(x)
    }
}

#[cfg(test)]
mod tests {
    use burn::prelude::*;

    use crate::{InputSpec, Model, ModelSpec};

    fn vgg(preset: &str, input: InputSpec) -> super::Vgg {
        match ModelSpec::preset(preset).unwrap().init(input, &Device::flex()).unwrap() {
            Model::Vgg(m) => m,
            Model::ResNet(_) => panic!("{preset} is a VGG"),
        }
    }

    #[test]
    fn vgg11_on_imagenet_sized_input_has_the_papers_parameter_count() {
        let m = vgg("vgg11", InputSpec { channels: 3, size: 224, classes: 10 });
        let conv: usize = m.blocks.iter().map(|b| b.num_params()).sum();
        let linear = m.fc1.num_params() + m.fc2.num_params() + m.out.num_params();
        assert_eq!(conv, 9_220_480);
        assert_eq!(linear, 119_586_826);
        assert_eq!(m.num_params(), 128_807_306);
    }

    #[test]
    fn vgg_small_block_outputs_match_the_spec_shapes() {
        let input = InputSpec::fashion_mnist(84);
        let spec = ModelSpec::preset("vgg-small").unwrap();
        let expected = spec.shapes(input).unwrap();
        let m = vgg("vgg-small", input);
        let mut x = Tensor::<4>::zeros([3, 1, 84, 84], &Device::flex());
        for (block, want) in m.blocks.iter().zip(&expected) {
            x = block.forward(x);
            assert_eq!(x.dims()[1..], want.shape, "{}", want.name);
        }
        assert_eq!(m.forward(Tensor::zeros([3, 1, 84, 84], &Device::flex())).dims(), [3, 10]);
    }
}
