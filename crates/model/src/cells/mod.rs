//! The recurrent cells, each defined once, in its own module, with all its representations side
//! by side: the tensor step (what PyTorch computes, differentiated by Burn or by hand), the row
//! kernels of the native CPU scan and the unit functions of the GPU scan (forward and backward).
//!
//! [`Cell`] (and, for the GPU, [`GpuCell`]) is the contract between a cell and the drivers
//! (`crate::drivers`), which run the time loop once per execution path for every cell. Adding a
//! cell means one new module here, a [`CellKind`] variant and an arm in [`with_cell!`]; no
//! driver changes. Cells whose gates read only the input (minGRU, minLSTM) have no `W_hh` and
//! a recurrence linear in the state: they follow [`LinearCell`] instead (arms in
//! [`with_linear_cell!`]), which the drivers run as one parallel scan over all steps.
//!
//! Gate order and bias placement follow PyTorch exactly (LSTM `i, f, g, o`; GRU `r, z, n` with
//! `b_hn` inside the reset product), so imported weights give the same numbers.

mod activation;
mod elman;
#[cfg(feature = "cubecl")]
mod gpu;
mod gru;
mod kind;
mod lstm;
mod min_gru;
mod min_lstm;
mod norm;
mod rows;

use burn::tensor::Tensor;

pub(crate) use activation::{
    fast_sigmoid, fast_tanh, g, log_g, sigmoid, sigmoid_slope, tanh, tanh_slope,
};
pub(crate) use elman::Elman;
#[cfg(feature = "cubecl")]
pub(crate) use gpu::GpuCell;
#[cfg(feature = "cubecl")]
use gpu::gpu_sigmoid;
pub(crate) use gru::Gru;
pub use kind::{CellKind, ElmanActivation};
pub(crate) use lstm::Lstm;
pub(crate) use min_gru::MinGru;
pub(crate) use min_lstm::MinLstm;
pub(crate) use norm::{
    Normalized, StateNorm, StateNormGrads, column_sums, lane_sum, moments, normalize,
    normalize_backward, normalize_block, normalize_block_backward,
};
pub(crate) use rows::{
    BackwardRow, Blocks, BlocksMut, ForwardRow, RowStateNorm, RowStateNormGrads,
};

/// What differs between cells. A step combines two parts, each `[B, GATES·H]`:
/// - the *input part* `x_t·W_ihᵀ + b_ih`;
/// - the *hidden part* `h_{t-1}·W_hhᵀ + b_hh`.
///
/// Unless [`Cell::SEPARATE_INPUT`], the drivers sum the two (biases summed once) and hand the
/// cell the sum as its hidden part; the input part is then empty.
pub(crate) trait Cell: Copy + Send + Sync {
    /// Gate blocks of `H` columns in the weights (`weight_ih` is `[GATES·H, D]`).
    const GATES: usize;
    /// Whether the cell carries a second state, `c` (LSTM).
    const CELL_STATE: bool;
    /// Whether the input part stays apart from the hidden part inside the step (GRU, whose reset
    /// gate scales the hidden part of `n`, `b_hn` included).
    const SEPARATE_INPUT: bool;
    /// Blocks of `H` the forward step keeps per step for the backward step, besides the states.
    const TAPE: usize;
    /// Whether the backward step has a path to `h_{t-1}` besides `W_hh` (GRU's `z ⊙ g`).
    const DIRECT: bool;
    /// Whether the cell's output may be projected to a narrower state, `h_t = m_t·W_hrᵀ`
    /// (PyTorch's `proj_size`, LSTM only). The drivers then hand the cell's steps and rows the
    /// cell's own output `m_t` where they say `h_t`, and no `h_{t-1}`: a projectable cell reads
    /// neither `h_{t-1}` in its step nor has a direct path back to it.
    const PROJECTABLE: bool;

    /// One step on tensors. `parts.hidden` (and `parts.input` when separate) are `[B, GATES·H]`;
    /// `previous` holds `h_{t-1}` (and `c_{t-1}`). With `keep`, also returns the
    /// `[B, TAPE·H]` tape that [`Cell::step_backward`] reads back. Under layer norm a cell with
    /// a cell state normalises it before its output with `norm` (the LN-LSTM's
    /// `h_t = o ⊙ tanh(LN(c_t))`); other cells have none.
    fn step(
        &self,
        parts: StepParts,
        previous: &TensorState,
        keep: bool,
        norm: Option<&StateNorm>,
    ) -> TensorStep;

    /// The backward pass of one step on tensors: `grad` is the gradient reaching `h_t` (and
    /// `c_t`), `saved` reads what the forward pass kept, `norm` as in [`Cell::step`].
    fn step_backward(
        &self,
        grad: StepGrad,
        saved: &impl SavedStep,
        norm: Option<&StateNorm>,
    ) -> PartGrads;

    /// One row of one step over a range of hidden units, natively (see [`ForwardRow`]).
    fn forward_row(&self, row: ForwardRow<'_>);

    /// The backward pass of [`Cell::forward_row`] (see [`BackwardRow`]).
    fn backward_row(&self, row: BackwardRow<'_>);

    /// [`Cell::forward_row`] under layer norm, over a whole row (all `H` units): a cell with a
    /// cell state normalises it with `norm` before its output, as [`Cell::step`] does; the
    /// others are handed `None` and run their own row (the drivers normalise the parts).
    #[inline(always)]
    fn forward_row_normed(&self, row: ForwardRow<'_>, norm: Option<RowStateNorm<'_>>) {
        debug_assert!(
            norm.is_none(),
            "a cell without a cell state normalises none"
        );
        self.forward_row(row)
    }

    /// The backward pass of [`Cell::forward_row_normed`], adding to the normalisation's
    /// gradients.
    #[inline(always)]
    fn backward_row_normed(&self, row: BackwardRow<'_>, norm: Option<RowStateNormGrads<'_>>) {
        debug_assert!(
            norm.is_none(),
            "a cell without a cell state normalises none"
        );
        self.backward_row(row)
    }

    /// The cell's comptime option in its GPU unit functions (`GpuCell`): the Elman activation.
    #[cfg_attr(not(feature = "cubecl"), allow(dead_code))]
    fn variant(&self) -> u32 {
        0
    }
}

/// A cell whose gates read only the input (Feng et al. 2024, "Were RNNs All We Needed?"): its
/// new state is `h_t = a_t ⊙ h_{t-1} + b_t`, with `a_t ∈ (0, 1)` and `b_t > 0` from `x_t` alone,
/// so that all steps can run at once as a parallel scan in log space
/// (`crate::drivers::parallel`). Its weights are `W_ih` (`[D, GATES·H]`) and `b_ih`; it has no
/// `W_hh`, cell state or tape.
pub(crate) trait LinearCell: Copy {
    /// Gate blocks of `H` columns in `W_ih`.
    const GATES: usize;

    /// `log a_t` and `log b_t` (`[.., H]` each) from the input part `x_t·W_ihᵀ + b_ih`
    /// (`[.., GATES·H]`), in log space throughout for a stable scan.
    fn log_coefficients<const D: usize>(&self, parts: Tensor<D>) -> (Tensor<D>, Tensor<D>);

    /// One step in linear space, the paper's sequential form (what streaming and the reference
    /// compute): `h_t` `[B, H]` from the input part `[B, GATES·H]` and `h_{t-1}`.
    fn step(&self, parts: Tensor<2>, h_prev: Tensor<2>) -> Tensor<2>;
}

/// `Some($body)` with `$cell` bound to the linear cell of `$kind` and `$C` naming its type, or
/// `None` when `$kind` is a recurrent cell (one with `W_hh`: [`with_cell!`]).
macro_rules! with_linear_cell {
    ($kind:expr, $cell:ident : $C:ident => $body:expr) => {
        match $kind {
            $crate::cells::CellKind::MinGru => {
                #[allow(dead_code)]
                type $C = $crate::cells::MinGru;
                let $cell = $crate::cells::MinGru;
                Some($body)
            }
            $crate::cells::CellKind::MinLstm => {
                #[allow(dead_code)]
                type $C = $crate::cells::MinLstm;
                let $cell = $crate::cells::MinLstm;
                Some($body)
            }
            _ => None,
        }
    };
}
pub(crate) use with_linear_cell;

/// Runs `$body` with `$cell` bound to the cell of `$kind` and `$C` naming its type; the one
/// place where a [`CellKind`] becomes a [`Cell`]. The linear cells are not [`Cell`]s: the
/// layer runners send them to their own scan ([`with_linear_cell!`]) before any driver here.
macro_rules! with_cell {
    ($kind:expr, $cell:ident : $C:ident => $body:expr) => {
        match $kind {
            $crate::cells::CellKind::Elman(activation) => {
                #[allow(dead_code)]
                type $C = $crate::cells::Elman;
                let $cell = $crate::cells::Elman { activation };
                $body
            }
            $crate::cells::CellKind::Lstm => {
                #[allow(dead_code)]
                type $C = $crate::cells::Lstm;
                let $cell = $crate::cells::Lstm;
                $body
            }
            $crate::cells::CellKind::Gru => {
                #[allow(dead_code)]
                type $C = $crate::cells::Gru;
                let $cell = $crate::cells::Gru;
                $body
            }
            kind @ ($crate::cells::CellKind::MinGru | $crate::cells::CellKind::MinLstm) => {
                unreachable!(
                    "{} runs as a linear scan, never through a step driver",
                    kind.name()
                )
            }
        }
    };
}
pub(crate) use with_cell;

/// A cell's state at one step, `[B, H]` each (`h` is `[B, P]` under a projection).
#[derive(Clone, Debug)]
pub(crate) struct TensorState {
    pub h: Tensor<2>,
    /// The cell state, for cells with [`Cell::CELL_STATE`].
    pub c: Option<Tensor<2>>,
}

/// The two parts a tensor step combines (see [`Cell`]).
pub(crate) struct StepParts {
    /// `[B, GATES·H]`: the hidden part, or the sum of both parts unless separate.
    pub hidden: Tensor<2>,
    /// `[B, GATES·H]`: the input part, for cells with [`Cell::SEPARATE_INPUT`].
    pub input: Option<Tensor<2>>,
}

/// What a tensor step returns.
pub(crate) struct TensorStep {
    pub state: TensorState,
    /// `[B, TAPE·H]`, when asked to keep it and the cell keeps anything.
    pub tape: Option<Tensor<2>>,
}

/// The gradients reaching a step's new state, `[B, H]` each (zero where the step is padding).
pub(crate) struct StepGrad {
    pub h: Tensor<2>,
    /// For cells with [`Cell::CELL_STATE`].
    pub c: Option<Tensor<2>>,
}

/// What a tensor backward step reads of its forward step, sliced on demand (`[B, H]` each;
/// the tape `[B, TAPE·H]`).
pub(crate) trait SavedStep {
    /// The cell's new output: the hidden state `h_t`, or `m_t` before a projection.
    fn h(&self) -> Tensor<2>;
    /// The previous hidden state `h_{t-1}` (never read by projectable cells).
    fn h_prev(&self) -> Tensor<2>;
    /// The new cell state `c_t` (cells with a cell state).
    fn c(&self) -> Tensor<2>;
    /// The previous cell state `c_{t-1}`.
    fn c_prev(&self) -> Tensor<2>;
    /// What [`Cell::step`] kept.
    fn tape(&self) -> Tensor<2>;
}

/// The gradients a tensor backward step produces.
pub(crate) struct PartGrads {
    /// `[B, GATES·H]`: of the hidden part (and of the summed parts unless separate).
    pub hidden: Tensor<2>,
    /// `[B, GATES·H]`: of the input part, for cells with [`Cell::SEPARATE_INPUT`].
    pub input: Option<Tensor<2>>,
    /// `[B, H]`: what reaches `h_{t-1}` besides `W_hh`, for cells with [`Cell::DIRECT`].
    pub direct: Option<Tensor<2>>,
    /// `[B, H]`: what reaches `c_{t-1}`, for cells with a cell state.
    pub c_prev: Option<Tensor<2>>,
    /// This step's gradients of the cell state's normalisation, under layer norm.
    pub state_norm: Option<StateNormGrads>,
}

/// `x` split into `N` equal column blocks (the gates).
pub(crate) fn gate_blocks<const N: usize>(x: Tensor<2>) -> [Tensor<2>; N] {
    last_blocks(x)
}

/// `x` split into `N` equal blocks along its last dimension (the gates).
pub(crate) fn last_blocks<const N: usize, const D: usize>(x: Tensor<D>) -> [Tensor<D>; N] {
    x.chunk(N, D - 1)
        .try_into()
        .expect("the gate width is a multiple of H")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::values as read;
    use burn::tensor::{Device, Distribution};

    /// Each linear cell's log-space coefficients are its sequential step's: `step(parts, h)` is
    /// `a ⊙ h + b` with `a = exp(log a)` in (0, 1] (1 when rounded) and `b = exp(log b)` > 0,
    /// over gate inputs far into both tails.
    #[test]
    fn log_coefficients_are_the_sequential_steps() {
        let device = Device::flex();
        for kind in [CellKind::MinGru, CellKind::MinLstm] {
            with_linear_cell!(kind, cell: C => {
                let parts = Tensor::<2>::random(
                    [64, C::GATES * 8],
                    Distribution::Normal(0.0, 6.0),
                    &device,
                );
                let (log_a, log_b) = cell.log_coefficients(parts.clone());
                let (a, b) = (read(log_a.exp()), read(log_b.exp()));
                let zero = read(cell.step(parts.clone(), Tensor::zeros([64, 8], &device)));
                let one = read(cell.step(parts, Tensor::ones([64, 8], &device)));
                for i in 0..a.len() {
                    assert!(a[i] > 0.0 && a[i] <= 1.0 && b[i] > 0.0, "{}: {i}", kind.name());
                    let what = format!("{} unit {i}", kind.name());
                    assert!((b[i] - zero[i]).abs() <= 1e-5 * b[i].max(1.0), "{what}: b");
                    assert!((a[i] - (one[i] - zero[i])).abs() < 1e-5, "{what}: a");
                }
            });
        }
    }
}
