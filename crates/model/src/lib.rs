//! Recurrent networks for Burn with PyTorch's semantics: Elman RNN (tanh, relu, sigmoid), LSTM and
//! GRU behind one API, stacked and bidirectional, with masks for padded batches, an output head
//! for many-to-one and many-to-many tasks, streaming steps, and PyTorch weight interchange; and
//! beyond PyTorch's modules: LSTM projections (`proj_size`, which PyTorch has too), recurrent
//! (variational) dropout, layer-normalised cells, and minGRU/minLSTM run as a parallel scan.
//!
//! ```no_run
//! use burn::tensor::{Device, Tensor};
//! use burn_rnn_model::{CellKind, RecurrentConfig, SequenceModelConfig};
//!
//! # fn main() -> burn_rnn_model::Result<()> {
//! let device = Device::default();
//! // 3 vitals per hour → 32 hidden units → next hour's 3 vitals.
//! let config = SequenceModelConfig::new(
//!     RecurrentConfig::new(3, 32).with_cell(CellKind::Lstm),
//!     3,
//! );
//! let model = config.init(&device)?;
//! let x = Tensor::<3>::zeros([100, 24, 3], &device); // N × T × D
//! let y = model.forward_many_to_one(x, None)?; // [100, 3]
//! # Ok(()) }
//! ```
//!
//! Cargo features `flex` (default), `ndarray`, `wgpu` and `cuda` turn on the fused recurrence
//! (one autodiff operation per layer with a hand-written backward pass; native loops on flex,
//! CubeCL kernels on wgpu and cuda) for tensors on those backends; `autodiff` (default) is
//! needed for it to train. Tensors on other backends take the step-by-step path, which gives the
//! same numbers more slowly.
//!
//! Inside: `cells/` defines each cell once (its tensor step, its native row kernels and its GPU
//! unit functions, behind one trait), `drivers/` runs the time loop once per execution path
//! (step by step, tensor scan, native scan, GPU scan, the autodiff operation), `recurrent/` is
//! the layer stack and its API.

mod cells;
mod drivers;
mod error;
mod head;
mod import;
mod persist;
mod recurrent;
#[cfg(test)]
mod testing;

pub use cells::{CellKind, ElmanActivation};
#[cfg(feature = "remote")]
pub use drivers::remote_scans_sent;
#[cfg(feature = "remote-server")]
pub use drivers::with_scan_ops;
pub use drivers::{
    InferencePrecision, gpu_kernel_launches, inference_precision, set_gpu_kernels,
    set_inference_precision,
};
pub use error::{ModelError, Result};
pub use head::{SequenceModel, SequenceModelConfig};
pub use import::TensorFile;
pub use persist::{load_weights, load_weights_from_bytes, save_weights};
pub use recurrent::{
    LayerNorms, Recurrent, RecurrentConfig, RecurrentLayer, RecurrentOutput, RecurrentState,
};

/// The README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
