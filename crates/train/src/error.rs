//! The one error type of the train crate.

use std::path::PathBuf;

/// Everything that can go wrong while training, saving, loading or predicting.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// `--device` named a backend this package does not know.
    #[error("unknown device `{requested}`; this build has: {available}")]
    UnknownBackend {
        /// What the user asked for.
        requested: String,
        /// The backends compiled in, comma-separated.
        available: String,
    },

    /// The backend exists but was not compiled into this build.
    #[error(
        "device `{requested}` is not compiled into this build (enable the cargo feature `{requested}`); this build has: {available}"
    )]
    BackendNotCompiled {
        /// What the user asked for.
        requested: String,
        /// The backends compiled in, comma-separated.
        available: String,
    },

    /// The backend is compiled in, but no adapter (GPU or driver) could be opened.
    #[error(
        "no {backend} adapter found: {reason} (on Linux without a GPU, install a Vulkan driver such as Mesa's lavapipe: apt-get install mesa-vulkan-drivers; with an NVIDIA GPU, its Vulkan driver also needs the Vulkan loader and libglvnd (what an H200 without them needed: apt-get install libvulkan1 libglvnd0 libglx0 libgl1 libegl1 libgles2 libopengl0))"
    )]
    NoAdapter {
        /// Which backend.
        backend: String,
        /// What the runtime said.
        reason: String,
    },

    /// The model crate rejected a config, shape or weight file.
    #[error(transparent)]
    Model(#[from] burn_rnn_model::ModelError),

    /// The data crate rejected the data.
    #[error(transparent)]
    Data(#[from] burn_rnn_data::DataError),

    /// A file or directory of a run could not be read or written.
    #[error("{path}: {message}")]
    Io {
        /// The file at fault.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },

    /// Training diverged: a loss or a gradient stopped being finite.
    #[error(
        "training diverged at epoch {epoch}, batch {batch}: the {what} became {value}. Try a smaller learning rate (now {learning_rate}) or a tighter gradient clipping norm; {}",
        last_good_words(*last_good, checkpoint_dir)
    )]
    Diverged {
        /// The epoch (1-based) in which it happened.
        epoch: usize,
        /// The batch of that epoch (1-based) at which it happened.
        batch: usize,
        /// Which quantity: `training loss`, `validation loss`, or `gradient norm (...)`.
        what: String,
        /// Its value (NaN or inf).
        value: f64,
        /// The learning rate in use.
        learning_rate: f64,
        /// The epoch of the last good checkpoint, which is kept; `None` when no epoch had ended.
        last_good: Option<usize>,
        /// The checkpoint directory.
        checkpoint_dir: PathBuf,
    },

    /// `resume` was asked for but the run directory holds no complete checkpoint.
    #[error(
        "nothing to resume in {}: {reason}; train without resume (--resume) to start a fresh run",
        dir.display()
    )]
    NothingToResume {
        /// The run directory.
        dir: PathBuf,
        /// What was found instead.
        reason: String,
    },

    /// The run directory's checkpoint was made by another run: other settings or other data.
    #[error(
        "cannot resume {}: {what}; resume with the same settings and data, or train without resume to start afresh",
        dir.display()
    )]
    ResumeMismatch {
        /// The run directory.
        dir: PathBuf,
        /// What differs.
        what: String,
    },

    /// burn-train reported a failure (data loading, checkpointing, workers).
    #[error("training failed: {0}")]
    Training(String),

    /// A configuration value is invalid.
    #[error("invalid training config: {0}")]
    InvalidConfig(String),

    /// Data or a model handed to a prediction, report, baseline or diagnostic does not fit it
    /// (the message says what was expected).
    #[error("invalid input: {0}")]
    InvalidInput(String),
}

/// How a divergence message names the checkpoint that survives.
fn last_good_words(last_good: Option<usize>, dir: &std::path::Path) -> String {
    match last_good {
        Some(epoch) => format!(
            "the last good checkpoint (epoch {epoch}) is kept in {}",
            dir.display()
        ),
        None => "no epoch had ended, so there is no checkpoint to go back to".into(),
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = TrainError> = std::result::Result<T, E>;
