//! `evaluate` on a forecasting file, whole or a chunk of windows at a time: each chunk's errors
//! (the model's and the naive baselines') are added to running sums ([`ErrorSums`]) and its
//! predictions kept (`H × K` values per window, not the windows' inputs). A chunk holds a
//! multiple of the predictor's batch, so every window is predicted in the same batch as when
//! the file is read whole: the same scores, bit for bit.

use std::path::Path;

use burn_rnn_data::{DataSpec, ForecastIndex, SequenceDataset, Task};

use super::chunked::keeping_errors;
use crate::baseline::NaiveForecast;
use crate::error::{Result, TrainError};
use crate::evaluate::Evaluation;
use crate::predict::{CHUNK, Predictor};
use crate::report::{ErrorSums, dataset_targets};

/// Windows per chunk when a forecasting file is read in chunks: 64 of the predictor's batches.
const WINDOWS_PER_CHUNK: usize = 64 * CHUNK;

/// The first chunk's windows and their index: what the plot shows (their predictions lead
/// [`ForecastScores::rows`]).
pub(super) type FirstChunk = (SequenceDataset, ForecastIndex);

/// A forecast's scores gathered chunk by chunk.
pub(super) struct ForecastScores<'a> {
    predictor: &'a Predictor,
    naive: Vec<NaiveForecast>,
    rows: Vec<Vec<f32>>,
    model: Option<ErrorSums>,
    /// Each baseline's name and error sums.
    baselines: Vec<(String, Option<ErrorSums>)>,
    names: Vec<String>,
}

impl<'a> ForecastScores<'a> {
    pub fn new(predictor: &'a Predictor, naive: Vec<NaiveForecast>) -> Self {
        Self {
            predictor,
            baselines: naive.iter().map(|b| (b.name(), None)).collect(),
            naive,
            rows: Vec::new(),
            model: None,
            names: Vec::new(),
        }
    }

    /// Predicts the windows of `data` (with their `index`), keeps the predictions and adds
    /// their errors and the baselines' to the sums.
    pub fn add(&mut self, data: &SequenceDataset, index: &ForecastIndex) -> Result<()> {
        let rows = self.predictor.predict_rows(data)?;
        let (actual, _) = dataset_targets(data);
        let outputs = data.target_names().len();
        let sums = |kept: &mut Option<ErrorSums>, forecast: &[Vec<f32>]| {
            kept.get_or_insert_with(|| ErrorSums::new(outputs))
                .add(forecast, &actual)
        };
        sums(&mut self.model, &rows)?;
        for ((_, kept), naive) in self.baselines.iter_mut().zip(&self.naive) {
            sums(kept, &naive.forecast(data, index)?)?;
        }
        self.rows.extend(rows);
        if self.names.is_empty() {
            self.names = data.target_names().to_vec();
        }
        Ok(())
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
                self.add(&data, &index)?;
                if first.is_none() {
                    first = Some((data, index));
                }
                Ok(())
            },
        )?;
        first.ok_or_else(|| TrainError::InvalidInput(format!("{}: no windows", path.display())))
    }

    /// The scores over every window added, for the forecast columns `targets`.
    pub fn evaluate(&self, targets: &[String]) -> Result<Evaluation> {
        let report = |sums: &Option<ErrorSums>| match sums {
            Some(sums) => sums.report(&self.names),
            None => Err(TrainError::InvalidInput("no windows to score".into())),
        };
        let model = report(&self.model)?;
        let baselines = self
            .baselines
            .iter()
            .map(|(name, sums)| Ok((name.clone(), report(sums)?)))
            .collect::<Result<Vec<_>>>()?;
        let samples = self.model.as_ref().map_or(0, ErrorSums::samples);
        Ok(Evaluation::of_reports(
            Task::Forecast,
            &model,
            &baselines,
            samples,
            targets,
        ))
    }

    /// The predictions of every window added, in file order.
    pub fn rows(&self) -> &[Vec<f32>] {
        &self.rows
    }

    /// Every window's predictions, in file order.
    pub fn into_rows(self) -> Vec<Vec<f32>> {
        self.rows
    }
}
