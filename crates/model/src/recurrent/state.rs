//! The state of a whole stack as PyTorch lays it out (`h_n`, `c_n`), what a forward pass
//! returns, and the checks of what a caller passes in (initial states, lengths).

use burn::tensor::{Device, Tensor};

use crate::cells::{CellKind, TensorState};
use crate::error::{ModelError, Result, check_shape};

/// The recurrent state of a whole stack, laid out as PyTorch's `h_n` / `c_n`.
#[derive(Clone, Debug)]
pub struct RecurrentState {
    /// `[layers·dirs, B, P]` (`P = H` unless projected).
    pub hidden: Tensor<3>,
    /// `[layers·dirs, B, H]`, LSTM only.
    pub cell: Option<Tensor<3>>,
}

/// The widths of one layer-direction's states: `P` for the hidden state, `H` for the cell
/// state.
#[derive(Clone, Copy, Debug)]
pub(crate) struct StateWidths {
    pub hidden: usize,
    pub cell: usize,
}

/// What [`crate::Recurrent::forward`] returns.
#[derive(Clone, Debug)]
pub struct RecurrentOutput {
    /// Top layer's output at every step, `[B, T, dirs·H]`; zero at padded steps.
    pub output: Tensor<3>,
    /// Final state of every layer and direction (each sequence's own last valid step).
    pub state: RecurrentState,
}

impl RecurrentState {
    /// The stacked state of per-layer-direction final states, in PyTorch's order.
    pub(crate) fn stack(finals: Vec<TensorState>) -> Self {
        let (hidden, cells): (Vec<_>, Vec<_>) = finals.into_iter().map(|s| (s.h, s.c)).unzip();
        let cells: Vec<Tensor<2>> = cells.into_iter().flatten().collect();
        Self {
            hidden: Tensor::stack(hidden, 0),
            cell: (!cells.is_empty()).then(|| Tensor::stack(cells, 0)),
        }
    }

    /// Checks this state against a stack of `count` layer-directions with states of `widths`
    /// and `cell`, for a batch of `batch`, and splits it per layer-direction (`[B, P]` and
    /// `[B, H]` each).
    pub(crate) fn split(
        self,
        cell: CellKind,
        count: usize,
        batch: usize,
        widths: StateWidths,
    ) -> Result<Vec<TensorState>> {
        let expected = |width: usize| [Some(count), Some(batch), Some(width)];
        check_shape(
            "initial hidden state",
            &self.hidden.dims(),
            &expected(widths.hidden),
        )?;
        match (&self.cell, cell.has_cell_state()) {
            (Some(c), true) => {
                check_shape("initial cell state", &c.dims(), &expected(widths.cell))?
            }
            (None, true) => {
                return Err(ModelError::Unsupported(
                    "an LSTM initial state needs both the hidden and the cell state".into(),
                ));
            }
            (Some(_), false) => {
                return Err(ModelError::Unsupported(format!(
                    "a {} has no cell state; pass only the hidden state",
                    cell.name()
                )));
            }
            (None, false) => {}
        }
        let split = |t: Tensor<3>| -> Vec<Tensor<2>> {
            let [_, _, width] = t.dims();
            (0..count)
                .map(|i| {
                    t.clone()
                        .slice([i..i + 1, 0..batch, 0..width])
                        .reshape([batch, width])
                })
                .collect()
        };
        let hiddens = split(self.hidden);
        let mut cells = self.cell.map(split).map(Vec::into_iter);
        Ok(hiddens
            .into_iter()
            .map(|h| TensorState {
                h,
                c: cells.as_mut().and_then(Iterator::next),
            })
            .collect())
    }

    /// Zero start states for `count` layer-directions, `[B, P]` and `[B, H]` each.
    pub(crate) fn zero_starts(
        cell: CellKind,
        count: usize,
        batch: usize,
        widths: StateWidths,
        device: &Device,
    ) -> Vec<TensorState> {
        let zeros = |width: usize| Tensor::zeros([batch, width], device);
        (0..count)
            .map(|_| TensorState {
                h: zeros(widths.hidden),
                c: cell.has_cell_state().then(|| zeros(widths.cell)),
            })
            .collect()
    }
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
