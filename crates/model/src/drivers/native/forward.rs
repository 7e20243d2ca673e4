//! The native scan forward on raw `f32` memory, for every cell: per step, for each gate block,
//! one product against `W_hh` packed once per scan (`packed.rs`; at inference kept for the next
//! scan, `packing.rs`), starting from the step's input
//! part plus bias (computed before the scan, or in the step: `input_part.rs`), then one
//! vectorised pass over the rows ([`Cell::forward_row`]). A team of threads (`team.rs`) shares
//! the work ([`Split`]): the rows of a step are independent, so where the batch is large
//! enough each thread runs chunks of whole sequences through every step, and no thread waits
//! for another between steps (on `medium`, two threads: Elman inference +20 %, LSTM +12 %);
//! otherwise each step is cut by hidden units, every thread on its own units' columns of every
//! gate. A projected scan has a second phase per step: the product of the cell's output with
//! `W_hrᵀ`, on the chunk's columns of the state. Under layer norm the products write the raw
//! hidden part and the rows follow in a phase of their own (`norm.rs`).
//!
//! Layouts are row-major and time-major: `xp` is `[T, B, GATES·H]`, `states` `[T, B, P]`,
//! `cells` `[T, B, H]`, `kept` `[T, B, TAPE·H]`, `w` `[P, GATES·H]` (`W_hhᵀ`), `bias`
//! `[GATES·H]`, `h0` `[B, P]`, `c0` `[B, H]`, `projection` `[H, P]` (`W_hrᵀ`), `valid` `[T, B]`
//! (1 real step, 0 padding); `P = H` unless projected.

use std::mem::MaybeUninit;
use std::ops::Range;

pub(crate) use super::input_part::InputPart;
use super::input_part::StepInput;
use super::memory::{multiply, write};
use super::norm::{self, NormValues};
use super::packed::{Start, StepWeights};
use super::packing::{Packer, Weight};
use super::precision::bf16_products;
use super::simd::{Isa, Vectorised};
use super::split::{Part, Split};
use super::steps::{Shape, merged_rows};
use super::team::Shared;
use crate::cells::{Blocks, Cell, ForwardRow};

/// What a scan reads: its inputs, and the masks.
pub(crate) struct Inputs<'a> {
    pub xp: InputPart<'a>,
    pub w: Weight<'a>,
    pub bias: &'a [f32],
    pub h0: &'a [f32],
    /// Empty unless the cell has a cell state.
    pub c0: &'a [f32],
    pub valid: Option<&'a [f32]>,
    /// `W_hrᵀ`, for a projected scan.
    pub projection: Option<Weight<'a>>,
    /// `[B, P]`: recurrent dropout's mask on the state entering `W_hh`, while training.
    pub mask: Option<&'a [f32]>,
    /// Layer normalisation's weights, under layer norm.
    pub norm: Option<NormValues<'a>>,
}

/// Where the forward pass writes; each may be memory nothing has written yet: the scan writes
/// every element.
pub(crate) struct Outputs {
    /// `[T, B, H]`: the hidden state after every step (padded steps carry the previous one).
    pub states: Shared,
    /// `[T, B, H]`: the cell state after every step when `keep`, else the last two steps'
    /// (`[2, B, H]`, step `t` in block `t % 2`); empty unless the cell has one.
    pub cells: Shared,
    /// `[T, B, TAPE·H]` when `keep`, else one row's scratch `[TAPE·H]`.
    pub kept: Shared,
    /// Under a projection, the cell's output `m_t` (zero at padded steps): `[T, B, H]` when
    /// `keep`, else one step's scratch `[B, H]`; else empty.
    pub unprojected: Shared,
    /// Under layer norm, the raw hidden part `h_{t-1}·W_hhᵀ` of every step: `[T, B, GATES·H]`
    /// when `keep`, else one step's scratch `[B, GATES·H]`; else empty.
    pub raw: Shared,
    pub keep: bool,
}

impl Outputs {
    /// Where step `t`'s block of [`Outputs::cells`] starts. Not kept, two blocks take turns:
    /// an inference pass needs only the previous step's cell state and the last one (on
    /// `large`, 64 MiB less memory per LSTM pass; no change in speed measured).
    pub fn cells_at(&self, shape: &Shape, t: usize) -> usize {
        match self.keep {
            true => t * shape.block(),
            false => t % 2 * shape.block(),
        }
    }

    /// Where step `t`'s block of [`Outputs::unprojected`] starts.
    pub fn unprojected_at(&self, shape: &Shape, t: usize) -> usize {
        if self.keep { t * shape.block() } else { 0 }
    }

    /// Where step `t`'s block of [`Outputs::raw`] starts, for `width` columns.
    fn raw_at(&self, shape: &Shape, t: usize, width: usize) -> usize {
        if self.keep {
            t * shape.batch * width
        } else {
            0
        }
    }
}

/// Runs the scan forward, filling `out`, split as [`Split::choose`] chooses unless `split` says.
pub(crate) fn forward<C: Cell>(
    cell: C,
    isa: Isa,
    shape: &Shape,
    inputs: &Inputs,
    out: Outputs,
    split: Option<Split>,
) {
    let (batch, hidden, state) = (shape.batch, shape.hidden, shape.state);
    let width = C::GATES * hidden;
    // In bf16 at inference when this thread asks for it (`precision.rs`): every product. Not
    // under layer norm, which normalises the hidden part and with it bf16's rounding (4e-2
    // from `f32` on the states in `tests/model/precision.rs`, against 4e-3 without).
    let bf16 = inputs.norm.is_none() && bf16_products(out.keep, isa);
    // Inference passes keep their packed weights for the next pass (`packing.rs`).
    let packer = Packer {
        isa,
        bf16,
        cached: !out.keep,
    };
    let w = packer.gates(inputs.w, state, C::GATES, hidden);
    let projection = inputs.projection.map(|r| packer.gates(r, hidden, 1, state));
    let projection = projection.as_ref().map(|p| &p[0]);
    // The step's parts, `[B, GATES·H]`: each chunk writes and reads its own part of them.
    let mut parts = vec![0.0; batch * width];
    let parts = Shared::new(&mut parts);
    let order: Vec<usize> = shape.order().collect();
    let (split, threads) = Split::choose(shape, C::GATES, split);
    let chunks = split.chunks(shape, threads);
    let mut scratch = Vec::new();
    let input = StepInput::new::<C>(inputs.xp, shape, (split, chunks), &packer, &mut scratch);
    // With recurrent dropout each chunk masks the previous state of its rows into a buffer of
    // its own before its products (`B·P` multiplications, against the products' `B·P·GATES·H`).
    let state_block = shape.state_block();
    let chunk_rows = match split {
        Split::Units => batch,
        Split::Rows(rows) => rows,
    };
    let mut masked = match inputs.mask {
        Some(_) => vec![0.0; chunks * chunk_rows * state],
        None => Vec::new(),
    };
    let masked = Shared::new(&mut masked);
    // Phases per step: the cell's rows (under layer norm: the products, then the rows), then
    // (projected) the projection of their output.
    let normed = inputs.norm.is_some() as usize;
    let phases = 1 + normed + shape.projected as usize;
    let step = |t: usize, phase: usize, chunk: usize| {
        let part = split.part(shape, chunk, chunks);
        let rows = part.rows.clone();
        // SAFETY: the previous step's blocks of these rows were completed before (in earlier
        // phases, or by this chunk itself) and nobody writes them now.
        let (h_prev, c_prev) = match shape.previous(t) {
            None => (
                &inputs.h0[rows.start * state..rows.end * state],
                if C::CELL_STATE {
                    &inputs.c0[rows.start * hidden..rows.end * hidden]
                } else {
                    &[][..]
                },
            ),
            Some(p) => unsafe {
                let at = p * state_block;
                let h = out
                    .states
                    .get(at + rows.start * state..at + rows.end * state);
                (h, cell_rows_at::<C>(&out, shape, p, &rows))
            },
        };
        let raw_at = out.raw_at(shape, t, width);
        match (&projection, inputs.norm, phase) {
            (Some(projection), _, p) if p == normed + 1 => {
                project(projection, shape, t, &part, h_prev, &out, inputs.valid);
                return;
            }
            (_, Some(norm), 1) => {
                let StepInput::Projected(xp) = input else {
                    unreachable!("layer norm's input part is projected before the scan")
                };
                // The part's rows of the step (all of them under a unit split), each
                // chunk normalising its share of them (its own rows under a row split).
                let own = rows.start * width..rows.end * width;
                norm::ForwardRows {
                    cell,
                    shape,
                    t,
                    rows: part.whole_rows.clone(),
                    first: rows.start,
                    x: &xp[t * batch * width + own.start..t * batch * width + own.end],
                    // SAFETY: every chunk completed its columns of these rows of the raw part
                    // in the previous phase (or this chunk did, under a row split); nobody
                    // writes them now.
                    raw: unsafe { out.raw.get(raw_at + own.start..raw_at + own.end) },
                    bias: inputs.bias,
                    norm,
                    parts,
                    h_prev,
                    c_prev,
                    out: &out,
                    valid: inputs.valid,
                }
                .run(isa);
                return;
            }
            _ => {}
        }
        let units = part.units.clone();
        let entering = match inputs.mask {
            None => h_prev,
            // SAFETY: chunk `chunk`'s block of `masked` is its own during this phase.
            Some(mask) => unsafe {
                let at = chunk * chunk_rows * state;
                let own = masked.get_mut(at..at + rows.len() * state);
                multiply(own, h_prev, &mask[rows.start * state..rows.end * state]);
                &*own
            },
        };
        if inputs.norm.is_some() {
            for (g, w) in w.iter().enumerate() {
                // SAFETY: gate `g`'s columns of this chunk's units in the raw part are its own.
                unsafe {
                    let to = out
                        .raw
                        .rows(raw_at + rows.start * width + g * hidden, width);
                    w.product(to, rows.len(), entering, Start::Zero, units.clone())
                };
            }
            return;
        }
        let products = || {
            // SAFETY: a chunk runs on one thread at a time, on its own part of the step.
            let x = unsafe { input.separate::<C>(shape, t, chunk, &part) };
            for (g, w) in w.iter().enumerate() {
                let own = parts.rows(rows.start * width + g * hidden, width);
                let bias = &inputs.bias[g * hidden..];
                let start = input.start::<C>(shape, t, g, bias, &part);
                // SAFETY: this chunk's part of the step's parts is its own.
                unsafe { w.product(own, rows.len(), entering, start, units.clone()) };
            }
            x
        };
        // In bf16 the gates share their rounded left-hand sides (f32 has nothing to share).
        let x = match bf16 {
            // SAFETY: the products read the previous state and the step's input, which nothing
            // writes during the step.
            true => unsafe { StepWeights::sharing_lhs(products) },
            false => products(),
        };
        isa.run(ForwardRows {
            cell,
            shape,
            t,
            part,
            x,
            parts,
            h_prev,
            c_prev,
            out: &out,
            valid: inputs.valid,
            scratch_slot: match split {
                Split::Units => 0,
                Split::Rows(_) => chunk,
            },
        });
    };
    split.run((threads, chunks), shape.steps, phases, |i, phase, chunk| {
        step(order[i], phase, chunk)
    });
}

/// Rows `rows` of step `t`'s written cell states (`[B, H]`), or nothing for cells without
/// them.
///
/// # Safety
/// The rows have been written and nobody writes them while the slice lives.
unsafe fn cell_rows_at<'a, C: Cell>(
    out: &'a Outputs,
    shape: &Shape,
    t: usize,
    rows: &Range<usize>,
) -> &'a [f32] {
    let (at, hidden) = (out.cells_at(shape, t), shape.hidden);
    // SAFETY: the caller's promise.
    if C::CELL_STATE {
        unsafe {
            out.cells
                .get(at + rows.start * hidden..at + rows.end * hidden)
        }
    } else {
        &[]
    }
}

/// One chunk's `part` (its rows' state columns) of a projected step's state:
/// `h_t = m_t·W_hrᵀ`, with the previous state (`h_prev`, from the part's first row on) carried
/// on padded rows.
fn project(
    projection: &StepWeights,
    shape: &Shape,
    t: usize,
    part: &Part,
    h_prev: &[f32],
    out: &Outputs,
    valid: Option<&[f32]>,
) {
    let (state, hidden) = (shape.state, shape.hidden);
    let (rows, columns) = (&part.rows, &part.columns);
    let m_at = out.unprojected_at(shape, t);
    let now = t * shape.state_block();
    // SAFETY: every chunk completed its units of these rows of `m_t` in the previous phase (or
    // this chunk did, under a row split), and nobody writes them now; this chunk's part of
    // `h_t` is its own.
    unsafe {
        let m = out
            .unprojected
            .get(m_at + rows.start * hidden..m_at + rows.end * hidden);
        let h = out.states.rows(now + rows.start * state, state);
        projection.product(h, rows.len(), m, Start::Zero, columns.clone());
        for b in rows.clone().filter(|&b| !shape.is_valid(valid, t, b)) {
            let local = (b - rows.start) * state;
            let h = out
                .states
                .uninit_mut(now + b * state + columns.start..now + b * state + columns.end);
            write(h, &h_prev[local + columns.start..local + columns.end]);
        }
    }
}

/// One chunk's part of one forward step: [`Cell::forward_row`] on real steps, the previous
/// state carried on padded ones (under a projection, the cell's output there is zero and the
/// projection phase carries the hidden state).
struct ForwardRows<'a, C> {
    cell: C,
    shape: &'a Shape,
    t: usize,
    part: Part,
    /// The step's input part for the part's rows, `[rows, GATES·H]` (cells that keep it
    /// apart).
    x: &'a [f32],
    parts: Shared,
    /// The previous states of the part's rows.
    h_prev: &'a [f32],
    c_prev: &'a [f32],
    out: &'a Outputs,
    valid: Option<&'a [f32]>,
    /// Without keeping the tape, the row of it that this chunk writes.
    scratch_slot: usize,
}

impl<C: Cell> Vectorised for ForwardRows<'_, C> {
    #[inline(always)]
    fn run(self) {
        let (cell, shape, t, out) = (self.cell, self.shape, self.t, self.out);
        let Part { rows, units, .. } = self.part;
        let (batch, hidden) = (shape.batch, shape.hidden);
        let (width, kept_width) = (C::GATES * hidden, C::TAPE * hidden);
        // Without keeping the tape, every row writes it to its chunk's one-row scratch (each
        // chunk of a step its own units, or its own row): it stays in the cache.
        let kept_at = |b: usize| match out.keep {
            true => (t * batch + b) * kept_width,
            false => self.scratch_slot * kept_width,
        };
        // Merged, the part's rows go to the cell as one row (the first one's index).
        let (count, n) = match merged_rows::<C>(shape, &units, self.valid.is_some()) {
            true => (1, rows.len() * hidden),
            false => (rows.len(), units.len()),
        };
        for b in (rows.start..).take(count) {
            let local = (b - rows.start) * hidden + units.start;
            let mine = local..local + n;
            let row = b * hidden + units.start;
            let now = t * shape.block() + row..t * shape.block() + row + n;
            let kept_row = kept_at(b) + units.start;
            // SAFETY: this chunk's units of row `b` of step `t`, in the states (or the cell's
            // outputs), the parts and the tape: no other chunk touches them meanwhile; the
            // parts were written by this chunk's products just before.
            unsafe {
                let h = match shape.projected {
                    true => {
                        let at = out.unprojected_at(shape, t) + row;
                        out.unprojected.uninit_mut(at..at + n)
                    }
                    false => out.states.uninit_mut(now),
                };
                let c: &mut [MaybeUninit<f32>] = match C::CELL_STATE {
                    true => {
                        let at = out.cells_at(shape, t) + row;
                        out.cells.uninit_mut(at..at + n)
                    }
                    false => &mut [],
                };
                let tape = out.kept.blocks_mut(kept_row, hidden, n, C::TAPE);
                let c_prev: &[f32] = if C::CELL_STATE {
                    &self.c_prev[mine.clone()]
                } else {
                    &[]
                };
                if !shape.is_valid(self.valid, t, b) {
                    match shape.projected {
                        true => h.fill(MaybeUninit::new(0.0)),
                        false => write(h, &self.h_prev[mine]),
                    }
                    write(c, c_prev);
                    tape.zero();
                    continue;
                }
                let input = match C::SEPARATE_INPUT {
                    true => {
                        let at = (b - rows.start) * width + units.start;
                        Blocks::of(self.x, at, hidden, n, C::GATES)
                    }
                    false => Blocks::NONE,
                };
                let row = ForwardRow {
                    hidden: self
                        .parts
                        .blocks(b * width + units.start, hidden, n, C::GATES),
                    input,
                    h_prev: match shape.projected {
                        true => &[],
                        false => &self.h_prev[mine],
                    },
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
