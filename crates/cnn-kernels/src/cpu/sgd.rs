//! One SGD step in place, in chunks on rayon's pool, with burn's `Sgd`'s arithmetic in its order.

use rayon::prelude::*;

use super::elementwise::CHUNK;
use crate::sgd::SgdStep;

/// Updates `param` (and `velocity`, with momentum) by one step of `grad`.
pub fn step(param: &mut [f32], grad: &[f32], velocity: Option<&mut [f32]>, step: SgdStep) {
    assert_eq!(param.len(), grad.len(), "sgd: parameter and gradient differ in length");
    let (lr, momentum, decay) = (step.lr as f32, step.momentum as f32, step.weight_decay as f32);
    let update = |p: &mut f32, g: f32, v: Option<&mut f32>| {
        let mut g = if decay != 0.0 { *p * decay + g } else { g };
        if let Some(v) = v {
            *v = g + *v * momentum;
            g = if step.nesterov { *v * momentum + g } else { *v };
        }
        *p -= g * lr;
    };
    match velocity {
        Some(velocity) if momentum != 0.0 => {
            assert_eq!(param.len(), velocity.len(), "sgd: parameter and velocity differ in length");
            let chunks = param.par_chunks_mut(CHUNK).zip(grad.par_chunks(CHUNK)).zip(velocity.par_chunks_mut(CHUNK));
            chunks.for_each(|((p, g), v)| p.iter_mut().zip(g).zip(v).for_each(|((p, &g), v)| update(p, g, Some(v))));
        }
        _ => param
            .par_chunks_mut(CHUNK)
            .zip(grad.par_chunks(CHUNK))
            .for_each(|(p, g)| p.iter_mut().zip(g).for_each(|(p, &g)| update(p, g, None))),
    }
}
