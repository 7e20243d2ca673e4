//! The design notes' "yesterday's price → today's price", honestly: forecast tomorrow's closing
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

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use burn_rnn::data::synth::PriceConfig;
use burn_rnn::data::{SplitFractions, WindowSpec, sliding_windows, split_windows};
use burn_rnn::model::{CellKind, RecurrentConfig, SequenceModelConfig};
use burn_rnn::train::plot::{Panel, Series, write_png};
use burn_rnn::train::{
    Backend, Objective, Prediction, Progress, RunDir, TrainOptions, TrainingConfig, train,
};
use clap::Parser;

/// Forecast tomorrow's price of a generated stock with an RNN and compare with "tomorrow = today".
#[derive(Parser, Debug, Clone)]
#[command(version)]
pub struct Args {
    /// Backend: flex (CPU, default), ndarray (CPU), wgpu (GPU, or lavapipe), cuda.
    #[arg(long, default_value = "flex")]
    pub device: String,
    /// Maximum passes over the training windows (early stopping may end sooner).
    #[arg(long, default_value_t = 30)]
    pub epochs: usize,
    /// Seed for the prices, the weights and the shuffling.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Directory for the runs (weights, configs, metrics) and the plot.
    #[arg(long, default_value = "artifacts/stock")]
    pub out: PathBuf,
    /// Window lengths in days, comma-separated (1 = yesterday → today).
    #[arg(long, value_delimiter = ',', default_value = "1,20")]
    pub windows: Vec<usize>,
    /// Number of generated trading days.
    #[arg(long, default_value_t = 1500)]
    pub days: usize,
    /// Recurrent cell: elman (tanh), elman-relu, elman-sigmoid, lstm or gru.
    #[arg(long, default_value = "gru")]
    pub cell: CellKind,
    /// Hidden units.
    #[arg(long, default_value_t = 32)]
    pub hidden: usize,
    /// Windows per batch.
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    /// Adam's initial learning rate (cosine-annealed).
    #[arg(long, default_value_t = 3e-3)]
    pub lr: f64,
    /// No progress lines while training.
    #[arg(long)]
    pub quiet: bool,
}

/// Test-period scores of one window length.
#[derive(Debug, Clone)]
pub struct WindowResult {
    /// Days of history the model reads.
    pub window: usize,
    /// Forecast days in the test period.
    pub test_days: usize,
    /// Mean absolute error of the RNN's price forecast, in price units.
    pub rnn_mae: f64,
    /// Mean absolute error of "tomorrow = today", in price units.
    pub naive_mae: f64,
    /// Share of test days whose up/down move the RNN got right (days without a move skipped).
    pub direction_accuracy: f64,
    /// `(day, actual price, RNN forecast, naive forecast)` for every test day.
    pub forecasts: Vec<(usize, f64, f64, f64)>,
    /// `(day, actual log return, predicted log return)` for every test day.
    pub returns: Vec<(usize, f64, f64)>,
}

impl WindowResult {
    /// How much lower the RNN's MAE is than the naive one, in percent (negative: worse).
    pub fn gain_percent(&self) -> f64 {
        100.0 * (1.0 - self.rnn_mae / self.naive_mae)
    }
}

/// What the example measured, one entry per window length.
#[derive(Debug, Clone)]
pub struct Report {
    /// In the order of `--windows`.
    pub results: Vec<WindowResult>,
}

/// Freed large tensors are reused: no page faults in the training loop (BENCHMARKS.md). Not
/// when `tests/examples.rs` includes this file as a module.
#[cfg(not(test))]
#[global_allocator]
static ALLOCATOR: burn_rnn::train::CachingAllocator = burn_rnn::train::CachingAllocator;

fn main() -> Result<()> {
    run(&Args::parse()).map(|_| ())
}

/// Generates the prices, trains one model per window length, prints the comparison with the
/// naive forecast and writes `forecast.png` to `--out`.
pub fn run(args: &Args) -> Result<Report> {
    anyhow::ensure!(
        !args.windows.is_empty(),
        "--windows needs at least one length"
    );
    let backend: Backend = args.device.parse()?;
    let device = backend.device()?;
    let series = PriceConfig {
        days: args.days,
        seed: args.seed,
        ..PriceConfig::default()
    }
    .generate()?;
    let prices = &series.prices;
    let returns = series.log_returns();
    let rows: Vec<Vec<f32>> = returns.iter().map(|&r| vec![r]).collect();
    println!(
        "{} generated trading days, price {:.2} → {:.2} (a random walk with calm and turbulent \
         periods); {} cell, {} hidden units, training on {backend}",
        prices.len(),
        prices[0],
        prices[prices.len() - 1],
        args.cell.name(),
        args.hidden
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
        let config = TrainingConfig::new(
            SequenceModelConfig::new(RecurrentConfig::new(1, args.hidden).with_cell(args.cell), 1),
            Objective::Regression,
        )
        .with_num_epochs(args.epochs)
        .with_batch_size(args.batch_size)
        .with_learning_rate(args.lr)
        .with_early_stopping_patience(Some(8))
        .with_seed(args.seed);
        let options = TrainOptions {
            progress: if args.quiet {
                Progress::Silent
            } else {
                Progress::Auto
            },
            ..TrainOptions::default()
        };
        println!("\n== Window of {window} day(s) ==");
        let run = train(
            &config,
            &split.train,
            &split.valid,
            &RunDir::new(args.out.join(format!("window-{window}"))),
            &device,
            options,
        )?;
        println!("{}", run.summary());
        let predictor = run.predictor(&device)?;
        let predicted: Vec<f64> = predictor
            .predict_dataset(&test)?
            .into_iter()
            .map(|p| match p {
                Prediction::Values(v) => Ok(f64::from(v[0])),
                other => anyhow::bail!("expected one value, got {other:?}"),
            })
            .collect::<Result<_>>()?;

        let mut forecasts = Vec::with_capacity(predicted.len());
        let mut moves = Vec::with_capacity(predicted.len());
        for (&i, &r_hat) in indices.test.iter().zip(&predicted) {
            // Window i's target is the return of row `t` of `returns`: p[t] → p[t + 1].
            let t = windows.target_row(i).context("a test window index")?;
            let today = f64::from(prices[t]);
            let tomorrow = f64::from(prices[t + 1]);
            forecasts.push((t + 1, tomorrow, today * r_hat.exp(), today));
            moves.push((t + 1, f64::from(returns[t]), r_hat));
        }
        let mae = |pick: fn(&(usize, f64, f64, f64)) -> f64| {
            forecasts.iter().map(|f| (f.1 - pick(f)).abs()).sum::<f64>() / forecasts.len() as f64
        };
        let called: Vec<bool> = moves
            .iter()
            .filter(|m| m.1 != 0.0 && m.2 != 0.0)
            .map(|m| (m.1 > 0.0) == (m.2 > 0.0))
            .collect();
        let result = WindowResult {
            window,
            test_days: forecasts.len(),
            rnn_mae: mae(|f| f.2),
            naive_mae: mae(|f| f.3),
            direction_accuracy: called.iter().filter(|&&c| c).count() as f64
                / called.len().max(1) as f64,
            forecasts,
            returns: moves,
        };
        let mean_abs_move =
            result.returns.iter().map(|m| m.2.abs()).sum::<f64>() / result.returns.len() as f64;
        println!(
            "test period: {} days; mean absolute error of tomorrow's price: RNN {:.3}, \
             \"tomorrow = today\" {:.3} ({})",
            result.test_days,
            result.rnn_mae,
            result.naive_mae,
            verdict(result.gain_percent())
        );
        println!(
            "the RNN called the direction of the move right on {:.1} % of the days (a coin: \
             50 %); its predicted moves average {:.3} % a day",
            100.0 * result.direction_accuracy,
            100.0 * mean_abs_move
        );
        results.push(result);
    }

    println!("\n== Summary ==");
    for r in &results {
        println!(
            "window {:>3} day(s): RNN MAE {:.3} vs naive {:.3}: {}",
            r.window,
            r.rnn_mae,
            r.naive_mae,
            verdict(r.gain_percent())
        );
    }
    println!(
        "These prices are a random walk: tomorrow's move does not depend on the past, so \
         \"tomorrow = today\" is already the best forecast and no window length can beat it by \
         more than luck. All the RNN can learn is a move close to zero (the small average drift), \
         so at best it ties with the naive forecast; on real prices, beating this baseline is the bar \
         any model has to clear."
    );

    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let plot = args.out.join("forecast.png");
    plot_forecasts(&plot, &results)?;
    println!(
        "\nwrote {}\nruns (weights, configs, normaliser, metrics.csv) in {}/window-*",
        plot.display(),
        args.out.display()
    );
    Ok(Report { results })
}

/// "beats it by 2.1 %", "a tie", "is 3.0 % worse": within ±1 % counts as a tie.
fn verdict(gain: f64) -> String {
    if gain > 1.0 {
        format!("the RNN beats the naive forecast by {gain:.1} %")
    } else if gain < -1.0 {
        format!("the RNN is {:.1} % worse than the naive forecast", -gain)
    } else if gain >= 0.0 {
        format!("a tie: the RNN is {gain:.1} % better, within noise")
    } else {
        format!("a tie: the RNN is {:.1} % worse, within noise", -gain)
    }
}

/// Actual price vs forecasts over the test period (the longest window), a zoom on its last
/// weeks, and actual vs predicted daily moves for every window.
fn plot_forecasts(path: &Path, results: &[WindowResult]) -> Result<()> {
    let longest = results
        .iter()
        .max_by_key(|r| r.window)
        .context("no results to plot")?;
    let series = |f: &[(usize, f64, f64, f64)]| {
        let pick = |g: fn(&(usize, f64, f64, f64)) -> f64| {
            f.iter().map(|x| (x.0 as f64, g(x))).collect::<Vec<_>>()
        };
        (pick(|x| x.1), pick(|x| x.2), pick(|x| x.3))
    };
    let (actual, rnn, naive) = series(&longest.forecasts);
    let full = Panel::new(
        format!(
            "Test period: price and forecasts ({}-day window)",
            longest.window
        ),
        "trading day",
        "price",
    )
    .with(Series::line("actual", actual))
    .with(Series::line("RNN forecast", rnn))
    .with(Series::line("naive: tomorrow = today", naive));
    let last = &longest.forecasts[longest.forecasts.len().saturating_sub(30)..];
    let (actual, rnn, naive) = series(last);
    let zoom = Panel::new("The last 30 test days", "trading day", "price")
        .with(Series::marked("actual", actual))
        .with(Series::marked("RNN forecast", rnn))
        .with(Series::marked("naive: tomorrow = today", naive));
    let last_days = |m: &[(usize, f64, f64)]| m[m.len().saturating_sub(60)..].to_vec();
    let mut moves = Panel::new(
        "Daily moves, last 60 test days",
        "trading day",
        "log return (%)",
    )
    .with(Series::line(
        "actual",
        last_days(&longest.returns)
            .iter()
            .map(|m| (m.0 as f64, 100.0 * m.1))
            .collect(),
    ));
    for r in results {
        moves = moves.with(Series::line(
            format!("predicted, {}-day window", r.window),
            last_days(&r.returns)
                .iter()
                .map(|m| (m.0 as f64, 100.0 * m.2))
                .collect(),
        ));
    }
    write_png(
        path,
        "Generated stock: the RNN's next-day forecasts against \"tomorrow = today\"",
        &[full, zoom, moves],
        3,
    )
    .context("writing the forecast plot")
}
