//! The layer table of a spec, worked out without a backend: output shape, parameters,
//! multiply-accumulates and activation memory of every layer, and the totals the chapter compares.

use crate::SpecError;
use crate::graph::{Layer, Op};
use crate::spec::{InputSpec, ModelSpec};

/// Bytes per value: every tensor here is f32.
pub const BYTES: u64 = 4;

/// The most values one layer may hold or output: 4 GiB of f32, all that wasm32 can address. The
/// arithmetic runs in u64 and is checked against it, so a typo like 100000 channels gets a
/// sentence, not numbers wrapped around `usize` (32 bits in the browser).
pub const MAX_VALUES: u64 = 1 << 30;

/// The most multiply-accumulates a model may take per image: a trillion, 50 times VGG-19's at
/// 224 pixels. A model's parameters and its activation values per image are bounded by
/// [`MAX_VALUES`], as one layer's are: they cannot be more than a browser addresses either.
pub const MAX_MACS: u64 = 1_000_000_000_000;

/// Input limits, for the same reason.
const MAX_SIZE: usize = 2048;
const MAX_CHANNELS: usize = 4096;

/// One layer of the table. `shape` is `[channels, height, width]`; after flattening it is
/// `[features, 1, 1]`. Merges (a concat, a residual add) have rows of their own.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The path through the blocks, e.g. `stage 2 / block 1 / conv 1`.
    pub name: String,
    /// The outermost block the layer belongs to, for block-level summaries.
    pub block: String,
    pub depth: usize,
    pub op: String,
    pub shape: [usize; 3],
    /// Learnable parameters (weights, biases, batch norm's scale and shift).
    pub params: usize,
    /// Conv: `c_in * c_out * h_out * w_out * k * k / groups`; linear: `in * out`; others none.
    pub macs: u64,
    /// Whether this is a fully connected layer, the other side of the conv/FC split.
    pub dense: bool,
    /// Output values per example, which autodiff keeps for the backward pass; for a block, the
    /// sum over its layers.
    pub activations: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Totals {
    pub conv_params: usize,
    pub dense_params: usize,
    pub conv_macs: u64,
    pub dense_macs: u64,
    /// Output values of every layer, per example.
    pub activations: u64,
}

impl Totals {
    pub fn params(&self) -> usize {
        self.conv_params + self.dense_params
    }

    pub fn macs(&self) -> u64 {
        self.conv_macs + self.dense_macs
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    pub family: &'static str,
    pub input: InputSpec,
    pub rows: Vec<Row>,
}

impl Analysis {
    /// For a network that ends in global average pooling (nothing after it has a spatial map),
    /// the row whose maps it averages: where its class activation maps are read. Rows are
    /// listed as the forward pass finishes them, so that is the row just before the pooling.
    pub fn pooled_row(&self) -> Option<usize> {
        let pool = self.rows.iter().rposition(|r| r.op == Op::GlobalAvgPool.describe())?;
        let flat_after = self.rows[pool..].iter().all(|r| r.shape[1..] == [1, 1]);
        (pool > 0 && flat_after).then(|| pool - 1)
    }

    pub fn totals(&self) -> Totals {
        let mut t = Totals::default();
        for row in &self.rows {
            if row.dense {
                t.dense_params += row.params;
                t.dense_macs += row.macs;
            } else {
                t.conv_params += row.params;
                t.conv_macs += row.macs;
            }
            t.activations += row.activations;
        }
        t
    }

    /// Bytes to train at `batch` with plain SGD, as an estimate: the weights and their gradients,
    /// plus the input and every layer's output for each example, which autodiff keeps for the
    /// backward pass. Workspace of the kernels and the allocator's slack come on top.
    pub fn training_memory(&self, batch: usize) -> u64 {
        let t = self.totals();
        let input = (self.input.channels * self.input.size * self.input.size) as u64;
        BYTES * (2 * t.params() as u64 + batch as u64 * (input + t.activations))
    }

    /// The rows summed per outermost block; the shape is the block's last output.
    pub fn blocks(&self) -> Vec<Row> {
        let mut out: Vec<Row> = Vec::new();
        for row in &self.rows {
            match out.last_mut() {
                Some(last) if last.name == row.block => {
                    last.shape = row.shape;
                    last.params += row.params;
                    last.macs += row.macs;
                    last.dense |= row.dense;
                    last.activations += row.activations;
                }
                _ => {
                    // A layer at the top level is its own block and keeps its description.
                    let op = if row.depth == 0 { row.op.clone() } else { "block".into() };
                    out.push(Row { name: row.block.clone(), depth: 0, op, ..row.clone() })
                }
            }
        }
        out
    }
}

impl ModelSpec {
    /// The layer table at this input, or the first layer that cannot work there.
    pub fn analyze(&self, input: InputSpec) -> Result<Analysis, SpecError> {
        analyze_graph(self.family(), &self.graph(input.classes)?, input)
    }
}

/// The table of a layer graph at `input`; [`ModelSpec::analyze`] for the graph of a spec.
pub fn analyze_graph(family: &'static str, graph: &[Layer], input: InputSpec) -> Result<Analysis, SpecError> {
    let inputs = [("input channels", input.channels, MAX_CHANNELS), ("image size", input.size, MAX_SIZE)];
    for (what, value, max) in inputs.into_iter().chain([("classes", input.classes, MAX_VALUES as usize)]) {
        if value == 0 {
            return Err(SpecError::Zero { layer: "the input".into(), what });
        }
        if value > max {
            return Err(SpecError::Input { what, value, max });
        }
    }
    let mut walk = Walk { size: input.size, rows: Vec::new(), sums: [0; 3] };
    let shape = walk.seq(graph, &[], [input.channels, input.size, input.size])?;
    if shape != [input.classes, 1, 1] {
        // Only a family lowering bug gets here; the specs have no way to end elsewhere.
        let what = format!("the network ends in {shape:?}, not one score per class");
        return Err(SpecError::Mismatch { layer: "the output".into(), what });
    }
    Ok(Analysis { family, input, rows: walk.rows })
}

/// `count` as a `usize`, if a layer may hold that many values.
fn fits(layer: &str, what: &'static str, count: u64) -> Result<usize, SpecError> {
    match usize::try_from(count) {
        Ok(n) if count <= MAX_VALUES => Ok(n),
        _ => Err(SpecError::TooLarge { layer: layer.into(), what, count, max: MAX_VALUES }),
    }
}

struct Walk {
    size: usize,
    rows: Vec<Row>,
    /// Parameters, MACs and activation values of the rows so far, each checked against its
    /// limit as it grows (a sum over many layers could wrap `usize` in the browser).
    sums: [u64; 3],
}

/// `k x k` windows with stride `s` over `x + 2p` pixels, as PyTorch and burn count them.
fn windows(x: usize, k: usize, s: usize, p: usize) -> Option<usize> {
    let padded = (x as u64).saturating_add((p as u64).saturating_mul(2));
    padded.checked_sub(k as u64).and_then(|d| usize::try_from(d / s as u64 + 1).ok())
}

impl Walk {
    fn seq(&mut self, layers: &[Layer], path: &[&str], mut shape: [usize; 3]) -> Result<[usize; 3], SpecError> {
        for l in layers {
            shape = self.layer(l, path, shape)?;
        }
        Ok(shape)
    }

    fn layer(&mut self, l: &Layer, path: &[&str], input: [usize; 3]) -> Result<[usize; 3], SpecError> {
        let mut here = path.to_vec();
        here.push(&l.name);
        let name = here.join(" / ");
        let [c, h, w] = input;
        let size = self.size;
        let window = |k: usize, s: usize, p: usize| -> Result<[usize; 3], SpecError> {
            if k == 0 || s == 0 {
                let what = if k == 0 { "kernel size" } else { "stride" };
                return Err(SpecError::Zero { layer: name.clone(), what });
            }
            match (windows(h, k, s, p), windows(w, k, s, p)) {
                (Some(oh), Some(ow)) if oh > 0 && ow > 0 => Ok([c, oh, ow]),
                _ => Err(SpecError::Shrinks { layer: name.clone(), op: l.op.describe(), height: h, width: w, size }),
            }
        };
        let (shape, params, macs, dense) = match &l.op {
            Op::Group(children) => return self.seq(children, &here, input),
            Op::Concat(branches) => {
                let mut channels = 0;
                for b in branches {
                    let [bc, bh, bw] = self.layer(b, &here, input)?;
                    if [bh, bw] != [h, w] {
                        let what = format!("branch {} changes the map from {h}x{w} to {bh}x{bw}", b.name);
                        return Err(SpecError::Mismatch { layer: name, what });
                    }
                    channels += bc;
                }
                ([channels, h, w], 0, 0, false)
            }
            Op::Residual { body, shortcut } => {
                let out = self.seq(body, &here, input)?;
                let skip = self.seq(shortcut, &here, input)?;
                if out != skip {
                    let what = format!("the body makes {out:?} but the shortcut {skip:?}");
                    return Err(SpecError::Mismatch { layer: name, what });
                }
                (out, 0, 0, false)
            }
            &Op::Conv { channels, kernel, stride, padding, groups } => {
                if channels == 0 {
                    return Err(SpecError::Zero { layer: name, what: "channels" });
                }
                if groups == 0 || c % groups != 0 || channels % groups != 0 {
                    let op = l.op.describe();
                    return Err(SpecError::Groups { layer: name, op, inputs: c, outputs: channels, groups });
                }
                let [_, oh, ow] = window(kernel, stride, padding)?;
                let per_output = ((c / groups) as u64).saturating_mul((kernel as u64).saturating_pow(2));
                let params = fits(&name, "parameters", (channels as u64).saturating_mul(per_output.saturating_add(1)))?;
                fits(&name, "outputs", (channels as u64).saturating_mul(oh as u64).saturating_mul(ow as u64))?;
                let macs = ((channels * oh * ow) as u64).saturating_mul(per_output);
                ([channels, oh, ow], params, macs, false)
            }
            Op::BatchNorm => (input, 2 * c, 0, false),
            Op::Relu => (input, 0, 0, false),
            &Op::Dropout { prob } => {
                if !(0.0..1.0).contains(&prob) {
                    return Err(SpecError::Dropout { layer: name, value: prob });
                }
                (input, 0, 0, false)
            }
            &Op::MaxPool { kernel, stride, padding } => (window(kernel, stride, padding)?, 0, 0, false),
            &Op::AvgPool { kernel, stride } => (window(kernel, stride, 0)?, 0, 0, false),
            Op::GlobalAvgPool => ([c, 1, 1], 0, 0, false),
            Op::Flatten => ([fits(&name, "outputs", (c as u64) * (h as u64) * (w as u64))?, 1, 1], 0, 0, false),
            &Op::Linear { features } => {
                if features == 0 {
                    return Err(SpecError::Zero { layer: name, what: "features" });
                }
                let inputs = (c as u64) * (h as u64) * (w as u64);
                let params = fits(&name, "parameters", (inputs + 1).saturating_mul(features as u64))?;
                ([features, 1, 1], params, inputs * features as u64, true)
            }
        };
        let block = here[0].to_string();
        let depth = here.len() - 1;
        let activations = shape.iter().map(|&d| d as u64).product();
        let limits = [
            ("parameters", MAX_VALUES),
            ("multiply-accumulates per image", MAX_MACS),
            ("activation values per image", MAX_VALUES),
        ];
        for ((sum, add), (what, max)) in self.sums.iter_mut().zip([params as u64, macs, activations]).zip(limits) {
            *sum = sum.saturating_add(add);
            if *sum > max {
                return Err(SpecError::Limit { what, count: *sum, max });
            }
        }
        self.rows.push(Row { name, block, depth, op: l.op.describe(), shape, params, macs, dense, activations });
        Ok(shape)
    }
}
