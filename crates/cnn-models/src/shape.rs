//! Output shapes layer by layer, from the spec alone. The modules are built only from specs that
//! pass through here, so a bad spec reaches the user as a sentence, never as a panic inside burn.

use crate::spec::{InputSpec, ModelSpec, ResNetSpec, VggSpec};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    #[error(
        "{layer} gets a {height}x{width} map and would shrink it below 1x1: use images larger than {size} pixels or fewer blocks"
    )]
    Shrinks { layer: String, height: usize, width: usize, size: usize },
    #[error("{layer} has zero {what}: every layer needs at least one")]
    Zero { layer: String, what: &'static str },
    #[error("the model has no {0}: add at least one")]
    Empty(&'static str),
}

/// One named stage of the network and the shape of what it outputs: `[channels, height, width]`
/// for maps, `[features, 1, 1]` after flattening.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerShape {
    pub name: String,
    pub shape: [usize; 3],
}

/// A walk through the layers that tracks the map's shape.
struct Walk {
    input: InputSpec,
    shape: [usize; 3],
    layers: Vec<LayerShape>,
}

impl Walk {
    fn new(input: InputSpec) -> Result<Self, SpecError> {
        for (what, value) in
            [("input channels", input.channels), ("image size", input.size), ("classes", input.classes)]
        {
            if value == 0 {
                return Err(SpecError::Zero { layer: "the input".into(), what });
            }
        }
        Ok(Self { input, shape: [input.channels, input.size, input.size], layers: Vec::new() })
    }

    /// A kernel `k`, stride `s`, padding `p` window over the map, as PyTorch and burn count it.
    fn window(&mut self, layer: &str, k: usize, s: usize, p: usize) -> Result<(), SpecError> {
        let [_, h, w] = self.shape;
        let out = |x: usize| (x + 2 * p).checked_sub(k).map(|d| d / s + 1).filter(|&o| o > 0);
        match (out(h), out(w)) {
            (Some(oh), Some(ow)) => {
                self.shape[1] = oh;
                self.shape[2] = ow;
                Ok(())
            }
            _ => Err(SpecError::Shrinks { layer: layer.into(), height: h, width: w, size: self.input.size }),
        }
    }

    fn channels(&mut self, layer: &str, channels: usize) -> Result<(), SpecError> {
        if channels == 0 {
            return Err(SpecError::Zero { layer: layer.into(), what: "channels" });
        }
        self.shape[0] = channels;
        Ok(())
    }

    fn record(&mut self, name: String) {
        self.layers.push(LayerShape { name, shape: self.shape });
    }

    fn dense(&mut self, name: &str, features: usize) -> Result<(), SpecError> {
        if features == 0 {
            return Err(SpecError::Zero { layer: name.into(), what: "features" });
        }
        self.shape = [features, 1, 1];
        self.record(name.into());
        Ok(())
    }
}

impl ModelSpec {
    /// Output shape after each block, or the first layer that cannot work at this input.
    pub fn shapes(&self, input: InputSpec) -> Result<Vec<LayerShape>, SpecError> {
        let mut walk = Walk::new(input)?;
        match self {
            ModelSpec::Vgg(spec) => vgg(spec, &mut walk)?,
            ModelSpec::ResNet(spec) => resnet(spec, &mut walk)?,
        }
        Ok(walk.layers)
    }
}

fn vgg(spec: &VggSpec, walk: &mut Walk) -> Result<(), SpecError> {
    if spec.arch.is_empty() {
        return Err(SpecError::Empty("VGG blocks"));
    }
    for (i, &(convs, channels)) in spec.arch.iter().enumerate() {
        let name = format!("VGG block {}", i + 1);
        if convs == 0 {
            return Err(SpecError::Zero { layer: name, what: "convolutions" });
        }
        walk.channels(&name, channels)?;
        walk.window(&format!("the 2x2 max-pool of {name}"), 2, 2, 0)?;
        walk.record(name);
    }
    let flat = walk.shape.iter().product();
    walk.dense("flatten", flat)?;
    walk.dense("linear 1", spec.head_width)?;
    walk.dense("linear 2", spec.head_width)?;
    walk.dense("output", walk.input.classes)
}

fn resnet(spec: &ResNetSpec, walk: &mut Walk) -> Result<(), SpecError> {
    if spec.stages.is_empty() {
        return Err(SpecError::Empty("ResNet stages"));
    }
    walk.channels("the stem", spec.stem_channels)?;
    walk.window("the 7x7 stem convolution", 7, 2, 3)?;
    walk.window("the stem's 3x3 max-pool", 3, 2, 1)?;
    walk.record("stem".into());
    for (i, &(residuals, channels)) in spec.stages.iter().enumerate() {
        let name = format!("ResNet stage {}", i + 1);
        if residuals == 0 {
            return Err(SpecError::Zero { layer: name, what: "residual blocks" });
        }
        walk.channels(&name, channels)?;
        if i > 0 {
            walk.window(&format!("the strided first block of {name}"), 3, 2, 1)?;
        }
        walk.record(name);
    }
    walk.dense("global average pool", walk.shape[0])?;
    walk.dense("output", walk.input.classes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shapes(preset: &str, size: usize) -> Vec<(String, [usize; 3])> {
        let spec = ModelSpec::preset(preset).unwrap();
        spec.shapes(InputSpec::fashion_mnist(size)).unwrap().into_iter().map(|l| (l.name, l.shape)).collect()
    }

    #[test]
    fn vgg11_block_shapes_at_224() {
        let got: Vec<[usize; 3]> = shapes("vgg11", 224).into_iter().map(|(_, s)| s).collect();
        assert_eq!(
            got,
            [
                [64, 112, 112],
                [128, 56, 56],
                [256, 28, 28],
                [512, 14, 14],
                [512, 7, 7],
                [25088, 1, 1],
                [4096, 1, 1],
                [4096, 1, 1],
                [10, 1, 1]
            ]
        );
    }

    #[test]
    fn resnet_small_shapes_at_56() {
        let got: Vec<[usize; 3]> = shapes("resnet-small", 56).into_iter().map(|(_, s)| s).collect();
        assert_eq!(got, [[16, 14, 14], [16, 14, 14], [32, 7, 7], [64, 4, 4], [128, 2, 2], [128, 1, 1], [10, 1, 1]]);
    }

    #[test]
    fn vgg_small_fits_56_and_84_but_not_28() {
        assert_eq!(shapes("vgg-small", 56)[4].1, [128, 1, 1]);
        assert_eq!(shapes("vgg-small", 84)[4].1, [128, 2, 2]);
        let err = ModelSpec::preset("vgg-small").unwrap().shapes(InputSpec::fashion_mnist(28)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the 2x2 max-pool of VGG block 5 gets a 1x1 map and would shrink it below 1x1: use images larger than 28 pixels or fewer blocks"
        );
    }

    #[test]
    fn zero_widths_and_empty_specs_name_the_layer() {
        let spec = ModelSpec::Vgg(VggSpec { arch: vec![(1, 8), (1, 0)], head_width: 16, dropout: 0.5 });
        let err = spec.shapes(InputSpec::fashion_mnist(28)).unwrap_err();
        assert_eq!(err.to_string(), "VGG block 2 has zero channels: every layer needs at least one");
        let spec = ModelSpec::ResNet(ResNetSpec { stem_channels: 8, stages: vec![] });
        assert_eq!(spec.shapes(InputSpec::fashion_mnist(28)).unwrap_err(), SpecError::Empty("ResNet stages"));
        let spec = ModelSpec::preset("resnet-small").unwrap();
        let err = spec.shapes(InputSpec { channels: 1, size: 0, classes: 10 }).unwrap_err();
        assert_eq!(err.to_string(), "the input has zero image size: every layer needs at least one");
    }
}
