//! Where a run's data is kept: in memory, or for big files on disk, converted once into the run
//! directory (forecasting windows as an [`OnDiskDataset`], sequences as [`OnDiskSequences`]).

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use burn_rnn_data::{
    ON_DISK_THRESHOLD_BYTES, OnDiskDataset, OnDiskSequences, SequenceSource, Task,
};

use super::TrainSpec;
use crate::artifacts::{RunDir, io_error};
use crate::error::Result;

/// Where the windows of a run are kept, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Storage {
    /// Read into memory (every sample held).
    Memory {
        /// Why, in words.
        reason: String,
    },
    /// Converted once into the run directory and read lazily ([`OnDiskDataset`],
    /// [`OnDiskSequences`]).
    OnDisk {
        /// Why, in words.
        reason: String,
    },
}

impl fmt::Display for Storage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Storage::Memory { reason } => write!(f, "in memory ({reason})"),
            Storage::OnDisk { reason } => write!(f, "on disk ({reason})"),
        }
    }
}

/// The on-disk file of the training data's forecasting windows in a run directory.
pub const ON_DISK_TRAIN_FILE: &str = "data.windows";
/// The on-disk file of a separate validation file's forecasting windows in a run directory.
pub const ON_DISK_VALID_FILE: &str = "valid.windows";
/// The on-disk file of the training data's sequences (classification, regression).
pub const ON_DISK_TRAIN_SEQUENCES: &str = "data.sequences";
/// The on-disk file of a separate validation file's sequences.
pub const ON_DISK_VALID_SEQUENCES: &str = "valid.sequences";

/// Decides where `spec`'s data is kept: `on_disk` when set, otherwise on disk for files of at
/// least [`ON_DISK_THRESHOLD_BYTES`].
pub(super) fn storage(spec: &TrainSpec) -> Result<Storage> {
    Ok(match spec.on_disk {
        Some(true) => Storage::OnDisk {
            reason: "--on-disk".into(),
        },
        Some(false) => Storage::Memory {
            reason: "--in-memory".into(),
        },
        None => {
            let (big, size) = is_big(&spec.data)?;
            match big {
                true => Storage::OnDisk {
                    reason: format!("{size}, at least the {}", threshold()),
                },
                false => Storage::Memory {
                    reason: format!("{size}, below the {}", threshold()),
                },
            }
        }
    })
}

/// The threshold, in words.
fn threshold() -> String {
    format!("{:.0} MiB threshold", mib(ON_DISK_THRESHOLD_BYTES))
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1u64 << 20) as f64
}

/// Whether `path` is at least [`ON_DISK_THRESHOLD_BYTES`] long, with its size in words.
pub(super) fn is_big(path: &Path) -> Result<(bool, String)> {
    let len = std::fs::metadata(path)
        .map_err(|e| io_error(path, e))?
        .len();
    Ok((
        len >= ON_DISK_THRESHOLD_BYTES,
        format!("{:.1} MiB of CSV", mib(len)),
    ))
}

/// Converts the training file (and a validation file) into `dir` unless converted already,
/// and returns the training and validation data: the validation file's, or the in-memory
/// split sample for sample (the last `valid_fraction` of each series for forecasting, a
/// random `valid_fraction` of the sequences otherwise).
pub(super) fn on_disk_sets(
    spec: &TrainSpec,
    dir: &RunDir,
) -> Result<(Arc<dyn SequenceSource>, Arc<dyn SequenceSource>)> {
    if spec.columns.task != Task::Forecast {
        return sequence_sets(spec, dir);
    }
    let open = |csv: &Path, name: &str| -> Result<OnDiskDataset> {
        Ok(OnDiskDataset::open_or_convert(csv, &spec.columns, &dir.file(name))?.0)
    };
    let data = open(&spec.data, ON_DISK_TRAIN_FILE)?;
    Ok(match &spec.valid {
        Some(path) => (Arc::new(data), Arc::new(open(path, ON_DISK_VALID_FILE)?)),
        None => {
            let (train, valid) = data.chronological_split(spec.valid_fraction)?;
            (Arc::new(train), Arc::new(valid))
        }
    })
}

/// [`on_disk_sets`] for classification and regression: a validation file's labels are mapped
/// onto the training classes, as in memory.
fn sequence_sets(
    spec: &TrainSpec,
    dir: &RunDir,
) -> Result<(Arc<dyn SequenceSource>, Arc<dyn SequenceSource>)> {
    let open = |csv: &Path, classes: Option<&[String]>, name: &str| -> Result<OnDiskSequences> {
        Ok(OnDiskSequences::open_or_convert(csv, &spec.columns, classes, &dir.file(name))?.0)
    };
    let data = open(&spec.data, None, ON_DISK_TRAIN_SEQUENCES)?;
    Ok(match &spec.valid {
        Some(path) => {
            let classes =
                (spec.columns.task == Task::Classify).then(|| data.target_names().to_vec());
            let valid = open(path, classes.as_deref(), ON_DISK_VALID_SEQUENCES)?;
            (Arc::new(data), Arc::new(valid))
        }
        None => {
            let (train, valid) = data.random_split(spec.valid_fraction, spec.training.seed)?;
            (Arc::new(train), Arc::new(valid))
        }
    })
}
