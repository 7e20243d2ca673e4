//! One training run with burn-train's Learner: normalisation fitted on the training split,
//! Adam with gradient clipping and a learning-rate schedule, a checkpoint every epoch (resume),
//! early stopping, and a clear error when the loss stops being finite.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use burn::data::dataloader::DataLoaderBuilder;
use burn::lr_scheduler::cosine::CosineAnnealingLrSchedulerConfig;
use burn::lr_scheduler::module_lr_scheduler::ModuleLrScheduler;
use burn::module::Module;
use burn::optim::AdamConfig;
use burn::optim::grad_clipping::GradientClippingConfig;
use burn::tensor::Device;
use burn::train::checkpoint::{CheckpointingAction, CheckpointingStrategy};
use burn::train::metric::store::{Aggregate, Direction, EventStoreClient, Split};
use burn::train::metric::{AccuracyMetric, LossMetric};
use burn::train::{
    EarlyStoppingStrategy, Interrupter, Learner, MetricEarlyStoppingStrategy, StoppingCondition,
    SupervisedTraining,
};
use burn_rnn_data::{NormalizationKind, Normalizer, Scaling, SequenceBatcher, SequenceDataset};
use burn_rnn_model::SequenceModel;

use crate::artifacts::{DataSchema, RunDir, io_error};
use crate::config::{LrSchedule, TrainingConfig};
use crate::error::{Result, TrainError};
use crate::history::{EpochMetrics, epoch_points, loss_panel, read_history, write_history_csv};
use crate::metrics::{MAX_MAE_METRICS, RealUnitMae};
use crate::plot::{Panel, Series, write_png};
use crate::predict::Predictor;
use crate::progress::{Progress, renderer};
use crate::task::{Objective, Trainable};

/// Options of a run that are not hyper-parameters.
#[derive(Debug, Clone, Copy)]
pub struct TrainOptions {
    /// Continue from the last checkpoint in the run directory instead of starting afresh.
    pub resume: bool,
    /// How progress is shown.
    pub progress: Progress,
}

impl Default for TrainOptions {
    fn default() -> Self {
        Self {
            resume: false,
            progress: Progress::Auto,
        }
    }
}

/// The outcome of [`train`].
#[derive(Debug)]
pub struct TrainedRun {
    /// The weights of the epoch with the lowest validation loss, in inference mode.
    pub model: SequenceModel,
    /// The statistics the data was scaled with (predictions are mapped back with them).
    pub normalizer: Normalizer,
    /// Loss (and accuracy) per epoch.
    pub history: Vec<EpochMetrics>,
    /// The epoch whose weights were kept (1-based).
    pub best_epoch: usize,
    /// The shape and names of the data it was trained on.
    pub schema: DataSchema,
    /// Where everything was written.
    pub dir: RunDir,
}

/// Trains `config.model` on `train_set`, validating on `valid_set`, and writes the run to `dir`
/// (see [`RunDir`]). Both datasets are in raw units: the normaliser is fitted on `train_set`
/// only (z-score, targets too for regression) and stored with the model. Tunes the process's
/// allocator first ([`crate::keep_freed_memory`]).
///
/// ```
/// use burn::tensor::Device;
/// use burn_rnn_data::synth::SineConfig;
/// use burn_rnn_data::{SplitFractions, split_random};
/// use burn_rnn_model::{RecurrentConfig, SequenceModelConfig};
/// use burn_rnn_train::{
///     Objective, Predictor, Progress, RunDir, TrainOptions, TrainingConfig, train,
/// };
///
/// // 64 noisy sine waves of 16 steps; each sample's target is its next value.
/// let waves = SineConfig { samples: 64, steps: 16, ..SineConfig::default() }.generate()?;
/// let data = waves.next_value_dataset()?;
/// let split = split_random(&data, SplitFractions::train_valid(0.75), 1)?;
///
/// // 1 feature → 8 hidden units (an Elman tanh layer by default) → 1 output; two epochs keep
/// // the example fast.
/// let model = SequenceModelConfig::new(RecurrentConfig::new(1, 8), 1);
/// let config = TrainingConfig::new(model, Objective::for_target(data.target_kind()))
///     .with_num_epochs(2);
/// let dir = tempfile::tempdir()?;
/// let run_dir = RunDir::new(dir.path());
/// let options = TrainOptions { progress: Progress::Silent, ..TrainOptions::default() };
/// let device = Device::flex();
/// let run = train(&config, &split.train, &split.valid, &run_dir, &device, options)?;
/// assert_eq!(run.history.len(), 2);
///
/// // The run directory holds what prediction needs; answers come in the data's units.
/// let predictor = Predictor::load(dir.path(), &device)?;
/// assert_eq!(predictor.predict_dataset(&split.valid)?.len(), split.valid.len());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn train(
    config: &TrainingConfig,
    train_set: &SequenceDataset,
    valid_set: &SequenceDataset,
    dir: &RunDir,
    device: &Device,
    options: TrainOptions,
) -> Result<TrainedRun> {
    crate::memory::keep_freed_memory();
    config.validate()?;
    check_fit(config, train_set, "training")?;
    check_fit(config, valid_set, "validation")?;

    let normalizer = fit_normalizer(config, train_set)?;
    let train_set = normalizer.apply(train_set)?;
    let valid_set = normalizer.apply(valid_set)?;

    let checkpoints = dir.checkpoints();
    let resume_from = if options.resume {
        latest_checkpoint(&checkpoints)?
    } else {
        None
    };
    if resume_from.is_none() && checkpoints.exists() {
        // A fresh run: old checkpoints and metric logs would be mistaken for this run's.
        fs::remove_dir_all(&checkpoints).map_err(|e| io_error(&checkpoints, e))?;
    }
    let schema = DataSchema::of(&train_set);
    dir.write_setup(config, &schema, &normalizer)?;

    device.seed(config.seed);
    let model = config.model.init(&device.clone().autodiff())?;
    let trainable = Trainable {
        model,
        objective: config.objective,
    };

    let batches_per_epoch = train_set.len().div_ceil(config.batch_size);
    let train_loader = DataLoaderBuilder::new(SequenceBatcher::for_dataset(&train_set))
        .batch_size(config.batch_size)
        .shuffle(config.seed)
        .build(train_set);
    let valid_loader = DataLoaderBuilder::new(SequenceBatcher::for_dataset(&valid_set))
        .batch_size(config.batch_size)
        .build(valid_set);

    let optimizer = AdamConfig::new()
        .with_grad_clipping(config.grad_clip_norm.map(GradientClippingConfig::Norm))
        .init();
    let scheduler = lr_scheduler(config, batches_per_epoch)?;

    let interrupter = Interrupter::new();
    let patience = config.early_stopping_patience.map(|n_epochs| {
        MetricEarlyStoppingStrategy::new(
            &LossMetric::new(),
            Aggregate::Mean,
            Direction::Lowest,
            Split::Valid,
            StoppingCondition::NoImprovementSince { n_epochs },
        )
    });
    let mut training = SupervisedTraining::new(&checkpoints, train_loader, valid_loader)
        .metrics((LossMetric::new(),))
        .with_default_checkpointers()
        .with_checkpointing_strategy(KeepBestAndLast::default())
        .early_stopping(StopOnPatienceOrDivergence {
            patience,
            interrupter: interrupter.clone(),
        })
        .with_interrupter(interrupter.clone())
        .with_application_logger(None)
        .renderer(renderer(options.progress, interrupter, resume_from))
        .num_epochs(config.num_epochs);
    if config.objective == Objective::Classification {
        training = training
            .metric_train_numeric(AccuracyMetric::new())
            .metric_valid_numeric(AccuracyMetric::new());
    }
    let mae_outputs = mae_outputs(&schema, &normalizer);
    for (column, (name, scale)) in mae_outputs.iter().enumerate() {
        training = training.metric_valid_numeric(RealUnitMae::new(name, column, *scale));
    }
    if let Some(epoch) = resume_from {
        training = training.checkpoint(epoch);
    }
    let result = training.launch(Learner::new(trainable, optimizer, scheduler));
    if let Some(error) = result.error {
        return Err(TrainError::Training(error.to_string()));
    }

    let mae_names: Vec<String> = mae_outputs.into_iter().map(|(name, _)| name).collect();
    let history = read_history(&checkpoints, &mae_names)?;
    write_history_csv(&dir.metrics(), &history)?;
    plot_history(&dir.file("loss.png"), &history)?;
    if let Some((epoch, what, value)) = first_non_finite(&history) {
        return Err(TrainError::Diverged {
            epoch,
            what: what.into(),
            value,
            learning_rate: config.learning_rate,
            checkpoint_dir: checkpoints.join("checkpoint"),
        });
    }
    let best = history
        .iter()
        .min_by(|a, b| a.valid_loss.total_cmp(&b.valid_loss))
        .ok_or_else(|| TrainError::Training("no epoch was completed".into()))?;
    let best_epoch = best.epoch;

    let path = checkpoints
        .join("checkpoint")
        .join(format!("model-{best_epoch}.bpk"));
    let fresh = Trainable {
        model: config.model.init(device)?,
        objective: config.objective,
    };
    let model = fresh
        .try_load_file(&path)
        .map_err(|e| TrainError::Io {
            path: path.clone(),
            message: format!("cannot load the best checkpoint: {e}"),
        })?
        .model;
    dir.write_model(&model)?;
    Ok(TrainedRun {
        model,
        normalizer,
        history,
        best_epoch,
        schema,
        dir: dir.clone(),
    })
}

impl TrainedRun {
    /// A predictor with the kept weights, answering in the data's real units.
    pub fn predictor(&self, device: &Device) -> Result<Predictor> {
        Predictor::new(
            self.model.clone(),
            self.normalizer.clone(),
            self.schema.clone(),
            device,
        )
    }

    /// One line for reports: `kept epoch 23 of 38 (lowest validation loss)`.
    pub fn summary(&self) -> String {
        format!(
            "kept epoch {} of {} (lowest validation loss)",
            self.best_epoch,
            self.history.len()
        )
    }
}

/// The z-score normaliser of `train_set` (targets too for regression); with
/// `normalize_inputs = false` its feature scaling is the identity (offset 0, scale 1), so the
/// saved normaliser still maps predictions back and passes features through unchanged.
fn fit_normalizer(config: &TrainingConfig, train_set: &SequenceDataset) -> Result<Normalizer> {
    let mut normalizer = Normalizer::fit(
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
fn plot_history(path: &Path, history: &[EpochMetrics]) -> Result<()> {
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
fn mae_outputs(schema: &DataSchema, normalizer: &Normalizer) -> Vec<(String, f64)> {
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
fn check_fit(config: &TrainingConfig, data: &SequenceDataset, split: &str) -> Result<()> {
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
fn lr_scheduler(config: &TrainingConfig, batches_per_epoch: usize) -> Result<ModuleLrScheduler> {
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

/// The epoch of the newest checkpoint under `dir`, if any.
fn latest_checkpoint(dir: &Path) -> Result<Option<usize>> {
    Ok(checkpoint_epochs(dir)?.into_iter().max())
}

/// Epochs with a saved model under `<dir>/checkpoint/`.
fn checkpoint_epochs(dir: &Path) -> Result<BTreeSet<usize>> {
    let folder = dir.join("checkpoint");
    if !folder.is_dir() {
        return Ok(BTreeSet::new());
    }
    let entries = fs::read_dir(&folder).map_err(|e| io_error(&folder, e))?;
    Ok(entries
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            name.strip_prefix("model-")?
                .strip_suffix(".bpk")?
                .parse()
                .ok()
        })
        .collect())
}

/// The first epoch whose training or validation loss is NaN or infinite.
fn first_non_finite(history: &[EpochMetrics]) -> Option<(usize, &'static str, f64)> {
    history.iter().find_map(|e| {
        if !e.train_loss.is_finite() {
            Some((e.epoch, "training loss", e.train_loss))
        } else if !e.valid_loss.is_finite() {
            Some((e.epoch, "validation loss", e.valid_loss))
        } else {
            None
        }
    })
}

fn epoch_is_finite(epoch: usize, store: &EventStoreClient) -> bool {
    [Split::Train, Split::Valid].iter().all(|split| {
        store
            .find_metric("Loss", epoch, Aggregate::Mean, split)
            .is_none_or(f64::is_finite)
    })
}

/// Keeps the last and the best (lowest validation loss) checkpoints; an epoch whose loss is not
/// finite is never saved, so the last good checkpoint survives a divergence.
#[derive(Default)]
struct KeepBestAndLast {
    saved: BTreeSet<usize>,
}

impl CheckpointingStrategy for KeepBestAndLast {
    fn checkpointing(
        &mut self,
        epoch: usize,
        store: &EventStoreClient,
    ) -> Vec<CheckpointingAction> {
        if !epoch_is_finite(epoch, store) {
            return Vec::new();
        }
        let best = store.find_epoch("Loss", Aggregate::Mean, Direction::Lowest, &Split::Valid);
        let mut actions = vec![CheckpointingAction::Save];
        let stale: Vec<usize> = self
            .saved
            .iter()
            .copied()
            .filter(|&e| Some(e) != best && e != epoch)
            .collect();
        for old in stale {
            self.saved.remove(&old);
            actions.push(CheckpointingAction::Delete(old));
        }
        self.saved.insert(epoch);
        actions
    }
}

/// Early stopping on the validation loss (when patience is set), and an immediate stop when
/// the loss is NaN or infinite.
#[derive(Clone)]
struct StopOnPatienceOrDivergence {
    patience: Option<MetricEarlyStoppingStrategy>,
    interrupter: Interrupter,
}

impl EarlyStoppingStrategy for StopOnPatienceOrDivergence {
    fn should_stop(&mut self, epoch: usize, store: &EventStoreClient) -> bool {
        if !epoch_is_finite(epoch, store) {
            self.interrupter
                .stop(Some("the loss is no longer finite (training diverged)"));
            return true;
        }
        self.patience
            .as_mut()
            .is_some_and(|patience| patience.should_stop(epoch, store))
    }
}

#[cfg(test)]
mod tests {
    use burn_rnn_data::{SequenceSample, Target, TargetKind};
    use burn_rnn_model::{RecurrentConfig, SequenceModelConfig};

    use super::*;

    /// Two samples of two steps with two features, regression targets.
    fn data() -> SequenceDataset {
        let sample = |values: Vec<f32>, target: f32| SequenceSample {
            id: format!("s{target}"),
            values,
            length: 2,
            target: Target::Regression(vec![target]),
        };
        SequenceDataset::new(
            vec![
                sample(vec![1.0, 0.0, 0.0, 1.0], 3.0),
                sample(vec![0.0, 1.0, 1.0, 0.0], 5.0),
            ],
            2,
            2,
            TargetKind::Regression { outputs: 1 },
        )
        .unwrap()
    }

    fn config() -> TrainingConfig {
        TrainingConfig::new(
            SequenceModelConfig::new(RecurrentConfig::new(2, 4), 1),
            Objective::Regression,
        )
    }

    #[test]
    fn inputs_pass_through_unscaled_when_normalisation_is_off() {
        let data = data();
        let on = fit_normalizer(&config(), &data).unwrap();
        assert_eq!(on.features.offset, vec![0.5, 0.5]);
        let off = fit_normalizer(&config().with_normalize_inputs(false), &data).unwrap();
        assert_eq!(off.features.offset, vec![0.0, 0.0]);
        assert_eq!(off.features.scale, vec![1.0, 1.0]);
        assert_eq!(off.normalize_features(&[1.0, 0.0]).unwrap(), vec![1.0, 0.0]);
        // Targets are still z-scored (mean 4, standard deviation 1).
        assert_eq!(off.targets, on.targets);
        assert_eq!(off.normalize_targets(&[5.0]).unwrap(), vec![1.0]);
    }
}
