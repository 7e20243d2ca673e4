//! The scan on flex as native loops over the tensors' memory (Elman cells, `f32`).
//!
//! Burn's tensor operations allocate a fresh tensor each and cannot fuse: a step of the generic
//! scan is a dozen passes over memory. Here a step is one `gemm` call accumulating onto the
//! step's input projection plus one vectorised in-place activation, written straight into the
//! output. [`forward`] and [`backward`] return `None` for anything else (another backend, dtype
//! or cell), and `scan.rs` then runs its generic tensor code.

mod activation;
mod elman;
mod matmul;

use burn::backend::Flex;
use burn::backend::flex::FlexTensor;
use burn::tensor::{DType, Tensor, TensorData};

use crate::cell::CellKind;
use crate::scan::{ScanGrads, ScanInputs, ScanSpec, ScanTape, Wanted};

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
        self.0.as_slice::<f32>().expect("made contiguous f32 in `of`")
    }
}

/// A flex tensor owning `values`.
fn tensor<const D: usize>(values: Vec<f32>, shape: [usize; D]) -> Tensor<D> {
    Tensor::from_primitive::<Flex>(FlexTensor::from_data(TensorData::new(values, shape)))
}

/// The masks as `[T, B]` memory; `Some(None)` when nothing is padded, `None` when not on flex.
fn valid_memory(spec: &ScanSpec) -> Option<Option<Memory>> {
    match &spec.valid {
        None => Some(None),
        Some(valid) => Memory::of(valid).map(Some),
    }
}

/// [`crate::scan::forward`] natively, when it applies.
pub(crate) fn forward(spec: &ScanSpec, inputs: &ScanInputs) -> Option<(Tensor<3>, ScanTape)> {
    let CellKind::Elman(activation) = spec.cell else {
        return None;
    };
    let xp = Memory::of(&inputs.xp)?;
    let w = Memory::of(&inputs.w)?;
    let bias = Memory::of(&inputs.bias)?;
    let h0 = Memory::of(&inputs.h0)?;
    let weights = elman::Weights {
        w: w.values(),
        bias: bias.values(),
    };
    let valid = valid_memory(spec)?;
    let valid = valid.as_ref().map(Memory::values);
    let [steps, batch, hidden] = inputs.xp.dims();
    let shape = elman::Shape {
        steps,
        batch,
        hidden,
        reverse: spec.reverse,
    };
    let block = batch * hidden;
    let last = if spec.reverse { 0 } else { steps - 1 };
    let mut out = vec![0.0; (steps + 1) * block];
    let states = match valid {
        None => {
            // The outputs are the states: write them in place, then append the final state.
            let (states, final_state) = out.split_at_mut(steps * block);
            elman::forward(&shape, activation, xp.values(), &weights, h0.values(), None, states);
            final_state.copy_from_slice(&states[last * block..(last + 1) * block]);
            None
        }
        Some(valid) => {
            let mut states = vec![0.0; steps * block];
            let (x, h0) = (xp.values(), h0.values());
            elman::forward(&shape, activation, x, &weights, h0, Some(valid), &mut states);
            for (row, (out, state)) in out
                .chunks_exact_mut(hidden)
                .zip(states.chunks_exact(hidden))
                .enumerate()
            {
                if valid[row] != 0.0 {
                    out.copy_from_slice(state);
                }
            }
            out[steps * block..].copy_from_slice(&states[last * block..(last + 1) * block]);
            Some(tensor(states, [steps, batch, hidden]))
        }
    };
    let out = tensor(out, [steps + 1, batch, hidden]);
    let states =
        states.unwrap_or_else(|| out.clone().slice([0..steps, 0..batch, 0..hidden]));
    let tape = ScanTape {
        states,
        cells: None,
        gates: None,
    };
    Some((out, tape))
}

/// [`crate::scan::backward`] natively, when it applies; otherwise gives `grad` back.
pub(crate) fn backward(
    spec: &ScanSpec,
    (w, h0): (&Tensor<2>, &Tensor<2>),
    tape: &ScanTape,
    grad: Tensor<3>,
    wanted: Wanted,
) -> Result<ScanGrads, Tensor<3>> {
    let CellKind::Elman(activation) = spec.cell else {
        return Err(grad);
    };
    let (Some(states), Some(w), Some(h0), Some(valid)) = (
        Memory::of(&tape.states),
        Memory::of(w),
        Memory::of(h0),
        valid_memory(spec),
    ) else {
        return Err(grad);
    };
    let [steps, batch, hidden] = tape.states.dims();
    // The gradient arrives owned by this pass: compute `∂xp` in its memory.
    let mut grad = writable(grad);
    let shape = elman::Shape {
        steps,
        batch,
        hidden,
        reverse: spec.reverse,
    };
    let out = elman::backward(
        &shape,
        activation,
        states.values(),
        w.values(),
        h0.values(),
        valid.as_ref().map(Memory::values),
        grad.storage_mut::<f32>(),
        wanted.w,
    );
    let xp = wanted.xp.then(|| {
        Tensor::<3>::from_primitive::<Flex>(grad).slice([0..steps, 0..batch, 0..hidden])
    });
    Ok(ScanGrads {
        xp,
        w: out.w.map(|w| tensor(w, [hidden, hidden])),
        bias: wanted.bias.then(|| tensor(out.bias, [hidden])),
        h0: wanted.h0.then(|| tensor(out.h0, [batch, hidden])),
        c0: wanted.c0.then(|| tensor(vec![0.0; batch * hidden], [batch, hidden])),
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
