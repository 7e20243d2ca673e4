//! Throughput of the recurrent stack on the benchmark workloads (BENCHMARKS.md): training
//! (forward + backward + Adam step) and inference, in sequences per second, with the median of
//! several timed repeats after warm-up. Also runs Burn's own `nn::Rnn` on the same workload.
//!
//! ```text
//! cargo run --release --example bench -- --device flex --json target/bench.json
//! ```

use std::time::Instant;

use anyhow::{Context, Result, bail};
use burn::module::Module;
use burn::nn::loss::{MseLoss, Reduction};
use burn::nn::{Linear, LinearConfig, Rnn, RnnConfig};
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Distribution, Tensor};
use burn_rnn::model::{CellKind, RecurrentConfig, SequenceModel, SequenceModelConfig};
use burn_rnn::train::Backend;
use clap::{Parser, ValueEnum};
use serde::Serialize;

/// Benchmark the recurrent stack against Burn's own `nn::Rnn`.
#[derive(Parser, Debug)]
struct Args {
    /// Backend: flex, ndarray, wgpu or cuda (what this build has).
    #[arg(long, default_value = "flex")]
    device: String,
    /// Workloads to run (default: all three).
    #[arg(long, value_enum, num_args = 1..)]
    workload: Vec<Workload>,
    /// Cells to run for this package's implementation (elman, lstm, gru, ...).
    #[arg(long, num_args = 1.., default_values = ["elman"])]
    cell: Vec<CellKind>,
    /// Timed repeats per measurement (the median is reported).
    #[arg(long, default_value_t = 5)]
    repeats: usize,
    /// Untimed warm-up iterations per measurement.
    #[arg(long, default_value_t = 2)]
    warmup: usize,
    /// Skip Burn's own `nn::Rnn` (it is slow on the large workload).
    #[arg(long)]
    skip_burn_nn: bool,
    /// Also write the results as JSON to this file.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
}

#[derive(Clone, Copy, Debug, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
enum Workload {
    Healthcare,
    Medium,
    Large,
}

/// Batch B, steps T, features D, hidden H, layers L.
#[derive(Clone, Copy, Debug, Serialize)]
struct Shape {
    batch: usize,
    steps: usize,
    features: usize,
    hidden: usize,
    layers: usize,
}

impl Workload {
    fn shape(self) -> Shape {
        let (batch, steps, features, hidden, layers) = match self {
            Workload::Healthcare => (32, 24, 3, 32, 1),
            Workload::Medium => (64, 64, 8, 128, 2),
            Workload::Large => (256, 128, 32, 512, 1),
        };
        Shape {
            batch,
            steps,
            features,
            hidden,
            layers,
        }
    }
}

/// Floating-point operations of one forward pass (the matrix products, which dominate).
fn forward_flops(shape: Shape, gates: usize) -> f64 {
    let mut flops = 0.0;
    for layer in 0..shape.layers {
        let d_in = if layer == 0 {
            shape.features
        } else {
            shape.hidden
        };
        let per_step = 2.0 * (shape.batch * (d_in + shape.hidden) * gates * shape.hidden) as f64;
        flops += per_step * shape.steps as f64;
    }
    flops
}

#[derive(Serialize)]
struct Measurement {
    workload: Workload,
    shape: Shape,
    implementation: String,
    mode: &'static str,
    seconds_median: f64,
    sequences_per_second: f64,
    gflops: f64,
}

/// A many-to-one regressor made of Burn's own `nn::Rnn` layers, for comparison.
#[derive(Module, Debug)]
struct BurnNnRegressor {
    layers: Vec<Rnn>,
    head: Linear,
}

impl BurnNnRegressor {
    fn new(shape: Shape, device: &Device) -> Self {
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

    fn forward(&self, mut x: Tensor<3>) -> Tensor<2> {
        for layer in &self.layers {
            x = layer.forward(x, None).0;
        }
        let [batch, steps, hidden] = x.dims();
        self.head.forward(
            x.slice([0..batch, steps - 1..steps, 0..hidden])
                .reshape([batch, hidden]),
        )
    }
}

/// What the timing loop needs from a model: a many-to-one forward pass.
trait Regressor: Module + Clone {
    fn predict(&self, x: Tensor<3>) -> Tensor<2>;
}

impl Regressor for SequenceModel {
    fn predict(&self, x: Tensor<3>) -> Tensor<2> {
        self.forward_many_to_one(x, None)
            .expect("shapes checked by the benchmark")
    }
}

impl Regressor for BurnNnRegressor {
    fn predict(&self, x: Tensor<3>) -> Tensor<2> {
        self.forward(x)
    }
}

/// Times `iteration` (`warmup` untimed runs, then `repeats` timed ones) and returns the median.
fn median_seconds(
    warmup: usize,
    repeats: usize,
    device: &Device,
    mut iteration: impl FnMut(),
) -> Result<f64> {
    for _ in 0..warmup {
        iteration();
    }
    device.sync().ok();
    let mut times = Vec::with_capacity(repeats);
    for _ in 0..repeats {
        let start = Instant::now();
        iteration();
        device.sync().ok();
        times.push(start.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    times
        .get(times.len() / 2)
        .copied()
        .context("at least one repeat is needed")
}

fn measure<M: Regressor>(
    model: M,
    shape: Shape,
    args: &Args,
    device: &Device,
) -> Result<(f64, f64)> {
    let x = Tensor::<3>::random(
        [shape.batch, shape.steps, shape.features],
        Distribution::Normal(0.0, 1.0),
        device,
    );
    let y = Tensor::<2>::random([shape.batch, 1], Distribution::Normal(0.0, 1.0), device);

    let mut optimizer = AdamConfig::new().init();
    let mut trained = model.clone();
    let train = median_seconds(args.warmup, args.repeats, device, || {
        let loss = MseLoss::new().forward(trained.predict(x.clone()), y.clone(), Reduction::Mean);
        let grads = GradientsParams::from_grads(loss.backward(), &trained);
        trained = optimizer.step(1e-3, trained.clone(), grads);
    })?;

    let inference_model = model.valid();
    let x_inner = x.inner();
    let infer = median_seconds(args.warmup, args.repeats, device, || {
        let _ = inference_model.predict(x_inner.clone()).into_data();
    })?;
    Ok((train, infer))
}

/// Freed large tensors are reused: no page faults in the training loop (BENCHMARKS.md). Not
/// when `tests/examples.rs` includes this file as a module.
#[cfg(not(test))]
#[global_allocator]
static ALLOCATOR: burn_rnn::train::CachingAllocator = burn_rnn::train::CachingAllocator;

fn main() -> Result<()> {
    let args = Args::parse();
    // As `train()` and `Predictor` do: keep freed memory in the process (BENCHMARKS.md).
    burn_rnn::train::keep_freed_memory();
    if args.repeats == 0 {
        bail!("--repeats must be at least 1");
    }
    let backend: Backend = args.device.parse()?;
    let device = backend.device()?.autodiff();
    device.seed(0);
    let workloads = if args.workload.is_empty() {
        vec![Workload::Healthcare, Workload::Medium, Workload::Large]
    } else {
        args.workload.clone()
    };

    println!(
        "device {backend}, {} threads available, median of {} repeats after {} warm-up",
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
        let mut runs: Vec<(String, usize, (f64, f64))> = Vec::new();
        for &cell in &args.cell {
            let config = SequenceModelConfig::new(
                RecurrentConfig::new(shape.features, shape.hidden)
                    .with_cell(cell)
                    .with_num_layers(shape.layers),
                1,
            );
            let model = config.init(&device)?;
            let times = measure(model, shape, &args, &device)?;
            runs.push((format!("burn-rnn {}", cell.name()), cell.gates(), times));
        }
        if !args.skip_burn_nn {
            let model = BurnNnRegressor::new(shape, &device);
            let times = measure(model, shape, &args, &device)?;
            runs.push(("burn nn::Rnn Elman".into(), 1, times));
        }
        for (implementation, gates, (train, infer)) in runs {
            let flops = forward_flops(shape, gates);
            // Training costs about three forward passes (forward, and two products backward).
            let train_gflops = 3.0 * flops / train / 1e9;
            let infer_gflops = flops / infer / 1e9;
            let train_rate = shape.batch as f64 / train;
            let infer_rate = shape.batch as f64 / infer;
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
    Ok(())
}
