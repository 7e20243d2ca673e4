//! Training metrics in the data's real units: the validation MAE of each regression output,
//! computed on normalised predictions and scaled back (the offset cancels in a difference).

use std::sync::Arc;

use burn::tensor::{Tensor, TensorReadError};
use burn::train::metric::state::{FormatOptions, NumericMetricState};
use burn::train::metric::{
    Adaptor, Metric, MetricAttributes, MetricMetadata, MetricName, Numeric, NumericAttributes,
    NumericEntry, SerializedEntry,
};

use crate::task::StepOutput;

/// At most this many outputs get their own MAE metric (one line each in the progress output).
pub const MAX_MAE_METRICS: usize = 8;

/// The metric name of an output's MAE, as it appears in progress lines and log files.
pub fn mae_metric_name(output_name: &str) -> String {
    format!("MAE {output_name}")
}

/// Predictions and targets of a regression batch, `[rows, K]`, normalised.
pub struct RegressionRows {
    output: Tensor<2>,
    targets: Tensor<2>,
}

impl Adaptor<RegressionRows> for StepOutput {
    fn adapt(&self) -> RegressionRows {
        match self {
            StepOutput::Regression(out) => RegressionRows {
                output: out.output.clone(),
                targets: out.targets.clone(),
            },
            // Registered for regression objectives only (learner.rs).
            StepOutput::Classification(_) => {
                unreachable!("real-unit MAE metrics are only registered for regression")
            }
        }
    }
}

/// Mean absolute error of one output column in real units: `mean |ŷ − y| · scale`.
#[derive(Clone)]
pub struct RealUnitMae {
    name: MetricName,
    column: usize,
    scale: f64,
    state: NumericMetricState,
}

impl RealUnitMae {
    /// The MAE of output `column`, named after it, with the normaliser's `scale` for it.
    pub fn new(output_name: &str, column: usize, scale: f64) -> Self {
        Self {
            name: Arc::new(mae_metric_name(output_name)),
            column,
            scale,
            state: NumericMetricState::default(),
        }
    }
}

impl Metric for RealUnitMae {
    type Input = RegressionRows;

    fn name(&self) -> MetricName {
        self.name.clone()
    }

    fn attributes(&self) -> MetricAttributes {
        NumericAttributes {
            unit: None,
            higher_is_better: false,
        }
        .into()
    }

    fn update(
        &mut self,
        item: &RegressionRows,
        _metadata: &MetricMetadata,
    ) -> Result<SerializedEntry, TensorReadError> {
        let [rows, _] = item.output.dims();
        let c = self.column;
        let error = item.output.clone().slice([0..rows, c..c + 1])
            - item.targets.clone().slice([0..rows, c..c + 1]);
        let mae = error.abs().mean().try_into_scalar::<f64>()? * self.scale;
        // Weighted by rows, the epoch value is the MAE over every prediction of the epoch.
        self.state.update(mae, rows);
        Ok(self
            .state
            .compute_update(FormatOptions::new(self.name()).precision(3)))
    }

    fn compute(&mut self) -> Result<SerializedEntry, TensorReadError> {
        Ok(self
            .state
            .compute_final(FormatOptions::new(self.name()).precision(3)))
    }

    fn clear(&mut self) {
        self.state.reset()
    }
}

impl Numeric for RealUnitMae {
    fn value(&self) -> Option<NumericEntry> {
        Some(self.state.current_value())
    }

    fn running_value(&self) -> Option<NumericEntry> {
        Some(self.state.running_value())
    }

    fn final_value(&self) -> NumericEntry {
        self.state.final_value()
    }
}
