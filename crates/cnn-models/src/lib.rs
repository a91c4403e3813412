//! Architectures as data, and the burn modules built from them:
//! - [`spec`]: serde specs of every family in d2l's "Modern CNNs" chapter; [`presets`]: named ones;
//! - [`graph`]: one layer graph that every family lowers to; `shapes`: the one walk over it that
//!   works out every layer's shape, which the analysis and the module both fold over;
//! - [`limits`]: how large a spec may make a network;
//! - [`analysis`]: the layer table (shapes, parameters, MACs, memory) of a graph, without a
//!   backend, which is also where a spec that cannot work is refused with a sentence;
//! - [`module`]: the burn module of a graph, which can report the same table from real tensors;
//! - [`compare`]: two tables side by side; [`units`]: their numbers as text.

pub mod analysis;
pub mod compare;
mod error;
pub mod graph;
pub mod limits;
pub mod module;
pub mod presets;
mod shapes;
pub mod spec;
pub mod units;

use burn::prelude::*;

pub use analysis::{Analysis, Row, Totals};
pub use error::SpecError;
pub use module::Traced;
pub use presets::{PRESETS, Preset};
pub use spec::*;

/// A network built from a spec, on one device.
#[derive(Module, Debug)]
pub struct Model {
    nodes: Vec<module::Node>,
}

impl Model {
    /// Logits `[batch, classes]` for images `[batch, channels, size, size]`.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        module::run_seq(&self.nodes, images, &mut None).flatten(1, 3)
    }

    /// What the optimiser updates: burn's `num_params` less batch norm's running statistics.
    pub fn learnable_params(&self) -> usize {
        module::Node::all_learnable_params(&self.nodes)
    }

    /// Each analysis row's output shape and learnable parameters, read off a real forward pass.
    pub fn trace(&self, images: Tensor<4>) -> Vec<Traced> {
        let mut trace = Some(module::Trace::default());
        let _ = module::run_seq(&self.nodes, images, &mut trace);
        trace.map(|t| t.rows).unwrap_or_default()
    }

    /// What analysis row `row` (counted from 0, as the table lists them) outputs for `images`:
    /// `[batch, channels, height, width]`, its feature maps; none past the last row.
    pub fn feature_maps(&self, images: Tensor<4>, row: usize) -> Option<Tensor<4>> {
        let mut trace = Some(module::Trace { keep: Some(row), ..Default::default() });
        let _ = module::run_seq(&self.nodes, images, &mut trace);
        trace.and_then(|t| t.kept)
    }

    /// The logits, and row `row`'s output made a leaf of the autodiff graph (see
    /// [`feature_maps`](Self::feature_maps)), whose gradient after `backward` says how each of
    /// its values moves a class score. On an autodiff device only.
    pub fn forward_with_leaf(&self, images: Tensor<4>, row: usize) -> (Tensor<2>, Option<Tensor<4>>) {
        let mut trace = Some(module::Trace { keep: Some(row), leaf: true, ..Default::default() });
        let logits = module::run_seq(&self.nodes, images, &mut trace).flatten(1, 3);
        (logits, trace.and_then(|t| t.kept))
    }

    /// The first convolution's weights, `[out channels, in channels, k, k]`: what the network
    /// looks for in the pixels themselves.
    pub fn first_filters(&self) -> Option<Tensor<4>> {
        module::first_filters(&self.nodes)
    }
}

impl ModelSpec {
    /// Builds the module after checking that every layer gets a map it can work on.
    pub fn init(&self, input: InputSpec, device: &Device) -> Result<Model, SpecError> {
        let graph = self.graph(input.classes)?;
        // The analysis refuses what the limits refuse, before a parameter is drawn.
        analysis::analyze_graph(self.family(), &graph, input)?;
        let nodes = module::build(&graph, input.size, [input.channels, input.size, input.size], device)?;
        let model = Model { nodes };
        // burn draws a parameter's values when it is first read, so a model left lazy would draw
        // them in its first forward pass, whatever else has drawn from the generator since.
        model.visit(&mut DrawNow);
        Ok(model)
    }
}

/// Reads every parameter once, which draws the lazy ones.
struct DrawNow;

impl burn::module::ModuleVisitor for DrawNow {
    fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<D>>) {
        let _ = param.val();
    }
}
