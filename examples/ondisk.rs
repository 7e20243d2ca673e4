//! Data bigger than memory (BENCHMARKS.md, "On-disk windows" and "On-disk sequences"): one
//! epoch over a synthetic long CSV file read in memory or from an on-disk file, with the time of
//! each phase, the training throughput (training samples per second of the `train` call:
//! normalisation pass, epoch, validation and checkpoint) and the process's peak resident memory.
//! `--task forecast`: the windows of `--series` series × `--steps` steps × 8 columns;
//! `--task classify`: `--series` sequences of `--min-steps` to `--steps` steps × 8 features, one
//! of three classes each.
//!
//! ```text
//! cargo run --release --example ondisk -- --series 1000 --path memory
//! cargo run --release --example ondisk -- --series 1000 --path disk
//! cargo run --release --example ondisk -- --series 10000 --path disk
//! cargo run --release --example ondisk -- --task classify --series 50000 --steps 100 --path disk
//! ```

mod common;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Result;
use burn::tensor::Device;
use burn_rnn::data::synth::SplitMix64;
use burn_rnn::data::{
    DataSpec, ForecastWindows, Format, NormalizationKind, Normalizer, OnDiskDataset,
    OnDiskSequences, SequenceSource, SpecData, Task,
};
use burn_rnn::model::{CellKind, RecurrentConfig, SequenceModelConfig};
use burn_rnn::train::{Objective, Progress, RunDir, TrainOptions, TrainingConfig, train};
use clap::{Parser, ValueEnum};

/// Where the windows are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DataPath {
    /// Read into memory (`DataSpec::read`).
    Memory,
    /// Converted into an on-disk file and read lazily (`OnDiskDataset`).
    Disk,
}

/// What is learned from the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BenchTask {
    /// Forecasting windows over long series (`OnDiskDataset` on disk).
    Forecast,
    /// One class per sequence (`OnDiskSequences` on disk).
    Classify,
}

/// One epoch over synthetic forecasting windows or sequences, in memory or on disk.
#[derive(Parser, Debug, Clone)]
pub struct Args {
    #[arg(long, value_enum, default_value_t = BenchTask::Forecast)]
    pub task: BenchTask,
    /// Series (forecasting) or sequences (classification) in the CSV file.
    #[arg(long, default_value_t = 1000)]
    pub series: usize,
    /// Rows (time steps) per series, or the most per sequence.
    #[arg(long, default_value_t = 1000)]
    pub steps: usize,
    /// Classification: the fewest steps per sequence.
    #[arg(long, default_value_t = 20)]
    pub min_steps: usize,
    /// T, the steps each window reads.
    #[arg(long, default_value_t = 16)]
    pub window: usize,
    /// Sequences per batch.
    #[arg(long, default_value_t = 256)]
    pub batch_size: usize,
    /// GRU hidden units.
    #[arg(long, default_value_t = 16)]
    pub hidden: usize,
    #[arg(long, value_enum, default_value_t = DataPath::Disk)]
    pub path: DataPath,
    /// Where the CSV file, the on-disk file and the run go (the CSV file is kept and reused).
    #[arg(long, default_value = "target/ondisk-bench")]
    pub out: PathBuf,
}

/// What one run measured.
#[derive(Debug, Clone)]
pub struct Measurement {
    /// Training windows (or sequences).
    pub train_windows: usize,
    /// Validation windows (or sequences).
    pub valid_windows: usize,
    /// Reading the CSV file (memory) or converting it (disk), seconds.
    pub load_s: f64,
    /// One normalisation pass over the training windows, seconds.
    pub fit_s: f64,
    /// The `train` call, seconds.
    pub train_s: f64,
    pub windows_per_second: f64,
    /// The validation loss after the epoch.
    pub valid_loss: f64,
    /// The process's peak resident memory (VmHWM), MiB; `None` off Linux.
    pub peak_rss_mib: Option<f64>,
}

fn main() -> std::process::ExitCode {
    common::main(|| run(&Args::parse()))
}

pub fn run(args: &Args) -> Result<Measurement> {
    std::fs::create_dir_all(&args.out)?;
    let classify = args.task == BenchTask::Classify;
    let name = match classify {
        false => format!("synth-{}x{}", args.series, args.steps),
        true => format!(
            "synth-classify-{}x{}-{}",
            args.series, args.min_steps, args.steps
        ),
    };
    let csv = args.out.join(format!("{name}.csv"));
    if !csv.is_file() {
        let started = Instant::now();
        match classify {
            false => write_csv(&csv, args.series, args.steps)?,
            true => write_sequences_csv(&csv, args.series, args.min_steps, args.steps)?,
        }
        println!("wrote {} in {:.1} s", csv.display(), secs(started));
    }
    let mut spec = DataSpec {
        format: Format::Long,
        id: Some("id".into()),
        time: Some("t".into()),
        features: (1..8).map(|f| format!("x{f}")).collect(),
        targets: vec!["y".into()],
        task: Task::Forecast,
        forecast: Some(ForecastWindows {
            window: args.window,
            horizon: 1,
            stride: 1,
        }),
        max_steps: None,
        missing: Default::default(),
    };
    if classify {
        spec.features = (1..=8).map(|f| format!("x{f}")).collect();
        spec.targets = vec!["label".into()];
        (spec.task, spec.forecast) = (Task::Classify, None);
    }
    let started = Instant::now();
    let on_disk = args.out.join(format!(
        "{name}.{}",
        if classify { "sequences" } else { "windows" }
    ));
    let (train_set, valid_set): (Box<dyn SequenceSource>, Box<dyn SequenceSource>) =
        match (args.path, classify) {
            (DataPath::Memory, _) => {
                let data: SpecData = spec.read(&csv, None)?;
                let (train, valid) = data.split(if classify { 0.1 } else { 0.02 }, 1)?;
                (Box::new(train), Box::new(valid))
            }
            (DataPath::Disk, false) => {
                let data = OnDiskDataset::convert(&csv, &spec, &on_disk)?;
                let (train, valid) = data.chronological_split(0.02)?;
                (Box::new(train), Box::new(valid))
            }
            (DataPath::Disk, true) => {
                let data = OnDiskSequences::convert(&csv, &spec, None, &on_disk)?;
                let (train, valid) = data.random_split(0.1, 1)?;
                (Box::new(train), Box::new(valid))
            }
        };
    let load_s = secs(started);
    let (train_windows, valid_windows) = (train_set.num_samples(), valid_set.num_samples());
    println!(
        "{:?}: {train_windows} training and {valid_windows} validation {} of {}×8, loaded in {load_s:.1} s",
        args.path,
        if classify { "sequences" } else { "windows" },
        train_set.num_steps()
    );
    let (outputs, objective) = match classify {
        false => (1, Objective::Regression),
        true => (3, Objective::Classification),
    };
    let model = SequenceModelConfig::new(
        RecurrentConfig::new(8, args.hidden).with_cell(CellKind::Gru),
        outputs,
    );
    let config = TrainingConfig::new(model, objective)
        .with_num_epochs(1)
        .with_batch_size(args.batch_size)
        .with_seed(1);
    let options = TrainOptions {
        progress: Progress::Silent,
        ..TrainOptions::default()
    };
    // Timed apart for the record; `train` makes this pass again.
    let started = Instant::now();
    Normalizer::fit_source(&*train_set, NormalizationKind::ZScore, !classify)?;
    let fit_s = secs(started);
    println!("one normalisation pass over the training data: {fit_s:.1} s");
    let run_dir = RunDir::new(args.out.join(format!("run-{name}-{:?}", args.path)));
    let started = Instant::now();
    let run = train(
        &config,
        &*train_set,
        &*valid_set,
        &run_dir,
        &Device::flex(),
        options,
    )?;
    let train_s = secs(started);
    let measured = Measurement {
        train_windows,
        valid_windows,
        load_s,
        fit_s,
        train_s,
        windows_per_second: train_windows as f64 / train_s,
        valid_loss: run.history[0].valid_loss,
        peak_rss_mib: peak_rss_mib(),
    };
    println!(
        "trained 1 epoch in {train_s:.1} s: {:.0} samples/s; validation loss {:.4}; peak RSS {}",
        measured.windows_per_second,
        measured.valid_loss,
        measured
            .peak_rss_mib
            .map_or("unknown".into(), |m| format!("{m:.0} MiB"))
    );
    Ok(measured)
}

/// A long CSV file `id,t,x1..x7,y`: each series a few noisy sines and a random walk, with `y`
/// following a mix of the `x`s; rows of each series together, in time order.
fn write_csv(path: &Path, series: usize, steps: usize) -> Result<()> {
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path)?);
    writeln!(out, "id,t,x1,x2,x3,x4,x5,x6,x7,y")?;
    for s in 0..series {
        let mut rng = SplitMix64::new(s as u64);
        let mut uniform = || (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
        let phase: Vec<f64> = (0..7).map(|_| uniform() * 6.0).collect();
        let mut walk = 0.0;
        for t in 0..steps {
            walk += uniform() * 0.2;
            let x: Vec<f64> = (0..7)
                .map(|f| (t as f64 * 0.05 * (f + 1) as f64 + phase[f]).sin() + uniform() * 0.1)
                .collect();
            let y = walk + x[0] * 0.5 - x[3] * 0.3 + uniform() * 0.05;
            write!(out, "s{s},{t}")?;
            for v in x.iter().chain([&y]) {
                write!(out, ",{v:.4}")?;
            }
            writeln!(out)?;
        }
    }
    out.flush()?;
    Ok(())
}

/// A long CSV file `id,t,x1..x8,label`: `series` sequences of `min_steps..=max_steps` steps,
/// each of class `down`, `flat` or `up`, which sets the drift of `x1` under noisy sines; rows of
/// each sequence together, in time order.
fn write_sequences_csv(
    path: &Path,
    series: usize,
    min_steps: usize,
    max_steps: usize,
) -> Result<()> {
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path)?);
    writeln!(out, "id,t,x1,x2,x3,x4,x5,x6,x7,x8,label")?;
    for s in 0..series {
        let mut rng = SplitMix64::new(s as u64);
        let mut uniform = || (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
        let span = max_steps.saturating_sub(min_steps) + 1;
        let steps = min_steps.max(1) + ((uniform() + 0.5) * span as f64) as usize % span;
        let class = s % 3;
        let phase: Vec<f64> = (0..8).map(|_| uniform() * 6.0).collect();
        for t in 0..steps {
            let drift = (class as f64 - 1.0) * t as f64 / steps as f64;
            write!(out, "s{s},{t}")?;
            for (f, phase) in phase.iter().enumerate() {
                let wave = (t as f64 * 0.07 * (f + 1) as f64 + phase).sin();
                let x = wave + uniform() * 0.3 + if f == 0 { drift } else { 0.0 };
                write!(out, ",{x:.4}")?;
            }
            writeln!(out, ",{}", ["down", "flat", "up"][class])?;
        }
    }
    out.flush()?;
    Ok(())
}

fn secs(since: Instant) -> f64 {
    since.elapsed().as_secs_f64()
}

/// VmHWM of `/proc/self/status`, in MiB.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}
