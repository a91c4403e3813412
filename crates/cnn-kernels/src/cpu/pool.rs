//! 2-d max pooling and its gradient on the CPU, over NCHW planes in parallel.
//!
//! burn-flex pools every 2-d window through its generic 3-d kernel with 64-bit indices, and
//! scatters the gradient one element at a time through type conversions: 8% of a VGG training
//! step. Here each plane is one task, the window loops are plain, and the common 2x2/2 window
//! without padding has its own loop.

use rayon::prelude::*;

use super::elementwise::zeros;

/// One max pooling over planes of `h x w`: windows of `kernel` taps `dilation` apart, placed
/// every `stride` pixels over the plane with `padding` rows and columns before it (padding is
/// never the maximum), giving `oh x ow` outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub h: usize,
    pub w: usize,
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub padding: [usize; 2],
    pub dilation: [usize; 2],
    pub oh: usize,
    pub ow: usize,
}

impl Window {
    fn plane_in(&self) -> usize {
        self.h * self.w
    }

    fn plane_out(&self) -> usize {
        self.oh * self.ow
    }

    fn is_two_by_two(&self) -> bool {
        self.kernel == [2, 2] && self.stride == [2, 2] && self.padding == [0, 0] && self.dilation == [1, 1]
    }

    /// The input rows (or columns) a window at output row `o` reaches, as an index range.
    fn taps(o: usize, stride: usize, padding: usize, kernel: usize, dilation: usize, size: usize) -> (usize, usize) {
        let start = (o * stride) as isize - padding as isize;
        let first = (0..kernel).find(|&k| start + (k * dilation) as isize >= 0).unwrap_or(kernel);
        let last = (0..kernel).rev().find(|&k| ((start + (k * dilation) as isize) as usize) < size);
        (first, last.map_or(first, |k| k + 1))
    }

    /// Max of every window of one plane, with its flat in-plane index put in `at`.
    fn pool_plane(&self, x: &[f32], y: &mut [f32], at: &mut impl Places) {
        if self.is_two_by_two() {
            return self.pool_plane_two(x, y, at);
        }
        let [kh, kw] = self.kernel;
        let [dh, dw] = self.dilation;
        for oy in 0..self.oh {
            let (ky0, ky1) = Self::taps(oy, self.stride[0], self.padding[0], kh, dh, self.h);
            let row0 = oy * self.stride[0] + ky0 * dh - self.padding[0];
            for ox in 0..self.ow {
                let (kx0, kx1) = Self::taps(ox, self.stride[1], self.padding[1], kw, dw, self.w);
                let col0 = ox * self.stride[1] + kx0 * dw - self.padding[1];
                let (mut best, mut best_at) = (f32::NEG_INFINITY, row0 * self.w + col0);
                for ky in 0..ky1.saturating_sub(ky0) {
                    let row = (row0 + ky * dh) * self.w;
                    for kx in 0..kx1.saturating_sub(kx0) {
                        let i = row + col0 + kx * dw;
                        if x[i] > best {
                            (best, best_at) = (x[i], i);
                        }
                    }
                }
                y[oy * self.ow + ox] = best;
                at.put(oy * self.ow + ox, best_at);
            }
        }
    }

    /// [`Window::pool_plane`] for 2x2 windows with stride 2: two input rows per output row.
    fn pool_plane_two(&self, x: &[f32], y: &mut [f32], at: &mut impl Places) {
        let w = self.w;
        for oy in 0..self.oh {
            let (top, bottom) = (2 * oy * w, (2 * oy + 1) * w);
            for ox in 0..self.ow {
                let c = 2 * ox;
                let mut best = (x[top + c], top + c);
                for i in [top + c + 1, bottom + c, bottom + c + 1] {
                    if x[i] > best.0 {
                        best = (x[i], i);
                    }
                }
                y[oy * self.ow + ox] = best.0;
                at.put(oy * self.ow + ox, best.1);
            }
        }
    }
}

/// Where a pooling puts the place of each maximum: a plane's indices for the backward pass, or
/// nowhere when no gradient will be asked for (inference, the test pass), which saves writing
/// and allocating them. Monomorphised, so the unused one costs nothing.
trait Places {
    fn put(&mut self, output: usize, input: usize);
}

impl Places for &mut [i32] {
    fn put(&mut self, output: usize, input: usize) {
        self[output] = input as i32;
    }
}

impl Places for () {
    fn put(&mut self, _: usize, _: usize) {}
}

/// Planes per task: whole planes, about 16 K outputs at a time so that small maps do not
/// become thousands of tiny tasks.
fn planes_per_task(window: &Window) -> usize {
    (16 * 1024 / window.plane_out().max(1)).max(1)
}

/// The plane sizes in and out, once `x` is checked to hold `planes` planes.
fn plane_sizes(window: &Window, planes: usize, x: &[f32]) -> (usize, usize) {
    let (plane_in, plane_out) = (window.plane_in(), window.plane_out());
    assert!(x.len() == planes * plane_in, "max_pool: {} values for {planes} planes of {plane_in}", x.len());
    assert!(plane_in <= i32::MAX as usize, "max_pool: a plane of {plane_in} values does not fit i32 indices");
    (plane_in, plane_out)
}

/// The max of every window of `planes` planes of `x`, and where in its plane each one was.
pub fn max_pool(window: &Window, planes: usize, x: &[f32]) -> (Vec<f32>, Vec<i32>) {
    let (plane_in, plane_out) = plane_sizes(window, planes, x);
    let (mut y, mut at) = (zeros(planes * plane_out), vec![0; planes * plane_out]);
    let per = planes_per_task(window);
    (y.par_chunks_mut(per * plane_out).zip(at.par_chunks_mut(per * plane_out)).enumerate()).for_each(
        |(task, (y, at))| {
            for (p, (y, mut at)) in y.chunks_mut(plane_out).zip(at.chunks_mut(plane_out)).enumerate() {
                window.pool_plane(&x[(task * per + p) * plane_in..][..plane_in], y, &mut at);
            }
        },
    );
    (y, at)
}

/// [`max_pool`]'s maxima alone, for a pass that no gradient follows.
pub fn max_pool_values(window: &Window, planes: usize, x: &[f32]) -> Vec<f32> {
    let (plane_in, plane_out) = plane_sizes(window, planes, x);
    let mut y = zeros(planes * plane_out);
    let per = planes_per_task(window);
    y.par_chunks_mut(per * plane_out).enumerate().for_each(|(task, y)| {
        for (p, y) in y.chunks_mut(plane_out).enumerate() {
            window.pool_plane(&x[(task * per + p) * plane_in..][..plane_in], y, &mut ());
        }
    });
    y
}

/// The gradient of [`max_pool`] for its input: each output's gradient added where its max was.
pub fn max_pool_backward(window: &Window, planes: usize, grad: &[f32], at: &[i32]) -> Vec<f32> {
    let (plane_in, plane_out) = (window.plane_in(), window.plane_out());
    assert!(grad.len() == planes * plane_out && at.len() == grad.len(), "max_pool_backward: shapes disagree");
    let mut dx = zeros(planes * plane_in);
    let per = planes_per_task(window);
    dx.par_chunks_mut(per * plane_in).enumerate().for_each(|(task, dx)| {
        let first = task * per;
        for (p, dx) in dx.chunks_mut(plane_in).enumerate() {
            let offset = (first + p) * plane_out;
            for (&g, &i) in grad[offset..][..plane_out].iter().zip(&at[offset..][..plane_out]) {
                dx[i as usize] += g;
            }
        }
    });
    dx
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every window by brute force: the max over the taps inside the plane, first one on ties.
    fn naive(win: &Window, x: &[f32]) -> (Vec<f32>, Vec<i32>) {
        let mut out = (vec![], vec![]);
        for oy in 0..win.oh {
            for ox in 0..win.ow {
                let mut best = (f32::NEG_INFINITY, -1);
                for ky in 0..win.kernel[0] {
                    for kx in 0..win.kernel[1] {
                        let r = (oy * win.stride[0] + ky * win.dilation[0]) as isize - win.padding[0] as isize;
                        let c = (ox * win.stride[1] + kx * win.dilation[1]) as isize - win.padding[1] as isize;
                        if r < 0 || c < 0 || r as usize >= win.h || c as usize >= win.w {
                            continue;
                        }
                        let i = r as usize * win.w + c as usize;
                        if best.1 < 0 || x[i] > best.0 {
                            best = (x[i], i as i32);
                        }
                    }
                }
                out.0.push(best.0);
                out.1.push(best.1);
            }
        }
        out
    }

    fn window(h: usize, w: usize, k: usize, s: usize, p: usize, d: usize) -> Window {
        let out = |n: usize| (n + 2 * p - d * (k - 1) - 1) / s + 1;
        Window { h, w, kernel: [k, k], stride: [s, s], padding: [p, p], dilation: [d, d], oh: out(h), ow: out(w) }
    }

    #[test]
    fn pooling_equals_brute_force_on_every_window_shape() {
        // 2x2/2 (VGG), 3x3/2 pad 1 (ResNet, GoogLeNet), 3x3/1 pad 1 (Inception's pool branch),
        // 3x3/2 (AlexNet, NiN), a dilated one, and odd sizes whose last row no window reaches.
        for win in [
            window(8, 6, 2, 2, 0, 1),
            window(7, 9, 2, 2, 0, 1),
            window(9, 7, 3, 2, 1, 1),
            window(5, 5, 3, 1, 1, 1),
            window(11, 10, 3, 2, 0, 1),
            window(9, 9, 2, 1, 1, 2),
        ] {
            let planes = 3;
            let x: Vec<f32> = (0..planes * win.h * win.w).map(|i| ((i * 7919) % 103) as f32 - 50.0).collect();
            let (y, at) = max_pool(&win, planes, &x);
            assert_eq!(max_pool_values(&win, planes, &x), y, "{win:?}");
            for p in 0..planes {
                let (want_y, want_at) = naive(&win, &x[p * win.h * win.w..][..win.h * win.w]);
                assert_eq!(&y[p * win.oh * win.ow..][..win.oh * win.ow], &want_y[..], "{win:?}");
                assert_eq!(&at[p * win.oh * win.ow..][..win.oh * win.ow], &want_at[..], "{win:?}");
            }
            // Each output's gradient lands on its max; overlapping windows add up.
            let grad: Vec<f32> = (0..y.len()).map(|i| i as f32 + 1.0).collect();
            let dx = max_pool_backward(&win, planes, &grad, &at);
            let mut want = vec![0.0; x.len()];
            for (o, (&g, &i)) in grad.iter().zip(&at).enumerate() {
                want[o / (win.oh * win.ow) * win.h * win.w + i as usize] += g;
            }
            assert_eq!(dx, want, "{win:?}");
        }
    }
}
