//! Recurrent networks (Elman RNN, LSTM, GRU) for Burn: the three burn-rnn crates under one name.
//!
//! - [`model`] ([burn-rnn-model](https://docs.rs/burn-rnn-model)): `RecurrentConfig` and
//!   `Recurrent` with PyTorch's semantics, `SequenceModel` (recurrent stack and output head),
//!   PyTorch weight import and export.
//! - [`data`] ([burn-rnn-data](https://docs.rs/burn-rnn-data)): `N × T × D` sequence datasets
//!   from memory, CSV files, sliding windows and generators; normalisation, padding, splits and
//!   a batcher for Burn's `DataLoader`.
//! - [`train`] ([burn-rnn-train](https://docs.rs/burn-rnn-train)): `train` on burn-train's
//!   `Learner`, `Predictor`, run directories, the backend chosen at run time, plots.
//!
//! Cargo features `flex`, `ndarray`, `wgpu` (all three default) and `cuda` choose the backends
//! compiled in. The package also holds the `burn-rnn` command line (`burn-rnn inspect`, `train`,
//! `evaluate`, `predict`: a CSV file to a trained, evaluated model without code) and the
//! examples.

#![warn(missing_docs)]

pub use burn_rnn_data as data;
pub use burn_rnn_model as model;
pub use burn_rnn_train as train;
