//! Errors per output (MAE, RMSE), computed at once or added a chunk at a time.

use burn_rnn_data::SequenceDataset;

use super::dataset_targets;
use crate::error::{Result, TrainError};

/// Mean absolute and root-mean-square error per output, in real units.
#[derive(Debug, Clone, PartialEq)]
pub struct RegressionReport {
    /// Output names.
    pub names: Vec<String>,
    /// MAE per output.
    pub mae: Vec<f64>,
    /// RMSE per output.
    pub rmse: Vec<f64>,
}

impl RegressionReport {
    /// Compares `predictions` with `targets`, both `[samples][K]`.
    pub fn compute(
        predictions: &[Vec<f32>],
        targets: &[Vec<f32>],
        names: &[String],
    ) -> Result<Self> {
        let mut sums = ErrorSums::new(names.len());
        sums.add(predictions, targets)?;
        sums.report(names)
    }

    /// Compares `predictions` (`[rows][K]`, as
    /// [`Predictor::predict_rows`](crate::Predictor::predict_rows) gives them) with the
    /// regression targets of `data`, named by its target names.
    pub fn of(predictions: &[Vec<f32>], data: &SequenceDataset) -> Result<Self> {
        let (targets, _) = dataset_targets(data);
        Self::compute(predictions, &targets, data.target_names())
    }
}

/// The sums behind a [`RegressionReport`], added to a chunk of samples at a time: the report
/// of all the chunks is the one of all the samples at once, bit for bit (the same additions in
/// the same order), without holding them.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorSums {
    abs: Vec<f64>,
    sq: Vec<f64>,
    samples: usize,
}

impl ErrorSums {
    /// No samples yet, for `outputs` values per sample.
    pub fn new(outputs: usize) -> Self {
        Self {
            abs: vec![0.0; outputs],
            sq: vec![0.0; outputs],
            samples: 0,
        }
    }

    /// Adds the errors of `predictions` against `targets`, both `[samples][K]`.
    pub fn add(&mut self, predictions: &[Vec<f32>], targets: &[Vec<f32>]) -> Result<()> {
        let k = self.abs.len();
        if predictions.len() != targets.len() {
            return Err(TrainError::InvalidConfig(format!(
                "{} predictions for {} targets",
                predictions.len(),
                targets.len()
            )));
        }
        for (p, t) in predictions.iter().zip(targets) {
            if p.len() != k || t.len() != k {
                return Err(TrainError::InvalidConfig(format!(
                    "a prediction or target does not have {k} values"
                )));
            }
            for j in 0..k {
                let e = f64::from(p[j]) - f64::from(t[j]);
                self.abs[j] += e.abs();
                self.sq[j] += e * e;
            }
        }
        self.samples += predictions.len();
        Ok(())
    }

    /// The samples added so far.
    pub fn samples(&self) -> usize {
        self.samples
    }

    /// MAE and RMSE per output (named `names`) over every sample added.
    pub fn report(&self, names: &[String]) -> Result<RegressionReport> {
        if self.samples == 0 {
            return Err(TrainError::InvalidConfig(
                "0 predictions for 0 targets".into(),
            ));
        }
        if names.len() != self.abs.len() {
            return Err(TrainError::InvalidConfig(format!(
                "{} output names for {} outputs",
                names.len(),
                self.abs.len()
            )));
        }
        let n = self.samples as f64;
        Ok(RegressionReport {
            names: names.to_vec(),
            mae: self.abs.iter().map(|a| a / n).collect(),
            rmse: self.sq.iter().map(|s| (s / n).sqrt()).collect(),
        })
    }
}
