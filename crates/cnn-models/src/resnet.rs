use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{AdaptiveAvgPool2d, AdaptiveAvgPool2dConfig, MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::relu;

use crate::{InputSpec, ResNetSpec, XAVIER};

fn conv(c_in: usize, c_out: usize, kernel: usize, stride: usize, device: &Device) -> Conv2d {
    let pad = kernel / 2;
    Conv2dConfig::new([c_in, c_out], [kernel, kernel])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
        .with_initializer(XAVIER)
        .init(device)
}

/// d2l's `Residual`: two 3x3 convolutions with batch norm; a strided 1x1 convolution on the
/// shortcut where the block changes the shape.
#[derive(Module, Debug)]
pub struct Residual {
    conv1: Conv2d,
    bn1: BatchNorm,
    conv2: Conv2d,
    bn2: BatchNorm,
    shortcut: Option<Conv2d>,
}

impl Residual {
    fn new(c_in: usize, c_out: usize, stride: usize, device: &Device) -> Self {
        let shortcut = (stride != 1 || c_in != c_out).then(|| conv(c_in, c_out, 1, stride, device));
        Self {
            conv1: conv(c_in, c_out, 3, stride, device),
            bn1: BatchNormConfig::new(c_out).init(device),
            conv2: conv(c_out, c_out, 3, 1, device),
            bn2: BatchNormConfig::new(c_out).init(device),
            shortcut,
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let y = relu(self.bn1.forward(self.conv1.forward(x.clone())));
        let y = self.bn2.forward(self.conv2.forward(y));
        let x = match &self.shortcut {
            Some(conv) => conv.forward(x),
            None => x,
        };
        relu(y + x)
    }
}

#[derive(Module, Debug)]
pub struct ResNet {
    stem: Conv2d,
    stem_bn: BatchNorm,
    stem_pool: MaxPool2d,
    blocks: Vec<Residual>,
    pool: AdaptiveAvgPool2d,
    out: Linear,
}

impl ResNet {
    /// Callers check the spec first (`ModelSpec::init` does), so sizes here are all non-zero.
    pub(crate) fn new(spec: &ResNetSpec, input: InputSpec, device: &Device) -> Self {
        let mut channels = spec.stem_channels;
        let mut blocks = Vec::new();
        for (stage, &(residuals, out)) in spec.stages.iter().enumerate() {
            for i in 0..residuals {
                let stride = if stage > 0 && i == 0 { 2 } else { 1 };
                blocks.push(Residual::new(channels, out, stride, device));
                channels = out;
            }
        }
        Self {
            stem: conv(input.channels, spec.stem_channels, 7, 2, device),
            stem_bn: BatchNormConfig::new(spec.stem_channels).init(device),
            stem_pool: MaxPool2dConfig::new([3, 3])
                .with_strides([2, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(),
            blocks,
            pool: AdaptiveAvgPool2dConfig::new([1, 1]).init(),
            out: LinearConfig::new(channels, input.classes).with_initializer(XAVIER).init(device),
        }
    }

    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let x = relu(self.stem_bn.forward(self.stem.forward(images)));
        let x = self.stem_pool.forward(x);
        let x = self.blocks.iter().fold(x, |x, block| block.forward(x));
        self.out.forward(self.pool.forward(x).flatten(1, 3))
    }
}

#[cfg(test)]
mod tests {
    use burn::prelude::*;

    use crate::{InputSpec, Model, ModelSpec};

    #[test]
    fn resnet18_has_d2ls_parameter_count() {
        // d2l's ResNet-18 on 1-channel input with 10 classes; d2l's convolutions keep their biases.
        let device = Device::flex();
        let Model::ResNet(m) =
            ModelSpec::preset("resnet18").unwrap().init(InputSpec::fashion_mnist(96), &device).unwrap()
        else {
            panic!("resnet18 is a ResNet")
        };
        assert_eq!(m.blocks.len(), 8);
        assert_eq!(m.blocks.iter().filter(|b| b.shortcut.is_some()).count(), 3);
        // 11,178,378 learnable parameters, as PyTorch counts d2l's model; burn's count also holds
        // every batch norm's running mean and variance: 2 x 3,904 channels.
        assert_eq!(m.num_params(), 11_178_378 + 2 * 3_904);
    }

    #[test]
    fn resnet_small_forward_matches_the_spec_shapes() {
        let device = Device::flex();
        let spec = ModelSpec::preset("resnet-small").unwrap();
        let input = InputSpec::fashion_mnist(56);
        let expected = spec.shapes(input).unwrap();
        let Model::ResNet(m) = spec.init(input, &device).unwrap() else { panic!("a ResNet") };
        let x = Tensor::<4>::zeros([2, 1, 56, 56], &device);
        let x = m.stem_pool.forward(m.stem.forward(x));
        assert_eq!(x.dims()[1..], expected[0].shape);
        let x = m.blocks.iter().fold(x, |x, b| b.forward(x));
        assert_eq!(x.dims()[1..], expected[4].shape);
        assert_eq!(m.forward(Tensor::zeros([2, 1, 56, 56], &device)).dims(), [2, 10]);
    }
}
