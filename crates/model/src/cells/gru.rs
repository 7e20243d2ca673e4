//! The GRU cell (PyTorch's `nn.GRU`, gate order `r, z, n`): `r = σ(x_r + h_r)`,
//! `z = σ(x_z + h_z)`, `n = tanh(x_n + r ⊙ h_n)`, `h_t = (1 − z) ⊙ n + z ⊙ h_{t-1}`, where the
//! `x_·` blocks are the input part (`b_ih` included) and the `h_·` blocks the hidden part
//! (`b_hh` included): they stay apart because `r` scales `h_n`. The tape keeps `r, z, n, h_n`.

use std::mem::MaybeUninit;

use burn::tensor::Tensor;

use super::{
    BackwardRow, Cell, ForwardRow, PartGrads, SavedStep, StateNorm, StepGrad, StepParts,
    TensorState, TensorStep, fast_sigmoid, fast_tanh, gate_blocks, sigmoid, sigmoid_slope, tanh,
    tanh_slope,
};

/// The GRU cell.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Gru;

impl Cell for Gru {
    const GATES: usize = 3;
    const CELL_STATE: bool = false;
    const SEPARATE_INPUT: bool = true;
    const TAPE: usize = 4;
    const DIRECT: bool = true;
    const PROJECTABLE: bool = false;

    fn step(
        &self,
        parts: StepParts,
        previous: &TensorState,
        keep: bool,
        _norm: Option<&StateNorm>,
    ) -> TensorStep {
        let input = parts.input.expect("a GRU step keeps its input part apart");
        let [x_r, x_z, x_n] = gate_blocks(input);
        let [h_r, h_z, h_n] = gate_blocks(parts.hidden);
        let r = sigmoid(x_r + h_r);
        let z = sigmoid(x_z + h_z);
        let n = tanh(x_n + r.clone() * h_n.clone());
        // h' = (1 - z)·n + z·h  ==  n + z·(h - n)
        let h = n.clone() + z.clone() * (previous.h.clone() - n.clone());
        TensorStep {
            state: TensorState { h, c: None },
            tape: keep.then(|| Tensor::cat(vec![r, z, n, h_n], 1)),
        }
    }

    fn step_backward(
        &self,
        grad: StepGrad,
        saved: &impl SavedStep,
        _norm: Option<&StateNorm>,
    ) -> PartGrads {
        let [r, z, n, h_n] = gate_blocks(saved.tape());
        let g = grad.h;
        let d_z = g.clone() * (saved.h_prev() - n.clone()) * sigmoid_slope(z.clone());
        let d_n = g.clone() * (z.clone().neg() + 1.0) * tanh_slope(n);
        let d_hn = d_n.clone() * r.clone();
        let d_r = d_n.clone() * h_n * sigmoid_slope(r);
        PartGrads {
            hidden: Tensor::cat(vec![d_r.clone(), d_z.clone(), d_hn], 1),
            input: Some(Tensor::cat(vec![d_r, d_z, d_n], 1)),
            direct: Some(g * z),
            c_prev: None,
            state_norm: None,
        }
    }

    #[inline(always)]
    fn forward_row(&self, row: ForwardRow<'_>) {
        let [x_r, x_z, x_n] = row.input.get();
        let [h_r, h_z, h_n] = row.hidden.get();
        let [tr, tz, tn, thn] = row.tape.get();
        forward_lanes(
            x_r, x_z, x_n, h_r, h_z, h_n, row.h_prev, tr, tz, tn, thn, row.h,
        );
    }

    #[inline(always)]
    fn backward_row(&self, row: BackwardRow<'_>) {
        let n = row.g.len();
        let [r, z, nn, h_n] = row.tape.get();
        let [dx_r, dx_z, dx_n] = row.d_input.get();
        let [dh_r, dh_z, dh_n] = row.d_hidden.get();
        let (h_prev, g) = (row.h_prev, row.g);
        backward_lanes(r, z, nn, h_n, h_prev, g, dx_r, dx_z, dx_n, dh_n, row.direct);
        // The reset and update gates' parts have the same gradient on both sides.
        for (hidden, input) in [(dh_r, &*dx_r), (dh_z, &*dx_z)] {
            hidden[..n].copy_from_slice(&input[..n]);
        }
    }
}

/// [`Cell::forward_row`] over `n = h.len()` units, from the input and hidden parts of `r, z,
/// n`, and `h_{t-1}`.
// Every slice is a parameter of its own: the compiler then knows that none aliases another,
// and vectorises the loop (slices passed in an array or a struct are not vectorised).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn forward_lanes(
    x_r: &[f32],
    x_z: &[f32],
    x_n: &[f32],
    h_r: &[f32],
    h_z: &[f32],
    h_n: &[f32],
    h_prev: &[f32],
    tr: &mut [MaybeUninit<f32>],
    tz: &mut [MaybeUninit<f32>],
    tn: &mut [MaybeUninit<f32>],
    thn: &mut [MaybeUninit<f32>],
    h: &mut [MaybeUninit<f32>],
) {
    let n = h.len();
    let (x_r, x_z, x_n) = (&x_r[..n], &x_z[..n], &x_n[..n]);
    let (h_r, h_z, h_n, h_prev) = (&h_r[..n], &h_z[..n], &h_n[..n], &h_prev[..n]);
    let (tr, tz, tn, thn) = (&mut tr[..n], &mut tz[..n], &mut tn[..n], &mut thn[..n]);
    for j in 0..n {
        let r = fast_sigmoid(x_r[j] + h_r[j]);
        let z = fast_sigmoid(x_z[j] + h_z[j]);
        let nn = fast_tanh(r.mul_add(h_n[j], x_n[j]));
        tr[j].write(r);
        tz[j].write(z);
        tn[j].write(nn);
        thn[j].write(h_n[j]);
        h[j].write(z.mul_add(h_prev[j] - nn, nn));
    }
}

/// [`Cell::backward_row`] over `n = direct.len()` units, from the kept `r, z, n, h_n`,
/// `h_{t-1}` and the gradient reaching `h_t` (slices apart as in [`forward_lanes`]): the input
/// part's gradients, the hidden part's for `n` (`r` and `z` are the same on both sides) and the
/// direct path to `h_{t-1}`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn backward_lanes(
    r: &[f32],
    z: &[f32],
    nn: &[f32],
    h_n: &[f32],
    h_prev: &[f32],
    g: &[f32],
    dx_r: &mut [MaybeUninit<f32>],
    dx_z: &mut [MaybeUninit<f32>],
    dx_n: &mut [MaybeUninit<f32>],
    dh_n: &mut [MaybeUninit<f32>],
    direct: &mut [f32],
) {
    let n = direct.len();
    let (r, z, nn, h_n, h_prev, g) = (&r[..n], &z[..n], &nn[..n], &h_n[..n], &h_prev[..n], &g[..n]);
    let (dx_r, dx_z, dx_n, dh_n) = (
        &mut dx_r[..n],
        &mut dx_z[..n],
        &mut dx_n[..n],
        &mut dh_n[..n],
    );
    for j in 0..n {
        let d_z = g[j] * (h_prev[j] - nn[j]) * (z[j] - z[j] * z[j]);
        let d_n = g[j] * (1.0 - z[j]) * (1.0 - nn[j] * nn[j]);
        let d_r = d_n * h_n[j] * (r[j] - r[j] * r[j]);
        dx_r[j].write(d_r);
        dx_z[j].write(d_z);
        dx_n[j].write(d_n);
        dh_n[j].write(d_n * r[j]);
        direct[j] = g[j] * z[j];
    }
}

#[cfg(feature = "cubecl")]
mod gpu {
    use cubecl::prelude::*;

    use super::super::{GpuCell, gpu_sigmoid};
    use super::Gru;

    #[cube]
    impl GpuCell for Gru {
        fn forward_unit<F: Float>(
            parts: &Array<F>,
            input: &Array<F>,
            h_prev: F,
            _c_prev: F,
            state: &mut Array<F>,
            tape: &mut Array<F>,
            #[comptime] _variant: u32,
        ) {
            let r = gpu_sigmoid::<F>(input[0] + parts[0]);
            let z = gpu_sigmoid::<F>(input[1] + parts[1]);
            let n = F::tanh(input[2] + r * parts[2]);
            state[0] = n + z * (h_prev - n);
            state[1] = F::new(0.0);
            tape[0] = r;
            tape[1] = z;
            tape[2] = n;
            tape[3] = parts[2];
        }

        fn backward_unit<F: Float>(
            grad: &Array<F>,
            saved: &Array<F>,
            tape: &Array<F>,
            d_hidden: &mut Array<F>,
            d_input: &mut Array<F>,
            back: &mut Array<F>,
            #[comptime] _variant: u32,
        ) {
            let one = F::new(1.0);
            let (r, z, n, h_n) = (tape[0], tape[1], tape[2], tape[3]);
            let g = grad[0];
            let d_z = g * (saved[1] - n) * (z - z * z);
            let d_n = g * (one - z) * (one - n * n);
            let d_r = d_n * h_n * (r - r * r);
            d_input[0] = d_r;
            d_input[1] = d_z;
            d_input[2] = d_n;
            d_hidden[0] = d_r;
            d_hidden[1] = d_z;
            d_hidden[2] = d_n * r;
            back[0] = g * z;
            back[1] = F::new(0.0);
        }

        fn normed_output<F: Float>(y: F, _tape: &Array<F>) -> F {
            y
        }

        fn normed_output_backward<F: Float>(
            g_h: F,
            _y: F,
            _tape: &Array<F>,
            _d_hidden: &mut Array<F>,
        ) -> F {
            g_h
        }
    }
}
