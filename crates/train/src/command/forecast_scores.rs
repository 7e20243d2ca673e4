//! `evaluate` on a forecasting file, whole or a chunk of windows at a time: each chunk's
//! predictions, actual values and naive baselines are kept (`H × K` values per window, not the
//! windows' inputs), and the scores computed over all of them at the end. A chunk holds a
//! multiple of the predictor's batch, so every window is predicted in the same batch as when
//! the file is read whole: the same scores, bit for bit.

use std::path::Path;

use burn_rnn_data::{DataSpec, ForecastIndex, SequenceDataset, Task};

use super::chunked::keeping_errors;
use crate::baseline::NaiveForecast;
use crate::error::{Result, TrainError};
use crate::evaluate::Evaluation;
use crate::predict::{CHUNK, Predictor};
use crate::report::dataset_targets;

/// Windows per chunk when a forecasting file is read in chunks: 64 of the predictor's batches.
const WINDOWS_PER_CHUNK: usize = 64 * CHUNK;

/// The first chunk's windows, their index and their predictions: what the plot shows.
pub(super) type FirstChunk = (SequenceDataset, ForecastIndex, Vec<Vec<f32>>);

/// A forecast's scores gathered chunk by chunk.
pub(super) struct ForecastScores<'a> {
    predictor: &'a Predictor,
    naive: Vec<NaiveForecast>,
    rows: Vec<Vec<f32>>,
    actual: Vec<Vec<f32>>,
    /// Each baseline's name and forecasts.
    baselines: Vec<(String, Vec<Vec<f32>>)>,
    names: Vec<String>,
}

impl<'a> ForecastScores<'a> {
    pub fn new(predictor: &'a Predictor, naive: Vec<NaiveForecast>) -> Self {
        Self {
            predictor,
            baselines: naive.iter().map(|b| (b.name(), Vec::new())).collect(),
            naive,
            rows: Vec::new(),
            actual: Vec::new(),
            names: Vec::new(),
        }
    }

    /// Predicts the windows of `data` (with their `index`), keeps what their scores need, and
    /// returns their predictions.
    pub fn add(&mut self, data: &SequenceDataset, index: &ForecastIndex) -> Result<Vec<Vec<f32>>> {
        let rows = self.predictor.predict_rows(data)?;
        for ((_, kept), naive) in self.baselines.iter_mut().zip(&self.naive) {
            kept.extend(naive.forecast(data, index)?);
        }
        self.actual.extend(dataset_targets(data).0);
        self.rows.extend(rows.iter().cloned());
        if self.names.is_empty() {
            self.names = data.target_names().to_vec();
        }
        Ok(rows)
    }

    /// Adds every window of the forecasting file `path` (read with `spec`), a chunk at a time;
    /// returns the first chunk.
    pub fn add_file_in_chunks(&mut self, spec: &DataSpec, path: &Path) -> Result<FirstChunk> {
        let mut first: Option<FirstChunk> = None;
        keeping_errors(
            |each| {
                spec.read_forecast_in_chunks(path, WINDOWS_PER_CHUNK, &mut |data, index| {
                    each((data, index))
                })
            },
            |(data, index)| {
                let rows = self.add(&data, &index)?;
                if first.is_none() {
                    first = Some((data, index, rows));
                }
                Ok(())
            },
        )?;
        first.ok_or_else(|| TrainError::InvalidInput(format!("{}: no windows", path.display())))
    }

    /// The scores over every window added, for the forecast columns `targets`.
    pub fn evaluate(&self, targets: &[String]) -> Result<Evaluation> {
        Evaluation::of_value_lists(
            Task::Forecast,
            &self.rows,
            &self.actual,
            &self.names,
            &self.baselines,
            targets,
        )
    }

    /// Every window's predictions, in file order.
    pub fn into_rows(self) -> Vec<Vec<f32>> {
        self.rows
    }
}
