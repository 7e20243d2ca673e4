//! The one error type of the model crate.

use std::path::PathBuf;

/// Everything that can go wrong at a boundary the user touches: configs, input shapes, weight files.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A configuration value is out of range (zero sizes, dropout outside `[0, 1)`, ...).
    #[error("invalid config: {0}")]
    InvalidConfig(String),

    /// A tensor given to the model does not have the shape the model expects.
    #[error("shape mismatch for {tensor}: expected {expected}, got {actual:?}")]
    Shape {
        /// Which tensor (e.g. `input`, `initial hidden state`).
        tensor: String,
        /// The expected shape, in words (e.g. `[batch, time, 3]`).
        expected: String,
        /// The shape that was given.
        actual: Vec<usize>,
    },

    /// Sequence lengths that do not fit the batch (wrong count, zero, longer than the time axis).
    #[error("invalid lengths: {0}")]
    Lengths(String),

    /// The operation is not defined for this model (e.g. streaming a bidirectional network).
    #[error("unsupported: {0}")]
    Unsupported(String),

    /// A weight file could not be read or written.
    #[error("{path}: {message}")]
    File {
        /// The file at fault.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },

    /// A weight file is readable but its tensors do not fit the module.
    #[error("{path}: tensor `{name}`: {message}")]
    Weights {
        /// The file at fault.
        path: PathBuf,
        /// The tensor name in the file (PyTorch naming).
        name: String,
        /// What is wrong with it (missing, unexpected, wrong shape or dtype).
        message: String,
    },
}

/// Shorthand for results of this crate.
pub type Result<T, E = ModelError> = std::result::Result<T, E>;

/// Returns a shape error unless `actual` equals `expected` (where `None` accepts any size).
pub(crate) fn check_shape(
    tensor: &str,
    actual: &[usize],
    expected: &[Option<usize>],
) -> Result<()> {
    let fits = actual.len() == expected.len()
        && actual
            .iter()
            .zip(expected)
            .all(|(a, e)| e.is_none_or(|e| e == *a));
    if fits {
        return Ok(());
    }
    let words: Vec<String> = expected
        .iter()
        .map(|e| e.map_or_else(|| "_".to_string(), |e| e.to_string()))
        .collect();
    Err(ModelError::Shape {
        tensor: tensor.to_string(),
        expected: format!("[{}]", words.join(", ")),
        actual: actual.to_vec(),
    })
}
