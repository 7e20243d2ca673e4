//! The LSTM cell (PyTorch's `nn.LSTM`, gate order `i, f, g, o`):
//! `c_t = σ(f) ⊙ c_{t-1} + σ(i) ⊙ tanh(g)`, `h_t = σ(o) ⊙ tanh(c_t)`, where each gate's
//! pre-activation is `x_t·W_ihᵀ + h_{t-1}·W_hhᵀ + b_ih + b_hh` (the biases summed once).
//! The tape keeps the four activated gates. Under layer norm, `h_t = σ(o) ⊙ tanh(LN(c_t))`
//! (Ba et al. 2016), with `LN` scaled by a gain and shifted by a bias.

use std::mem::MaybeUninit;

use burn::tensor::Tensor;

use super::{
    BackwardRow, Cell, ForwardRow, PartGrads, RowStateNorm, RowStateNormGrads, SavedStep,
    StateNorm, StepGrad, StepParts, TensorState, TensorStep, fast_sigmoid, fast_tanh, gate_blocks,
    lane_sum, moments, sigmoid, sigmoid_slope, tanh, tanh_slope,
};

/// The LSTM cell.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Lstm;

impl Cell for Lstm {
    const GATES: usize = 4;
    const CELL_STATE: bool = true;
    const SEPARATE_INPUT: bool = false;
    const TAPE: usize = 4;
    const DIRECT: bool = false;
    const PROJECTABLE: bool = true;

    fn step(
        &self,
        parts: StepParts,
        previous: &TensorState,
        keep: bool,
        norm: Option<&StateNorm>,
    ) -> TensorStep {
        let [i, f, g, o] = gate_blocks(parts.hidden);
        let (i, f, g, o) = (sigmoid(i), sigmoid(f), tanh(g), sigmoid(o));
        let c_prev = previous.c.clone().expect("an LSTM state has a cell state");
        let c = f.clone() * c_prev + i.clone() * g.clone();
        let squashed = match norm {
            Some(norm) => tanh(norm.forward(c.clone()).0),
            None => tanh(c.clone()),
        };
        let h = o.clone() * squashed;
        TensorStep {
            state: TensorState { h, c: Some(c) },
            tape: keep.then(|| Tensor::cat(vec![i, f, g, o], 1)),
        }
    }

    fn step_backward(
        &self,
        grad: StepGrad,
        saved: &impl SavedStep,
        norm: Option<&StateNorm>,
    ) -> PartGrads {
        let [i, f, g, o] = gate_blocks(saved.tape());
        let normalized = norm.map(|norm| norm.forward(saved.c()));
        let tc = match &normalized {
            Some((y, _)) => tanh(y.clone()),
            None => tanh(saved.c()),
        };
        let gh = grad.h;
        // What reaches `c_t` through the output: through its normalisation, under layer norm.
        let through_output = gh.clone() * o.clone() * tanh_slope(tc.clone());
        let (through_output, state_norm) = match (norm, normalized) {
            (Some(norm), Some((_, normalized))) => {
                let (dc, grads) = norm.backward(&normalized, through_output);
                (dc, Some(grads))
            }
            _ => (through_output, None),
        };
        let gc = grad.c.expect("an LSTM gradient has a cell-state part") + through_output;
        let d_i = gc.clone() * g.clone() * sigmoid_slope(i.clone());
        let d_f = gc.clone() * saved.c_prev() * sigmoid_slope(f.clone());
        let d_g = gc.clone() * i * tanh_slope(g);
        let d_o = gh * tc * sigmoid_slope(o);
        PartGrads {
            hidden: Tensor::cat(vec![d_i, d_f, d_g, d_o], 1),
            input: None,
            direct: None,
            c_prev: Some(gc * f),
            state_norm,
        }
    }

    #[inline(always)]
    fn forward_row(&self, row: ForwardRow<'_>) {
        let [i, f, g, o] = row.hidden.get();
        let [ti, tf, tg, to] = row.tape.get();
        forward_lanes(i, f, g, o, row.c_prev, ti, tf, tg, to, row.c, row.h);
    }

    #[inline(always)]
    fn backward_row(&self, row: BackwardRow<'_>) {
        let [i, f, g, o] = row.tape.get();
        let [di, df, dg, d_o] = row.d_hidden.get();
        let (c, c_prev, g_h, gc) = (row.c, row.c_prev, row.g, row.gc);
        backward_lanes(i, f, g, o, c, c_prev, g_h, gc, di, df, dg, d_o, row.gc_prev);
    }

    #[inline(always)]
    fn forward_row_normed(&self, row: ForwardRow<'_>, norm: Option<RowStateNorm<'_>>) {
        let Some(norm) = norm else {
            return self.forward_row(row);
        };
        let [i, f, g, o] = row.hidden.get();
        let [ti, tf, tg, to] = row.tape.get();
        forward_lanes_normed(i, f, g, o, row.c_prev, ti, tf, tg, to, row.c, row.h, norm);
    }

    #[inline(always)]
    fn backward_row_normed(&self, row: BackwardRow<'_>, norm: Option<RowStateNormGrads<'_>>) {
        let Some(norm) = norm else {
            return self.backward_row(row);
        };
        let [i, f, g, o] = row.tape.get();
        let [di, df, dg, d_o] = row.d_hidden.get();
        let (c, c_prev, g_h, gc) = (row.c, row.c_prev, row.g, row.gc);
        let gates = Gates { i, f, g, o };
        backward_lanes_normed(
            gates,
            c,
            c_prev,
            g_h,
            gc,
            di,
            df,
            dg,
            d_o,
            row.gc_prev,
            norm,
        );
    }
}

/// Slices that have all been written.
///
/// # Safety
/// Every element of `values` has been written.
#[inline(always)]
unsafe fn written(values: &[MaybeUninit<f32>]) -> &[f32] {
    // SAFETY: `MaybeUninit<f32>` has `f32`'s layout; the elements are initialised (the caller).
    unsafe { std::slice::from_raw_parts(values.as_ptr().cast(), values.len()) }
}

/// [`forward_lanes`] under layer norm, over a whole row: `h = o ⊙ tanh(LN(c)·gain + bias)`,
/// once the row's `c` is complete (its statistics are over all of it).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn forward_lanes_normed(
    i: &[f32],
    f: &[f32],
    g: &[f32],
    o: &[f32],
    c_prev: &[f32],
    ti: &mut [MaybeUninit<f32>],
    tf: &mut [MaybeUninit<f32>],
    tg: &mut [MaybeUninit<f32>],
    to: &mut [MaybeUninit<f32>],
    c: &mut [MaybeUninit<f32>],
    h: &mut [MaybeUninit<f32>],
    norm: RowStateNorm<'_>,
) {
    let n = h.len();
    let (i, f, g, o, c_prev) = (&i[..n], &f[..n], &g[..n], &o[..n], &c_prev[..n]);
    let (ti, tf, tg, to, c) = (
        &mut ti[..n],
        &mut tf[..n],
        &mut tg[..n],
        &mut to[..n],
        &mut c[..n],
    );
    for j in 0..n {
        let (ij, fj) = (fast_sigmoid(i[j]), fast_sigmoid(f[j]));
        let (gj, oj) = (fast_tanh(g[j]), fast_sigmoid(o[j]));
        ti[j].write(ij);
        tf[j].write(fj);
        tg[j].write(gj);
        to[j].write(oj);
        c[j].write(fj.mul_add(c_prev[j], ij * gj));
    }
    // SAFETY: the loop above wrote every element of both.
    let (c, o) = unsafe { (written(c), written(to)) };
    let (gain, bias) = (&norm.gain[..n], &norm.bias[..n]);
    let (mean, inv_std) = moments(c);
    for j in 0..n {
        let y = ((c[j] - mean) * inv_std).mul_add(gain[j], bias[j]);
        h[j].write(o[j] * fast_tanh(y));
    }
}

/// The kept gates of a row, `i, f, g, o`.
struct Gates<'a> {
    i: &'a [f32],
    f: &'a [f32],
    g: &'a [f32],
    o: &'a [f32],
}

/// [`backward_lanes`] under layer norm, over a whole row: the gradient reaching `c_t` through
/// the output crosses `LN(c)·gain + bias` (whose gradients it adds to `norm`), which needs
/// the sums of the whole row before any unit's gradient.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn backward_lanes_normed(
    gates: Gates<'_>,
    c: &[f32],
    c_prev: &[f32],
    g_h: &[f32],
    gc: &[f32],
    di: &mut [MaybeUninit<f32>],
    df: &mut [MaybeUninit<f32>],
    dg: &mut [MaybeUninit<f32>],
    d_o: &mut [MaybeUninit<f32>],
    gc_prev: &mut [f32],
    norm: RowStateNormGrads<'_>,
) {
    let n = gc_prev.len();
    let Gates { i, f, g, o } = gates;
    let (i, f, g, o) = (&i[..n], &f[..n], &g[..n], &o[..n]);
    let (c, c_prev, g_h, gc) = (&c[..n], &c_prev[..n], &g_h[..n], &gc[..n]);
    let (di, df, dg, d_o) = (&mut di[..n], &mut df[..n], &mut dg[..n], &mut d_o[..n]);
    let (gain, bias) = (&norm.norm.gain[..n], &norm.norm.bias[..n]);
    let (d_gain, d_bias) = (&mut norm.d_gain[..n], &mut norm.d_bias[..n]);
    let (mean, inv_std) = moments(c);
    let x_hat = |j: usize| (c[j] - mean) * inv_std;
    // First the gradient of `LN(c)` times the gain (kept in `gc_prev` meanwhile), then its sums.
    for j in 0..n {
        let ty = fast_tanh(x_hat(j).mul_add(gain[j], bias[j]));
        let dy = g_h[j] * o[j] * (1.0 - ty * ty);
        d_o[j].write(g_h[j] * ty * (o[j] - o[j] * o[j]));
        d_gain[j] += dy * x_hat(j);
        d_bias[j] += dy;
        gc_prev[j] = dy * gain[j];
    }
    let mean_d = lane_sum(n, |j| gc_prev[j]) / n as f32;
    let mean_dx = lane_sum(n, |j| gc_prev[j] * x_hat(j)) / n as f32;
    for j in 0..n {
        let g_c = gc[j] + inv_std * (gc_prev[j] - mean_d - x_hat(j) * mean_dx);
        di[j].write(g_c * g[j] * (i[j] - i[j] * i[j]));
        df[j].write(g_c * c_prev[j] * (f[j] - f[j] * f[j]));
        dg[j].write(g_c * i[j] * (1.0 - g[j] * g[j]));
        gc_prev[j] = g_c * f[j];
    }
}

/// [`Cell::forward_row`] over `n = h.len()` units.
// Every slice is a parameter of its own: the compiler then knows that none aliases another,
// and vectorises the loop (slices passed in an array or a struct are not vectorised).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn forward_lanes(
    i: &[f32],
    f: &[f32],
    g: &[f32],
    o: &[f32],
    c_prev: &[f32],
    ti: &mut [MaybeUninit<f32>],
    tf: &mut [MaybeUninit<f32>],
    tg: &mut [MaybeUninit<f32>],
    to: &mut [MaybeUninit<f32>],
    c: &mut [MaybeUninit<f32>],
    h: &mut [MaybeUninit<f32>],
) {
    let n = h.len();
    // Slices of exactly `n` elements let the compiler drop the bounds checks.
    let (i, f, g, o, c_prev) = (&i[..n], &f[..n], &g[..n], &o[..n], &c_prev[..n]);
    let (ti, tf, tg, to, c) = (
        &mut ti[..n],
        &mut tf[..n],
        &mut tg[..n],
        &mut to[..n],
        &mut c[..n],
    );
    for j in 0..n {
        let (ij, fj) = (fast_sigmoid(i[j]), fast_sigmoid(f[j]));
        let (gj, oj) = (fast_tanh(g[j]), fast_sigmoid(o[j]));
        let cj = fj.mul_add(c_prev[j], ij * gj);
        ti[j].write(ij);
        tf[j].write(fj);
        tg[j].write(gj);
        to[j].write(oj);
        c[j].write(cj);
        h[j].write(oj * fast_tanh(cj));
    }
}

/// [`Cell::backward_row`] over `n = gc_prev.len()` units, from the kept gates `i, f, g, o`,
/// `c_t`, `c_{t-1}` and the gradients reaching `h_t` and `c_t` (slices apart as in
/// [`forward_lanes`]).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn backward_lanes(
    i: &[f32],
    f: &[f32],
    g: &[f32],
    o: &[f32],
    c: &[f32],
    c_prev: &[f32],
    g_h: &[f32],
    gc: &[f32],
    di: &mut [MaybeUninit<f32>],
    df: &mut [MaybeUninit<f32>],
    dg: &mut [MaybeUninit<f32>],
    d_o: &mut [MaybeUninit<f32>],
    gc_prev: &mut [f32],
) {
    let n = gc_prev.len();
    let (i, f, g, o) = (&i[..n], &f[..n], &g[..n], &o[..n]);
    let (c, c_prev, g_h, gc) = (&c[..n], &c_prev[..n], &g_h[..n], &gc[..n]);
    let (di, df, dg, d_o) = (&mut di[..n], &mut df[..n], &mut dg[..n], &mut d_o[..n]);
    for j in 0..n {
        let tc = fast_tanh(c[j]);
        let g_c = gc[j] + g_h[j] * o[j] * (1.0 - tc * tc);
        di[j].write(g_c * g[j] * (i[j] - i[j] * i[j]));
        df[j].write(g_c * c_prev[j] * (f[j] - f[j] * f[j]));
        dg[j].write(g_c * i[j] * (1.0 - g[j] * g[j]));
        d_o[j].write(g_h[j] * tc * (o[j] - o[j] * o[j]));
        gc_prev[j] = g_c * f[j];
    }
}

#[cfg(feature = "cubecl")]
mod gpu {
    use cubecl::prelude::*;

    use super::super::{GpuCell, gpu_sigmoid};
    use super::Lstm;

    #[cube]
    impl GpuCell for Lstm {
        fn forward_unit<F: Float>(
            parts: &Array<F>,
            _input: &Array<F>,
            _h_prev: F,
            c_prev: F,
            state: &mut Array<F>,
            tape: &mut Array<F>,
            #[comptime] _variant: u32,
        ) {
            let i = gpu_sigmoid::<F>(parts[0]);
            let f = gpu_sigmoid::<F>(parts[1]);
            let g = F::tanh(parts[2]);
            let o = gpu_sigmoid::<F>(parts[3]);
            let c = f * c_prev + i * g;
            state[0] = o * F::tanh(c);
            state[1] = c;
            tape[0] = i;
            tape[1] = f;
            tape[2] = g;
            tape[3] = o;
        }

        fn backward_unit<F: Float>(
            grad: &Array<F>,
            saved: &Array<F>,
            tape: &Array<F>,
            d_hidden: &mut Array<F>,
            _d_input: &mut Array<F>,
            back: &mut Array<F>,
            #[comptime] _variant: u32,
        ) {
            let one = F::new(1.0);
            let (i, f, g, o) = (tape[0], tape[1], tape[2], tape[3]);
            let g_h = grad[0];
            let tc = F::tanh(saved[2]);
            let g_c = grad[1] + g_h * o * (one - tc * tc);
            d_hidden[0] = g_c * g * (i - i * i);
            d_hidden[1] = g_c * saved[3] * (f - f * f);
            d_hidden[2] = g_c * i * (one - g * g);
            d_hidden[3] = g_h * tc * (o - o * o);
            back[0] = F::new(0.0);
            back[1] = g_c * f;
        }

        fn normed_output<F: Float>(y: F, tape: &Array<F>) -> F {
            tape[3] * F::tanh(y)
        }

        fn normed_output_backward<F: Float>(
            g_h: F,
            y: F,
            tape: &Array<F>,
            d_hidden: &mut Array<F>,
        ) -> F {
            let o = tape[3];
            let squashed = F::tanh(y);
            d_hidden[3] = g_h * squashed * (o - o * o);
            g_h * o * (F::new(1.0) - squashed * squashed)
        }
    }
}
