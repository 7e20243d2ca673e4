//! The public names of the cells: [`CellKind`] (which cell a layer uses) and
//! [`ElmanActivation`]. What each cell computes lives in its own module beside this one.

use std::str::FromStr;

use burn::config::Config;

use super::{Cell, LinearCell, with_cell, with_linear_cell};
use crate::error::ModelError;

/// The activation of an Elman cell, `h_t = act(W_h·h_{t-1} + W_x·x_t + b)`.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum ElmanActivation {
    /// Hyperbolic tangent (PyTorch's default, `nonlinearity='tanh'`).
    Tanh,
    /// Rectified linear unit (PyTorch's `nonlinearity='relu'`).
    Relu,
    /// Logistic sigmoid, the σ of `docs/design.md` (not offered by PyTorch's `nn.RNN`).
    Sigmoid,
}

/// Which recurrent cell a layer uses.
///
/// ```
/// use burn_rnn_model::{CellKind, ElmanActivation};
///
/// let cell: CellKind = "lstm".parse()?;
/// assert_eq!(cell, CellKind::Lstm);
/// assert_eq!(cell.gates(), 4);
/// assert_eq!("elman".parse::<CellKind>()?, CellKind::Elman(ElmanActivation::Tanh));
/// # Ok::<(), burn_rnn_model::ModelError>(())
/// ```
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum CellKind {
    /// The Elman ("vanilla") RNN with the given activation.
    Elman(ElmanActivation),
    /// Long short-term memory: a hidden state and a cell state, four gates.
    Lstm,
    /// Gated recurrent unit: one state, three gates.
    Gru,
    /// minGRU (Feng et al. 2024): a GRU whose two gates read only the input; no `W_hh`, a
    /// parallel scan over time in training.
    MinGru,
    /// minLSTM (Feng et al. 2024): an LSTM whose three gates read only the input, with one
    /// state; no `W_hh`, a parallel scan over time in training.
    MinLstm,
}

/// Parses the names of [`CellKind::name`]; `elman` (or `rnn`) alone is Elman with tanh. For
/// command lines: `--cell lstm`.
impl FromStr for CellKind {
    type Err = ModelError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let wanted = text.trim().to_ascii_lowercase();
        if wanted == "elman" || wanted == "rnn" {
            return Ok(CellKind::Elman(ElmanActivation::Tanh));
        }
        CellKind::ALL
            .into_iter()
            .find(|cell| cell.name() == wanted)
            .ok_or_else(|| {
                ModelError::InvalidConfig(format!(
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
    pub const ALL: [CellKind; 7] = [
        CellKind::Elman(ElmanActivation::Tanh),
        CellKind::Elman(ElmanActivation::Relu),
        CellKind::Elman(ElmanActivation::Sigmoid),
        CellKind::Lstm,
        CellKind::Gru,
        CellKind::MinGru,
        CellKind::MinLstm,
    ];

    /// Number of gate blocks stacked in the weight matrices (`weight_ih` is `[gates·H, D]`).
    pub fn gates(&self) -> usize {
        with_linear_cell!(*self, _cell: C => C::GATES)
            .unwrap_or_else(|| with_cell!(*self, _cell: C => C::GATES))
    }

    /// Whether the cell has a recurrent weight `W_hh` (and `b_hh`): all but minGRU and
    /// minLSTM, whose gates read only the input.
    pub fn has_hidden_weight(&self) -> bool {
        with_linear_cell!(*self, _cell: C => ()).is_none()
    }

    /// Whether the cell carries a second state (the LSTM's cell state `c`).
    pub fn has_cell_state(&self) -> bool {
        self.has_hidden_weight() && with_cell!(*self, _cell: C => C::CELL_STATE)
    }

    /// Whether the cell's output may be projected to fewer units (`proj_size`: LSTM only, as in
    /// PyTorch).
    pub fn supports_projection(&self) -> bool {
        self.has_hidden_weight() && with_cell!(*self, _cell: C => C::PROJECTABLE)
    }

    /// Whether the input and hidden biases must stay apart inside the step (GRU's `n` gate).
    /// For the others they are summed once per forward pass. (A cell without `W_hh` has only
    /// the input's.)
    pub(crate) fn separate_biases(&self) -> bool {
        !self.has_hidden_weight() || with_cell!(*self, _cell: C => C::SEPARATE_INPUT)
    }

    /// A short name for messages and reports (`elman-tanh`, `lstm`, `gru`).
    pub fn name(&self) -> &'static str {
        match self {
            CellKind::Elman(ElmanActivation::Tanh) => "elman-tanh",
            CellKind::Elman(ElmanActivation::Relu) => "elman-relu",
            CellKind::Elman(ElmanActivation::Sigmoid) => "elman-sigmoid",
            CellKind::Lstm => "lstm",
            CellKind::Gru => "gru",
            CellKind::MinGru => "mingru",
            CellKind::MinLstm => "minlstm",
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

    #[test]
    fn each_kind_reports_its_cells_shape() {
        let shape = |k: CellKind| (k.gates(), k.has_cell_state(), k.has_hidden_weight());
        assert_eq!(shape(CellKind::default()), (1, false, true));
        assert_eq!(shape(CellKind::Lstm), (4, true, true));
        assert_eq!(shape(CellKind::Gru), (3, false, true));
        assert_eq!(shape(CellKind::MinGru), (2, false, false));
        assert_eq!(shape(CellKind::MinLstm), (3, false, false));
        let projectable: Vec<_> = CellKind::ALL
            .into_iter()
            .filter(CellKind::supports_projection)
            .collect();
        assert_eq!(projectable, [CellKind::Lstm]);
    }
}
