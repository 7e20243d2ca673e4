//! The reference path: the time loop step by step on per-step tensors, which Burn
//! differentiates op by op. Slicing a big `[B, T, ·]` tensor once per step would cost a
//! full-size gradient per step in the backward pass, so layers pass per-step tensors to each
//! other and only the (small) input is sliced once.

use burn::nn::Dropout;
use burn::tensor::{Device, Tensor, TensorData};

use super::{Direction, DirectionRunner, LayerWeights};
use crate::cells::{
    Cell, CellKind, LinearCell, StepParts, TensorState, with_cell, with_linear_cell,
};

/// Per-step float masks built from lengths: `valid[t]` is 1 where step `t` is real, `padded[t]`
/// its complement; both `[B, 1]` and constant (no gradient).
pub(crate) struct StepMasks {
    valid: Vec<Tensor<2>>,
    padded: Vec<Tensor<2>>,
}

impl StepMasks {
    /// `None` when every sequence uses the full time axis (nothing to mask).
    pub fn new(lengths: &[usize], steps: usize, device: &Device) -> Option<Self> {
        if lengths.iter().all(|&len| len == steps) {
            return None;
        }
        let batch = lengths.len();
        let column = |t: usize, valid: bool| {
            let values: Vec<f32> = lengths
                .iter()
                .map(|&len| if (t < len) == valid { 1.0 } else { 0.0 })
                .collect();
            Tensor::from_data(TensorData::new(values, [batch, 1]), device)
        };
        Some(Self {
            valid: (0..steps).map(|t| column(t, true)).collect(),
            padded: (0..steps).map(|t| column(t, false)).collect(),
        })
    }
}

/// The step-by-step path for one cell.
pub(crate) struct StepByStep {
    pub cell: CellKind,
    pub masks: Option<StepMasks>,
}

impl DirectionRunner for StepByStep {
    type Sequence = Vec<Tensor<2>>;

    fn run(
        &self,
        weights: &LayerWeights,
        input: &Self::Sequence,
        start: TensorState,
        direction: Direction,
    ) -> Option<(Self::Sequence, TensorState)> {
        let (masks, reverse) = (self.masks.as_ref(), direction.reverse);
        // The linear cells' sequential form, or a recurrent cell's step.
        let linear = with_linear_cell!(self.cell, cell: C => {
            unroll(input, start.clone(), masks, reverse, linear_step(cell, weights))
        });
        if linear.is_some() {
            return linear;
        }
        let mask = direction.mask.as_ref();
        Some(with_cell!(self.cell, cell: C => {
            unroll(input, start, masks, reverse, recurrent_step(cell, weights, mask))
        }))
    }

    fn concat(forward: Self::Sequence, backward: Self::Sequence) -> Self::Sequence {
        forward
            .into_iter()
            .zip(backward)
            .map(|(f, b)| Tensor::cat(vec![f, b], 1))
            .collect()
    }

    fn dropout(dropout: &Dropout, x: Self::Sequence) -> Self::Sequence {
        x.into_iter().map(|x| dropout.forward(x)).collect()
    }
}

/// A recurrent cell's step: its new state from step `t`'s input `x_t` and the previous state,
/// with the layer's weights (and recurrent dropout's `mask` on the state entering `W_hh`).
fn recurrent_step<C: Cell>(
    cell: C,
    weights: &LayerWeights,
    mask: Option<&Tensor<2>>,
) -> impl Fn(&Tensor<2>, &TensorState) -> TensorState {
    // Summed parts only ever use b_ih + b_hh: add them once, not once per step.
    let (input_bias, hidden_bias) = if C::SEPARATE_INPUT {
        (weights.input_bias.clone(), weights.hidden_bias.clone())
    } else {
        (weights.summed_bias(), None)
    };
    let input_bias = input_bias.map(|b| b.unsqueeze::<2>());
    let hidden_bias = hidden_bias.map(|b| b.unsqueeze::<2>());
    let w = weights.hidden.clone().expect("a recurrent cell has W_hh");
    move |x, state| {
        let mut input_part = x.clone().matmul(weights.input.clone());
        if let Some(norm) = &weights.norm {
            input_part = norm.input(input_part, C::GATES);
        }
        if let Some(b) = &input_bias {
            input_part = input_part + b.clone();
        }
        let entering = match mask {
            Some(mask) => state.h.clone() * mask.clone(),
            None => state.h.clone(),
        };
        let mut hidden_part = entering.matmul(w.clone());
        if let Some(norm) = &weights.norm {
            hidden_part = norm.hidden(hidden_part, C::GATES);
        }
        if let Some(b) = &hidden_bias {
            hidden_part = hidden_part + b.clone();
        }
        let parts = if C::SEPARATE_INPUT {
            StepParts {
                hidden: hidden_part,
                input: Some(input_part),
            }
        } else {
            StepParts {
                hidden: input_part + hidden_part,
                input: None,
            }
        };
        let state_norm = weights.norm.as_ref().and_then(|norm| norm.state.as_ref());
        let mut new = cell.step(parts, state, false, state_norm).state;
        if let Some(r) = &weights.projection {
            new.h = new.h.matmul(r.clone());
        }
        new
    }
}

/// A linear cell's step in the paper's sequential form: `h_t` from `x_t` and `h_{t-1}`.
fn linear_step<C: LinearCell>(
    cell: C,
    weights: &LayerWeights,
) -> impl Fn(&Tensor<2>, &TensorState) -> TensorState {
    move |x, state| {
        let mut parts = x.clone().matmul(weights.input.clone());
        if let Some(b) = &weights.input_bias {
            parts = parts + b.clone().unsqueeze::<2>();
        }
        TensorState {
            h: cell.step(parts, state.h.clone()),
            c: None,
        }
    }
}

/// The time loop: runs `step` over all steps (backwards when `reverse`) from `start` and
/// returns the per-step outputs in time order and the final state. A padded step outputs
/// zeros and keeps the state.
fn unroll(
    inputs: &[Tensor<2>],
    start: TensorState,
    masks: Option<&StepMasks>,
    reverse: bool,
    step: impl Fn(&Tensor<2>, &TensorState) -> TensorState,
) -> (Vec<Tensor<2>>, TensorState) {
    let steps = inputs.len();
    let mut outputs: Vec<Option<Tensor<2>>> = vec![None; steps];
    let mut state = start;
    for i in 0..steps {
        let t = if reverse { steps - 1 - i } else { i };
        let new = step(&inputs[t], &state);
        match masks {
            None => {
                state = new;
                outputs[t] = Some(state.h.clone());
            }
            Some(masks) => {
                let (valid, padded) = (&masks.valid[t], &masks.padded[t]);
                let output = new.h * valid.clone();
                state = TensorState {
                    h: output.clone() + state.h * padded.clone(),
                    c: new
                        .c
                        .zip(state.c)
                        .map(|(new, old)| new * valid.clone() + old * padded.clone()),
                };
                outputs[t] = Some(output);
            }
        }
    }
    let outputs = outputs
        .into_iter()
        .map(|o| o.expect("every step visited"))
        .collect();
    (outputs, state)
}
