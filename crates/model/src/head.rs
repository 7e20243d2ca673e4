//! The sequence model: a recurrent stack plus the output head `y_t = W_o·h_t + b_o`.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor};

use crate::error::{ModelError, Result};
use crate::recurrent::{Recurrent, RecurrentConfig, RecurrentState};

/// Configuration of a [`SequenceModel`]: the recurrent stack and the number of outputs `K`.
#[derive(Config, Debug)]
pub struct SequenceModelConfig {
    /// The recurrent stack.
    pub recurrent: RecurrentConfig,
    /// Outputs per prediction (`K`): values for regression, classes (logits) for classification.
    pub d_output: usize,
}

impl SequenceModelConfig {
    /// Builds the model on `device`, rejecting invalid values with a clear error.
    pub fn init(&self, device: &Device) -> Result<SequenceModel> {
        if self.d_output == 0 {
            return Err(ModelError::InvalidConfig(
                "d_output must be at least 1".into(),
            ));
        }
        let recurrent = self.recurrent.init(device)?;
        // burn's Linear default initializer is PyTorch's nn.Linear one: U(−1/√in, 1/√in).
        let head = LinearConfig::new(recurrent.d_output(), self.d_output).init(device);
        Ok(SequenceModel { recurrent, head })
    }
}

/// A recurrent stack with a linear head, usable many-to-one (one prediction per sequence, from
/// its last valid step) and many-to-many (a prediction at every step).
#[derive(Module, Debug)]
pub struct SequenceModel {
    /// The recurrent layers.
    pub recurrent: Recurrent,
    /// The output head, `[dirs·H] → [K]`.
    pub head: Linear,
}

impl SequenceModel {
    /// Outputs per prediction (`K`).
    pub fn d_output(&self) -> usize {
        self.head.weight.dims()[1]
    }

    /// The configuration this model was built from.
    pub fn config(&self) -> SequenceModelConfig {
        SequenceModelConfig::new(self.recurrent.config(), self.d_output())
    }

    /// Many-to-one: `input` `[B, T, D]` (with optional `lengths`) → `[B, K]`, computed from the
    /// top layer's final state (each sequence's own last valid step; for a bidirectional stack,
    /// the forward direction's last step beside the reverse direction's pass down to step 0).
    pub fn forward_many_to_one(
        &self,
        input: Tensor<3>,
        lengths: Option<&[usize]>,
    ) -> Result<Tensor<2>> {
        Ok(self.forward_many_to_one_from(input, None, lengths)?.0)
    }

    /// Many-to-many: `input` `[B, T, D]` → `[B, T, K]`, a prediction at every step. At padded
    /// steps the hidden output is zero, so the prediction there is just `b_o`: mask the loss.
    pub fn forward_many_to_many(
        &self,
        input: Tensor<3>,
        lengths: Option<&[usize]>,
    ) -> Result<Tensor<3>> {
        Ok(self.forward_many_to_many_from(input, None, lengths)?.0)
    }

    /// [`forward_many_to_one`](Self::forward_many_to_one) from a given initial `state`
    /// (zeros when `None`), also returning the final state: what stateful training carries from
    /// one window of a long series to the next.
    pub fn forward_many_to_one_from(
        &self,
        input: Tensor<3>,
        state: Option<RecurrentState>,
        lengths: Option<&[usize]>,
    ) -> Result<(Tensor<2>, RecurrentState)> {
        let out = self.recurrent.forward(input, state, lengths)?;
        let prediction = self.head.forward(self.recurrent.last_hidden(&out.state));
        Ok((prediction, out.state))
    }

    /// [`forward_many_to_many`](Self::forward_many_to_many) from a given initial `state`
    /// (zeros when `None`), also returning the final state.
    pub fn forward_many_to_many_from(
        &self,
        input: Tensor<3>,
        state: Option<RecurrentState>,
        lengths: Option<&[usize]>,
    ) -> Result<(Tensor<3>, RecurrentState)> {
        let out = self.recurrent.forward(input, state, lengths)?;
        Ok((self.head.forward(out.output), out.state))
    }

    /// Streaming: one step `[B, D]` → prediction `[B, K]` and the state for the next call.
    pub fn step(
        &self,
        input: Tensor<2>,
        state: Option<RecurrentState>,
    ) -> Result<(Tensor<2>, RecurrentState)> {
        let (hidden, state) = self.recurrent.step(input, state)?;
        Ok((self.head.forward(hidden), state))
    }
}
