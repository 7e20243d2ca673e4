//! The LSTM scan on raw `f32` memory: per step, for each gate, one product starting from the
//! step's gate projection plus bias, then one fused pass per row for the gates and the new
//! states; BPTT mirrors it, with `∂W_hh` as two products over all steps. A team of threads
//! runs the scan, each thread on its own hidden units (and their columns of every gate).
//!
//! Layouts (row-major, time-major): `xp` and `gates` are `[T, B, 4H]` (`i, f, g, o`), `states`
//! and `cells` `[T, B, H]`, `w` `[H, 4H]` (`W_hhᵀ`), `bias` `[4H]`, `h0`/`c0` `[B, H]`.

use super::activation::{add_assign, lstm_grad_row, lstm_row};
use super::matmul::transposed;
use super::packed::{Start, StepWeights};
use super::steps::{Shape, gate_ranges, hidden_weight_gradient};
use super::team::{self, Shared};

/// What the forward pass fills: the states after every step and, when `keep_gates`, the
/// activated gates of every step (otherwise `gates` is one step's scratch, `[B, 4H]`).
pub(crate) struct Outputs<'a> {
    /// Zero-filled (the rows are written through slices).
    pub states: Shared,
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
    let (block, batch, hidden) = (shape.block(), shape.batch, shape.hidden);
    let width = 4 * hidden;
    let gate_block = batch * width;
    let w = StepWeights::gates(w, hidden, 4, hidden);
    let (states, cells) = (out.states, Shared::new(out.cells));
    let gates = Shared::new(out.gates);
    let keep_gates = out.keep_gates;
    let order: Vec<usize> = shape.order().collect();
    let chunks = shape.team_size(4);
    team::run(chunks, shape.steps, chunks, |i, chunk| {
        let units = StepWeights::columns(hidden, chunk, chunks);
        let t = order[i];
        // SAFETY: the previous step's blocks were completed in the previous phase and are
        // only read during this one.
        let (h_prev, c_prev) = match shape.previous(t) {
            None => (h0, c0),
            Some(p) => unsafe {
                let at = p * block..(p + 1) * block;
                (states.get(at.clone()), cells.get(at))
            },
        };
        let at = if keep_gates { t * gate_block } else { 0 };
        for (g, w) in w.iter().enumerate() {
            let start = Start::Rows {
                values: &xp[t * gate_block + g * hidden..(t + 1) * gate_block],
                columns: width,
                bias: Some(&bias[g * hidden..]),
            };
            // SAFETY: gate `g`'s columns of this chunk's units in the step's gate block;
            // no other chunk touches them.
            unsafe {
                let dst = gates.rows(at + g * hidden, width);
                w.product(dst, batch, h_prev, start, units.clone());
            }
        }
        for b in 0..batch {
            let mine = b * hidden + units.start..b * hidden + units.end;
            let now = t * block + mine.start..t * block + mine.end;
            // SAFETY: this chunk's units of step `t`, in every gate and state.
            unsafe {
                let (h, c) = (states.get_mut(now.clone()), cells.get_mut(now));
                if shape.is_valid(valid, t, b) {
                    let [i, f, g, o] =
                        gate_ranges(at + b * width, hidden, &units).map(|r| gates.get_mut(r));
                    lstm_row(i, f, g, o, &c_prev[mine.clone()], c, h);
                } else {
                    h.copy_from_slice(&h_prev[mine.clone()]);
                    c.copy_from_slice(&c_prev[mine]);
                }
            }
        }
    });
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
    let wt = StepWeights::new(&transposed(w, hidden, width), width, hidden);
    // The gradients reaching the states after step `t`, and those being built for `t − 1`.
    let final_state = |i: usize| grad[(steps + i) * block..(steps + i + 1) * block].to_vec();
    let mut gh = [final_state(0), vec![0.0; block]];
    let mut gc = [final_state(1), vec![0.0; block]];
    let mut da = vec![0.0; steps * gate_block];
    let mut bias = vec![0.0; width];
    {
        let [gh0, gh1] = &mut gh;
        let [gc0, gc1] = &mut gc;
        let (gh, gc) = (
            [Shared::new(gh0), Shared::new(gh1)],
            [Shared::new(gc0), Shared::new(gc1)],
        );
        let (da, bias) = (Shared::new(&mut da), Shared::new(&mut bias));
        let order: Vec<usize> = shape.order().rev().collect();
        let chunks = shape.team_size(4);
        // Two phases per step: the gates' gradients, then their product with `W_hh`.
        team::run(chunks, 2 * steps, chunks, |phase, chunk| {
            let units = StepWeights::columns(hidden, chunk, chunks);
            let (i, product) = (phase / 2, phase % 2 == 1);
            let t = order[i];
            let (gh, next_h) = (gh[i % 2], gh[(i + 1) % 2]);
            let (gc, next_c) = (gc[i % 2], gc[(i + 1) % 2]);
            let c_prev = match shape.previous(t) {
                Some(p) => &tape.cells[p * block..(p + 1) * block],
                None => tape.c0,
            };
            let c = &tape.cells[t * block..(t + 1) * block];
            let gates = &tape.gates[t * gate_block..(t + 1) * gate_block];
            let gy = &grad[t * block..(t + 1) * block];
            if !product {
                for b in 0..batch {
                    let mine = b * hidden + units.start..b * hidden + units.end;
                    let d = gate_ranges::<4>(t * gate_block + b * width, hidden, &units);
                    // SAFETY: this chunk's units of step `t` in `da`, the state gradients and
                    // the bias: no other chunk touches them.
                    unsafe {
                        let (next_h, next_c) =
                            (next_h.get_mut(mine.clone()), next_c.get_mut(mine.clone()));
                        if shape.is_valid(valid, t, b) {
                            lstm_grad_row(
                                gate_ranges(b * width, hidden, &units).map(|r| &gates[r]),
                                &c[mine.clone()],
                                &c_prev[mine.clone()],
                                &gy[mine.clone()],
                                gh.get(mine.clone()),
                                gc.get(mine.clone()),
                                d.clone().map(|r| da.get_mut(r)),
                                next_c,
                            );
                            next_h.fill(0.0);
                            let b = gate_ranges::<4>(0, hidden, &units);
                            for (b, d) in b.into_iter().zip(d) {
                                add_assign(bias.get_mut(b), da.get(d));
                            }
                        } else {
                            for r in d {
                                da.get_mut(r).fill(0.0);
                            }
                            next_c.copy_from_slice(gc.get(mine.clone()));
                            next_h.copy_from_slice(gh.get(mine));
                        }
                    }
                }
                return;
            }
            // SAFETY: every chunk finished step `t`'s block of `da` in the previous phase
            // and nobody writes it again; `next_h`'s columns are this chunk's.
            unsafe {
                let d = da.get(t * gate_block..(t + 1) * gate_block);
                let dst = next_h.rows(0, hidden);
                wt.product(dst, batch, d, Start::Destination, units.clone());
            }
        });
    }
    let w = want_w.then(|| hidden_weight_gradient(shape, tape.states, tape.h0, &da, width));
    // After `steps` rounds the gradients reaching the start states are in buffers `steps % 2`.
    let last = steps % 2;
    let [h0, c0] = [gh, gc].map(|mut pair| std::mem::take(&mut pair[last]));
    Gradients {
        da,
        w,
        bias,
        h0,
        c0,
    }
}
