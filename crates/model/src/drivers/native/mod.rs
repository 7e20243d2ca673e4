//! The scan on flex as native loops over the tensors' memory (every cell, `f32`).
//!
//! Burn's tensor operations allocate a fresh tensor each and cannot fuse: a step of the tensor
//! scan is a dozen passes over memory. Here a step is one product per gate block against the
//! weight packed once per scan (`packed.rs`; inference passes keep it for the next: `packing.rs`),
//! starting from the step's input projection (computed in the step itself, in the same pass:
//! `input_part.rs`; its gradients after the scan: `projection.rs`), plus one
//! vectorised pass over the step's rows for the gates and states (each cell's row kernels,
//! compiled per instruction set: `simd.rs`); the threads run chunks of whole sequences, or
//! split each step by hidden units (`split.rs`, `team.rs`). Inference passes can multiply in
//! bf16 (`precision.rs`). The time loop is `forward.rs` and `backward.rs`; this module moves tensors
//! in and out. Options that change the recurrence act outside the cells' rows: an LSTM
//! projection is one more product per step, recurrent dropout masks the state before the
//! products (each thread its own copy) and the gradient after them. Layer norm adds a phase
//! to each step, whose rows are split by sequences rather than units (`norm.rs`).
//! [`forward()`] and [`Backward::of`] decline anything else (another backend or dtype).

mod backward;
mod backward_rows;
mod forward;
mod input_part;
mod matmul;
mod memory;
mod norm;
mod packed;
mod packing;
mod precision;
mod projection;
mod simd;
mod split;
mod steps;
mod team;
#[cfg(test)]
mod tests;

use std::mem::MaybeUninit;

pub use precision::{InferencePrecision, inference_precision, set_inference_precision};
pub(crate) use projection::{defers_input, input_grads, project};

use burn::backend::Flex;
use burn::tensor::Tensor;

use super::scan::{
    InputPart, ScanGrads, ScanInputs, ScanLayout, ScanNorm, ScanRecord, ScanSpec, ScanTape, Wanted,
};
use crate::cells::{Cell, RowStateNorm, with_cell};
use memory::{Memory, filled, tensor, unfilled, writable, write, written};
use simd::Isa;
use steps::Shape;
use team::Shared;

/// The masks as `[T, B]` memory (`None`: nothing padded); `Err` when not on flex.
fn mask_memory(spec: &ScanSpec) -> Result<Option<Memory>, NotFlex> {
    spec.valid
        .as_ref()
        .map(|valid| Memory::of(valid).ok_or(NotFlex))
        .transpose()
}

/// A tensor of a scan is not an `f32` flex tensor.
struct NotFlex;

/// The scan's inputs as memory.
struct InputMemory {
    xp: PartMemory,
    w: Memory,
    bias: Memory,
    h0: Memory,
    c0: Memory,
    valid: Option<Memory>,
    projection: Option<Memory>,
    mask: Option<Memory>,
    norm: Option<NormMemory>,
}

/// The input part as memory (see [`InputPart`]).
enum PartMemory {
    Projected(Memory),
    /// `x`, `W_ihᵀ` and the bias, if any.
    Deferred(Box<(Memory, Memory, Option<Memory>)>),
}

impl PartMemory {
    fn of(part: &InputPart) -> Option<Self> {
        Some(match part {
            InputPart::Projected(xp) => PartMemory::Projected(Memory::of(xp)?),
            InputPart::Deferred(input) => PartMemory::Deferred(Box::new((
                Memory::of(&input.x)?,
                Memory::of(&input.w)?,
                optional(&input.bias).ok()?,
            ))),
        })
    }

    fn values(&self) -> forward::InputPart<'_> {
        match self {
            PartMemory::Projected(xp) => forward::InputPart::Projected(xp.values()),
            PartMemory::Deferred(deferred) => forward::InputPart::Deferred {
                x: deferred.0.values(),
                w: deferred.1.weight(),
                bias: deferred.2.as_ref().map(Memory::values),
            },
        }
    }
}

/// Layer normalisation's weights as memory (see [`ScanNorm`]).
struct NormMemory {
    hidden_gain: Memory,
    state: Option<[Memory; 2]>,
}

impl NormMemory {
    /// `Err` when a weight is not an `f32` flex tensor.
    fn of(norm: &Option<ScanNorm>) -> Result<Option<Self>, NotFlex> {
        let Some(norm) = norm else { return Ok(None) };
        let memory = |t| Memory::of(t).ok_or(NotFlex);
        let state = match &norm.state {
            Some(state) => Some([memory(&state.gain)?, memory(&state.bias)?]),
            None => None,
        };
        Ok(Some(Self {
            hidden_gain: memory(&norm.hidden_gain)?,
            state,
        }))
    }

    fn values(&self) -> norm::NormValues<'_> {
        norm::NormValues {
            hidden_gain: self.hidden_gain.values(),
            state: self.state.as_ref().map(|[gain, bias]| RowStateNorm {
                gain: gain.values(),
                bias: bias.values(),
            }),
        }
    }
}

impl InputMemory {
    /// `None` unless every tensor is an `f32` flex tensor.
    fn of(spec: &ScanSpec, inputs: &ScanInputs) -> Option<(Self, Shape)> {
        let memory = Self {
            xp: PartMemory::of(&inputs.xp)?,
            w: Memory::of(&inputs.w)?,
            bias: Memory::of(&inputs.bias)?,
            h0: Memory::of(&inputs.h0)?,
            c0: Memory::of(&inputs.c0)?,
            valid: mask_memory(spec).ok()?,
            projection: optional(&inputs.projection).ok()?,
            mask: optional(&spec.mask).ok()?,
            norm: NormMemory::of(&inputs.norm).ok()?,
        };
        let layout = inputs.layout(spec.cell);
        let shape = Shape {
            steps: layout.steps,
            batch: layout.batch,
            hidden: layout.hidden,
            state: layout.state,
            projected: inputs.projection.is_some(),
            reverse: spec.reverse,
        };
        Some((memory, shape))
    }
}

/// An optional tensor's memory; `Err` when it is there but not on flex.
fn optional<const D: usize>(tensor: &Option<Tensor<D>>) -> Result<Option<Memory>, NotFlex> {
    tensor
        .as_ref()
        .map(|t| Memory::of(t).ok_or(NotFlex))
        .transpose()
}

/// The scan forward natively (see `tensor_scan::forward`), when its tensors are on flex.
pub(crate) fn forward(
    spec: &ScanSpec,
    inputs: &ScanInputs,
    keep_tape: bool,
) -> Option<(Tensor<1>, ScanTape)> {
    let (memory, shape) = InputMemory::of(spec, inputs)?;
    Some(with_cell!(spec.cell, cell: C => {
        forward_cell(cell, Isa::best(), &shape, &memory, keep_tape, None)
    }))
}

/// [`forward()`] for one cell: the scan, then its output (laid out as `ScanLayout` says: outputs
/// zero at padded steps, the final hidden and cell states) and the tape.
fn forward_cell<C: Cell>(
    cell: C,
    isa: Isa,
    shape: &Shape,
    memory: &InputMemory,
    keep_tape: bool,
    split: Option<split::Split>,
) -> (Tensor<1>, ScanTape) {
    let (steps, batch, hidden, state) = (shape.steps, shape.batch, shape.hidden, shape.state);
    let (block, state_block) = (shape.block(), shape.state_block());
    let valid = memory.valid.as_ref().map(Memory::values);
    let layout = ScanLayout {
        steps,
        batch,
        hidden,
        state,
        cell_state: C::CELL_STATE,
    };
    let mut out = unfilled(layout.len());
    // Unpadded, the outputs are the states: the scan writes them straight into `out`.
    let mut own_states = if valid.is_some() {
        unfilled(steps * state_block)
    } else {
        Vec::new()
    };
    // Not kept, the cell states of the last two steps only (`forward::Outputs::cells_at`).
    let mut cells = match (C::CELL_STATE, keep_tape) {
        (false, _) => Vec::new(),
        (true, true) => unfilled(steps * block),
        (true, false) => unfilled(steps.min(2) * block),
    };
    let (normed, width) = (memory.norm.is_some(), C::GATES * hidden);
    let kept_row = C::TAPE * hidden;
    // Not kept, the tape is scratch: a row per chunk of the scan (at most one per sequence),
    // or under layer norm (whose rows are split by sequences between the threads) one step.
    let mut kept = match keep_tape {
        true => unfilled(steps * batch * kept_row),
        false => vec![MaybeUninit::new(0.0); kept_row * batch],
    };
    let mut raw = match (normed, keep_tape) {
        (false, _) => Vec::new(),
        (true, true) => unfilled(steps * batch * width),
        (true, false) => unfilled(batch * width),
    };
    let mut unprojected = match (shape.projected, keep_tape) {
        (false, _) => Vec::new(),
        (true, true) => unfilled(steps * block),
        (true, false) => unfilled(block),
    };
    {
        let states = match valid {
            Some(_) => Shared::unfilled(&mut own_states),
            None => Shared::unfilled(&mut out[..steps * state_block]),
        };
        let inputs = forward::Inputs {
            xp: memory.xp.values(),
            w: memory.w.weight(),
            bias: memory.bias.values(),
            h0: memory.h0.values(),
            c0: if C::CELL_STATE {
                memory.c0.values()
            } else {
                &[]
            },
            valid,
            projection: memory.projection.as_ref().map(Memory::weight),
            mask: memory.mask.as_ref().map(Memory::values),
            norm: memory.norm.as_ref().map(NormMemory::values),
        };
        let outputs = forward::Outputs {
            states,
            cells: Shared::unfilled(&mut cells),
            kept: Shared::unfilled(&mut kept),
            unprojected: Shared::unfilled(&mut unprojected),
            raw: Shared::unfilled(&mut raw),
            keep: keep_tape,
        };
        forward::forward(cell, isa, shape, &inputs, outputs, split);
    }
    let last = if shape.reverse { 0 } else { steps - 1 };
    let final_block = |values: &[f32], size: usize| values[last * size..(last + 1) * size].to_vec();
    // SAFETY: the scan wrote every state and cell state.
    let (final_h, final_c) = unsafe {
        let states = match valid {
            Some(_) => written(&own_states),
            None => written(&out[..steps * state_block]),
        };
        let cells = C::CELL_STATE.then(|| {
            let at = if keep_tape { last } else { last % 2 };
            written(&cells)[at * block..(at + 1) * block].to_vec()
        });
        (final_block(states, state_block), cells)
    };
    let (outputs, finals) = out.split_at_mut(layout.final_h_at());
    if let Some(valid) = valid {
        // SAFETY: written by the scan.
        let states = unsafe { written(&own_states) };
        for (row, output) in outputs.chunks_exact_mut(state).enumerate() {
            match valid[row] != 0.0 {
                true => write(output, &states[row * state..(row + 1) * state]),
                false => output.fill(MaybeUninit::new(0.0)),
            }
        }
    }
    write(&mut finals[..state_block], &final_h);
    if let Some(final_c) = final_c {
        write(&mut finals[state_block..], &final_c);
    }
    // SAFETY: all of `out` is written: the outputs (by the scan, or above) and the finals.
    let out = tensor(unsafe { filled(out) }, [layout.len()]);
    let states = match valid {
        // SAFETY: written by the scan.
        Some(_) => tensor(unsafe { filled(own_states) }, [steps, batch, state]),
        None => layout.outputs(&out),
    };
    let keep = |values: Vec<MaybeUninit<f32>>, width: usize| {
        // SAFETY: kept, the scan wrote every element.
        (keep_tape && width > 0).then(|| tensor(unsafe { filled(values) }, [steps, batch, width]))
    };
    let tape = ScanTape {
        states,
        cells: keep(cells, if C::CELL_STATE { hidden } else { 0 }),
        kept: keep(kept, C::TAPE * hidden),
        unprojected: keep(unprojected, if shape.projected { hidden } else { 0 }),
        raw_parts: keep(raw, if normed { width } else { 0 }),
    };
    (out, tape)
}

/// The scan backward natively, for a scan whose tape is on flex.
pub(crate) struct Backward {
    spec: ScanSpec,
    shape: Shape,
    w: Memory,
    h0: Memory,
    c0: Memory,
    projection: Option<Memory>,
    mask: Option<Memory>,
    valid: Option<Memory>,
    states: Memory,
    cells: Option<Memory>,
    kept: Option<Memory>,
    unprojected: Option<Memory>,
    norm: Option<NormMemory>,
    raw_parts: Option<Memory>,
}

impl Backward {
    /// `None` unless the scan's tensors are `f32` flex tensors.
    pub fn of(record: &ScanRecord) -> Option<Self> {
        let ScanRecord {
            spec,
            weights,
            tape,
        } = record;
        if weights.norm.is_some() && tape.raw_parts.is_none() {
            return None;
        }
        let layout = record.layout();
        Some(Self {
            spec: spec.clone(),
            shape: Shape {
                steps: layout.steps,
                batch: layout.batch,
                hidden: layout.hidden,
                state: layout.state,
                projected: weights.projection.is_some(),
                reverse: spec.reverse,
            },
            w: Memory::of(&weights.w)?,
            h0: Memory::of(&weights.h0)?,
            c0: Memory::of(&weights.c0)?,
            projection: optional(&weights.projection).ok()?,
            mask: optional(&spec.mask).ok()?,
            valid: mask_memory(spec).ok()?,
            states: Memory::of(&tape.states)?,
            cells: optional(&tape.cells).ok()?,
            kept: optional(&tape.kept).ok()?,
            unprojected: optional(&tape.unprojected).ok()?,
            norm: NormMemory::of(&weights.norm).ok()?,
            raw_parts: optional(&tape.raw_parts).ok()?,
        })
    }

    /// BPTT for `grad`, the gradient of the forward pass's output.
    pub fn run(self, grad: Tensor<1>, wanted: Wanted) -> ScanGrads {
        self.run_with(Isa::best(), grad, wanted, None)
    }

    /// [`Self::run`] with the row kernels compiled for `isa`, split as `split` says (`None`:
    /// as [`split::Split::choose`] chooses).
    fn run_with(
        self,
        isa: Isa,
        grad: Tensor<1>,
        wanted: Wanted,
        split: Option<split::Split>,
    ) -> ScanGrads {
        with_cell!(self.spec.cell, cell: C => self.run_cell(cell, isa, grad, wanted, split))
    }

    fn run_cell<C: Cell>(
        &self,
        cell: C,
        isa: Isa,
        grad: Tensor<1>,
        wanted: Wanted,
        split: Option<split::Split>,
    ) -> ScanGrads {
        let (steps, batch, hidden, state) = (
            self.shape.steps,
            self.shape.batch,
            self.shape.hidden,
            self.shape.state,
        );
        let width = C::GATES * hidden;
        fn values(memory: &Option<Memory>) -> &[f32] {
            memory.as_ref().map_or(&[], Memory::values)
        }
        let saved = backward::Saved {
            states: self.states.values(),
            cells: values(&self.cells),
            kept: values(&self.kept),
            unprojected: values(&self.unprojected),
            h0: self.h0.values(),
            c0: if C::CELL_STATE { self.c0.values() } else { &[] },
            valid: self.valid.as_ref().map(Memory::values),
            raw: values(&self.raw_parts),
        };
        // The gradient arrives owned by this pass: a cell may compute in its memory.
        let (mut writable_grad, read_only_grad);
        let incoming = match backward::in_place::<C>() {
            true => {
                writable_grad = Some(writable(grad));
                let memory = writable_grad.as_mut().expect("just made");
                backward::Incoming::Writable(memory.storage_mut::<f32>())
            }
            false => {
                writable_grad = None;
                read_only_grad = Memory::of(&grad).expect("the gradient is on flex");
                backward::Incoming::ReadOnly(read_only_grad.values())
            }
        };
        let weights = backward::Weights {
            w: self.w.values(),
            projection: self.projection.as_ref().map(Memory::values),
            mask: self.mask.as_ref().map(Memory::values),
            norm: self.norm.as_ref().map(NormMemory::values),
        };
        let shape = &self.shape;
        let out = backward::backward(cell, isa, shape, &saved, &weights, incoming, wanted, split);
        let parts = [steps, batch, width];
        let xp = if C::SEPARATE_INPUT {
            tensor(out.d_input, parts)
        } else if let Some(grad) = writable_grad {
            Tensor::<1>::from_primitive::<Flex>(grad)
                .slice(0..steps * batch * hidden)
                .reshape(parts)
        } else {
            tensor(out.d_hidden, parts)
        };
        let c0 = match C::CELL_STATE {
            true => out.c0,
            false => vec![0.0; batch * hidden],
        };
        ScanGrads {
            xp: wanted.xp.then_some(xp),
            w: out.w.map(|w| tensor(w, [state, width])),
            bias: wanted.bias.then(|| tensor(out.bias, [width])),
            h0: wanted.h0.then(|| tensor(out.h0, [batch, state])),
            c0: wanted.c0.then(|| tensor(c0, [batch, hidden])),
            projection: out.projection.map(|r| tensor(r, [hidden, state])),
            hidden_gain: (out.hidden_gain.filter(|_| wanted.hidden_gain))
                .map(|gain| tensor(gain, [width])),
            state_gain: (out.state_norm.as_ref().filter(|_| wanted.state_gain))
                .map(|[gain, _]| tensor(gain.clone(), [hidden])),
            state_bias: (out.state_norm.filter(|_| wanted.state_bias))
                .map(|[_, bias]| tensor(bias, [hidden])),
        }
    }
}
