//! The lesson on vanishing and exploding gradients (docs/design.md), measured with
//! `burn_rnn::train::diagnostics` (whose docs explain each measurement):
//!
//! 1. **Gradient norms** ‖∂loss/∂h‖ going back in time: one ReLU unit with `|w| = 2` and
//!    `|w| = 0.5`, where they are exactly `w^k` (→ ∞, → 0), against an LSTM whose forget-gate
//!    bias starts at `--forget-bias` (3: `f ≈ σ(3) ≈ 0.95`, "remember unless told otherwise").
//! 2. **A task that needs a long memory** (`MemoryTaskConfig`: recall the sign of the first of T
//!    values): an Elman RNN (tanh) and an LSTM (as above), trained with Adam for each T.
//! 3. **Clipping.** An Elman ReLU RNN whose recurrent weight is `2·I` (|w| = 2 in every
//!    direction) trained on the T = 20 task with plain SGD, once as is and once with every update
//!    clipped to norm 1.
//!
//! Training is a plain loop (`diagnostics::fit_classifier`, not `burn_rnn::train::train`): the
//! experiments set weights by hand, and the clipping lesson needs plain SGD, as Adam divides every
//! step by the gradient's running magnitude, which already tames an exploding gradient as long
//! as it stays finite.
//!
//! ```text
//! cargo run --release --example gradients
//! cargo run --release --example gradients -- --device wgpu --epochs 60
//! ```

mod common;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use burn::optim::grad_clipping::GradientClippingConfig;
use burn::optim::{AdamConfig, ModuleOptimizer, SgdConfig};
use burn::tensor::Device;
use burn_rnn::data::synth::uniform_noise;
use burn_rnn::data::{MemoryTaskConfig, SequenceDataset};
use burn_rnn::model::{CellKind, ElmanActivation, RecurrentConfig, SequenceModelConfig};
use burn_rnn::train::diagnostics::{
    GradientCurve, LossTrace, classifier_accuracy, fit_classifier, lstm_gradient_norms,
    relu_unit_gradient_norms, set_forget_bias, set_identity_recurrence,
};
use burn_rnn::train::plot::{Panel, Series, write_png};
use clap::Parser;

/// Measure vanishing and exploding gradients, and train Elman vs LSTM on a long-memory task.
#[derive(Parser, Debug, Clone)]
#[command(version)]
pub struct Args {
    #[command(flatten)]
    pub device: common::DeviceArg,
    /// Passes over the training sequences of the long-memory task, per model and T.
    #[arg(long, default_value_t = 30)]
    pub epochs: usize,
    /// Seed for the weights and the generated sequences.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Directory for the plots.
    #[arg(long, default_value = "artifacts/gradients")]
    pub out: PathBuf,
    /// How many steps back the gradient is followed (the notes: 50).
    #[arg(long, default_value_t = 50)]
    pub steps_back: usize,
    /// Sequence lengths T of the long-memory task, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "5,20,50")]
    pub lengths: Vec<usize>,
    /// Training sequences per T (validation: half as many more).
    #[arg(long, default_value_t = 512)]
    pub samples: usize,
    /// Hidden units of the networks trained on the long-memory task and of the measured LSTM.
    #[arg(long, default_value_t = 16)]
    pub hidden: usize,
    /// Initial bias of the LSTM's forget gate.
    #[arg(long, default_value_t = 3.0)]
    pub forget_bias: f32,
    /// SGD steps of the clipping demonstration.
    #[arg(long, default_value_t = 60)]
    pub clip_steps: usize,
}

/// Validation accuracy of both cells on the long-memory task for one T.
#[derive(Debug, Clone, Copy)]
pub struct MemoryResult {
    /// Sequence length T.
    pub steps: usize,
    /// Elman (tanh) accuracy in [0, 1].
    pub elman: f64,
    /// LSTM accuracy in [0, 1].
    pub lstm: f64,
}

/// What the example measured.
#[derive(Debug, Clone)]
pub struct Report {
    /// Elman |w| = 2, Elman |w| = 0.5, LSTM.
    pub curves: Vec<GradientCurve>,
    /// One row per T.
    pub memory: Vec<MemoryResult>,
    /// SGD without clipping.
    pub unclipped: LossTrace,
    /// SGD with updates clipped to norm 1.
    pub clipped: LossTrace,
}

fn main() -> std::process::ExitCode {
    common::main(|| run(&Args::parse()))
}

/// Runs the three experiments, prints what they show and writes `gradients.png` to `--out`.
pub fn run(args: &Args) -> Result<Report> {
    anyhow::ensure!(args.steps_back >= 1, "--steps-back must be at least 1");
    anyhow::ensure!(!args.lengths.is_empty(), "--lengths needs at least one T");
    anyhow::ensure!(args.lengths.iter().all(|&t| t >= 1), "every T must be ≥ 1");
    let device = args.device.open()?;
    let autodiff = device.clone().autodiff();
    autodiff.seed(args.seed);
    let n = args.steps_back;

    println!(
        "== 1. The gradient ‖∂loss/∂h_(T−k)‖ at k steps back in time (loss = sum of h_T / √H) =="
    );
    let noise = uniform_noise(n, args.seed);
    let curves = vec![
        GradientCurve {
            name: "Elman, w = 2".into(),
            norms: relu_unit_gradient_norms(2.0, n, &autodiff)?,
        },
        GradientCurve {
            name: "Elman, w = 0.5".into(),
            norms: relu_unit_gradient_norms(0.5, n, &autodiff)?,
        },
        GradientCurve {
            name: format!("LSTM, forget bias {}", args.forget_bias),
            norms: lstm_gradient_norms(args.hidden, args.forget_bias, &noise, &autodiff)?,
        },
    ];
    let (lstm_low, lstm_high) = curves[2].range(1);
    println!(
        "{:<24} {:>10} {:>10} {:>10} {:>10}",
        "steps back k", "1", "10", "25", n
    );
    for curve in &curves {
        let at = |k: usize| curve.norms[k.min(n)];
        println!(
            "{:<24} {:>10.3e} {:>10.3e} {:>10.3e} {:>10.3e}",
            curve.name,
            at(1),
            at(10),
            at(25),
            at(n)
        );
    }
    println!(
        "With |w| = 2 the gradient doubles at every step back: 2^{n} = {:.2e} (it explodes). With \
         |w| = 0.5 it halves: 0.5^{n} = {:.2e} (it vanishes; step T−{n} cannot be learned from).\n\
         (ReLU with positive states is the identity, so these are exactly w^k.)\n\
         The LSTM's gradient passes through its forget gate instead of a fixed weight: over the \
         {n} steps it stays between {:.1e} and {:.1e}, within {} order(s) of magnitude, and the \
         gate is learned.",
        2f64.powi(n as i32),
        0.5f64.powi(n as i32),
        lstm_low,
        lstm_high,
        orders(lstm_high / lstm_low),
    );

    println!(
        "\n== 2. Recall the sign of the first of T values ({} training, {} validation sequences, \
         {} epochs, chance = 50 %) ==",
        args.samples,
        args.samples / 2,
        args.epochs
    );
    println!("{:>4} {:>12} {:>12}", "T", "Elman (tanh)", "LSTM");
    let mut memory = Vec::new();
    for (i, &steps) in args.lengths.iter().enumerate() {
        let seed = args.seed + 100 * i as u64;
        let train = MemoryTaskConfig::new(args.samples, steps, seed).generate()?;
        let valid = MemoryTaskConfig::new((args.samples / 2).max(1), steps, seed + 1).generate()?;
        let elman = train_memory(
            CellKind::Elman(ElmanActivation::Tanh),
            &train,
            &valid,
            args,
            &autodiff,
        )?;
        let lstm = train_memory(CellKind::Lstm, &train, &valid, args, &autodiff)?;
        println!(
            "{steps:>4} {:>10.1} % {:>10.1} %",
            100.0 * elman,
            100.0 * lstm
        );
        memory.push(MemoryResult { steps, elman, lstm });
    }
    if let Some(last) = memory.last() {
        let verdict = if last.lstm > last.elman + 0.1 {
            "the LSTM remembers where the Elman RNN has forgotten"
        } else {
            "this run did not separate them (try more --epochs)"
        };
        println!(
            "At T = {}: Elman {:.0} %, LSTM {:.0} %: {verdict}.",
            last.steps,
            100.0 * last.elman,
            100.0 * last.lstm
        );
    }

    println!(
        "\n== 3. Clipping: Elman ReLU with recurrent weight 2·I, T = 20, plain SGD (lr 0.01), \
         {} steps ==",
        args.clip_steps
    );
    let clip_data = MemoryTaskConfig::new(args.samples, 20, args.seed + 999).generate()?;
    let unclipped = train_exploding(&clip_data, None, args, &autodiff)?;
    let clipped = train_exploding(&clip_data, Some(1.0), args, &autodiff)?;
    for (name, trace) in [
        ("without clipping", &unclipped),
        ("clipped to norm 1", &clipped),
    ] {
        let diverged = ": the update was as large as the exploded gradient and threw the weights \
                        to infinity (diverged)";
        let why = trace.diverged_at.map_or("", |_| diverged);
        println!("{name:<18}: {trace}{why}");
    }
    println!(
        "Clipping caps the size of each update, so one exploded gradient cannot wreck the \
         weights; it does not bring back a vanished gradient (that is what the LSTM's gates do)."
    );

    let report = Report {
        curves,
        memory,
        unclipped,
        clipped,
    };
    let plot = args.out.join("gradients.png");
    plot_report(&plot, &report)?;
    println!("\nwrote {}", plot.display());
    Ok(report)
}

/// How many orders of magnitude `ratio` is away from 1, rounded up.
fn orders(ratio: f64) -> i32 {
    ratio.log10().abs().ceil() as i32
}

const BATCH: usize = 32;

/// Trains `cell` with Adam (lr 0.01, updates clipped to norm 1) for `--epochs` passes and
/// returns its validation accuracy.
fn train_memory(
    cell: CellKind,
    train: &SequenceDataset,
    valid: &SequenceDataset,
    args: &Args,
    device: &Device,
) -> Result<f64> {
    let recurrent = RecurrentConfig::new(train.num_features(), args.hidden).with_cell(cell);
    let mut model = SequenceModelConfig::new(recurrent, 2).init(device)?;
    if cell == CellKind::Lstm {
        set_forget_bias(&mut model.recurrent, args.forget_bias)?;
    }
    let mut adam = AdamConfig::new()
        .with_grad_clipping(Some(GradientClippingConfig::Norm(1.0)))
        .init();
    let steps = args.epochs * train.len().div_ceil(BATCH);
    let (model, _) = fit_classifier(model, train, &mut adam, 1e-2, steps, BATCH)?;
    Ok(classifier_accuracy(&model, valid)?)
}

/// The clipping demonstration: Elman ReLU, recurrent weight 2·I, plain SGD with lr 0.01.
fn train_exploding(
    data: &SequenceDataset,
    clip: Option<f32>,
    args: &Args,
    device: &Device,
) -> Result<LossTrace> {
    device.seed(args.seed);
    let h = args.hidden;
    let relu = CellKind::Elman(ElmanActivation::Relu);
    let recurrent = RecurrentConfig::new(data.num_features(), h).with_cell(relu);
    let mut model = SequenceModelConfig::new(recurrent, 2).init(device)?;
    set_identity_recurrence(&mut model.recurrent, 2.0)?;
    let mut sgd: ModuleOptimizer = SgdConfig::new()
        .with_gradient_clipping(clip.map(GradientClippingConfig::Norm))
        .init();
    Ok(fit_classifier(model, data, &mut sgd, 1e-2, args.clip_steps, BATCH)?.1)
}

/// Gradient norms back in time, accuracy against T, and the SGD losses with and without clipping.
fn plot_report(path: &Path, report: &Report) -> Result<()> {
    let mut gradients = Panel::new(
        "‖∂loss/∂h‖ going back in time (relative to the last step)",
        "steps back k",
        "gradient norm (log scale)",
    )
    .log_scale();
    for curve in &report.curves {
        gradients = gradients.with(curve.series());
    }
    let accuracy = |f: fn(&MemoryResult) -> f64| -> Vec<(f64, f64)> {
        report
            .memory
            .iter()
            .map(|m| (m.steps as f64, f(m)))
            .collect()
    };
    let memory = Panel::new(
        "Recall the first value after T steps",
        "sequence length T",
        "validation accuracy (%)",
    )
    .with(Series::marked(
        "Elman (tanh)",
        accuracy(|m| 100.0 * m.elman),
    ))
    .with(Series::marked("LSTM", accuracy(|m| 100.0 * m.lstm)))
    .with(Series::line("chance", accuracy(|_| 50.0)));
    let trace = |name: &str, t: &LossTrace| Series::marked(name, t.points());
    let unclipped_name = match report.unclipped.diverged_at {
        Some(step) => format!("no clipping (NaN from step {step})"),
        None => "no clipping".into(),
    };
    let clipping = Panel::new(
        "Elman ReLU, |w| = 2, plain SGD: training loss",
        "SGD step",
        "cross-entropy",
    )
    .with(trace(&unclipped_name, &report.unclipped))
    .with(trace("updates clipped to norm 1", &report.clipped));
    let panels = [gradients, memory, clipping];
    write_png(path, "Vanishing and exploding gradients", &panels, 3)
        .context("writing the gradients plot")
}
