//! The flags shared by the subcommands, and what they become: hints for inferring the columns,
//! and overrides of a train config's model and training settings.

use std::path::PathBuf;

use burn_rnn::data::{DataHints, Format, Task};
use burn_rnn::model::CellKind;
use burn_rnn::train::{ModelSpec, TrainingSpec, check_device_name};
use clap::Args;

/// Which columns hold what, and the task; each one inferred when not given.
#[derive(Args, Debug, Clone, Default)]
pub struct ColumnArgs {
    /// long (one row per sequence and step) or wide (one row per sequence, step columns
    /// `<feature>_0, <feature>_1, ...`); detected when not given.
    #[arg(long)]
    pub format: Option<Format>,
    /// The sequence id column [default: `id` if present; without one a long file is one series].
    #[arg(long)]
    pub id: Option<String>,
    /// The time column that orders the steps of the long format [default: `time`].
    #[arg(long)]
    pub time: Option<String>,
    /// The target column(s), comma-separated [default: a column called target, label, class or y].
    #[arg(long, value_delimiter = ',', num_args = 1..)]
    pub target: Vec<String>,
    /// The feature columns, comma-separated [default: every numeric column that is not id, time
    /// or target].
    #[arg(long, value_delimiter = ',', num_args = 1..)]
    pub features: Vec<String>,
    /// classify, regress or forecast [default: forecast with --window, classify for text labels,
    /// else regress].
    #[arg(long)]
    pub task: Option<Task>,
    /// Forecasting: the steps each window reads.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub window: Option<u64>,
    /// Forecasting: the steps forecast after each window [default: 1].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub horizon: Option<u64>,
    /// Forecasting: the steps between window starts [default: 1].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub stride: Option<u64>,
    /// Keep at most this many (the last) steps of each sequence [default: all; sequences are
    /// padded to the longest, their lengths kept as masks].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_steps: Option<u64>,
}

impl ColumnArgs {
    /// The hints for [`inspect_csv`](burn_rnn::data::inspect_csv).
    pub fn hints(&self) -> DataHints {
        let size = |v: Option<u64>| v.map(|v| v as usize);
        DataHints {
            format: self.format,
            id: self.id.clone(),
            time: self.time.clone(),
            features: self.features.clone(),
            targets: self.target.clone(),
            task: self.task,
            window: size(self.window),
            horizon: size(self.horizon),
            stride: size(self.stride),
            max_steps: size(self.max_steps),
        }
    }

    /// Whether any column flag was given.
    pub fn any(&self) -> bool {
        self.hints() != DataHints::default()
    }
}

/// The network.
#[derive(Args, Debug, Clone, Default)]
pub struct ModelArgs {
    /// Recurrent cell: elman (tanh), elman-relu, elman-sigmoid, lstm or gru [default: gru].
    #[arg(long)]
    pub cell: Option<CellKind>,
    /// Hidden units per layer and direction [default: 32].
    #[arg(long)]
    pub hidden: Option<usize>,
    /// Stacked recurrent layers [default: 1].
    #[arg(long)]
    pub layers: Option<usize>,
    /// Read each sequence forwards and backwards.
    #[arg(long)]
    pub bidirectional: bool,
    /// Dropout between layers, in [0, 1) [default: 0].
    #[arg(long)]
    pub dropout: Option<f64>,
}

impl ModelArgs {
    /// Overrides the settings given on the command line.
    pub fn apply(&self, model: &mut ModelSpec) {
        if let Some(cell) = self.cell {
            model.cell = cell.name().into();
        }
        set(&mut model.hidden, self.hidden);
        set(&mut model.layers, self.layers);
        model.bidirectional |= self.bidirectional;
        set(&mut model.dropout, self.dropout);
    }
}

/// The optimisation.
#[derive(Args, Debug, Clone, Default)]
pub struct TrainingArgs {
    /// Maximum passes over the training data [default: 40].
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Sequences per batch [default: 32].
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Adam's initial learning rate, in (0, 1], cosine-annealed [default: 0.01].
    #[arg(long)]
    pub lr: Option<f64>,
    /// Stop after this many epochs without a lower validation loss; 0 never stops early
    /// [default: 10].
    #[arg(long)]
    pub patience: Option<usize>,
    /// Seed of the weights, the shuffling and the validation split [default: 42].
    #[arg(long)]
    pub seed: Option<u64>,
}

impl TrainingArgs {
    /// Overrides the settings given on the command line.
    pub fn apply(&self, training: &mut TrainingSpec) {
        set(&mut training.epochs, self.epochs);
        set(&mut training.batch_size, self.batch_size);
        set(&mut training.lr, self.lr);
        if let Some(patience) = self.patience {
            training.patience = (patience > 0).then_some(patience);
        }
        set(&mut training.seed, self.seed);
    }
}

/// `--device`.
#[derive(Args, Debug, Clone, Default)]
pub struct DeviceArg {
    /// Backend: flex (CPU), ndarray (CPU), wgpu (GPU, or lavapipe), cuda, or a device that
    /// `burn-rnn serve-device` hosts: remote:ws://HOST:PORT (token, if any, in
    /// BURN_RNN_REMOTE_TOKEN) [default: flex].
    #[arg(long, value_parser = device_name)]
    pub device: Option<String>,
}

/// The run directory to read.
#[derive(Args, Debug, Clone)]
pub struct RunArg {
    /// The run directory written by `burn-rnn train` (or by training in code).
    #[arg(long)]
    pub run: PathBuf,
}

/// A `--device` value, checked without opening it.
fn device_name(name: &str) -> Result<String, String> {
    check_device_name(name)
        .map(|()| name.trim().to_string())
        .map_err(|e| e.to_string())
}

fn set<T>(slot: &mut T, value: Option<T>) {
    if let Some(value) = value {
        *slot = value;
    }
}

/// `--bf16`, for the commands that only run inference.
#[derive(Args, Debug, Clone, Default)]
pub struct PrecisionArg {
    /// Run the recurrent products in bf16 (`burn_rnn::model::set_inference_precision`): the
    /// flex backend on a CPU with AVX512-BF16, about 1.9× the f32 speed on large models,
    /// states within ~4e-3 of f32's (BENCHMARKS.md). Layer norm's scans stay f32.
    #[arg(long)]
    pub bf16: bool,
}

impl PrecisionArg {
    /// Sets bf16 for this thread's inference passes when asked; an error on another backend
    /// than flex (where it would change nothing) or a CPU without AVX512-BF16.
    pub fn apply(&self, device: &DeviceArg) -> anyhow::Result<()> {
        if !self.bf16 {
            return Ok(());
        }
        let name = device.device.as_deref().unwrap_or("flex");
        anyhow::ensure!(
            name == "flex",
            "--bf16 runs on the flex backend (the CPU), not on {name}"
        );
        burn_rnn::model::set_inference_precision(burn_rnn::model::InferencePrecision::Bf16)?;
        Ok(())
    }
}
