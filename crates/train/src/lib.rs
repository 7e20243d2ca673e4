//! Training, evaluation, artifacts and plots for burn-rnn models with burn-train's Learner, the
//! backend chosen at run time (`--device flex|ndarray|wgpu|cuda`).

#![warn(missing_docs)]

pub mod artifacts;
pub mod config;
pub mod device;
pub mod error;
pub mod history;
pub mod learner;
pub mod memory;
pub mod metrics;
pub mod plot;
pub mod predict;
pub mod progress;
pub mod task;

pub use artifacts::{DataSchema, RunDir};
pub use config::{LrSchedule, TrainingConfig};
pub use device::Backend;
pub use error::{Result, TrainError};
pub use history::EpochMetrics;
pub use learner::{TrainOptions, TrainedRun, train};
pub use memory::{CachingAllocator, keep_freed_memory};
pub use predict::{ClassificationReport, Prediction, Predictor, RegressionReport, dataset_targets};
pub use progress::Progress;
pub use task::{Objective, Trainable};

// The README's example, compiled (and run unless marked `no_run`) with the doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
