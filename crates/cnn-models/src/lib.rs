//! Architectures as data, and the burn modules built from them:
//! - [`spec`]: serde specs (VGG `arch` tuples, ResNet stages) and the named presets;
//! - [`shape`]: the layer-by-layer output shapes of a spec, computed without a backend, which is
//!   also where a spec that cannot work is refused with a sentence naming the layer;
//! - [`vgg`], [`resnet`]: the modules; [`Model`] holds either.

pub mod resnet;
pub mod shape;
pub mod spec;
pub mod vgg;

use burn::prelude::*;

pub use shape::{LayerShape, SpecError};
pub use spec::{InputSpec, ModelSpec, PRESETS, ResNetSpec, VggSpec};

#[derive(Module, Debug)]
pub enum Model {
    Vgg(vgg::Vgg),
    ResNet(resnet::ResNet),
}

impl Model {
    /// Logits `[batch, classes]` for images `[batch, channels, size, size]`.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        match self {
            Model::Vgg(m) => m.forward(images),
            Model::ResNet(m) => m.forward(images),
        }
    }
}

impl ModelSpec {
    /// Builds the module after checking that every layer gets a map it can work on.
    pub fn init(&self, input: InputSpec, device: &Device) -> Result<Model, SpecError> {
        self.shapes(input)?;
        Ok(match self {
            ModelSpec::Vgg(spec) => Model::Vgg(vgg::Vgg::new(spec, input, device)),
            ModelSpec::ResNet(spec) => Model::ResNet(resnet::ResNet::new(spec, input, device)),
        })
    }
}

/// d2l's `init_cnn`: Xavier-uniform weights for every convolution and linear layer.
pub(crate) const XAVIER: burn::nn::Initializer = burn::nn::Initializer::XavierUniform { gain: 1.0 };
