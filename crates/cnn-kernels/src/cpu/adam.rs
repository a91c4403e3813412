//! One Adam or AdamW step in place, in chunks on rayon's pool, with burn's arithmetic in its
//! order.

use rayon::prelude::*;

use super::elementwise::CHUNK;
use crate::adam::{AdamStep, Correction};

/// Updates `param` and both moments by one step of `grad`.
pub fn step(param: &mut [f32], grad: &[f32], moment_1: &mut [f32], moment_2: &mut [f32], step: AdamStep) {
    let len = param.len();
    assert!(
        grad.len() == len && moment_1.len() == len && moment_2.len() == len,
        "adam: parameter, gradient and moments differ in length"
    );
    let AdamStep { beta_1, beta_2, l2, .. } = step;
    let (lr, keep) = (step.lr as f32, (1.0 - step.decay) as f32);
    let update = |p: &mut f32, g: f32, m: &mut f32, v: &mut f32| {
        let g = if l2 != 0.0 { *p * l2 + g } else { g };
        *m = *m * beta_1 + g * (1.0 - beta_1);
        *v = *v * beta_2 + g * g * (1.0 - beta_2);
        let delta = match step.correction {
            Correction::Adam { scale, epsilon } => *m * scale / (v.sqrt() + epsilon),
            Correction::AdamW { first, second, epsilon } => *m / first / ((*v / second).sqrt() + epsilon),
        };
        let decayed = if step.decay != 0.0 { *p * keep } else { *p };
        *p = decayed - delta * lr;
    };
    let chunks = param.par_chunks_mut(CHUNK).zip(grad.par_chunks(CHUNK));
    let moments = moment_1.par_chunks_mut(CHUNK).zip(moment_2.par_chunks_mut(CHUNK));
    chunks.zip(moments).for_each(|((p, g), (m, v))| {
        for (((p, &g), m), v) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
            update(p, g, m, v);
        }
    });
}
