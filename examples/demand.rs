//! Demand forecasting, the retail case of docs/design.md: daily sales of 4 products in 3 stores
//! over two years (weekly and yearly cycles, promotions, holidays), generated and written as a
//! long CSV file; a GRU reads 28 days of sales, promotions, holidays and weekdays and forecasts
//! each of the next 7 days. Trained and scored exactly as `burn-rnn train` and `burn-rnn
//! evaluate` do it (the same library calls), on the last 13 weeks held out, against the
//! seasonal-naive ("same weekday last week") and 7-day moving-average forecasts, per day ahead.
//!
//! ```text
//! cargo run --release --example demand
//! cargo run --release --example demand -- --cell lstm --epochs 20
//! ```

mod common;

use std::path::PathBuf;

use anyhow::Result;
use burn_rnn::data::synth::{DemandConfig, write_demand_csv};
use burn_rnn::data::{DataHints, inspect_csv};
use burn_rnn::train::{EvaluateOptions, Evaluation, TrainSpec, describe_gain, evaluate_run};
use clap::Parser;

/// Forecast a week of daily sales per store and product with a recurrent network.
#[derive(Parser, Debug, Clone)]
#[command(version)]
#[command(mut_args(common::defaults(&[("epochs", "25"), ("batch_size", "64"), ("lr", "5e-3")])))]
pub struct Args {
    #[command(flatten)]
    pub train: common::TrainArgs,
    /// Stores.
    #[arg(long, default_value_t = 3)]
    pub stores: usize,
    /// Products per store.
    #[arg(long, default_value_t = 4)]
    pub products: usize,
    /// Days of sales.
    #[arg(long, default_value_t = 730)]
    pub days: usize,
    /// The last days, held out for the test.
    #[arg(long, default_value_t = 91)]
    pub test_days: usize,
    /// Days the model reads.
    #[arg(long, default_value_t = 28)]
    pub window: usize,
    /// Days it forecasts.
    #[arg(long, default_value_t = 7)]
    pub horizon: usize,
    /// Directory for the CSV files, the run and the plot.
    #[arg(long, default_value = "artifacts/demand")]
    pub out: PathBuf,
}

fn main() -> std::process::ExitCode {
    common::main(|| run(&Args::parse()))
}

/// Generates and writes the sales, trains, and prints and returns the test scores.
pub fn run(args: &Args) -> Result<Evaluation> {
    anyhow::ensure!(
        args.test_days + args.window + args.horizon < args.days,
        "--days must exceed --test-days + --window + --horizon"
    );
    let config = DemandConfig {
        stores: args.stores,
        products: args.products,
        days: args.days,
        seed: args.train.seed,
        ..DemandConfig::default()
    };
    let rows = config.generate()?;
    std::fs::create_dir_all(&args.out)?;
    let (train_csv, test_csv) = (
        args.out.join("demand-train.csv"),
        args.out.join("demand-test.csv"),
    );
    let split = args.days - args.test_days;
    write_demand_csv(&train_csv, &rows, 0..split)?;
    // The test file starts a window early: its first forecast is for the first test day.
    write_demand_csv(&test_csv, &rows, split - args.window..args.days)?;
    println!(
        "{} stores × {} products × {} days of sales; days {split}..{} held out for the test",
        args.stores, args.products, args.days, args.days
    );

    let hints = DataHints {
        id: Some("series".into()),
        time: Some("day".into()),
        targets: vec!["sales".into()],
        window: Some(args.window),
        horizon: Some(args.horizon),
        ..DataHints::default()
    };
    let inspection = inspect_csv(&train_csv, &hints)?;
    print!("{inspection}");
    let mut spec = TrainSpec::new(&train_csv, inspection.spec, args.out.join("run"));
    args.train.apply_to(&mut spec);
    println!("{spec}");
    let outcome = spec.train(args.train.options())?;
    println!("{}", outcome.run.summary());

    let options = EvaluateOptions {
        out: Some(args.out.clone()),
        season: Some(7),
        average: Some(7),
        ..EvaluateOptions::default()
    };
    let scored = evaluate_run(&spec.out, &test_csv, &args.train.device.open()?, &options)?;
    let evaluation = scored.evaluation;
    println!(
        "\n== Test: the last {} days ==\n{evaluation}",
        args.test_days
    );
    for (h, output) in evaluation.outputs.iter().enumerate() {
        let vs = |b: usize| {
            describe_gain(
                "the RNN",
                &output.baselines[b].name,
                evaluation.gain_percent(h, b).unwrap_or(0.0),
            )
        };
        println!(
            "day +{}: MAE {:.2} units; {}; {}",
            h + 1,
            output.mae,
            vs(1),
            vs(2)
        );
    }
    common::print_written(&scored.files);
    println!(
        "the same from the command line: burn-rnn train --data {} --id series --time day --target sales --window {} --horizon {}",
        train_csv.display(),
        args.window,
        args.horizon
    );
    Ok(evaluation)
}
