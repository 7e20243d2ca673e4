//! The design notes' main job: 100 patients × 24 hourly steps × 3 vitals (heart rate, systolic
//! blood pressure, temperature). Trains a recurrent network to forecast the next hour's vitals
//! and a second one to flag deteriorating patients, reports both on held-out patients against
//! naive baselines, and writes the runs and plots to `--out`.
//!
//! ```text
//! cargo run --release --example healthcare                  # CPU (flex)
//! cargo run --release --example healthcare -- --device wgpu # GPU backend
//! cargo run --release --example healthcare -- --help
//! ```

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use burn::tensor::Device;
use burn_rnn::data::SplitFractions;
use burn_rnn::data::split::{SplitIndices, random_indices};
use burn_rnn::data::synth::{HealthcareConfig, VITALS};
use burn_rnn::data::{SequenceDataset, SequenceSample, Target};
use burn_rnn::model::{CellKind, RecurrentConfig, SequenceModelConfig};
use burn_rnn::train::plot::{Panel, Series, write_png};
use burn_rnn::train::{
    Backend, ClassificationReport, EpochMetrics, Objective, Prediction, Predictor,
    RegressionReport, RunDir, TrainOptions, TrainingConfig, dataset_targets, train,
};
use clap::Parser;

/// Forecast next-hour vitals and flag deteriorating patients with a recurrent network.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Backend to train on: flex (CPU, default), ndarray (CPU), wgpu (GPU, or lavapipe), cuda.
    #[arg(long, default_value = "flex")]
    device: String,
    /// Recurrent cell: elman (tanh), elman-relu, elman-sigmoid, lstm or gru.
    #[arg(long, default_value = "gru")]
    cell: CellKind,
    /// Hidden units per layer.
    #[arg(long, default_value_t = 32)]
    hidden: usize,
    /// Stacked recurrent layers.
    #[arg(long, default_value_t = 1)]
    layers: usize,
    /// Maximum passes over the training patients (early stopping may end sooner).
    #[arg(long, default_value_t = 80)]
    epochs: usize,
    /// Patients per batch.
    #[arg(long, default_value_t = 16)]
    batch_size: usize,
    /// Adam's initial learning rate (cosine-annealed).
    #[arg(long, default_value_t = 1e-2)]
    lr: f64,
    /// Seed for the generated patients, the split, the weights and the shuffling.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Number of generated patients (the design notes: 100).
    #[arg(long, default_value_t = 100)]
    patients: usize,
    /// Directory for the runs (weights, configs, metrics) and plots.
    #[arg(long, default_value = "artifacts/healthcare")]
    out: PathBuf,
    /// Flag deteriorating patients from their first N hours only (early warning).
    #[arg(long, default_value_t = 16)]
    flag_hours: usize,
    /// Continue both runs from their last checkpoints in `--out`.
    #[arg(long)]
    resume: bool,
}

/// Freed large tensors are reused: no page faults in the training loop (BENCHMARKS.md). Not
/// when `tests/examples.rs` includes this file as a module.
#[cfg(not(test))]
#[global_allocator]
static ALLOCATOR: burn_rnn::train::CachingAllocator = burn_rnn::train::CachingAllocator;

fn main() -> std::process::ExitCode {
    match run(&Args::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<()> {
    let backend: Backend = args.device.parse()?;
    let device = backend.device()?;

    let cohort = HealthcareConfig {
        patients: args.patients,
        seed: args.seed,
        ..HealthcareConfig::default()
    }
    .generate()?;
    // Many-to-many: a next-hour forecast after every hour (24 targets per patient, not 1).
    let forecast_data = cohort.forecasting_per_step_dataset()?;
    // Early warning: flag from the first `--flag-hours` hours only.
    let flag_data = first_hours(&cohort.deterioration_dataset()?, args.flag_hours)?;
    println!(
        "{} patients × {} hours × {} vitals ({} deteriorating); training on {backend}, {} cell, \
         {} hidden × {} layer(s)",
        cohort.len(),
        forecast_data.num_steps(),
        forecast_data.num_features(),
        cohort.deteriorating_count(),
        args.cell.name(),
        args.hidden,
        args.layers,
    );

    // The same patients are held out for both tasks.
    let split = random_indices(
        forecast_data.len(),
        SplitFractions::train_valid(0.8),
        args.seed,
    )?;

    println!("\n== Forecasting the next hour's vitals ==");
    let forecast = Task::train(args, &forecast_data, &split, "forecast", &device)?;
    report_forecast(&forecast.predictor, &forecast.valid)?;

    println!(
        "\n== Flagging deteriorating patients from their first {} hours ==",
        flag_data.num_steps()
    );
    let flag = Task::train(args, &flag_data, &split, "deterioration", &device)?;
    report_flags(&flag.predictor, &flag.train, &flag.valid)?;

    // The flagged hours of the validation patients, to try the command line on.
    let vitals_csv = args.out.join("validation_vitals.csv");
    write_long_csv(&vitals_csv, &flag.valid)?;

    let loss_plot = args.out.join("loss.png");
    plot_losses(&loss_plot, &forecast.history, &flag.history)?;
    let forecast_plot = args.out.join("forecast.png");
    plot_forecasts(
        &forecast_plot,
        &forecast.predictor,
        &forecast.valid,
        &cohort_ids(&forecast.valid),
    )?;
    println!(
        "\nwrote {} and {}\nruns (weights, configs, normaliser, metrics.csv) in {}/forecast and {}/deterioration",
        loss_plot.display(),
        forecast_plot.display(),
        args.out.display(),
        args.out.display()
    );
    println!(
        "predict from a saved run: cargo run --release --bin burn-rnn -- predict --run {} --input {}",
        args.out.join("deterioration").display(),
        vitals_csv.display()
    );
    Ok(())
}

/// One trained task: its splits, its predictor and its loss history.
struct Task {
    train: SequenceDataset,
    valid: SequenceDataset,
    predictor: Predictor,
    history: Vec<EpochMetrics>,
}

impl Task {
    /// Trains on the split's training patients, validating on the others; the run is saved in
    /// `<out>/<name>`.
    fn train(
        args: &Args,
        data: &SequenceDataset,
        split: &SplitIndices,
        name: &str,
        device: &Device,
    ) -> Result<Self> {
        let train_set = data.subset(&split.train)?;
        let valid_set = data.subset(&split.valid)?;
        let objective = Objective::for_target(data.target_kind());
        let config = training_config(args, objective, data.target_kind().outputs());
        let options = TrainOptions {
            resume: args.resume,
            ..TrainOptions::default()
        };
        let run = train(
            &config,
            &train_set,
            &valid_set,
            &RunDir::new(args.out.join(name)),
            device,
            options,
        )?;
        println!("{}", run.summary());
        let predictor = run.predictor(device)?;
        Ok(Self {
            train: train_set,
            valid: valid_set,
            predictor,
            history: run.history,
        })
    }
}

/// The training config shared by both tasks, from the command line.
fn training_config(args: &Args, objective: Objective, outputs: usize) -> TrainingConfig {
    let recurrent = RecurrentConfig::new(3, args.hidden)
        .with_cell(args.cell)
        .with_num_layers(args.layers);
    TrainingConfig::new(SequenceModelConfig::new(recurrent, outputs), objective)
        .with_num_epochs(args.epochs)
        .with_batch_size(args.batch_size)
        .with_learning_rate(args.lr)
        .with_seed(args.seed)
}

/// MAE per vital over every hour of the validation patients, against "same as last hour".
fn report_forecast(forecaster: &Predictor, valid: &SequenceDataset) -> Result<()> {
    let mut predictions = Vec::new();
    for prediction in forecaster.predict_dataset(valid)? {
        match prediction {
            Prediction::PerStep(steps) => predictions.extend(steps),
            other => anyhow::bail!("expected a forecast per hour, got {other:?}"),
        }
    }
    let (targets, _) = dataset_targets(valid);
    let d = valid.num_features();
    let same_as_now: Vec<Vec<f32>> = valid
        .samples()
        .iter()
        .flat_map(|s| s.values[..s.length * d].chunks(d).map(<[f32]>::to_vec))
        .collect();
    let names: Vec<String> = VITALS
        .iter()
        .map(|(name, unit)| format!("{name} ({unit})"))
        .collect();
    let model = RegressionReport::compute(&predictions, &targets, &names)?;
    let naive = RegressionReport::compute(&same_as_now, &targets, &names)?;
    println!(
        "{} next-hour forecasts ({} validation patients × {} hours)",
        targets.len(),
        valid.len(),
        valid.num_steps()
    );
    println!("{:<31} {:^26} {:^17}", "", "MAE", "RMSE");
    println!(
        "{:<31} {:>6} {:>10} {:>8} {:>6} {:>10}",
        "", "RNN", "last hour", "RNN gain", "RNN", "last hour"
    );
    for (j, name) in names.iter().enumerate() {
        println!(
            "{:<31} {:>6.2} {:>10.2} {:>6.0} % {:>6.2} {:>10.2}",
            name,
            model.mae[j],
            naive.mae[j],
            100.0 * (1.0 - model.mae[j] / naive.mae[j]),
            model.rmse[j],
            naive.rmse[j]
        );
    }
    let beats = (0..names.len())
        .filter(|&j| model.mae[j] < naive.mae[j])
        .count();
    println!(
        "the RNN beats the naive \"same as last hour\" forecast on {beats} of {} vitals",
        names.len()
    );
    Ok(())
}

/// The same patients with only their first `hours` hours (a class target is kept as is).
fn first_hours(data: &SequenceDataset, hours: usize) -> Result<SequenceDataset> {
    anyhow::ensure!(
        (1..=data.num_steps()).contains(&hours),
        "--flag-hours must be between 1 and {}",
        data.num_steps()
    );
    let d = data.num_features();
    let samples = data
        .samples()
        .iter()
        .map(|s| SequenceSample {
            id: s.id.clone(),
            values: s.values[..hours * d].to_vec(),
            length: s.length.min(hours),
            target: s.target.clone(),
        })
        .collect();
    Ok(SequenceDataset::new(samples, hours, d, data.target_kind())?
        .with_feature_names(data.feature_names().to_vec())?
        .with_target_names(data.target_names().to_vec())?)
}

/// Accuracy on the validation patients, against always answering the majority class.
fn report_flags(
    flagger: &Predictor,
    train: &SequenceDataset,
    valid: &SequenceDataset,
) -> Result<()> {
    let predicted: Vec<usize> = flagger
        .predict_dataset(valid)?
        .into_iter()
        .map(|p| match p {
            Prediction::Class { class, .. } => Ok(class),
            other => anyhow::bail!("expected a class, got {other:?}"),
        })
        .collect::<Result<_>>()?;
    let (_, truth) = dataset_targets(valid);
    let (_, reference) = dataset_targets(train);
    let report = ClassificationReport::compute(&predicted, &truth, &reference, 2)?;
    println!(
        "validation accuracy {:.1} % (majority class \"stable\": {:.1} %)",
        100.0 * report.accuracy,
        100.0 * report.majority_accuracy
    );
    println!(
        "confusion (rows: truth, columns: predicted; stable, deteriorating): {:?}",
        report.confusion
    );
    Ok(())
}

/// Writes the validation patients' vitals as a long CSV (`id,time,<vitals>`), the input format
/// of `burn-rnn predict`.
fn write_long_csv(path: &Path, data: &SequenceDataset) -> Result<()> {
    let mut out =
        csv::Writer::from_path(path).with_context(|| format!("writing {}", path.display()))?;
    let mut header = vec!["id".to_string(), "time".to_string()];
    header.extend(data.feature_names().iter().cloned());
    out.write_record(&header)?;
    let d = data.num_features();
    for sample in data.samples() {
        for (t, step) in sample.values[..sample.length * d].chunks(d).enumerate() {
            let mut row = vec![sample.id.clone(), t.to_string()];
            row.extend(step.iter().map(|v| v.to_string()));
            out.write_record(&row)?;
        }
    }
    out.flush()?;
    Ok(())
}

fn cohort_ids(data: &SequenceDataset) -> Vec<usize> {
    (0..data.len().min(3)).collect()
}

fn epoch_points(history: &[EpochMetrics], value: impl Fn(&EpochMetrics) -> f64) -> Vec<(f64, f64)> {
    history.iter().map(|e| (e.epoch as f64, value(e))).collect()
}

/// Training and validation loss per epoch for both tasks.
fn plot_losses(path: &Path, forecast: &[EpochMetrics], flags: &[EpochMetrics]) -> Result<()> {
    let panel = |title: &str, y: &str, history: &[EpochMetrics]| {
        Panel::new(title, "epoch", y)
            .with(Series::line(
                "training",
                epoch_points(history, |e| e.train_loss),
            ))
            .with(Series::line(
                "validation",
                epoch_points(history, |e| e.valid_loss),
            ))
    };
    write_png(
        path,
        "Loss per epoch",
        &[
            panel(
                "Next-hour forecast",
                "MSE (normalised units, log scale)",
                forecast,
            )
            .log_scale(),
            panel("Deterioration flag", "cross-entropy", flags),
        ],
        2,
    )
    .context("writing the loss plot")
}

/// Actual vitals and the model's next-hour forecast after every hour, for a few patients.
fn plot_forecasts(
    path: &Path,
    forecaster: &Predictor,
    valid: &SequenceDataset,
    patients: &[usize],
) -> Result<()> {
    let d = valid.num_features();
    let mut panels = Vec::new();
    for &p in patients {
        let sample = &valid.samples()[p];
        let steps: Vec<Vec<f32>> = sample.values[..sample.length * d]
            .chunks(d)
            .map(<[f32]>::to_vec)
            .collect();
        let forecasts = match forecaster.predict(std::slice::from_ref(&steps))?.pop() {
            Some(Prediction::PerStep(forecasts)) => forecasts,
            other => anyhow::bail!("expected a forecast per hour, got {other:?}"),
        };
        let next_hour = match &sample.target {
            Target::PerStep(v) => v[(sample.length - 1) * d..sample.length * d].to_vec(),
            _ => anyhow::bail!("forecasting targets are values per hour"),
        };
        for (j, (name, unit)) in VITALS.iter().enumerate() {
            let mut actual: Vec<(f64, f64)> = steps
                .iter()
                .enumerate()
                .map(|(t, v)| (t as f64, f64::from(v[j])))
                .collect();
            actual.push((steps.len() as f64, f64::from(next_hour[j])));
            let predicted = forecasts
                .iter()
                .enumerate()
                .map(|(t, v)| ((t + 1) as f64, f64::from(v[j])))
                .collect();
            panels.push(
                Panel::new(format!("{} — {name}", sample.id), "hour", *unit)
                    .with(Series::line("measured", actual))
                    .with(Series::marked("forecast for the next hour", predicted)),
            );
        }
    }
    write_png(
        path,
        "Validation patients: measured vitals and the RNN's next-hour forecasts",
        &panels,
        3,
    )
    .context("writing the forecast plot")
}
