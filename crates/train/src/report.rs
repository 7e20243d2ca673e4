//! Reports that compare predictions with targets, in the data's units: errors per output,
//! accuracy with the majority-class baseline, and a model against a baseline forecast.

use std::fmt;

use burn_rnn_data::{SequenceDataset, Target, TargetKind};

use crate::baseline::{gain_percent, majority_class};
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

/// Accuracy of class predictions, with the majority-class baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassificationReport {
    /// Fraction of correct predictions.
    pub accuracy: f64,
    /// The most frequent class of the reference classes (the training split), see
    /// [`majority_class`].
    pub majority_class: usize,
    /// Accuracy of always answering `majority_class`.
    pub majority_accuracy: f64,
    /// `confusion[true][predicted]` counts.
    pub confusion: Vec<Vec<usize>>,
}

impl ClassificationReport {
    /// Compares predicted with true classes; the majority class is taken from
    /// `reference_classes` (the training split) and scored on `truth`.
    pub fn compute(
        predicted: &[usize],
        truth: &[usize],
        reference_classes: &[usize],
        classes: usize,
    ) -> Result<Self> {
        if predicted.len() != truth.len() || truth.is_empty() {
            return Err(TrainError::InvalidConfig(format!(
                "{} predictions for {} targets",
                predicted.len(),
                truth.len()
            )));
        }
        let majority = majority_class(reference_classes, classes).ok_or_else(|| {
            TrainError::InvalidInput(format!(
                "no reference class below {classes} to take the majority class from"
            ))
        })?;
        let mut confusion = vec![vec![0usize; classes]; classes];
        for (&p, &t) in predicted.iter().zip(truth) {
            if p >= classes || t >= classes {
                return Err(TrainError::InvalidConfig(format!(
                    "class {} is out of range for {classes} classes",
                    p.max(t)
                )));
            }
            confusion[t][p] += 1;
        }
        let n = truth.len() as f64;
        let correct = (0..classes).map(|c| confusion[c][c]).sum::<usize>() as f64;
        let majority_correct = truth.iter().filter(|&&t| t == majority).count() as f64;
        Ok(Self {
            accuracy: correct / n,
            majority_class: majority,
            majority_accuracy: majority_correct / n,
            confusion,
        })
    }

    /// Scores `predicted` (one class per sample of `eval`) against `eval`'s classes, with the
    /// majority class of `train`. Errors unless both datasets hold class targets.
    pub fn evaluate(
        predicted: &[usize],
        eval: &SequenceDataset,
        train: &SequenceDataset,
    ) -> Result<Self> {
        let TargetKind::Classification { classes } = eval.target_kind() else {
            return Err(TrainError::InvalidInput(format!(
                "accuracy needs class targets; the data has {:?} targets",
                eval.target_kind()
            )));
        };
        let (_, truth) = dataset_targets(eval);
        let (_, reference) = dataset_targets(train);
        Self::compute(predicted, &truth, &reference, classes)
    }

    /// The confusion matrix in one line, with the class names in order:
    /// `confusion (rows: truth, columns: predicted; stable, deteriorating): [[16, 1], [0, 3]]`.
    pub fn confusion_line(&self, class_names: &[String]) -> String {
        format!(
            "confusion (rows: truth, columns: predicted; {}): {:?}",
            class_names.join(", "),
            self.confusion
        )
    }
}

/// A model's errors next to a baseline's on the same targets (e.g. the RNN against
/// [`last_step_forecast`](crate::last_step_forecast)). Its `Display` is a table of MAE, the
/// model's gain over the baseline in percent, and RMSE, one row per output:
///
/// ```text
///                                            MAE                   RMSE
///                                    RNN  last hour RNN gain    RNN  last hour
/// heart rate (bpm)                  1.82       2.04     11 %   2.25       2.56
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct BaselineComparison {
    /// The model's name in the table (`"RNN"`).
    pub model_name: String,
    /// The model's errors.
    pub model: RegressionReport,
    /// The baseline's name in the table (`"last hour"`).
    pub baseline_name: String,
    /// The baseline's errors.
    pub baseline: RegressionReport,
}

impl BaselineComparison {
    /// Puts two reports side by side; they must name the same outputs.
    pub fn new(
        model_name: impl Into<String>,
        model: RegressionReport,
        baseline_name: impl Into<String>,
        baseline: RegressionReport,
    ) -> Result<Self> {
        if model.names != baseline.names {
            return Err(TrainError::InvalidInput(format!(
                "the model's outputs ({}) are not the baseline's ({})",
                model.names.join(", "),
                baseline.names.join(", ")
            )));
        }
        Ok(Self {
            model_name: model_name.into(),
            model,
            baseline_name: baseline_name.into(),
            baseline,
        })
    }

    /// The model's MAE gain over the baseline on output `j`, in percent (see [`gain_percent`]).
    pub fn gain_percent(&self, j: usize) -> f64 {
        gain_percent(self.model.mae[j], self.baseline.mae[j])
    }

    /// On how many outputs the model's MAE is lower than the baseline's.
    pub fn wins(&self) -> usize {
        (0..self.model.names.len())
            .filter(|&j| self.model.mae[j] < self.baseline.mae[j])
            .count()
    }
}

impl fmt::Display for BaselineComparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = &self.model.names;
        let name = names.iter().map(|n| n.chars().count()).max().unwrap_or(0) + 1;
        let model = self.model_name.chars().count().max(6);
        let baseline = (self.baseline_name.chars().count() + 1).max(10);
        let gain_title = format!("{} gain", self.model_name);
        let gain = gain_title.chars().count().max(8);
        let (m, b) = (&self.model_name, &self.baseline_name);
        writeln!(
            f,
            "{:<name$} {:^mae$} {:^rmse$}",
            "",
            "MAE",
            "RMSE",
            mae = model + baseline + gain + 2,
            rmse = model + baseline + 1
        )?;
        writeln!(
            f,
            "{:<name$} {m:>model$} {b:>baseline$} {gain_title:>gain$} {m:>model$} {b:>baseline$}",
            ""
        )?;
        for (j, output) in names.iter().enumerate() {
            writeln!(
                f,
                "{output:<name$} {:>model$.2} {:>baseline$.2} {:>digits$.0} % {:>model$.2} {:>baseline$.2}",
                self.model.mae[j],
                self.baseline.mae[j],
                self.gain_percent(j),
                self.model.rmse[j],
                self.baseline.rmse[j],
                digits = gain - 2,
            )?;
        }
        Ok(())
    }
}

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

/// The targets of a dataset, in the data's units: `[samples][K]` values (many-to-one
/// regression), `[valid steps of every sample][K]` values (many-to-many), or one class index per
/// sample (classification).
pub fn dataset_targets(data: &SequenceDataset) -> (Vec<Vec<f32>>, Vec<usize>) {
    let mut values = Vec::new();
    let mut classes = Vec::new();
    for sample in data.samples() {
        match &sample.target {
            Target::Regression(v) => values.push(v.clone()),
            Target::Class(c) => classes.push(*c),
            Target::PerStep(v) => {
                if let TargetKind::PerStep { outputs } = data.target_kind() {
                    values.extend(
                        v[..sample.length * outputs]
                            .chunks(outputs)
                            .map(<[f32]>::to_vec),
                    );
                }
            }
        }
    }
    (values, classes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_sums_in_chunks_give_the_report_of_all_samples_bit_for_bit() {
        let value = |i: usize, k: usize| ((i * 7 + k * 3) as f32 * 0.91).sin() * 5.3;
        let predictions: Vec<Vec<f32>> = (0..37).map(|i| vec![value(i, 0), value(i, 1)]).collect();
        let targets: Vec<Vec<f32>> = (0..37).map(|i| vec![value(i, 2), value(i, 5)]).collect();
        let names = vec!["a".to_string(), "b".to_string()];
        let whole = RegressionReport::compute(&predictions, &targets, &names).unwrap();
        for size in [1, 5, 36, 37] {
            let mut sums = ErrorSums::new(2);
            for (p, t) in predictions.chunks(size).zip(targets.chunks(size)) {
                sums.add(p, t).unwrap();
            }
            assert_eq!(sums.samples(), 37);
            assert_eq!(sums.report(&names).unwrap(), whole, "chunks of {size}");
        }
        assert!(ErrorSums::new(2).report(&names).is_err(), "no samples");
        let mut sums = ErrorSums::new(2);
        assert!(sums.add(&predictions[..2], &targets[..1]).is_err());
        assert!(sums.add(&[vec![1.0]], &[vec![1.0]]).is_err());
        sums.add(&predictions, &targets).unwrap();
        assert!(
            sums.report(&names[..1]).is_err(),
            "one name for two outputs"
        );
    }

    #[test]
    fn regression_report_per_output() {
        let report = RegressionReport::compute(
            &[vec![1.0, 2.0], vec![3.0, 4.0]],
            &[vec![2.0, 2.0], vec![3.0, 8.0]],
            &["a".into(), "b".into()],
        )
        .unwrap();
        assert_eq!(report.mae, vec![0.5, 2.0]);
        assert!((report.rmse[1] - 8f64.sqrt()).abs() < 1e-12);
        assert!(RegressionReport::compute(&[], &[], &[]).is_err());
    }

    #[test]
    fn classification_report_and_majority() {
        let report =
            ClassificationReport::compute(&[0, 1, 1, 0], &[0, 1, 0, 0], &[0, 0, 1], 2).unwrap();
        assert_eq!(report.accuracy, 0.75);
        assert_eq!(report.majority_class, 0);
        assert_eq!(report.majority_accuracy, 0.75);
        assert_eq!(report.confusion, vec![vec![2, 1], vec![0, 1]]);
        let names = ["stable".to_string(), "deteriorating".into()];
        assert_eq!(
            report.confusion_line(&names),
            "confusion (rows: truth, columns: predicted; stable, deteriorating): [[2, 1], [0, 1]]"
        );
        let err = ClassificationReport::compute(&[0], &[0], &[], 2).unwrap_err();
        assert!(err.to_string().contains("majority"), "{err}");
    }

    #[test]
    fn forecast_track_scores_and_cuts() {
        let track = ForecastTrack::new([
            (5, 10.0, 11.0, 10.5),
            (6, 12.0, 12.0, 12.0),
            (7, 9.0, 9.5, 10.0),
            (8, 8.0, 9.0, 8.0),
        ])
        .unwrap();
        assert_eq!(track.model_mae(), (1.0 + 0.0 + 0.5 + 1.0) / 4.0);
        assert_eq!(track.baseline_mae(), (0.5 + 0.0 + 1.0 + 0.0) / 4.0);
        assert!((track.gain_percent() + 200.0 / 3.0).abs() < 1e-9);
        // Step 5: actual below the baseline, forecast above (wrong); 6 and 8 are skipped
        // (no move, no forecast move); 7: both below (right).
        assert_eq!(track.direction_accuracy(), 0.5);
        let last = track.last(2);
        assert_eq!(
            last.series(|p| 100.0 * p.model),
            [(7.0, 950.0), (8.0, 900.0)]
        );
        assert_eq!(last.mean(|p| p.actual), 8.5);
        assert_eq!(track.last(10), track);
        assert!(ForecastTrack::new([]).is_err());
    }

    fn report(names: &[&str], mae: Vec<f64>, rmse: Vec<f64>) -> RegressionReport {
        RegressionReport {
            names: names.iter().map(|n| n.to_string()).collect(),
            mae,
            rmse,
        }
    }

    #[test]
    fn comparison_table_lines_up_under_its_headers() {
        let names = ["heart rate (bpm)", "systolic blood pressure (mmHg)"];
        let comparison = BaselineComparison::new(
            "RNN",
            report(&names, vec![1.8197, 2.9], vec![2.25, 3.0]),
            "last hour",
            report(&names, vec![2.04, 2.6], vec![2.56, 3.28]),
        )
        .unwrap();
        assert_eq!(comparison.wins(), 1);
        assert!((comparison.gain_percent(0) - 10.8).abs() < 0.1);
        let table = comparison.to_string();
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(
            lines,
            [
                "                                           MAE                   RMSE       ",
                "                                   RNN  last hour RNN gain    RNN  last hour",
                "heart rate (bpm)                  1.82       2.04     11 %   2.25       2.56",
                "systolic blood pressure (mmHg)    2.90       2.60    -12 %   3.00       3.28",
            ]
        );
        let other = report(&["temperature (°C)"], vec![0.1], vec![0.1]);
        assert!(BaselineComparison::new("RNN", other.clone(), "x", other.clone()).is_ok());
        let err = BaselineComparison::new("RNN", other, "x", comparison.model).unwrap_err();
        assert!(err.to_string().contains("temperature"), "{err}");
    }
}
