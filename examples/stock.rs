//! docs/design.md's "yesterday's price → today's price", honestly: forecast tomorrow's closing
//! price of a generated stock from sliding windows of past daily moves, once from 1 day
//! (yesterday → today) and once from a longer window (20 days by default), and compare with the
//! naive forecast "tomorrow = today".
//!
//! The model reads daily log returns `ln(p_t / p_{t−1})` and predicts the next one, `r̂`; the price
//! forecast is `p_today · exp(r̂)`, scored in price units. (Raw prices are a poor input: they
//! drift out of the range seen in training.) The series is split in time, 70 % training, 15 %
//! validation (choosing the epoch), 15 % test, with no window crossing a boundary (no
//! look-ahead). The generated prices are a random walk with calm and turbulent periods, so the
//! past says nothing about the direction of the next move: the naive forecast is the best there
//! is, and the RNN can at most match it. The example says how close it comes.
//!
//! ```text
//! cargo run --release --example stock
//! cargo run --release --example stock -- --windows 1,5,60 --cell lstm --device wgpu
//! ```

mod common;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use burn_rnn::data::synth::PriceConfig;
use burn_rnn::data::{SplitFractions, WindowSpec, sliding_windows, split_windows};
use burn_rnn::train::plot::{Panel, Series, write_png};
use burn_rnn::train::{ForecastTrack, describe_gain};
use clap::Parser;

/// Forecast tomorrow's price of a generated stock with an RNN and compare with "tomorrow = today".
#[derive(Parser, Debug, Clone)]
#[command(version)]
#[command(mut_args(common::defaults(&[("epochs", "30"), ("batch_size", "32"), ("lr", "3e-3")])))]
pub struct Args {
    /// Window lengths in days, comma-separated (1 = yesterday → today).
    #[arg(long, value_delimiter = ',', default_value = "1,20")]
    pub windows: Vec<usize>,
    /// Number of generated trading days.
    #[arg(long, default_value_t = 1500)]
    pub days: usize,
    #[command(flatten)]
    pub train: common::TrainArgs,
    /// Directory for the runs (weights, configs, metrics) and the plot.
    #[arg(long, default_value = "artifacts/stock")]
    pub out: PathBuf,
}

/// Test-period forecasts of one window length.
#[derive(Debug, Clone)]
pub struct WindowResult {
    /// Days of history the model reads.
    pub window: usize,
    /// Tomorrow's price on every test day: actual, the RNN's and "tomorrow = today".
    pub prices: ForecastTrack,
    /// Tomorrow's log return on every test day: actual and the RNN's (the baseline: no move).
    pub moves: ForecastTrack,
}

fn main() -> std::process::ExitCode {
    common::main(|| run(&Args::parse()))
}

/// Generates the prices, trains one model per window length, prints the comparison with the
/// naive forecast and writes `forecast.png` to `--out`.
pub fn run(args: &Args) -> Result<Vec<WindowResult>> {
    anyhow::ensure!(
        !args.windows.is_empty(),
        "--windows needs at least one length"
    );
    let series = PriceConfig {
        days: args.days,
        seed: args.train.seed,
        ..PriceConfig::default()
    }
    .generate()?;
    let device = args.train.device.open()?;
    let prices = &series.prices;
    let returns = series.log_returns();
    let rows: Vec<Vec<f32>> = returns.iter().map(|&r| vec![r]).collect();
    println!(
        "{} generated trading days, price {:.2} → {:.2} (a random walk with calm and turbulent \
         periods); {} cell, {} hidden units, training on {}",
        prices.len(),
        prices[0],
        prices[prices.len() - 1],
        args.train.cell.name(),
        args.train.hidden,
        args.train.device.device
    );
    println!(
        "input: the last W daily log returns; output: tomorrow's log return r̂, forecast price = \
         today's price × exp(r̂); split in time 70 / 15 / 15 % (train / validation / test)"
    );

    let mut results = Vec::new();
    for &window in &args.windows {
        anyhow::ensure!(window >= 1, "window lengths must be at least 1 day");
        let windows = sliding_windows(&rows, &WindowSpec::new(window, 1, vec![0], vec![0]))?;
        let (split, indices) =
            split_windows(&windows, SplitFractions::train_valid_test(0.7, 0.15))?;
        let test = split
            .test
            .context("the split has a test period (15 % of the days)")?;
        let config = args.train.config(&windows.dataset, 1);
        let config = config.with_early_stopping_patience(Some(8));
        println!("\n== Window of {window} day(s) ==");
        let dir = args.out.join(format!("window-{window}"));
        let run = (args.train).fit(&config, &split.train, &split.valid, dir, &device, false)?;
        let predictor = run.predictor(&device)?;
        let mut prices = Vec::new();
        let mut moves = Vec::new();
        for (&i, row) in indices.test.iter().zip(predictor.predict_rows(&test)?) {
            let r_hat = f64::from(row[0]);
            // Window i's target is the return of row `t` of `returns`: p[t] → p[t + 1].
            let t = windows.target_row(i).context("a test window index")?;
            let (today, tomorrow) = (f64::from(series.prices[t]), f64::from(series.prices[t + 1]));
            prices.push((t + 1, tomorrow, today * r_hat.exp(), today));
            moves.push((t + 1, f64::from(returns[t]), r_hat, 0.0));
        }
        let (prices, moves) = (ForecastTrack::new(prices)?, ForecastTrack::new(moves)?);
        let mean_abs_move = moves.mean(|m| m.model.abs());
        println!(
            "test period: {} days; mean absolute error of tomorrow's price: RNN {:.3}, \
             \"tomorrow = today\" {:.3} ({})",
            prices.len(),
            prices.model_mae(),
            prices.baseline_mae(),
            describe_gain("the RNN", "the naive forecast", prices.gain_percent())
        );
        println!(
            "the RNN called the direction of the move right on {:.1} % of the days (a coin: \
             50 %); its predicted moves average {:.3} % a day",
            100.0 * moves.direction_accuracy(),
            100.0 * mean_abs_move
        );
        results.push(WindowResult {
            window,
            prices,
            moves,
        });
    }

    println!("\n== Summary ==");
    for r in &results {
        println!(
            "window {:>3} day(s): RNN MAE {:.3} vs naive {:.3}: {}",
            r.window,
            r.prices.model_mae(),
            r.prices.baseline_mae(),
            describe_gain("the RNN", "the naive forecast", r.prices.gain_percent())
        );
    }
    println!(
        "These prices are a random walk: tomorrow's move does not depend on the past, so \
         \"tomorrow = today\" is already the best forecast and no window length can beat it by \
         more than luck. All the RNN can learn is a move close to zero (the small average drift), \
         so at best it ties with the naive forecast; on real prices, beating this baseline is the bar \
         any model has to clear."
    );

    let plot = args.out.join("forecast.png");
    plot_forecasts(&plot, &results)?;
    println!(
        "\nwrote {}\nruns (weights, configs, normaliser, metrics.csv) in {}/window-*",
        plot.display(),
        args.out.display()
    );
    Ok(results)
}

/// Actual price vs forecasts over the test period (the longest window), a zoom on its last
/// weeks, and actual vs predicted daily moves for every window.
fn plot_forecasts(path: &Path, results: &[WindowResult]) -> Result<()> {
    let longest = results
        .iter()
        .max_by_key(|r| r.window)
        .context("no results to plot")?;
    let price_panel = |title: String, track: &ForecastTrack, marked: bool| {
        let line: fn(String, _) -> Series = if marked { Series::marked } else { Series::line };
        Panel::new(title, "trading day", "price")
            .with(line("actual".into(), track.series(|p| p.actual)))
            .with(line("RNN forecast".into(), track.series(|p| p.model)))
            .with(line(
                "naive: tomorrow = today".into(),
                track.series(|p| p.baseline),
            ))
    };
    let title = format!(
        "Test period: price and forecasts ({}-day window)",
        longest.window
    );
    let full = price_panel(title, &longest.prices, false);
    let zoom = price_panel(
        "The last 30 test days".into(),
        &longest.prices.last(30),
        true,
    );
    let actual = longest.moves.last(60).series(|m| 100.0 * m.actual);
    let mut moves = Panel::new(
        "Daily moves, last 60 test days",
        "trading day",
        "log return (%)",
    )
    .with(Series::line("actual", actual));
    for r in results {
        let name = format!("predicted, {}-day window", r.window);
        moves = moves.with(Series::line(
            name,
            r.moves.last(60).series(|m| 100.0 * m.model),
        ));
    }
    let title = "Generated stock: the RNN's next-day forecasts against \"tomorrow = today\"";
    write_png(path, title, &[full, zoom, moves], 3).context("writing the forecast plot")
}
