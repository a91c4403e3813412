//! The burn module of a layer graph. One `Node` per graph layer, so a forward pass can report
//! every row of the analysis table from the real tensors.

use burn::module::Param;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{
    AdaptiveAvgPool2d, AdaptiveAvgPool2dConfig, AvgPool2d, AvgPool2dConfig, MaxPool2d, MaxPool2dConfig,
};
use burn::nn::{
    BatchNorm, BatchNormConfig, Dropout, DropoutConfig, Initializer, Linear, LinearConfig, PaddingConfig2d, Relu,
};
use burn::prelude::*;
use burn::tensor::ops::ConvOptions;
use cnn_kernels::relu;

use crate::SpecError;
use crate::graph::{Layer, Primitive};
use crate::shapes::{self, Figures, Fold, Shape};

/// d2l's `init_cnn`: Xavier-uniform weights for every convolution and linear layer.
const XAVIER: Initializer = Initializer::XavierUniform { gain: 1.0 };

/// d2l's `init_cnn` sets only the weights; biases keep PyTorch's default, uniform in
/// +-1/sqrt(fan_in). burn would draw them from the weights' Xavier range instead (1.7x as wide
/// for a 1x1 conv of ten channels), so a model here would start elsewhere than the book's.
fn pytorch_bias(features: usize, fan_in: usize, device: &Device) -> Option<Param<Tensor<1>>> {
    let bound = 1.0 / (fan_in as f64).sqrt();
    Some(Initializer::Uniform { min: -bound, max: bound }.init([features], device))
}

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

/// What a forward pass records: each analysis row's shape and parameters as it is reached, and
/// where `keep` names a row, that row's output.
#[derive(Default)]
pub(crate) struct Trace {
    pub rows: Vec<Traced>,
    pub keep: Option<usize>,
    /// Cut the kept row from what produced it and make it a leaf whose gradient `backward`
    /// keeps (autodiff devices only): how each of its values moves the network's output.
    pub leaf: bool,
    pub kept: Option<Tensor<4>>,
}

fn pad(p: usize) -> PaddingConfig2d {
    PaddingConfig2d::Explicit(p, p, p, p)
}

impl Node {
    /// The burn layer of `op` for an input of `[channels, height, width]`.
    fn new(op: &Primitive, [channels, h, w]: Shape, device: &Device) -> Self {
        match *op {
            Primitive::Conv { channels: out, kernel, stride, padding, groups } => {
                let mut conv = Conv2dConfig::new([channels, out], [kernel, kernel])
                    .with_stride([stride, stride])
                    .with_padding(pad(padding))
                    .with_groups(groups)
                    .with_initializer(XAVIER)
                    .init(device);
                conv.bias = pytorch_bias(out, channels / groups * kernel * kernel, device);
                Node::Conv(conv)
            }
            Primitive::BatchNorm => Node::BatchNorm(BatchNormConfig::new(channels).init(device)),
            Primitive::Relu => Node::Relu(Relu),
            Primitive::MaxPool { kernel, stride, padding } => {
                let pool =
                    MaxPool2dConfig::new([kernel, kernel]).with_strides([stride, stride]).with_padding(pad(padding));
                Node::MaxPool(pool.init())
            }
            Primitive::AvgPool { kernel, stride } => {
                Node::AvgPool(AvgPool2dConfig::new([kernel, kernel]).with_strides([stride, stride]).init())
            }
            Primitive::GlobalAvgPool => Node::GlobalAvgPool(AdaptiveAvgPool2dConfig::new([1, 1]).init()),
            Primitive::Flatten => Node::Flatten(Flatten),
            Primitive::Linear { features } => {
                let flat = channels * h * w;
                let mut linear = LinearConfig::new(flat, features).with_initializer(XAVIER).init(device);
                linear.bias = pytorch_bias(features, flat, device);
                Node::Linear(linear)
            }
            Primitive::Dropout { prob } => Node::Dropout(DropoutConfig::new(prob).init()),
        }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.run(x, &mut None)
    }

    /// The forward pass; with `trace`, each row's output shape and learnable parameter count.
    pub(crate) fn run(&self, x: Tensor<4>, trace: &mut Option<Trace>) -> Tensor<4> {
        let mut y = match self {
            Node::Group(nodes) => return run_seq(nodes, x, trace),
            Node::Concat(b) => {
                Tensor::cat(b.branches.iter().map(|nodes| run_seq(nodes, x.clone(), trace)).collect(), 1)
            }
            Node::Residual(r) => {
                let body = run_seq(&r.body, x.clone(), trace);
                relu(body + run_seq(&r.shortcut, x, trace))
            }
            Node::Conv(conv) => convolve(conv, x),
            Node::BatchNorm(bn) => batch_norm(bn, x),
            Node::Relu(_) => relu(x),
            Node::MaxPool(pool) => max_pool(pool, x),
            Node::AvgPool(pool) => pool.forward(x),
            Node::GlobalAvgPool(pool) => pool.forward(x),
            Node::Flatten(_) => {
                let [b, c, h, w] = x.dims();
                x.reshape([b, c * h * w, 1, 1])
            }
            Node::Linear(linear) => {
                let [b, c, h, w] = x.dims();
                let bias = linear.bias.as_ref().map(|b| b.val());
                let y = cnn_kernels::linear(x.reshape([b, c * h * w]), linear.weight.val(), bias);
                let features = y.dims()[1];
                y.reshape([b, features, 1, 1])
            }
            Node::Dropout(dropout) => drop_out(dropout, x),
        };
        if let Some(trace) = trace {
            if trace.keep == Some(trace.rows.len()) {
                if trace.leaf {
                    y = y.detach().require_grad();
                }
                trace.kept = Some(y.clone());
            }
            let [_, c, h, w] = y.dims();
            trace.rows.push(Traced { shape: [c, h, w], params: self.learnable_params() });
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

/// `Conv2d::forward` through [`cnn_kernels::conv2d`], whose gradients are faster on the CPU. Every
/// conv here is built with explicit padding ([`pad`]).
fn convolve(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    let PaddingConfig2d::Explicit(top, left, bottom, right) = conv.padding else {
        return conv.forward(x);
    };
    let options =
        ConvOptions::new_with_padding(conv.stride, [(top, bottom), (left, right)], conv.dilation, conv.groups);
    cnn_kernels::conv2d(x, conv.weight.val(), conv.bias.as_ref().map(|b| b.val()), options)
}

/// `BatchNorm::forward`, with a training batch normalised by [`cnn_kernels::batch_norm_train`]
/// (burn-flex runs burn's as a dozen tensor operations). The running statistics move as burn's do.
fn batch_norm(bn: &BatchNorm, x: Tensor<4>) -> Tensor<4> {
    if !(x.device().is_autodiff() && bn.training.is_enabled()) {
        return bn.forward(x);
    }
    let (y, mean, variance) = cnn_kernels::batch_norm_train(x, bn.gamma.val(), bn.beta.val(), bn.epsilon);
    let update = |running: &burn::module::RunningState<Tensor<1>>, batch: Tensor<1>| {
        let old = running.value_sync().to_device(&batch.device());
        running.update(old.mul_scalar(1.0 - bn.momentum).add(batch.detach().mul_scalar(bn.momentum)).detach());
    };
    update(&bn.running_mean, mean);
    update(&bn.running_var, variance);
    y
}

/// `Dropout::forward` with the mask of [`cnn_kernels::dropout`], drawn on every core of the CPU.
/// It drops only where burn's would: in training, on a device that can take gradients.
fn drop_out(dropout: &Dropout, x: Tensor<4>) -> Tensor<4> {
    if !(dropout.training.is_enabled() && x.device().is_autodiff() && dropout.prob > 0.0) {
        return x;
    }
    cnn_kernels::dropout(x, dropout.prob)
}

/// `MaxPool2d::forward` through [`cnn_kernels::max_pool2d`], faster on the CPU. Every pool here
/// has explicit, even padding and floor mode.
fn max_pool(pool: &MaxPool2d, x: Tensor<4>) -> Tensor<4> {
    match pool.padding {
        PaddingConfig2d::Explicit(top, left, bottom, right) if top == bottom && left == right && !pool.ceil_mode => {
            let options = cnn_kernels::PoolOptions {
                kernel: pool.kernel_size,
                stride: pool.stride,
                padding: [top, left],
                dilation: pool.dilation,
            };
            cnn_kernels::max_pool2d(x, options)
        }
        _ => pool.forward(x),
    }
}

/// The weights `[out, in, k, k]` of the first convolution the forward pass reaches.
pub(crate) fn first_filters(nodes: &[Node]) -> Option<Tensor<4>> {
    nodes.iter().find_map(|node| match node {
        Node::Conv(conv) => Some(conv.weight.val()),
        Node::Group(nodes) => first_filters(nodes),
        Node::Concat(b) => b.branches.first().and_then(|nodes| first_filters(nodes)),
        Node::Residual(r) => first_filters(&r.body),
        _ => None,
    })
}

pub(crate) fn run_seq(nodes: &[Node], x: Tensor<4>, trace: &mut Option<Trace>) -> Tensor<4> {
    nodes.iter().fold(x, |x, node| node.run(x, trace))
}

/// Builds the nodes of `layers` at image size `size`; the walk checks every shape first, so a
/// graph that cannot work is refused with its sentence before burn sees it.
pub(crate) fn build(layers: &[Layer], size: usize, shape: Shape, device: &Device) -> Result<Vec<Node>, SpecError> {
    Ok(shapes::walk(&mut Build { device }, size, layers, &[], shape)?.0)
}

struct Build<'a> {
    device: &'a Device,
}

impl Fold for Build<'_> {
    type Out = Node;

    fn primitive(&mut self, op: &Primitive, _: &[&str], figures: Figures) -> Result<Node, SpecError> {
        Ok(Node::new(op, figures.input, self.device))
    }

    fn group(&mut self, children: Vec<Node>) -> Node {
        Node::Group(children)
    }

    fn concat(&mut self, _: &[&str], branches: Vec<Node>, _: Shape) -> Result<Node, SpecError> {
        let branches = (branches.into_iter())
            .map(|branch| match branch {
                Node::Group(nodes) => nodes,
                node => vec![node],
            })
            .collect();
        Ok(Node::Concat(Branches { branches }))
    }

    fn residual(&mut self, _: &[&str], body: Vec<Node>, shortcut: Vec<Node>, _: Shape) -> Result<Node, SpecError> {
        Ok(Node::Residual(Residual { body, shortcut }))
    }
}
