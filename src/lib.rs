//! Recurrent networks for Burn.
pub use burn_rnn_data as data;
pub use burn_rnn_model as model;
pub use burn_rnn_train as train;
