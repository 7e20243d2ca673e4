//! Accuracy of class predictions, with the majority-class baseline and a confusion matrix.

use burn_rnn_data::{SequenceDataset, TargetKind};

use super::dataset_targets;
use crate::baseline::majority_class;
use crate::error::{Result, TrainError};

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
