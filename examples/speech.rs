//! Spoken digits, the speech case of docs/design.md: "zero" to "nine" said by espeak-ng (Debian's
//! speech synthesiser, `apt-get install espeak-ng`) with 3 accents, several speakers (voice
//! variants), speeds and pitches, recorded to WAV files here, turned into log-mel frames (20 mel
//! bands every 10 ms, silence trimmed, so each word has its own length) and written as a long
//! CSV file. A bidirectional GRU classifies the variable-length sequences (padded, lengths as
//! masks); it is scored on two speakers it never heard: accuracy per word and the confusion
//! matrix. Trained and scored as `burn-rnn train` and `burn-rnn evaluate` do it.
//!
//! ```text
//! cargo run --release --example speech
//! cargo run --release --example speech -- --cell lstm --hidden 64
//! ```

mod common;

use std::path::PathBuf;

use anyhow::{Result, bail};
use burn_rnn::data::audio::LogMel;
use burn_rnn::data::synth::{DIGITS, SpeechConfig, espeak_available, speech_dataset};
use burn_rnn::data::{DataHints, inspect_csv, write_labelled_long_csv};
use burn_rnn::train::{ClassMetrics, EvaluateOptions, TrainSpec, evaluate_run};
use clap::Parser;

/// Classify spoken digits, recorded with espeak-ng, with a bidirectional recurrent network.
#[derive(Parser, Debug, Clone)]
#[command(version)]
#[command(mut_args(common::defaults(&[("epochs", "40"), ("hidden", "48"), ("lr", "1e-2")])))]
pub struct Args {
    #[command(flatten)]
    pub train: common::TrainArgs,
    /// Training speakers (espeak-ng voice variants).
    #[arg(long, value_delimiter = ',', default_value = "m1,m2,m3,m4,f1,f2,f3")]
    pub speakers: Vec<String>,
    /// Held-out speakers, never heard in training.
    #[arg(long, value_delimiter = ',', default_value = "m5,f4")]
    pub test_speakers: Vec<String>,
    /// Accents (espeak-ng voices).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "en-us,en-gb,en-gb-scotland"
    )]
    pub accents: Vec<String>,
    /// Speaking rates, words per minute.
    #[arg(long, value_delimiter = ',', default_value = "130,165,200")]
    pub speeds: Vec<u32>,
    /// Pitches, 0–99.
    #[arg(long, value_delimiter = ',', default_value = "35,65")]
    pub pitches: Vec<u32>,
    /// Directory for the recordings, the CSV files, the run and the plot.
    #[arg(long, default_value = "artifacts/speech")]
    pub out: PathBuf,
}

/// What the example measured on the held-out speakers.
#[derive(Debug, Clone)]
pub struct Report {
    /// Accuracy, per-word precision/recall/F1, confusion matrix, majority class.
    pub scores: ClassMetrics,
    /// Held-out recordings.
    pub test_words: usize,
}

fn main() -> std::process::ExitCode {
    common::main(|| run(&Args::parse()))
}

/// Records the words, writes the CSV files, trains, and prints and returns the test scores.
pub fn run(args: &Args) -> Result<Report> {
    if !espeak_available() {
        bail!(
            "this example records its words with espeak-ng, which is not installed here (Debian/Ubuntu: apt-get install espeak-ng)"
        );
    }
    let words: Vec<String> = DIGITS.map(String::from).to_vec();
    let config = |speakers: &[String]| SpeechConfig {
        words: words.clone(),
        accents: args.accents.clone(),
        speakers: speakers.to_vec(),
        speeds: args.speeds.clone(),
        pitches: args.pitches.clone(),
    };
    let wav = args.out.join("wav");
    let (train_audio, test_audio) = (
        config(&args.speakers).record(&wav)?,
        config(&args.test_speakers).record(&wav)?,
    );
    let mel = LogMel::default();
    let (train_set, test_set) = (
        speech_dataset(&train_audio, &words, &mel)?,
        speech_dataset(&test_audio, &words, &mel)?,
    );
    let (train_csv, test_csv) = (
        args.out.join("speech-train.csv"),
        args.out.join("speech-test.csv"),
    );
    write_labelled_long_csv(&train_csv, &train_set, "word")?;
    write_labelled_long_csv(&test_csv, &test_set, "word")?;
    println!(
        "{} recordings for training (speakers {}), {} of speakers {} held out; {} accents, speeds {:?} wpm, pitches {:?}; {} log-mel bands every {:.0} ms",
        train_audio.len(),
        args.speakers.join(" "),
        test_audio.len(),
        args.test_speakers.join(" "),
        args.accents.len(),
        args.speeds,
        args.pitches,
        mel.bands,
        1000.0 * mel.hop as f32 / 22_050.0
    );

    let hints = DataHints {
        targets: vec!["word".into()],
        ..DataHints::default()
    };
    let inspection = inspect_csv(&train_csv, &hints)?;
    print!("{inspection}");
    let mut spec = TrainSpec::new(&train_csv, inspection.spec, args.out.join("run"));
    args.train.apply_to(&mut spec);
    spec.model.bidirectional = true;
    println!("{spec}");
    let outcome = spec.train(args.train.options())?;
    println!("{}", outcome.run.summary());

    let options = EvaluateOptions {
        out: Some(args.out.clone()),
        ..EvaluateOptions::default()
    };
    let scored = evaluate_run(&spec.out, &test_csv, &args.train.device.open()?, &options)?;
    println!(
        "\n== Held-out speakers {} ==\n{}",
        args.test_speakers.join(", "),
        scored.evaluation
    );
    let scores = scored
        .evaluation
        .classification
        .clone()
        .ok_or_else(|| anyhow::anyhow!("a classifier's scores"))?;
    let per_word: Vec<String> = scores
        .classes
        .iter()
        .map(|c| format!("{} {:.0} %", c.name, 100.0 * c.recall))
        .collect();
    println!("accuracy per word: {}", per_word.join(", "));
    common::print_written(&scored.files);
    println!(
        "the same from the command line: burn-rnn train --data {} --target word --bidirectional --hidden {} --batch-size {}",
        train_csv.display(),
        args.train.hidden,
        args.train.batch_size
    );
    Ok(Report {
        scores,
        test_words: test_audio.len(),
    })
}
