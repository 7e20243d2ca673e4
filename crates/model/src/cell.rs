//! The three recurrent cells (Elman, LSTM, GRU): what one time step computes.
//!
//! A cell only combines projections; the time loop that feeds it lives once, in `recurrent.rs`.
//! Gate order and bias placement follow PyTorch exactly (LSTM `i, f, g, o`; GRU `r, z, n` with
//! `b_hn` inside the reset product), so imported weights give the same numbers.

use std::str::FromStr;

use burn::config::Config;
use burn::tensor::Tensor;
use burn::tensor::activation::{relu, sigmoid, tanh};

/// The activation of an Elman cell, `h_t = act(W_h·h_{t-1} + W_x·x_t + b)`.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum ElmanActivation {
    /// Hyperbolic tangent (PyTorch's default, `nonlinearity='tanh'`).
    Tanh,
    /// Rectified linear unit (PyTorch's `nonlinearity='relu'`).
    Relu,
    /// Logistic sigmoid, the σ of the design notes (not offered by PyTorch's `nn.RNN`).
    Sigmoid,
}

/// Which recurrent cell a layer uses.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum CellKind {
    /// The Elman ("vanilla") RNN with the given activation.
    Elman(ElmanActivation),
    /// Long short-term memory: a hidden state and a cell state, four gates.
    Lstm,
    /// Gated recurrent unit: one state, three gates.
    Gru,
}

/// Parses the names of [`CellKind::name`]; `elman` (or `rnn`) alone is Elman with tanh. For
/// command lines: `--cell lstm`.
impl FromStr for CellKind {
    type Err = crate::error::ModelError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let wanted = text.trim().to_ascii_lowercase();
        if wanted == "elman" || wanted == "rnn" {
            return Ok(CellKind::Elman(ElmanActivation::Tanh));
        }
        CellKind::ALL
            .into_iter()
            .find(|cell| cell.name() == wanted)
            .ok_or_else(|| {
                crate::error::ModelError::InvalidConfig(format!(
                    "unknown cell `{text}`; choose one of: elman, {}",
                    CellKind::ALL.map(|c| c.name()).join(", ")
                ))
            })
    }
}

impl Default for CellKind {
    fn default() -> Self {
        CellKind::Elman(ElmanActivation::Tanh)
    }
}

impl CellKind {
    /// Every cell, in the order of [`CellKind::name`]'s list.
    pub const ALL: [CellKind; 5] = [
        CellKind::Elman(ElmanActivation::Tanh),
        CellKind::Elman(ElmanActivation::Relu),
        CellKind::Elman(ElmanActivation::Sigmoid),
        CellKind::Lstm,
        CellKind::Gru,
    ];

    /// Number of gate blocks stacked in the weight matrices (`weight_ih` is `[gates·H, D]`).
    pub fn gates(&self) -> usize {
        match self {
            CellKind::Elman(_) => 1,
            CellKind::Lstm => 4,
            CellKind::Gru => 3,
        }
    }

    /// Whether the cell carries a second state (the LSTM's cell state `c`).
    pub fn has_cell_state(&self) -> bool {
        matches!(self, CellKind::Lstm)
    }

    /// Whether the input and hidden biases must stay apart inside the step (GRU's `n` gate).
    /// For the others they are summed once per forward pass.
    pub(crate) fn separate_biases(&self) -> bool {
        matches!(self, CellKind::Gru)
    }

    /// A short name for messages and reports (`elman-tanh`, `lstm`, `gru`).
    pub fn name(&self) -> &'static str {
        match self {
            CellKind::Elman(ElmanActivation::Tanh) => "elman-tanh",
            CellKind::Elman(ElmanActivation::Relu) => "elman-relu",
            CellKind::Elman(ElmanActivation::Sigmoid) => "elman-sigmoid",
            CellKind::Lstm => "lstm",
            CellKind::Gru => "gru",
        }
    }

    /// One time step. `input_part` is `x_t·W_ih (+ b)` and `hidden_part` is `h_{t-1}·W_hh (+ b)`,
    /// both `[batch, gates·H]`; `hidden` and `cell` are the previous states `[batch, H]`.
    /// Returns the new hidden state and, for LSTM, the new cell state.
    pub(crate) fn step(
        &self,
        input_part: Tensor<2>,
        hidden_part: Tensor<2>,
        hidden: Tensor<2>,
        cell: Option<Tensor<2>>,
    ) -> (Tensor<2>, Option<Tensor<2>>) {
        match self {
            CellKind::Elman(activation) => {
                let pre = input_part + hidden_part;
                let h = match activation {
                    ElmanActivation::Tanh => tanh(pre),
                    ElmanActivation::Relu => relu(pre),
                    ElmanActivation::Sigmoid => sigmoid(pre),
                };
                (h, None)
            }
            CellKind::Lstm => {
                let gates = (input_part + hidden_part).chunk(4, 1);
                let [i, f, g, o]: [Tensor<2>; 4] = gates.try_into().expect("four LSTM gates");
                let c_prev = cell.expect("LSTM step needs a cell state");
                let c = sigmoid(f) * c_prev + sigmoid(i) * tanh(g);
                let h = sigmoid(o) * tanh(c.clone());
                (h, Some(c))
            }
            CellKind::Gru => {
                let [x_r, x_z, x_n]: [Tensor<2>; 3] =
                    input_part.chunk(3, 1).try_into().expect("three GRU gates");
                let [h_r, h_z, h_n]: [Tensor<2>; 3] =
                    hidden_part.chunk(3, 1).try_into().expect("three GRU gates");
                let r = sigmoid(x_r + h_r);
                let z = sigmoid(x_z + h_z);
                let n = tanh(x_n + r * h_n);
                // h' = (1 - z)·n + z·h  ==  n + z·(h - n)
                let h = n.clone() + z * (hidden - n);
                (h, None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back_and_unknown_names_list_the_choices() {
        for cell in CellKind::ALL {
            assert_eq!(cell.name().parse::<CellKind>().unwrap(), cell);
        }
        assert_eq!("Elman".parse::<CellKind>().unwrap(), CellKind::default());
        let error = "transformer".parse::<CellKind>().unwrap_err().to_string();
        assert!(
            error.contains("transformer") && error.contains("gru"),
            "{error}"
        );
    }
}
