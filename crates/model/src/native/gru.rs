//! The GRU scan on raw `f32` memory: per step one product for the hidden part (`h·W + b_hh`,
//! kept apart from the input part because the reset gate scales its `n` block), then one fused
//! pass per row; BPTT mirrors it, with `∂W_hh` as two products over all steps.
//!
//! Layouts (row-major, time-major): `xp` is `[T, B, 3H]` (`r, z, n`, with `b_ih`), `gates`
//! `[T, B, 4H]` (`r, z, n, h_n` kept for the backward pass), `states` `[T, B, H]`, `w`
//! `[H, 3H]` (`W_hhᵀ`), `bias` `[3H]` (`b_hh`), `h0` `[B, H]`.

use super::activation::{add_assign, gru_grad_row, gru_row};
use super::matmul::{View, matmul, transposed};
use super::steps::{Shape, current_and_previous, hidden_weight_gradient};

/// Runs the GRU over all steps into `states`; padded steps carry the state. With `keep_gates`,
/// `gates` is `[T, B, 4H]`, otherwise one step's scratch `[B, 4H]`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn forward(
    shape: &Shape,
    xp: &[f32],
    w: &[f32],
    bias: &[f32],
    h0: &[f32],
    valid: Option<&[f32]>,
    states: &mut [f32],
    gates: &mut [f32],
    keep_gates: bool,
) {
    let (batch, hidden) = (shape.batch, shape.hidden);
    let width = 3 * hidden;
    let mut hw = vec![0.0; batch * width];
    for t in shape.order() {
        let (h, h_prev) = current_and_previous(shape, states, h0, t);
        for row in hw.chunks_exact_mut(width) {
            row.copy_from_slice(bias);
        }
        // SAFETY: `h_prev` is B×H and `w` H×3H, row-major, both apart from `hw`.
        unsafe {
            matmul(
                &mut hw,
                batch,
                width,
                hidden,
                View::rows(h_prev, hidden),
                View::rows(w, width),
                true,
            );
        }
        let at = if keep_gates {
            t * batch * 4 * hidden
        } else {
            0
        };
        let x = &xp[t * batch * width..(t + 1) * batch * width];
        for b in 0..batch {
            let r = b * hidden..(b + 1) * hidden;
            if shape.is_valid(valid, t, b) {
                let g = at + b * 4 * hidden..at + (b + 1) * 4 * hidden;
                let p = b * width..(b + 1) * width;
                gru_row(
                    &x[p.clone()],
                    &hw[p],
                    &h_prev[r.clone()],
                    &mut gates[g],
                    &mut h[r],
                );
            } else {
                h[r.clone()].copy_from_slice(&h_prev[r]);
            }
        }
    }
}

/// What [`backward`] returns.
pub(crate) struct Gradients {
    /// `[T, B, 3H]`: `∂xp`.
    pub dx: Vec<f32>,
    /// `[H, 3H]`: `∂W_hhᵀ`, when asked for.
    pub w: Option<Vec<f32>>,
    /// `[3H]`: `∂b_hh`.
    pub bias: Vec<f32>,
    /// `[B, H]`: `∂h0`.
    pub h0: Vec<f32>,
}

/// BPTT. `grad` is `[T + 1, B, H]`: the gradient of every step's output, then of the final
/// state; `states` and `gates` are what [`forward`] filled (gates kept).
#[allow(clippy::too_many_arguments)]
pub(crate) fn backward(
    shape: &Shape,
    states: &[f32],
    gates: &[f32],
    w: &[f32],
    h0: &[f32],
    valid: Option<&[f32]>,
    grad: &[f32],
    want_w: bool,
) -> Gradients {
    let (block, batch, hidden, steps) = (shape.block(), shape.batch, shape.hidden, shape.steps);
    let width = 3 * hidden;
    let d_block = batch * width;
    let g_block = batch * 4 * hidden;
    let mut gh = grad[steps * block..(steps + 1) * block].to_vec();
    let mut next = vec![0.0; block];
    let mut dx = vec![0.0; steps * d_block];
    let mut dh = vec![0.0; steps * d_block];
    let mut bias = vec![0.0; width];
    let wt = transposed(w, hidden, width);
    for t in shape.order().rev() {
        let h_prev = match shape.previous(t) {
            Some(p) => &states[p * block..(p + 1) * block],
            None => h0,
        };
        let kept = &gates[t * g_block..(t + 1) * g_block];
        let gy = &grad[t * block..(t + 1) * block];
        let dx_t = &mut dx[t * d_block..(t + 1) * d_block];
        let dh_t = &mut dh[t * d_block..(t + 1) * d_block];
        for b in 0..batch {
            let r = b * hidden..(b + 1) * hidden;
            let p = b * width..(b + 1) * width;
            if shape.is_valid(valid, t, b) {
                gru_grad_row(
                    &kept[b * 4 * hidden..(b + 1) * 4 * hidden],
                    &h_prev[r.clone()],
                    &gy[r.clone()],
                    &gh[r.clone()],
                    &mut dx_t[p.clone()],
                    &mut dh_t[p.clone()],
                    &mut next[r],
                );
                add_assign(&mut bias, &dh_t[p]);
            } else {
                // `dx`/`dh` rows stay zero; the state's gradient passes through unchanged.
                next[r.clone()].copy_from_slice(&gh[r]);
            }
        }
        // SAFETY: `dh_t` and `wt` (`W_hh`) are B×3H and 3H×H row-major, apart from `next`.
        unsafe {
            matmul(
                &mut next,
                batch,
                hidden,
                width,
                View::rows(dh_t, width),
                View::rows(&wt, hidden),
                true,
            );
        }
        std::mem::swap(&mut gh, &mut next);
    }
    let w = want_w.then(|| hidden_weight_gradient(shape, states, h0, &dh, width));
    Gradients {
        dx,
        w,
        bias,
        h0: gh,
    }
}
