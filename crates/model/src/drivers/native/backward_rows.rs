//! The backward step's rows split by hidden units (`backward.rs`'s `Phase::Rows`): each thread
//! runs its own units of every row of the step.

use std::ops::Range;

use super::backward::Saved;
use super::memory::add_assign;
use super::simd::{Isa, Vectorised};
use super::steps::{Shape, merged_rows};
use super::team::Shared;
use crate::cells::{BackwardRow, Blocks, BlocksMut, Cell};

/// One thread's rows of one backward step: [`Cell::backward_row`] on real steps (and the bias
/// gradient), zeros and the state gradients carried on padded ones.
pub(crate) struct BackwardRows<'a, C> {
    pub cell: C,
    pub shape: &'a Shape,
    pub t: usize,
    /// The sequences and hidden units this chunk computes.
    pub rows: Range<usize>,
    pub units: Range<usize>,
    pub saved: &'a Saved<'a>,
    /// The incoming gradient (laid out as `ScanLayout` says).
    pub grads: Shared,
    /// What reaches `h_t` from the later steps (projected: what reaches `m_t`, complete), and
    /// (being built) `h_{t−1}`.
    pub gh: Shared,
    pub next: Shared,
    /// The same for the cell state: `[c_t, c_{t−1}]`.
    pub gc: [Shared; 2],
    pub d_hidden: Shared,
    pub d_input: Shared,
    pub bias: Shared,
}

impl<C: Cell> BackwardRows<'_, C> {
    pub fn run(self, isa: Isa) {
        let (cell, shape, t, units, saved) =
            (self.cell, self.shape, self.t, self.units, self.saved);
        let rows = self.rows;
        let [gc, next_c] = self.gc;
        let (gh, next, d_hidden, d_input) = (self.gh, self.next, self.d_hidden, self.d_input);
        let (block, batch, hidden) = (shape.block(), shape.batch, shape.hidden);
        let (width, kept_width) = (C::GATES * hidden, C::TAPE * hidden);
        // Merged, the chunk's rows go to the cell as one row (the first one's index).
        let (count, n) = match merged_rows::<C>(shape, &units, saved.valid.is_some()) {
            true => (1, rows.len() * hidden),
            false => (rows.len(), units.len()),
        };
        let merged = n / units.len().max(1);
        let state_block = shape.state_block();
        let (h_prev, c_prev) = match shape.previous(t) {
            Some(p) => (
                &saved.states[p * state_block..(p + 1) * state_block],
                if C::CELL_STATE {
                    &saved.cells[p * block..(p + 1) * block]
                } else {
                    &[]
                },
            ),
            None => (saved.h0, saved.c0),
        };
        for b in (rows.start..).take(count) {
            let mine = b * hidden + units.start..b * hidden + units.start + n;
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
                // parts' gradient in place, `gy` is read before the cell's row overwrites it.)
                // Projected, the gradient reaching `m_t` is complete already.
                let g = gh.get_mut(mine.clone());
                let gy = match shape.projected {
                    true => &[],
                    false => self.grads.get(now.clone()),
                };
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
                let row = BackwardRow {
                    g: &[],
                    gc,
                    tape: Blocks::of(saved.kept, kept_row, hidden, n, C::TAPE),
                    h: match shape.projected {
                        true => &saved.unprojected[now],
                        false => &saved.states[now],
                    },
                    h_prev: match shape.projected {
                        true => &[],
                        false => &h_prev[mine.clone()],
                    },
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
                };
                isa.run(RowBackward {
                    cell,
                    g,
                    gy,
                    row,
                    d_hidden: (d_hidden, at),
                    bias: self.bias,
                    units: units.clone(),
                    hidden,
                    rows: merged,
                });
            }
        }
    }
}

/// One row of a backward step, compiled per instruction set: the gradient reaching `h_t`, the
/// cell's [`Cell::backward_row`] and the row's share of the bias gradient. One call per row: in
/// a function of its own the compiler vectorises the cell's loop, which it did not (for LSTM)
/// inside the whole step's rows, as the forward pass is compiled.
struct RowBackward<'a, C> {
    cell: C,
    /// What reaches `h_t` from the later steps; `gy`, from the step's output, joins it first.
    g: &'a mut [f32],
    gy: &'a [f32],
    /// The row, but for `g`, which [`Vectorised::run`] fills in.
    row: BackwardRow<'a>,
    /// Where the row's parts' gradient lands (from `.1` on), for the bias gradient's columns of
    /// `units` in each of the gate blocks of `hidden` columns.
    d_hidden: (Shared, usize),
    bias: Shared,
    units: Range<usize>,
    hidden: usize,
    /// The batch rows in `row` (several when they are merged into one: [`merged_rows`]).
    rows: usize,
}

impl<'a, C: Cell> Vectorised for RowBackward<'a, C> {
    #[inline(always)]
    fn run(mut self) {
        add_assign(self.g, self.gy);
        let g: &'a [f32] = self.g;
        self.row.g = g;
        self.cell.backward_row(self.row);
        let ((d_hidden, at), n) = (self.d_hidden, self.units.len());
        let width = C::GATES * self.hidden;
        for row in 0..self.rows {
            for gate in 0..C::GATES {
                let (first, column) = (at + row * width + gate * self.hidden, gate * self.hidden);
                let columns = column + self.units.start..column + self.units.end;
                // SAFETY: the bias's columns of this chunk's units are its own; the cell's row
                // has just written the parts' gradient.
                unsafe { add_assign(self.bias.get_mut(columns), d_hidden.get(first..first + n)) };
            }
        }
    }
}
