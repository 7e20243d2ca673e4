//! The naive answers a trained model has to beat: "the same as the last step" for a forecast,
//! the same as one season ago or the recent average for a multi-step forecast, the training
//! mean for regression, the most frequent class for a classifier, and how much better than
//! them a model does, in numbers and in words.

use burn_rnn_data::{ForecastIndex, SequenceDataset, TargetKind};

use crate::error::{Result, TrainError};

/// The naive forecast "the next step is the same as this one", in the data's units, one row of
/// K values per target of `data`, in the order of [`dataset_targets`](crate::dataset_targets):
/// for many-to-many targets, every valid step's own inputs (the forecast of step `t + 1` made
/// at step `t`); for many-to-one regression, the last valid step's inputs. Target `k` is
/// compared with feature `k`, so the data needs as many outputs as features (K = D), as when a
/// series forecasts itself; class targets or K ≠ D are an error.
///
/// ```
/// # use burn_rnn_data::synth::HealthcareConfig;
/// # use burn_rnn_train::{RegressionReport, last_step_forecast};
/// let cohort = HealthcareConfig { patients: 10, ..Default::default() }.generate()?;
/// let data = cohort.forecasting_per_step_dataset()?;
/// let naive = last_step_forecast(&data)?; // [10 patients × 24 hours][3 vitals]
/// let report = RegressionReport::of(&naive, &data)?;
/// assert!(report.mae[0] > 0.0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn last_step_forecast(data: &SequenceDataset) -> Result<Vec<Vec<f32>>> {
    let (outputs, every_step) = match data.target_kind() {
        TargetKind::PerStep { outputs } => (outputs, true),
        TargetKind::Regression { outputs } => (outputs, false),
        TargetKind::Classification { .. } => {
            return Err(TrainError::InvalidInput(
                "the last-step forecast needs regression targets; this dataset's targets are classes"
                    .into(),
            ));
        }
    };
    if outputs != data.num_features() {
        return Err(TrainError::InvalidInput(format!(
            "the last-step forecast repeats the inputs as the forecast, so it needs one output per \
             feature; the data has {outputs} outputs and {} features",
            data.num_features()
        )));
    }
    let mut rows = Vec::new();
    for steps in data.sequences() {
        if every_step {
            rows.extend(steps);
        } else {
            rows.extend(steps.into_iter().last());
        }
    }
    Ok(rows)
}

/// A naive multi-step forecast for the windows of `data` (see [`ForecastIndex`]): one row of
/// `H × K` values per window, horizon-major like the targets, computed from each window's past
/// values of the targets (in the data's units).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NaiveForecast {
    /// Every future step equals the last value read.
    LastValue,
    /// Step `T + h` equals the value one season earlier, `T + h − P·⌈h/P⌉` (for daily sales and
    /// `P = 7`: the same weekday last week). Needs `P ≤ T`.
    Seasonal(usize),
    /// Every future step equals the mean of the last `m` values read (`m ≤ T`).
    MovingAverage(usize),
}

impl NaiveForecast {
    /// The name in reports: `last value`, `seasonal naive (7)`, `moving average (7)`.
    pub fn name(self) -> String {
        match self {
            NaiveForecast::LastValue => "last value".into(),
            NaiveForecast::Seasonal(p) => format!("seasonal naive ({p})"),
            NaiveForecast::MovingAverage(m) => format!("moving average ({m})"),
        }
    }

    /// The forecast of every window of `data`, whose windows `index` describes. Errors when the
    /// season or average is longer than the window, or is 0.
    ///
    /// ```
    /// # use burn_rnn_data::{DataSpec, ForecastWindows, Format, Task};
    /// # use burn_rnn_train::NaiveForecast;
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("sales.csv");
    /// // One series: 1, 2, 3, 4, 5, 6.
    /// std::fs::write(&path, "day,sales\n0,1\n1,2\n2,3\n3,4\n4,5\n5,6\n")?;
    /// let spec = DataSpec {
    ///     format: Format::Long, id: None, time: Some("day".into()), features: vec![],
    ///     targets: vec!["sales".into()], task: Task::Forecast,
    ///     forecast: Some(ForecastWindows { window: 4, horizon: 2, stride: 1 }),
    ///     max_steps: None, missing: Default::default(),
    /// };
    /// let data = spec.read(&path, None)?;
    /// let index = data.forecast.as_ref().unwrap();
    /// // The one window reads 1, 2, 3, 4 and forecasts 5, 6.
    /// assert_eq!(NaiveForecast::LastValue.forecast(&data.dataset, index)?, [vec![4.0, 4.0]]);
    /// assert_eq!(NaiveForecast::Seasonal(2).forecast(&data.dataset, index)?, [vec![3.0, 4.0]]);
    /// assert_eq!(NaiveForecast::MovingAverage(2).forecast(&data.dataset, index)?, [vec![3.5, 3.5]]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn forecast(self, data: &SequenceDataset, index: &ForecastIndex) -> Result<Vec<Vec<f32>>> {
        let t = data.num_steps();
        let reach = match self {
            NaiveForecast::LastValue => 1,
            NaiveForecast::Seasonal(n) | NaiveForecast::MovingAverage(n) => n,
        };
        if reach == 0 || reach > t {
            return Err(TrainError::InvalidInput(format!(
                "the {} baseline needs 1 to {t} steps of the window (T = {t})",
                self.name()
            )));
        }
        let d = data.num_features();
        let rows = data.samples().iter().map(|sample| {
            let past = |k: usize, step: usize| sample.values[step * d + index.target_inputs[k]];
            let last = sample.length - 1;
            (1..=index.horizon)
                .flat_map(|h| {
                    (0..index.targets.len()).map(move |k| match self {
                        NaiveForecast::LastValue => past(k, last),
                        NaiveForecast::Seasonal(p) => {
                            let back = p * h.div_ceil(p);
                            past(k, (last + h).saturating_sub(back))
                        }
                        NaiveForecast::MovingAverage(m) => {
                            let from = (last + 1).saturating_sub(m);
                            let sum: f32 = (from..=last).map(|step| past(k, step)).sum();
                            sum / (last + 1 - from) as f32
                        }
                    })
                })
                .collect()
        });
        Ok(rows.collect())
    }
}

/// The regression baseline "always the training mean": `means` (one per output, e.g. the
/// normaliser's target offsets) repeated for each of `samples` rows.
pub fn mean_forecast(means: &[f32], samples: usize) -> Vec<Vec<f32>> {
    vec![means.to_vec(); samples]
}

/// The most frequent class among `classes` (values below `num_classes`; others are ignored), the
/// answer of the majority-class baseline; ties go to the higher class index. `None` when no
/// class is counted.
///
/// ```
/// # use burn_rnn_train::majority_class;
/// assert_eq!(majority_class(&[0, 1, 1, 0, 1], 2), Some(1));
/// assert_eq!(majority_class(&[], 2), None);
/// ```
pub fn majority_class(classes: &[usize], num_classes: usize) -> Option<usize> {
    let mut counts = vec![0usize; num_classes];
    for &class in classes.iter().filter(|&&c| c < num_classes) {
        counts[class] += 1;
    }
    let (class, &count) = counts
        .iter()
        .enumerate()
        .max_by_key(|&(class, count)| (count, class))?;
    (count > 0).then_some(class)
}

/// How much lower a model's error is than a baseline's, in percent: `100 · (1 − model /
/// baseline)`; negative when the model does worse. Errors in any unit, as long as both share it.
///
/// ```
/// # use burn_rnn_train::gain_percent;
/// assert_eq!(gain_percent(1.5, 2.0), 25.0);
/// ```
pub fn gain_percent(model_error: f64, baseline_error: f64) -> f64 {
    100.0 * (1.0 - model_error / baseline_error)
}

/// A model's [`gain_percent`] over a baseline in words, a gain within ±1 % counting as a tie:
/// `"<model> beats <baseline> by 2.1 %"`, `"<model> is 3.0 % worse than <baseline>"`,
/// `"a tie: <model> is 0.4 % better, within noise"`.
///
/// ```
/// # use burn_rnn_train::describe_gain;
/// let words = describe_gain("the RNN", "the naive forecast", -0.9);
/// assert_eq!(words, "a tie: the RNN is 0.9 % worse, within noise");
/// ```
pub fn describe_gain(model: &str, baseline: &str, gain: f64) -> String {
    if gain > 1.0 {
        format!("{model} beats {baseline} by {gain:.1} %")
    } else if gain < -1.0 {
        format!("{model} is {:.1} % worse than {baseline}", -gain)
    } else if gain >= 0.0 {
        format!("a tie: {model} is {gain:.1} % better, within noise")
    } else {
        format!("a tie: {model} is {:.1} % worse, within noise", -gain)
    }
}

#[cfg(test)]
mod tests {
    use burn_rnn_data::{SequenceSample, Target};

    use super::*;

    /// Two sequences of two features: one of three steps, one of two (padded).
    fn data(kind: TargetKind) -> SequenceDataset {
        let target = |v: f32| match kind {
            TargetKind::PerStep { outputs } => Target::PerStep(vec![v; 3 * outputs]),
            TargetKind::Regression { outputs } => Target::Regression(vec![v; outputs]),
            TargetKind::Classification { .. } => Target::Class(1),
        };
        let sample = |id: &str, values: Vec<f32>, length| SequenceSample {
            id: id.into(),
            values,
            length,
            target: target(9.0),
        };
        SequenceDataset::new(
            vec![
                sample("a", vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 3),
                sample("b", vec![7.0, 8.0, 9.0, 10.0, 0.0, 0.0], 2),
            ],
            3,
            2,
            kind,
        )
        .unwrap()
    }

    #[test]
    fn many_to_many_repeats_every_valid_step() {
        let rows = last_step_forecast(&data(TargetKind::PerStep { outputs: 2 })).unwrap();
        assert_eq!(
            rows,
            vec![
                vec![1.0, 2.0],
                vec![3.0, 4.0],
                vec![5.0, 6.0],
                vec![7.0, 8.0],
                vec![9.0, 10.0]
            ]
        );
        let data = data(TargetKind::PerStep { outputs: 2 });
        assert_eq!(rows.len(), crate::dataset_targets(&data).0.len());
    }

    #[test]
    fn many_to_one_repeats_the_last_valid_step() {
        let rows = last_step_forecast(&data(TargetKind::Regression { outputs: 2 })).unwrap();
        assert_eq!(rows, vec![vec![5.0, 6.0], vec![9.0, 10.0]]);
    }

    #[test]
    fn classes_or_other_outputs_are_refused() {
        let err = last_step_forecast(&data(TargetKind::Classification { classes: 2 }))
            .unwrap_err()
            .to_string();
        assert!(err.contains("classes"), "{err}");
        let err = last_step_forecast(&data(TargetKind::Regression { outputs: 1 }))
            .unwrap_err()
            .to_string();
        assert!(err.contains("1 outputs and 2 features"), "{err}");
    }

    #[test]
    fn majority_counts_known_classes_and_breaks_ties_upwards() {
        assert_eq!(majority_class(&[2, 2, 0, 7, 7, 7], 3), Some(2));
        assert_eq!(majority_class(&[0, 1], 2), Some(1));
        assert_eq!(majority_class(&[5], 2), None);
    }

    #[test]
    fn gain_is_relative_to_the_baseline() {
        assert_eq!(gain_percent(2.0, 2.0), 0.0);
        assert_eq!(gain_percent(3.0, 2.0), -50.0);
    }

    #[test]
    fn gains_in_words() {
        let words = |gain| describe_gain("A", "B", gain);
        assert_eq!(words(2.06), "A beats B by 2.1 %");
        assert_eq!(words(-3.0), "A is 3.0 % worse than B");
        assert_eq!(words(0.4), "a tie: A is 0.4 % better, within noise");
        assert_eq!(words(-1.0), "a tie: A is 1.0 % worse, within noise");
    }
}
