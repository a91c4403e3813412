//! The burn module of a layer graph. One `Node` per graph layer, so a forward pass can report
//! every row of the analysis table from the real tensors.

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{
    AdaptiveAvgPool2d, AdaptiveAvgPool2dConfig, AvgPool2d, AvgPool2dConfig, MaxPool2d, MaxPool2dConfig,
};
use burn::nn::{BatchNorm, BatchNormConfig, Dropout, DropoutConfig, Linear, LinearConfig, PaddingConfig2d, Relu};
use burn::prelude::*;
use burn::tensor::activation::relu;

use crate::analysis::windows;
use crate::graph::{Layer, Op};

/// d2l's `init_cnn`: Xavier-uniform weights for every convolution and linear layer.
const XAVIER: burn::nn::Initializer = burn::nn::Initializer::XavierUniform { gain: 1.0 };

/// Reshapes `[batch, c, h, w]` to `[batch, c*h*w, 1, 1]`: every node maps 4-d tensors to 4-d
/// tensors, so a graph of any shape runs through one `forward`.
#[derive(Module, Debug, Default)]
pub struct Flatten;

#[derive(Module, Debug)]
pub struct Branches {
    branches: Vec<Vec<Node>>,
}

#[derive(Module, Debug)]
pub struct Residual {
    body: Vec<Node>,
    shortcut: Vec<Node>,
}

#[derive(Module, Debug)]
pub enum Node {
    Conv(Conv2d),
    BatchNorm(BatchNorm),
    Relu(Relu),
    MaxPool(MaxPool2d),
    AvgPool(AvgPool2d),
    GlobalAvgPool(AdaptiveAvgPool2d),
    Flatten(Flatten),
    Linear(Linear),
    Dropout(Dropout),
    Group(Vec<Node>),
    Concat(Branches),
    Residual(Residual),
}

/// What one graph row holds in the built module, in the analysis table's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Traced {
    pub shape: [usize; 3],
    pub params: usize,
}

fn pad(p: usize) -> PaddingConfig2d {
    PaddingConfig2d::Explicit(p, p, p, p)
}

impl Node {
    /// Builds `layer` for an input of `channels`; returns the node and its output channels.
    /// Callers analyse the graph first, so every size here is one that works.
    pub(crate) fn new(layer: &Layer, channels: usize, flat: usize, device: &Device) -> (Self, usize) {
        match &layer.op {
            &Op::Conv { channels: out, kernel, stride, padding, groups } => {
                let conv = Conv2dConfig::new([channels, out], [kernel, kernel])
                    .with_stride([stride, stride])
                    .with_padding(pad(padding))
                    .with_groups(groups)
                    .with_initializer(XAVIER)
                    .init(device);
                (Node::Conv(conv), out)
            }
            Op::BatchNorm => (Node::BatchNorm(BatchNormConfig::new(channels).init(device)), channels),
            Op::Relu => (Node::Relu(Relu), channels),
            &Op::MaxPool { kernel, stride, padding } => {
                let pool =
                    MaxPool2dConfig::new([kernel, kernel]).with_strides([stride, stride]).with_padding(pad(padding));
                (Node::MaxPool(pool.init()), channels)
            }
            &Op::AvgPool { kernel, stride } => {
                (Node::AvgPool(AvgPool2dConfig::new([kernel, kernel]).with_strides([stride, stride]).init()), channels)
            }
            Op::GlobalAvgPool => (Node::GlobalAvgPool(AdaptiveAvgPool2dConfig::new([1, 1]).init()), channels),
            Op::Flatten => (Node::Flatten(Flatten), flat),
            &Op::Linear { features } => {
                let linear = LinearConfig::new(flat, features).with_initializer(XAVIER).init(device);
                (Node::Linear(linear), features)
            }
            &Op::Dropout { prob } => (Node::Dropout(DropoutConfig::new(prob).init()), channels),
            Op::Group(_) | Op::Concat(_) | Op::Residual { .. } => unreachable!("built by Node::graph"),
        }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.run(x, &mut None)
    }

    /// The forward pass; with `trace`, each row's output shape and learnable parameter count.
    pub(crate) fn run(&self, x: Tensor<4>, trace: &mut Option<Vec<Traced>>) -> Tensor<4> {
        let y = match self {
            Node::Group(nodes) => return run_seq(nodes, x, trace),
            Node::Concat(b) => {
                Tensor::cat(b.branches.iter().map(|nodes| run_seq(nodes, x.clone(), trace)).collect(), 1)
            }
            Node::Residual(r) => {
                let body = run_seq(&r.body, x.clone(), trace);
                relu(body + run_seq(&r.shortcut, x, trace))
            }
            Node::Conv(conv) => conv.forward(x),
            Node::BatchNorm(bn) => bn.forward(x),
            Node::Relu(_) => relu(x),
            Node::MaxPool(pool) => pool.forward(x),
            Node::AvgPool(pool) => pool.forward(x),
            Node::GlobalAvgPool(pool) => pool.forward(x),
            Node::Flatten(_) => {
                let [b, c, h, w] = x.dims();
                x.reshape([b, c * h * w, 1, 1])
            }
            Node::Linear(linear) => {
                let [b, c, h, w] = x.dims();
                let y = linear.forward(x.reshape([b, c * h * w]));
                let features = y.dims()[1];
                y.reshape([b, features, 1, 1])
            }
            Node::Dropout(dropout) => dropout.forward(x),
        };
        if let Some(rows) = trace {
            let [_, c, h, w] = y.dims();
            rows.push(Traced { shape: [c, h, w], params: self.learnable_params() });
        }
        y
    }

    /// burn's `num_params` also counts batch norm's running mean and variance; the table, like
    /// PyTorch, counts only what the optimiser updates. Nodes that hold others count them all.
    pub(crate) fn learnable_params(&self) -> usize {
        match self {
            Node::BatchNorm(bn) => bn.gamma.num_params() + bn.beta.num_params(),
            Node::Conv(_) | Node::Linear(_) => self.num_params(),
            _ => 0,
        }
    }

    pub(crate) fn all_learnable_params(nodes: &[Node]) -> usize {
        let count = |node: &Node| match node {
            Node::Group(nodes) => Node::all_learnable_params(nodes),
            Node::Concat(b) => b.branches.iter().map(|n| Node::all_learnable_params(n)).sum(),
            Node::Residual(r) => Node::all_learnable_params(&r.body) + Node::all_learnable_params(&r.shortcut),
            leaf => leaf.learnable_params(),
        };
        nodes.iter().map(count).sum()
    }
}

pub(crate) fn run_seq(nodes: &[Node], x: Tensor<4>, trace: &mut Option<Vec<Traced>>) -> Tensor<4> {
    nodes.iter().fold(x, |x, node| node.run(x, trace))
}

/// Builds the nodes of `layers` for an input of `shape`; the shapes come from the analysis, which
/// has already walked the same graph.
pub(crate) fn build(layers: &[Layer], shape: [usize; 3], device: &Device) -> (Vec<Node>, [usize; 3]) {
    let mut shape = shape;
    let mut nodes = Vec::with_capacity(layers.len());
    for layer in layers {
        let (node, out) = build_one(layer, shape, device);
        nodes.push(node);
        shape = out;
    }
    (nodes, shape)
}

fn build_one(layer: &Layer, shape: [usize; 3], device: &Device) -> (Node, [usize; 3]) {
    match &layer.op {
        Op::Group(children) => {
            let (nodes, out) = build(children, shape, device);
            (Node::Group(nodes), out)
        }
        Op::Concat(branches) => {
            let mut channels = 0;
            let mut out = shape;
            let branches = (branches.iter())
                .map(|b| {
                    let (node, o) = build_one(b, shape, device);
                    channels += o[0];
                    out = o;
                    match node {
                        Node::Group(nodes) => nodes,
                        node => vec![node],
                    }
                })
                .collect();
            (Node::Concat(Branches { branches }), [channels, out[1], out[2]])
        }
        Op::Residual { body, shortcut } => {
            let (body, out) = build(body, shape, device);
            let (shortcut, _) = build(shortcut, shape, device);
            (Node::Residual(Residual { body, shortcut }), out)
        }
        op => {
            let [c, h, w] = shape;
            let (node, channels) = Node::new(layer, c, c * h * w, device);
            (node, spatial(op, [channels, h, w]))
        }
    }
}

/// The map size after a primitive layer, for the next layer's input channels and features.
fn spatial(op: &Op, [c, h, w]: [usize; 3]) -> [usize; 3] {
    let win = |x, k, s, p| windows(x, k, s, p).unwrap_or(0);
    match *op {
        Op::Conv { kernel, stride, padding, .. } | Op::MaxPool { kernel, stride, padding } => {
            [c, win(h, kernel, stride, padding), win(w, kernel, stride, padding)]
        }
        Op::AvgPool { kernel, stride } => [c, win(h, kernel, stride, 0), win(w, kernel, stride, 0)],
        Op::GlobalAvgPool | Op::Flatten | Op::Linear { .. } => [c, 1, 1],
        _ => [c, h, w],
    }
}
