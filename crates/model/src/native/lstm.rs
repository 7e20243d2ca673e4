//! The LSTM scan on raw `f32` memory: per step one product accumulated onto the step's gate
//! pre-activations (input projection plus bias), then one fused pass per row for the gates and
//! the new states; BPTT mirrors it, with `∂W_hh` as two products over all steps.
//!
//! Layouts (row-major, time-major): `xp` and `gates` are `[T, B, 4H]` (`i, f, g, o`), `states`
//! and `cells` `[T, B, H]`, `w` `[H, 4H]` (`W_hhᵀ`), `bias` `[4H]`, `h0`/`c0` `[B, H]`.

use super::activation::{add_assign, add_into, lstm_grad_row, lstm_row};
use super::matmul::{View, matmul, transposed};
use super::steps::{Shape, current_and_previous, hidden_weight_gradient};

/// What the forward pass fills: the states after every step and, when `keep_gates`, the
/// activated gates of every step (otherwise `gates` is one step's scratch, `[B, 4H]`).
pub(crate) struct Outputs<'a> {
    pub states: &'a mut [f32],
    pub cells: &'a mut [f32],
    pub gates: &'a mut [f32],
    pub keep_gates: bool,
}

/// Runs the LSTM over all steps; padded steps carry both states.
#[allow(clippy::too_many_arguments)]
pub(crate) fn forward(
    shape: &Shape,
    xp: &[f32],
    w: &[f32],
    bias: &[f32],
    h0: &[f32],
    c0: &[f32],
    valid: Option<&[f32]>,
    out: Outputs,
) {
    let (batch, hidden) = (shape.batch, shape.hidden);
    let width = 4 * hidden;
    let gate_block = batch * width;
    for t in shape.order() {
        let (h, h_prev) = current_and_previous(shape, out.states, h0, t);
        let (c, c_prev) = current_and_previous(shape, out.cells, c0, t);
        let at = if out.keep_gates { t * gate_block } else { 0 };
        let gates = &mut out.gates[at..at + gate_block];
        let x = &xp[t * gate_block..(t + 1) * gate_block];
        for (row, x) in gates.chunks_exact_mut(width).zip(x.chunks_exact(width)) {
            add_into(row, x, bias);
        }
        // SAFETY: `h_prev` is B×H and `w` H×4H, row-major, both apart from `gates`.
        unsafe {
            matmul(
                gates,
                batch,
                width,
                hidden,
                View::rows(h_prev, hidden),
                View::rows(w, width),
                true,
            );
        }
        for b in 0..batch {
            let r = b * hidden..(b + 1) * hidden;
            if shape.is_valid(valid, t, b) {
                let row = &mut gates[b * width..(b + 1) * width];
                lstm_row(row, &c_prev[r.clone()], &mut c[r.clone()], &mut h[r]);
            } else {
                h[r.clone()].copy_from_slice(&h_prev[r.clone()]);
                c[r.clone()].copy_from_slice(&c_prev[r]);
            }
        }
    }
}

/// What [`backward`] returns.
pub(crate) struct Gradients {
    /// `[T, B, 4H]`: the gradient of each step's gate pre-activations (which is `∂xp`).
    pub da: Vec<f32>,
    /// `[H, 4H]`: `∂W_hhᵀ`, when asked for.
    pub w: Option<Vec<f32>>,
    /// `[4H]`: `∂bias`.
    pub bias: Vec<f32>,
    /// `[B, H]`: `∂h0` and `∂c0`.
    pub h0: Vec<f32>,
    pub c0: Vec<f32>,
}

/// The states a backward pass reads: what [`forward`] filled (gates kept) and the start.
pub(crate) struct Tape<'a> {
    pub states: &'a [f32],
    pub cells: &'a [f32],
    pub gates: &'a [f32],
    pub h0: &'a [f32],
    pub c0: &'a [f32],
}

/// BPTT. `grad` is `[T + 2, B, H]`: the gradient of every step's output, then of the final
/// hidden and cell states.
pub(crate) fn backward(
    shape: &Shape,
    tape: &Tape,
    w: &[f32],
    valid: Option<&[f32]>,
    grad: &[f32],
    want_w: bool,
) -> Gradients {
    let (block, batch, hidden, steps) = (shape.block(), shape.batch, shape.hidden, shape.steps);
    let width = 4 * hidden;
    let gate_block = batch * width;
    let mut gh = grad[steps * block..(steps + 1) * block].to_vec();
    let mut gc = grad[(steps + 1) * block..(steps + 2) * block].to_vec();
    let mut next_h = vec![0.0; block];
    let mut next_c = vec![0.0; block];
    let mut da = vec![0.0; steps * gate_block];
    let mut bias = vec![0.0; width];
    let wt = transposed(w, hidden, width);
    for t in shape.order().rev() {
        let c_prev = match shape.previous(t) {
            Some(p) => &tape.cells[p * block..(p + 1) * block],
            None => tape.c0,
        };
        let c = &tape.cells[t * block..(t + 1) * block];
        let gates = &tape.gates[t * gate_block..(t + 1) * gate_block];
        let gy = &grad[t * block..(t + 1) * block];
        let d = &mut da[t * gate_block..(t + 1) * gate_block];
        for b in 0..batch {
            let r = b * hidden..(b + 1) * hidden;
            let g = b * width..(b + 1) * width;
            if shape.is_valid(valid, t, b) {
                lstm_grad_row(
                    &gates[g.clone()],
                    &c[r.clone()],
                    &c_prev[r.clone()],
                    &gy[r.clone()],
                    &gh[r.clone()],
                    &gc[r.clone()],
                    &mut d[g.clone()],
                    &mut next_c[r.clone()],
                );
                next_h[r].fill(0.0);
                add_assign(&mut bias, &d[g]);
            } else {
                d[g].fill(0.0);
                next_c[r.clone()].copy_from_slice(&gc[r.clone()]);
                next_h[r.clone()].copy_from_slice(&gh[r]);
            }
        }
        // SAFETY: `d` and `wt` (`W_hh`) are B×4H and 4H×H row-major, apart from `next_h`.
        unsafe {
            matmul(
                &mut next_h,
                batch,
                hidden,
                width,
                View::rows(d, width),
                View::rows(&wt, hidden),
                true,
            );
        }
        std::mem::swap(&mut gh, &mut next_h);
        std::mem::swap(&mut gc, &mut next_c);
    }
    let w = want_w.then(|| hidden_weight_gradient(shape, tape.states, tape.h0, &da, width));
    Gradients {
        da,
        w,
        bias,
        h0: gh,
        c0: gc,
    }
}
