//! The layer table of a spec, worked out without a backend: output shape, parameters,
//! multiply-accumulates and activation memory of every layer, and the totals the chapter compares.

use crate::SpecError;
use crate::graph::{Layer, OpKind, Primitive};
use crate::limits::{MAX_CHANNELS, MAX_MACS, MAX_SIZE, MAX_VALUES};
use crate::shapes::{self, Figures, Fold, Shape};
use crate::spec::{InputSpec, ModelSpec};

/// Bytes per value: every tensor here is f32.
pub const BYTES: u64 = 4;

/// One layer of the table. `shape` is `[channels, height, width]`; after flattening it is
/// `[features, 1, 1]`. Merges (a concat, a residual add) have rows of their own.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The path through the blocks, e.g. `stage 2 / block 1 / conv 1`.
    pub name: String,
    /// The outermost block the layer belongs to, for block-level summaries.
    pub block: String,
    pub depth: usize,
    /// What the layer does, for code that picks rows.
    pub kind: OpKind,
    /// What the layer does, in the chapter's words, for people.
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
        let pool = self.rows.iter().rposition(|r| r.kind == OpKind::GlobalAvgPool)?;
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
                    let (kind, op) =
                        if row.depth == 0 { (row.kind, row.op.clone()) } else { (OpKind::Block, "block".into()) };
                    out.push(Row { name: row.block.clone(), depth: 0, kind, op, ..row.clone() })
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
    let mut table = Table { rows: Vec::new(), sums: [0; 3] };
    let (_, shape) = shapes::walk(&mut table, input.size, graph, &[], [input.channels, input.size, input.size])?;
    if shape != [input.classes, 1, 1] {
        // Only a family lowering bug gets here; the specs have no way to end elsewhere.
        let what = format!("the network ends in {shape:?}, not one score per class");
        return Err(SpecError::Mismatch { layer: "the output".into(), what });
    }
    Ok(Analysis { family, input, rows: table.rows })
}

/// The rows as the walk reaches them: a primitive layer when reached, a merge after its branches.
struct Table {
    rows: Vec<Row>,
    /// Parameters, MACs and activation values of the rows so far, each checked against its
    /// limit as it grows (a sum over many layers could wrap `usize` in the browser).
    sums: [u64; 3],
}

impl Table {
    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        here: &[&str],
        kind: OpKind,
        op: String,
        shape: Shape,
        params: usize,
        macs: u64,
    ) -> Result<(), SpecError> {
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
        let (name, block, depth) = (here.join(" / "), here[0].to_string(), here.len() - 1);
        let dense = kind == OpKind::Linear;
        self.rows.push(Row { name, block, depth, kind, op, shape, params, macs, dense, activations });
        Ok(())
    }
}

impl Fold for Table {
    type Out = ();

    fn primitive(&mut self, op: &Primitive, here: &[&str], f: Figures) -> Result<(), SpecError> {
        self.push(here, op.kind(), op.describe(), f.output, f.params, f.macs)
    }

    fn group(&mut self, _: Vec<()>) {}

    fn concat(&mut self, here: &[&str], _: Vec<()>, output: Shape) -> Result<(), SpecError> {
        self.push(here, OpKind::Concat, "concat".into(), output, 0, 0)
    }

    fn residual(&mut self, here: &[&str], _: Vec<()>, _: Vec<()>, output: Shape) -> Result<(), SpecError> {
        self.push(here, OpKind::Add, "add, ReLU".into(), output, 0, 0)
    }
}
