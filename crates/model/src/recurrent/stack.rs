//! The one layer-stack driver: layers, directions, concatenation and dropout between layers,
//! for any execution path (a `DirectionRunner`: the fused scan or the step-by-step reference).

use burn::tensor::Tensor;

use super::{Recurrent, RecurrentLayer, RecurrentState};
use crate::cells::TensorState;
use crate::drivers::{DirectionRunner, LayerWeights};

impl RecurrentLayer {
    /// The weights as plain tensors for a driver.
    fn weights(&self) -> LayerWeights {
        LayerWeights {
            input: self.input_weight.val(),
            hidden: self.hidden_weight.val(),
            input_bias: self.input_bias.as_ref().map(|b| b.val()),
            hidden_bias: self.hidden_bias.as_ref().map(|b| b.val()),
            projection: self.projection.as_ref().map(|r| r.val()),
        }
    }
}

impl Recurrent {
    /// Runs the stack over `input` from `starts` (one per layer-direction, in PyTorch's order):
    /// the top layer's outputs and the final state. `None` when `runner` does not apply.
    pub(super) fn run_stack<R: DirectionRunner>(
        &self,
        runner: &R,
        input: R::Sequence,
        starts: Vec<TensorState>,
    ) -> Option<(R::Sequence, RecurrentState)> {
        let dirs = self.directions();
        let mut finals = Vec::with_capacity(self.layers.len());
        let mut starts = starts.into_iter();
        let mut x = input;
        for layer in 0..self.num_layers {
            let mut outputs = Vec::with_capacity(dirs);
            for direction in 0..dirs {
                let weights = self.layers[layer * dirs + direction].weights();
                let start = starts.next().expect("one start state per layer-direction");
                let (output, last) = runner.run(&weights, &x, start, direction == 1)?;
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
