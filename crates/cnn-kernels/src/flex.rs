//! [`ConvKernels`] on burn-flex: the [`cpu`] kernels for f32, burn's own for other types.

use burn::backend::Flex;
use burn::backend::TensorMetadata;
use burn::backend::ops::{ConvOptions, ModuleOps};
use burn::backend::tensor::FloatTensor;
use burn::tensor::{DType, TensorData};

use crate::ConvKernels;
use crate::cpu::{self, Geometry};

/// The geometry of a conv of `x` by `weight`, where the CPU kernels take it: f32 tensors.
fn geometry(x: &FloatTensor<Flex>, weight: &FloatTensor<Flex>, options: &ConvOptions<2>) -> Option<Geometry> {
    if x.dtype() != DType::F32 || weight.dtype() != DType::F32 {
        return None;
    }
    let [batch, c_in, h, w] = x.shape().dims();
    let [c_out, _, kh, kw] = weight.shape().dims();
    let [(top, bottom), (left, right)] = options.padding;
    let size = |input: usize, k: usize, stride: usize, dilation: usize, before: usize, after: usize| {
        (input + before + after).checked_sub(dilation * (k - 1) + 1).map(|span| span / stride + 1)
    };
    let oh = size(h, kh, options.stride[0], options.dilation[0], top, bottom)?;
    let ow = size(w, kw, options.stride[1], options.dilation[1], left, right)?;
    Some(Geometry {
        batch,
        c_in,
        h,
        w,
        c_out,
        kernel: [kh, kw],
        stride: options.stride,
        padding: [top, left],
        dilation: options.dilation,
        groups: options.groups,
        oh,
        ow,
    })
}

fn tensor(data: Vec<f32>, shape: [usize; 4]) -> FloatTensor<Flex> {
    FloatTensor::<Flex>::from_data(TensorData::new(data, shape))
}

impl ConvKernels for Flex {
    fn conv_forward(x: FloatTensor<Self>, weight: FloatTensor<Self>, options: ConvOptions<2>) -> FloatTensor<Self> {
        let Some(g) = geometry(&x, &weight, &options) else { return Flex::conv2d(x, weight, None, options) };
        let y = cpu::forward(&g, x.to_contiguous().storage(), weight.to_contiguous().storage(), None);
        tensor(y, [g.batch, g.c_out, g.oh, g.ow])
    }

    fn conv_input_grad(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        output_grad: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        let Some(g) = geometry(&x, &weight, &options) else {
            return Flex::conv2d_x_backward(x, weight, output_grad, options);
        };
        let dx = cpu::input_grad(&g, weight.to_contiguous().storage(), output_grad.to_contiguous().storage());
        tensor(dx, [g.batch, g.c_in, g.h, g.w])
    }

    fn conv_weight_grad(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        output_grad: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        let Some(g) = geometry(&x, &weight, &options) else {
            return Flex::conv2d_weight_backward(x, weight, output_grad, options);
        };
        let dw = cpu::weight_grad(&g, x.to_contiguous().storage(), output_grad.to_contiguous().storage());
        let [c_out, per_group, kh, kw] = weight.shape().dims();
        tensor(dw, [c_out, per_group, kh, kw])
    }
}
