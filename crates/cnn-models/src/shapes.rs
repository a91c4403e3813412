//! The one walk over a layer graph that works out what every layer gets and makes, and refuses a
//! layer that cannot work on what it gets. The analysis (the table) and `module::build` (the burn
//! module) are both folds over it, so they cannot disagree about a shape, and neither walks the
//! graph in step with the other.

use crate::SpecError;
use crate::graph::{Layer, Op, Primitive};
use crate::limits::fits;

/// `[channels, height, width]`; after flattening, `[features, 1, 1]`.
pub type Shape = [usize; 3];

/// What a primitive layer holds and computes per image, worked out with its shape.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Figures {
    pub input: Shape,
    pub output: Shape,
    /// Learnable parameters (weights, biases, batch norm's scale and shift).
    pub params: usize,
    /// Conv: `c_in * c_out * h_out * w_out * k * k / groups`; linear: `in * out`; others none.
    pub macs: u64,
}

/// What a walk builds at each layer, once the layer's shapes are known. `here` is the layer's
/// path through the blocks, its own name last.
pub(crate) trait Fold {
    type Out;
    fn primitive(&mut self, op: &Primitive, here: &[&str], figures: Figures) -> Result<Self::Out, SpecError>;
    fn group(&mut self, children: Vec<Self::Out>) -> Self::Out;
    /// After its branches, each one layer.
    fn concat(&mut self, here: &[&str], branches: Vec<Self::Out>, output: Shape) -> Result<Self::Out, SpecError>;
    fn residual(
        &mut self,
        here: &[&str],
        body: Vec<Self::Out>,
        shortcut: Vec<Self::Out>,
        output: Shape,
    ) -> Result<Self::Out, SpecError>;
}

/// Folds `layers` in order from an input of `shape` at image size `size` (named in the sentence
/// of a layer that would shrink the map away); what each layer built, and the last output.
pub(crate) fn walk<F: Fold>(
    fold: &mut F,
    size: usize,
    layers: &[Layer],
    path: &[&str],
    mut shape: Shape,
) -> Result<(Vec<F::Out>, Shape), SpecError> {
    let mut built = Vec::with_capacity(layers.len());
    for layer in layers {
        let (out, output) = one(fold, size, layer, path, shape)?;
        built.push(out);
        shape = output;
    }
    Ok((built, shape))
}

fn one<F: Fold>(
    fold: &mut F,
    size: usize,
    l: &Layer,
    path: &[&str],
    input: Shape,
) -> Result<(F::Out, Shape), SpecError> {
    let mut here = path.to_vec();
    here.push(&l.name);
    let name = || here.join(" / ");
    let [_, h, w] = input;
    match &l.op {
        Op::Group(children) => {
            let (built, output) = walk(fold, size, children, &here, input)?;
            Ok((fold.group(built), output))
        }
        Op::Concat(branches) => {
            let (mut built, mut channels) = (Vec::with_capacity(branches.len()), 0);
            for b in branches {
                let (out, [bc, bh, bw]) = one(fold, size, b, &here, input)?;
                if [bh, bw] != [h, w] {
                    let what = format!("branch {} changes the map from {h}x{w} to {bh}x{bw}", b.name);
                    return Err(SpecError::Mismatch { layer: name(), what });
                }
                built.push(out);
                channels += bc;
            }
            let output = [channels, h, w];
            Ok((fold.concat(&here, built, output)?, output))
        }
        Op::Residual { body, shortcut } => {
            let (body, output) = walk(fold, size, body, &here, input)?;
            let (shortcut, skip) = walk(fold, size, shortcut, &here, input)?;
            if output != skip {
                let what = format!("the body makes {output:?} but the shortcut {skip:?}");
                return Err(SpecError::Mismatch { layer: name(), what });
            }
            Ok((fold.residual(&here, body, shortcut, output)?, output))
        }
        Op::Primitive(op) => {
            let figures = figures(op, &name(), input, size)?;
            Ok((fold.primitive(op, &here, figures)?, figures.output))
        }
    }
}

/// `k x k` windows with stride `s` over `x + 2p` pixels, as PyTorch and burn count them.
fn windows(x: usize, k: usize, s: usize, p: usize) -> Option<usize> {
    let padded = (x as u64).saturating_add((p as u64).saturating_mul(2));
    padded.checked_sub(k as u64).and_then(|d| usize::try_from(d / s as u64 + 1).ok())
}

/// What primitive `op` (layer `name`) makes of `input`, or why it cannot work on it.
fn figures(op: &Primitive, name: &str, input: Shape, size: usize) -> Result<Figures, SpecError> {
    let [c, h, w] = input;
    let window = |k: usize, s: usize, p: usize| -> Result<Shape, SpecError> {
        if k == 0 || s == 0 {
            let what = if k == 0 { "kernel size" } else { "stride" };
            return Err(SpecError::Zero { layer: name.into(), what });
        }
        match (windows(h, k, s, p), windows(w, k, s, p)) {
            (Some(oh), Some(ow)) if oh > 0 && ow > 0 => Ok([c, oh, ow]),
            _ => Err(SpecError::Shrinks { layer: name.into(), op: op.describe(), height: h, width: w, size }),
        }
    };
    let flat = (c as u64) * (h as u64) * (w as u64);
    let (output, params, macs) = match *op {
        Primitive::Conv { channels, kernel, stride, padding, groups } => {
            if channels == 0 {
                return Err(SpecError::Zero { layer: name.into(), what: "channels" });
            }
            if groups == 0 || c % groups != 0 || channels % groups != 0 {
                let op = op.describe();
                return Err(SpecError::Groups { layer: name.into(), op, inputs: c, outputs: channels, groups });
            }
            let [_, oh, ow] = window(kernel, stride, padding)?;
            let per_output = ((c / groups) as u64).saturating_mul((kernel as u64).saturating_pow(2));
            let params = fits(name, "parameters", (channels as u64).saturating_mul(per_output.saturating_add(1)))?;
            fits(name, "outputs", (channels as u64).saturating_mul(oh as u64).saturating_mul(ow as u64))?;
            let macs = ((channels * oh * ow) as u64).saturating_mul(per_output);
            ([channels, oh, ow], params, macs)
        }
        Primitive::BatchNorm => (input, 2 * c, 0),
        Primitive::Relu => (input, 0, 0),
        Primitive::Dropout { prob } => {
            if !(0.0..1.0).contains(&prob) {
                return Err(SpecError::Dropout { layer: name.into(), value: prob });
            }
            (input, 0, 0)
        }
        Primitive::MaxPool { kernel, stride, padding } => (window(kernel, stride, padding)?, 0, 0),
        Primitive::AvgPool { kernel, stride } => (window(kernel, stride, 0)?, 0, 0),
        Primitive::GlobalAvgPool => ([c, 1, 1], 0, 0),
        Primitive::Flatten => ([fits(name, "outputs", flat)?, 1, 1], 0, 0),
        Primitive::Linear { features } => {
            if features == 0 {
                return Err(SpecError::Zero { layer: name.into(), what: "features" });
            }
            let params = fits(name, "parameters", (flat + 1).saturating_mul(features as u64))?;
            ([features, 1, 1], params, flat * features as u64)
        }
    };
    Ok(Figures { input, output, params, macs })
}
