//! The Elman scan on raw `f32` memory: per step one product accumulated onto the step's input
//! projection and one in-place activation, with no allocation; the backward pass writes each
//! step's pre-activation gradient in place and gets `∂W_hh` as two products over all steps.
//!
//! Layouts are row-major and time-major: `xp`, `states`, `grad` are `[T(+1), B, H]`, `w` is
//! `[H, H]` (`W_hhᵀ`), `bias` is `[H]`, `h0` is `[B, H]`, `valid` is `[T, B]` (1 real step,
//! 0 padding).

use super::activation::{activate_in_place, add_assign, elman_grad_row};
use super::matmul::transposed;
use super::packed::{Start, StepWeights};
use super::steps::{Shape, hidden_weight_gradient};
use super::team::{self, Shared};
use crate::cell::ElmanActivation;

/// The weights of a scan, row-major: `w` `[H, H]` (`W_hhᵀ`) and `bias` `[H]`.
pub(crate) struct Weights<'a> {
    pub w: &'a [f32],
    pub bias: &'a [f32],
}

/// Fills `out` (`[T, B, H]`, possibly unfilled memory: each step's block is written by its
/// product before anything reads it) with the hidden state after every step; padded steps
/// carry the previous state. Each thread of the team computes its own columns of every step: the step's
/// projection plus bias plus `h_{t-1}·W` in one product, then the activation in place.
pub(crate) fn forward(
    shape: &Shape,
    activation: ElmanActivation,
    xp: &[f32],
    weights: &Weights,
    h0: &[f32],
    valid: Option<&[f32]>,
    out: Shared,
) {
    let (block, batch, hidden) = (shape.block(), shape.batch, shape.hidden);
    let w = StepWeights::new(weights.w, hidden, hidden);
    let order: Vec<usize> = shape.order().collect();
    let chunks = shape.team_size(1);
    team::run(chunks, shape.steps, chunks, |i, chunk| {
        let columns = StepWeights::columns(hidden, chunk, chunks);
        let t = order[i];
        // SAFETY: the previous step's block was completed in the previous phase and is only
        // read during this one.
        let previous = match shape.previous(t) {
            None => h0,
            Some(p) => unsafe { out.get(p * block..(p + 1) * block) },
        };
        let start = Start::Rows {
            values: &xp[t * block..(t + 1) * block],
            columns: hidden,
            bias: Some(weights.bias),
        };
        // SAFETY: step `t`'s block is B×H inside `states`; this chunk alone writes its
        // columns, and nobody reads the block before the next phase.
        unsafe {
            let dst = out.rows(t * block, hidden);
            w.product(dst, batch, previous, start, columns.clone());
        }
        for b in 0..batch {
            let at = b * hidden;
            let mine = at + columns.start..at + columns.end;
            // SAFETY: this chunk's columns of step `t` (see above).
            let row = unsafe { out.get_mut(t * block + mine.start..t * block + mine.end) };
            if shape.is_valid(valid, t, b) {
                activate_in_place(row, activation);
            } else {
                row.copy_from_slice(&previous[mine]);
            }
        }
    });
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
    let wt = StepWeights::new(&transposed(w, hidden, hidden), hidden, hidden);
    // The gradient reaching the state after step `t`, and the one being built for `t − 1`.
    let mut buffers = [
        grad[steps * block..(steps + 1) * block].to_vec(),
        vec![0.0; block],
    ];
    let mut bias = vec![0.0; hidden];
    {
        let d_all = Shared::new(grad);
        let [first, second] = &mut buffers;
        let buffers = [Shared::new(first), Shared::new(second)];
        let bias = Shared::new(&mut bias);
        let order: Vec<usize> = shape.order().rev().collect();
        let chunks = shape.team_size(1);
        // Two phases per step: the pre-activation gradients, then their product with `W_hh`.
        team::run(chunks, 2 * steps, chunks, |phase, chunk| {
            let columns = StepWeights::columns(hidden, chunk, chunks);
            let (i, product) = (phase / 2, phase % 2 == 1);
            let t = order[i];
            let (gh, next) = (buffers[i % 2], buffers[(i + 1) % 2]);
            if !product {
                let h = &states[t * block..(t + 1) * block];
                for b in 0..batch {
                    let at = b * hidden;
                    let mine = at + columns.start..at + columns.end;
                    // SAFETY: this chunk's columns of step `t` of `grad`, of `gh` and of the
                    // bias: no other chunk touches them.
                    unsafe {
                        let d = d_all.get_mut(t * block + mine.start..t * block + mine.end);
                        if shape.is_valid(valid, t, b) {
                            elman_grad_row(d, gh.get(mine.clone()), &h[mine], activation);
                            add_assign(bias.get_mut(columns.clone()), d);
                        } else {
                            d.fill(0.0);
                        }
                    }
                }
                return;
            }
            // SAFETY: the previous phase completed step `t`'s block of `grad` and nobody writes
            // it again; `next`'s columns are this chunk's.
            unsafe {
                let d = d_all.get(t * block..(t + 1) * block);
                let dst = next.rows(0, hidden);
                wt.product(dst, batch, d, Start::Zero, columns.clone());
                for b in 0..batch {
                    if !shape.is_valid(valid, t, b) {
                        let mine = b * hidden + columns.start..b * hidden + columns.end;
                        add_assign(next.get_mut(mine.clone()), gh.get(mine));
                    }
                }
            }
        });
    }
    let w =
        want_w.then(|| hidden_weight_gradient(shape, states, h0, &grad[..steps * block], hidden));
    // After `steps` rounds the gradient reaching the start state is in buffer `steps % 2`.
    let [even, odd] = buffers;
    let h0 = if steps.is_multiple_of(2) { even } else { odd };
    Gradients { w, bias, h0 }
}
