//! A [`DataSpec`]: everything needed to read a user's CSV file into a dataset without writing
//! code — format, columns, task, forecast windows, truncation — as the `burn-rnn` command line
//! infers it ([`inspect_csv`](super::inspect_csv)) and saves it with a run, so that evaluation
//! and prediction read new files exactly as training read its own.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::forecast::{ForecastIndex, forecast_inputs, read_forecast, read_forecast_inputs};
use super::layout::{LongCsvLayout, WideCsvLayout, WideFeature};
use super::long::{read_long_csv, read_long_sequences};
use super::missing::MissingValues;
use super::stream::CsvRecords;
use super::table::{Table, open};
use super::targets::CsvTarget;
use super::wide::{read_wide_csv, read_wide_sequences};
use crate::dataset::SequenceDataset;
use crate::error::{DataError, Result};
use crate::pad::Truncation;
use crate::split::{SplitFractions, SplitIndices, random_indices};

/// How a CSV file lays out its sequences.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// One row per sequence and step: an id column, a time column, one column per feature.
    Long,
    /// One row per sequence; each feature's steps in columns `<name>_0, <name>_1, ...`.
    Wide,
}

/// What a model learns from the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Task {
    /// One class per sequence (string or number labels).
    Classify,
    /// One or more real values per sequence.
    Regress,
    /// The next steps of one or more columns from windows of the past (long format).
    Forecast,
}

impl Task {
    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Task::Classify => "classify",
            Task::Regress => "regress",
            Task::Forecast => "forecast",
        }
    }
}

impl Format {
    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Format::Long => "long",
            Format::Wide => "wide",
        }
    }
}

impl fmt::Display for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Task {
    type Err = DataError;

    fn from_str(text: &str) -> Result<Self> {
        match text.to_ascii_lowercase().as_str() {
            "classify" | "classification" => Ok(Task::Classify),
            "regress" | "regression" => Ok(Task::Regress),
            "forecast" | "forecasting" => Ok(Task::Forecast),
            _ => Err(DataError::InvalidParameter(format!(
                "unknown task `{text}`; choose classify, regress or forecast"
            ))),
        }
    }
}

impl FromStr for Format {
    type Err = DataError;

    fn from_str(text: &str) -> Result<Self> {
        match text.to_ascii_lowercase().as_str() {
            "long" => Ok(Format::Long),
            "wide" => Ok(Format::Wide),
            _ => Err(DataError::InvalidParameter(format!(
                "unknown format `{text}`; choose long or wide"
            ))),
        }
    }
}

/// Sliding windows for forecasting: `window` steps in, the next `horizon` steps out, a window
/// every `stride` steps of each series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForecastWindows {
    /// T, the steps the model reads.
    pub window: usize,
    /// H, the steps it forecasts (every one of `1..=H` steps ahead).
    pub horizon: usize,
    /// The distance between consecutive window starts.
    pub stride: usize,
}

/// How to read a CSV file into a dataset, every choice made (see [`inspect_csv`](super::inspect_csv)
/// for how they are inferred). Saved with a run; serialises to JSON and TOML.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataSpec {
    /// Long or wide.
    pub format: Format,
    /// The sequence id column; without one, a long file is one series and a wide file's rows are
    /// numbered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The time column that orders the steps (long format).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    /// The feature columns (long) or feature names whose step columns are `<name>_<t>` (wide).
    pub features: Vec<String>,
    /// The target columns: one class column, or the values to regress or forecast.
    pub targets: Vec<String>,
    /// What is learned.
    pub task: Task,
    /// The windows, for forecasting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forecast: Option<ForecastWindows>,
    /// Keep at most this many (the last) steps of a sequence; longer ones are cut.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_steps: Option<usize>,
    /// What an empty cell means.
    #[serde(default)]
    pub missing: MissingValues,
}

/// A file read with a [`DataSpec`]: the dataset, and for forecasting where each window comes from.
#[derive(Debug, Clone)]
pub struct SpecData {
    /// The samples, in raw units.
    pub dataset: SequenceDataset,
    /// For forecasting: each window's series, times and span.
    pub forecast: Option<ForecastIndex>,
}

/// New sequences to predict on, read with a [`DataSpec`] (targets not needed).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SpecInputs {
    /// One id per sequence (for forecasting, the series).
    pub ids: Vec<String>,
    /// `[N][steps][D]` raw values, sequences of their own lengths.
    pub sequences: Vec<Vec<Vec<f32>>>,
    /// For forecasting: the time of each series' last row and its step between rows, to put
    /// times on the forecast steps.
    pub last_times: Vec<(f64, f64)>,
}

impl DataSpec {
    /// The columns (long) or feature names (wide) the model reads at each step, in order: the
    /// features, and for forecasting also the targets' past values (those not already features).
    pub fn input_names(&self) -> Vec<String> {
        match self.task {
            Task::Forecast => forecast_inputs(self),
            _ => self.features.clone(),
        }
    }

    /// Checks that the choices fit together (a forecast has windows, a wide file no time...),
    /// naming the setting at fault.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(DataError::InvalidParameter(m));
        if self.targets.is_empty() {
            return bad("no target column".into());
        }
        if self.task != Task::Forecast && self.features.is_empty() {
            return bad("no feature columns".into());
        }
        if self.task == Task::Classify && self.targets.len() != 1 {
            return bad(format!(
                "classification takes one target column, got {} ({})",
                self.targets.len(),
                self.targets.join(", ")
            ));
        }
        if self.max_steps == Some(0) {
            return bad("max_steps must be at least 1".into());
        }
        if let Some(t) = self.targets.iter().find(|t| {
            self.task != Task::Forecast && self.features.contains(t)
                || Some(*t) == self.id.as_ref()
                || Some(*t) == self.time.as_ref()
        }) {
            return bad(format!(
                "column `{t}` is a target and also a feature, id or time column"
            ));
        }
        match (self.task, self.forecast) {
            (Task::Forecast, None) => {
                return bad("forecasting needs windows (--window T, --horizon H)".into());
            }
            (Task::Forecast, Some(w)) => {
                if w.window == 0 || w.horizon == 0 || w.stride == 0 {
                    return bad(format!(
                        "window {}, horizon {} and stride {} must each be at least 1",
                        w.window, w.horizon, w.stride
                    ));
                }
                if self.format == Format::Wide {
                    return bad("forecasting reads the long format (one row per step)".into());
                }
            }
            (_, Some(_)) => {
                return bad(format!(
                    "windows (--window) are for forecasting, not for the task `{}`",
                    self.task
                ));
            }
            _ => {}
        }
        if self.format == Format::Long && self.time.is_none() {
            return bad("the long format needs a time column (--time)".into());
        }
        Ok(())
    }

    /// Reads `path` into a dataset. With `classes` (a trained model's class names), labels are
    /// mapped onto them and an unseen label is an error naming its line; otherwise the classes
    /// are the file's labels, sorted.
    pub fn read(&self, path: &Path, classes: Option<&[String]>) -> Result<SpecData> {
        self.validate()?;
        let target = match self.task {
            Task::Classify => match classes {
                Some(labels) => CsvTarget::Class {
                    column: self.targets[0].clone(),
                    labels: Some(labels.to_vec()),
                },
                None => CsvTarget::class(&self.targets[0]),
            },
            Task::Regress => CsvTarget::Regression(self.targets.clone()),
            Task::Forecast => {
                let (dataset, index) = read_forecast(path, self)?;
                return Ok(SpecData {
                    dataset,
                    forecast: Some(index),
                });
            }
        };
        let dataset = match self.format {
            Format::Long => {
                let features: Vec<&str> = self.features.iter().map(String::as_str).collect();
                let layout =
                    LongCsvLayout::new(self.id_column(), self.time_column(), &features, target)
                        .with_missing(self.missing);
                let steps = self.padded_steps(path)?;
                read_long_csv(path, &layout.with_padding(steps, Truncation::KeepLast))?
            }
            Format::Wide => {
                let layout =
                    WideCsvLayout::new(self.id.as_deref(), self.wide_features(path)?, target)
                        .with_missing(self.missing);
                let data = read_wide_csv(path, &layout)?;
                match self.max_steps {
                    Some(max) if max < data.num_steps() => keep_last_steps(&data, max)?,
                    _ => data,
                }
            }
        };
        Ok(SpecData {
            dataset,
            forecast: None,
        })
    }

    /// Reads the sequences of `path` to predict on (no targets needed): for forecasting the last
    /// `window` rows of each series, otherwise every sequence (its last `max_steps` steps).
    pub fn read_inputs(&self, path: &Path) -> Result<SpecInputs> {
        self.validate()?;
        if self.task == Task::Forecast {
            return read_forecast_inputs(path, self);
        }
        let rows = match self.format {
            Format::Wide => {
                read_wide_sequences(path, self.id.as_deref(), self.wide_features(path)?)?
            }
            Format::Long => {
                let columns: Vec<&str> = self.features.iter().map(String::as_str).collect();
                read_long_sequences(path, self.id_column(), self.time_column(), &columns)?
            }
        };
        let (ids, sequences) = rows
            .into_iter()
            .map(|(id, mut steps)| {
                if let Some(keep) = self.max_steps {
                    steps.drain(..steps.len().saturating_sub(keep));
                }
                (id, steps)
            })
            .unzip();
        Ok(SpecInputs {
            ids,
            sequences,
            last_times: Vec::new(),
        })
    }

    /// The long format's id column, or a placeholder naming none (one series).
    pub(super) fn id_column(&self) -> &str {
        self.id.as_deref().unwrap_or("")
    }

    /// The long format's time column (checked present by `validate`).
    pub(super) fn time_column(&self) -> &str {
        self.time.as_deref().unwrap_or("time")
    }

    /// The steps every long-format sequence is padded to: the longest sequence, at most
    /// `max_steps`.
    fn padded_steps(&self, path: &Path) -> Result<usize> {
        let table = Table::read(open(path)?, path.to_path_buf())?;
        let lengths = super::summary::sequence_lengths(&table, self.id.as_deref())?;
        let longest = lengths.into_iter().max().unwrap_or(1);
        Ok(self.max_steps.map_or(longest, |m| m.min(longest)))
    }

    /// The wide features with their step columns `<name>_<t>` found in the header of `path`
    /// (only the header is read).
    pub(super) fn wide_features(&self, path: &Path) -> Result<Vec<WideFeature>> {
        let table = CsvRecords::open(path)?.header_table();
        let groups = super::summary::step_groups(table.headers());
        self.features
            .iter()
            .map(|name| {
                let columns = groups.get(name).ok_or_else(|| {
                    table.error(
                        1,
                        Some(name),
                        format!("no step columns `{name}_0`, `{name}_1`, ... for this feature"),
                    )
                })?;
                let columns: Vec<&str> = columns.iter().map(String::as_str).collect();
                Ok(WideFeature::new(name, &columns))
            })
            .collect()
    }
}

impl SpecData {
    /// Splits off a validation share: random by sequence (seeded), or for forecasting
    /// chronological within each series with no window crossing the cut.
    pub fn split(
        &self,
        valid_fraction: f64,
        seed: u64,
    ) -> Result<(SequenceDataset, SequenceDataset)> {
        if !(valid_fraction > 0.0 && valid_fraction < 1.0) {
            return Err(DataError::InvalidParameter(format!(
                "the validation fraction must be in (0, 1), got {valid_fraction}"
            )));
        }
        let fractions = SplitFractions::train_valid(1.0 - valid_fraction);
        let indices: SplitIndices = match &self.forecast {
            Some(index) => index.chronological_split(fractions)?,
            None => random_indices(self.dataset.len(), fractions, seed)?,
        };
        Ok((
            self.dataset.subset(&indices.train)?,
            self.dataset.subset(&indices.valid)?,
        ))
    }
}

/// The same samples with only their last `steps` valid steps (T becomes `steps`).
fn keep_last_steps(data: &SequenceDataset, steps: usize) -> Result<SequenceDataset> {
    let d = data.num_features();
    let samples = data
        .samples()
        .iter()
        .map(|sample| {
            let skip = sample.length.saturating_sub(steps);
            let mut values = sample.values[skip * d..sample.length * d].to_vec();
            values.resize(steps * d, 0.0);
            crate::SequenceSample {
                values,
                length: sample.length - skip,
                ..sample.clone()
            }
        })
        .collect();
    SequenceDataset::new(samples, steps, d, data.target_kind())?
        .with_feature_names(data.feature_names().to_vec())?
        .with_target_names(data.target_names().to_vec())
}
