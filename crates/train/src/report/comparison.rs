//! A model's errors next to a baseline's, as a table.

use std::fmt;

use super::RegressionReport;
use crate::baseline::gain_percent;
use crate::error::{Result, TrainError};

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
