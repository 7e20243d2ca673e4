//! The scan on flex as native loops over the tensors' memory (every cell, `f32`).
//!
//! Burn's tensor operations allocate a fresh tensor each and cannot fuse: a step of the generic
//! scan is a dozen passes over memory. Here a step is one product against the weight packed
//! once per scan (`packed.rs`), starting from the step's input projection, plus one vectorised
//! pass over the step's rows for the gates and states, written straight into the output; the
//! threads split each step by hidden units (`team.rs`). [`forward`] and [`backward`] decline
//! anything else (another backend or dtype), and `scan.rs` then runs its generic tensor code.

mod activation;
mod elman;
mod gru;
mod lstm;
mod matmul;
mod packed;
mod steps;
mod team;

use burn::backend::Flex;
use burn::backend::flex::FlexTensor;
use std::mem::MaybeUninit;

use burn::tensor::{DType, Tensor, TensorData};

use crate::cell::CellKind;
use crate::scan::{ScanGrads, ScanInputs, ScanSpec, ScanTape, Wanted};
use steps::Shape;
use team::Shared;

/// A tensor's contiguous `f32` memory on flex.
struct Memory(FlexTensor);

impl Memory {
    /// `None` unless `tensor` is an `f32` flex tensor.
    fn of<const D: usize>(tensor: &Tensor<D>) -> Option<Self> {
        let flex = tensor.clone().try_into_primitive::<Flex>().ok()?;
        if flex.dtype() != DType::F32 {
            return None;
        }
        Some(Self(if flex.is_contiguous() {
            flex
        } else {
            flex.to_contiguous()
        }))
    }

    fn values(&self) -> &[f32] {
        self.0
            .as_slice::<f32>()
            .expect("made contiguous f32 in `of`")
    }
}

/// `len` floats to be written before anything reads them: allocated without the zero-fill
/// (a pass over memory as long as the write itself).
fn unfilled(len: usize) -> Vec<MaybeUninit<f32>> {
    let mut values = Vec::with_capacity(len);
    // SAFETY: `MaybeUninit` needs no initialisation; the capacity is `len`.
    unsafe { values.set_len(len) };
    values
}

/// The floats of [`unfilled`] memory.
///
/// # Safety
/// Every element has been written.
unsafe fn filled(values: Vec<MaybeUninit<f32>>) -> Vec<f32> {
    let mut values = std::mem::ManuallyDrop::new(values);
    let (ptr, len, capacity) = (values.as_mut_ptr(), values.len(), values.capacity());
    // SAFETY: same allocation, layout and length; every element initialised (the caller).
    unsafe { Vec::from_raw_parts(ptr.cast(), len, capacity) }
}

/// A flex tensor owning `values`.
fn tensor<const D: usize>(values: Vec<f32>, shape: [usize; D]) -> Tensor<D> {
    Tensor::from_primitive::<Flex>(FlexTensor::from_data(TensorData::new(values, shape)))
}

/// `x · w` (`[n, k]·[k, m]`) for plain `f32` flex tensors, into memory this crate allocates:
/// flex's `matmul` output comes from `FlexTensor::empty`, which zero-fills a buffer and then
/// copies it to realign it (burn-flex 0.22.1), two extra passes over the step projections.
/// `None` for anything else, autodiff tensors included (their product must be recorded).
pub(crate) fn project(x: &Tensor<2>, w: &Tensor<2>) -> Option<Tensor<2>> {
    let (x_memory, w_memory) = (Memory::of(x)?, Memory::of(w)?);
    let ([rows, inner], [_, columns]) = (x.dims(), w.dims());
    let mut out = unfilled(rows * columns);
    // SAFETY: `x` and `w` are rows×inner and inner×columns row-major, apart from `out`, which
    // the product writes whole without reading it.
    let out = unsafe {
        matmul::matmul_ptr(
            out.as_mut_ptr().cast(),
            rows,
            columns,
            inner,
            matmul::View::rows(x_memory.values(), inner),
            matmul::View::rows(w_memory.values(), columns),
            false,
        );
        filled(out)
    };
    Some(tensor(out, [rows, columns]))
}

/// The masks as `[T, B]` memory; `Some(None)` when nothing is padded, `None` when not on flex.
fn valid_memory(spec: &ScanSpec) -> Option<Option<Memory>> {
    match &spec.valid {
        None => Some(None),
        Some(valid) => Memory::of(valid).map(Some),
    }
}

/// [`crate::scan::forward`] natively, when it applies.
pub(crate) fn forward(
    spec: &ScanSpec,
    inputs: &ScanInputs,
    keep_tape: bool,
) -> Option<(Tensor<3>, ScanTape)> {
    let xp = Memory::of(&inputs.xp)?;
    let w = Memory::of(&inputs.w)?;
    let bias = Memory::of(&inputs.bias)?;
    let h0 = Memory::of(&inputs.h0)?;
    let c0 = Memory::of(&inputs.c0)?;
    let valid = valid_memory(spec)?;
    let valid = valid.as_ref().map(Memory::values);
    let [steps, _, _] = inputs.xp.dims();
    let [batch, hidden] = inputs.h0.dims();
    let shape = Shape {
        steps,
        batch,
        hidden,
        reverse: spec.reverse,
    };
    let block = batch * hidden;
    let lstm = spec.cell.has_cell_state();
    let total = (steps + 1 + lstm as usize) * block;
    // Unpadded, the outputs are the states: the scan writes them straight into `out`. The Elman
    // scan writes each state through the product kernel before anything reads it, and the
    // final block is copied in below, so its `out` skips the zero-fill; LSTM and GRU write
    // their states through slices, and padded outputs must stay zero.
    let mut out = if matches!(spec.cell, CellKind::Elman(_)) && valid.is_none() {
        unfilled(total)
    } else {
        vec![MaybeUninit::new(0.0); total]
    };
    let mut own_states = if valid.is_some() {
        vec![0.0; steps * block]
    } else {
        Vec::new()
    };
    let gate_steps = if keep_tape { steps } else { 1 };
    let mut cells = Vec::new();
    let mut gates = Vec::new();
    {
        let states = match valid {
            Some(_) => Shared::new(&mut own_states),
            None => Shared::unfilled(&mut out[..steps * block]),
        };
        let (xp, w, bias, h0) = (xp.values(), w.values(), bias.values(), h0.values());
        match spec.cell {
            CellKind::Elman(activation) => {
                let weights = elman::Weights { w, bias };
                elman::forward(&shape, activation, xp, &weights, h0, valid, states);
            }
            CellKind::Lstm => {
                cells = vec![0.0; steps * block];
                gates = vec![0.0; gate_steps * 4 * block];
                let outputs = lstm::Outputs {
                    states,
                    cells: &mut cells,
                    gates: &mut gates,
                    keep_gates: keep_tape,
                };
                lstm::forward(&shape, xp, w, bias, h0, c0.values(), valid, outputs);
            }
            CellKind::Gru => {
                gates = vec![0.0; gate_steps * 4 * block];
                gru::forward(
                    &shape, xp, w, bias, h0, valid, states, &mut gates, keep_tape,
                );
            }
        }
    }
    let last = if spec.reverse { 0 } else { steps - 1 };
    let into = out.as_mut_ptr().cast::<f32>();
    // SAFETY: every copy stays inside `out` (`total` floats) and its sources, which the scan
    // has written; the final blocks (`steps` and, for LSTM, `steps + 1`) are apart from the
    // steps' blocks. Together with the scan, every float of `out` is written.
    unsafe {
        let copy = |from: *const f32, at: usize, len: usize| {
            std::ptr::copy_nonoverlapping(from, into.add(at), len)
        };
        match valid {
            None => copy(into.add(last * block), steps * block, block),
            Some(valid) => {
                for row in (0..steps * batch).filter(|&row| valid[row] != 0.0) {
                    copy(own_states[row * hidden..].as_ptr(), row * hidden, hidden);
                }
                copy(own_states[last * block..].as_ptr(), steps * block, block);
            }
        }
        if lstm {
            copy(cells[last * block..].as_ptr(), (steps + 1) * block, block);
        }
    }
    // SAFETY: written whole (above).
    let out = unsafe { filled(out) };
    let out = tensor(out, [steps + 1 + lstm as usize, batch, hidden]);
    let states = match valid {
        Some(_) => tensor(own_states, [steps, batch, hidden]),
        None => out.clone().slice([0..steps, 0..batch, 0..hidden]),
    };
    let keep = |values: Vec<f32>, width: usize| {
        (keep_tape && !values.is_empty()).then(|| tensor(values, [steps, batch, width]))
    };
    let tape = ScanTape {
        states,
        cells: keep(cells, hidden),
        gates: keep(gates, 4 * hidden),
    };
    Some((out, tape))
}

/// [`crate::scan::backward`] natively, when it applies; otherwise gives `grad` back.
pub(crate) fn backward(
    spec: &ScanSpec,
    (w, h0, c0): (&Tensor<2>, &Tensor<2>, &Tensor<2>),
    tape: &ScanTape,
    grad: Tensor<3>,
    wanted: Wanted,
) -> Result<ScanGrads, Box<Tensor<3>>> {
    let (Some(states), Some(w_memory), Some(h0_memory), Some(valid)) = (
        Memory::of(&tape.states),
        Memory::of(w),
        Memory::of(h0),
        valid_memory(spec),
    ) else {
        return Err(Box::new(grad));
    };
    let [steps, batch, hidden] = tape.states.dims();
    let shape = Shape {
        steps,
        batch,
        hidden,
        reverse: spec.reverse,
    };
    let valid = valid.as_ref().map(Memory::values);
    let (states, w, h0) = (states.values(), w_memory.values(), h0_memory.values());
    let width = spec.cell.gates() * hidden;
    let kept = |t: &Option<Tensor<3>>| {
        Memory::of(t.as_ref().expect("the forward pass kept its tape")).expect("flex f32")
    };
    let (xp, w_grad, bias, h0_grad, c0_grad) = match spec.cell {
        CellKind::Elman(activation) => {
            // The gradient arrives owned by this pass: compute `∂xp` in its memory.
            let mut grad = writable(grad);
            let out = elman::backward(
                &shape,
                activation,
                states,
                w,
                h0,
                valid,
                grad.storage_mut::<f32>(),
                wanted.w,
            );
            let xp =
                Tensor::<3>::from_primitive::<Flex>(grad).slice([0..steps, 0..batch, 0..hidden]);
            (xp, out.w, out.bias, out.h0, None)
        }
        CellKind::Lstm => {
            let (cells, gates) = (kept(&tape.cells), kept(&tape.gates));
            let c0 = Memory::of(c0).expect("flex f32");
            let tape = lstm::Tape {
                states,
                cells: cells.values(),
                gates: gates.values(),
                h0,
                c0: c0.values(),
            };
            let grad = Memory::of(&grad).expect("flex f32");
            let out = lstm::backward(&shape, &tape, w, valid, grad.values(), wanted.w);
            let xp = tensor(out.da, [steps, batch, width]);
            (xp, out.w, out.bias, out.h0, Some(out.c0))
        }
        CellKind::Gru => {
            let gates = kept(&tape.gates);
            let grad = Memory::of(&grad).expect("flex f32");
            let out = gru::backward(
                &shape,
                states,
                gates.values(),
                w,
                h0,
                valid,
                grad.values(),
                wanted.w,
            );
            let xp = tensor(out.dx, [steps, batch, width]);
            (xp, out.w, out.bias, out.h0, None)
        }
    };
    let zeros = || vec![0.0; batch * hidden];
    Ok(ScanGrads {
        xp: wanted.xp.then_some(xp),
        w: w_grad.map(|w| tensor(w, [hidden, width])),
        bias: wanted.bias.then(|| tensor(bias, [width])),
        h0: wanted.h0.then(|| tensor(h0_grad, [batch, hidden])),
        c0: wanted
            .c0
            .then(|| tensor(c0_grad.unwrap_or_else(zeros), [batch, hidden])),
    })
}

/// `tensor` as a flex tensor whose memory is its own, contiguous from the start (copied when
/// shared, offset, strided or not `f32`).
fn writable(tensor: Tensor<3>) -> FlexTensor {
    let shape = tensor.dims();
    let flex = tensor
        .try_into_primitive::<Flex>()
        .expect("the gradient lives on the scan's backend");
    let in_place = flex.dtype() == DType::F32
        && flex.is_unique()
        && flex.layout().contiguous_offsets() == Some((0, shape.iter().product()))
        && flex.bytes().len() == shape.iter().product::<usize>() * 4;
    if in_place {
        return flex;
    }
    let values = Tensor::<3>::from_primitive::<Flex>(flex)
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("f32 after conversion");
    FlexTensor::from_data(TensorData::new(values, shape))
}
