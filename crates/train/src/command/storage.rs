//! Where a run's data is kept: in memory, or for big forecasting files on disk
//! ([`OnDiskDataset`]), converted once into the run directory.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use burn_rnn_data::{ON_DISK_THRESHOLD_BYTES, OnDiskDataset, SequenceSource, Task};

use super::TrainSpec;
use crate::artifacts::{RunDir, io_error};
use crate::error::{Result, TrainError};

/// Where the windows of a run are kept, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Storage {
    /// Read into memory (every sample held).
    Memory {
        /// Why, in words.
        reason: String,
    },
    /// Converted once into the run directory and read lazily ([`OnDiskDataset`]).
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

/// The on-disk file of the training data in a run directory.
pub const ON_DISK_TRAIN_FILE: &str = "data.windows";
/// The on-disk file of a separate validation file in a run directory.
pub const ON_DISK_VALID_FILE: &str = "valid.windows";

/// Decides where `spec`'s data is kept: `on_disk` when set, otherwise on disk for forecasting
/// files of at least [`ON_DISK_THRESHOLD_BYTES`].
pub(super) fn storage(spec: &TrainSpec) -> Result<Storage> {
    let forecast = spec.columns.task == Task::Forecast;
    let mib = |bytes: u64| bytes as f64 / (1u64 << 20) as f64;
    let threshold = mib(ON_DISK_THRESHOLD_BYTES);
    match spec.on_disk {
        Some(true) if !forecast => Err(TrainError::InvalidConfig(format!(
            "--on-disk keeps forecasting windows on disk; the task `{}` reads its sequences into \
             memory",
            spec.columns.task
        ))),
        Some(true) => Ok(Storage::OnDisk {
            reason: "--on-disk".into(),
        }),
        Some(false) => Ok(Storage::Memory {
            reason: "--in-memory".into(),
        }),
        None => {
            let len = std::fs::metadata(&spec.data)
                .map_err(|e| io_error(&spec.data, e))?
                .len();
            let size = format!("{:.1} MiB", mib(len));
            Ok(if !forecast {
                Storage::Memory {
                    reason: format!("{size}; only forecasting windows are kept on disk"),
                }
            } else if len >= ON_DISK_THRESHOLD_BYTES {
                Storage::OnDisk {
                    reason: format!("{size} of CSV, at least the {threshold:.0} MiB threshold"),
                }
            } else {
                Storage::Memory {
                    reason: format!("{size} of CSV, below the {threshold:.0} MiB threshold"),
                }
            })
        }
    }
}

/// Converts the training file (and a validation file) into `dir` unless converted already,
/// and returns the training and validation windows: the validation file's, or the last
/// `valid_fraction` of each series (the in-memory split, window for window).
pub(super) fn on_disk_sets(
    spec: &TrainSpec,
    dir: &RunDir,
) -> Result<(Arc<dyn SequenceSource>, Arc<dyn SequenceSource>)> {
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
