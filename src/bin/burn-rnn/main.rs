//! `burn-rnn`: your own data in three commands — train a recurrent network on a CSV file,
//! evaluate it against naive baselines, predict with it — plus `inspect` to check what `train`
//! would infer. Every command is a library call (`burn_rnn::data::inspect_csv`,
//! `burn_rnn::train::{TrainSpec, evaluate_run, predict_file}`).
//!
//! ```text
//! burn-rnn inspect  --data vitals.csv
//! burn-rnn train    --data vitals.csv --out runs/vitals
//! burn-rnn evaluate --run runs/vitals --data test.csv
//! burn-rnn predict  --run runs/vitals --data new.csv
//! ```

mod args;
mod commands;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Recurrent networks (Elman RNN, LSTM, GRU) on your own CSV files: inspect, train, evaluate,
/// predict.
#[derive(Parser, Debug)]
#[command(version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Show what `train` would infer from a CSV file (format, columns, task, sequences,
    /// classes) without training.
    Inspect(commands::InspectArgs),
    /// Train a network on a CSV file; writes the run (model, settings in train.toml, metrics,
    /// plots) to --out.
    Train(Box<commands::TrainArgs>),
    /// Score a trained run on a CSV file against naive baselines; prints and writes
    /// metrics.json and a plot.
    Evaluate(commands::EvaluateArgs),
    /// Predict with a trained run for the sequences of a CSV file; prints CSV (or writes
    /// --output) in the data's units.
    Predict(commands::PredictArgs),
    /// Host this machine's device for training elsewhere with --device remote:ws://HOST:PORT
    /// (burn-remote over WebSocket; unencrypted: for a trusted network).
    ServeDevice(commands::ServeDeviceArgs),
}

/// Freed large tensors are reused: no page faults in the training loop (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: burn_rnn::train::CachingAllocator = burn_rnn::train::CachingAllocator;

fn main() -> ExitCode {
    // SAFETY: the first thing `main` does, before any thread starts.
    unsafe { burn_rnn::train::quiet_headless_wgpu() };
    // SAFETY: as above, before any thread starts.
    unsafe { burn_rnn::train::cpu_default_device() };
    // Output piped into `head` ends quietly, as with other command-line tools, instead of
    // panicking in `println!` when the pipe closes.
    #[cfg(unix)]
    // SAFETY: restoring the default action of a signal, before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let result = match Cli::parse().command {
        Command::Inspect(args) => commands::inspect(&args),
        Command::Train(args) => commands::train(&args),
        Command::Evaluate(args) => commands::evaluate(&args),
        Command::Predict(args) => commands::predict(&args),
        Command::ServeDevice(args) => commands::serve_device(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
