//! Throughput of the recurrent stack on the benchmark workloads (BENCHMARKS.md): training
//! (forward + backward + Adam step) and inference, in sequences per second, with the median of
//! several timed repeats after warm-up. Also runs Burn's own `nn::Rnn` on the same workload.
//!
//! ```text
//! cargo run --release --example bench -- --device flex --json target/bench.json
//! cargo run --release --example bench -- --workload long --steps 10000 --cell gru mingru
//! ```

mod common;

use anyhow::{Context, Result};
use burn::tensor::{Device, Distribution, Tensor};
use burn_rnn::model::{
    CellKind, InferencePrecision, RecurrentConfig, SequenceModelConfig, set_inference_precision,
};
use burn_rnn::train::throughput::{
    BurnRnnStack, KernelLog, Regressor, Throughput, WorkloadShape, inference_passes,
    measure_throughput, time_runs,
};
use clap::{Parser, ValueEnum};
use serde::Serialize;

/// Benchmark the recurrent stack against Burn's own `nn::Rnn`.
#[derive(Parser, Debug, Clone)]
#[command(version)]
pub struct Args {
    #[command(flatten)]
    pub device: common::DeviceArg,
    /// Workloads to run (default: healthcare, medium and large).
    #[arg(long, value_enum, num_args = 1..)]
    pub workload: Vec<Workload>,
    /// Steps per sequence T, in place of each workload's own.
    #[arg(long)]
    pub steps: Option<usize>,
    /// Stacked layers, in place of each workload's own.
    #[arg(long)]
    pub layers: Option<usize>,
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
    /// Also run each cell with layer normalisation inside the recurrence (LSTM and GRU).
    #[arg(long)]
    pub layer_norm: bool,
    /// On a GPU device, also run each cell with the scan kernels off (the tensor scan).
    #[arg(long)]
    pub gpu_paths: bool,
    /// Also run each cell's inference in bf16 (`set_inference_precision`; flex on a CPU with
    /// AVX512-BF16), and print how far its predictions are from the f32 ones.
    #[arg(long)]
    pub bf16: bool,
    /// On a GPU device, count the kernels one training step and one inference pass launch
    /// (CubeCL's execution log; the bench then runs from a temporary directory).
    #[arg(long)]
    pub dispatches: bool,
    /// Time inference passes only (no training steps): for profiles of inference.
    #[arg(long)]
    pub inference_only: bool,
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
    /// 16 × 1,000 × 8 → 64, 1 layer: long sequences (with `--steps` up to 10,000).
    Long,
}

impl Workload {
    fn shape(self) -> WorkloadShape {
        let (batch, steps, features, hidden, layers) = match self {
            Workload::Healthcare => (32, 24, 3, 32, 1),
            Workload::Medium => (64, 64, 8, 128, 2),
            Workload::Large => (256, 128, 32, 512, 1),
            Workload::Long => (16, 1000, 8, 64, 1),
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
    /// A bf16 run (`--bf16`): the largest difference of its predictions from the f32 ones.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_difference_from_f32: Option<f32>,
}

/// One implementation's figures: its name, the flops of its forward pass, times and kernel
/// counts (`--dispatches`).
type Timed = (String, f64, Throughput, Option<(usize, usize)>);

/// Times a model made by `make` (made again to count its kernels, with `log`).
fn measure<M: Regressor>(
    make: impl Fn() -> Result<M>,
    name: String,
    flops: f64,
    (shape, args, log): (WorkloadShape, &Args, Option<&KernelLog>),
    device: &Device,
) -> Result<Timed> {
    let times = match args.inference_only {
        false => measure_throughput(make()?, shape, args.warmup, args.repeats, device)?,
        true => {
            let passes = inference_passes(make()?, shape, device);
            let seconds = time_runs(args.warmup, args.repeats, device, passes)?;
            Throughput {
                train_seconds: f64::NAN,
                inference_seconds: seconds[seconds.len() / 2],
            }
        }
    };
    let kernels = match log {
        Some(log) => Some(log.count_steps(make()?, shape, device)?),
        None => None,
    };
    Ok((name, flops, times, kernels))
}

/// `--bf16`: `model`'s inference passes timed in bf16, and the largest difference of its
/// predictions from the f32 ones on one batch, with the largest prediction for scale.
fn bf16_inference<M: Regressor>(
    model: M,
    name: &str,
    flops: f64,
    (shape, args, _): (WorkloadShape, &Args, Option<&KernelLog>),
) -> Result<(Timed, f32, f32)> {
    let device = Device::flex();
    let x = Tensor::<3>::random(
        [shape.batch, shape.steps, shape.features],
        Distribution::Normal(0.0, 1.0),
        &device,
    );
    let model = model.valid();
    let predict = |model: &M| -> Result<Vec<f32>> {
        let y = model.predict(x.clone())?.into_data().convert::<f32>();
        y.try_to_vec::<f32>()
            .map_err(|e| anyhow::anyhow!("reading the predictions: {e:?}"))
    };
    let f32s = predict(&model)?;
    set_inference_precision(InferencePrecision::Bf16)?;
    let measured = (|| {
        let bf16s = predict(&model)?;
        let passes = || -> burn_rnn::train::Result<()> {
            model.predict(x.clone())?.into_data();
            Ok(())
        };
        let seconds = time_runs(args.warmup, args.repeats, &device, passes)?;
        Ok::<_, anyhow::Error>((bf16s, seconds[seconds.len() / 2]))
    })();
    set_inference_precision(InferencePrecision::F32)?;
    let (bf16s, seconds) = measured?;
    let difference = f32s
        .iter()
        .zip(&bf16s)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    let largest = f32s.iter().map(|y| y.abs()).fold(0.0, f32::max);
    let times = Throughput {
        train_seconds: f64::NAN,
        inference_seconds: seconds,
    };
    Ok((
        (format!("{name} bf16"), flops, times, None),
        difference,
        largest,
    ))
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
    let log = args.dispatches.then(KernelLog::start).transpose()?;
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
        let mut shape = workload.shape();
        shape.steps = args.steps.unwrap_or(shape.steps);
        shape.layers = args.layers.unwrap_or(shape.layers);
        let setting = (shape, args, log.as_ref());
        let mut runs = Vec::new();
        let mut differences = std::collections::HashMap::new();
        for &cell in &args.cell {
            let recurrent = RecurrentConfig::new(shape.features, shape.hidden)
                .with_cell(cell)
                .with_num_layers(shape.layers);
            let config = SequenceModelConfig::new(recurrent, 1);
            let model = || Ok(config.init(&device)?);
            let name = format!("burn-rnn {}", cell.name());
            let flops = shape.forward_flops_of(cell);
            runs.push(measure(model, name.clone(), flops, setting, &device)?);
            if args.layer_norm && matches!(cell, CellKind::Lstm | CellKind::Gru) {
                let normalised =
                    SequenceModelConfig::new(config.recurrent.clone().with_layer_norm(true), 1);
                let model = || Ok(normalised.init(&device)?);
                let name = format!("{name} layer norm");
                runs.push(measure(model, name, flops, setting, &device)?);
            }
            if args.bf16 {
                let (timed, difference, largest) = bf16_inference(model()?, &name, flops, setting)?;
                println!(
                    "{name} bf16: predictions within {difference:.1e} of f32 (largest |y| {largest:.2})"
                );
                differences.insert(timed.0.clone(), difference);
                runs.push(timed);
            }
            if args.gpu_paths {
                burn_rnn::model::set_gpu_kernels(false);
                let scan = measure(
                    model,
                    format!("{name} tensor scan"),
                    flops,
                    setting,
                    &device,
                );
                burn_rnn::model::set_gpu_kernels(true);
                runs.push(scan?);
            }
        }
        if !args.skip_burn_nn {
            let model = || Ok(BurnRnnStack::new(shape, &device));
            let flops = shape.forward_flops(1);
            runs.push(measure(
                model,
                "burn nn::Rnn Elman".into(),
                flops,
                setting,
                &device,
            )?);
        }
        for (implementation, flops, times, dispatches) in runs {
            // An inference-only run (bf16) has no training figures.
            let trained = !times.train_seconds.is_nan();
            let (train, infer) = (times.train_seconds, times.inference_seconds);
            let (train_gflops, infer_gflops) = times.gflops(flops);
            let (train_rate, infer_rate) = times.sequences_per_second(shape.batch);
            let counted =
                dispatches.map_or(String::new(), |(t, i)| format!("  kernels: {t} / {i}"));
            let training = match trained {
                true => format!("{train_rate:>12.0} {train_gflops:>8.1}"),
                false => format!("{:>12} {:>8}", "-", "-"),
            };
            println!(
                "{:<11} {:<31} {training} {:>12.0} {:>8.1}{counted}",
                format!("{workload:?}").to_lowercase(),
                implementation,
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
                if mode == "train" && !trained {
                    continue;
                }
                results.push(Measurement {
                    workload,
                    shape,
                    implementation: implementation.clone(),
                    mode,
                    seconds_median: seconds,
                    sequences_per_second: rate,
                    gflops,
                    dispatches,
                    max_difference_from_f32: differences.get(&implementation).copied(),
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
