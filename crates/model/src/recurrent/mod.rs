//! The recurrent stack: layers, directions, masks and initial states, for every cell.
//!
//! Semantics are PyTorch's `nn.RNN/LSTM/GRU(batch_first=True)`: input `[B, T, D]`, output
//! `[B, T, dirs·H]`, final state `[layers·dirs, B, H]` (`P` for `H` in both under an LSTM
//! projection, `proj_size`); with `lengths`, padded steps leave the state untouched and output
//! zeros, as `pack_padded_sequence` does.
//!
//! Two paths compute the same numbers, through one layer-stack driver (`stack.rs`):
//! [`Recurrent::forward`] runs each layer-direction as one fused scan (one autodiff operation
//! with a hand-written backward pass; native loops on flex), and
//! [`Recurrent::forward_step_by_step`] is the reference, a loop over steps that Burn
//! differentiates op by op, which `forward` falls back to on backends the fused scan does not
//! cover.

mod config;
mod module;
mod stack;
mod state;

pub use config::RecurrentConfig;
pub use module::{LayerNorms, Recurrent, RecurrentLayer};
pub use state::{RecurrentOutput, RecurrentState};
