//! Reports that compare predictions with targets, in the data's units: errors per output,
//! accuracy with the majority-class baseline, and a model against a baseline forecast.

use burn_rnn_data::{SequenceDataset, Target, TargetKind};

mod classification;
mod comparison;
mod forecast_track;
mod regression;
#[cfg(test)]
mod tests;

pub use classification::ClassificationReport;
pub use comparison::BaselineComparison;
pub use forecast_track::{ForecastPoint, ForecastTrack};
pub use regression::{ErrorSums, RegressionReport};

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
