//! What the example binaries share (`mod common;`): the allocator, the way `main` ends, and the
//! command-line flags of training. Everything else they need is a library call.

// Each example uses the part it needs.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use burn::tensor::Device;
use burn_rnn::data::SequenceDataset;
use burn_rnn::model::{CellKind, RecurrentConfig};
use burn_rnn::train::{
    Backend, Progress, RunDir, TrainOptions, TrainSpec, TrainedRun, TrainingConfig, train,
};
use clap::Arg;

/// Freed large tensors are reused: no page faults in the training loop (BENCHMARKS.md). Not
/// when `tests/examples.rs` includes an example as a module.
#[cfg(not(test))]
#[global_allocator]
static ALLOCATOR: burn_rnn::train::CachingAllocator = burn_rnn::train::CachingAllocator;

/// Runs an example's `main`: quiets wgpu's headless probe first (no `error: XDG_RUNTIME_DIR`
/// lines), then returns success, or prints the error and its causes on one line.
pub fn main<T>(run: impl FnOnce() -> anyhow::Result<T>) -> ExitCode {
    // SAFETY: the first thing `main` does, before any thread starts.
    unsafe { burn_rnn::train::quiet_headless_wgpu() };
    // SAFETY: as above, before any thread starts.
    unsafe { burn_rnn::train::cpu_default_device() };
    exit_code(run())
}

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
/// example's defaults; another example changes them with [`defaults`].
#[derive(clap::Args, Debug, Clone)]
pub struct TrainArgs {
    #[command(flatten)]
    pub device: DeviceArg,
    /// Recurrent cell: elman (tanh), elman-relu, elman-sigmoid, lstm, gru, mingru or minlstm.
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

    /// Trains `config` on `train_set`, validating on `valid_set`, into the run directory `dir`
    /// (continuing from its last checkpoint with `resume`), with progress lines unless
    /// `--quiet`, and prints which epoch it kept.
    pub fn fit(
        &self,
        config: &TrainingConfig,
        train_set: &SequenceDataset,
        valid_set: &SequenceDataset,
        dir: PathBuf,
        device: &Device,
        resume: bool,
    ) -> anyhow::Result<TrainedRun> {
        let options = TrainOptions {
            resume,
            progress: Progress::unless_quiet(self.quiet),
        };
        let run = train(
            config,
            train_set,
            valid_set,
            &RunDir::new(dir),
            device,
            options,
        )?;
        println!("{}", run.summary());
        Ok(run)
    }
}

impl TrainArgs {
    /// The flags' device, cell, hidden units, epochs, batch size, learning rate and seed in a
    /// [`TrainSpec`] (what `burn-rnn train` reads from its flags).
    pub fn apply_to(&self, spec: &mut TrainSpec) {
        spec.device = self.device.device.name().into();
        spec.model.cell = self.cell.name().into();
        spec.model.hidden = self.hidden;
        let t = &mut spec.training;
        (t.epochs, t.batch_size, t.lr, t.seed) = (self.epochs, self.batch_size, self.lr, self.seed);
    }

    /// Training options: progress lines unless `--quiet`.
    pub fn options(&self) -> TrainOptions {
        TrainOptions {
            resume: false,
            progress: Progress::unless_quiet(self.quiet),
        }
    }
}

/// Prints `wrote a, b and c` for the files an example wrote.
pub fn print_written(files: &[PathBuf]) {
    let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    println!("\nwrote {}", names.join(" and "));
}

/// Other defaults for flags, `(flag id, default)` pairs: an example that flattens [`TrainArgs`]
/// sets its own with `#[command(mut_args(common::defaults(&[("epochs", "30")])))]`.
pub fn defaults(values: &'static [(&'static str, &'static str)]) -> impl FnMut(Arg) -> Arg {
    move |arg| match values.iter().find(|(id, _)| arg.get_id() == *id) {
        Some(&(_, value)) => arg.default_value(value),
        None => arg,
    }
}
