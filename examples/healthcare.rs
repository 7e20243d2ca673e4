//! The main job of docs/design.md: 100 patients × 24 hourly steps × 3 vitals (heart rate, systolic
//! blood pressure, temperature). Trains a recurrent network to forecast the next hour's vitals
//! and a second one to flag deteriorating patients, reports both on held-out patients against
//! naive baselines, and writes the runs and plots to `--out`.
//!
//! ```text
//! cargo run --release --example healthcare                  # CPU (flex)
//! cargo run --release --example healthcare -- --device wgpu # GPU backend
//! cargo run --release --example healthcare -- --help
//! ```

mod common;

use std::path::PathBuf;

use anyhow::{Context, Result};
use burn::tensor::Device;
use burn_rnn::data::split::{DatasetSplit, SplitIndices, random_indices};
use burn_rnn::data::synth::{HealthcareConfig, VITALS};
use burn_rnn::data::{SequenceDataset, SplitFractions, write_long_csv};
use burn_rnn::train::plot::{next_step_forecast_panels, write_png};
use burn_rnn::train::{
    BaselineComparison, ClassificationReport, RegressionReport, TrainedRun, last_step_forecast,
    loss_panel,
};
use clap::Parser;

/// Forecast next-hour vitals and flag deteriorating patients with a recurrent network.
#[derive(Parser, Debug, Clone)]
#[command(version)]
pub struct Args {
    #[command(flatten)]
    pub train: common::TrainArgs,
    /// Stacked recurrent layers.
    #[arg(long, default_value_t = 1)]
    pub layers: usize,
    /// Number of generated patients (docs/design.md: 100).
    #[arg(long, default_value_t = 100)]
    pub patients: usize,
    /// Directory for the runs (weights, configs, metrics) and plots.
    #[arg(long, default_value = "artifacts/healthcare")]
    pub out: PathBuf,
    /// Flag deteriorating patients from their first N hours only (early warning).
    #[arg(long, default_value_t = 16)]
    pub flag_hours: usize,
    /// Continue both runs from their last checkpoints in `--out`.
    #[arg(long)]
    pub resume: bool,
}

/// What the example measured on the held-out patients.
#[derive(Debug, Clone)]
pub struct Report {
    /// The next-hour forecasts against "same as last hour", per vital, in the vitals' units.
    pub forecast: BaselineComparison,
    /// The deterioration flag's accuracy against always answering the majority class.
    pub flags: ClassificationReport,
}

fn main() -> std::process::ExitCode {
    common::main(|| run(&Args::parse()))
}

/// Generates the cohort, trains both networks, prints their reports and writes the runs, the
/// validation patients' vitals (`validation_vitals.csv`) and the plots to `--out`.
pub fn run(args: &Args) -> Result<Report> {
    let device = args.train.device.open()?;
    let cohort = HealthcareConfig {
        patients: args.patients,
        seed: args.train.seed,
        ..HealthcareConfig::default()
    }
    .generate()?;
    // Many-to-many: a next-hour forecast after every hour (24 targets per patient, not 1).
    let forecast_data = cohort.forecasting_per_step_dataset()?;
    // Early warning: flag from the first `--flag-hours` hours only.
    let flag_data = (cohort.deterioration_dataset()?)
        .first_steps(args.flag_hours)
        .context("--flag-hours")?;
    println!(
        "{} patients × {} hours × {} vitals ({} deteriorating); training on {}, {} cell, \
         {} hidden × {} layer(s)",
        cohort.len(),
        forecast_data.num_steps(),
        forecast_data.num_features(),
        cohort.deteriorating_count(),
        args.train.device.device,
        args.train.cell.name(),
        args.train.hidden,
        args.layers,
    );
    // The same patients are held out for both tasks.
    let fractions = SplitFractions::train_valid(0.8);
    let split = random_indices(cohort.len(), fractions, args.train.seed)?;

    println!("\n== Forecasting the next hour's vitals ==");
    let (forecast, forecast_sets) = train_task(args, &forecast_data, &split, "forecast", &device)?;
    let forecaster = forecast.predictor(&device)?;
    let valid = &forecast_sets.valid;
    let naive = last_step_forecast(valid)?;
    let comparison = BaselineComparison::new(
        "RNN",
        RegressionReport::of(&forecaster.predict_rows(valid)?, valid)?,
        "last hour",
        RegressionReport::of(&naive, valid)?,
    )?;
    println!(
        "{} next-hour forecasts ({} validation patients × {} hours)",
        naive.len(),
        valid.len(),
        valid.num_steps()
    );
    print!("{comparison}");
    println!(
        "the RNN beats the naive \"same as last hour\" forecast on {} of {} vitals",
        comparison.wins(),
        comparison.model.names.len()
    );

    let hours = flag_data.num_steps();
    println!("\n== Flagging deteriorating patients from their first {hours} hours ==");
    let (flag, flag_sets) = train_task(args, &flag_data, &split, "deterioration", &device)?;
    let predictions = flag.predictor(&device)?.predict_classes(&flag_sets.valid)?;
    let classes: Vec<usize> = predictions.iter().map(|p| p.class).collect();
    let flags = ClassificationReport::evaluate(&classes, &flag_sets.valid, &flag_sets.train)?;
    println!(
        "validation accuracy {:.1} % (majority class \"{}\": {:.1} %)",
        100.0 * flags.accuracy,
        flag_data.target_names()[flags.majority_class],
        100.0 * flags.majority_accuracy
    );
    println!("{}", flags.confusion_line(flag_data.target_names()));

    // The flagged hours of the validation patients, to try the command line on.
    let vitals_csv = args.out.join("validation_vitals.csv");
    write_long_csv(&vitals_csv, &flag_sets.valid)?;
    let loss_plot = args.out.join("loss.png");
    let losses = [
        loss_panel(
            &forecast.history,
            "Next-hour forecast",
            "MSE (normalised units, log scale)",
        )
        .log_scale(),
        loss_panel(&flag.history, "Deterioration flag", "cross-entropy"),
    ];
    write_png(&loss_plot, "Loss per epoch", &losses, 2).context("writing the loss plot")?;
    let forecast_plot = args.out.join("forecast.png");
    let mut panels = Vec::new();
    for patient in 0..valid.len().min(3) {
        let forecasts = forecaster.predict_rows(&valid.subset(&[patient])?)?;
        panels.extend(next_step_forecast_panels(
            valid, patient, &forecasts, "hour", &VITALS,
        )?);
    }
    let title = "Validation patients: measured vitals and the RNN's next-hour forecasts";
    write_png(&forecast_plot, title, &panels, 3).context("writing the forecast plot")?;
    println!(
        "\nwrote {} and {}\nruns (weights, configs, normaliser, metrics.csv) in {}/forecast and {}/deterioration",
        loss_plot.display(),
        forecast_plot.display(),
        args.out.display(),
        args.out.display()
    );
    println!(
        "predict from a saved run: cargo run --release --bin burn-rnn -- predict --run {} --data {}",
        args.out.join("deterioration").display(),
        vitals_csv.display()
    );
    Ok(Report {
        forecast: comparison,
        flags,
    })
}

/// Trains on the split's training patients, validating on the others, with the command line's
/// settings; the run is saved in `<out>/<name>`.
fn train_task(
    args: &Args,
    data: &SequenceDataset,
    split: &SplitIndices,
    name: &str,
    device: &Device,
) -> Result<(TrainedRun, DatasetSplit)> {
    let sets = split.apply(data)?;
    let config = args.train.config(data, args.layers);
    let dir = args.out.join(name);
    let run = (args.train).fit(&config, &sets.train, &sets.valid, dir, device, args.resume)?;
    Ok((run, sets))
}
