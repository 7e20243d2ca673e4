//! Streaming inference: `Recurrent::step` fed one time step at a time with the state carried,
//! as a server scoring live sequences does, in microseconds per step. The shapes are the
//! benchmark workloads' (BENCHMARKS.md) with one sequence and with the workload's batch.
//! `bench/pytorch_streaming.py` times PyTorch's modules the same way; `bench/streaming.sh`
//! interleaves the two.
//!
//! ```text
//! cargo run --release --example bench_streaming -- --cell lstm --json target/streaming.json
//! ```

mod common;

use anyhow::Result;
use burn::tensor::{Distribution, Tensor};
use burn_rnn::model::{
    CellKind, InferencePrecision, RecurrentConfig, RecurrentState, set_inference_precision,
};
use burn_rnn::train::throughput::time_runs;
use clap::Parser;
use serde::Serialize;

/// Time streamed steps (`Recurrent::step`) on the benchmark workloads' shapes.
#[derive(Parser, Debug, Clone)]
#[command(version)]
pub struct Args {
    #[command(flatten)]
    pub device: common::DeviceArg,
    /// Cells to run (elman, lstm, gru, ...).
    #[arg(long, num_args = 1.., default_values = ["elman", "lstm", "gru"])]
    pub cell: Vec<CellKind>,
    /// Timed repeats of a sequence's steps (the median is reported).
    #[arg(long, default_value_t = 5)]
    pub repeats: usize,
    /// Steps in bf16 (`set_inference_precision`; flex on a CPU with AVX512-BF16).
    #[arg(long)]
    pub bf16: bool,
    /// Write the results as JSON here.
    #[arg(long)]
    pub json: Option<std::path::PathBuf>,
}

/// The workloads' shapes: name, sequences B, steps T, features D, hidden units H, layers L.
const SHAPES: [(&str, usize, usize, usize, usize, usize); 3] = [
    ("healthcare", 32, 24, 3, 32, 1),
    ("medium", 64, 64, 8, 128, 2),
    ("large", 256, 128, 32, 512, 1),
];

/// One timed shape.
#[derive(Debug, Clone, Serialize)]
pub struct Streamed {
    pub workload: &'static str,
    pub implementation: String,
    /// Sequences fed at each step.
    pub batch: usize,
    pub hidden: usize,
    pub layers: usize,
    /// The median time of one step.
    pub microseconds_per_step: f64,
}

fn main() -> std::process::ExitCode {
    common::main(|| run(&Args::parse()))
}

/// Times every cell on every shape with one sequence and with the workload's batch.
pub fn run(args: &Args) -> Result<Vec<Streamed>> {
    burn_rnn::train::keep_freed_memory();
    let device = args.device.open()?;
    device.seed(0);
    if args.bf16 {
        set_inference_precision(InferencePrecision::Bf16)?;
    }
    let precision = if args.bf16 { " bf16" } else { "" };
    println!(
        "device {}, median of {} sequences",
        args.device.device, args.repeats
    );
    println!(
        "{:<11} {:<22} {:>6} {:>13}",
        "workload", "implementation", "batch", "µs per step"
    );
    let mut results = Vec::new();
    for (workload, batch, steps, features, hidden, layers) in SHAPES {
        for &cell in &args.cell {
            let rnn = RecurrentConfig::new(features, hidden)
                .with_cell(cell)
                .with_num_layers(layers)
                .init(&device)?;
            for batch in [1, batch] {
                let x = Tensor::<3>::random(
                    [steps, batch, features],
                    Distribution::Normal(0.0, 1.0),
                    &device,
                );
                let inputs: Vec<Tensor<2>> = x.iter_dim(0).map(|x| x.squeeze_dim(0)).collect();
                let sequence = || -> burn_rnn::train::Result<()> {
                    let mut state: Option<RecurrentState> = None;
                    for input in &inputs {
                        let (output, next) = rnn.step(input.clone(), state)?;
                        state = Some(next);
                        // A server reads each step's output before the next input comes.
                        output.into_data();
                    }
                    Ok(())
                };
                let seconds = time_runs(1, args.repeats, &device, sequence)?;
                let row = Streamed {
                    workload,
                    implementation: format!("burn-rnn {}{precision}", cell.name()),
                    batch,
                    hidden,
                    layers,
                    microseconds_per_step: seconds[seconds.len() / 2] / steps as f64 * 1e6,
                };
                println!(
                    "{:<11} {:<22} {:>6} {:>13.1}",
                    row.workload, row.implementation, row.batch, row.microseconds_per_step
                );
                results.push(row);
            }
        }
    }
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&results)?)?;
    }
    Ok(results)
}
