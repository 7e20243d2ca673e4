//! Per-epoch metrics of a run, read back from burn-train's metric logs, written as CSV and
//! drawn as charts.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::artifacts::io_error;
use crate::error::Result;
use crate::plot::{Panel, Series};

/// The metrics of one epoch (1-based); accuracies only for classification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    /// The epoch, from 1.
    pub epoch: usize,
    /// Mean training loss over the epoch's batches.
    pub train_loss: f64,
    /// Mean validation loss.
    pub valid_loss: f64,
    /// Training accuracy in percent (classification).
    pub train_accuracy: Option<f64>,
    /// Validation accuracy in percent (classification).
    pub valid_accuracy: Option<f64>,
    /// Validation MAE of each regression output in real units, `(output name, MAE)`.
    pub valid_mae: Vec<(String, f64)>,
}

/// Writes the history as CSV, atomically: `epoch,train_loss,valid_loss`, then
/// `train_accuracy,valid_accuracy` (classification) or one `valid_mae <output>` column per
/// output (regression).
pub fn write_history_csv(path: &Path, history: &[EpochMetrics]) -> Result<()> {
    let with_accuracy = history.iter().any(|e| e.valid_accuracy.is_some());
    let mae_names: Vec<String> = history
        .first()
        .map(|e| e.valid_mae.iter().map(|(name, _)| name.clone()).collect())
        .unwrap_or_default();
    let mut header = vec![
        "epoch".to_string(),
        "train_loss".into(),
        "valid_loss".into(),
    ];
    if with_accuracy {
        header.extend(["train_accuracy".to_string(), "valid_accuracy".into()]);
    }
    header.extend(mae_names.iter().map(|name| format!("valid_mae {name}")));
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(&header)
        .map_err(|e| csv_io_error(path, e))?;
    for e in history {
        let show = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
        let mut row = vec![
            e.epoch.to_string(),
            e.train_loss.to_string(),
            e.valid_loss.to_string(),
        ];
        if with_accuracy {
            row.extend([show(e.train_accuracy), show(e.valid_accuracy)]);
        }
        row.extend(e.valid_mae.iter().map(|(_, value)| value.to_string()));
        out.write_record(&row).map_err(|e| csv_io_error(path, e))?;
    }
    let bytes = out
        .into_inner()
        .map_err(|e| io_error(path, e.into_error()))?;
    burn_rnn_io::write_atomic(path, &bytes).map_err(|e| io_error(path, e))
}

/// `(epoch, value)` points of the epochs for which `value` gives one.
pub(crate) fn epoch_points(
    history: &[EpochMetrics],
    value: impl Fn(&EpochMetrics) -> Option<f64>,
) -> Vec<(f64, f64)> {
    history
        .iter()
        .filter_map(|e| value(e).map(|v| (e.epoch as f64, v)))
        .collect()
}

/// A chart of the training and validation loss per epoch (lines `training` and `validation`
/// over the x axis `epoch`); `y_label` names the loss. Add `.log_scale()` for a log y axis.
pub fn loss_panel(history: &[EpochMetrics], title: &str, y_label: &str) -> Panel {
    Panel::new(title, "epoch", y_label)
        .with(Series::line(
            "training",
            epoch_points(history, |e| Some(e.train_loss)),
        ))
        .with(Series::line(
            "validation",
            epoch_points(history, |e| Some(e.valid_loss)),
        ))
}

/// A chart of the training and validation accuracy per epoch, in percent, as
/// [`loss_panel`] draws the loss; epochs without an accuracy (regression) are left out.
pub fn accuracy_panel(history: &[EpochMetrics], title: &str, y_label: &str) -> Panel {
    Panel::new(title, "epoch", y_label)
        .with(Series::line(
            "training",
            epoch_points(history, |e| e.train_accuracy),
        ))
        .with(Series::line(
            "validation",
            epoch_points(history, |e| e.valid_accuracy),
        ))
}

fn csv_io_error(path: &Path, error: csv::Error) -> crate::error::TrainError {
    crate::error::TrainError::Io {
        path: path.to_path_buf(),
        message: error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn epoch(epoch: usize, accuracy: Option<f64>) -> EpochMetrics {
        EpochMetrics {
            epoch,
            train_loss: 1.0 / epoch as f64,
            valid_loss: 2.0 / epoch as f64,
            train_accuracy: accuracy,
            valid_accuracy: accuracy.map(|a| a - 1.0),
            valid_mae: Vec::new(),
        }
    }

    #[test]
    fn panels_draw_both_splits_per_epoch() {
        let history = [epoch(1, Some(60.0)), epoch(2, None)];
        let loss = loss_panel(&history, "Loss", "MSE");
        assert_eq!(
            (loss.x_label.as_str(), loss.y_label.as_str()),
            ("epoch", "MSE")
        );
        let names: Vec<&str> = loss.series.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["training", "validation"]);
        assert_eq!(loss.series[1].points, vec![(1.0, 2.0), (2.0, 1.0)]);
        let accuracy = accuracy_panel(&history, "Accuracy", "%");
        assert_eq!(accuracy.series[0].points, vec![(1.0, 60.0)]);
        assert_eq!(accuracy.series[1].points, vec![(1.0, 59.0)]);
    }

    #[test]
    fn writes_the_history_as_csv() {
        let dir = tempfile::tempdir().unwrap();
        let mut history = vec![epoch(1, None), epoch(2, None)];
        history[1].valid_loss = f64::NAN;
        let csv = dir.path().join("metrics.csv");
        write_history_csv(&csv, &history).unwrap();
        let text = std::fs::read_to_string(csv).unwrap();
        assert_eq!(text, "epoch,train_loss,valid_loss\n1,1,2\n2,0.5,NaN\n");
    }
}
