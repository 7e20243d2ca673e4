//! `burn-rnn predict`: a run's predictions for the sequences of a file, as CSV records, in the
//! data's units — a class and its probabilities, values, or the next steps of each series.

use std::path::Path;

use burn::tensor::Device;
use burn_rnn_data::{SpecInputs, Task, read_long_sequences};

use super::RunData;
use crate::artifacts::RunDir;
use crate::error::Result;
use crate::predict::{Prediction, Predictor};

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
/// long file with the columns `id` and `time` and the features by their training names.
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
    let run_data = RunData::read(&RunDir::open(dir)?)?;
    let predictor = Predictor::load(dir, device)?;
    let schema = predictor.schema().clone();
    let (inputs, task, id_name, time_name) = match &run_data {
        Some(run) => {
            let spec = &run.columns;
            (
                spec.read_inputs(path)?,
                Some(spec.task),
                spec.id.clone().unwrap_or_else(|| "id".into()),
                spec.time.clone().unwrap_or_else(|| time.into()),
            )
        }
        None => {
            let features: Vec<&str> = schema.feature_names.iter().map(String::as_str).collect();
            let (ids, sequences) = read_long_sequences(path, id, time, &features)?
                .into_iter()
                .unzip();
            let inputs = SpecInputs {
                ids,
                sequences,
                last_times: Vec::new(),
            };
            (inputs, None, id.to_string(), time.to_string())
        }
    };
    let predictions = predictor.predict(&inputs.sequences)?;
    let fmt = |values: &[f32]| values.iter().map(|v| format!("{v:.4}")).collect::<Vec<_>>();
    let mut table = PredictionTable {
        header: vec![id_name],
        rows: Vec::new(),
    };
    if let (Some(Task::Forecast), Some(run)) = (task, &run_data) {
        let targets = &run.columns.targets;
        let k = targets.len();
        table.header.extend(["step".to_string(), time_name]);
        table.header.extend(targets.iter().cloned());
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
                table.rows.push(row);
            }
        }
        return Ok(table);
    }
    match predictions.first() {
        Some(Prediction::Class { .. }) => {
            table.header.push("class".into());
            table
                .header
                .extend(schema.target_names.iter().map(|n| format!("p({n})")));
        }
        Some(Prediction::PerStep(_)) => {
            table.header.push(time_name);
            table.header.extend(schema.target_names.iter().cloned());
        }
        _ => table.header.extend(schema.target_names.iter().cloned()),
    }
    for (id, prediction) in inputs.ids.iter().zip(predictions) {
        match prediction {
            Prediction::Values(values) => {
                table.rows.push([vec![id.clone()], fmt(&values)].concat())
            }
            Prediction::Class {
                name,
                probabilities,
                ..
            } => {
                table
                    .rows
                    .push([vec![id.clone(), name], fmt(&probabilities)].concat());
            }
            Prediction::PerStep(steps) => {
                for (t, values) in steps.iter().enumerate() {
                    table
                        .rows
                        .push([vec![id.clone(), t.to_string()], fmt(values)].concat());
                }
            }
        }
    }
    Ok(table)
}

/// A time as written in CSV files: whole numbers without decimals.
fn format_time(time: f64) -> String {
    if time.fract() == 0.0 && time.abs() < 1e15 {
        format!("{time:.0}")
    } else {
        format!("{time}")
    }
}
