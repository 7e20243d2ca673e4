//! What a run prepares around the Learner: the normaliser, the checks that the model fits the
//! data, the learning-rate schedule, the real-unit MAE outputs and the history's plot.

use std::path::Path;

use burn::lr_scheduler::cosine::CosineAnnealingLrSchedulerConfig;
use burn::lr_scheduler::module_lr_scheduler::ModuleLrScheduler;
use burn_rnn_data::{NormalizationKind, Normalizer, Scaling, SequenceSource};

use crate::artifacts::DataSchema;
use crate::config::{LrSchedule, TrainingConfig};
use crate::error::{Result, TrainError};
use crate::history::{EpochMetrics, epoch_points, loss_panel};
use crate::metrics::MAX_MAE_METRICS;
use crate::plot::{Panel, Series, write_png};
use crate::task::Objective;

/// The z-score normaliser of `train_set` (targets too for regression); with
/// `normalize_inputs = false` its feature scaling is the identity (offset 0, scale 1), so the
/// saved normaliser still maps predictions back and passes features through unchanged.
pub(super) fn fit_normalizer(
    config: &TrainingConfig,
    train_set: &dyn SequenceSource,
) -> Result<Normalizer> {
    let mut normalizer = Normalizer::fit_source(
        train_set,
        NormalizationKind::ZScore,
        config.objective.is_regression(),
    )?;
    if !config.normalize_inputs {
        let d = normalizer.features.len();
        normalizer.features = Scaling {
            offset: vec![0.0; d],
            scale: vec![1.0; d],
        };
    }
    Ok(normalizer)
}

/// `loss.png` of a run: training and validation loss per epoch (log scale), and the validation
/// MAE of each regression output in real units when it was logged.
pub(super) fn plot_history(path: &Path, history: &[EpochMetrics]) -> Result<()> {
    let finite = history
        .iter()
        .all(|e| e.train_loss.is_finite() && e.valid_loss.is_finite());
    if history.is_empty() || !finite {
        // A diverged run is reported by an error; there is nothing readable to plot.
        return Ok(());
    }
    let mut panels = vec![loss_panel(history, "Loss", "loss (log scale)").log_scale()];
    for (j, (name, _)) in history[0].valid_mae.iter().enumerate() {
        panels.push(
            Panel::new(format!("Validation MAE: {name}"), "epoch", name.as_str()).with(
                Series::line(
                    "validation MAE",
                    epoch_points(history, |e| Some(e.valid_mae[j].1)),
                ),
            ),
        );
    }
    let columns = panels.len().min(2);
    write_png(path, "Training history", &panels, columns)
}

/// The regression outputs that get a real-unit validation MAE metric, with their normaliser
/// scale: every output when there are at most [`MAX_MAE_METRICS`], none otherwise.
pub(super) fn mae_outputs(schema: &DataSchema, normalizer: &Normalizer) -> Vec<(String, f64)> {
    let Some(targets) = &normalizer.targets else {
        return Vec::new();
    };
    if schema.target_names.len() > MAX_MAE_METRICS {
        return Vec::new();
    }
    schema
        .target_names
        .iter()
        .cloned()
        .zip(targets.scale.iter().copied())
        .collect()
}

/// Checks that a dataset fits the model and objective before any tensor is built.
pub(super) fn check_fit(
    config: &TrainingConfig,
    data: &dyn SequenceSource,
    split: &str,
) -> Result<()> {
    let d_input = config.model.recurrent.d_input;
    if data.num_features() != d_input {
        return Err(TrainError::InvalidConfig(format!(
            "the {split} data has {} features per step but the model reads d_input = {d_input}",
            data.num_features()
        )));
    }
    let objective = Objective::for_target(data.target_kind());
    if objective != config.objective {
        return Err(TrainError::InvalidConfig(format!(
            "the {split} data has {:?} targets but the objective is {:?}",
            data.target_kind(),
            config.objective
        )));
    }
    if let Some(streams) = data.streams() {
        if config.model.recurrent.bidirectional {
            return Err(TrainError::InvalidConfig(format!(
                "the {split} data is laid out in streams for stateful training, which carries \
                 the state forward in time; a bidirectional model cannot"
            )));
        }
        if split == "training" && config.batch_size != streams.count {
            return Err(TrainError::InvalidConfig(format!(
                "the training data is laid out in {} streams for stateful training: set \
                 batch_size to {} (TrainingConfig::for_dataset does)",
                streams.count, streams.count
            )));
        }
    }
    let outputs = data.target_kind().outputs();
    if outputs != config.model.d_output {
        return Err(TrainError::InvalidConfig(format!(
            "the {split} data needs {outputs} outputs but the model has d_output = {}",
            config.model.d_output
        )));
    }
    Ok(())
}

/// The learning-rate schedule; burn's schedulers step once per batch.
pub(super) fn lr_scheduler(
    config: &TrainingConfig,
    batches_per_epoch: usize,
) -> Result<ModuleLrScheduler> {
    match config.lr_schedule {
        LrSchedule::Constant => Ok(ModuleLrScheduler::from(config.learning_rate)),
        LrSchedule::Cosine { final_fraction } => CosineAnnealingLrSchedulerConfig::new(
            config.learning_rate,
            (config.num_epochs * batches_per_epoch).max(1),
        )
        .with_min_lr(config.learning_rate * final_fraction)
        .init()
        .map_err(|e| TrainError::InvalidConfig(format!("learning-rate schedule: {e}"))),
    }
}
