//! [`RecurrentConfig`]: the hyper-parameters of a recurrent stack, checked, and the stack built
//! from them.

use burn::config::Config;
use burn::nn::{DropoutConfig, Initializer};
use burn::tensor::Device;

use super::{LayerNorms, Recurrent, RecurrentLayer};
use crate::cells::{CellKind, ElmanActivation};
use crate::error::{ModelError, Result};

/// Configuration of a [`Recurrent`] stack. Build with `RecurrentConfig::new(d_input, d_hidden)`
/// and the `with_*` setters, then [`RecurrentConfig::init`].
///
/// ```
/// use burn::tensor::Device;
/// use burn_rnn_model::{CellKind, RecurrentConfig};
///
/// // 3 features per step → 2 stacked bidirectional GRU layers of 16 units per direction.
/// let config = RecurrentConfig::new(3, 16)
///     .with_cell(CellKind::Gru)
///     .with_num_layers(2)
///     .with_bidirectional(true);
/// let rnn = config.init(&Device::default())?;
/// assert_eq!(rnn.d_output(), 32);
/// assert!(RecurrentConfig::new(3, 0).init(&Device::default()).is_err());
/// # Ok::<(), burn_rnn_model::ModelError>(())
/// ```
#[derive(Config, Debug)]
pub struct RecurrentConfig {
    /// Number of input features per time step (`D`).
    pub d_input: usize,
    /// Number of hidden units per direction (`H`).
    pub d_hidden: usize,
    /// The cell: Elman (tanh, relu or sigmoid), LSTM, GRU, minGRU or minLSTM.
    #[config(default = "CellKind::Elman(ElmanActivation::Tanh)")]
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
    /// Recurrent (variational) dropout probability, during training only (Gal & Ghahramani
    /// 2016; Keras's `recurrent_dropout`): each sequence drops each unit of the hidden state
    /// entering `W_hh` with this probability, with one mask for all its steps, per
    /// layer-direction. The state itself, the outputs and GRU's `z ⊙ h` path are untouched.
    #[config(default = 0.0)]
    pub recurrent_dropout: f64,
    /// Whether the cell has the biases `b_ih` and `b_hh`.
    #[config(default = true)]
    pub bias: bool,
    /// LSTM only: project each step's output to this many units, `h_t = W_hr·(o_t ⊙
    /// tanh(c_t))` (PyTorch's `proj_size`; Sak et al. 2014). The hidden state and the output are
    /// then `proj_size` wide per direction and the cell state stays `d_hidden` wide. `0` (the
    /// default): no projection.
    #[config(default = 0)]
    pub proj_size: usize,
    /// Layer normalisation inside the recurrence (Ba, Kiros & Hinton 2016), per gate block:
    /// `LN(x_t·W_ihᵀ)·γ_x + LN(h_{t-1}·W_hhᵀ)·γ_h + b`, and for an LSTM `h_t = o ⊙
    /// tanh(LN(c_t)·γ_c + β_c)`, with learnt gains `γ` (initially 1) and `β_c` (initially 0).
    /// No PyTorch module has it, so such a stack has no PyTorch import or export.
    #[config(default = false)]
    pub layer_norm: bool,
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
        if !self.recurrent_dropout.is_finite() || !(0.0..1.0).contains(&self.recurrent_dropout) {
            return bad(format!(
                "recurrent_dropout must be in [0, 1), got {}",
                self.recurrent_dropout
            ));
        }
        if self.proj_size > 0 && !self.cell.supports_projection() {
            return bad(format!(
                "proj_size is for LSTM only (as PyTorch's); the {} cell has no projection",
                self.cell.name()
            ));
        }
        if !self.cell.has_hidden_weight() {
            let minimal = |option: &str| {
                bad(format!(
                    "{option} is not for {}: its gates read only the input, it has no \
                     recurrent weight W_hh",
                    self.cell.name()
                ))
            };
            if self.layer_norm {
                return minimal("layer_norm");
            }
            if self.recurrent_dropout > 0.0 {
                return minimal("recurrent_dropout");
            }
        }
        if self.proj_size > 0 && self.proj_size >= self.d_hidden {
            return bad(format!(
                "proj_size must be smaller than d_hidden ({}), got {}",
                self.d_hidden, self.proj_size
            ));
        }
        Ok(())
    }

    /// Width of the hidden state and of each direction's output: `proj_size` when projected,
    /// else `d_hidden`.
    pub fn d_state(&self) -> usize {
        if self.proj_size > 0 {
            self.proj_size
        } else {
            self.d_hidden
        }
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
        let state = self.d_state();
        let recurrent = self.cell.has_hidden_weight();
        let mut layers = Vec::with_capacity(self.num_layers * dirs);
        for layer in 0..self.num_layers {
            let d_in = if layer == 0 {
                self.d_input
            } else {
                dirs * state
            };
            let weight = |rows: usize| {
                init.init_with([rows, gates_hidden], Some(rows), Some(gates_hidden), device)
            };
            let bias = || {
                init.init_with(
                    [gates_hidden],
                    Some(self.d_hidden),
                    Some(gates_hidden),
                    device,
                )
            };
            let projection = || {
                let shape = [self.d_hidden, state];
                init.init_with(shape, Some(self.d_hidden), Some(state), device)
            };
            let norm = || LayerNorms::new(self.cell, self.d_hidden, device);
            for _ in 0..dirs {
                layers.push(RecurrentLayer {
                    input_weight: weight(d_in),
                    hidden_weight: recurrent.then(|| weight(state)),
                    input_bias: self.bias.then(bias),
                    hidden_bias: (recurrent && self.bias).then(bias),
                    projection: (self.proj_size > 0).then(projection),
                    norm: self.layer_norm.then(norm),
                });
            }
        }
        Ok(Recurrent {
            layers,
            dropout: DropoutConfig::new(self.dropout).init(),
            recurrent_dropout: DropoutConfig::new(self.recurrent_dropout).init(),
            cell: self.cell,
            d_input: self.d_input,
            d_hidden: self.d_hidden,
            proj_size: self.proj_size,
            num_layers: self.num_layers,
            bidirectional: self.bidirectional,
        })
    }
}
