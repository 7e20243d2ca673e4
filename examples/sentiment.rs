//! Sentiment analysis, the design notes' many-to-one classification: read a sentence word by
//! word and say whether it is positive or negative.
//!
//! Text: the hand-written corpus shipped in `crates/data/src/synth/sentiment.tsv` (short reviews
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

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use burn_rnn::data::split::random_indices;
use burn_rnn::data::synth::POSITIVE;
use burn_rnn::data::{
    SentimentCorpus, SplitFractions, TokenEncoding, Vocabulary, sentiment_dataset,
};
use burn_rnn::model::{CellKind, RecurrentConfig, SequenceModelConfig};
use burn_rnn::train::plot::{Panel, Series, write_png};
use burn_rnn::train::{
    Backend, ClassificationReport, EpochMetrics, Objective, Prediction, Progress, RunDir,
    TrainOptions, TrainingConfig, dataset_targets, train,
};
use clap::Parser;

/// Classify the sentiment of sentences with a recurrent network.
#[derive(Parser, Debug, Clone)]
#[command(version)]
pub struct Args {
    /// Backend: flex (CPU, default), ndarray (CPU), wgpu (GPU, or lavapipe), cuda.
    #[arg(long, default_value = "flex")]
    pub device: String,
    /// Maximum passes over the training sentences (early stopping may end sooner).
    #[arg(long, default_value_t = 25)]
    pub epochs: usize,
    /// Seed for the split, the weights and the shuffling.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Directory for the run (weights, config, vocabulary, metrics) and the plot.
    #[arg(long, default_value = "artifacts/sentiment")]
    pub out: PathBuf,
    /// Recurrent cell: elman (tanh), elman-relu, elman-sigmoid, lstm or gru.
    #[arg(long, default_value = "gru")]
    pub cell: CellKind,
    /// Hidden units.
    #[arg(long, default_value_t = 32)]
    pub hidden: usize,
    /// Sentences per batch.
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    /// Adam's initial learning rate (cosine-annealed).
    #[arg(long, default_value_t = 5e-3)]
    pub lr: f64,
    /// Keep at most this many tokens of a sentence.
    #[arg(long, default_value_t = 30)]
    pub max_len: usize,
    /// Keep only words seen at least this often in training; rarer ones become `<unk>`.
    #[arg(long, default_value_t = 2)]
    pub min_count: usize,
    /// No progress lines while training.
    #[arg(long)]
    pub quiet: bool,
}

/// One sentence with the model's verdict.
#[derive(Debug, Clone)]
pub struct Example {
    /// The sentence.
    pub text: String,
    /// The predicted label (`negative` / `positive`).
    pub predicted: String,
    /// The predicted label's probability.
    pub confidence: f32,
    /// The label it should have.
    pub expected: String,
}

/// What the example measured.
#[derive(Debug, Clone)]
pub struct Report {
    /// Sentences trained on, validated on and tested on.
    pub sizes: [usize; 3],
    /// Tokens in the vocabulary (the one-hot width), `<pad>` and `<unk>` included.
    pub vocabulary: usize,
    /// Accuracy on the held-out test sentences, in [0, 1].
    pub accuracy: f64,
    /// Accuracy on the held-out templated sentences.
    pub templated_accuracy: f64,
    /// Accuracy on the held-out hand-written sentences.
    pub handwritten_accuracy: f64,
    /// Accuracy of always answering the training set's most frequent label.
    pub majority_accuracy: f64,
    /// A few held-out and new sentences with their predictions.
    pub examples: Vec<Example>,
}

/// New sentences, not in the corpus, with the label a reader would give them.
const NEW_SENTENCES: [(&str, usize); 4] = [
    ("The food was not bad at all.", 1),
    ("I would never order from them again.", 0),
    ("Great screen, but the battery died within an hour.", 0),
    ("The staff were friendly and the room was spotless.", 1),
];

/// Freed large tensors are reused: no page faults in the training loop (BENCHMARKS.md). Not
/// when `tests/examples.rs` includes this file as a module.
#[cfg(not(test))]
#[global_allocator]
static ALLOCATOR: burn_rnn::train::CachingAllocator = burn_rnn::train::CachingAllocator;

fn main() -> Result<()> {
    run(&Args::parse()).map(|_| ())
}

/// Splits the corpus, trains, prints held-out accuracy and example predictions, and writes
/// `loss.png` to `--out`.
pub fn run(args: &Args) -> Result<Report> {
    let backend: Backend = args.device.parse()?;
    let device = backend.device()?;
    let corpus = SentimentCorpus::builtin();
    // The corpus alternates positive and negative sentences in mirrored pairs that share most
    // words; a pair stays together, or the test would reward remembering its twin's words.
    let split = random_indices(
        corpus.len() / 2,
        SplitFractions::train_valid_test(0.7, 0.15),
        args.seed,
    )?;
    let pick = |pairs: &[usize]| {
        pairs
            .iter()
            .flat_map(|&p| [2 * p, 2 * p + 1])
            .map(|i| corpus[i].clone())
            .collect::<Vec<_>>()
    };
    let mut train_texts = pick(&split.train);
    if corpus.len() % 2 == 1 {
        train_texts.push(corpus[corpus.len() - 1].clone());
    }
    let handwritten_train = train_texts.len();
    let templated = SentimentCorpus::templated();
    let templated_split = random_indices(
        templated.len(),
        SplitFractions::train_valid_test(0.7, 0.15),
        args.seed,
    )?;
    let pick_templated = |ids: &[usize]| -> Vec<(String, usize)> {
        ids.iter().map(|&i| templated[i].clone()).collect()
    };
    train_texts.extend(pick_templated(&templated_split.train));
    let mut valid_texts = pick(&split.valid);
    valid_texts.extend(pick_templated(&templated_split.valid));
    let handwritten_test = pick(&split.test);
    let templated_test = pick_templated(&templated_split.test);
    let test_texts: Vec<_> = handwritten_test
        .iter()
        .chain(&templated_test)
        .cloned()
        .collect();
    let vocabulary =
        Vocabulary::build(train_texts.iter().map(|(t, _)| t.as_str()), args.min_count)?;
    let encode = |texts: &[(String, usize)]| {
        sentiment_dataset(texts, &vocabulary, args.max_len, TokenEncoding::OneHot)
    };
    let (train_set, valid_set, test_set) = (
        encode(&train_texts)?,
        encode(&valid_texts)?,
        encode(&test_texts)?,
    );
    println!(
        "{} hand-written and {} templated sentences: {} for training ({} hand-written), {} for \
         validation, {} held out for the test ({} hand-written); vocabulary of {} tokens from \
         the training sentences, one-hot; {} cell, {} hidden units, training on {backend}",
        corpus.len(),
        templated.len(),
        train_texts.len(),
        handwritten_train,
        valid_texts.len(),
        test_texts.len(),
        handwritten_test.len(),
        vocabulary.len(),
        args.cell.name(),
        args.hidden
    );

    let config = TrainingConfig::new(
        SequenceModelConfig::new(
            RecurrentConfig::new(vocabulary.len(), args.hidden).with_cell(args.cell),
            2,
        ),
        Objective::Classification,
    )
    .with_num_epochs(args.epochs)
    .with_batch_size(args.batch_size)
    .with_learning_rate(args.lr)
    .with_early_stopping_patience(Some(8))
    .with_normalize_inputs(false)
    .with_seed(args.seed);
    let options = TrainOptions {
        progress: if args.quiet {
            Progress::Silent
        } else {
            Progress::Auto
        },
        ..TrainOptions::default()
    };
    let run = train(
        &config,
        &train_set,
        &valid_set,
        &RunDir::new(&args.out),
        &device,
        options,
    )?;
    let history = run.history.clone();
    std::fs::write(
        args.out.join("vocabulary.json"),
        serde_json::to_string(&vocabulary)?,
    )
    .context("writing the vocabulary")?;
    println!("{}", run.summary());
    let predictor = run.predictor(&device)?;

    let classes = |data| -> Result<Vec<(usize, String, f32)>> {
        predictor
            .predict_dataset(data)?
            .into_iter()
            .map(|p| match p {
                Prediction::Class {
                    class,
                    name,
                    probabilities,
                } => Ok((class, name, probabilities[class])),
                other => anyhow::bail!("expected a class, got {other:?}"),
            })
            .collect()
    };
    let predicted = classes(&test_set)?;
    let (_, truth) = dataset_targets(&test_set);
    let (_, reference) = dataset_targets(&train_set);
    let chosen: Vec<usize> = predicted.iter().map(|p| p.0).collect();
    let scores = ClassificationReport::compute(&chosen, &truth, &reference, 2)?;
    println!(
        "\nheld-out test accuracy: {:.1} % of {} sentences never seen in training (always \
         answering the commonest label: {:.1} %)",
        100.0 * scores.accuracy,
        test_texts.len(),
        100.0 * scores.majority_accuracy
    );
    println!(
        "confusion (rows: truth, columns: predicted; negative, positive): {:?}",
        scores.confusion
    );
    let correct = |range: std::ops::Range<usize>| {
        range.clone().filter(|&i| chosen[i] == truth[i]).count() as f64 / range.len().max(1) as f64
    };
    let handwritten_accuracy = correct(0..handwritten_test.len());
    let templated_accuracy = correct(handwritten_test.len()..test_texts.len());
    println!(
        "  templated test sentences: {:.1} % (new subject/adjective/negation/\"but\" combinations: \
         word order decides \"the X was good but the Y was bad\")",
        100.0 * templated_accuracy
    );
    println!(
        "  hand-written test sentences: {:.1} % (new words and phrasings; {} hand-written \
         training sentences are too few to learn most of them, so expect little above chance)",
        100.0 * handwritten_accuracy,
        handwritten_train
    );

    let label = |class: usize| {
        if class == POSITIVE {
            "positive"
        } else {
            "negative"
        }
    };
    let mut examples: Vec<Example> = test_texts
        .iter()
        .zip(&predicted)
        .enumerate()
        .filter(|(i, _)| *i < 3 || (handwritten_test.len()..handwritten_test.len() + 3).contains(i))
        .map(|(_, x)| x)
        .map(|((text, class), p)| Example {
            text: text.clone(),
            predicted: p.1.clone(),
            confidence: p.2,
            expected: label(*class).into(),
        })
        .collect();
    let new: Vec<(String, usize)> = NEW_SENTENCES
        .iter()
        .map(|(t, c)| (t.to_string(), *c))
        .collect();
    for ((text, class), p) in new.iter().zip(classes(&encode(&new)?)?) {
        examples.push(Example {
            text: text.clone(),
            predicted: p.1,
            confidence: p.2,
            expected: label(*class).into(),
        });
    }
    println!("\nsome held-out sentences, then new ones:");
    for e in &examples {
        let mark = if e.predicted == e.expected {
            "✓"
        } else {
            "✗"
        };
        println!(
            "  {mark} {:<8} ({:>3.0} %)  {}",
            e.predicted,
            100.0 * e.confidence,
            e.text
        );
    }
    let plot = args.out.join("training.png");
    plot_history(&plot, &history, args.cell)?;
    println!(
        "\nwrote {}\nrun (weights, config, vocabulary.json, metrics.csv) in {}",
        plot.display(),
        args.out.display()
    );
    Ok(Report {
        sizes: [train_texts.len(), valid_texts.len(), test_texts.len()],
        vocabulary: vocabulary.len(),
        accuracy: scores.accuracy,
        templated_accuracy,
        handwritten_accuracy,
        majority_accuracy: scores.majority_accuracy,
        examples,
    })
}

/// Loss and accuracy per epoch, training and validation.
fn plot_history(path: &Path, history: &[EpochMetrics], cell: CellKind) -> Result<()> {
    let points = |f: fn(&EpochMetrics) -> Option<f64>| {
        history
            .iter()
            .filter_map(|e| f(e).map(|v| (e.epoch as f64, v)))
            .collect::<Vec<_>>()
    };
    let loss = Panel::new("Loss per epoch", "epoch", "cross-entropy")
        .with(Series::line("training", points(|e| Some(e.train_loss))))
        .with(Series::line("validation", points(|e| Some(e.valid_loss))));
    let accuracy = Panel::new("Accuracy per epoch", "epoch", "accuracy (%)")
        .with(Series::line("training", points(|e| e.train_accuracy)))
        .with(Series::line("validation", points(|e| e.valid_accuracy)));
    write_png(
        path,
        &format!(
            "Sentiment: training a {} cell on one-hot tokens",
            cell.name()
        ),
        &[loss, accuracy],
        2,
    )
    .context("writing the training plot")
}
