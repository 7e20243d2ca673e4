//! BPTT of the native scan on raw `f32` memory, for every cell, mirroring `forward.rs`: per
//! step, the rows' gradients ([`Cell::backward_row`]), then their product with `W_hh` for the
//! gradient reaching the previous state; `∂W_hh` is two products over all steps afterwards.
//! A projected scan first gathers the gradient reaching each `h_t` and multiplies it by `W_hr`
//! for the cell's output (one more phase per step); `∂W_hr` is one product afterwards.
//! Layouts as in `forward.rs`.

use std::ops::Range;

use super::matmul::{Product, View, matmul, transposed};
use super::memory::{add_assign, filled, multiply, multiply_add, unfilled};
use super::packed::{Start, StepWeights};
use super::simd::{Isa, Vectorised};
use super::steps::{Shape, hidden_weight_gradient, merged_rows};
use super::team::{self, Shared};
use crate::cells::{BackwardRow, Blocks, BlocksMut, Cell};
use crate::drivers::scan::Wanted;

/// What the backward pass reads of the forward pass (as `forward.rs` filled it, tape kept).
pub(crate) struct Saved<'a> {
    pub states: &'a [f32],
    /// Empty unless the cell has a cell state.
    pub cells: &'a [f32],
    /// Empty unless the cell keeps a tape.
    pub kept: &'a [f32],
    /// The cell's outputs before the projection (empty unless projected).
    pub unprojected: &'a [f32],
    pub h0: &'a [f32],
    pub c0: &'a [f32],
    /// `[T, B]`: the masks (`None`: nothing padded).
    pub valid: Option<&'a [f32]>,
}

/// What the backward pass multiplies by: `W_hhᵀ` `[P, GATES·H]`, projected `W_hrᵀ` `[H, P]`,
/// and recurrent dropout's mask `[B, P]` on the state entering `W_hh`.
pub(crate) struct Weights<'a> {
    pub w: &'a [f32],
    pub projection: Option<&'a [f32]>,
    pub mask: Option<&'a [f32]>,
}

/// What [`backward`] computes besides the summed parts' gradient when that is computed in
/// `grad`'s memory (see [`in_place`]).
pub(crate) struct Gradients {
    /// `[T, B, GATES·H]`: the gradient of the hidden part of every step (empty when in place).
    pub d_hidden: Vec<f32>,
    /// `[T, B, GATES·H]`: the input part's, for cells that keep it apart (else empty).
    pub d_input: Vec<f32>,
    /// `[P, GATES·H]`: `∂W_hhᵀ`, when asked for.
    pub w: Option<Vec<f32>>,
    /// `[GATES·H]`: `∂bias`.
    pub bias: Vec<f32>,
    /// `[B, P]`: `∂h0`, and `[B, H]`: `∂c0` (empty unless the cell has a cell state).
    pub h0: Vec<f32>,
    pub c0: Vec<f32>,
    /// `[H, P]`: `∂W_hrᵀ`, projected and asked for.
    pub projection: Option<Vec<f32>>,
}

/// Whether [`backward`] writes the hidden part's gradient over the outputs' gradient in `grad`
/// (one gate block and nothing apart: both are `[T, B, H]`), saving a buffer as large.
pub(crate) fn in_place<C: Cell>() -> bool {
    C::GATES == 1 && !C::SEPARATE_INPUT
}

/// The gradient of the forward pass's output (laid out as `ScanLayout` says): of every step's
/// output, then of the final hidden (and cell) state.
pub(crate) enum Incoming<'a> {
    /// For cells computing [`in_place`]: the first `T` blocks are overwritten with the hidden
    /// part's gradient of every step.
    Writable(&'a mut [f32]),
    /// For the others: only read.
    ReadOnly(&'a [f32]),
}

/// The phases of one backward step, in order; `Gather` only under a projection.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// The gradient reaching `h_t` (its output's and the later steps'), by columns of the state.
    Gather,
    /// The cell's rows, by hidden units (projected: after `W_hr` carries that gradient to `m_t`).
    Rows,
    /// The rows' gradients times `W_hh`, by columns of the state: what reaches `h_{t−1}`.
    Recur,
}

/// BPTT from the `grad` reaching the forward pass's output.
#[allow(clippy::too_many_arguments)]
pub(crate) fn backward<C: Cell>(
    cell: C,
    isa: Isa,
    shape: &Shape,
    saved: &Saved,
    weights: &Weights,
    grad: Incoming,
    wanted: Wanted,
) -> Gradients {
    let (block, state_block) = (shape.block(), shape.state_block());
    let (batch, hidden, state, steps) = (shape.batch, shape.hidden, shape.state, shape.steps);
    let width = C::GATES * hidden;
    let wt = StepWeights::block(
        &transposed(weights.w, state, width),
        width,
        state,
        0,
        state,
        isa,
    );
    let rt = weights
        .projection
        .map(|r| StepWeights::block(&transposed(r, hidden, state), state, hidden, 0, hidden, isa));
    let grads = match grad {
        Incoming::Writable(grad) => Shared::new(grad),
        Incoming::ReadOnly(grad) => {
            assert!(
                !in_place::<C>(),
                "the parts' gradient is written over `grad`"
            );
            Shared::read_only(grad)
        }
    };
    // SAFETY: nothing writes while the final states' gradients are read.
    let final_state = |at: usize, len: usize| unsafe { grads.get(at..at + len) }.to_vec();
    let final_h = steps * state_block;
    // The gradients reaching the states after step `t`, and those being built for `t − 1`.
    let mut gh = [final_state(final_h, state_block), vec![0.0; state_block]];
    let mut gc = match C::CELL_STATE {
        true => [final_state(final_h + state_block, block), vec![0.0; block]],
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
    // Projected: the gradient reaching every `h_t` (kept for `∂W_hr`), and the current step's
    // gradient reaching `m_t`.
    let (mut reaching, mut gm) = match shape.projected {
        true => (unfilled(steps * state_block), vec![0.0; block]),
        false => (Vec::new(), Vec::new()),
    };
    // Masked: the product with `W_hh` lands here before the mask scales it into `next`.
    let mut through = match weights.mask {
        Some(_) => vec![0.0; state_block],
        None => Vec::new(),
    };
    let mut bias = vec![0.0; width];
    {
        let through = Shared::new(&mut through);
        let d_hidden = match in_place::<C>() {
            true => grads,
            false => Shared::unfilled(&mut d_hidden),
        };
        let d_input = Shared::unfilled(&mut d_input);
        let (reaching, gm) = (Shared::unfilled(&mut reaching), Shared::new(&mut gm));
        let [gh0, gh1] = &mut gh;
        let [gc0, gc1] = &mut gc;
        let gh = [Shared::new(gh0), Shared::new(gh1)];
        let gc = [Shared::new(gc0), Shared::new(gc1)];
        let bias = Shared::new(&mut bias);
        let order: Vec<usize> = shape.order().rev().collect();
        let chunks = shape.team_size(C::GATES);
        let phases: &[Phase] = match shape.projected {
            true => &[Phase::Gather, Phase::Rows, Phase::Recur],
            false => &[Phase::Rows, Phase::Recur],
        };
        team::run(chunks, phases.len() * steps, chunks, |phase, chunk| {
            let i = phase / phases.len();
            let t = order[i];
            let (gh, next) = (gh[i % 2], gh[(i + 1) % 2]);
            let columns = StepWeights::columns(state, chunk, chunks);
            let now = t * state_block;
            match phases[phase % phases.len()] {
                Phase::Gather => {
                    for b in 0..batch {
                        let mine = b * state + columns.start..b * state + columns.end;
                        let real = shape.is_valid(saved.valid, t, b);
                        // SAFETY: this chunk's columns of row `b`, in the gradient reaching
                        // `h_t`, are its own; the incoming gradient is only read.
                        unsafe {
                            let to = reaching.get_mut(now + mine.start..now + mine.end);
                            match real {
                                true => {
                                    let gy = grads.get(now + mine.start..now + mine.end);
                                    for ((to, &a), &b) in to.iter_mut().zip(gy).zip(gh.get(mine)) {
                                        *to = a + b;
                                    }
                                }
                                false => to.fill(0.0),
                            }
                        }
                    }
                }
                Phase::Rows => {
                    let units = StepWeights::columns(hidden, chunk, chunks);
                    if let Some(rt) = &rt {
                        // SAFETY: every chunk completed the gradient reaching `h_t` in the
                        // previous phase; this chunk's units of `gm` are its own.
                        unsafe {
                            let g = reaching.get(now..now + state_block);
                            rt.product(gm.rows(0, hidden), batch, g, Start::Zero, units.clone());
                        }
                    }
                    BackwardRows {
                        cell,
                        shape,
                        t,
                        units,
                        saved,
                        grads,
                        gh: if shape.projected { gm } else { gh },
                        gc: [gc[i % 2], gc[(i + 1) % 2]],
                        next,
                        d_hidden,
                        d_input,
                        bias,
                    }
                    .run(isa);
                }
                Phase::Recur => {
                    let start = if C::DIRECT {
                        Start::Destination
                    } else {
                        Start::Zero
                    };
                    // SAFETY: every chunk finished step `t`'s block of `d_hidden` in the
                    // previous phase and nobody writes it again; the columns of this chunk's
                    // in `next`, `gh` and `through` are this chunk's.
                    unsafe {
                        let d = d_hidden.get(t * batch * width..(t + 1) * batch * width);
                        match weights.mask {
                            None => {
                                wt.product(next.rows(0, state), batch, d, start, columns.clone())
                            }
                            Some(mask) => {
                                let to = through.rows(0, state);
                                wt.product(to, batch, d, Start::Zero, columns.clone());
                                for b in 0..batch {
                                    let mine = b * state + columns.start..b * state + columns.end;
                                    let (next, through) =
                                        (next.get_mut(mine.clone()), through.get(mine.clone()));
                                    match C::DIRECT {
                                        true => multiply_add(next, through, &mask[mine]),
                                        false => multiply(next, through, &mask[mine]),
                                    }
                                }
                            }
                        }
                        for b in (0..batch).filter(|&b| !shape.is_valid(saved.valid, t, b)) {
                            let mine = b * state + columns.start..b * state + columns.end;
                            next.get_mut(mine.clone()).copy_from_slice(gh.get(mine));
                        }
                    }
                }
            }
        });
    }
    // SAFETY: the scan wrote every element (each row of each step: the cell's row, or zero;
    // the gradient reaching each state, or zero).
    let (d_hidden, d_input, reaching) =
        unsafe { (filled(d_hidden), filled(d_input), filled(reaching)) };
    let w = wanted.w.then(|| {
        let d = match in_place::<C>() {
            // SAFETY: the scan is over: nothing writes any more.
            true => unsafe { grads.get(0..steps * block) },
            false => &d_hidden[..],
        };
        match weights.mask {
            None => hidden_weight_gradient(shape, saved.states, saved.h0, d, width),
            // The states as they entered `W_hh`.
            Some(mask) => {
                let entered = |states: &[f32]| -> Vec<f32> {
                    let mut out = vec![0.0; states.len()];
                    for (out, states) in out
                        .chunks_exact_mut(state_block)
                        .zip(states.chunks_exact(state_block))
                    {
                        multiply(out, states, mask);
                    }
                    out
                };
                let (states, h0) = (entered(saved.states), entered(saved.h0));
                hidden_weight_gradient(shape, &states, &h0, d, width)
            }
        }
    });
    let projection = (shape.projected && wanted.projection).then(|| {
        let mut dr = vec![0.0; hidden * state];
        let product = Product {
            m: hidden,
            n: state,
            k: steps * batch,
            lhs: View::transposed(saved.unprojected, hidden),
            rhs: View::rows(&reaching, state),
        };
        // SAFETY: `unprojected` is (T·B)×H row-major, read transposed; `reaching` (T·B)×P.
        unsafe { matmul(&mut dr, product, false) };
        dr
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
        projection,
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
    /// The incoming gradient (laid out as `ScanLayout` says).
    grads: Shared,
    /// What reaches `h_t` from the later steps (projected: what reaches `m_t`, complete), and
    /// (being built) `h_{t−1}`.
    gh: Shared,
    next: Shared,
    /// The same for the cell state: `[c_t, c_{t−1}]`.
    gc: [Shared; 2],
    d_hidden: Shared,
    d_input: Shared,
    bias: Shared,
}

impl<C: Cell> BackwardRows<'_, C> {
    fn run(self, isa: Isa) {
        let (cell, shape, t, units, saved) =
            (self.cell, self.shape, self.t, self.units, self.saved);
        let [gc, next_c] = self.gc;
        let (gh, next, d_hidden, d_input) = (self.gh, self.next, self.d_hidden, self.d_input);
        let (block, batch, hidden) = (shape.block(), shape.batch, shape.hidden);
        let (width, kept_width) = (C::GATES * hidden, C::TAPE * hidden);
        let (rows, n) = match merged_rows::<C>(shape, &units, saved.valid.is_some()) {
            true => (1, batch * hidden),
            false => (batch, units.len()),
        };
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
        for b in 0..rows {
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
                    rows: batch / rows,
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
