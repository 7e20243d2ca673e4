//! The native scan on raw `f32` memory, for every cell: per step, for each gate block, one
//! product against `W_hh` packed once per scan (`packed.rs`), starting from the step's input
//! projection plus bias, then one vectorised pass over the rows ([`Cell::forward_row`]); BPTT
//! mirrors it, with `∂W_hh` as two products over all steps. A team of threads (`team.rs`) runs
//! each step, every thread on its own hidden units (and their columns of every gate).
//!
//! Layouts are row-major and time-major: `xp` is `[T, B, GATES·H]`, `states` and `cells`
//! `[T, B, H]`, `kept` `[T, B, TAPE·H]`, `w` `[H, GATES·H]` (`W_hhᵀ`), `bias` `[GATES·H]`,
//! `h0`/`c0` `[B, H]`, `valid` `[T, B]` (1 real step, 0 padding).

use std::mem::MaybeUninit;
use std::ops::Range;

use super::matmul::transposed;
use super::memory::{filled, unfilled, write};
use super::packed::{Start, StepWeights};
use super::simd::{Isa, Vectorised};
use super::steps::{Shape, hidden_weight_gradient};
use super::team::{self, Shared};
use crate::cells::{BackwardRow, Blocks, BlocksMut, Cell, ForwardRow};

/// What a scan reads: its inputs, and the masks.
pub(crate) struct Inputs<'a> {
    pub xp: &'a [f32],
    pub w: &'a [f32],
    pub bias: &'a [f32],
    pub h0: &'a [f32],
    /// Empty unless the cell has a cell state.
    pub c0: &'a [f32],
    pub valid: Option<&'a [f32]>,
}

/// Where the forward pass writes; each may be memory nothing has written yet: the scan writes
/// every element.
pub(crate) struct Outputs {
    /// `[T, B, H]`: the hidden state after every step (padded steps carry the previous one).
    pub states: Shared,
    /// `[T, B, H]`: the cell state after every step (empty unless the cell has one).
    pub cells: Shared,
    /// `[T, B, TAPE·H]` when `keep`, else one step's scratch `[B, TAPE·H]`.
    pub kept: Shared,
    pub keep: bool,
}

/// Runs the scan forward, filling `out`.
pub(crate) fn forward<C: Cell>(cell: C, isa: Isa, shape: &Shape, inputs: &Inputs, out: Outputs) {
    let (batch, hidden) = (shape.batch, shape.hidden);
    let width = C::GATES * hidden;
    let w = StepWeights::gates(inputs.w, hidden, C::GATES, hidden, isa);
    // The step's parts, `[B, GATES·H]`: each thread writes and reads its own units' columns.
    let mut parts = vec![0.0; batch * width];
    let parts = Shared::new(&mut parts);
    let order: Vec<usize> = shape.order().collect();
    let chunks = shape.team_size(C::GATES);
    team::run(chunks, shape.steps, chunks, |i, chunk| {
        let units = StepWeights::columns(hidden, chunk, chunks);
        let t = order[i];
        let x = &inputs.xp[t * batch * width..(t + 1) * batch * width];
        // SAFETY: the previous step's blocks were completed in the previous phase and are
        // only read during this one.
        let (h_prev, c_prev) = match shape.previous(t) {
            None => (inputs.h0, inputs.c0),
            Some(p) => unsafe {
                let h = block_at(&out.states, shape, p);
                (h, cell_block_at::<C>(&out.cells, shape, p))
            },
        };
        for (g, w) in w.iter().enumerate() {
            let bias = &inputs.bias[g * hidden..];
            let start = if C::SEPARATE_INPUT {
                Start::Bias(bias)
            } else {
                Start::Rows {
                    values: &x[g * hidden..],
                    columns: width,
                    bias: Some(bias),
                }
            };
            // SAFETY: gate `g`'s columns of this chunk's units in `parts`; no other chunk
            // touches them.
            unsafe {
                w.product(
                    parts.rows(g * hidden, width),
                    batch,
                    h_prev,
                    start,
                    units.clone(),
                )
            };
        }
        isa.run(ForwardRows {
            cell,
            shape,
            t,
            units,
            x,
            parts,
            h_prev,
            c_prev,
            out: &out,
            valid: inputs.valid,
        });
    });
}

/// Block `t` (`[B, H]`) of a written `[T, B, H]` memory.
///
/// # Safety
/// The block has been written and nobody writes it while the slice lives.
unsafe fn block_at<'a>(memory: &'a Shared, shape: &Shape, t: usize) -> &'a [f32] {
    let block = shape.block();
    // SAFETY: the caller's promise.
    unsafe { memory.get(t * block..(t + 1) * block) }
}

/// [`block_at`] of the cell states, or nothing for cells without them.
///
/// # Safety
/// As [`block_at`].
unsafe fn cell_block_at<'a, C: Cell>(memory: &'a Shared, shape: &Shape, t: usize) -> &'a [f32] {
    // SAFETY: the caller's promise.
    if C::CELL_STATE {
        unsafe { block_at(memory, shape, t) }
    } else {
        &[]
    }
}

/// `acc += x` element-wise.
#[inline(always)]
fn add_assign(acc: &mut [f32], x: &[f32]) {
    for (a, &v) in acc.iter_mut().zip(x) {
        *a += v;
    }
}

/// One thread's rows of one forward step: [`Cell::forward_row`] on real steps, the previous
/// state carried on padded ones.
struct ForwardRows<'a, C> {
    cell: C,
    shape: &'a Shape,
    t: usize,
    units: Range<usize>,
    /// The step's input projection, `[B, GATES·H]`.
    x: &'a [f32],
    parts: Shared,
    h_prev: &'a [f32],
    c_prev: &'a [f32],
    out: &'a Outputs,
    valid: Option<&'a [f32]>,
}

impl<C: Cell> Vectorised for ForwardRows<'_, C> {
    #[inline(always)]
    fn run(self) {
        let (cell, shape, t, units, out) = (self.cell, self.shape, self.t, self.units, self.out);
        let (batch, hidden, n) = (shape.batch, shape.hidden, units.len());
        let (width, kept_width) = (C::GATES * hidden, C::TAPE * hidden);
        let kept_at = if out.keep { t * batch * kept_width } else { 0 };
        for b in 0..batch {
            let mine = b * hidden + units.start..b * hidden + units.end;
            let now = t * shape.block() + mine.start..t * shape.block() + mine.end;
            let kept_row = kept_at + b * kept_width + units.start;
            // SAFETY: this chunk's units of row `b` of step `t`, in the states, the parts and
            // the tape: no other chunk touches them during this phase; the parts were written
            // by this chunk's products just before.
            unsafe {
                let h = out.states.uninit_mut(now.clone());
                let c: &mut [MaybeUninit<f32>] = match C::CELL_STATE {
                    true => out.cells.uninit_mut(now),
                    false => &mut [],
                };
                let tape = out.kept.blocks_mut(kept_row, hidden, n, C::TAPE);
                let c_prev: &[f32] = if C::CELL_STATE {
                    &self.c_prev[mine.clone()]
                } else {
                    &[]
                };
                if !shape.is_valid(self.valid, t, b) {
                    write(h, &self.h_prev[mine]);
                    write(c, c_prev);
                    tape.zero();
                    continue;
                }
                let input = match C::SEPARATE_INPUT {
                    true => Blocks::of(self.x, b * width + units.start, hidden, n, C::GATES),
                    false => Blocks::NONE,
                };
                cell.forward_row(ForwardRow {
                    hidden: self
                        .parts
                        .blocks(b * width + units.start, hidden, n, C::GATES),
                    input,
                    h_prev: &self.h_prev[mine],
                    c_prev,
                    h,
                    c,
                    tape,
                });
            }
        }
    }
}

/// What the backward pass reads of the forward pass (as [`forward`] filled it, tape kept).
pub(crate) struct Saved<'a> {
    pub states: &'a [f32],
    /// Empty unless the cell has a cell state.
    pub cells: &'a [f32],
    /// Empty unless the cell keeps a tape.
    pub kept: &'a [f32],
    pub h0: &'a [f32],
    pub c0: &'a [f32],
    /// `[T, B]`: the masks (`None`: nothing padded).
    pub valid: Option<&'a [f32]>,
}

/// What [`backward`] computes besides the summed parts' gradient when that is computed in
/// `grad`'s memory (see [`in_place`]).
pub(crate) struct Gradients {
    /// `[T, B, GATES·H]`: the gradient of the hidden part of every step (empty when in place).
    pub d_hidden: Vec<f32>,
    /// `[T, B, GATES·H]`: the input part's, for cells that keep it apart (else empty).
    pub d_input: Vec<f32>,
    /// `[H, GATES·H]`: `∂W_hhᵀ`, when asked for.
    pub w: Option<Vec<f32>>,
    /// `[GATES·H]`: `∂bias`.
    pub bias: Vec<f32>,
    /// `[B, H]`: `∂h0`, and `∂c0` (empty unless the cell has a cell state).
    pub h0: Vec<f32>,
    pub c0: Vec<f32>,
}

/// Whether [`backward`] writes the hidden part's gradient over the outputs' gradient in `grad`
/// (one gate block and nothing apart: both are `[T, B, H]`), saving a buffer as large.
pub(crate) fn in_place<C: Cell>() -> bool {
    C::GATES == 1 && !C::SEPARATE_INPUT
}

/// BPTT. `grad` is `[T + 1 (+ 1), B, H]`: the gradient of every step's output, then of the
/// final hidden (and cell) state. With [`in_place`], its first `T` blocks are overwritten with
/// the hidden part's gradient of every step.
pub(crate) fn backward<C: Cell>(
    cell: C,
    isa: Isa,
    shape: &Shape,
    saved: &Saved,
    w: &[f32],
    grad: &mut [f32],
    want_w: bool,
) -> Gradients {
    let (block, batch, hidden, steps) = (shape.block(), shape.batch, shape.hidden, shape.steps);
    let width = C::GATES * hidden;
    let wt = StepWeights::block(&transposed(w, hidden, width), width, hidden, 0, hidden, isa);
    // The gradients reaching the states after step `t`, and those being built for `t − 1`.
    let final_state = |i: usize| grad[(steps + i) * block..(steps + i + 1) * block].to_vec();
    let mut gh = [final_state(0), vec![0.0; block]];
    let mut gc = match C::CELL_STATE {
        true => [final_state(1), vec![0.0; block]],
        false => [Vec::new(), Vec::new()],
    };
    let parts_len = steps * batch * width;
    let mut d_hidden = if in_place::<C>() {
        Vec::new()
    } else {
        unfilled(parts_len)
    };
    let mut d_input = if C::SEPARATE_INPUT {
        unfilled(parts_len)
    } else {
        Vec::new()
    };
    let mut bias = vec![0.0; width];
    {
        let grads = Shared::new(grad);
        let d_hidden = match in_place::<C>() {
            true => grads,
            false => Shared::unfilled(&mut d_hidden),
        };
        let d_input = Shared::unfilled(&mut d_input);
        let [gh0, gh1] = &mut gh;
        let [gc0, gc1] = &mut gc;
        let gh = [Shared::new(gh0), Shared::new(gh1)];
        let gc = [Shared::new(gc0), Shared::new(gc1)];
        let bias = Shared::new(&mut bias);
        let order: Vec<usize> = shape.order().rev().collect();
        let chunks = shape.team_size(C::GATES);
        // Two phases per step: the rows' gradients, then their product with `W_hh`.
        team::run(chunks, 2 * steps, chunks, |phase, chunk| {
            let units = StepWeights::columns(hidden, chunk, chunks);
            let (i, t) = (phase / 2, order[phase / 2]);
            let (gh, next) = (gh[i % 2], gh[(i + 1) % 2]);
            if phase % 2 == 0 {
                isa.run(BackwardRows {
                    cell,
                    shape,
                    t,
                    units,
                    saved,
                    grads,
                    gh,
                    gc: [gc[i % 2], gc[(i + 1) % 2]],
                    next,
                    d_hidden,
                    d_input,
                    bias,
                });
                return;
            }
            let start = if C::DIRECT {
                Start::Destination
            } else {
                Start::Zero
            };
            // SAFETY: every chunk finished step `t`'s block of `d_hidden` in the previous
            // phase and nobody writes it again; `next`'s and `gh`'s columns of this chunk's
            // units are this chunk's.
            unsafe {
                let d = d_hidden.get(t * batch * width..(t + 1) * batch * width);
                wt.product(next.rows(0, hidden), batch, d, start, units.clone());
                for b in (0..batch).filter(|&b| !shape.is_valid(saved.valid, t, b)) {
                    let mine = b * hidden + units.start..b * hidden + units.end;
                    next.get_mut(mine.clone()).copy_from_slice(gh.get(mine));
                }
            }
        });
    }
    // SAFETY: the scan wrote every element (each row of each step: the cell's row, or zero).
    let (d_hidden, d_input) = unsafe { (filled(d_hidden), filled(d_input)) };
    let w = want_w.then(|| {
        let d = if in_place::<C>() {
            &grad[..steps * block]
        } else {
            &d_hidden[..]
        };
        hidden_weight_gradient(shape, saved.states, saved.h0, d, width)
    });
    // After `steps` rounds the gradients reaching the start states are in buffers `steps % 2`.
    let last = steps % 2;
    let [h0, c0] = [gh, gc].map(|mut pair| std::mem::take(&mut pair[last]));
    Gradients {
        d_hidden,
        d_input,
        w,
        bias,
        h0,
        c0,
    }
}

/// One thread's rows of one backward step: [`Cell::backward_row`] on real steps (and the bias
/// gradient), zeros and the state gradients carried on padded ones.
struct BackwardRows<'a, C> {
    cell: C,
    shape: &'a Shape,
    t: usize,
    units: Range<usize>,
    saved: &'a Saved<'a>,
    /// The incoming gradient, `[T + 1 (+ 1), B, H]`.
    grads: Shared,
    /// What reaches `h_t` from the later steps, and (being built) `h_{t−1}`.
    gh: Shared,
    next: Shared,
    /// The same for the cell state: `[c_t, c_{t−1}]`.
    gc: [Shared; 2],
    d_hidden: Shared,
    d_input: Shared,
    bias: Shared,
}

impl<C: Cell> Vectorised for BackwardRows<'_, C> {
    #[inline(always)]
    fn run(self) {
        let (cell, shape, t, units, saved) =
            (self.cell, self.shape, self.t, self.units, self.saved);
        let [gc, next_c] = self.gc;
        let (gh, next, d_hidden, d_input) = (self.gh, self.next, self.d_hidden, self.d_input);
        let (block, batch, hidden, n) = (shape.block(), shape.batch, shape.hidden, units.len());
        let (width, kept_width) = (C::GATES * hidden, C::TAPE * hidden);
        let (h_prev, c_prev) = match shape.previous(t) {
            Some(p) => (
                &saved.states[p * block..(p + 1) * block],
                if C::CELL_STATE {
                    &saved.cells[p * block..(p + 1) * block]
                } else {
                    &[]
                },
            ),
            None => (saved.h0, saved.c0),
        };
        for b in 0..batch {
            let mine = b * hidden + units.start..b * hidden + units.end;
            let now = t * block + mine.start..t * block + mine.end;
            let at = t * batch * width + b * width + units.start;
            // SAFETY: this chunk's units of row `b` of step `t`, in the gradients of the parts,
            // of the states and of the bias: no other chunk touches them during this phase.
            unsafe {
                if !shape.is_valid(saved.valid, t, b) {
                    d_hidden.blocks_mut(at, hidden, n, C::GATES).zero();
                    if C::SEPARATE_INPUT {
                        d_input.blocks_mut(at, hidden, n, C::GATES).zero();
                    }
                    if C::CELL_STATE {
                        next_c.get_mut(mine.clone()).copy_from_slice(gc.get(mine));
                    }
                    continue;
                }
                // The gradient reaching `h_t`: its output's and the later steps'. (With the
                // parts' gradient in place, this reads what the cell's row then overwrites.)
                let g = gh.get_mut(mine.clone());
                add_assign(g, self.grads.get(now.clone()));
                let d_x = match C::SEPARATE_INPUT {
                    true => d_input.blocks_mut(at, hidden, n, C::GATES),
                    false => BlocksMut::none(),
                };
                let kept_row = t * batch * kept_width + b * kept_width + units.start;
                let (c, c_prev, gc, gc_prev) = match C::CELL_STATE {
                    true => (
                        &saved.cells[now.clone()],
                        &c_prev[mine.clone()],
                        gc.get(mine.clone()),
                        next_c.get_mut(mine.clone()),
                    ),
                    false => (&[][..], &[][..], &[][..], &mut [][..]),
                };
                cell.backward_row(BackwardRow {
                    g,
                    gc,
                    tape: Blocks::of(saved.kept, kept_row, hidden, n, C::TAPE),
                    h: &saved.states[now],
                    h_prev: &h_prev[mine.clone()],
                    c,
                    c_prev,
                    d_hidden: d_hidden.blocks_mut(at, hidden, n, C::GATES),
                    d_input: d_x,
                    direct: if C::DIRECT {
                        next.get_mut(mine)
                    } else {
                        &mut []
                    },
                    gc_prev,
                });
                for g in 0..C::GATES {
                    let gate = g * hidden + units.start..g * hidden + units.end;
                    add_assign(
                        self.bias.get_mut(gate),
                        d_hidden.get(at + g * hidden..at + g * hidden + n),
                    );
                }
            }
        }
    }
}
