//! The one layer-stack driver: layers, directions, concatenation and dropout between layers,
//! recurrent dropout's masks, for any execution path (a `DirectionRunner`: the fused scan or
//! the step-by-step reference).

use burn::tensor::{Device, Distribution, Tensor};

use super::{Recurrent, RecurrentLayer, RecurrentState};
use crate::cells::{StateNorm, TensorState};
use crate::drivers::{Direction, DirectionRunner, LayerWeights, NormWeights};

impl RecurrentLayer {
    /// The weights as plain tensors for a driver.
    fn weights(&self) -> LayerWeights {
        LayerWeights {
            input: self.input_weight.val(),
            hidden: self.hidden_weight.as_ref().map(|w| w.val()),
            input_bias: self.input_bias.as_ref().map(|b| b.val()),
            hidden_bias: self.hidden_bias.as_ref().map(|b| b.val()),
            projection: self.projection.as_ref().map(|r| r.val()),
            norm: self.norm.as_ref().map(|norm| NormWeights {
                input_gain: norm.input_gain.val(),
                hidden_gain: norm.hidden_gain.val(),
                state: norm
                    .cell_gain
                    .as_ref()
                    .zip(norm.cell_bias.as_ref())
                    .map(|(gain, bias)| StateNorm {
                        gain: gain.val(),
                        bias: bias.val(),
                    }),
            }),
        }
    }
}

/// Recurrent dropout's masks for a run of the stack.
#[derive(Clone, Copy, Debug)]
pub(super) enum Masks<'a> {
    /// Drawn: one per sequence and layer-direction for the whole run, while training.
    Draw,
    /// Given, one per layer-direction (checked).
    Given(&'a [Tensor<2>]),
    /// None (a streamed step: a mask per call would change at every step).
    None,
}

impl Recurrent {
    /// Runs the stack over `input` from `starts` (one per layer-direction, in PyTorch's order):
    /// the top layer's outputs and the final state. `None` when `runner` does not apply.
    pub(super) fn run_stack<R: DirectionRunner>(
        &self,
        runner: &R,
        input: R::Sequence,
        starts: Vec<TensorState>,
        masks: Masks<'_>,
    ) -> Option<(R::Sequence, RecurrentState)> {
        let dirs = self.directions();
        let mut finals = Vec::with_capacity(self.layers.len());
        let mut starts = starts.into_iter();
        let mut x = input;
        for layer in 0..self.num_layers {
            let mut outputs = Vec::with_capacity(dirs);
            for direction in 0..dirs {
                let index = layer * dirs + direction;
                let weights = self.layers[index].weights();
                let start = starts.next().expect("one start state per layer-direction");
                let [batch, _] = start.h.dims();
                let direction = Direction {
                    reverse: direction == 1,
                    mask: match masks {
                        Masks::Draw => self.recurrent_mask(batch, &start.h.device()),
                        Masks::Given(masks) => Some(masks[index].clone()),
                        Masks::None => None,
                    },
                };
                let (output, last) = runner.run(&weights, &x, start, direction)?;
                finals.push(last);
                outputs.push(output);
            }
            let backward = (dirs == 2).then(|| outputs.pop().expect("two directions"));
            let forward = outputs.pop().expect("one direction");
            x = match backward {
                Some(backward) => R::concat(forward, backward),
                None => forward,
            };
            if layer + 1 < self.num_layers && self.dropout.prob > 0.0 {
                x = R::dropout(&self.dropout, x);
            }
        }
        Some((x, RecurrentState::stack(finals)))
    }

    /// Recurrent dropout's mask for one layer-direction, `[B, P]` (Gal & Ghahramani 2016; Keras's
    /// `recurrent_dropout`): each sequence keeps each unit of the hidden state entering `W_hh`
    /// with probability `1 − p`, scaled by `1/(1 − p)`, for the whole sequence. `None` when not
    /// training (as Burn's `Dropout`: a training module on an autodiff device) or `p = 0`.
    pub(super) fn recurrent_mask(&self, batch: usize, device: &Device) -> Option<Tensor<2>> {
        let dropout = &self.recurrent_dropout;
        if !dropout.training.is_enabled() || !device.is_autodiff() || dropout.prob == 0.0 {
            return None;
        }
        let keep = 1.0 - dropout.prob;
        let shape = [batch, self.d_state()];
        Some(Tensor::random(shape, Distribution::Bernoulli(keep), device) * (1.0 / keep))
    }
}

/// A `[B, T, D]` input as the step-by-step path takes it: one `[B, D]` tensor per step.
pub(super) fn per_step(input: Tensor<3>) -> Vec<Tensor<2>> {
    let [batch, steps, features] = input.dims();
    (0..steps)
        .map(|t| {
            input
                .clone()
                .slice([0..batch, t..t + 1, 0..features])
                .reshape([batch, features])
        })
        .collect()
}
