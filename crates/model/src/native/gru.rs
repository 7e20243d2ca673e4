//! The GRU scan on raw `f32` memory: per step, for each gate, one product for the hidden part
//! (`h·W + b_hh`, kept apart from the input part because the reset gate scales its `n` block),
//! then one fused pass per row; BPTT mirrors it, with `∂W_hh` as two products over all steps.
//! A team of threads runs the scan, each thread on its own hidden units.
//!
//! Layouts (row-major, time-major): `xp` is `[T, B, 3H]` (`r, z, n`, with `b_ih`), `gates`
//! `[T, B, 4H]` (`r, z, n, h_n` kept for the backward pass), `states` `[T, B, H]`, `w`
//! `[H, 3H]` (`W_hhᵀ`), `bias` `[3H]` (`b_hh`), `h0` `[B, H]`.

use super::activation::{add_assign, gru_grad_row, gru_row};
use super::matmul::transposed;
use super::packed::{Start, StepWeights};
use super::steps::{Shape, gate_ranges, hidden_weight_gradient};
use super::team::{self, Shared};

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
    states: Shared,
    gates: &mut [f32],
    keep_gates: bool,
) {
    let (block, batch, hidden) = (shape.block(), shape.batch, shape.hidden);
    let width = 3 * hidden;
    let kept_width = 4 * hidden;
    let w = StepWeights::gates(w, hidden, 3, hidden);
    let mut hw = vec![0.0; batch * width];
    let (states, gates, hw) = (states, Shared::new(gates), Shared::new(&mut hw));
    let order: Vec<usize> = shape.order().collect();
    let chunks = shape.team_size(3);
    team::run(chunks, shape.steps, chunks, |i, chunk| {
        let units = StepWeights::columns(hidden, chunk, chunks);
        let t = order[i];
        // SAFETY: the previous step's block was completed in the previous phase and is only
        // read during this one.
        let h_prev = match shape.previous(t) {
            None => h0,
            Some(p) => unsafe { states.get(p * block..(p + 1) * block) },
        };
        for (g, w) in w.iter().enumerate() {
            // SAFETY: gate `g`'s columns of this chunk's units in `hw`; no other chunk
            // touches them.
            unsafe {
                let dst = hw.rows(g * hidden, width);
                let start = Start::Bias(&bias[g * hidden..]);
                w.product(dst, batch, h_prev, start, units.clone());
            }
        }
        let at = if keep_gates {
            t * batch * kept_width
        } else {
            0
        };
        let x = &xp[t * batch * width..(t + 1) * batch * width];
        for b in 0..batch {
            let mine = b * hidden + units.start..b * hidden + units.end;
            let now = t * block + mine.start..t * block + mine.end;
            // SAFETY: this chunk's units of step `t`, in `hw`, the kept gates and states.
            unsafe {
                let h = states.get_mut(now);
                if shape.is_valid(valid, t, b) {
                    let parts = gate_ranges::<3>(b * width, hidden, &units);
                    gru_row(
                        parts.clone().map(|r| &x[r]),
                        parts.map(|r| hw.get(r)),
                        &h_prev[mine],
                        gate_ranges(at + b * kept_width, hidden, &units).map(|r| gates.get_mut(r)),
                        h,
                    );
                } else {
                    h.copy_from_slice(&h_prev[mine]);
                }
            }
        }
    });
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
    let kept_width = 4 * hidden;
    let wt = StepWeights::new(&transposed(w, hidden, width), width, hidden);
    // The gradient reaching the state after step `t`, and the one being built for `t − 1`.
    let mut gh = [
        grad[steps * block..(steps + 1) * block].to_vec(),
        vec![0.0; block],
    ];
    let mut dx = vec![0.0; steps * d_block];
    let mut dh = vec![0.0; steps * d_block];
    let mut bias = vec![0.0; width];
    {
        let [gh0, gh1] = &mut gh;
        let gh = [Shared::new(gh0), Shared::new(gh1)];
        let (dx, dh, bias) = (
            Shared::new(&mut dx),
            Shared::new(&mut dh),
            Shared::new(&mut bias),
        );
        let order: Vec<usize> = shape.order().rev().collect();
        let chunks = shape.team_size(3);
        // Two phases per step: the gates' gradients, then their product with `W_hh`.
        team::run(chunks, 2 * steps, chunks, |phase, chunk| {
            let units = StepWeights::columns(hidden, chunk, chunks);
            let (i, product) = (phase / 2, phase % 2 == 1);
            let t = order[i];
            let (gh, next) = (gh[i % 2], gh[(i + 1) % 2]);
            let h_prev = match shape.previous(t) {
                Some(p) => &states[p * block..(p + 1) * block],
                None => h0,
            };
            let kept = &gates[t * batch * kept_width..(t + 1) * batch * kept_width];
            let gy = &grad[t * block..(t + 1) * block];
            if !product {
                for b in 0..batch {
                    let mine = b * hidden + units.start..b * hidden + units.end;
                    let parts = gate_ranges::<3>(t * d_block + b * width, hidden, &units);
                    // SAFETY: this chunk's units of step `t` in `dx`, `dh`, the state
                    // gradients and the bias: no other chunk touches them.
                    unsafe {
                        let next = next.get_mut(mine.clone());
                        if shape.is_valid(valid, t, b) {
                            gru_grad_row(
                                gate_ranges(b * kept_width, hidden, &units).map(|r| &kept[r]),
                                &h_prev[mine.clone()],
                                &gy[mine.clone()],
                                gh.get(mine),
                                parts.clone().map(|r| dx.get_mut(r)),
                                parts.clone().map(|r| dh.get_mut(r)),
                                next,
                            );
                            let b = gate_ranges::<3>(0, hidden, &units);
                            for (b, d) in b.into_iter().zip(parts) {
                                add_assign(bias.get_mut(b), dh.get(d));
                            }
                        } else {
                            // `dx`/`dh` rows stay zero; the state's gradient passes unchanged.
                            next.copy_from_slice(gh.get(mine));
                        }
                    }
                }
                return;
            }
            // SAFETY: every chunk finished step `t`'s block of `dh` in the previous phase
            // and nobody writes it again; `next`'s columns are this chunk's.
            unsafe {
                let d = dh.get(t * d_block..(t + 1) * d_block);
                let dst = next.rows(0, hidden);
                wt.product(dst, batch, d, Start::Destination, units.clone());
            }
        });
    }
    let w = want_w.then(|| hidden_weight_gradient(shape, states, h0, &dh, width));
    // After `steps` rounds the gradient reaching the start state is in buffer `steps % 2`.
    let h0 = std::mem::take(&mut gh[steps % 2]);
    Gradients { dx, w, bias, h0 }
}
