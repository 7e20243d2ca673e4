//! The scores of a trained model on held-out data, against naive baselines, as `burn-rnn
//! evaluate` prints them and writes them to `metrics.json`: accuracy, per-class precision,
//! recall and F1, macro-F1 and the confusion matrix for a classifier; MAE and RMSE per output in
//! the data's units for regression and forecasting.

use std::fmt;
use std::path::Path;

use burn_rnn_data::{SequenceDataset, Task};
use serde::{Deserialize, Serialize};

use crate::artifacts::write_json;
use crate::baseline::gain_percent;
use crate::error::Result;
use crate::report::{ClassificationReport, RegressionReport, dataset_targets};

/// One class's scores (the class as the positive one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassScores {
    /// The class name.
    pub name: String,
    /// Of the sequences predicted as this class, the share that are (0 when none is predicted).
    pub precision: f64,
    /// Of the sequences of this class, the share predicted as it (0 when there are none).
    pub recall: f64,
    /// The harmonic mean of precision and recall (0 when both are 0).
    pub f1: f64,
    /// The number of sequences of this class.
    pub support: usize,
}

impl ClassificationReport {
    /// Precision, recall and F1 of each class, named by `names` (one per class).
    ///
    /// ```
    /// # use burn_rnn_train::ClassificationReport;
    /// // Truth: a a b b; predicted: a b b b.
    /// let report = ClassificationReport::compute(&[0, 1, 1, 1], &[0, 0, 1, 1], &[0, 1], 2)?;
    /// let scores = report.per_class(&["a".into(), "b".into()]);
    /// assert_eq!((scores[0].precision, scores[0].recall), (1.0, 0.5));
    /// assert_eq!((scores[1].precision, scores[1].recall), (2.0 / 3.0, 1.0));
    /// assert!((report.macro_f1() - (2.0 / 3.0 + 0.8) / 2.0).abs() < 1e-12);
    /// # Ok::<(), burn_rnn_train::TrainError>(())
    /// ```
    pub fn per_class(&self, names: &[String]) -> Vec<ClassScores> {
        let classes = self.confusion.len();
        (0..classes)
            .map(|c| {
                let correct = self.confusion[c][c] as f64;
                let predicted: usize = (0..classes).map(|t| self.confusion[t][c]).sum();
                let support: usize = self.confusion[c].iter().sum();
                let ratio = |n: f64, d: usize| if d == 0 { 0.0 } else { n / d as f64 };
                let (precision, recall) = (ratio(correct, predicted), ratio(correct, support));
                let f1 = if precision + recall > 0.0 {
                    2.0 * precision * recall / (precision + recall)
                } else {
                    0.0
                };
                ClassScores {
                    name: names.get(c).cloned().unwrap_or_else(|| c.to_string()),
                    precision,
                    recall,
                    f1,
                    support,
                }
            })
            .collect()
    }

    /// The mean of the classes' F1 scores, each class counting the same.
    pub fn macro_f1(&self) -> f64 {
        let scores = self.per_class(&[]);
        scores.iter().map(|s| s.f1).sum::<f64>() / scores.len().max(1) as f64
    }
}

/// A classifier's scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassMetrics {
    /// The share of sequences classified right.
    pub accuracy: f64,
    /// The mean F1 over classes.
    pub macro_f1: f64,
    /// Per class.
    pub classes: Vec<ClassScores>,
    /// `confusion[true][predicted]` counts, classes in the order of `classes`.
    pub confusion: Vec<Vec<usize>>,
    /// The training data's most frequent class.
    pub majority_class: String,
    /// The accuracy of always answering it.
    pub majority_accuracy: f64,
}

/// Errors of one output (or one target over all forecast steps), with the baselines' errors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputErrors {
    /// The output: a target, or `<target> t+<h>` for forecast step h.
    pub name: String,
    /// The model's mean absolute error, in the data's units.
    pub mae: f64,
    /// The model's root-mean-square error.
    pub rmse: f64,
    /// Each baseline's errors on the same targets.
    pub baselines: Vec<BaselineErrors>,
}

/// A baseline's errors on one output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaselineErrors {
    /// The baseline (`training mean`, `last value`, `seasonal naive (7)`, ...).
    pub name: String,
    /// Its mean absolute error.
    pub mae: f64,
    /// Its root-mean-square error.
    pub rmse: f64,
}

/// What `burn-rnn evaluate` measured, written as `metrics.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// The task the model was trained for.
    pub task: Task,
    /// The number of sequences (or forecast windows) scored.
    pub samples: usize,
    /// A classifier's scores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classification: Option<ClassMetrics>,
    /// Errors per output (for forecasting: per target and step ahead).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outputs: Vec<OutputErrors>,
    /// For forecasting: errors per target over every step ahead.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<OutputErrors>,
}

impl Evaluation {
    /// A classifier's evaluation: `predicted` classes against `data`'s, the majority class taken
    /// from `train_counts` (sequences per class in the training data).
    pub fn of_classes(
        predicted: &[usize],
        data: &SequenceDataset,
        train_counts: &[usize],
    ) -> Result<Self> {
        let (_, truth) = dataset_targets(data);
        Self::of_class_lists(predicted, &truth, data.target_names(), train_counts)
    }

    /// [`Evaluation::of_classes`] from the true classes and the class names (for data read in
    /// chunks, never held whole).
    pub fn of_class_lists(
        predicted: &[usize],
        truth: &[usize],
        names: &[String],
        train_counts: &[usize],
    ) -> Result<Self> {
        let reference: Vec<usize> = train_counts
            .iter()
            .enumerate()
            .flat_map(|(class, &n)| std::iter::repeat_n(class, n))
            .collect();
        let report = ClassificationReport::compute(predicted, truth, &reference, names.len())?;
        Ok(Self {
            task: Task::Classify,
            samples: truth.len(),
            classification: Some(ClassMetrics {
                accuracy: report.accuracy,
                macro_f1: report.macro_f1(),
                classes: report.per_class(names),
                confusion: report.confusion.clone(),
                majority_class: names[report.majority_class].clone(),
                majority_accuracy: report.majority_accuracy,
            }),
            outputs: Vec::new(),
            targets: Vec::new(),
        })
    }

    /// A regression or forecasting evaluation: `predictions` (`[samples][K]`) against `data`'s
    /// targets, next to each `(name, predictions)` baseline. For `Task::Forecast`, `targets`
    /// names the forecast columns whose `H` steps make the `K = H × targets` outputs
    /// (horizon-major), and gets errors over all steps too.
    pub fn of_values(
        task: Task,
        predictions: &[Vec<f32>],
        data: &SequenceDataset,
        baselines: &[(String, Vec<Vec<f32>>)],
        targets: &[String],
    ) -> Result<Self> {
        let (actual, _) = dataset_targets(data);
        let names = data.target_names();
        Self::of_value_lists(task, predictions, &actual, names, baselines, targets)
    }

    /// [`Evaluation::of_values`] from the actual values (`[samples][K]`) and the output names
    /// (for data read in chunks, never held whole).
    pub fn of_value_lists(
        task: Task,
        predictions: &[Vec<f32>],
        actual: &[Vec<f32>],
        names: &[String],
        baselines: &[(String, Vec<Vec<f32>>)],
        targets: &[String],
    ) -> Result<Self> {
        let model = RegressionReport::compute(predictions, actual, names)?;
        let baseline_reports = baselines
            .iter()
            .map(|(name, rows)| {
                Ok((
                    name.clone(),
                    RegressionReport::compute(rows, actual, names)?,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self::of_reports(
            task,
            &model,
            &baseline_reports,
            predictions.len(),
            targets,
        ))
    }

    /// [`Evaluation::of_value_lists`] from the model's and the baselines' reports over
    /// `samples` samples (for data scored a chunk at a time, see [`crate::ErrorSums`]).
    pub fn of_reports(
        task: Task,
        model: &RegressionReport,
        baseline_reports: &[(String, RegressionReport)],
        samples: usize,
        targets: &[String],
    ) -> Self {
        let outputs = (0..model.names.len())
            .map(|j| OutputErrors {
                name: model.names[j].clone(),
                mae: model.mae[j],
                rmse: model.rmse[j],
                baselines: baseline_reports
                    .iter()
                    .map(|(name, r)| BaselineErrors {
                        name: name.clone(),
                        mae: r.mae[j],
                        rmse: r.rmse[j],
                    })
                    .collect(),
            })
            .collect::<Vec<_>>();
        let per_target = if task == Task::Forecast && !targets.is_empty() {
            (0..targets.len())
                .map(|k| pooled(&targets[k], &outputs, targets.len(), k))
                .collect()
        } else {
            Vec::new()
        };
        Self {
            task,
            samples,
            classification: None,
            outputs,
            targets: per_target,
        }
    }

    /// Writes the evaluation as pretty JSON (`metrics.json`).
    pub fn write_json(&self, path: &Path) -> Result<()> {
        write_json(path, self)
    }

    /// The model's MAE gain over `baseline` on output `j`, in percent.
    pub fn gain_percent(&self, j: usize, baseline: usize) -> Option<f64> {
        let output = self.outputs.get(j)?;
        Some(gain_percent(
            output.mae,
            output.baselines.get(baseline)?.mae,
        ))
    }
}

/// Target `k`'s errors over every step ahead, from the per-step errors: MAE averaged, RMSE as
/// the root of the mean squared error (every step scores the same windows).
fn pooled(name: &str, outputs: &[OutputErrors], targets: usize, k: usize) -> OutputErrors {
    let mine: Vec<&OutputErrors> = outputs.iter().skip(k).step_by(targets).collect();
    let n = mine.len().max(1) as f64;
    let mae = |f: &dyn Fn(&OutputErrors) -> f64| mine.iter().map(|o| f(o)).sum::<f64>() / n;
    let rmse = |f: &dyn Fn(&OutputErrors) -> f64| {
        (mine.iter().map(|o| f(o).powi(2)).sum::<f64>() / n).sqrt()
    };
    let baselines = (0..mine.first().map_or(0, |o| o.baselines.len()))
        .map(|b| BaselineErrors {
            name: mine[0].baselines[b].name.clone(),
            mae: mae(&|o| o.baselines[b].mae),
            rmse: rmse(&|o| o.baselines[b].rmse),
        })
        .collect();
    OutputErrors {
        name: format!("{name} (all steps)"),
        mae: mae(&|o| o.mae),
        rmse: rmse(&|o| o.rmse),
        baselines,
    }
}

impl fmt::Display for Evaluation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(c) = &self.classification {
            writeln!(
                f,
                "accuracy {:.1} % on {} sequences (majority class \"{}\": {:.1} %), macro-F1 {:.3}",
                100.0 * c.accuracy,
                self.samples,
                c.majority_class,
                100.0 * c.majority_accuracy,
                c.macro_f1
            )?;
            let width = c
                .classes
                .iter()
                .map(|s| s.name.chars().count())
                .max()
                .unwrap_or(5)
                .max(5);
            writeln!(f, "{:<width$}  precision  recall     F1  support", "class")?;
            for s in &c.classes {
                writeln!(
                    f,
                    "{:<width$}  {:>9.3}  {:>6.3}  {:>5.3}  {:>7}",
                    s.name, s.precision, s.recall, s.f1, s.support
                )?;
            }
            writeln!(f, "confusion (rows: truth, columns: predicted):")?;
            for (name, row) in c.classes.iter().zip(&c.confusion) {
                let cells: Vec<String> = row.iter().map(|n| format!("{n:>6}")).collect();
                writeln!(f, "{:<width$} {}", name.name, cells.join(""))?;
            }
            return Ok(());
        }
        writeln!(
            f,
            "{} {} scored, errors in the data's units",
            self.samples,
            match self.task {
                Task::Forecast => "forecast windows",
                _ => "sequences",
            }
        )?;
        let rows: Vec<&OutputErrors> = self.outputs.iter().chain(&self.targets).collect();
        let width = rows
            .iter()
            .map(|o| o.name.chars().count())
            .max()
            .unwrap_or(6)
            .max(6);
        let baselines: Vec<&str> = rows.first().map_or(Vec::new(), |o| {
            o.baselines.iter().map(|b| b.name.as_str()).collect()
        });
        let col = baselines
            .iter()
            .map(|b| b.chars().count())
            .max()
            .unwrap_or(0)
            .max(10);
        write!(f, "{:<width$}  {:>9} {:>9}", "output", "MAE", "RMSE")?;
        for b in &baselines {
            write!(f, "  {:>col$} {:>7}", format!("MAE {b}"), "gain")?;
        }
        writeln!(f)?;
        for o in rows {
            write!(f, "{:<width$}  {:>9.3} {:>9.3}", o.name, o.mae, o.rmse)?;
            for b in &o.baselines {
                write!(
                    f,
                    "  {:>col$.3} {:>5.0} %",
                    b.mae,
                    gain_percent(o.mae, b.mae)
                )?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use burn_rnn_data::TargetKind;
    use burn_rnn_data::memory::{class_targets, from_nested, regression_targets};

    use super::*;

    #[test]
    fn classifier_scores_and_json() {
        let data = from_nested(
            &[
                vec![vec![0.0]],
                vec![vec![0.0]],
                vec![vec![0.0]],
                vec![vec![0.0]],
            ],
            class_targets(&[0, 0, 1, 2]),
            TargetKind::Classification { classes: 3 },
        )
        .unwrap()
        .with_target_names(vec!["cat".into(), "dog".into(), "eel".into()])
        .unwrap();
        let eval = Evaluation::of_classes(&[0, 1, 1, 1], &data, &[1, 5, 0]).unwrap();
        let c = eval.classification.as_ref().unwrap();
        assert_eq!(c.accuracy, 0.5);
        assert_eq!(
            (c.majority_class.as_str(), c.majority_accuracy),
            ("dog", 0.25)
        );
        assert_eq!(c.classes[2].f1, 0.0);
        assert_eq!(c.classes[1].support, 1);
        let text = eval.to_string();
        assert!(text.contains("macro-F1") && text.contains("eel"), "{text}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.json");
        eval.write_json(&path).unwrap();
        let back: Evaluation =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let (a, b) = (back.classification.unwrap(), c.clone());
        assert_eq!(
            (a.confusion, a.majority_class),
            (b.confusion, b.majority_class)
        );
        assert!((a.macro_f1 - b.macro_f1).abs() < 1e-12);
    }

    #[test]
    fn forecast_errors_per_step_and_per_target() {
        let data = from_nested(
            &[vec![vec![0.0]], vec![vec![0.0]]],
            regression_targets(vec![vec![1.0, 2.0], vec![3.0, 4.0]]),
            TargetKind::Regression { outputs: 2 },
        )
        .unwrap()
        .with_target_names(vec!["s t+1".into(), "s t+2".into()])
        .unwrap();
        let model = [vec![1.0, 3.0], vec![3.0, 5.0]];
        let naive = vec![vec![0.0, 0.0], vec![0.0, 0.0]];
        let eval = Evaluation::of_values(
            Task::Forecast,
            &model,
            &data,
            &[("zero".into(), naive)],
            &["s".into()],
        )
        .unwrap();
        assert_eq!(eval.outputs[0].mae, 0.0);
        assert_eq!(eval.outputs[1].mae, 1.0);
        assert_eq!(eval.targets[0].mae, 0.5);
        assert_eq!(eval.targets[0].baselines[0].mae, 2.5);
        assert_eq!(eval.gain_percent(1, 0), Some(100.0 * (1.0 - 1.0 / 3.0)));
        assert!(eval.to_string().contains("s (all steps)"));
    }
}
