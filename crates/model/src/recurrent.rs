//! The recurrent stack: layers, directions, masks and the time loop shared by every cell.
//!
//! Semantics are PyTorch's `nn.RNN/LSTM/GRU(batch_first=True)`: input `[B, T, D]`, output
//! `[B, T, dirs·H]`, final state `[layers·dirs, B, H]`; with `lengths`, padded steps leave the
//! state untouched and output zeros, as `pack_padded_sequence` does.
//!
//! Two paths compute the same numbers. [`Recurrent::forward`] projects each layer's input for all
//! steps with one product and runs each layer-direction as one fused scan (`fused.rs`: one
//! autodiff operation with a hand-written backward pass; native loops on flex, `native/`).
//! [`Recurrent::forward_step_by_step`] is the reference: a loop over steps that Burn
//! differentiates op by op; `forward` falls back to it on backends the fused scan does not
//! cover. There, slicing a big `[B, T, ·]` tensor once per step would cost a full-size gradient
//! per step in the backward pass, so only the (small) input is sliced; every layer above reads
//! the previous layer's per-step tensors directly, and outputs are stacked once at the end.

use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::{Dropout, DropoutConfig, Initializer};
use burn::tensor::{Device, Tensor, TensorData};

use crate::cell::CellKind;
use crate::error::{ModelError, Result, check_shape};
use crate::fused;
use crate::scan::{ScanInputs, ScanSpec};

/// Configuration of a [`Recurrent`] stack. Build with `RecurrentConfig::new(d_input, d_hidden)`
/// and the `with_*` setters, then [`RecurrentConfig::init`].
#[derive(Config, Debug)]
pub struct RecurrentConfig {
    /// Number of input features per time step (`D`).
    pub d_input: usize,
    /// Number of hidden units per direction (`H`, "M" in the design notes).
    pub d_hidden: usize,
    /// The cell: Elman (tanh, relu or sigmoid), LSTM or GRU.
    #[config(default = "CellKind::Elman(crate::cell::ElmanActivation::Tanh)")]
    pub cell: CellKind,
    /// Stacked layers; layer `k > 0` reads the outputs of layer `k − 1`.
    #[config(default = 1)]
    pub num_layers: usize,
    /// Run a second, time-reversed direction and concatenate the two (`dirs = 2`).
    #[config(default = false)]
    pub bidirectional: bool,
    /// Dropout probability on the outputs of every layer but the last, during training only.
    #[config(default = 0.0)]
    pub dropout: f64,
    /// Whether the cell has the biases `b_ih` and `b_hh`.
    #[config(default = true)]
    pub bias: bool,
    /// Weight initializer; `None` is PyTorch's `U(−1/√H, 1/√H)` for every weight and bias.
    #[config(default = "None")]
    pub initializer: Option<Initializer>,
}

impl RecurrentConfig {
    /// Checks every value, naming the one at fault.
    pub fn validate(&self) -> Result<()> {
        let bad = |msg: String| Err(ModelError::InvalidConfig(msg));
        if self.d_input == 0 {
            return bad("d_input must be at least 1".into());
        }
        if self.d_hidden == 0 {
            return bad("d_hidden must be at least 1".into());
        }
        if self.num_layers == 0 {
            return bad("num_layers must be at least 1".into());
        }
        if !self.dropout.is_finite() || !(0.0..1.0).contains(&self.dropout) {
            return bad(format!("dropout must be in [0, 1), got {}", self.dropout));
        }
        Ok(())
    }

    /// Number of directions (1, or 2 when bidirectional).
    pub fn directions(&self) -> usize {
        if self.bidirectional { 2 } else { 1 }
    }

    /// Builds the stack on `device` after [`validate`](Self::validate).
    pub fn init(&self, device: &Device) -> Result<Recurrent> {
        self.validate()?;
        let gates_hidden = self.cell.gates() * self.d_hidden;
        let bound = 1.0 / (self.d_hidden as f64).sqrt();
        let init = self.initializer.clone().unwrap_or(Initializer::Uniform {
            min: -bound,
            max: bound,
        });
        let dirs = self.directions();
        let mut layers = Vec::with_capacity(self.num_layers * dirs);
        for layer in 0..self.num_layers {
            let d_in = if layer == 0 {
                self.d_input
            } else {
                dirs * self.d_hidden
            };
            for _ in 0..dirs {
                let bias = || {
                    init.init_with(
                        [gates_hidden],
                        Some(self.d_hidden),
                        Some(gates_hidden),
                        device,
                    )
                };
                layers.push(RecurrentLayer {
                    input_weight: init.init_with(
                        [d_in, gates_hidden],
                        Some(d_in),
                        Some(gates_hidden),
                        device,
                    ),
                    hidden_weight: init.init_with(
                        [self.d_hidden, gates_hidden],
                        Some(self.d_hidden),
                        Some(gates_hidden),
                        device,
                    ),
                    input_bias: self.bias.then(bias),
                    hidden_bias: self.bias.then(bias),
                });
            }
        }
        Ok(Recurrent {
            layers,
            dropout: DropoutConfig::new(self.dropout).init(),
            cell: self.cell,
            d_input: self.d_input,
            d_hidden: self.d_hidden,
            num_layers: self.num_layers,
            bidirectional: self.bidirectional,
        })
    }
}

/// The weights of one layer in one direction, stored transposed relative to PyTorch
/// (`input_weight` is `weight_ihᵀ`, `[d_in, gates·H]`) so each step is a plain `x · W`.
#[derive(Module, Debug)]
pub struct RecurrentLayer {
    /// `[d_in, gates·H]`: PyTorch's `weight_ih_l{k}` transposed.
    pub input_weight: Param<Tensor<2>>,
    /// `[H, gates·H]`: PyTorch's `weight_hh_l{k}` transposed.
    pub hidden_weight: Param<Tensor<2>>,
    /// `[gates·H]`: PyTorch's `bias_ih_l{k}`.
    pub input_bias: Option<Param<Tensor<1>>>,
    /// `[gates·H]`: PyTorch's `bias_hh_l{k}`.
    pub hidden_bias: Option<Param<Tensor<1>>>,
}

/// A stack of recurrent layers (Elman, LSTM or GRU), optionally bidirectional.
#[derive(Module, Debug)]
pub struct Recurrent {
    /// One entry per layer and direction, in PyTorch's order: `layer · dirs + direction`.
    pub layers: Vec<RecurrentLayer>,
    /// Dropout between layers (active only on an autodiff device in training mode).
    pub dropout: Dropout,
    /// The cell kind shared by all layers.
    #[module(skip)]
    pub cell: CellKind,
    /// Input features per step (`D`).
    pub d_input: usize,
    /// Hidden units per direction (`H`).
    pub d_hidden: usize,
    /// Number of stacked layers.
    pub num_layers: usize,
    /// Whether each layer runs both directions.
    pub bidirectional: bool,
}

/// The recurrent state of a whole stack, laid out as PyTorch's `h_n` / `c_n`.
#[derive(Clone, Debug)]
pub struct RecurrentState {
    /// `[layers·dirs, B, H]`.
    pub hidden: Tensor<3>,
    /// `[layers·dirs, B, H]`, LSTM only.
    pub cell: Option<Tensor<3>>,
}

/// What [`Recurrent::forward`] returns.
#[derive(Clone, Debug)]
pub struct RecurrentOutput {
    /// Top layer's output at every step, `[B, T, dirs·H]`; zero at padded steps.
    pub output: Tensor<3>,
    /// Final state of every layer and direction (each sequence's own last valid step).
    pub state: RecurrentState,
}

/// Per-step float masks built from lengths: `valid[t]` is 1 where step `t` is real, `padded[t]`
/// its complement; both `[B, 1]` and constant (no gradient).
struct StepMasks {
    valid: Vec<Tensor<2>>,
    padded: Vec<Tensor<2>>,
}

impl StepMasks {
    /// `None` when every sequence uses the full time axis (nothing to mask).
    fn new(lengths: &[usize], steps: usize, device: &Device) -> Option<Self> {
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

/// One layer-direction's starting state, `[B, H]` each.
#[derive(Clone)]
struct StartState {
    hidden: Tensor<2>,
    cell: Option<Tensor<2>>,
}

impl Recurrent {
    /// Number of directions (1, or 2 when bidirectional).
    pub fn directions(&self) -> usize {
        if self.bidirectional { 2 } else { 1 }
    }

    /// Width of each output step, `dirs·H`.
    pub fn d_output(&self) -> usize {
        self.directions() * self.d_hidden
    }

    /// The configuration this stack was built from (dropout and initializer included as far as
    /// they are known: the initializer is not stored, so it is reported as the default).
    pub fn config(&self) -> RecurrentConfig {
        RecurrentConfig::new(self.d_input, self.d_hidden)
            .with_cell(self.cell)
            .with_num_layers(self.num_layers)
            .with_bidirectional(self.bidirectional)
            .with_dropout(self.dropout.prob)
            .with_bias(self.layers[0].input_bias.is_some())
    }

    /// Runs the whole sequence.
    ///
    /// - `input`: `[B, T, D]` (batch first).
    /// - `state`: optional initial state, `[layers·dirs, B, H]` (and the cell state for LSTM);
    ///   zeros when `None`.
    /// - `lengths`: optional true length of each sequence (`1..=T`); steps past a sequence's
    ///   length are padding: they output zeros and do not change its state.
    ///
    /// Returns the output `[B, T, dirs·H]` and the final state `[layers·dirs, B, H]`.
    pub fn forward(
        &self,
        input: Tensor<3>,
        state: Option<RecurrentState>,
        lengths: Option<&[usize]>,
    ) -> Result<RecurrentOutput> {
        let [batch, _, _] = self.check_input(&input, lengths)?;
        let starts = self.start_states(state, batch, &input.device())?;
        if let Some(out) = self.run_fused(input.clone(), &starts, lengths) {
            return Ok(out);
        }
        Ok(self.run_step_by_step(input, starts, lengths))
    }

    /// The same computation as [`forward`](Self::forward), written step by step and
    /// differentiated by Burn's autodiff op by op. `forward` uses it only on backends without
    /// the fused recurrence; it is kept public as the reference the fused path is tested against.
    pub fn forward_step_by_step(
        &self,
        input: Tensor<3>,
        state: Option<RecurrentState>,
        lengths: Option<&[usize]>,
    ) -> Result<RecurrentOutput> {
        let [batch, _, _] = self.check_input(&input, lengths)?;
        let starts = self.start_states(state, batch, &input.device())?;
        Ok(self.run_step_by_step(input, starts, lengths))
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
        Ok([batch, steps, features])
    }

    /// The step-by-step path of [`forward_step_by_step`](Self::forward_step_by_step).
    fn run_step_by_step(
        &self,
        input: Tensor<3>,
        starts: Vec<StartState>,
        lengths: Option<&[usize]>,
    ) -> RecurrentOutput {
        let [batch, steps, features] = input.dims();
        let masks = lengths.and_then(|lengths| StepMasks::new(lengths, steps, &input.device()));
        let inputs: Vec<Tensor<2>> = (0..steps)
            .map(|t| {
                input
                    .clone()
                    .slice([0..batch, t..t + 1, 0..features])
                    .reshape([batch, features])
            })
            .collect();
        let (outputs, state) = self.run(inputs, starts, masks.as_ref());
        RecurrentOutput {
            output: Tensor::stack(outputs, 1),
            state,
        }
    }

    /// Feeds one time step, for streaming inference: `input` is `[B, D]`, the result is the
    /// output `[B, H]` and the state to pass to the next call. Gives the same numbers as
    /// [`forward`](Self::forward) over the whole sequence. Unidirectional stacks only.
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
        let starts = self.start_states(state, batch, &input.device())?;
        if let Some(out) = self.run_fused(input.clone().unsqueeze_dim(1), &starts, None) {
            let [_, _, width] = out.output.dims();
            return Ok((out.output.reshape([batch, width]), out.state));
        }
        let (mut outputs, state) = self.run(vec![input], starts, None);
        Ok((outputs.remove(0), state))
    }

    /// The zero state for a batch of `batch` sequences.
    pub fn zero_state(&self, batch: usize, device: &Device) -> RecurrentState {
        let shape = [self.layers.len(), batch, self.d_hidden];
        RecurrentState {
            hidden: Tensor::zeros(shape, device),
            cell: self
                .cell
                .has_cell_state()
                .then(|| Tensor::zeros(shape, device)),
        }
    }

    /// The top layer's final hidden state, directions side by side: `[B, dirs·H]`. For the
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

    /// Checks the initial state and splits it per layer-direction (zeros when absent).
    fn start_states(
        &self,
        state: Option<RecurrentState>,
        batch: usize,
        device: &Device,
    ) -> Result<Vec<StartState>> {
        let count = self.layers.len();
        let hidden = self.d_hidden;
        let Some(state) = state else {
            return Ok((0..count)
                .map(|_| StartState {
                    hidden: Tensor::zeros([batch, hidden], device),
                    cell: self
                        .cell
                        .has_cell_state()
                        .then(|| Tensor::zeros([batch, hidden], device)),
                })
                .collect());
        };
        let expected = [Some(count), Some(batch), Some(hidden)];
        check_shape("initial hidden state", &state.hidden.dims(), &expected)?;
        match (&state.cell, self.cell.has_cell_state()) {
            (Some(cell), true) => check_shape("initial cell state", &cell.dims(), &expected)?,
            (None, true) => {
                return Err(ModelError::Unsupported(
                    "an LSTM initial state needs both the hidden and the cell state".into(),
                ));
            }
            (Some(_), false) => {
                return Err(ModelError::Unsupported(format!(
                    "a {} has no cell state; pass only the hidden state",
                    self.cell.name()
                )));
            }
            (None, false) => {}
        }
        let split = |t: Tensor<3>| -> Vec<Tensor<2>> {
            (0..count)
                .map(|i| {
                    t.clone()
                        .slice([i..i + 1, 0..batch, 0..hidden])
                        .reshape([batch, hidden])
                })
                .collect()
        };
        let hiddens = split(state.hidden);
        let mut cells = state.cell.map(split).map(Vec::into_iter);
        Ok(hiddens
            .into_iter()
            .map(|hidden| StartState {
                hidden,
                cell: cells.as_mut().and_then(Iterator::next),
            })
            .collect())
    }

    /// The stack with one fused scan per layer-direction (see `fused.rs`), time-major inside;
    /// `None` on an autodiff backend the fused scan does not cover.
    fn run_fused(
        &self,
        input: Tensor<3>,
        starts: &[StartState],
        lengths: Option<&[usize]>,
    ) -> Option<RecurrentOutput> {
        let [batch, steps, _] = input.dims();
        let device = input.device();
        let valid = lengths
            .filter(|lengths| lengths.iter().any(|&len| len != steps))
            .map(|lengths| valid_steps(lengths, steps, &device));
        let dirs = self.directions();
        let hidden = self.d_hidden;
        let mut x = input.swap_dims(0, 1);
        let mut finals = Vec::with_capacity(self.layers.len());
        let mut final_cells = Vec::with_capacity(self.layers.len());
        for layer in 0..self.num_layers {
            let mut outputs = Vec::with_capacity(dirs);
            for direction in 0..dirs {
                let index = layer * dirs + direction;
                let start = &starts[index];
                let spec = ScanSpec {
                    cell: self.cell,
                    reverse: direction == 1,
                    valid: valid.clone(),
                };
                let inputs = self.scan_inputs(&self.layers[index], x.clone(), start, &device);
                let y = fused::scan(&spec, &inputs)?;
                let row = |i: usize| {
                    y.clone()
                        .slice([i..i + 1, 0..batch, 0..hidden])
                        .reshape([batch, hidden])
                };
                finals.push(row(steps));
                if self.cell.has_cell_state() {
                    final_cells.push(row(steps + 1));
                }
                outputs.push(y.slice([0..steps, 0..batch, 0..hidden]));
            }
            x = if dirs == 1 {
                outputs.pop().expect("one direction")
            } else {
                Tensor::cat(outputs, 2)
            };
            if layer + 1 < self.num_layers && self.dropout.prob > 0.0 {
                x = self.dropout.forward(x);
            }
        }
        Some(RecurrentOutput {
            output: x.swap_dims(0, 1),
            state: RecurrentState {
                hidden: Tensor::stack(finals, 0),
                cell: (!final_cells.is_empty()).then(|| Tensor::stack(final_cells, 0)),
            },
        })
    }

    /// A scan's inputs for one layer-direction: the input projection of all steps as one
    /// product, `x` being `[T, B, d_in]`.
    fn scan_inputs(
        &self,
        weights: &RecurrentLayer,
        x: Tensor<3>,
        start: &StartState,
        device: &Device,
    ) -> ScanInputs {
        let [steps, batch, d_in] = x.dims();
        let gates_hidden = self.cell.gates() * self.d_hidden;
        let input_bias = weights.input_bias.as_ref().map(|b| b.val());
        let hidden_bias = weights.hidden_bias.as_ref().map(|b| b.val());
        // Elman and LSTM only ever use b_ih + b_hh: the scan adds the sum inside its step. GRU
        // keeps b_ih in the projection and b_hh inside the step.
        let (input_bias, step_bias) = if self.cell.separate_biases() {
            (input_bias, hidden_bias)
        } else {
            (None, summed(input_bias, hidden_bias))
        };
        let mut xp = project(x.reshape([steps * batch, d_in]), weights.input_weight.val());
        if let Some(b) = input_bias {
            xp = xp + b.unsqueeze::<2>();
        }
        ScanInputs {
            xp: xp.reshape([steps, batch, gates_hidden]),
            w: weights.hidden_weight.val(),
            bias: step_bias.unwrap_or_else(|| Tensor::zeros([gates_hidden], device)),
            h0: start.hidden.clone(),
            c0: start
                .cell
                .clone()
                .unwrap_or_else(|| Tensor::zeros([batch, self.d_hidden], device)),
        }
    }

    /// The stack over per-step inputs: returns the top layer's per-step outputs and the state.
    fn run(
        &self,
        mut inputs: Vec<Tensor<2>>,
        starts: Vec<StartState>,
        masks: Option<&StepMasks>,
    ) -> (Vec<Tensor<2>>, RecurrentState) {
        let dirs = self.directions();
        let mut hiddens = Vec::with_capacity(self.layers.len());
        let mut cells = Vec::with_capacity(self.layers.len());
        let mut starts = starts.into_iter();
        for layer in 0..self.num_layers {
            let mut per_direction = Vec::with_capacity(dirs);
            for direction in 0..dirs {
                let weights = &self.layers[layer * dirs + direction];
                let start = starts.next().expect("one start state per layer-direction");
                let (outputs, hidden, cell) =
                    self.run_direction(weights, &inputs, start, masks, direction == 1);
                hiddens.push(hidden);
                cells.extend(cell);
                per_direction.push(outputs);
            }
            inputs = if dirs == 1 {
                per_direction.pop().expect("one direction")
            } else {
                let backward = per_direction.pop().expect("two directions");
                let forward = per_direction.pop().expect("two directions");
                forward
                    .into_iter()
                    .zip(backward)
                    .map(|(f, b)| Tensor::cat(vec![f, b], 1))
                    .collect()
            };
            if layer + 1 < self.num_layers && self.dropout.prob > 0.0 {
                inputs = inputs
                    .into_iter()
                    .map(|x| self.dropout.forward(x))
                    .collect();
            }
        }
        let state = RecurrentState {
            hidden: Tensor::stack(hiddens, 0),
            cell: (!cells.is_empty()).then(|| Tensor::stack(cells, 0)),
        };
        (inputs, state)
    }

    /// The one time loop: runs a layer-direction over all steps (backwards when `reverse`) and
    /// returns its per-step outputs in time order and its final hidden (and cell) state.
    fn run_direction(
        &self,
        weights: &RecurrentLayer,
        inputs: &[Tensor<2>],
        start: StartState,
        masks: Option<&StepMasks>,
        reverse: bool,
    ) -> (Vec<Tensor<2>>, Tensor<2>, Option<Tensor<2>>) {
        let input_weight = weights.input_weight.val();
        let hidden_weight = weights.hidden_weight.val();
        let input_bias = weights.input_bias.as_ref().map(|b| b.val());
        let hidden_bias = weights.hidden_bias.as_ref().map(|b| b.val());
        // Elman and LSTM only ever use b_ih + b_hh: add them once, not once per step.
        let (input_bias, hidden_bias) = if self.cell.separate_biases() {
            (input_bias, hidden_bias)
        } else {
            (summed(input_bias, hidden_bias), None)
        };
        let input_bias = input_bias.map(|b| b.unsqueeze::<2>());
        let hidden_bias = hidden_bias.map(|b| b.unsqueeze::<2>());

        let steps = inputs.len();
        let mut outputs: Vec<Option<Tensor<2>>> = vec![None; steps];
        let StartState {
            mut hidden,
            mut cell,
        } = start;
        for i in 0..steps {
            let t = if reverse { steps - 1 - i } else { i };
            let mut input_part = inputs[t].clone().matmul(input_weight.clone());
            if let Some(b) = &input_bias {
                input_part = input_part + b.clone();
            }
            let mut hidden_part = hidden.clone().matmul(hidden_weight.clone());
            if let Some(b) = &hidden_bias {
                hidden_part = hidden_part + b.clone();
            }
            let (new_hidden, new_cell) =
                self.cell
                    .step(input_part, hidden_part, hidden.clone(), cell.clone());
            match masks {
                None => {
                    hidden = new_hidden;
                    cell = new_cell;
                    outputs[t] = Some(hidden.clone());
                }
                Some(masks) => {
                    let (valid, padded) = (&masks.valid[t], &masks.padded[t]);
                    let output = new_hidden * valid.clone();
                    hidden = output.clone() + hidden * padded.clone();
                    cell = match (new_cell, cell) {
                        (Some(new), Some(old)) => Some(new * valid.clone() + old * padded.clone()),
                        _ => None,
                    };
                    outputs[t] = Some(output);
                }
            }
        }
        let outputs = outputs
            .into_iter()
            .map(|o| o.expect("every step visited"))
            .collect();
        (outputs, hidden, cell)
    }
}

/// `x · w`: on plain `f32` flex tensors (inference) through the native product, which skips
/// the zero-fill and realigning copy that flex gives every new tensor; elsewhere `matmul`.
fn project(x: Tensor<2>, w: Tensor<2>) -> Tensor<2> {
    #[cfg(feature = "flex")]
    if let Some(xp) = crate::native::project(&x, &w) {
        return xp;
    }
    x.matmul(w)
}

/// `b_ih + b_hh` (or whichever exists): Elman and LSTM only ever use the two biases summed.
fn summed(input_bias: Option<Tensor<1>>, hidden_bias: Option<Tensor<1>>) -> Option<Tensor<1>> {
    match (input_bias, hidden_bias) {
        (Some(a), Some(b)) => Some(a + b),
        (a, b) => a.or(b),
    }
}

/// `[T, B, 1]`: 1 where step `t` of sequence `b` is real, 0 where it is padding (constant).
fn valid_steps(lengths: &[usize], steps: usize, device: &Device) -> Tensor<3> {
    let values: Vec<f32> = (0..steps)
        .flat_map(|t| {
            lengths
                .iter()
                .map(move |&len| if t < len { 1.0 } else { 0.0 })
        })
        .collect();
    Tensor::from_data(TensorData::new(values, [steps, lengths.len(), 1]), device)
}

/// Checks that `lengths` has one entry per sequence, each in `1..=steps`.
pub(crate) fn check_lengths(lengths: &[usize], batch: usize, steps: usize) -> Result<()> {
    if lengths.len() != batch {
        return Err(ModelError::Lengths(format!(
            "{} lengths for a batch of {batch} sequences",
            lengths.len()
        )));
    }
    if let Some((i, &len)) = lengths
        .iter()
        .enumerate()
        .find(|(_, len)| **len == 0 || **len > steps)
    {
        return Err(ModelError::Lengths(format!(
            "sequence {i} has length {len}; lengths must be in 1..={steps} (the time axis)"
        )));
    }
    Ok(())
}
