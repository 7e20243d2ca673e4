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
use burn_rnn::train::throughput::{Regressor, WorkloadShape, measure_throughput};
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

fn main() -> std::process::ExitCode {
    common::exit_code(run(&Args::parse()))
}

/// Times every cell (and `nn::Rnn`) on every workload, prints a table and writes `--json`.
pub fn run(args: &Args) -> Result<Vec<Measurement>> {
    // As `train()` and `Predictor` do: keep freed memory in the process (BENCHMARKS.md).
    burn_rnn::train::keep_freed_memory();
    anyhow::ensure!(args.repeats >= 1, "--repeats must be at least 1");
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
        "{:<11} {:<22} {:>14} {:>10} {:>14} {:>10}",
        "workload", "implementation", "train seq/s", "GFLOP/s", "infer seq/s", "GFLOP/s"
    );
    let mut results = Vec::new();
    for workload in workloads {
        let shape = workload.shape();
        let mut runs = Vec::new();
        for &cell in &args.cell {
            let recurrent = RecurrentConfig::new(shape.features, shape.hidden)
                .with_cell(cell)
                .with_num_layers(shape.layers);
            let model = SequenceModelConfig::new(recurrent, 1).init(&device)?;
            let times = measure_throughput(model, shape, args.warmup, args.repeats, &device)?;
            runs.push((format!("burn-rnn {}", cell.name()), cell.gates(), times));
        }
        if !args.skip_burn_nn {
            let model = BurnNnRegressor::new(shape, &device);
            let times = measure_throughput(model, shape, args.warmup, args.repeats, &device)?;
            runs.push(("burn nn::Rnn Elman".into(), 1, times));
        }
        for (implementation, gates, times) in runs {
            let (train, infer) = (times.train_seconds, times.inference_seconds);
            let (train_gflops, infer_gflops) = times.gflops(shape.forward_flops(gates));
            let (train_rate, infer_rate) = times.sequences_per_second(shape.batch);
            println!(
                "{:<11} {:<22} {:>14.0} {:>10.1} {:>14.0} {:>10.1}",
                format!("{workload:?}").to_lowercase(),
                implementation,
                train_rate,
                train_gflops,
                infer_rate,
                infer_gflops
            );
            for (mode, seconds, rate, gflops) in [
                ("train", train, train_rate, train_gflops),
                ("inference", infer, infer_rate, infer_gflops),
            ] {
                results.push(Measurement {
                    workload,
                    shape,
                    implementation: implementation.clone(),
                    mode,
                    seconds_median: seconds,
                    sequences_per_second: rate,
                    gflops,
                });
            }
        }
    }
    if let Some(path) = &args.json {
        let json = serde_json::to_string_pretty(&results)?;
        std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    Ok(results)
}
