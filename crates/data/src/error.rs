//! The one error type of the data crate.

use std::path::PathBuf;

/// Everything that can be wrong with data handed to this crate. Each message says what and where.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A file could not be opened, read or written.
    #[error("{path}: {message}")]
    Io {
        /// The file at fault.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },

    /// A CSV file is malformed or does not fit the requested layout.
    #[error("{path}, line {line}{}: {message}", column.as_ref().map(|c| format!(", column `{c}`")).unwrap_or_default())]
    Csv {
        /// The file at fault.
        path: PathBuf,
        /// 1-based line number in the file (the header is line 1).
        line: u64,
        /// The column at fault, when there is one.
        column: Option<String>,
        /// What is wrong.
        message: String,
    },

    /// Sample values or targets do not have the shape the dataset expects.
    #[error("shape mismatch in {what}: expected {expected}, got {actual}")]
    Shape {
        /// Which sample or buffer (e.g. `sample 3 (id "p17")`).
        what: String,
        /// The expected shape, in words.
        expected: String,
        /// What was given, in words.
        actual: String,
    },

    /// A value is NaN or infinite.
    #[error("non-finite value {value} in {what}")]
    NonFinite {
        /// Where (sample, step, feature or target).
        what: String,
        /// The offending value.
        value: f32,
    },

    /// There is nothing to work with (no samples, an empty split, an empty file).
    #[error("empty: {0}")]
    Empty(String),

    /// A parameter is out of range (window longer than the series, zero batch size, ...).
    #[error("invalid parameter: {0}")]
    InvalidParameter(String),
}

/// Shorthand for results of this crate.
pub type Result<T, E = DataError> = std::result::Result<T, E>;
