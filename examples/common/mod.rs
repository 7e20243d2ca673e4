//! What the example binaries share (`mod common;`): the allocator, the way `main` ends, and the
//! command-line flags of training. Everything else they need is a library call.

// Each example uses the part it needs.
#![allow(dead_code)]

use std::process::ExitCode;

use burn::tensor::Device;
use burn_rnn::data::SequenceDataset;
use burn_rnn::model::{CellKind, RecurrentConfig};
use burn_rnn::train::{Backend, Progress, TrainOptions, TrainingConfig};

/// Freed large tensors are reused: no page faults in the training loop (BENCHMARKS.md). Not
/// when `tests/examples.rs` includes an example as a module.
#[cfg(not(test))]
#[global_allocator]
static ALLOCATOR: burn_rnn::train::CachingAllocator = burn_rnn::train::CachingAllocator;

/// The exit status of an example: success, or the error and its causes on one line.
pub fn exit_code<T>(result: anyhow::Result<T>) -> ExitCode {
    match result {
        Ok(_) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// `--device`, the backend to run on.
#[derive(clap::Args, Debug, Clone)]
pub struct DeviceArg {
    /// Backend: flex (CPU, default), ndarray (CPU), wgpu (GPU, or lavapipe), cuda.
    #[arg(long, default_value = "flex")]
    pub device: Backend,
}

impl DeviceArg {
    /// The device, or why it cannot be opened (not compiled in, no adapter).
    pub fn open(&self) -> anyhow::Result<Device> {
        Ok(self.device.device()?)
    }
}

/// The flags of the examples that train with `burn_rnn::train::train`, with the healthcare
/// example's defaults; another example changes one with
/// `#[command(mut_arg("epochs", |a| a.default_value("30")))]`.
#[derive(clap::Args, Debug, Clone)]
pub struct TrainArgs {
    #[command(flatten)]
    pub device: DeviceArg,
    /// Recurrent cell: elman (tanh), elman-relu, elman-sigmoid, lstm or gru.
    #[arg(long, default_value = "gru")]
    pub cell: CellKind,
    /// Hidden units per layer.
    #[arg(long, default_value_t = 32)]
    pub hidden: usize,
    /// Maximum passes over the training sequences (early stopping may end sooner).
    #[arg(long, default_value_t = 80)]
    pub epochs: usize,
    /// Sequences per batch.
    #[arg(long, default_value_t = 16)]
    pub batch_size: usize,
    /// Adam's initial learning rate (cosine-annealed).
    #[arg(long, default_value_t = 1e-2)]
    pub lr: f64,
    /// Seed for the generated data, the split, the weights and the shuffling.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// No progress lines while training.
    #[arg(long)]
    pub quiet: bool,
}

impl TrainArgs {
    /// A run for `data`: `layers` layers of `--hidden` `--cell` units reading its features, a
    /// head for its targets, and the flags' epochs, batch size, learning rate and seed.
    pub fn config(&self, data: &SequenceDataset, layers: usize) -> TrainingConfig {
        let recurrent = RecurrentConfig::new(data.num_features(), self.hidden)
            .with_cell(self.cell)
            .with_num_layers(layers);
        TrainingConfig::for_dataset(data, recurrent)
            .with_num_epochs(self.epochs)
            .with_batch_size(self.batch_size)
            .with_learning_rate(self.lr)
            .with_seed(self.seed)
    }

    /// Progress lines unless `--quiet`; `resume` continues from the last checkpoint.
    pub fn options(&self, resume: bool) -> TrainOptions {
        TrainOptions {
            resume,
            progress: Progress::unless_quiet(self.quiet),
        }
    }
}
