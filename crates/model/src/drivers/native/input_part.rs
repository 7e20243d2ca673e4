//! A step's input part `x_t·W_ihᵀ` (plus `b_ih` for cells that keep it apart), as the native
//! scan reads it: computed before the scan for all steps, or deferred to the step, where each
//! thread computes its own units' columns in its products. Deferred, the `[T, B, GATES·H]`
//! part is never written to memory and read back a step at a time (on `large` that is 268 MB
//! a batch); the products run against `W_ihᵀ` packed once per scan, and for cells that sum
//! the parts in the same pass as the product with `W_hh` (one store per tile, not two:
//! `healthcare` LSTM inference +4 %, `medium` +2 %).

use std::ops::Range;
use std::sync::Arc;

use super::packed::{Start, StepWeights};
use super::packing::{Packer, Weight};
use super::split::{Part, Split};
use super::steps::Shape;
use super::team::Shared;
use crate::cells::Cell;

/// The steps' input part, as given to the scan.
#[derive(Clone, Copy)]
pub(crate) enum InputPart<'a> {
    /// `[T, B, GATES·H]`, computed before the scan.
    Projected(&'a [f32]),
    /// Computed in the step from `x` (`[T, B, d_in]`), `w` (`W_ihᵀ`, `[d_in, GATES·H]`) and
    /// `bias` (`b_ih`, for cells that keep the part apart). Not under layer norm, which
    /// normalises the whole part before the scan.
    Deferred {
        x: &'a [f32],
        w: Weight<'a>,
        bias: Option<&'a [f32]>,
    },
}

/// [`InputPart`] ready for the steps: a deferred part's weight packed per gate, and for cells
/// that keep the part apart a scratch step per chunk to compute it into.
pub(crate) enum StepInput<'a> {
    Projected(&'a [f32]),
    Deferred(Deferred<'a>),
}

/// A deferred input part, ready for the steps.
pub(crate) struct Deferred<'a> {
    x: &'a [f32],
    d_in: usize,
    w: Arc<[StepWeights]>,
    bias: Option<&'a [f32]>,
    /// For cells that keep the part apart (else empty): `[B, GATES·H]`, whose rows each chunk
    /// of a row split writes, or one such block per chunk of a unit split (each chunk its own
    /// units' columns).
    scratch: Shared,
    per_chunk: bool,
}

impl Deferred<'_> {
    /// Rows `rows` of step `t`'s input `x_t` (`[B, d_in]`).
    fn x_at(&self, batch: usize, t: usize, rows: &Range<usize>) -> &[f32] {
        let at = t * batch * self.d_in;
        &self.x[at + rows.start * self.d_in..at + rows.end * self.d_in]
    }
}

impl<'a> StepInput<'a> {
    /// `part` for a scan of `shape` split into `chunks` by `split`, with `scratch` to own the
    /// scratch; a deferred part's weight packed by `packer` (the scan's).
    pub fn new<C: Cell>(
        part: InputPart<'a>,
        shape: &Shape,
        (split, chunks): (Split, usize),
        packer: &Packer,
        scratch: &'a mut Vec<f32>,
    ) -> Self {
        let (batch, hidden) = (shape.batch, shape.hidden);
        match part {
            InputPart::Projected(xp) => StepInput::Projected(xp),
            InputPart::Deferred { x, w, bias } => {
                let d_in = x.len() / (shape.steps * batch);
                let per_chunk = split == Split::Units;
                if C::SEPARATE_INPUT {
                    let blocks = if per_chunk { chunks } else { 1 };
                    *scratch = vec![0.0; blocks * batch * C::GATES * hidden];
                }
                StepInput::Deferred(Deferred {
                    x,
                    d_in,
                    w: packer.gates(w, d_in, C::GATES, hidden),
                    bias,
                    scratch: Shared::new(scratch),
                    per_chunk,
                })
            }
        }
    }

    /// For cells that keep the input part apart, step `t`'s part for the rows of `part`
    /// (`[rows, GATES·H]`), of which chunk `chunk` reads only its `part`; empty for the others.
    ///
    /// # Safety
    /// Chunk `chunk` runs on one thread at a time, on its own `part` of the step.
    pub unsafe fn separate<C: Cell>(
        &self,
        shape: &Shape,
        t: usize,
        chunk: usize,
        part: &Part,
    ) -> &[f32] {
        if !C::SEPARATE_INPUT {
            return &[];
        }
        let (batch, width) = (shape.batch, C::GATES * shape.hidden);
        let step = batch * width;
        let rows = part.rows.start * width..part.rows.end * width;
        match self {
            StepInput::Projected(xp) => &xp[t * step + rows.start..t * step + rows.end],
            StepInput::Deferred(input) => {
                let own = if input.per_chunk { chunk * step } else { 0 };
                let x = input.x_at(batch, t, &part.rows);
                for (g, w) in input.w.iter().enumerate() {
                    let at = g * shape.hidden;
                    let start = input.bias.map_or(Start::Zero, |b| Start::Bias(&b[at..]));
                    let to = input.scratch.rows(own + rows.start + at, width);
                    let m = part.rows.len();
                    // SAFETY: the chunk's own part of the scratch (the caller's promise).
                    unsafe { w.product(to, m, x, start, part.units.clone()) };
                }
                // SAFETY: as above; its part was just written.
                unsafe { input.scratch.get(own + rows.start..own + rows.end) }
            }
        }
    }

    /// Where gate `g`'s product against `W_hh` starts for the rows of `part`: the step's input
    /// part plus `bias` for cells that sum the parts (deferred, its product with `W_ihᵀ`,
    /// accumulated in the same pass), `bias` alone for the others.
    pub fn start<'s, C: Cell>(
        &'s self,
        shape: &Shape,
        t: usize,
        g: usize,
        bias: &'s [f32],
        part: &Part,
    ) -> Start<'s> {
        if C::SEPARATE_INPUT {
            return Start::Bias(bias);
        }
        let (batch, width) = (shape.batch, C::GATES * shape.hidden);
        match self {
            StepInput::Projected(xp) => Start::Rows {
                values: &xp[(t * batch + part.rows.start) * width + g * shape.hidden..],
                columns: width,
                bias: Some(bias),
            },
            StepInput::Deferred(input) => Start::Product {
                a: input.x_at(batch, t, &part.rows),
                weights: &input.w[g],
                bias,
            },
        }
    }
}
