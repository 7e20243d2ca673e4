//! A step's input part `x_t·W_ihᵀ` (plus `b_ih` for cells that keep it apart), as the native
//! scan reads it: computed before the scan for all steps, or deferred to the step, where each
//! thread computes its own units' columns just before its products. Deferred, the
//! `[T, B, GATES·H]` part is never written to memory and read back a step at a time (on
//! `large` that is 268 MB a batch); the products run against `W_ihᵀ` packed once per scan.

use std::ops::Range;

use super::packed::{Destination, Start, StepWeights};
use super::simd::Isa;
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
        w: &'a [f32],
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
    w: Vec<StepWeights>,
    bias: Option<&'a [f32]>,
    /// `chunks × [B, GATES·H]` for cells that keep the part apart (else empty).
    scratch: Shared,
}

impl Deferred<'_> {
    /// Step `t`'s input `x_t`, `[B, d_in]`.
    fn x_at(&self, batch: usize, t: usize) -> &[f32] {
        let step = batch * self.d_in;
        &self.x[t * step..(t + 1) * step]
    }
}

impl<'a> StepInput<'a> {
    /// `part` for a scan of `shape` split into `chunks`, with `scratch` to own the scratch.
    pub fn new<C: Cell>(
        part: InputPart<'a>,
        shape: &Shape,
        chunks: usize,
        isa: Isa,
        scratch: &'a mut Vec<f32>,
    ) -> Self {
        let (batch, hidden) = (shape.batch, shape.hidden);
        match part {
            InputPart::Projected(xp) => StepInput::Projected(xp),
            InputPart::Deferred { x, w, bias } => {
                let d_in = x.len() / (shape.steps * batch);
                if C::SEPARATE_INPUT {
                    *scratch = vec![0.0; chunks * batch * C::GATES * hidden];
                }
                StepInput::Deferred(Deferred {
                    x,
                    d_in,
                    w: StepWeights::gates(w, d_in, C::GATES, hidden, isa),
                    bias,
                    scratch: Shared::new(scratch),
                })
            }
        }
    }

    /// For cells that keep the input part apart, step `t`'s part (`[B, GATES·H]`) of which
    /// chunk `chunk` reads only its `units`' columns; empty for the others.
    ///
    /// # Safety
    /// Chunk `chunk` runs on one thread at a time (its scratch is its own).
    pub unsafe fn separate<C: Cell>(
        &self,
        shape: &Shape,
        t: usize,
        chunk: usize,
        units: &Range<usize>,
    ) -> &[f32] {
        if !C::SEPARATE_INPUT {
            return &[];
        }
        let (batch, width) = (shape.batch, C::GATES * shape.hidden);
        let step = batch * width;
        match self {
            StepInput::Projected(xp) => &xp[t * step..(t + 1) * step],
            StepInput::Deferred(part) => {
                let own = chunk * step;
                for (g, w) in part.w.iter().enumerate() {
                    let at = g * shape.hidden;
                    let start = part.bias.map_or(Start::Zero, |b| Start::Bias(&b[at..]));
                    let to = part.scratch.rows(own + at, width);
                    // SAFETY: the chunk's own scratch step (the caller's promise).
                    unsafe { w.product(to, batch, part.x_at(batch, t), start, units.clone()) };
                }
                // SAFETY: as above; its units' columns were just written.
                unsafe { part.scratch.get(own..own + step) }
            }
        }
    }

    /// Where gate `g`'s product against `W_hh` starts, writing `dst` (the gate's block of the
    /// step's parts) first when that start is the deferred input part: the step's part plus
    /// `bias` for cells that sum the parts, `bias` alone for the others.
    ///
    /// # Safety
    /// `units`' columns of `dst` are the caller's own.
    pub unsafe fn start<'s, C: Cell>(
        &'s self,
        dst: Destination,
        shape: &Shape,
        t: usize,
        g: usize,
        bias: &'s [f32],
        units: &Range<usize>,
    ) -> Start<'s> {
        if C::SEPARATE_INPUT {
            return Start::Bias(bias);
        }
        let (batch, width) = (shape.batch, C::GATES * shape.hidden);
        match self {
            StepInput::Projected(xp) => Start::Rows {
                values: &xp[t * batch * width + g * shape.hidden..],
                columns: width,
                bias: Some(bias),
            },
            StepInput::Deferred(part) => {
                let (x, start) = (part.x_at(batch, t), Start::Bias(bias));
                // SAFETY: the caller's columns.
                unsafe { part.w[g].product(dst, batch, x, start, units.clone()) };
                Start::Destination
            }
        }
    }
}
