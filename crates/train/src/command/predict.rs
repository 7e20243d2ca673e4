//! `burn-rnn predict`: a run's predictions for the sequences of a file, as CSV records, in the
//! data's units — a class and its probabilities, values, or the next steps of each series.

use std::path::Path;

use burn::tensor::Device;
use burn_rnn_data::{DataSpec, SpecInputs, Task, read_long_sequences};

use super::RunData;
use super::chunked::{predict_inputs, reads_in_chunks};
use crate::artifacts::{DataSchema, RunDir};
use crate::error::Result;
use crate::predict::{Prediction, Predictor};
use crate::task::Objective;

/// Predictions as a table: a header and one record per prediction, values with 4 decimals.
#[derive(Debug, Clone, PartialEq)]
pub struct PredictionTable {
    /// Column names.
    pub header: Vec<String>,
    /// One record per sequence (or per sequence and step).
    pub rows: Vec<Vec<String>>,
}

/// Predicts with the run in `dir` for every sequence of `path`, read as its training data was
/// (`data.json`): long or wide, its features; for forecasting the last window of each series,
/// giving the next H steps with their times. A run trained from code (no `data.json`) reads a
/// long file with the columns `id` and `time` and the features by their training names. A
/// file of at least [`burn_rnn_data::ON_DISK_THRESHOLD_BYTES`] is read a chunk at a time (see
/// [`predict_each`]).
///
/// Records: `id,class,p(<class>)...` for a classifier; `id,<target>...` for regression;
/// `id,step,<time>,<target>...` for forecasting (step 1 is the first step after the series);
/// `id,<time>,<target>...` at every step for a per-step model.
pub fn predict_file(
    dir: &Path,
    path: &Path,
    device: &Device,
    id: &str,
    time: &str,
) -> Result<PredictionTable> {
    let mut table = PredictionTable {
        header: Vec::new(),
        rows: Vec::new(),
    };
    let options = PredictOptions {
        id: id.into(),
        time: time.into(),
        in_chunks: None,
    };
    predict_each(dir, path, device, &options, &mut |record| {
        match table.header.is_empty() {
            true => table.header = record,
            false => table.rows.push(record),
        }
        Ok(())
    })?;
    Ok(table)
}

/// Choices of [`predict_each`].
#[derive(Debug, Clone)]
pub struct PredictOptions {
    /// For a run trained from code: the sequence id column of the long file.
    pub id: String,
    /// For a run trained from code: the time column of the long file.
    pub time: String,
    /// Read the file a chunk of sequences at a time (`true`, `--on-disk`) or whole (`false`,
    /// `--in-memory`); absent: in chunks for files of at least
    /// [`burn_rnn_data::ON_DISK_THRESHOLD_BYTES`]. A run trained from code reads the file
    /// whole. The predictions are the same either way.
    pub in_chunks: Option<bool>,
}

/// [`predict_file`], handing each record to `each` as it is made: the header first, then the
/// predictions, so that a file read in chunks is never held whole (nor are its predictions).
pub fn predict_each(
    dir: &Path,
    path: &Path,
    device: &Device,
    options: &PredictOptions,
    each: &mut dyn FnMut(Vec<String>) -> Result<()>,
) -> Result<()> {
    let run_data = RunData::read(&RunDir::open(dir)?)?;
    let predictor = Predictor::load(dir, device)?;
    let schema = predictor.schema().clone();
    let Some(run) = run_data else {
        let features: Vec<&str> = schema.feature_names.iter().map(String::as_str).collect();
        let (ids, sequences) = read_long_sequences(path, &options.id, &options.time, &features)?
            .into_iter()
            .unzip();
        let inputs = SpecInputs {
            ids,
            sequences,
            last_times: Vec::new(),
        };
        let records = Records::new(None, &schema, options.id.clone(), options.time.clone());
        each(records.header())?;
        let predictions = predictor.predict(&inputs.sequences)?;
        return records.write(&inputs, predictions, &mut *each);
    };
    let spec = &run.columns;
    let id_name = spec.id.clone().unwrap_or_else(|| "id".into());
    let time_name = spec.time.clone().unwrap_or_else(|| options.time.clone());
    let records = Records::new(Some(spec), &schema, id_name, time_name);
    each(records.header())?;
    if reads_in_chunks(path, options.in_chunks)? {
        return predict_inputs(&predictor, spec, path, |inputs, predictions| {
            records.write(inputs, predictions, &mut *each)
        });
    }
    let inputs = spec.read_inputs(path)?;
    let predictions = predictor.predict(&inputs.sequences)?;
    records.write(&inputs, predictions, &mut *each)
}

/// How predictions become records: the run's spec (when it has one) and schema, and the names
/// of the id and time columns.
struct Records<'a> {
    spec: Option<&'a DataSpec>,
    schema: &'a DataSchema,
    id_name: String,
    time_name: String,
}

impl<'a> Records<'a> {
    fn new(
        spec: Option<&'a DataSpec>,
        schema: &'a DataSchema,
        id_name: String,
        time_name: String,
    ) -> Self {
        Self {
            spec,
            schema,
            id_name,
            time_name,
        }
    }

    /// The forecast columns, when the run forecasts.
    fn forecast_targets(&self) -> Option<&'a [String]> {
        self.spec
            .filter(|s| s.task == Task::Forecast)
            .map(|s| s.targets.as_slice())
    }

    /// The header (see [`predict_file`]).
    fn header(&self) -> Vec<String> {
        let mut header = vec![self.id_name.clone()];
        let names = &self.schema.target_names;
        if let Some(targets) = self.forecast_targets() {
            header.extend(["step".to_string(), self.time_name.clone()]);
            header.extend(targets.iter().cloned());
            return header;
        }
        match Objective::for_target(self.schema.target_kind) {
            Objective::Classification => {
                header.push("class".into());
                header.extend(names.iter().map(|n| format!("p({n})")));
            }
            Objective::PerStepRegression => {
                header.push(self.time_name.clone());
                header.extend(names.iter().cloned());
            }
            Objective::Regression => header.extend(names.iter().cloned()),
        }
        header
    }

    /// The records of `predictions` for `inputs`, handed to `each`.
    fn write(
        &self,
        inputs: &SpecInputs,
        predictions: Vec<Prediction>,
        each: &mut dyn FnMut(Vec<String>) -> Result<()>,
    ) -> Result<()> {
        let fmt = |values: &[f32]| values.iter().map(|v| format!("{v:.4}")).collect::<Vec<_>>();
        if let Some(targets) = self.forecast_targets() {
            let k = targets.len();
            for ((id, prediction), &(last, step)) in
                inputs.ids.iter().zip(&predictions).zip(&inputs.last_times)
            {
                let Prediction::Values(values) = prediction else {
                    continue;
                };
                for (h, ahead) in values.chunks(k).enumerate() {
                    let mut row = vec![
                        id.clone(),
                        (h + 1).to_string(),
                        format_time(last + step * (h + 1) as f64),
                    ];
                    row.extend(fmt(ahead));
                    each(row)?;
                }
            }
            return Ok(());
        }
        for (id, prediction) in inputs.ids.iter().zip(predictions) {
            match prediction {
                Prediction::Values(values) => each([vec![id.clone()], fmt(&values)].concat())?,
                Prediction::Class {
                    name,
                    probabilities,
                    ..
                } => each([vec![id.clone(), name], fmt(&probabilities)].concat())?,
                Prediction::PerStep(steps) => {
                    for (t, values) in steps.iter().enumerate() {
                        each([vec![id.clone(), t.to_string()], fmt(values)].concat())?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// A time as written in CSV files: whole numbers without decimals.
fn format_time(time: f64) -> String {
    if time.fract() == 0.0 && time.abs() < 1e15 {
        format!("{time:.0}")
    } else {
        format!("{time}")
    }
}
