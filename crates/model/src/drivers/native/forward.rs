//! The native scan forward on raw `f32` memory, for every cell: per step, for each gate block,
//! one product against `W_hh` packed once per scan (`packed.rs`), starting from the step's input
//! projection plus bias, then one vectorised pass over the rows ([`Cell::forward_row`]). A team
//! of threads (`team.rs`) runs each step, every thread on its own hidden units (and their
//! columns of every gate).
//!
//! Layouts are row-major and time-major: `xp` is `[T, B, GATES·H]`, `states` and `cells`
//! `[T, B, H]`, `kept` `[T, B, TAPE·H]`, `w` `[H, GATES·H]` (`W_hhᵀ`), `bias` `[GATES·H]`,
//! `h0`/`c0` `[B, H]`, `valid` `[T, B]` (1 real step, 0 padding).

use std::mem::MaybeUninit;
use std::ops::Range;

use super::memory::write;
use super::packed::{Start, StepWeights};
use super::simd::{Isa, Vectorised};
use super::steps::{Shape, merged_rows};
use super::team::{self, Shared};
use crate::cells::{Blocks, Cell, ForwardRow};

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
    /// `[T, B, TAPE·H]` when `keep`, else one row's scratch `[TAPE·H]`.
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
        let (batch, hidden) = (shape.batch, shape.hidden);
        let (width, kept_width) = (C::GATES * hidden, C::TAPE * hidden);
        // Without keeping the tape, every row writes it to the same one-row scratch (each chunk
        // its own units): it stays in the cache.
        let kept_at = |b: usize| match out.keep {
            true => (t * batch + b) * kept_width,
            false => 0,
        };
        let (rows, n) = match merged_rows::<C>(shape, &units, self.valid.is_some()) {
            true => (1, batch * hidden),
            false => (batch, units.len()),
        };
        for b in 0..rows {
            let mine = b * hidden + units.start..b * hidden + units.start + n;
            let now = t * shape.block() + mine.start..t * shape.block() + mine.end;
            let kept_row = kept_at(b) + units.start;
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
                let row = ForwardRow {
                    hidden: self
                        .parts
                        .blocks(b * width + units.start, hidden, n, C::GATES),
                    input,
                    h_prev: &self.h_prev[mine],
                    c_prev,
                    h,
                    c,
                    tape,
                };
                cell.forward_row(row);
            }
        }
    }
}
