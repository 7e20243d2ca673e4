//! The library behind the `burn-rnn` command line: a user's CSV file to a trained, evaluated
//! model without writing code.
//!
//! - [`TrainSpec`]: every setting of `burn-rnn train` (data file, columns and task, model,
//!   training), saved in the run as `train.toml` and reloadable; [`TrainSpec::train`] runs it.
//! - [`evaluate_run`]: a run's scores on a file against naive baselines, `metrics.json` and plots.
//! - [`predict_file`]: a run's predictions for a file, as CSV records.
//!
//! A run directory written this way also holds `data.json` ([`RunData`]): how files are read
//! for it and the training classes' counts, so `evaluate` and `predict` read new files exactly
//! as training read its own.

mod chunked;
mod evaluate;
mod forecast_scores;
mod predict;
mod run;
mod storage;

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use burn_rnn_data::{DataSpec, SequenceSource, SpecData, Task};
use burn_rnn_model::{CellKind, RecurrentConfig};
use serde::{Deserialize, Serialize};

pub use evaluate::{EvaluateOptions, RunEvaluation, evaluate_run};
pub use predict::{PredictOptions, PredictionTable, predict_each, predict_file};
pub use run::{RunData, default_run_dir};
pub use storage::{
    ON_DISK_TRAIN_FILE, ON_DISK_TRAIN_SEQUENCES, ON_DISK_VALID_FILE, ON_DISK_VALID_SEQUENCES,
    Storage,
};

use run::class_counts;

use crate::artifacts::{RunDir, io_error, write_json};
use crate::config::TrainingConfig;
use crate::device::{check_device_name, open_device, open_devices, parse_device_list};
use crate::error::{Result, TrainError};
use crate::learner::{TrainOptions, TrainedRun, train_on_devices};

/// The model of a [`TrainSpec`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelSpec {
    /// The cell: `elman` (tanh), `elman-relu`, `elman-sigmoid`, `lstm` or `gru`.
    pub cell: String,
    /// Hidden units per layer and direction.
    pub hidden: usize,
    /// Stacked layers.
    pub layers: usize,
    /// Read each sequence forwards and backwards.
    pub bidirectional: bool,
    /// Dropout between layers, in [0, 1).
    pub dropout: f64,
}

/// The optimisation settings of a [`TrainSpec`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingSpec {
    /// Maximum passes over the training data.
    pub epochs: usize,
    /// Sequences per batch.
    pub batch_size: usize,
    /// Adam's initial learning rate (cosine-annealed).
    pub lr: f64,
    /// Stop after this many epochs without a better validation loss (absent: never).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patience: Option<usize>,
    /// Seed of the weights, the shuffling and the validation split.
    pub seed: u64,
}

impl Default for ModelSpec {
    fn default() -> Self {
        Self {
            cell: "gru".into(),
            hidden: 32,
            layers: 1,
            bidirectional: false,
            dropout: 0.0,
        }
    }
}

impl Default for TrainingSpec {
    fn default() -> Self {
        Self {
            epochs: 40,
            batch_size: 32,
            lr: 1e-2,
            patience: Some(10),
            seed: 42,
        }
    }
}

/// Every setting of one `burn-rnn train` run. Written to the run as `train.toml`;
/// `burn-rnn train --config <run>/train.toml` (or a JSON file) runs it again.
///
/// ```
/// # use burn_rnn_data::{DataHints, inspect_csv};
/// # use burn_rnn_train::{Progress, TrainOptions, TrainSpec};
/// let dir = tempfile::tempdir()?;
/// let data = dir.path().join("vitals.csv");
/// let mut csv = String::from("id,time,hr,label\n");
/// for p in 0..20 {
///     let (label, hr) = if p % 2 == 0 { ("sick", 110) } else { ("well", 70) };
///     for t in 0..4 {
///         csv += &format!("p{p},{t},{},{label}\n", hr + t);
///     }
/// }
/// std::fs::write(&data, csv)?;
/// let columns = inspect_csv(&data, &DataHints::default())?.spec;
/// let mut spec = TrainSpec::new(&data, columns, dir.path().join("run"));
/// spec.training.epochs = 2;
/// let quiet = TrainOptions { progress: Progress::Silent, ..TrainOptions::default() };
/// let outcome = spec.train(quiet)?;
/// assert_eq!(outcome.run.history.len(), 2);
/// // The run can be trained again from its saved settings.
/// let again = TrainSpec::load(&dir.path().join("run/train.toml"))?;
/// assert_eq!(again, spec);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainSpec {
    /// The training file.
    pub data: PathBuf,
    /// A validation file; without one, `valid_fraction` of the training file validates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid: Option<PathBuf>,
    /// The share of sequences held out for validation (random by sequence; for forecasting the
    /// last share of each series).
    pub valid_fraction: f64,
    /// The run directory.
    pub out: PathBuf,
    /// The backend: flex, ndarray, wgpu or cuda.
    pub device: String,
    /// Several devices for data-parallel training (`--devices`: `flex,flex`, `cuda:0,cuda:1`),
    /// in place of `device`; see [`crate::train_on_devices`] for what each one does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub devices: Option<String>,
    /// How the files are read and what is learned.
    pub columns: DataSpec,
    /// The network.
    pub model: ModelSpec,
    /// The optimisation.
    pub training: TrainingSpec,
    /// Keep the data (windows or sequences) on disk (`true`, `--on-disk`) or in memory
    /// (`false`); absent: on disk for files of at least
    /// [`burn_rnn_data::ON_DISK_THRESHOLD_BYTES`] (see [`TrainSpec::storage`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_disk: Option<bool>,
}

/// What [`TrainSpec::train`] produced.
#[derive(Debug)]
pub struct SpecOutcome {
    /// The trained run (model, history, run directory).
    pub run: TrainedRun,
    /// The training data, in raw units (in memory or on disk, see [`TrainSpec::storage`]).
    pub train_set: Arc<dyn SequenceSource>,
    /// The validation data, in raw units.
    pub valid_set: Arc<dyn SequenceSource>,
    /// Where the data was kept.
    pub storage: Storage,
}

impl TrainSpec {
    /// Default model and training settings for `data` read with `columns`, into `out`.
    pub fn new(data: impl Into<PathBuf>, columns: DataSpec, out: impl Into<PathBuf>) -> Self {
        Self {
            data: data.into(),
            valid: None,
            valid_fraction: 0.2,
            out: out.into(),
            device: "flex".into(),
            devices: None,
            columns,
            model: ModelSpec::default(),
            training: TrainingSpec::default(),
            on_disk: None,
        }
    }

    /// Where the data will be kept, and why: `on_disk` when set, otherwise on disk for files
    /// of at least [`burn_rnn_data::ON_DISK_THRESHOLD_BYTES`], whatever the task and format.
    pub fn storage(&self) -> Result<Storage> {
        storage::storage(self)
    }

    /// Reads a spec from TOML, or JSON when the file name ends in `.json`; errors name the file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = fs::read_to_string(path).map_err(|e| io_error(path, e))?;
        let bad = |message: String| TrainError::Io {
            path: path.to_path_buf(),
            message: format!("not a valid train config: {message}"),
        };
        if path.extension().is_some_and(|e| e == "json") {
            serde_json::from_str(&text).map_err(|e| bad(e.to_string()))
        } else {
            toml::from_str(&text).map_err(|e| bad(e.to_string()))
        }
    }

    /// Writes the spec as TOML, or JSON when the file name ends in `.json`.
    pub fn save(&self, path: &Path) -> Result<()> {
        if path.extension().is_some_and(|e| e == "json") {
            return write_json(path, self);
        }
        let text = toml::to_string(self).map_err(|e| TrainError::Io {
            path: path.to_path_buf(),
            message: format!("cannot write the train config: {e}"),
        })?;
        fs::write(path, text).map_err(|e| io_error(path, e))
    }

    /// Checks every setting, naming the one at fault, before anything is read or trained.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(TrainError::InvalidConfig(m));
        self.columns.validate()?;
        self.cell()?;
        check_device_name(&self.device)?;
        if let Some(list) = &self.devices {
            parse_device_list(list)?;
        }
        if self.valid.is_none() && !(self.valid_fraction > 0.0 && self.valid_fraction < 1.0) {
            return bad(format!(
                "valid_fraction (--valid-fraction) must be in (0, 1), got {}",
                self.valid_fraction
            ));
        }
        let (m, t) = (&self.model, &self.training);
        let checks = [
            (
                m.hidden >= 1,
                format!("hidden (--hidden) must be at least 1, got {}", m.hidden),
            ),
            (
                m.layers >= 1,
                format!("layers (--layers) must be at least 1, got {}", m.layers),
            ),
            (
                (0.0..1.0).contains(&m.dropout),
                format!("dropout (--dropout) must be in [0, 1), got {}", m.dropout),
            ),
            (
                t.epochs >= 1,
                format!("epochs (--epochs) must be at least 1, got {}", t.epochs),
            ),
            (
                t.batch_size >= 1,
                format!(
                    "batch_size (--batch-size) must be at least 1, got {}",
                    t.batch_size
                ),
            ),
            (
                t.lr > 0.0 && t.lr <= 1.0,
                format!("lr (--lr) must be in (0, 1], got {}", t.lr),
            ),
        ];
        if let Some((_, message)) = checks.into_iter().find(|(ok, _)| !ok) {
            return bad(message);
        }
        self.config_for(1, 1).validate()
    }

    /// The recurrent cell named by `model.cell`.
    fn cell(&self) -> Result<CellKind> {
        self.model
            .cell
            .parse()
            .map_err(|e| TrainError::InvalidConfig(format!("cell: {e}")))
    }

    /// The training config for `features` inputs and `outputs` outputs (classes or values).
    fn config_for(&self, features: usize, outputs: usize) -> TrainingConfig {
        let m = &self.model;
        let recurrent = RecurrentConfig::new(features, m.hidden)
            .with_cell(self.cell().unwrap_or_default())
            .with_num_layers(m.layers)
            .with_bidirectional(m.bidirectional)
            .with_dropout(m.dropout);
        let objective = match self.columns.task {
            Task::Classify => crate::Objective::Classification,
            _ => crate::Objective::Regression,
        };
        let t = &self.training;
        TrainingConfig::new(
            burn_rnn_model::SequenceModelConfig::new(recurrent, outputs),
            objective,
        )
        .with_num_epochs(t.epochs)
        .with_batch_size(t.batch_size)
        .with_learning_rate(t.lr)
        .with_early_stopping_patience(t.patience)
        .with_seed(t.seed)
    }

    /// Reads the data, splits off validation, writes `train.toml` and `data.json` to the run
    /// directory and trains (see [`crate::train`], or [`train_on_devices`] with `devices`).
    pub fn train(&self, options: TrainOptions) -> Result<SpecOutcome> {
        self.validate()?;
        let devices = match &self.devices {
            Some(list) => open_devices(list)?,
            None => vec![open_device(&self.device)?],
        };
        let storage = self.storage()?;
        let dir = RunDir::new(&self.out);
        let (train_set, valid_set) = match storage {
            Storage::Memory { .. } => self.in_memory_sets()?,
            Storage::OnDisk { .. } => {
                dir.create()?;
                storage::on_disk_sets(self, &dir)?
            }
        };
        dir.create()?;
        self.save(&dir.file("train.toml"))?;
        let run_data = RunData {
            columns: self.columns.clone(),
            class_counts: class_counts(&*train_set)?,
            train_samples: train_set.num_samples(),
            valid_samples: valid_set.num_samples(),
        };
        write_json(&dir.file(RunData::FILE), &run_data)?;
        let config = self.config_for(train_set.num_features(), train_set.target_kind().outputs());
        let run = train_on_devices(&config, &*train_set, &*valid_set, &dir, &devices, options)?;
        Ok(SpecOutcome {
            run,
            train_set,
            valid_set,
            storage,
        })
    }

    /// The training and validation data read into memory.
    fn in_memory_sets(&self) -> Result<(Arc<dyn SequenceSource>, Arc<dyn SequenceSource>)> {
        let data: SpecData = self.columns.read(&self.data, None)?;
        Ok(match &self.valid {
            Some(path) => {
                let classes = (self.columns.task == Task::Classify)
                    .then(|| data.dataset.target_names().to_vec());
                let valid = self.columns.read(path, classes.as_deref())?;
                (Arc::new(data.dataset), Arc::new(valid.dataset))
            }
            None => {
                let (train, valid) = data.split(self.valid_fraction, self.training.seed)?;
                (Arc::new(train), Arc::new(valid))
            }
        })
    }
}

impl fmt::Display for TrainSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = &self.model;
        let t = &self.training;
        let c = &self.columns;
        writeln!(
            f,
            "data       {}: {} format, task {}, target {}, {} feature(s)",
            self.data.display(),
            c.format,
            c.task,
            c.targets.join(", "),
            c.features.len()
        )?;
        writeln!(
            f,
            "model      {}, {} hidden × {} layer(s){}, dropout {}",
            m.cell,
            m.hidden,
            m.layers,
            if m.bidirectional {
                ", bidirectional"
            } else {
                ""
            },
            m.dropout
        )?;
        let patience = t
            .patience
            .map_or("none".to_string(), |p| format!("{p} epochs"));
        writeln!(
            f,
            "training   {} epochs at most, batch {}, learning rate {} (cosine), patience {patience}, seed {}, {}",
            t.epochs,
            t.batch_size,
            t.lr,
            t.seed,
            match &self.devices {
                Some(list) => format!("devices {list} (batch {} per device)", t.batch_size),
                None => format!("device {}", self.device),
            }
        )?;
        match &self.valid {
            Some(path) => writeln!(f, "validation {}", path.display())?,
            None => {
                let how = match self.columns.task {
                    Task::Forecast => "the last part of each series, chronologically",
                    _ => "random sequences",
                };
                writeln!(
                    f,
                    "validation {:.0} % of {} ({how})",
                    100.0 * self.valid_fraction,
                    self.data.display()
                )?;
            }
        }
        write!(
            f,
            "run        {} (settings in train.toml)",
            self.out.display()
        )
    }
}

#[cfg(test)]
mod tests {
    use burn_rnn_data::{ForecastWindows, Format};

    use super::*;

    fn spec() -> TrainSpec {
        let columns = DataSpec {
            format: Format::Long,
            id: Some("store".into()),
            time: Some("day".into()),
            features: vec!["promo".into()],
            targets: vec!["sales".into()],
            task: Task::Forecast,
            forecast: Some(ForecastWindows {
                window: 28,
                horizon: 7,
                stride: 1,
            }),
            max_steps: None,
            missing: Default::default(),
        };
        TrainSpec::new("sales.csv", columns, "runs/sales")
    }

    #[test]
    fn round_trips_through_toml_and_json() {
        let dir = tempfile::tempdir().unwrap();
        let spec = spec();
        for name in ["train.toml", "train.json"] {
            let path = dir.path().join(name);
            spec.save(&path).unwrap();
            assert_eq!(TrainSpec::load(&path).unwrap(), spec, "{name}");
        }
        let text = std::fs::read_to_string(dir.path().join("train.toml")).unwrap();
        assert!(
            text.contains("[columns.forecast]") && text.contains("window = 28"),
            "{text}"
        );
        std::fs::write(dir.path().join("bad.toml"), "data = 3").unwrap();
        let err = TrainSpec::load(&dir.path().join("bad.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("bad.toml") && err.contains("not a valid train config"),
            "{err}"
        );
    }

    #[test]
    fn bad_settings_are_named() {
        let mut s = spec();
        s.model.cell = "transformer".into();
        assert!(
            s.validate()
                .unwrap_err()
                .to_string()
                .contains("transformer")
        );
        let mut s = spec();
        s.device = "tpu".into();
        assert!(s.validate().unwrap_err().to_string().contains("tpu"));
        let mut s = spec();
        s.training.lr = 0.0;
        assert!(s.validate().unwrap_err().to_string().contains("--lr"));
        let mut s = spec();
        s.valid_fraction = 1.0;
        assert!(
            s.validate()
                .unwrap_err()
                .to_string()
                .contains("valid_fraction")
        );
        let mut s = spec();
        s.model.hidden = 0;
        assert!(s.validate().unwrap_err().to_string().contains("--hidden"));
    }
}
