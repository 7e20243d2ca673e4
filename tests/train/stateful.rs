//! Stateful training (truncated backpropagation through time): windows of long series laid out
//! in streams carry the state from one batch to the next, exactly as one pass over each whole
//! series would, and learn a dependency longer than a window.

use burn::data::dataloader::batcher::Batcher;
use burn::tensor::{Device, Tensor, TensorData};
use burn_rnn::data::synth::SplitMix64;
use burn_rnn::data::{SequenceBatcher, SequenceDataset, StreamSpec, stream_windows};
use burn_rnn::model::{CellKind, RecurrentConfig, SequenceModelConfig};
use burn_rnn::train::task::StepOutput;
use burn_rnn::train::{
    Objective, Progress, RunDir, TrainOptions, Trainable, TrainingConfig, train,
};

use crate::common::{assert_close, backends, tolerance, values};

/// `name` with `len` rows of two inputs and one target, all distinct.
fn series(name: &str, len: usize, seed: u64) -> (String, Vec<Vec<f32>>) {
    let mut rng = SplitMix64::new(seed);
    let rows = (0..len)
        .map(|_| (0..3).map(|_| rng.uniform()).collect())
        .collect();
    (name.to_string(), rows)
}

/// The first `steps` rows' inputs of `rows` as a `[1, steps, 2]` tensor.
fn inputs(rows: &[Vec<f32>], steps: usize, device: &Device) -> Tensor<3> {
    let flat: Vec<f32> = rows[..steps].iter().flat_map(|r| r[..2].to_vec()).collect();
    Tensor::from_data(TensorData::new(flat, [1, steps, 2]), device)
}

/// Batches of a stream dataset, in order, with their carry flags.
fn stream_batches(data: &SequenceDataset, device: &Device) -> Vec<burn_rnn::data::SequenceBatch> {
    let streams = data.streams().unwrap();
    let batcher = SequenceBatcher::for_dataset(data);
    (0..data.len())
        .step_by(streams.count)
        .map(|at| {
            let items = data.samples()[at..at + streams.count].to_vec();
            let mut batch = batcher.batch(items, device);
            batch.carry = Some(streams.continues[at..at + streams.count].to_vec());
            batch
        })
        .collect()
}

/// Stream 0 runs through series `a` (4 windows of 3 steps); stream 1 through `b`, then `c` from
/// zeros. Each window's predictions equal those of one pass over its whole series, on every
/// backend, for a cell with and one without a cell state.
#[test]
fn carried_windows_equal_one_pass_over_each_series() {
    let all = [series("a", 13, 1), series("b", 7, 2), series("c", 7, 3)];
    let spec = StreamSpec {
        window: 3,
        streams: 2,
        inputs: vec![0, 1],
        targets: vec![2],
    };
    let data = stream_windows(&all, &spec).unwrap();
    let ids: Vec<&str> = data.samples().iter().map(|s| s.id.as_str()).collect();
    assert_eq!(
        ids,
        ["a@0", "b@0", "a@3", "b@3", "a@6", "c@0", "a@9", "c@3"]
    );
    for (backend, device) in backends() {
        for cell in [CellKind::Gru, CellKind::Lstm] {
            let recurrent = RecurrentConfig::new(2, 5)
                .with_cell(cell)
                .with_num_layers(2);
            let model = SequenceModelConfig::new(recurrent, 1)
                .init(&device)
                .unwrap();
            let whole = |(_, rows): &(String, Vec<Vec<f32>>), steps| {
                let x = inputs(rows, steps, &device);
                values(model.forward_many_to_many(x, None).unwrap())
            };
            let (a, b, c) = (whole(&all[0], 12), whole(&all[1], 6), whole(&all[2], 6));
            let expected = [
                [&a[0..3], &b[0..3]],
                [&a[3..6], &b[3..6]],
                [&a[6..9], &c[0..3]],
                [&a[9..12], &c[3..6]],
            ];
            let trainable = Trainable::new(model.clone(), Objective::PerStepRegression);
            for (k, batch) in stream_batches(&data, &device).into_iter().enumerate() {
                let StepOutput::Regression(out) = trainable.forward_batch(batch) else {
                    panic!("a regression output");
                };
                let got = values(out.output);
                let want = expected[k].concat();
                let what = format!("{backend} {}: batch {k}", cell.name());
                assert_close(&what, &got, &want, tolerance(backend, 1e-5));
            }
        }
    }
}

/// Each series holds a level for 500 steps at a time, seen only through noise as strong as the
/// level itself; the target is the level. Windows of 2 steps give a poor estimate; a state
/// carried across windows averages over far more steps than backpropagation ever spans.
#[test]
fn stateful_training_tracks_a_level_beyond_its_windows() {
    let rows_of = |seed| {
        let mut rng = SplitMix64::new(seed);
        let mut level = 0.0;
        // Row r's target column holds the level of row r: the target of step t is the level
        // of the step after it, the same level but at segment ends.
        (0..2_001)
            .map(|r| {
                if r % 500 == 0 {
                    level = 2.0 * rng.uniform();
                }
                vec![level + rng.uniform() * 1.7, level]
            })
            .collect::<Vec<_>>()
    };
    let spec = StreamSpec {
        window: 2,
        streams: 8,
        inputs: vec![0],
        targets: vec![1],
    };
    let make = |seeds: &[u64]| {
        let named: Vec<_> = seeds
            .iter()
            .map(|&s| (format!("s{s}"), rows_of(s)))
            .collect();
        stream_windows(&named, &spec).unwrap()
    };
    let (train_set, valid_set) = (make(&[1, 2, 3, 4]), make(&[5]));
    let recurrent = RecurrentConfig::new(1, 24).with_cell(CellKind::Gru);
    let config = TrainingConfig::for_dataset(&train_set, recurrent)
        .with_num_epochs(12)
        .with_learning_rate(0.01)
        .with_early_stopping_patience(None);
    assert_eq!(config.batch_size, 8, "one window of each stream per batch");
    let options = TrainOptions {
        resume: false,
        progress: Progress::Silent,
    };
    let device = Device::flex();
    let fit = |config: &TrainingConfig, train_set: &SequenceDataset, valid: &SequenceDataset| {
        let dir = tempfile::tempdir().unwrap();
        let run = train(
            config,
            train_set,
            valid,
            &RunDir::new(dir.path()),
            &device,
            options,
        );
        run.unwrap().history.last().unwrap().valid_loss
    };
    let stateful = fit(&config, &train_set, &valid_set);
    // The same windows as independent samples (shuffled, each from zeros).
    let all = |d: &SequenceDataset| d.subset(&(0..d.len()).collect::<Vec<_>>()).unwrap();
    let stateless = fit(&config, &all(&train_set), &all(&valid_set));
    eprintln!("validation loss: stateful {stateful:.4}, stateless {stateless:.4}");
    // Targets are z-scored: 1.0 is the loss of predicting their mean.
    assert!(
        stateful < 0.5 * stateless,
        "stateful {stateful}, stateless {stateless}"
    );

    // Stateful data and a model or batch size it cannot take are refused clearly.
    let dir = tempfile::tempdir().unwrap();
    let refuse = |config: TrainingConfig| {
        let run = train(
            &config,
            &train_set,
            &valid_set,
            &RunDir::new(dir.path()),
            &device,
            options,
        );
        run.unwrap_err().to_string()
    };
    let message = refuse(config.clone().with_batch_size(4));
    assert!(message.contains("set batch_size to 8"), "{message}");
    let mut bidirectional = config.clone();
    bidirectional.model.recurrent = bidirectional.model.recurrent.with_bidirectional(true);
    let message = refuse(bidirectional);
    assert!(message.contains("bidirectional"), "{message}");
}
