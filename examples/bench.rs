//! Throughput of the recurrent stack on the benchmark workloads (BENCHMARKS.md): training
//! (forward + backward + Adam step) and inference, in sequences per second, with the median of
//! several timed repeats after warm-up. Also runs Burn's own `nn::Rnn` on the same workload.
//!
//! ```text
//! cargo run --release --example bench -- --device flex --json target/bench.json
//! ```

mod common;

use anyhow::{Context, Result};
use burn::module::Module;
use burn::nn::{Linear, LinearConfig, Rnn, RnnConfig};
use burn::tensor::{Device, Tensor};
use burn_rnn::model::{CellKind, RecurrentConfig, SequenceModelConfig};
use burn_rnn::train::throughput::{
    Regressor, Throughput, WorkloadShape, inference_passes, measure_throughput, training_steps,
};
use clap::{Parser, ValueEnum};
use serde::Serialize;

/// Benchmark the recurrent stack against Burn's own `nn::Rnn`.
#[derive(Parser, Debug, Clone)]
#[command(version)]
pub struct Args {
    #[command(flatten)]
    pub device: common::DeviceArg,
    /// Workloads to run (default: all three).
    #[arg(long, value_enum, num_args = 1..)]
    pub workload: Vec<Workload>,
    /// Cells to run for this package's implementation (elman, lstm, gru, ...).
    #[arg(long, num_args = 1.., default_values = ["elman"])]
    pub cell: Vec<CellKind>,
    /// Timed repeats per measurement (the median is reported).
    #[arg(long, default_value_t = 5)]
    pub repeats: usize,
    /// Untimed warm-up iterations per measurement.
    #[arg(long, default_value_t = 2)]
    pub warmup: usize,
    /// Skip Burn's own `nn::Rnn` (it is slow on the large workload).
    #[arg(long)]
    pub skip_burn_nn: bool,
    /// On a GPU device, also run each cell with the scan kernels off (the tensor scan).
    #[arg(long)]
    pub gpu_paths: bool,
    /// On a GPU device, count the kernels one training step and one inference pass launch
    /// (CubeCL's execution log; the bench then runs from a temporary directory).
    #[arg(long)]
    pub dispatches: bool,
    /// Also write the results as JSON to this file.
    #[arg(long)]
    pub json: Option<std::path::PathBuf>,
}

/// The benchmark workloads of BENCHMARKS.md.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Workload {
    /// 32 × 24 × 3 → 32, 1 layer: the healthcare example's batches.
    Healthcare,
    /// 64 × 64 × 8 → 128, 2 layers.
    Medium,
    /// 256 × 128 × 32 → 512, 1 layer.
    Large,
}

impl Workload {
    fn shape(self) -> WorkloadShape {
        let (batch, steps, features, hidden, layers) = match self {
            Workload::Healthcare => (32, 24, 3, 32, 1),
            Workload::Medium => (64, 64, 8, 128, 2),
            Workload::Large => (256, 128, 32, 512, 1),
        };
        WorkloadShape {
            batch,
            steps,
            features,
            hidden,
            layers,
        }
    }
}

/// One timed mode of one implementation on one workload.
#[derive(Debug, Clone, Serialize)]
pub struct Measurement {
    /// Which workload.
    pub workload: Workload,
    /// Its size.
    pub shape: WorkloadShape,
    /// `burn-rnn <cell>` or `burn nn::Rnn Elman`.
    pub implementation: String,
    /// `train` or `inference`.
    pub mode: &'static str,
    /// The median time of one batch.
    pub seconds_median: f64,
    /// Sequences per second.
    pub sequences_per_second: f64,
    /// The matrix products' GFLOP/s.
    pub gflops: f64,
    /// Kernels launched by one run, with `--dispatches`.
    pub dispatches: Option<usize>,
}

/// CubeCL's log of the kernels it executes: CubeCL reads `cubecl.toml` from the working
/// directory when the first GPU device opens, so the bench moves to a temporary one holding it.
struct DispatchLog {
    file: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl DispatchLog {
    fn start() -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let file = dir.path().join("kernels.log");
        let config = format!(
            "[profiling.logger]\nlevel = \"minimal\"\nfile = {:?}\nappend = false\n",
            file.display().to_string()
        );
        std::fs::write(dir.path().join("cubecl.toml"), config)?;
        std::env::set_current_dir(dir.path())?;
        Ok(Self { file, _dir: dir })
    }

    /// Kernels launched by one call of `run` (after one call that compiles them).
    fn count(
        &self,
        device: &Device,
        mut run: impl FnMut() -> burn_rnn::train::Result<()>,
    ) -> Result<usize> {
        let executed = || -> Result<usize> {
            device.sync().ok();
            // The log is written by a background task.
            std::thread::sleep(std::time::Duration::from_millis(300));
            let log = std::fs::read_to_string(&self.file).unwrap_or_default();
            Ok(log.lines().filter(|l| l.starts_with("Executing")).count())
        };
        run()?;
        let before = executed()?;
        run()?;
        Ok(executed()? - before)
    }
}

/// A many-to-one regressor made of Burn's own `nn::Rnn` layers, for comparison.
#[derive(Module, Debug)]
struct BurnNnRegressor {
    layers: Vec<Rnn>,
    head: Linear,
}

impl BurnNnRegressor {
    fn new(shape: WorkloadShape, device: &Device) -> Self {
        let layers = (0..shape.layers)
            .map(|layer| {
                let d_in = if layer == 0 {
                    shape.features
                } else {
                    shape.hidden
                };
                RnnConfig::new(d_in, shape.hidden, true).init(device)
            })
            .collect();
        Self {
            layers,
            head: LinearConfig::new(shape.hidden, 1).init(device),
        }
    }
}

impl Regressor for BurnNnRegressor {
    fn predict(&self, mut x: Tensor<3>) -> burn_rnn::train::Result<Tensor<2>> {
        for layer in &self.layers {
            x = layer.forward(x, None).0;
        }
        let [batch, steps, hidden] = x.dims();
        let last = x.slice([0..batch, steps - 1..steps, 0..hidden]);
        Ok(self.head.forward(last.reshape([batch, hidden])))
    }
}

/// A model the bench times, whatever its type.
trait Timed {
    fn measure(
        self: Box<Self>,
        shape: WorkloadShape,
        args: &Args,
        device: &Device,
    ) -> burn_rnn::train::Result<Throughput>;

    /// Kernels one training step and one inference pass launch.
    fn dispatches(
        self: Box<Self>,
        shape: WorkloadShape,
        log: &DispatchLog,
        device: &Device,
    ) -> Result<(usize, usize)>;
}

impl<M: Regressor + 'static> Timed for M {
    fn measure(
        self: Box<Self>,
        shape: WorkloadShape,
        args: &Args,
        device: &Device,
    ) -> burn_rnn::train::Result<Throughput> {
        measure_throughput(*self, shape, args.warmup, args.repeats, device)
    }

    fn dispatches(
        self: Box<Self>,
        shape: WorkloadShape,
        log: &DispatchLog,
        device: &Device,
    ) -> Result<(usize, usize)> {
        let model = *self;
        let train = log.count(device, training_steps(model.clone(), shape, device))?;
        let inference = log.count(device, inference_passes(model, shape, device))?;
        Ok((train, inference))
    }
}

fn main() -> std::process::ExitCode {
    common::main(|| run(&Args::parse()))
}

/// Times every cell (and `nn::Rnn`) on every workload, prints a table and writes `--json`.
pub fn run(args: &Args) -> Result<Vec<Measurement>> {
    // As `train()` and `Predictor` do: keep freed memory in the process (BENCHMARKS.md).
    burn_rnn::train::keep_freed_memory();
    anyhow::ensure!(args.repeats >= 1, "--repeats must be at least 1");
    let json = args.json.as_ref().map(std::path::absolute).transpose()?;
    let log = args.dispatches.then(DispatchLog::start).transpose()?;
    let device = args.device.open()?.autodiff();
    device.seed(0);
    let workloads = if args.workload.is_empty() {
        vec![Workload::Healthcare, Workload::Medium, Workload::Large]
    } else {
        args.workload.clone()
    };

    println!(
        "device {}, {} threads available, median of {} repeats after {} warm-up",
        args.device.device,
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        args.repeats,
        args.warmup
    );
    println!(
        "{:<11} {:<31} {:>12} {:>8} {:>12} {:>8}",
        "workload", "implementation", "train seq/s", "GFLOP/s", "infer seq/s", "GFLOP/s"
    );
    let gpu = args.device.device.is_gpu();
    anyhow::ensure!(
        gpu || !(args.gpu_paths || args.dispatches),
        "--gpu-paths and --dispatches need a GPU device (wgpu or cuda)"
    );
    let mut results = Vec::new();
    for workload in workloads {
        let shape = workload.shape();
        // Times one implementation (and counts its kernels, with `--dispatches`).
        let measure = |model: &dyn Fn() -> Result<Box<dyn Timed>>, name: String, gates: usize| {
            let times = model()?.measure(shape, args, &device)?;
            let dispatches = match &log {
                Some(log) => Some(model()?.dispatches(shape, log, &device)?),
                None => None,
            };
            Ok::<_, anyhow::Error>((name, gates, times, dispatches))
        };
        let mut runs = Vec::new();
        for &cell in &args.cell {
            let recurrent = RecurrentConfig::new(shape.features, shape.hidden)
                .with_cell(cell)
                .with_num_layers(shape.layers);
            let config = SequenceModelConfig::new(recurrent, 1);
            let model = || Ok(Box::new(config.init(&device)?) as Box<dyn Timed>);
            runs.push(measure(
                &model,
                format!("burn-rnn {}", cell.name()),
                cell.gates(),
            )?);
            if args.gpu_paths {
                burn_rnn::model::set_gpu_kernels(false);
                let run = measure(
                    &model,
                    format!("burn-rnn {} tensor scan", cell.name()),
                    cell.gates(),
                );
                burn_rnn::model::set_gpu_kernels(true);
                runs.push(run?);
            }
        }
        if !args.skip_burn_nn {
            let model = || Ok(Box::new(BurnNnRegressor::new(shape, &device)) as Box<dyn Timed>);
            runs.push(measure(&model, "burn nn::Rnn Elman".into(), 1)?);
        }
        for (implementation, gates, times, dispatches) in runs {
            let (train, infer) = (times.train_seconds, times.inference_seconds);
            let (train_gflops, infer_gflops) = times.gflops(shape.forward_flops(gates));
            let (train_rate, infer_rate) = times.sequences_per_second(shape.batch);
            let counted =
                dispatches.map_or(String::new(), |(t, i)| format!("  kernels: {t} / {i}"));
            println!(
                "{:<11} {:<31} {:>12.0} {:>8.1} {:>12.0} {:>8.1}{counted}",
                format!("{workload:?}").to_lowercase(),
                implementation,
                train_rate,
                train_gflops,
                infer_rate,
                infer_gflops
            );
            let modes = [
                (
                    "train",
                    train,
                    train_rate,
                    train_gflops,
                    dispatches.map(|d| d.0),
                ),
                (
                    "inference",
                    infer,
                    infer_rate,
                    infer_gflops,
                    dispatches.map(|d| d.1),
                ),
            ];
            for (mode, seconds, rate, gflops, dispatches) in modes {
                results.push(Measurement {
                    workload,
                    shape,
                    implementation: implementation.clone(),
                    mode,
                    seconds_median: seconds,
                    sequences_per_second: rate,
                    gflops,
                    dispatches,
                });
            }
        }
    }
    if let Some(path) = &json {
        let json = serde_json::to_string_pretty(&results)?;
        std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    Ok(results)
}
