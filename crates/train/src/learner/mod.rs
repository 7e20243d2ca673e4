//! One training run with burn-train's Learner: normalisation fitted on the training split,
//! Adam with gradient clipping and a learning-rate schedule, a checkpoint every epoch (resume),
//! early stopping, and a clear error when the loss stops being finite.

use std::fs;
use std::sync::Arc;

use burn::optim::AdamConfig;
use burn::optim::grad_clipping::GradientClippingConfig;
use burn::tensor::Device;
use burn::train::metric::store::EventStoreClient;
use burn::train::metric::{AccuracyMetric, LossMetric};
use burn::train::{
    EarlyStoppingStrategy, ExecutionStrategy, Interrupter, Learner, MultiDeviceOptim,
    SupervisedTraining,
};
use burn_rnn_data::{Normalizer, SequenceSource};
use burn_rnn_model::SequenceModel;

use crate::artifacts::{DataSchema, RunDir, io_error};
use crate::checkpoint::{
    CheckpointLedger, CommitEachEpoch, Manifest, PartCheckpointer, best_epoch, stops_early,
};
use crate::config::{ClipScope, TrainingConfig};
use crate::epochs::EpochLoader;
use crate::error::{Result, TrainError};
use crate::guard::{Phase, StepGuard};
use crate::history::{EpochMetrics, write_history_csv};
use crate::metric_log::EpochMetricLog;
use crate::metrics::RealUnitMae;
use crate::predict::Predictor;
use crate::progress::{Progress, renderer};
use crate::task::{Objective, Trainable};

/// Options of a run that are not hyper-parameters.
#[derive(Debug, Clone, Copy)]
pub struct TrainOptions {
    /// Continue from the newest good checkpoint in the run directory instead of starting afresh.
    /// The run then ends exactly as an uninterrupted one would (on flex: the same weights, bit
    /// for bit, and the same metrics). A directory without a checkpoint is an error
    /// ([`TrainError::NothingToResume`]), as are other settings or data than the checkpoint's
    /// ([`TrainError::ResumeMismatch`]); only `num_epochs` may change, to extend a run.
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
    /// The epoch of the checkpoint the run resumed from, if it was resumed.
    pub resumed_from: Option<usize>,
    /// What resuming had to pass over: damaged checkpoints, newest first (also printed to
    /// stderr unless progress is silent).
    pub warnings: Vec<String>,
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
    train_set: &dyn SequenceSource,
    valid_set: &dyn SequenceSource,
    dir: &RunDir,
    device: &Device,
    options: TrainOptions,
) -> Result<TrainedRun> {
    train_on_devices(
        config,
        train_set,
        valid_set,
        dir,
        std::slice::from_ref(device),
        options,
    )
}

/// [`train`] on several devices at once: data-parallel, with burn-train's multi-device
/// strategy (`ExecutionStrategy::MultiDevice`, the optimiser on the first device). One device
/// is exactly [`train`].
///
/// Each step, every device takes a batch of `config.batch_size` sequences from its share of the
/// epoch (the epoch's shuffled order cut into `devices.len()` consecutive parts), computes the
/// gradient of its batch's mean loss, and divides it by the number of devices; burn sums the
/// shares on the first device, so the optimiser sees the mean gradient over the combined batch
/// of `devices.len() × batch_size` sequences, and takes one step (and the learning-rate
/// schedule one step) for it. Validation, checkpoints and early stopping run on the first
/// device as they do on one. The weights are initialised on the first device from
/// `config.seed`; see the README's "Training on several devices" for the rules.
///
/// Errors as [`train`] does, and also for an empty device list and for data laid out in
/// streams (stateful training carries each stream's state from one batch to the next, which
/// a split of every batch across devices would break).
pub fn train_on_devices(
    config: &TrainingConfig,
    train_set: &dyn SequenceSource,
    valid_set: &dyn SequenceSource,
    dir: &RunDir,
    devices: &[Device],
    options: TrainOptions,
) -> Result<TrainedRun> {
    let Some(device) = devices.first() else {
        return Err(TrainError::InvalidConfig(
            "training needs at least one device".into(),
        ));
    };
    crate::memory::keep_freed_memory();
    config.validate()?;
    if devices.len() > 1 && train_set.streams().is_some() {
        return Err(TrainError::InvalidConfig(format!(
            "the training data is laid out in streams for stateful training, which carries each \
             stream's state from one batch to the next; it trains on one device, not {}",
            devices.len()
        )));
    }
    check_fit(config, train_set, "training")?;
    check_fit(config, valid_set, "validation")?;

    let normalizer = fit_normalizer(config, train_set)?;
    let train_set = train_set.normalized(&normalizer)?;
    let valid_set = valid_set.normalized(&normalizer)?;
    let schema = DataSchema::of(&*train_set);
    let fingerprint = data_fingerprint(&[&*train_set, &*valid_set]);

    let checkpoints = dir.checkpoints();
    let (resumed, history, warnings) = if options.resume {
        let (manifest, history, warnings) = find_resume_point(dir, config, &fingerprint)?;
        (Some(manifest), history, warnings)
    } else {
        (None, Vec::new(), Vec::new())
    };
    if options.progress != Progress::Silent {
        for warning in &warnings {
            eprintln!("warning: {warning}");
        }
    }
    if resumed.is_none() && checkpoints.exists() {
        // A fresh run: old checkpoints would be mistaken for this run's.
        fs::remove_dir_all(&checkpoints).map_err(|e| io_error(&checkpoints, e))?;
    }
    dir.create()?;
    burn_rnn_io::remove_stale_temp_files(dir.root()).map_err(|e| io_error(dir.root(), e))?;
    dir.write_setup(config, &schema, &normalizer)?;

    let ledger = CheckpointLedger::new(
        checkpoints.join("checkpoint"),
        fingerprint,
        resumed.as_ref().map(|m| (m, history.as_slice())),
    )
    .map_err(|e| io_error(&checkpoints, e))?;
    let finished = resumed.as_ref().is_some_and(|m| {
        m.epoch >= config.num_epochs || stops_early(&history, config.early_stopping_patience)
    });
    let mae_outputs = mae_outputs(&schema, &normalizer);
    if !finished {
        let run = Epochs {
            config,
            ledger: &ledger,
            resumed: resumed.as_ref(),
            mae_outputs: &mae_outputs,
            progress: options.progress,
        };
        run.launch(train_set, valid_set, devices)?;
    }

    let history = ledger.history();
    write_history_csv(&dir.metrics(), &history)?;
    plot_history(&dir.file("loss.png"), &history)?;
    let best_epoch = best_epoch(&history)
        .ok_or_else(|| TrainError::Training("no epoch was completed".into()))?;
    let model = load_checkpointed_model(config, ledger.dir(), best_epoch, device)?;
    dir.write_model(&model)?;
    Ok(TrainedRun {
        model,
        normalizer,
        history,
        best_epoch,
        schema,
        dir: dir.clone(),
        resumed_from: resumed.map(|m| m.epoch),
        warnings,
    })
}

/// The epochs a run still has to train, on burn-train's Learner.
struct Epochs<'a> {
    config: &'a TrainingConfig,
    ledger: &'a Arc<CheckpointLedger>,
    resumed: Option<&'a Manifest>,
    /// The regression outputs with a real-unit validation MAE, and their normaliser scales.
    mae_outputs: &'a [(String, f64)],
    progress: Progress,
}

impl Epochs<'_> {
    /// Trains from the epoch after the resumed checkpoint (or the first) to the end, early
    /// stopping or divergence; each epoch's checkpoint is committed to the ledger.
    fn launch(
        self,
        train_set: Arc<dyn SequenceSource>,
        valid_set: Arc<dyn SequenceSource>,
        devices: &[Device],
    ) -> Result<()> {
        let config = self.config;
        let device = &devices[0];
        let interrupter = Interrupter::new();
        let guard = StepGuard::new(
            interrupter.clone(),
            config
                .grad_clip_norm
                .map(|norm| (norm, config.clip_scope())),
        )
        .with_devices(devices.len());
        // The weights are replaced by the checkpoint's when resuming; initialising them anyway
        // builds the module the checkpoint is loaded into.
        device.seed(config.seed);
        let model = config.model.init(&device.clone().autodiff())?;
        let trainable = Trainable::new(model, config.objective).with_guard(guard.clone());

        let first_epoch = self.resumed.map_or(0, |m| m.epoch) + 1;
        // Optimiser steps per epoch: burn gives the last device the remainder of the split,
        // and steps until every share is done.
        let len = train_set.num_samples();
        let largest_share = len - (devices.len() - 1) * (len / devices.len());
        let batches_per_epoch = largest_share.div_ceil(config.batch_size);
        let loader = |data, shuffle, phase| {
            Arc::new(EpochLoader::new(
                data,
                config.batch_size,
                shuffle,
                phase,
                first_epoch,
                guard.clone(),
            ))
        };
        let train_loader = loader(train_set, Some(config.seed), Phase::Train);
        let valid_loader = loader(valid_set, None, Phase::Valid);

        let per_tensor = match config.clip_scope() {
            ClipScope::PerTensor => config.grad_clip_norm.map(GradientClippingConfig::Norm),
            // Clipped by the training step itself (`StepGuard`).
            ClipScope::Global => None,
        };
        let optimizer = AdamConfig::new().with_grad_clipping(per_tensor).init();
        let scheduler = lr_scheduler(config, batches_per_epoch)?;

        let [model_part, optim_part, scheduler_part] =
            PartCheckpointer::three(self.ledger, self.resumed);
        let mae_names: Vec<String> = self.mae_outputs.iter().map(|(n, _)| n.clone()).collect();
        let resume_from = self.resumed.map(|m| m.epoch);
        let log = EpochMetricLog::default();
        let mut training = SupervisedTraining::new(self.ledger.dir(), train_loader, valid_loader)
            .metrics((LossMetric::new(),))
            .with_metric_logger(log.clone())
            .with_custom_checkpointers(model_part, optim_part, scheduler_part)
            .with_checkpointing_strategy(CommitEachEpoch {
                ledger: self.ledger.clone(),
                log,
                mae_outputs: mae_names,
            })
            .early_stopping(StopEarly {
                ledger: self.ledger.clone(),
                patience: config.early_stopping_patience,
            })
            .with_interrupter(interrupter.clone())
            .with_application_logger(None)
            .renderer(renderer(self.progress, interrupter, resume_from))
            .num_epochs(config.num_epochs);
        if config.objective == Objective::Classification {
            training = training
                .metric_train_numeric(AccuracyMetric::new())
                .metric_valid_numeric(AccuracyMetric::new());
        }
        for (column, (name, scale)) in self.mae_outputs.iter().enumerate() {
            training = training.metric_valid_numeric(RealUnitMae::new(name, column, *scale));
        }
        if let Some(epoch) = resume_from {
            training = training.checkpoint(epoch);
        }
        if devices.len() > 1 {
            let strategy =
                ExecutionStrategy::multi(devices.to_vec(), MultiDeviceOptim::OptimMainDevice);
            training = training.with_training_strategy(strategy.into());
        }
        let result = training.launch(Learner::new(trainable, optimizer, scheduler));
        if let Some(divergence) = guard.divergence() {
            return Err(TrainError::Diverged {
                epoch: divergence.epoch,
                batch: divergence.batch,
                what: divergence.what,
                value: divergence.value,
                learning_rate: config.learning_rate,
                last_good: self.ledger.last_epoch(),
                checkpoint_dir: self.ledger.dir().to_path_buf(),
            });
        }
        if let Some(error) = result.error {
            return Err(TrainError::Training(error.to_string()));
        }
        Ok(())
    }
}

/// Early stopping decided from the run's whole history (see [`stops_early`]), so that a resumed
/// run stops where an uninterrupted one does; burn's own strategy keeps its best epoch in memory
/// and would start counting afresh. Also stops when an epoch was not checkpointed (its loss was
/// not finite).
#[derive(Clone)]
struct StopEarly {
    ledger: Arc<CheckpointLedger>,
    patience: Option<usize>,
}

impl EarlyStoppingStrategy for StopEarly {
    fn should_stop(&mut self, epoch: usize, _store: &EventStoreClient) -> bool {
        self.ledger.stops_after(epoch, self.patience)
    }
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

mod resume;
mod setup;

use resume::{data_fingerprint, find_resume_point, load_checkpointed_model};
use setup::{check_fit, fit_normalizer, lr_scheduler, mae_outputs, plot_history};
#[cfg(test)]
mod tests;
