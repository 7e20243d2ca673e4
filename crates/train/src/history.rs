//! Per-epoch metrics of a run, read back from burn-train's metric logs and written as CSV.

use std::fs;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::artifacts::io_error;
use crate::error::Result;

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
}

/// Reads `<dir>/{train,valid}/epoch-<k>/<metric>.log` for k = 1, 2, ... while they exist.
pub fn read_history(dir: &Path) -> Result<Vec<EpochMetrics>> {
    let mut history = Vec::new();
    for epoch in 1.. {
        let read = |split: &str, metric: &str| {
            final_value(
                &dir.join(split)
                    .join(format!("epoch-{epoch}"))
                    .join(format!("{metric}.log")),
            )
        };
        let (Some(train_loss), Some(valid_loss)) = (read("train", "Loss")?, read("valid", "Loss")?)
        else {
            break;
        };
        history.push(EpochMetrics {
            epoch,
            train_loss,
            valid_loss,
            train_accuracy: read("train", "Accuracy")?,
            valid_accuracy: read("valid", "Accuracy")?,
        });
    }
    Ok(history)
}

/// The epoch value of a metric log: its last line, `value,final`. `None` if the file is absent
/// or the split did not finish.
fn final_value(path: &Path) -> Result<Option<f64>> {
    if !path.is_file() {
        return Ok(None);
    }
    let text = fs::read_to_string(path).map_err(|e| io_error(path, e))?;
    Ok(text
        .lines()
        .rev()
        .find_map(|line| line.strip_suffix(",final"))
        .and_then(|value| value.trim().parse::<f64>().ok()))
}

/// Writes the history as CSV: `epoch,train_loss,valid_loss[,train_accuracy,valid_accuracy]`.
pub fn write_history_csv(path: &Path, history: &[EpochMetrics]) -> Result<()> {
    let with_accuracy = history.iter().any(|e| e.valid_accuracy.is_some());
    let mut csv = String::from("epoch,train_loss,valid_loss");
    if with_accuracy {
        csv.push_str(",train_accuracy,valid_accuracy");
    }
    csv.push('\n');
    for e in history {
        csv.push_str(&format!("{},{},{}", e.epoch, e.train_loss, e.valid_loss));
        if with_accuracy {
            let show = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
            csv.push_str(&format!(
                ",{},{}",
                show(e.train_accuracy),
                show(e.valid_accuracy)
            ));
        }
        csv.push('\n');
    }
    fs::write(path, csv).map_err(|e| io_error(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_final_lines_until_an_epoch_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        for (epoch, train, valid) in [(1, "0.5", "0.6"), (2, "0.25", "NaN")] {
            for (split, value) in [("train", train), ("valid", valid)] {
                let d = dir.path().join(split).join(format!("epoch-{epoch}"));
                fs::create_dir_all(&d).unwrap();
                fs::write(d.join("Loss.log"), format!("0.9,4\n{value},final\n")).unwrap();
            }
        }
        let history = read_history(dir.path()).unwrap();
        assert_eq!(history.len(), 2);
        assert_eq!(history[0].train_loss, 0.5);
        assert!(history[1].valid_loss.is_nan());
        assert_eq!(history[0].valid_accuracy, None);

        let csv = dir.path().join("metrics.csv");
        write_history_csv(&csv, &history).unwrap();
        let text = fs::read_to_string(csv).unwrap();
        assert!(
            text.starts_with("epoch,train_loss,valid_loss\n1,0.5,0.6\n"),
            "{text}"
        );
    }
}
