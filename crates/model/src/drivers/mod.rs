//! The time loop, written once per execution path for every cell (`crate::cells`):
//! - `reference`: step by step on tensors, differentiated by Burn op by op (the reference the
//!   others are tested against, and the fallback on backends the fused scan does not cover);
//! - `tensor_scan`: a whole layer-direction on plain tensors, forward and backward, which
//!   `fused` registers as one autodiff operation;
//! - `native` (flex): the same scan as native loops over the tensors' memory;
//! - `gpu` (wgpu, cuda): the same scan as one CubeCL kernel launch forward and one backward;
//! - `remote` (burn-remote): the scan's forward and backward passes sent to the server as one
//!   custom operation each, run there by the server's own scan;
//! - `parallel`: the linear cells (minGRU, minLSTM) over all steps at once, a log-space scan of
//!   tensor operations that Burn differentiates (what `fused` runs for them).
//!
//! A layer stack (`crate::recurrent`) runs each layer-direction through a [`DirectionRunner`].

mod fused;
#[cfg(feature = "cubecl")]
mod gpu;
#[cfg(feature = "flex")]
#[cfg_attr(not(feature = "autodiff"), allow(dead_code))]
mod native;
mod parallel;
mod reference;
#[cfg(feature = "remote")]
mod remote;
mod scan;
#[cfg_attr(not(feature = "autodiff"), allow(dead_code))]
mod tensor_scan;

use burn::nn::Dropout;
use burn::tensor::Tensor;

use crate::cells::{StateNorm, TensorState, normalize};

pub(crate) use fused::Fused;
#[cfg(feature = "cubecl")]
pub use gpu::{gpu_kernel_launches, set_gpu_kernels};
pub use native::{InferencePrecision, inference_precision, set_inference_precision};
#[cfg(feature = "remote")]
pub use remote::remote_scans_sent;
#[cfg(feature = "remote-server")]
pub use remote::with_scan_ops;

/// How many GPU scan kernels this process has launched (this build has no GPU backend: none).
#[cfg(not(feature = "cubecl"))]
pub fn gpu_kernel_launches() -> u64 {
    0
}

/// Turns the GPU scan kernels on or off (this build has no GPU backend: nothing to turn).
#[cfg(not(feature = "cubecl"))]
pub fn set_gpu_kernels(_enabled: bool) {}
pub(crate) use reference::{StepByStep, StepMasks};

/// One layer-direction's weights as plain tensors, stored transposed relative to PyTorch.
#[derive(Clone, Debug)]
pub(crate) struct LayerWeights {
    /// `[d_in, GATES·H]`.
    pub input: Tensor<2>,
    /// `[P, GATES·H]` (`P = H` unless projected); `None` for the linear cells.
    pub hidden: Option<Tensor<2>>,
    /// `[GATES·H]` each, when the layer has biases.
    pub input_bias: Option<Tensor<1>>,
    pub hidden_bias: Option<Tensor<1>>,
    /// `[H, P]`: `W_hrᵀ`, which projects the cell's output to the hidden state (`proj_size`).
    pub projection: Option<Tensor<2>>,
    /// Layer normalisation's gains (and the cell state's bias), under layer norm.
    pub norm: Option<NormWeights>,
}

/// A layer-direction's layer normalisation (Ba et al. 2016), per gate block: the gains of the
/// input part `x·W_ih` and of the hidden part `h·W_hh` (their biases are the layer's), and for
/// cells with a cell state the gain and bias of its normalisation before the output.
#[derive(Clone, Debug)]
pub(crate) struct NormWeights {
    /// `[GATES·H]` each.
    pub input_gain: Tensor<1>,
    pub hidden_gain: Tensor<1>,
    /// `[H]` each.
    pub state: Option<StateNorm>,
}

impl NormWeights {
    /// `LN(x)·gain` per gate block for `x` `[B, GATES·H]`, on any device (autodiff included).
    pub fn input(&self, x: Tensor<2>, gates: usize) -> Tensor<2> {
        scaled(x, gates, &self.input_gain)
    }

    /// The same with the hidden part's gain.
    pub fn hidden(&self, x: Tensor<2>, gates: usize) -> Tensor<2> {
        scaled(x, gates, &self.hidden_gain)
    }
}

/// `LN(x)·gain`, per block of `x` `[B, blocks·H]`.
pub(crate) fn scaled(x: Tensor<2>, blocks: usize, gain: &Tensor<1>) -> Tensor<2> {
    normalize(x, blocks).x_hat * gain.clone().unsqueeze::<2>()
}

impl LayerWeights {
    /// `b_ih + b_hh` (or whichever exists): cells whose parts are summed only ever use the
    /// two biases summed, so they are added once per forward pass rather than once per step.
    pub fn summed_bias(&self) -> Option<Tensor<1>> {
        match (self.input_bias.clone(), self.hidden_bias.clone()) {
            (Some(a), Some(b)) => Some(a + b),
            (a, b) => a.or(b),
        }
    }
}

/// What distinguishes the runs of one layer's directions: the time order, and recurrent
/// dropout's mask (`[B, P]`, one per sequence and layer-direction, the same at every step).
#[derive(Clone, Debug, Default)]
pub(crate) struct Direction {
    pub reverse: bool,
    pub mask: Option<Tensor<2>>,
}

/// How one execution path runs a layer-direction over all steps; the layer stack
/// (`crate::recurrent`) does the rest (layers, directions, dropout) once for every path.
pub(crate) trait DirectionRunner {
    /// A layer's input or output over all steps.
    type Sequence: Clone;

    /// Runs one layer-direction from `start` (backwards in time when `reverse`), with
    /// recurrent dropout's `mask` (`[B, P]`) on the hidden state entering `W_hh` when given.
    /// Returns the outputs in time order and the final state; `None` when this path does not
    /// apply (the stack then falls back to another).
    fn run(
        &self,
        weights: &LayerWeights,
        input: &Self::Sequence,
        start: TensorState,
        direction: Direction,
    ) -> Option<(Self::Sequence, TensorState)>;

    /// The two directions' outputs side by side (`[.., 2H]`).
    fn concat(forward: Self::Sequence, backward: Self::Sequence) -> Self::Sequence;

    /// Dropout on a layer's output.
    fn dropout(dropout: &Dropout, x: Self::Sequence) -> Self::Sequence;
}
