//! [`Recurrent`], the stack as a Burn module, and its API: the whole sequence, or one step at a
//! time for streaming.

use burn::module::{Module, Param};
use burn::nn::{Dropout, Initializer};
use burn::tensor::{Device, Tensor};

use super::stack::{Masks, per_step};
use super::state::{StateWidths, check_lengths};
use super::{RecurrentConfig, RecurrentOutput, RecurrentState};
use crate::cells::{CellKind, TensorState};
use crate::drivers::{Fused, StepByStep, StepMasks};
use crate::error::{ModelError, Result, check_shape};

/// The weights of one layer in one direction, stored transposed relative to PyTorch
/// (`input_weight` is `weight_ihᵀ`, `[d_in, gates·H]`) so each step is a plain `x · W`.
#[derive(Module, Debug)]
pub struct RecurrentLayer {
    /// `[d_in, gates·H]`: PyTorch's `weight_ih_l{k}` transposed.
    pub input_weight: Param<Tensor<2>>,
    /// `[P, gates·H]`: PyTorch's `weight_hh_l{k}` transposed (`P = H` unless projected);
    /// `None` for the cells whose gates read only the input (minGRU, minLSTM).
    pub hidden_weight: Option<Param<Tensor<2>>>,
    /// `[gates·H]`: PyTorch's `bias_ih_l{k}`.
    pub input_bias: Option<Param<Tensor<1>>>,
    /// `[gates·H]`: PyTorch's `bias_hh_l{k}` (`None` without `W_hh` too).
    pub hidden_bias: Option<Param<Tensor<1>>>,
    /// `[H, P]`: PyTorch's `weight_hr_l{k}` transposed, for an LSTM with `proj_size = P`.
    pub projection: Option<Param<Tensor<2>>>,
    /// Layer normalisation's gains and bias, when the stack has layer norm.
    pub norm: Option<LayerNorms>,
}

/// One layer-direction's layer normalisation (Ba, Kiros & Hinton 2016), per gate block.
#[derive(Module, Debug)]
pub struct LayerNorms {
    /// `[gates·H]`: the gain of `LN(x_t·W_ihᵀ)` (its bias is the layer's `b_ih`).
    pub input_gain: Param<Tensor<1>>,
    /// `[gates·H]`: the gain of `LN(h_{t-1}·W_hhᵀ)` (its bias is the layer's `b_hh`).
    pub hidden_gain: Param<Tensor<1>>,
    /// `[H]`: the gain and bias of the LSTM's `LN(c_t)` before the output's `tanh`.
    pub cell_gain: Option<Param<Tensor<1>>>,
    pub cell_bias: Option<Param<Tensor<1>>>,
}

impl LayerNorms {
    /// Gains of 1 and biases of 0 for `cell` with `hidden` units.
    pub(crate) fn new(cell: CellKind, hidden: usize, device: &Device) -> Self {
        let width = cell.gates() * hidden;
        let state = cell.has_cell_state();
        LayerNorms {
            input_gain: Initializer::Ones.init([width], device),
            hidden_gain: Initializer::Ones.init([width], device),
            cell_gain: state.then(|| Initializer::Ones.init([hidden], device)),
            cell_bias: state.then(|| Initializer::Zeros.init([hidden], device)),
        }
    }
}

/// A stack of recurrent layers (Elman, LSTM or GRU), optionally bidirectional. Built by
/// [`RecurrentConfig::init`].
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use burn_rnn_model::{CellKind, RecurrentConfig};
///
/// let device = Device::default();
/// let lstm = RecurrentConfig::new(3, 8).with_cell(CellKind::Lstm).init(&device)?;
/// let x = Tensor::<3>::zeros([2, 5, 3], &device); // [B, T, D]
/// let out = lstm.forward(x, None, Some(&[5, 3]))?; // the second sequence is 3 steps long
/// assert_eq!(out.output.dims(), [2, 5, 8]);
/// assert_eq!(out.state.hidden.dims(), [1, 2, 8]);
/// assert!(out.state.cell.is_some());
/// # Ok::<(), burn_rnn_model::ModelError>(())
/// ```
#[derive(Module, Debug)]
pub struct Recurrent {
    /// One entry per layer and direction, in PyTorch's order: `layer · dirs + direction`.
    pub layers: Vec<RecurrentLayer>,
    /// Dropout between layers (active only on an autodiff device in training mode).
    pub dropout: Dropout,
    /// Recurrent dropout: its probability, and whether it is active (as `dropout`).
    pub recurrent_dropout: Dropout,
    /// The cell kind shared by all layers.
    #[module(skip)]
    pub cell: CellKind,
    /// Input features per step (`D`).
    pub d_input: usize,
    /// Hidden units per direction (`H`).
    pub d_hidden: usize,
    /// The projection's size (`P`, LSTM only), or 0 without one.
    pub proj_size: usize,
    /// Number of stacked layers.
    pub num_layers: usize,
    /// Whether each layer runs both directions.
    pub bidirectional: bool,
}

impl Recurrent {
    /// Number of directions (1, or 2 when bidirectional).
    pub fn directions(&self) -> usize {
        if self.bidirectional { 2 } else { 1 }
    }

    /// Width of the hidden state (and of each direction's output): `P` when projected, else
    /// `H`.
    pub fn d_state(&self) -> usize {
        if self.proj_size > 0 {
            self.proj_size
        } else {
            self.d_hidden
        }
    }

    /// Width of each output step, `dirs·P` (`P = H` unless projected).
    pub fn d_output(&self) -> usize {
        self.directions() * self.d_state()
    }

    /// The configuration this stack was built from (dropout and initializer included as far as
    /// they are known: the initializer is not stored, so it is reported as the default).
    pub fn config(&self) -> RecurrentConfig {
        RecurrentConfig::new(self.d_input, self.d_hidden)
            .with_cell(self.cell)
            .with_num_layers(self.num_layers)
            .with_bidirectional(self.bidirectional)
            .with_dropout(self.dropout.prob)
            .with_recurrent_dropout(self.recurrent_dropout.prob)
            .with_bias(self.layers[0].input_bias.is_some())
            .with_proj_size(self.proj_size)
            .with_layer_norm(self.layers[0].norm.is_some())
    }

    /// Runs the whole sequence.
    ///
    /// - `input`: `[B, T, D]` (batch first).
    /// - `state`: optional initial state, `[layers·dirs, B, P]` (and the cell state
    ///   `[layers·dirs, B, H]` for LSTM; `P = H` unless projected); zeros when `None`.
    /// - `lengths`: optional true length of each sequence (`1..=T`); steps past a sequence's
    ///   length are padding: they output zeros and do not change its state.
    ///
    /// Returns the output `[B, T, dirs·P]` and the final state `[layers·dirs, B, P]` (and
    /// `[layers·dirs, B, H]`).
    ///
    /// While training (an autodiff device, the module not `valid()`), recurrent dropout draws
    /// one mask per sequence and layer-direction for all its steps.
    pub fn forward(
        &self,
        input: Tensor<3>,
        state: Option<RecurrentState>,
        lengths: Option<&[usize]>,
    ) -> Result<RecurrentOutput> {
        self.run(input, state, lengths, Masks::Draw)
    }

    /// As [`forward`](Self::forward), with recurrent dropout's masks given rather than drawn,
    /// in training and inference alike: one `[B, P]` tensor per layer-direction (PyTorch's
    /// order), 0 for a dropped unit and `1/(1 − p)` for a kept one, as
    /// [`recurrent_masks`](Self::recurrent_masks) draws them. For Monte-Carlo dropout at
    /// inference (Gal & Ghahramani), or to repeat a pass exactly.
    pub fn forward_with_masks(
        &self,
        input: Tensor<3>,
        state: Option<RecurrentState>,
        lengths: Option<&[usize]>,
        masks: &[Tensor<2>],
    ) -> Result<RecurrentOutput> {
        let [batch, _, _] = input.dims();
        self.check_masks(masks, batch)?;
        self.run(input, state, lengths, Masks::Given(masks))
    }

    /// Recurrent dropout's masks for a batch of `batch` sequences, one `[B, P]` per
    /// layer-direction, drawn as [`forward`](Self::forward) draws them while training; `None`
    /// when it would draw none (no recurrent dropout, or not training).
    pub fn recurrent_masks(&self, batch: usize, device: &Device) -> Option<Vec<Tensor<2>>> {
        (0..self.layers.len())
            .map(|_| self.recurrent_mask(batch, device))
            .collect()
    }

    /// The same computation as [`forward`](Self::forward) (or, with `masks`, as
    /// [`forward_with_masks`](Self::forward_with_masks)), written step by step and
    /// differentiated by Burn's autodiff op by op. `forward` uses it only on backends without
    /// the fused recurrence; it is kept public as the reference the fused path is tested against.
    pub fn forward_step_by_step(
        &self,
        input: Tensor<3>,
        state: Option<RecurrentState>,
        lengths: Option<&[usize]>,
        masks: Option<&[Tensor<2>]>,
    ) -> Result<RecurrentOutput> {
        let [batch, _, _] = self.check_input(&input, lengths)?;
        let masks = match masks {
            Some(masks) => {
                self.check_masks(masks, batch)?;
                Masks::Given(masks)
            }
            None => Masks::Draw,
        };
        let starts = self.start_states(state, batch, &input.device())?;
        Ok(self.run_step_by_step(input, starts, lengths, masks))
    }

    /// The fused path (the step-by-step one where it does not apply) with `masks`.
    fn run(
        &self,
        input: Tensor<3>,
        state: Option<RecurrentState>,
        lengths: Option<&[usize]>,
        masks: Masks<'_>,
    ) -> Result<RecurrentOutput> {
        let [batch, steps, _] = self.check_input(&input, lengths)?;
        let device = input.device();
        let starts = self.start_states(state, batch, &device)?;
        let fused = Fused::new(self.cell, lengths, steps, &device);
        let time_major = input.clone().swap_dims(0, 1);
        if let Some((output, state)) = self.run_stack(&fused, time_major, starts.clone(), masks) {
            let output = output.swap_dims(0, 1);
            return Ok(RecurrentOutput { output, state });
        }
        Ok(self.run_step_by_step(input, starts, lengths, masks))
    }

    /// Checks recurrent dropout's `masks` for a batch of `batch`: one `[B, P]` per
    /// layer-direction.
    fn check_masks(&self, masks: &[Tensor<2>], batch: usize) -> Result<()> {
        if !self.cell.has_hidden_weight() {
            return Err(ModelError::Unsupported(format!(
                "{} has no W_hh for recurrent dropout masks to scale the state entering",
                self.cell.name()
            )));
        }
        if masks.len() != self.layers.len() {
            return Err(ModelError::Unsupported(format!(
                "{} recurrent dropout masks for {} layer-directions: pass one per layer-direction",
                masks.len(),
                self.layers.len()
            )));
        }
        for (i, mask) in masks.iter().enumerate() {
            let expected = [Some(batch), Some(self.d_state())];
            check_shape(
                &format!("recurrent dropout mask {i}"),
                &mask.dims(),
                &expected,
            )?;
        }
        Ok(())
    }

    /// Feeds one time step, for streaming inference: `input` is `[B, D]`, the result is the
    /// output `[B, P]` and the state to pass to the next call. Gives the same numbers as
    /// [`forward`](Self::forward) over the whole sequence. Unidirectional stacks only. No
    /// recurrent dropout (its one mask per sequence does not outlive a call). minGRU and minLSTM
    /// step in the paper's sequential form, `h_t = a_t ⊙ h_{t-1} + b_t`, where `forward` runs
    /// the parallel scan.
    pub fn step(
        &self,
        input: Tensor<2>,
        state: Option<RecurrentState>,
    ) -> Result<(Tensor<2>, RecurrentState)> {
        if self.bidirectional {
            return Err(ModelError::Unsupported(
                "streaming one step at a time needs the future for the reverse direction; \
                 use forward() with a bidirectional network"
                    .into(),
            ));
        }
        let [batch, features] = input.dims();
        check_shape("input", &[batch, features], &[None, Some(self.d_input)])?;
        let device = input.device();
        let starts = self.start_states(state, batch, &device)?;
        // minGRU and minLSTM stream their sequential form: a scan over one step is only slower.
        if self.cell.has_hidden_weight() {
            let fused = Fused::new(self.cell, None, 1, &device);
            let one_step = input.clone().unsqueeze_dim(0);
            let starts = starts.clone();
            if let Some((output, state)) = self.run_stack(&fused, one_step, starts, Masks::None) {
                return Ok((output.reshape([batch, self.d_output()]), state));
            }
        }
        let reference = StepByStep {
            cell: self.cell,
            masks: None,
        };
        let (mut outputs, state) = self
            .run_stack(&reference, vec![input], starts, Masks::None)
            .expect("the step-by-step path runs on every backend");
        Ok((outputs.remove(0), state))
    }

    /// The zero state for a batch of `batch` sequences.
    pub fn zero_state(&self, batch: usize, device: &Device) -> RecurrentState {
        let count = self.layers.len();
        RecurrentState {
            hidden: Tensor::zeros([count, batch, self.d_state()], device),
            cell: self
                .cell
                .has_cell_state()
                .then(|| Tensor::zeros([count, batch, self.d_hidden], device)),
        }
    }

    /// The top layer's final hidden state, directions side by side: `[B, dirs·P]`. For the
    /// forward direction this is the output at each sequence's last valid step.
    pub fn last_hidden(&self, state: &RecurrentState) -> Tensor<2> {
        let dirs = self.directions();
        let [_, batch, hidden] = state.hidden.dims();
        let top = (self.num_layers - 1) * dirs;
        state
            .hidden
            .clone()
            .slice([top..top + dirs, 0..batch, 0..hidden])
            .swap_dims(0, 1)
            .reshape([batch, dirs * hidden])
    }

    /// Checks the input `[B, T, D]` and the lengths; returns the input's dimensions.
    fn check_input(&self, input: &Tensor<3>, lengths: Option<&[usize]>) -> Result<[usize; 3]> {
        let [batch, steps, features] = input.dims();
        check_shape(
            "input",
            &[batch, steps, features],
            &[None, None, Some(self.d_input)],
        )?;
        if batch == 0 || steps == 0 {
            return Err(ModelError::Shape {
                tensor: "input".into(),
                expected: format!("[batch ≥ 1, time ≥ 1, {}]", self.d_input),
                actual: vec![batch, steps, features],
            });
        }
        if let Some(lengths) = lengths {
            check_lengths(lengths, batch, steps)?;
        }
        self.check_checkpointing(input)?;
        Ok([batch, steps, features])
    }

    /// An input with another gradient checkpointing strategy than the weights' would stop in
    /// the first operation that mixes them: burn's devices that differ only there compare
    /// equal, so `fork` and `to_device` do not move a module between them.
    fn check_checkpointing(&self, input: &Tensor<3>) -> Result<()> {
        #[cfg(feature = "autodiff")]
        if let Some(layer) = self.layers.first() {
            let ours = layer.input_weight.val().device();
            let (ours, theirs) = (
                ours.gradient_checkpointing_strategy(),
                input.device().gradient_checkpointing_strategy(),
            );
            if let (Some(ours), Some(theirs)) = (ours, theirs)
                && ours != theirs
            {
                return Err(ModelError::Unsupported(format!(
                    "the input's gradient checkpointing ({theirs:?}) is not the model's \
                     ({ours:?}); burn's `fork` and `to_device` keep a module's, so make the \
                     model on the device it trains on"
                )));
            }
        }
        let _ = input;
        Ok(())
    }

    /// The start state of every layer-direction: `state` checked and split, or zeros.
    fn start_states(
        &self,
        state: Option<RecurrentState>,
        batch: usize,
        device: &Device,
    ) -> Result<Vec<TensorState>> {
        let widths = StateWidths {
            hidden: self.d_state(),
            cell: self.d_hidden,
        };
        let count = self.layers.len();
        match state {
            Some(state) => state.split(self.cell, count, batch, widths),
            None => Ok(RecurrentState::zero_starts(
                self.cell, count, batch, widths, device,
            )),
        }
    }

    /// The step-by-step path of [`forward_step_by_step`](Self::forward_step_by_step).
    fn run_step_by_step(
        &self,
        input: Tensor<3>,
        starts: Vec<TensorState>,
        lengths: Option<&[usize]>,
        masks: Masks<'_>,
    ) -> RecurrentOutput {
        let [_, steps, _] = input.dims();
        let device = input.device();
        let reference = StepByStep {
            cell: self.cell,
            masks: lengths.and_then(|lengths| StepMasks::new(lengths, steps, &device)),
        };
        let (outputs, state) = self
            .run_stack(&reference, per_step(input), starts, masks)
            .expect("the step-by-step path runs on every backend");
        RecurrentOutput {
            output: Tensor::stack(outputs, 1),
            state,
        }
    }
}
