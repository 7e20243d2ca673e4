//! Layer normalisation in the native scan (Ba et al. 2016), as `tensor_scan.rs` does it on
//! tensors: each step's hidden part `h_{t-1}·W_hhᵀ` is normalised per gate block before the
//! bias, and a cell with a cell state normalises it before its output
//! ([`Cell::forward_row_normed`]). Both need statistics over a whole row, where the products
//! split a step by hidden units: under layer norm a step's products write the raw part and
//! end their phase, and the rows are then split between the threads by sequences of the batch
//! (this module), each thread normalising and running whole rows. Backward, the rows' phase
//! splits by sequences likewise: the parts' gradient crosses the normalisation there (the
//! gradient before it is what `W_hh` multiplies), and each thread sums its own rows' share of
//! the bias, gain and state-bias gradients, added up after the scan.

use std::ops::Range;

use super::backward::Saved;
use super::forward::Outputs;
use super::memory::{add_assign, write};
use super::simd::{Isa, Vectorised};
use super::steps::Shape;
use super::team::Shared;
use crate::cells::{
    BackwardRow, Blocks, BlocksMut, Cell, ForwardRow, RowStateNorm, RowStateNormGrads,
    normalize_block, normalize_block_backward,
};

/// Layer norm's weights as memory: the hidden part's gain `[GATES·H]`, and for cells with a
/// cell state its normalisation's gain and bias `[H]`.
#[derive(Clone, Copy)]
pub(crate) struct NormValues<'a> {
    pub hidden_gain: &'a [f32],
    pub state: Option<RowStateNorm<'a>>,
}

/// The sequences of the batch that chunk `chunk` of `chunks` runs in a rows' phase.
pub(crate) fn rows_of(batch: usize, chunk: usize, chunks: usize) -> Range<usize> {
    batch * chunk / chunks..batch * (chunk + 1) / chunks
}

/// Per chunk, the sums of its rows' gradients: the bias `[GATES·H]`, the hidden part's gain
/// `[GATES·H]`, the cell state's gain and bias `[H]` each.
pub(crate) fn sums_len(gates: usize, hidden: usize) -> usize {
    2 * gates * hidden + 2 * hidden
}

/// The chunks' sums (`chunks` × [`sums_len`]) added up: `[bias, hidden gain, state gain, state
/// bias]`.
pub(crate) fn add_up(sums: &[f32], gates: usize, hidden: usize) -> [Vec<f32>; 4] {
    let width = gates * hidden;
    let mut total = vec![0.0; sums_len(gates, hidden)];
    for chunk in sums.chunks_exact(total.len()) {
        add_assign(&mut total, chunk);
    }
    let (bias, rest) = total.split_at(width);
    let (gain, rest) = rest.split_at(width);
    let (state_gain, state_bias) = rest.split_at(hidden);
    [bias, gain, state_gain, state_bias].map(<[f32]>::to_vec)
}

/// One chunk's `rows` of forward step `t` under layer norm: the parts from the raw hidden
/// part, then the cell's whole rows; padded rows as `forward.rs` carries them.
pub(crate) struct ForwardRows<'a, C> {
    pub cell: C,
    pub shape: &'a Shape,
    pub t: usize,
    pub rows: Range<usize>,
    /// The batch row that `x`, `raw`, `h_prev` and `c_prev` start at.
    pub first: usize,
    /// The step's input part from row `first` on (`[·, GATES·H]`), its raw hidden part (the
    /// same) and the bias.
    pub x: &'a [f32],
    pub raw: &'a [f32],
    pub bias: &'a [f32],
    pub norm: NormValues<'a>,
    /// The step's parts `[B, GATES·H]`, written here.
    pub parts: Shared,
    pub h_prev: &'a [f32],
    pub c_prev: &'a [f32],
    pub out: &'a Outputs,
    pub valid: Option<&'a [f32]>,
}

impl<C: Cell> ForwardRows<'_, C> {
    pub fn run(self, isa: Isa) {
        let (shape, t, out) = (self.shape, self.t, self.out);
        let (batch, hidden) = (shape.batch, shape.hidden);
        let (width, kept_width) = (C::GATES * hidden, C::TAPE * hidden);
        for b in self.rows.clone() {
            let local = b - self.first;
            let mine = local * hidden..(local + 1) * hidden;
            let now = t * shape.block() + b * hidden..t * shape.block() + (b + 1) * hidden;
            // Without the tape kept, each row has its own scratch row of one step's.
            let kept_row = if out.keep { t * batch + b } else { b } * kept_width;
            // SAFETY: row `b` of step `t` is this chunk's alone in this phase, in the states
            // (or the cell's outputs), cell states, tape and parts; the raw part was completed
            // by every chunk in the previous phase.
            unsafe {
                let h = match shape.projected {
                    true => {
                        let at = out.unprojected_at(shape, t) + b * hidden;
                        out.unprojected.uninit_mut(at..at + hidden)
                    }
                    false => out.states.uninit_mut(now),
                };
                let (c, c_prev) = match C::CELL_STATE {
                    true => {
                        let at = out.cells_at(shape, t) + b * hidden;
                        let c = out.cells.uninit_mut(at..at + hidden);
                        (c, &self.c_prev[mine.clone()])
                    }
                    false => (&mut [][..], &[][..]),
                };
                let tape = out.kept.blocks_mut(kept_row, hidden, hidden, C::TAPE);
                if !shape.is_valid(self.valid, t, b) {
                    match shape.projected {
                        true => h.fill(std::mem::MaybeUninit::new(0.0)),
                        false => write(h, &self.h_prev[mine]),
                    }
                    write(c, c_prev);
                    tape.zero();
                    continue;
                }
                let row = local * width..(local + 1) * width;
                isa.run(NormedForwardRow {
                    cell: self.cell,
                    raw: &self.raw[row.clone()],
                    x: &self.x[row],
                    bias: self.bias,
                    norm: self.norm,
                    parts: self.parts.get_mut(b * width..(b + 1) * width),
                    hidden,
                    h_prev: match shape.projected {
                        true => &[],
                        false => &self.h_prev[mine],
                    },
                    c_prev,
                    h,
                    c,
                    tape,
                });
            }
        }
    }
}

/// One whole row forward under layer norm, compiled per instruction set.
struct NormedForwardRow<'a, C> {
    cell: C,
    /// The row's raw hidden part, input part and parts (`GATES·H` each), and the bias.
    raw: &'a [f32],
    x: &'a [f32],
    bias: &'a [f32],
    norm: NormValues<'a>,
    parts: &'a mut [f32],
    hidden: usize,
    h_prev: &'a [f32],
    c_prev: &'a [f32],
    h: &'a mut [std::mem::MaybeUninit<f32>],
    c: &'a mut [std::mem::MaybeUninit<f32>],
    tape: BlocksMut<'a>,
}

impl<'a, C: Cell> Vectorised for NormedForwardRow<'a, C> {
    #[inline(always)]
    fn run(self) {
        let (hidden, parts) = (self.hidden, self.parts);
        for gate in 0..C::GATES {
            let block = gate * hidden..(gate + 1) * hidden;
            let gain = &self.norm.hidden_gain[block.clone()];
            normalize_block(&self.raw[block.clone()], gain, &mut parts[block]);
        }
        add_assign(parts, self.bias);
        let input = match C::SEPARATE_INPUT {
            true => Blocks::of(self.x, 0, hidden, hidden, C::GATES),
            false => {
                add_assign(parts, self.x);
                Blocks::NONE
            }
        };
        let parts: &'a [f32] = parts;
        let row = ForwardRow {
            hidden: Blocks::of(parts, 0, hidden, hidden, C::GATES),
            input,
            h_prev: self.h_prev,
            c_prev: self.c_prev,
            h: self.h,
            c: self.c,
            tape: self.tape,
        };
        self.cell.forward_row_normed(row, self.norm.state);
    }
}

/// One chunk's `rows` of backward step `t` under layer norm: the cell's whole rows, then the
/// gradient of each raw hidden part; zeros and the cell state's gradient carried on padded
/// rows (the hidden state's is carried by the product phase after, as without layer norm).
pub(crate) struct BackwardRows<'a, C> {
    pub cell: C,
    pub shape: &'a Shape,
    pub t: usize,
    pub rows: Range<usize>,
    pub saved: &'a Saved<'a>,
    pub norm: NormValues<'a>,
    /// The incoming gradient (laid out as `ScanLayout` says).
    pub grads: Shared,
    /// What reaches `h_t` from the later steps (projected: what reaches `m_t`, complete), and
    /// (being built) `h_{t−1}`; the same for the cell state, `[c_t, c_{t−1}]`.
    pub gh: Shared,
    pub next: Shared,
    pub gc: [Shared; 2],
    /// `[T, B, GATES·H]` each: the gradients of the parts, of the input part (cells that keep
    /// it apart) and of the raw hidden part.
    pub d_hidden: Shared,
    pub d_input: Shared,
    pub d_raw: Shared,
    /// This chunk's sums (see [`sums_len`]).
    pub sums: &'a mut [f32],
}

impl<C: Cell> BackwardRows<'_, C> {
    pub fn run(self, isa: Isa) {
        let (shape, t, saved) = (self.shape, self.t, self.saved);
        let [gc, next_c] = self.gc;
        let (block, batch, hidden) = (shape.block(), shape.batch, shape.hidden);
        let (width, kept_width) = (C::GATES * hidden, C::TAPE * hidden);
        let (h_prev, c_prev) = match shape.previous(t) {
            Some(p) => (
                &saved.states[p * shape.state_block()..(p + 1) * shape.state_block()],
                match C::CELL_STATE {
                    true => &saved.cells[p * block..(p + 1) * block],
                    false => &[][..],
                },
            ),
            None => (saved.h0, saved.c0),
        };
        let (bias, rest) = self.sums.split_at_mut(width);
        let (gain, rest) = rest.split_at_mut(width);
        let (state_gain, state_bias) = rest.split_at_mut(hidden);
        for b in self.rows.clone() {
            let mine = b * hidden..(b + 1) * hidden;
            let now = t * block + mine.start..t * block + mine.end;
            let at = t * batch * width + b * width;
            // SAFETY: row `b` of step `t` is this chunk's alone in this phase, in the parts'
            // gradients and the gradients reaching the states; what reaches `h_t` (or `m_t`)
            // was completed in earlier phases.
            unsafe {
                if !shape.is_valid(saved.valid, t, b) {
                    self.d_hidden.uninit_mut(at..at + width).fill(zero());
                    if C::SEPARATE_INPUT {
                        self.d_input.uninit_mut(at..at + width).fill(zero());
                    }
                    self.d_raw.uninit_mut(at..at + width).fill(zero());
                    if C::CELL_STATE {
                        next_c.get_mut(mine.clone()).copy_from_slice(gc.get(mine));
                    }
                    continue;
                }
                let gy = match shape.projected {
                    true => &[][..],
                    false => self.grads.get(now.clone()),
                };
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
                    tape: Blocks::of(
                        saved.kept,
                        (t * batch + b) * kept_width,
                        hidden,
                        hidden,
                        C::TAPE,
                    ),
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
                    d_hidden: self.d_hidden.blocks_mut(at, hidden, hidden, C::GATES),
                    d_input: match C::SEPARATE_INPUT {
                        true => self.d_input.blocks_mut(at, hidden, hidden, C::GATES),
                        false => BlocksMut::none(),
                    },
                    direct: match C::DIRECT {
                        true => self.next.get_mut(mine.clone()),
                        false => &mut [],
                    },
                    gc_prev,
                };
                let state = self.norm.state.map(|norm| RowStateNormGrads {
                    norm,
                    d_gain: &mut state_gain[..],
                    d_bias: &mut state_bias[..],
                });
                isa.run(NormedBackwardRow {
                    cell: self.cell,
                    g: self.gh.get_mut(mine),
                    gy,
                    row,
                    state,
                    d_hidden: (self.d_hidden, at),
                    d_raw: self.d_raw.get_mut(at..at + width),
                    raw: &saved.raw[at..at + width],
                    gain: self.norm.hidden_gain,
                    d_gain: &mut gain[..],
                    d_bias: &mut bias[..],
                    hidden,
                });
            }
        }
    }
}

fn zero() -> std::mem::MaybeUninit<f32> {
    std::mem::MaybeUninit::new(0.0)
}

/// One whole row backward under layer norm, compiled per instruction set: the gradient
/// reaching `h_t`, the cell's row, the bias's share, and the raw hidden part's gradient.
struct NormedBackwardRow<'a, C> {
    cell: C,
    /// What reaches `h_t` from the later steps; `gy`, from the step's output, joins it first.
    g: &'a mut [f32],
    gy: &'a [f32],
    /// The row, but for `g`, which [`Vectorised::run`] fills in.
    row: BackwardRow<'a>,
    state: Option<RowStateNormGrads<'a>>,
    /// Where the row's parts' gradient lands, read back after the cell wrote it.
    d_hidden: (Shared, usize),
    /// The row's raw hidden part, its gradient (written) and the gain, `GATES·H` each.
    d_raw: &'a mut [f32],
    raw: &'a [f32],
    gain: &'a [f32],
    /// This chunk's sums of the gain's and the bias's gradients.
    d_gain: &'a mut [f32],
    d_bias: &'a mut [f32],
    hidden: usize,
}

impl<'a, C: Cell> Vectorised for NormedBackwardRow<'a, C> {
    #[inline(always)]
    fn run(mut self) {
        add_assign(self.g, self.gy);
        let g: &'a [f32] = self.g;
        self.row.g = g;
        self.cell.backward_row_normed(self.row, self.state);
        let ((d_hidden, at), hidden) = (self.d_hidden, self.hidden);
        let width = C::GATES * hidden;
        // SAFETY: the cell's row has just written the row's parts' gradient; nobody else
        // touches it during this phase.
        let d = unsafe { d_hidden.get(at..at + width) };
        add_assign(self.d_bias, d);
        self.d_raw.copy_from_slice(d);
        for gate in 0..C::GATES {
            let block = gate * hidden..(gate + 1) * hidden;
            normalize_block_backward(
                &self.raw[block.clone()],
                &self.gain[block.clone()],
                &mut self.d_raw[block.clone()],
                &mut self.d_gain[block],
            );
        }
    }
}
