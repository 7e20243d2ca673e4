//! Training, evaluation, artifacts and plots for burn-rnn models with burn-train's Learner, the
//! backend chosen at run time (`--device flex|ndarray|wgpu|cuda`).
//!
//! - [`train`] a model ([`TrainingConfig`], [`TrainOptions`]) into a [`RunDir`], then
//!   [`Predictor`] for predictions in the data's units.
//! - [`report`] and [`baseline`]: errors and accuracy against naive baselines; [`evaluate`]:
//!   the scores `burn-rnn evaluate` writes to `metrics.json`.
//! - [`command`]: the `burn-rnn` command line as library calls — [`TrainSpec`] (`train.toml`),
//!   [`evaluate_run`], [`predict_file`].
//! - [`history`] and [`plot`]: loss curves and PNG charts.
//! - [`diagnostics`]: gradient flow back in time and a plain training loop for experiments.
//! - [`throughput`]: timed training and inference passes.

#![warn(missing_docs)]

pub mod artifacts;
pub mod baseline;
mod checkpoint;
pub mod clipping;
pub mod command;
pub mod config;
pub mod device;
pub mod diagnostics;
mod epochs;
pub mod error;
pub mod evaluate;
#[doc(hidden)]
pub mod fuzzing;
mod guard;
pub mod history;
pub mod learner;
pub mod memory;
mod metric_log;
pub mod metrics;
pub mod plot;
pub mod predict;
mod prefetch;
pub mod progress;
pub mod remote;
pub mod report;
pub mod task;
pub mod throughput;

pub use artifacts::{DataSchema, RunDir};
pub use baseline::{
    NaiveForecast, describe_gain, gain_percent, last_step_forecast, majority_class, mean_forecast,
};
pub use clipping::{GradientNorms, clip_global_norm};
pub use command::{
    EvaluateOptions, ModelSpec, PredictOptions, PredictionTable, RunData, RunEvaluation,
    SpecOutcome, TrainSpec, TrainingSpec, default_run_dir, evaluate_run, predict_each,
    predict_file,
};
pub use config::{ClipScope, LrSchedule, TrainingConfig};
pub use device::{
    Backend, DeviceSpec, check_device_name, cpu_default_device, open_device, open_devices,
    parse_device_list, quiet_headless_wgpu,
};
pub use error::{Result, TrainError};
pub use evaluate::{BaselineErrors, ClassMetrics, ClassScores, Evaluation, OutputErrors};
pub use history::{EpochMetrics, accuracy_panel, loss_panel};
pub use learner::{TrainOptions, TrainedRun, train, train_on_devices};
pub use memory::{CachingAllocator, keep_freed_memory};
pub use predict::{ClassPrediction, Prediction, Predictor};
pub use progress::Progress;
pub use report::{
    BaselineComparison, ClassificationReport, ErrorSums, ForecastPoint, ForecastTrack,
    RegressionReport, dataset_targets,
};
pub use task::{Objective, Trainable};

/// Crash points in the writers and the training loop, for kill tests (see [`burn_rnn_io::crash`]).
pub use burn_rnn_io::crash;

// The README's example, compiled (and run unless marked `no_run`) with the doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
