//! ReLU and its gradient, on rayon's pool.

use super::elementwise::{map, zip_map};

/// `x` where it is positive or NaN (NaN stays NaN, as in PyTorch), zero elsewhere.
fn keeps(x: f32) -> bool {
    x.is_nan() || x > 0.0
}

pub fn forward(x: &[f32]) -> Vec<f32> {
    map(x, |x| if keeps(x) { x } else { 0.0 })
}

/// `dy` where the input `x` was kept, zero elsewhere.
pub fn input_grad(x: &[f32], dy: &[f32]) -> Vec<f32> {
    zip_map(x, dy, |x, dy| if keeps(x) { dy } else { 0.0 })
}
