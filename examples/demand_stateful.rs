//! Stateful training (truncated backpropagation through time, Keras's `stateful=True`) on the
//! demand data: windows of a few days, far fewer than the weekly cycle and the series' levels
//! need, trained once as independent samples (stateless, each window from zeros) and once in
//! streams that carry the state from one window to the next (stateful). Both forecast tomorrow's
//! sales at every step; both are scored on the last 13 weeks of every series, in units sold,
//! next to the seasonal-naive forecast ("same weekday last week"). Two of the series are held
//! out of training to choose the epoch.
//!
//! ```text
//! cargo run --release --example demand_stateful
//! cargo run --release --example demand_stateful -- --window 7 --cell lstm
//! ```

mod common;

use std::path::PathBuf;

use anyhow::{Result, ensure};
use burn::data::dataloader::batcher::Batcher;
use burn::module::Module;
use burn::tensor::Device;
use burn_rnn::data::synth::{DemandConfig, DemandRow};
use burn_rnn::data::{
    SequenceBatcher, SequenceDataset, SequenceSample, StreamSpec, Target, TargetKind,
    stream_windows,
};
use burn_rnn::train::TrainedRun;
use clap::Parser;

/// Forecast tomorrow's sales from short windows, with and without the state carried across them.
#[derive(Parser, Debug, Clone)]
#[command(version)]
#[command(mut_args(common::defaults(&[("epochs", "30"), ("batch_size", "64"), ("lr", "5e-3")])))]
pub struct Args {
    #[command(flatten)]
    pub train: common::TrainArgs,
    /// Days per window: the stretch that backpropagation spans.
    #[arg(long, default_value_t = 2)]
    pub window: usize,
    /// Days of sales per series.
    #[arg(long, default_value_t = 730)]
    pub days: usize,
    /// The last days, held out for the test.
    #[arg(long, default_value_t = 91)]
    pub test_days: usize,
    /// Directory for the two runs.
    #[arg(long, default_value = "artifacts/demand_stateful")]
    pub out: PathBuf,
}

/// Test MAE of next-day sales, in units sold.
#[derive(Debug, Clone, Copy)]
pub struct Scores {
    pub stateless: f64,
    pub stateful: f64,
    pub seasonal_naive: f64,
}

fn main() -> std::process::ExitCode {
    common::main(|| run(&Args::parse()))
}

/// Inputs of a day: weekday on a circle, promotion, holiday, sales; the target column is sales.
const COLUMNS: [usize; 5] = [0, 1, 2, 3, 4];
const SALES: usize = 4;

/// Trains both ways, prints and returns the test scores.
pub fn run(args: &Args) -> Result<Scores> {
    ensure!(args.window >= 1, "--window must be at least 1");
    ensure!(
        args.test_days + 8 + args.window < args.days,
        "--days must exceed --test-days + --window + 8"
    );
    let rows = DemandConfig {
        days: args.days,
        seed: args.train.seed,
        ..DemandConfig::default()
    }
    .generate()?;
    let series = series_rows(&rows);
    let split = args.days - args.test_days;
    let training_days = |s: &[(String, Vec<Vec<f32>>)]| -> Vec<(String, Vec<Vec<f32>>)> {
        s.iter()
            .map(|(n, r)| (n.clone(), r[..split].to_vec()))
            .collect()
    };
    // Two series choose the epoch; the others are trained on.
    let (fit_series, valid_series) = series.split_at(series.len() - 2);
    let spec = |streams| StreamSpec {
        window: args.window,
        streams,
        inputs: COLUMNS.to_vec(),
        targets: vec![SALES],
    };
    let stateful_train = named(stream_windows(
        &training_days(fit_series),
        &spec(fit_series.len()),
    )?)?;
    let stateful_valid = named(stream_windows(&training_days(valid_series), &spec(2))?)?;
    println!(
        "{} series × {} days; windows of {} days; {} series trained on, 2 choose the epoch, days {split}..{} scored",
        series.len(),
        args.days,
        args.window,
        fit_series.len(),
        args.days
    );
    let device = args.train.device.open()?;

    println!(
        "\n== Stateless: every {}-day window from zeros ==",
        args.window
    );
    let sliding = |s| sliding_windows(&training_days(s), args.window);
    let (train_set, valid_set) = (sliding(fit_series)?, sliding(valid_series)?);
    let config = args.train.config(&train_set, 1);
    let out = args.out.join("stateless");
    let stateless = args
        .train
        .fit(&config, &train_set, &valid_set, out, &device, false)?;

    println!("\n== Stateful: the state carried from window to window ==");
    let config = args.train.config(&stateful_train, 1);
    let config = config.with_batch_size(fit_series.len());
    let out = args.out.join("stateful");
    let stateful = args.train.fit(
        &config,
        &stateful_train,
        &stateful_valid,
        out,
        &device,
        false,
    )?;

    let test = split..args.days;
    let scores = Scores {
        stateless: stateless_mae(&stateless, &series, test.clone(), args.window, &device)?,
        stateful: stateful_mae(&stateful, &series, test.clone(), &device)?,
        seasonal_naive: mean(series.iter().flat_map(|(_, r)| {
            test.clone()
                .map(|d| (r[d][SALES] - r[d - 7][SALES]).abs() as f64)
        })),
    };
    println!(
        "\n== Test: next-day sales over the last {} days of {} series ==",
        args.test_days,
        series.len()
    );
    println!(
        "stateless, {}-day windows   MAE {:.2}",
        args.window, scores.stateless
    );
    println!(
        "stateful, {}-day windows    MAE {:.2}",
        args.window, scores.stateful
    );
    println!(
        "seasonal naive (7)          MAE {:.2}",
        scores.seasonal_naive
    );
    Ok(scores)
}

/// Each series' days as rows of [`COLUMNS`], in day order.
fn series_rows(rows: &[DemandRow]) -> Vec<(String, Vec<Vec<f32>>)> {
    let mut series: Vec<(String, Vec<Vec<f32>>)> = Vec::new();
    for row in rows {
        let angle = 2.0 * std::f32::consts::PI * (row.day % 7) as f32 / 7.0;
        let values = vec![
            angle.sin(),
            angle.cos(),
            f32::from(row.promo),
            f32::from(row.holiday),
            row.sales,
        ];
        match series.last_mut() {
            Some((name, days)) if *name == row.series => days.push(values),
            _ => series.push((row.series.clone(), vec![values])),
        }
    }
    series
}

/// Every `window`-day stretch (stride 1) as an independent sample forecasting the next day at
/// each step.
fn sliding_windows(series: &[(String, Vec<Vec<f32>>)], window: usize) -> Result<SequenceDataset> {
    let samples = series
        .iter()
        .flat_map(|(name, rows)| {
            (0..rows.len() - window).map(move |start| SequenceSample {
                id: format!("{name}@{start}"),
                values: rows[start..start + window].concat(),
                length: window,
                target: Target::PerStep(
                    rows[start + 1..=start + window]
                        .iter()
                        .map(|r| r[SALES])
                        .collect(),
                ),
            })
        })
        .collect();
    let kind = TargetKind::PerStep { outputs: 1 };
    named(SequenceDataset::new(samples, window, COLUMNS.len(), kind)?)
}

/// The columns' names on a dataset of [`COLUMNS`] forecasting sales.
fn named(dataset: SequenceDataset) -> Result<SequenceDataset> {
    let features = ["weekday_sin", "weekday_cos", "promo", "holiday", "sales"];
    Ok(dataset
        .with_feature_names(features.map(String::from).to_vec())?
        .with_target_names(vec!["sales".into()])?)
}

/// Next-day forecasts of `dataset`'s samples in units sold, `[N][T]`.
fn forecasts(
    run: &TrainedRun,
    dataset: &SequenceDataset,
    device: &Device,
) -> Result<Vec<Vec<f32>>> {
    let scaled = run.normalizer.apply(dataset)?;
    let batch = SequenceBatcher::for_dataset(&scaled).batch(scaled.samples().to_vec(), device);
    let model = run.model.clone().to_device(device);
    let output = model.forward_many_to_many(batch.inputs, Some(&batch.lengths))?;
    let values = output.into_data().convert::<f32>().try_to_vec::<f32>()?;
    let units = run.normalizer.denormalize_targets(&values)?;
    Ok(units
        .chunks(dataset.num_steps())
        .map(<[f32]>::to_vec)
        .collect())
}

/// Stateless: the forecast of day `d` from the window of the `window` days before it.
fn stateless_mae(
    run: &TrainedRun,
    series: &[(String, Vec<Vec<f32>>)],
    test: std::ops::Range<usize>,
    window: usize,
    device: &Device,
) -> Result<f64> {
    let windows: Vec<_> = series
        .iter()
        .map(|(n, r)| (n.clone(), r[test.start - window..test.end].to_vec()))
        .collect();
    let dataset = sliding_windows(&windows, window)?;
    let predicted = forecasts(run, &dataset, device)?;
    let actual = dataset.samples().iter().map(|s| match &s.target {
        Target::PerStep(values) => values[window - 1],
        _ => unreachable!("per-step targets"),
    });
    Ok(mean(
        predicted
            .iter()
            .zip(actual)
            .map(|(p, a)| (p[window - 1] - a).abs() as f64),
    ))
}

/// Stateful: one pass over each whole series, the state carried from day 0 on, as streaming
/// inference would; the forecasts of the test days are scored.
fn stateful_mae(
    run: &TrainedRun,
    series: &[(String, Vec<Vec<f32>>)],
    test: std::ops::Range<usize>,
    device: &Device,
) -> Result<f64> {
    let whole = sliding_windows(
        &series
            .iter()
            .map(|(n, r)| (n.clone(), r[..test.end].to_vec()))
            .collect::<Vec<_>>(),
        test.end - 1,
    )?;
    let predicted = forecasts(run, &whole, device)?;
    // Step t forecasts day t + 1.
    Ok(mean(predicted.iter().zip(series).flat_map(
        |(p, (_, r))| {
            test.clone()
                .map(move |d| (p[d - 1] - r[d][SALES]).abs() as f64)
        },
    )))
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    sum / n.max(1) as f64
}
