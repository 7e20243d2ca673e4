//! The directory of a training run: everything needed to reproduce it and to predict with it.
//!
//! ```text
//! <dir>/training.json    TrainingConfig (model config, objective, optimiser settings)
//! <dir>/schema.json      the data's shape, target kind and names
//! <dir>/normalizer.json  statistics the inputs (and regression targets) were scaled with
//! <dir>/model.bpk        the trained weights (Burnpack, burn-store)
//! <dir>/metrics.csv      loss (and accuracy) per epoch, training and validation
//! <dir>/checkpoints/checkpoint/  per-epoch checkpoints (resume): model-<e>.bpk, optim-<e>.bpk,
//!                        scheduler-<e>.bpk and the manifest epoch-<e>.json that commits them
//! <dir>/*.png            plots
//! ```
//!
//! Every file is written atomically (a temporary file, `fsync`, rename, `fsync` of the
//! directory): a crash leaves the old version or the new one, never a torn file.

use std::fs;
use std::path::{Path, PathBuf};

use burn::tensor::Device;
use burn_rnn_data::{Normalizer, SequenceSource, TargetKind};
use burn_rnn_model::{RecurrentConfig, SequenceModel};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::config::TrainingConfig;
use crate::error::{Result, TrainError};

/// The data a model was trained on, as far as prediction needs to know it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataSchema {
    /// T, steps per (padded) sequence.
    pub num_steps: usize,
    /// D, features per step.
    pub num_features: usize,
    /// What is predicted and its size.
    pub target_kind: TargetKind,
    /// The D feature names, in column order.
    pub feature_names: Vec<String>,
    /// The K target names, or the class names.
    pub target_names: Vec<String>,
}

impl DataSchema {
    /// The schema of a dataset, in memory or on disk.
    pub fn of(dataset: &dyn SequenceSource) -> Self {
        Self {
            num_steps: dataset.num_steps(),
            num_features: dataset.num_features(),
            target_kind: dataset.target_kind(),
            feature_names: dataset.feature_names().to_vec(),
            target_names: dataset.target_names().to_vec(),
        }
    }
}

/// Paths inside a run directory.
///
/// ```
/// use std::path::Path;
///
/// use burn_rnn_train::RunDir;
///
/// let run = RunDir::new("artifacts/vitals");
/// assert_eq!(run.weights(), Path::new("artifacts/vitals/model.bpk"));
/// assert_eq!(run.file("loss.png"), Path::new("artifacts/vitals/loss.png"));
///
/// // Opening a directory that holds no finished run names the missing file.
/// let empty = tempfile::tempdir()?;
/// let err = RunDir::open(empty.path()).unwrap_err().to_string();
/// assert!(err.contains("training.json"), "{err}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct RunDir {
    root: PathBuf,
}

impl RunDir {
    /// A run directory at `root` (created when something is written).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// An existing run directory: fails with a clear message when it or its files are missing.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let dir = Self::new(root);
        if !dir.root.is_dir() {
            return Err(TrainError::Io {
                path: dir.root.clone(),
                message: "no such run directory (train a model first, or check the path)".into(),
            });
        }
        for file in [
            dir.training_config(),
            dir.schema(),
            dir.normalizer(),
            dir.weights(),
        ] {
            if !file.is_file() {
                return Err(TrainError::Io {
                    path: file,
                    message: "missing from the run directory; was the training run completed?"
                        .into(),
                });
            }
        }
        Ok(dir)
    }

    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `training.json`.
    pub fn training_config(&self) -> PathBuf {
        self.root.join("training.json")
    }

    /// `schema.json`.
    pub fn schema(&self) -> PathBuf {
        self.root.join("schema.json")
    }

    /// `normalizer.json`.
    pub fn normalizer(&self) -> PathBuf {
        self.root.join("normalizer.json")
    }

    /// `model.bpk`.
    pub fn weights(&self) -> PathBuf {
        self.root.join("model.bpk")
    }

    /// `metrics.csv`.
    pub fn metrics(&self) -> PathBuf {
        self.root.join("metrics.csv")
    }

    /// `checkpoints/`: the per-epoch checkpoints, under `checkpoints/checkpoint/`.
    pub fn checkpoints(&self) -> PathBuf {
        self.root.join("checkpoints")
    }

    /// A file in the run directory (plots, reports).
    pub fn file(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// Creates the directory (and parents).
    pub fn create(&self) -> Result<()> {
        fs::create_dir_all(&self.root).map_err(|e| io_error(&self.root, e))
    }

    /// Writes the configs, schema and normalizer of a run.
    pub fn write_setup(
        &self,
        config: &TrainingConfig,
        schema: &DataSchema,
        normalizer: &Normalizer,
    ) -> Result<()> {
        self.create()?;
        write_json(&self.training_config(), config)?;
        write_json(&self.schema(), schema)?;
        write_json(&self.normalizer(), normalizer)
    }

    /// Reads the training config. A file written before an option of `RecurrentConfig`
    /// existed (recurrent dropout, projections, layer norm came later) gets that option's
    /// default, which is what such a run trained with; the sizes must be there.
    pub fn read_training_config(&self) -> Result<TrainingConfig> {
        let path = self.training_config();
        let mut value: serde_json::Value = read_json(&path)?;
        if let Some(recurrent) = value
            .pointer_mut("/model/recurrent")
            .and_then(serde_json::Value::as_object_mut)
        {
            let defaults = serde_json::to_value(RecurrentConfig::new(1, 1))
                .expect("a config serialises to JSON");
            for (key, default) in defaults.as_object().into_iter().flatten() {
                if !["d_input", "d_hidden"].contains(&key.as_str()) {
                    recurrent.entry(key).or_insert_with(|| default.clone());
                }
            }
        }
        serde_json::from_value(value).map_err(|e| TrainError::Io {
            path,
            message: format!("not a valid file of this kind: {e}"),
        })
    }

    /// Reads the data schema.
    pub fn read_schema(&self) -> Result<DataSchema> {
        read_json(&self.schema())
    }

    /// Reads the normalizer, checking its values (finite offsets, positive finite scales, as
    /// many as the features and targets).
    pub fn read_normalizer(&self) -> Result<Normalizer> {
        let path = self.normalizer();
        let text = fs::read_to_string(&path).map_err(|e| io_error(&path, e))?;
        Normalizer::from_json(&text).map_err(|e| TrainError::Io {
            path,
            message: e.to_string(),
        })
    }

    /// Saves the trained weights.
    pub fn write_model(&self, model: &SequenceModel) -> Result<()> {
        self.create()?;
        model.save(self.weights())?;
        Ok(())
    }

    /// Builds the model from `training.json` and loads `model.bpk` into it; a config that does
    /// not match the weights is an error naming the tensor.
    pub fn read_model(&self, device: &Device) -> Result<SequenceModel> {
        let config = self.read_training_config()?;
        Ok(SequenceModel::load(&config.model, self.weights(), device)?)
    }
}

/// Writes `value` as pretty JSON, atomically.
pub(crate) fn write_json(path: &Path, value: &impl Serialize) -> Result<()> {
    let json = serde_json::to_string_pretty(value).map_err(|e| TrainError::Io {
        path: path.to_path_buf(),
        message: format!("cannot serialise: {e}"),
    })?;
    burn_rnn_io::write_atomic(path, json.as_bytes()).map_err(|e| io_error(path, e))
}

/// Reads JSON, naming the file and the problem on failure.
pub(crate) fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let text = fs::read_to_string(path).map_err(|e| io_error(path, e))?;
    serde_json::from_str(&text).map_err(|e| TrainError::Io {
        path: path.to_path_buf(),
        message: format!("not a valid file of this kind: {e}"),
    })
}

/// An I/O error with its path.
pub(crate) fn io_error(path: &Path, error: std::io::Error) -> TrainError {
    TrainError::Io {
        path: path.to_path_buf(),
        message: error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use burn_rnn_model::{CellKind, SequenceModelConfig};

    use super::*;
    use crate::task::Objective;

    /// A `training.json` written before recurrent dropout, projections and layer norm existed
    /// reads as the run it was: those options at their defaults. Without its sizes it is an
    /// error naming the missing field.
    #[test]
    fn training_configs_without_later_options_read_with_their_defaults() {
        let recurrent = RecurrentConfig::new(3, 16).with_cell(CellKind::Gru);
        let config = TrainingConfig::new(
            SequenceModelConfig::new(recurrent, 2),
            Objective::Classification,
        );
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::new(dir.path());
        let mut json = serde_json::to_value(&config).unwrap();
        let fields = json.pointer_mut("/model/recurrent").unwrap();
        let fields = fields.as_object_mut().unwrap();
        for later in ["recurrent_dropout", "proj_size", "layer_norm"] {
            assert!(fields.remove(later).is_some(), "{later}");
        }
        fs::write(run.training_config(), json.to_string()).unwrap();
        let read = run.read_training_config().unwrap();
        assert_eq!(
            serde_json::to_value(&read).unwrap(),
            serde_json::to_value(&config).unwrap()
        );

        json.pointer_mut("/model/recurrent")
            .and_then(serde_json::Value::as_object_mut)
            .unwrap()
            .remove("d_hidden");
        fs::write(run.training_config(), json.to_string()).unwrap();
        let error = run.read_training_config().unwrap_err().to_string();
        assert!(error.contains("d_hidden"), "{error}");
    }
}
