//! The Elman scan on raw `f32` memory: per step one product accumulated onto the step's input
//! projection and one in-place activation, with no allocation; the backward pass writes each
//! step's pre-activation gradient in place and gets `∂W_hh` as two products over all steps.
//!
//! Layouts are row-major and time-major: `xp`, `states`, `grad` are `[T(+1), B, H]`, `w` is
//! `[H, H]` (`W_hhᵀ`), `bias` is `[H]`, `h0` is `[B, H]`, `valid` is `[T, B]` (1 real step,
//! 0 padding).

use rayon::prelude::*;

use super::activation::{activate_in_place, add_assign, add_into, elman_grad_row};
use super::matmul::{View, matmul, transposed};
use super::steps::{Shape, current_and_previous, hidden_weight_gradient};
use crate::cell::ElmanActivation;

/// Below this many elements a loop runs on one thread.
const PARALLEL_MIN_ELEMENTS: usize = 1 << 15;

/// `act(x)` in place, split over rayon's threads when large.
fn activate(x: &mut [f32], activation: ElmanActivation) {
    if x.len() < PARALLEL_MIN_ELEMENTS {
        return activate_in_place(x, activation);
    }
    let chunk = x.len().div_ceil(rayon::current_num_threads()).max(1024);
    x.par_chunks_mut(chunk)
        .for_each(|part| activate_in_place(part, activation));
}

/// The weights of a scan, row-major: `w` `[H, H]` (`W_hhᵀ`) and `bias` `[H]`.
pub(crate) struct Weights<'a> {
    pub w: &'a [f32],
    pub bias: &'a [f32],
}

/// Fills `states` (`[T, B, H]`) with the hidden state after every step; padded steps carry the
/// previous state.
pub(crate) fn forward(
    shape: &Shape,
    activation: ElmanActivation,
    xp: &[f32],
    weights: &Weights,
    h0: &[f32],
    valid: Option<&[f32]>,
    states: &mut [f32],
) {
    let (block, batch, hidden) = (shape.block(), shape.batch, shape.hidden);
    let w = weights.w;
    for t in shape.order() {
        let (current, previous) = current_and_previous(shape, states, h0, t);
        let x = &xp[t * block..(t + 1) * block];
        for (row, x) in current.chunks_exact_mut(hidden).zip(x.chunks_exact(hidden)) {
            add_into(row, x, weights.bias);
        }
        // SAFETY: `previous` is B×H and `w` H×H, row-major, both apart from `current`.
        unsafe {
            matmul(
                current,
                batch,
                hidden,
                hidden,
                View::rows(previous, hidden),
                View::rows(w, hidden),
                true,
            );
        }
        activate(current, activation);
        for b in 0..batch {
            if !shape.is_valid(valid, t, b) {
                let row = b * hidden..(b + 1) * hidden;
                current[row.clone()].copy_from_slice(&previous[row]);
            }
        }
    }
}

/// What [`backward`] computes besides `∂xp`, which it leaves in `grad`'s first `T` blocks.
pub(crate) struct Gradients {
    /// `[H, H]`: `∂W_hhᵀ`, when asked for.
    pub w: Option<Vec<f32>>,
    /// `[H]`: `∂bias`.
    pub bias: Vec<f32>,
    /// `[B, H]`: `∂h0`.
    pub h0: Vec<f32>,
}

/// BPTT. `grad` is `[T + 1, B, H]`: the gradient of every step's output, then of the final
/// state; each step's block is overwritten with the gradient of its pre-activation (which is
/// `∂xp`). `states` is what [`forward`] filled.
#[allow(clippy::too_many_arguments)]
pub(crate) fn backward(
    shape: &Shape,
    activation: ElmanActivation,
    states: &[f32],
    w: &[f32],
    h0: &[f32],
    valid: Option<&[f32]>,
    grad: &mut [f32],
    want_w: bool,
) -> Gradients {
    let (block, batch, hidden, steps) = (shape.block(), shape.batch, shape.hidden, shape.steps);
    let mut gh = grad[steps * block..(steps + 1) * block].to_vec();
    let mut next = vec![0.0; block];
    let mut bias = vec![0.0; hidden];
    let wt = transposed(w, hidden, hidden);
    for t in shape.order().rev() {
        let d = &mut grad[t * block..(t + 1) * block];
        let h = &states[t * block..(t + 1) * block];
        let rows = |b: usize| b * hidden..(b + 1) * hidden;
        for b in 0..batch {
            let r = rows(b);
            if shape.is_valid(valid, t, b) {
                elman_grad_row(&mut d[r.clone()], &gh[r.clone()], &h[r.clone()], activation);
                add_assign(&mut bias, &d[r]);
            } else {
                d[r].fill(0.0);
            }
        }
        // SAFETY: `d` and `wt` (`W_hh`) are B×H and H×H row-major, apart from `next`.
        unsafe {
            matmul(
                &mut next,
                batch,
                hidden,
                hidden,
                View::rows(d, hidden),
                View::rows(&wt, hidden),
                false,
            );
        }
        for b in 0..batch {
            if !shape.is_valid(valid, t, b) {
                add_assign(&mut next[rows(b)], &gh[rows(b)]);
            }
        }
        std::mem::swap(&mut gh, &mut next);
    }
    let w =
        want_w.then(|| hidden_weight_gradient(shape, states, h0, &grad[..steps * block], hidden));
    Gradients { w, bias, h0: gh }
}
