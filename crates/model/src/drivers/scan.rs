//! What a scan is: one layer-direction of the recurrence over all time steps, as one unit
//! with a forward and a backward pass. These types pass between the layer stack, the autodiff
//! operation (`fused.rs`) and the scan drivers (`tensor_scan.rs`, `native/`).
//!
//! Everything is time-major: `xp` is `[T, B, GATES·H]` and per-step slices are contiguous.
//! A padded step outputs zeros and leaves the state (`h`, and `c` for LSTM) untouched.

use burn::tensor::Tensor;

use crate::cells::CellKind;

/// What does not change between the forward and the backward pass of one scan.
#[derive(Clone, Debug)]
pub(crate) struct ScanSpec {
    /// The cell.
    pub cell: CellKind,
    /// Walk the time axis from the last step to the first (the reverse direction).
    pub reverse: bool,
    /// `[T, B, 1]`, 1 at real steps and 0 at padding; `None` when nothing is padded.
    pub valid: Option<Tensor<3>>,
}

/// The differentiable inputs of a scan.
#[derive(Clone, Debug)]
pub(crate) struct ScanInputs {
    /// `[T, B, GATES·H]`: `x_t·W_ihᵀ`, plus `b_ih` for cells that keep the input part apart.
    pub xp: Tensor<3>,
    /// `[H, GATES·H]`: `W_hhᵀ`.
    pub w: Tensor<2>,
    /// `[GATES·H]`: the bias added to `h·W` in every step: `b_ih + b_hh`, or `b_hh` alone for
    /// cells that keep the input part apart.
    pub bias: Tensor<1>,
    /// `[B, H]`: the starting hidden state.
    pub h0: Tensor<2>,
    /// `[B, H]`: the starting cell state, used by cells with one.
    pub c0: Tensor<2>,
}

/// What the backward pass reads besides the tape: the inputs it differentiates through.
#[derive(Clone, Debug)]
pub(crate) struct ScanWeights {
    /// `[H, GATES·H]`: `W_hhᵀ`.
    pub w: Tensor<2>,
    /// `[B, H]` each: the starting states.
    pub h0: Tensor<2>,
    pub c0: Tensor<2>,
}

/// What the forward pass keeps for the backward pass.
#[derive(Clone, Debug)]
pub(crate) struct ScanTape {
    /// `[T, B, H]`: the hidden state after each step (carried through padded steps).
    pub states: Tensor<3>,
    /// `[T, B, H]`: the cell state after each step, for cells with one.
    pub cells: Option<Tensor<3>>,
    /// `[T, B, TAPE·H]`: what the cell keeps per step, for cells that keep anything.
    pub kept: Option<Tensor<3>>,
}

/// Everything a scan's backward pass reads, kept by its forward pass.
#[derive(Clone, Debug)]
pub(crate) struct ScanRecord {
    pub spec: ScanSpec,
    pub weights: ScanWeights,
    pub tape: ScanTape,
}

/// Gradients of a scan's inputs; `None` where not asked for.
#[derive(Debug, Default)]
pub(crate) struct ScanGrads {
    pub xp: Option<Tensor<3>>,
    pub w: Option<Tensor<2>>,
    pub bias: Option<Tensor<1>>,
    pub h0: Option<Tensor<2>>,
    pub c0: Option<Tensor<2>>,
}

/// Which gradients the backward pass must produce (the inputs that require them).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Wanted {
    pub xp: bool,
    pub w: bool,
    pub bias: bool,
    pub h0: bool,
    pub c0: bool,
}

/// The time steps in the order a scan visits them.
pub(crate) fn visiting_order(
    steps: usize,
    reverse: bool,
) -> impl DoubleEndedIterator<Item = usize> {
    (0..steps).map(move |i| if reverse { steps - 1 - i } else { i })
}
