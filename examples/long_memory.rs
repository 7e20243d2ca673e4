//! Which cell learns a long dependency, and how fast: each variant (a cell, `-ln` for layer
//! norm) trains on the long-memory task (`MemoryTaskConfig`: recall the sign of the first of T
//! values, at chance 50 %) with Adam, updates clipped to norm 1, from `--seeds` initialisations;
//! after every epoch its accuracy on held-out sequences is measured. The report gives each
//! variant's final accuracy, the epoch at which it first reached 90 % and its seconds per epoch,
//! and plots the mean accuracy against epochs.
//!
//! ```text
//! cargo run --release --example long_memory
//! cargo run --release --example long_memory -- --variants lstm,lstm-ln --steps 200 --seeds 5
//! cargo run --release --example long_memory -- --variants gru,mingru,minlstm --steps 1000 \
//!     --samples 512 --epochs 30 --seeds 1 --forget-bias 7
//! ```

mod common;

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Instant;

use anyhow::{Context, Result};
use burn::optim::AdamConfig;
use burn::optim::grad_clipping::GradientClippingConfig;
use burn_rnn::data::MemoryTaskConfig;
use burn_rnn::model::{CellKind, RecurrentConfig, SequenceModelConfig};
use burn_rnn::train::diagnostics::{classifier_accuracy, fit_classifier, set_forget_bias};
use burn_rnn::train::plot::{Panel, Series, write_png};
use clap::Parser;

/// Train cells (with and without layer norm) on a task with a long dependency.
#[derive(Parser, Debug, Clone)]
#[command(version)]
pub struct Args {
    #[command(flatten)]
    pub device: common::DeviceArg,
    /// Variants, comma-separated: a cell (lstm, gru, mingru, minlstm, elman, ...), `-ln` for
    /// layer norm.
    #[arg(long, value_delimiter = ',', default_value = "lstm,lstm-ln,gru,gru-ln")]
    pub variants: Vec<Variant>,
    /// T, the steps between the value to recall and the answer.
    #[arg(long, default_value_t = 100)]
    pub steps: usize,
    /// Training sequences (and half as many held out).
    #[arg(long, default_value_t = 1024)]
    pub samples: usize,
    /// Hidden units.
    #[arg(long, default_value_t = 32)]
    pub hidden: usize,
    /// Passes over the training sequences.
    #[arg(long, default_value_t = 20)]
    pub epochs: usize,
    /// Sequences per batch.
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    /// Adam's learning rate.
    #[arg(long, default_value_t = 1e-2)]
    pub lr: f64,
    /// Initialisations per variant (seeds 1, 2, ...); the data are the same for all.
    #[arg(long, default_value_t = 3)]
    pub seeds: u64,
    /// The input bias of the gate that keeps the state (`diagnostics::set_forget_bias`; 3
    /// keeps about 95 % at each step at the start); the cells' own initialisation when absent.
    #[arg(long)]
    pub forget_bias: Option<f32>,
    /// Directory for the plot.
    #[arg(long, default_value = "artifacts/long_memory")]
    pub out: PathBuf,
    /// Also print each seed's accuracy after every epoch.
    #[arg(long)]
    pub curves: bool,
}

/// A cell, with or without layer norm (`gru-ln`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Variant {
    pub cell: CellKind,
    pub layer_norm: bool,
}

impl FromStr for Variant {
    type Err = anyhow::Error;

    fn from_str(text: &str) -> Result<Self> {
        let (cell, layer_norm) = match text.strip_suffix("-ln") {
            Some(cell) => (cell, true),
            None => (text, false),
        };
        Ok(Self {
            cell: cell.parse()?,
            layer_norm,
        })
    }
}

impl std::fmt::Display for Variant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let norm = if self.layer_norm { " + layer norm" } else { "" };
        write!(f, "{}{norm}", self.cell.name())
    }
}

/// One variant's runs: the held-out accuracy after each epoch, per seed.
#[derive(Debug, Clone)]
pub struct VariantRuns {
    pub variant: Variant,
    pub accuracy: Vec<Vec<f64>>,
    pub seconds_per_epoch: f64,
}

impl VariantRuns {
    /// The mean accuracy over seeds after each epoch.
    pub fn mean(&self) -> Vec<f64> {
        let seeds = self.accuracy.len() as f64;
        let epochs = self.accuracy[0].len();
        (0..epochs)
            .map(|e| self.accuracy.iter().map(|run| run[e]).sum::<f64>() / seeds)
            .collect()
    }

    /// Each seed's first epoch (from 1) with at least `level` accuracy, if any.
    pub fn epochs_to(&self, level: f64) -> Vec<Option<usize>> {
        let first = |run: &Vec<f64>| run.iter().position(|&a| a >= level).map(|e| e + 1);
        self.accuracy.iter().map(first).collect()
    }
}

fn main() -> std::process::ExitCode {
    common::main(|| run(&Args::parse()))
}

pub fn run(args: &Args) -> Result<Vec<VariantRuns>> {
    let device = args.device.open()?.autodiff();
    let train = MemoryTaskConfig::new(args.samples, args.steps, 1).generate()?;
    let valid = MemoryTaskConfig::new(args.samples / 2, args.steps, 2).generate()?;
    println!(
        "recall the first value after T = {} steps: {} training and {} held-out sequences, \
         {} hidden units, {} epochs, {} seed(s), on {}",
        args.steps,
        train.len(),
        valid.len(),
        args.hidden,
        args.epochs,
        args.seeds,
        args.device.device
    );
    let batches = train.len().div_ceil(args.batch_size);
    let mut report = Vec::new();
    for &variant in &args.variants {
        let (mut accuracy, started) = (Vec::new(), Instant::now());
        for seed in 1..=args.seeds {
            device.seed(seed);
            let recurrent = RecurrentConfig::new(train.num_features(), args.hidden)
                .with_cell(variant.cell)
                .with_layer_norm(variant.layer_norm);
            let mut model = SequenceModelConfig::new(recurrent, 2).init(&device)?;
            if let Some(bias) = args.forget_bias {
                set_forget_bias(&mut model.recurrent, bias)?;
            }
            let mut adam = AdamConfig::new()
                .with_grad_clipping(Some(GradientClippingConfig::Norm(1.0)))
                .init();
            let mut curve = Vec::with_capacity(args.epochs);
            for epoch in 1..=args.epochs {
                let (trained, trace) =
                    fit_classifier(model, &train, &mut adam, args.lr, batches, args.batch_size)?;
                model = trained;
                anyhow::ensure!(
                    trace.diverged_at.is_none(),
                    "{variant}, seed {seed}, epoch {epoch}: the training {trace}"
                );
                curve.push(classifier_accuracy(&model, &valid)?);
            }
            accuracy.push(curve);
        }
        let seconds = started.elapsed().as_secs_f64() / (args.seeds as usize * args.epochs) as f64;
        let runs = VariantRuns {
            variant,
            accuracy,
            seconds_per_epoch: seconds,
        };
        print_runs(&runs);
        if args.curves {
            for (seed, run) in runs.accuracy.iter().enumerate() {
                let percent: Vec<String> =
                    run.iter().map(|a| format!("{:.0}", 100.0 * a)).collect();
                println!("  seed {}: {} %", seed + 1, percent.join(" "));
            }
        }
        report.push(runs);
    }
    plot(args, &report)?;
    Ok(report)
}

/// One line per variant: final accuracy (mean, range), epochs to 90 %, seconds per epoch.
fn print_runs(runs: &VariantRuns) {
    let finals: Vec<f64> = runs.accuracy.iter().map(|run| run[run.len() - 1]).collect();
    let (low, high) = finals
        .iter()
        .fold((f64::INFINITY, 0.0f64), |(l, h), &a| (l.min(a), h.max(a)));
    let mean = runs.mean();
    let to_90: Vec<String> = runs
        .epochs_to(0.9)
        .into_iter()
        .map(|e| e.map_or("never".into(), |e| e.to_string()))
        .collect();
    println!(
        "{:<22} final accuracy {:5.1} % (seeds {:.1}–{:.1} %), epochs to 90 %: {}, {:.2} s/epoch",
        runs.variant.to_string(),
        100.0 * mean[mean.len() - 1],
        100.0 * low,
        100.0 * high,
        to_90.join(", "),
        runs.seconds_per_epoch
    );
}

/// The mean accuracy against epochs, one line per variant.
fn plot(args: &Args, report: &[VariantRuns]) -> Result<()> {
    let mut panel = Panel::new(
        format!("Recall the first value after T = {} steps", args.steps),
        "epoch",
        "held-out accuracy (%, mean over seeds)",
    );
    for runs in report {
        let mean = runs.mean().into_iter().enumerate();
        let points = mean.map(|(e, a)| ((e + 1) as f64, 100.0 * a)).collect();
        panel = panel.with(Series::marked(runs.variant.to_string(), points));
    }
    std::fs::create_dir_all(&args.out).context("creating the output directory")?;
    let path = args.out.join("accuracy.png");
    write_png(&path, "Long memory", &[panel], 1).context("writing the accuracy plot")?;
    println!("plot: {}", path.display());
    Ok(())
}
