//! The LSTM cell (PyTorch's `nn.LSTM`, gate order `i, f, g, o`):
//! `c_t = σ(f) ⊙ c_{t-1} + σ(i) ⊙ tanh(g)`, `h_t = σ(o) ⊙ tanh(c_t)`, where each gate's
//! pre-activation is `x_t·W_ihᵀ + h_{t-1}·W_hhᵀ + b_ih + b_hh` (the biases summed once).
//! The tape keeps the four activated gates. Under layer norm, `h_t = σ(o) ⊙ tanh(LN(c_t))`
//! (Ba et al. 2016; on tensors only).

use std::mem::MaybeUninit;

use burn::tensor::Tensor;

use super::{
    BackwardRow, Cell, ForwardRow, PartGrads, SavedStep, StateNorm, StepGrad, StepParts,
    TensorState, TensorStep, fast_sigmoid, fast_tanh, gate_blocks, sigmoid, sigmoid_slope, tanh,
    tanh_slope,
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
    }
}
