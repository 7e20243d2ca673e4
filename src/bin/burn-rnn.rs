//! `burn-rnn`: predict with a trained run, in real units.
//!
//! ```text
//! cargo run --release --bin burn-rnn -- predict --run artifacts/healthcare/forecast \
//!     --input artifacts/healthcare/validation_vitals.csv
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use burn_rnn::data::csv::read_long_sequences;
use burn_rnn::train::{Backend, Prediction, Predictor};
use clap::{Parser, Subcommand};

/// Recurrent networks for Burn: use a trained run.
#[derive(Parser, Debug)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Predict for the sequences of a long-format CSV file (one row per sequence and step:
    /// an id column, a time column and one column per feature, named as in training).
    /// Prints CSV: the id and the prediction in the training data's units.
    Predict {
        /// The run directory written by training (holds training.json, model.bpk, ...).
        #[arg(long)]
        run: PathBuf,
        /// The CSV file with the sequences.
        #[arg(long)]
        input: PathBuf,
        /// Name of the sequence id column.
        #[arg(long, default_value = "id")]
        id_column: String,
        /// Name of the time (step order) column.
        #[arg(long, default_value = "time")]
        time_column: String,
        /// Backend: flex, ndarray, wgpu or cuda (as compiled in).
        #[arg(long, default_value = "flex")]
        device: String,
    },
}

/// Freed large tensors are reused: no page faults in the training loop (BENCHMARKS.md). Not
/// when `tests/examples.rs` includes this file as a module.
#[cfg(not(test))]
#[global_allocator]
static ALLOCATOR: burn_rnn::train::CachingAllocator = burn_rnn::train::CachingAllocator;

fn main() -> ExitCode {
    // SAFETY: the first thing `main` does, before any thread starts.
    unsafe { burn_rnn::train::quiet_headless_wgpu() };
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Predict {
            run,
            input,
            id_column,
            time_column,
            device,
        } => {
            let backend: Backend = device.parse()?;
            let device = backend.device()?;
            let predictor = Predictor::load(&run, &device)
                .with_context(|| format!("loading the run in {}", run.display()))?;
            let schema = predictor.schema().clone();
            let features: Vec<&str> = schema.feature_names.iter().map(String::as_str).collect();
            let sequences = read_long_sequences(&input, &id_column, &time_column, &features)?;
            let (ids, values): (Vec<String>, Vec<Vec<Vec<f32>>>) = sequences.into_iter().unzip();
            let predictions = predictor.predict(&values)?;
            let mut out = csv_writer();
            match predictions.first() {
                Some(Prediction::Class { .. }) => {
                    let mut header = vec![id_column.clone(), "class".into()];
                    header.extend(schema.target_names.iter().map(|n| format!("p({n})")));
                    out.write_record(&header)?;
                }
                Some(Prediction::PerStep(_)) => {
                    let mut header = vec![id_column.clone(), time_column.clone()];
                    header.extend(schema.target_names.iter().cloned());
                    out.write_record(&header)?;
                }
                _ => {
                    let mut header = vec![id_column.clone()];
                    header.extend(schema.target_names.iter().cloned());
                    out.write_record(&header)?;
                }
            }
            for (id, prediction) in ids.iter().zip(predictions) {
                match prediction {
                    Prediction::Values(values) => {
                        let mut row = vec![id.clone()];
                        row.extend(values.iter().map(|v| format!("{v:.4}")));
                        out.write_record(&row)?;
                    }
                    Prediction::Class {
                        name,
                        probabilities,
                        ..
                    } => {
                        let mut row = vec![id.clone(), name];
                        row.extend(probabilities.iter().map(|p| format!("{p:.4}")));
                        out.write_record(&row)?;
                    }
                    Prediction::PerStep(steps) => {
                        for (t, values) in steps.iter().enumerate() {
                            let mut row = vec![id.clone(), t.to_string()];
                            row.extend(values.iter().map(|v| format!("{v:.4}")));
                            out.write_record(&row)?;
                        }
                    }
                }
            }
            out.flush()?;
            Ok(())
        }
    }
}

fn csv_writer() -> csv::Writer<std::io::Stdout> {
    csv::Writer::from_writer(std::io::stdout())
}
