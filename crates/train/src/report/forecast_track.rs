//! One series' forecasts over a test period, next to the actual values and a baseline's.

use crate::baseline::gain_percent;
use crate::error::{Result, TrainError};

/// One step of a [`ForecastTrack`], in the series' units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ForecastPoint {
    /// Where the forecast lies on the time axis (a day or hour number).
    pub step: usize,
    /// The actual value.
    pub actual: f64,
    /// The model's forecast.
    pub model: f64,
    /// The baseline's forecast.
    pub baseline: f64,
}

/// A model's one-step-ahead forecasts of a single series over a test period, next to the
/// actual values and a baseline's forecasts (e.g. "tomorrow = today"), one point per step.
#[derive(Debug, Clone, PartialEq)]
pub struct ForecastTrack {
    /// The forecast steps, in time order.
    pub points: Vec<ForecastPoint>,
}

impl ForecastTrack {
    /// A track from `(step, actual, model, baseline)` points, in order; errors when empty.
    ///
    /// ```
    /// # use burn_rnn_train::ForecastTrack;
    /// let track = ForecastTrack::new([(1, 10.0, 10.5, 9.0), (2, 11.0, 10.0, 10.0)])?;
    /// assert_eq!((track.model_mae(), track.baseline_mae()), (0.75, 1.0));
    /// assert_eq!(track.direction_accuracy(), 1.0); // one move called right, one skipped
    /// # Ok::<(), burn_rnn_train::TrainError>(())
    /// ```
    pub fn new(points: impl IntoIterator<Item = (usize, f64, f64, f64)>) -> Result<Self> {
        let points: Vec<ForecastPoint> = points
            .into_iter()
            .map(|(step, actual, model, baseline)| ForecastPoint {
                step,
                actual,
                model,
                baseline,
            })
            .collect();
        if points.is_empty() {
            return Err(TrainError::InvalidInput(
                "a forecast track needs at least one step".into(),
            ));
        }
        Ok(Self { points })
    }

    /// The number of forecast steps.
    pub fn len(&self) -> usize {
        self.points.len()
    }

    /// Whether there are no steps (never true for a built track).
    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// The model's mean absolute error.
    pub fn model_mae(&self) -> f64 {
        self.mean(|p| (p.actual - p.model).abs())
    }

    /// The baseline's mean absolute error.
    pub fn baseline_mae(&self) -> f64 {
        self.mean(|p| (p.actual - p.baseline).abs())
    }

    /// The mean of `value` over the steps.
    pub fn mean(&self, value: impl Fn(&ForecastPoint) -> f64) -> f64 {
        self.points.iter().map(value).sum::<f64>() / self.len().max(1) as f64
    }

    /// The model's MAE gain over the baseline, in percent (see [`gain_percent`]).
    pub fn gain_percent(&self) -> f64 {
        gain_percent(self.model_mae(), self.baseline_mae())
    }

    /// The share of steps, in [0, 1], on which the model called the direction of the move away
    /// from the baseline: forecast and actual value on the same side of it. Steps where either
    /// equals the baseline are skipped; 0 when none is left.
    pub fn direction_accuracy(&self) -> f64 {
        let called: Vec<bool> = self
            .points
            .iter()
            .map(|p| (p.actual - p.baseline, p.model - p.baseline))
            .filter(|&(actual, model)| actual != 0.0 && model != 0.0)
            .map(|(actual, model)| (actual > 0.0) == (model > 0.0))
            .collect();
        called.iter().filter(|&&c| c).count() as f64 / called.len().max(1) as f64
    }

    /// The last `last` steps (all of them when there are fewer).
    pub fn last(&self, last: usize) -> Self {
        let from = self.len().saturating_sub(last);
        Self {
            points: self.points[from..].to_vec(),
        }
    }

    /// `(step, value)` points for a chart, `value` read from each step.
    pub fn series(&self, value: impl Fn(&ForecastPoint) -> f64) -> Vec<(f64, f64)> {
        self.points
            .iter()
            .map(|p| (p.step as f64, value(p)))
            .collect()
    }
}
