//! Every example runs end to end with few epochs (so the examples never rot) and shows what it
//! claims to show.

#![allow(dead_code)]

use clap::Parser;

#[path = "../examples/gradients.rs"]
mod gradients;
#[path = "../examples/sentiment.rs"]
mod sentiment;
#[path = "../examples/stock.rs"]
mod stock;

fn out_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("a temporary directory")
}

/// The CPU backends' random generator is process-wide: tests running in parallel would seed
/// and draw from it in turn, and each example's initial weights would depend on its
/// neighbours. Each test holds this lock, so every example starts from its own seed.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[test]
fn stock_compares_both_windows_with_the_naive_forecast() {
    let _serial = one_at_a_time();
    let dir = out_dir();
    let out = dir.path().to_str().unwrap();
    let args = stock::Args::parse_from([
        "stock", "--epochs", "3", "--days", "600", "--quiet", "--out", out,
    ]);
    let report = stock::run(&args).unwrap();
    let windows: Vec<usize> = report.results.iter().map(|r| r.window).collect();
    assert_eq!(windows, vec![1, 20]);
    for r in &report.results {
        assert!(r.test_days > 50, "{} test days", r.test_days);
        assert!(r.rnn_mae.is_finite() && r.naive_mae > 0.0, "{r:?}");
        // On a random walk the RNN can at best tie with "tomorrow = today", and it should not be
        // far off either.
        assert!(r.gain_percent().abs() < 25.0, "gain {} %", r.gain_percent());
    }
    assert!(dir.path().join("forecast.png").is_file());
}

#[test]
fn sentiment_beats_the_majority_label_on_held_out_sentences() {
    let _serial = one_at_a_time();
    let dir = out_dir();
    let out = dir.path().to_str().unwrap();
    let args = sentiment::Args::parse_from(["sentiment", "--epochs", "6", "--quiet", "--out", out]);
    let report = sentiment::run(&args).unwrap();
    assert!(
        report.accuracy > report.majority_accuracy + 0.15,
        "accuracy {} vs majority {}",
        report.accuracy,
        report.majority_accuracy
    );
    assert!(report.templated_accuracy > 0.8, "{report:?}");
    assert!(!report.examples.is_empty());
    assert!(dir.path().join("training.png").is_file());
}

#[test]
fn gradients_explode_vanish_and_the_lstm_remembers() {
    let _serial = one_at_a_time();
    let dir = out_dir();
    let out = dir.path().to_str().unwrap();
    let args = gradients::Args::parse_from([
        "gradients",
        "--epochs",
        "12",
        "--lengths",
        "5,50",
        "--samples",
        "256",
        "--clip-steps",
        "20",
        "--out",
        out,
    ]);
    let report = gradients::run(&args).unwrap();
    let [exploding, vanishing, lstm] = &report.curves[..] else {
        panic!("three gradient curves");
    };
    assert_eq!(exploding.norms.len(), 51);
    assert!(exploding.norms[50] > 1e14, "{:e}", exploding.norms[50]);
    assert!(vanishing.norms[50] < 1e-14, "{:e}", vanishing.norms[50]);
    let (low, high) = lstm.norms[1..]
        .iter()
        .fold((f64::INFINITY, 0.0f64), |(l, h), &g| (l.min(g), h.max(g)));
    assert!(
        high / low < 1e3 && low > 1e-4,
        "LSTM between {low:e} and {high:e}"
    );
    assert!(
        report.unclipped.diverged_at.is_some(),
        "{:?}",
        report.unclipped
    );
    assert!(report.clipped.diverged_at.is_none());
    assert!(report.clipped.losses.iter().all(|l| l.is_finite()));
    let longest = report.memory.last().unwrap();
    assert_eq!(longest.steps, 50);
    assert!(
        longest.lstm > 0.9 && longest.lstm - longest.elman > 0.1,
        "at T = 50: LSTM {} vs Elman {}",
        longest.lstm,
        longest.elman
    );
    assert!(dir.path().join("gradients.png").is_file());
}
