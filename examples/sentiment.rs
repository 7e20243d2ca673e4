//! Sentiment analysis, the many-to-one classification of docs/design.md: read a sentence word by
//! word and say whether it is positive or negative.
//!
//! Text: the hand-written corpus shipped in `crates/data/src/synth/text/sentiment.tsv` (short reviews
//! with negations and "but" clauses). It is split at random into 70 % training, 15 % validation
//! (choosing the epoch) and 15 % test sentences that the model never sees while training (by
//! mirrored pair: the corpus pairs each sentence with a twin of the opposite label). The 720
//! templated sentences of `SentimentCorpus::templated` ("the soup was not great", "the film was
//! superb but the music was awful") are split 70 / 15 / 15 the same way. Accuracy is reported on
//! both test parts: the templated one (new combinations of known words) is learned well; 240
//! hand-written training sentences are too few to generalise to new hand-written phrasings.
//!
//! Pipeline: tokenise (lowercase words, `n't` → `not`), build the vocabulary from the training
//! sentences (unseen words become `<unk>`), encode each token one-hot, and run a GRU (or LSTM,
//! Elman) whose final hidden state feeds a two-class head. Embedding: with one-hot inputs the
//! recurrent layer's input weight `W_ih` (vocabulary × gates·H) *is* an embedding table, the row
//! of a word being its learned vector, so no separate embedding layer is needed. Inputs are
//! therefore not z-scored (`normalize_inputs = false`).
//!
//! ```text
//! cargo run --release --example sentiment
//! cargo run --release --example sentiment -- --cell lstm --device wgpu
//! ```

mod common;

use std::path::PathBuf;

use anyhow::{Context, Result};
use burn_rnn::data::{
    SentimentCorpus, SplitFractions, TokenEncoding, Vocabulary, sentiment_dataset,
};
use burn_rnn::train::plot::write_png;
use burn_rnn::train::{ClassPrediction, ClassificationReport, accuracy_panel, loss_panel};
use clap::Parser;

/// Classify the sentiment of sentences with a recurrent network.
#[derive(Parser, Debug, Clone)]
#[command(version)]
#[command(mut_args(common::defaults(&[("epochs", "25"), ("batch_size", "32"), ("lr", "5e-3")])))]
pub struct Args {
    #[command(flatten)]
    pub train: common::TrainArgs,
    /// Directory for the run (weights, config, vocabulary, metrics) and the plot.
    #[arg(long, default_value = "artifacts/sentiment")]
    pub out: PathBuf,
    /// Keep at most this many tokens of a sentence.
    #[arg(long, default_value_t = 30)]
    pub max_len: usize,
    /// Keep only words seen at least this often in training; rarer ones become `<unk>`.
    #[arg(long, default_value_t = 2)]
    pub min_count: usize,
}

/// What the example measured.
#[derive(Debug, Clone)]
pub struct Report {
    /// Accuracy on the held-out test sentences, in [0, 1].
    pub accuracy: f64,
    /// Accuracy on the held-out templated sentences.
    pub templated_accuracy: f64,
    /// Accuracy on the held-out hand-written sentences.
    pub handwritten_accuracy: f64,
    /// Accuracy of always answering the training set's most frequent label.
    pub majority_accuracy: f64,
    /// A few held-out and new sentences: the sentence, the prediction, the class it should get.
    pub examples: Vec<(String, ClassPrediction, usize)>,
}

/// New sentences, not in the corpus, with the label a reader would give them.
const NEW_SENTENCES: [(&str, usize); 4] = [
    ("The food was not bad at all.", 1),
    ("I would never order from them again.", 0),
    ("Great screen, but the battery died within an hour.", 0),
    ("The staff were friendly and the room was spotless.", 1),
];

fn main() -> std::process::ExitCode {
    common::main(|| run(&Args::parse()))
}

/// Splits the corpus, trains, prints held-out accuracy and example predictions, and writes
/// `loss.png` to `--out`.
pub fn run(args: &Args) -> Result<Report> {
    let device = args.train.device.open()?;
    let fractions = SplitFractions::train_valid_test(0.7, 0.15);
    let split = SentimentCorpus::split(fractions, args.train.seed)?;
    let test_texts = split.test();
    let vocabulary =
        Vocabulary::build(split.train.iter().map(|(t, _)| t.as_str()), args.min_count)?;
    let encode = |texts: &[(String, usize)]| {
        sentiment_dataset(texts, &vocabulary, args.max_len, TokenEncoding::OneHot)
    };
    let (train_set, valid_set, test_set) = (
        encode(&split.train)?,
        encode(&split.valid)?,
        encode(&test_texts)?,
    );
    println!(
        "{} hand-written and {} templated sentences: {} for training ({} hand-written), {} for \
         validation, {} held out for the test ({} hand-written); vocabulary of {} tokens from \
         the training sentences, one-hot; {} cell, {} hidden units, training on {}",
        split.handwritten,
        split.templated,
        split.train.len(),
        split.handwritten_train,
        split.valid.len(),
        test_texts.len(),
        split.test_handwritten.len(),
        vocabulary.len(),
        args.train.cell.name(),
        args.train.hidden,
        args.train.device.device
    );

    let config = (args.train.config(&train_set, 1))
        .with_early_stopping_patience(Some(8))
        .with_normalize_inputs(false);
    let dir = args.out.clone();
    let run = (args.train).fit(&config, &train_set, &valid_set, dir, &device, false)?;
    vocabulary.save(args.out.join("vocabulary.json"))?;
    let predictor = run.predictor(&device)?;

    let predicted = predictor.predict_classes(&test_set)?;
    let chosen: Vec<usize> = predicted.iter().map(|p| p.class).collect();
    let scores = ClassificationReport::evaluate(&chosen, &test_set, &train_set)?;
    println!(
        "\nheld-out test accuracy: {:.1} % of {} sentences never seen in training (always \
         answering the commonest label: {:.1} %)",
        100.0 * scores.accuracy,
        test_texts.len(),
        100.0 * scores.majority_accuracy
    );
    println!("{}", scores.confusion_line(test_set.target_names()));
    let correct = |range: std::ops::Range<usize>| {
        let right = range
            .clone()
            .filter(|&i| chosen[i] == test_texts[i].1)
            .count();
        right as f64 / range.len().max(1) as f64
    };
    let handwritten = split.test_handwritten.len();
    let handwritten_accuracy = correct(0..handwritten);
    let templated_accuracy = correct(handwritten..test_texts.len());
    println!(
        "  templated test sentences: {:.1} % (new subject/adjective/negation/\"but\" combinations: \
         word order decides \"the X was good but the Y was bad\")",
        100.0 * templated_accuracy
    );
    println!(
        "  hand-written test sentences: {:.1} % (new words and phrasings; {} hand-written \
         training sentences are too few to learn most of them, so expect little above chance)",
        100.0 * handwritten_accuracy,
        split.handwritten_train
    );

    // The first three hand-written and the first three templated test sentences, then new ones.
    let mut examples: Vec<(String, ClassPrediction, usize)> = (0..test_texts.len())
        .filter(|&i| i < 3 || (handwritten..handwritten + 3).contains(&i))
        .map(|i| {
            (
                test_texts[i].0.clone(),
                predicted[i].clone(),
                test_texts[i].1,
            )
        })
        .collect();
    let new: Vec<(String, usize)> = NEW_SENTENCES
        .iter()
        .map(|(t, c)| (t.to_string(), *c))
        .collect();
    let new_predictions = predictor.predict_classes(&encode(&new)?)?;
    for ((text, class), p) in new.into_iter().zip(new_predictions) {
        examples.push((text, p, class));
    }
    println!("\nsome held-out sentences, then new ones:");
    for (text, p, class) in &examples {
        let mark = ["✗", "✓"][usize::from(p.class == *class)];
        let percent = 100.0 * p.probability;
        println!("  {mark} {:<8} ({percent:>3.0} %)  {text}", p.name);
    }
    let plot = args.out.join("training.png");
    let panels = [
        loss_panel(&run.history, "Loss per epoch", "cross-entropy"),
        accuracy_panel(&run.history, "Accuracy per epoch", "accuracy (%)"),
    ];
    let title = format!(
        "Sentiment: training a {} cell on one-hot tokens",
        args.train.cell.name()
    );
    write_png(&plot, &title, &panels, 2).context("writing the training plot")?;
    println!(
        "\nwrote {}\nrun (weights, config, vocabulary.json, metrics.csv) in {}",
        plot.display(),
        args.out.display()
    );
    Ok(Report {
        accuracy: scores.accuracy,
        templated_accuracy,
        handwritten_accuracy,
        majority_accuracy: scores.majority_accuracy,
        examples,
    })
}
