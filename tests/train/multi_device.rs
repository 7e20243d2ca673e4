//! Data-parallel training on several devices (burn-train's multi-device strategy): one step on
//! two devices with a batch of B each equals one step on one device with the combined batch of
//! 2B, and several epochs reach the validation loss one device reaches.

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{Device, Tensor};
use burn_rnn::data::synth::SineConfig;
use burn_rnn::data::{SequenceDataset, SplitFractions, StreamSpec, split_random, stream_windows};
use burn_rnn::model::{CellKind, RecurrentConfig, SequenceModel, SequenceModelConfig};
use burn_rnn::train::{
    LrSchedule, Objective, RunDir, TrainError, TrainedRun, TrainingConfig, train_on_devices,
};

use crate::QUIET;

/// Every parameter tensor's values, in visiting order, with its path.
fn parameters(model: &SequenceModel) -> Vec<(String, Vec<f32>)> {
    struct Collect {
        path: Vec<String>,
        out: Vec<(String, Vec<f32>)>,
    }
    impl ModuleVisitor for Collect {
        fn enter_module(&mut self, name: &str, _container_type: &str) {
            self.path.push(name.to_string());
        }
        fn exit_module(&mut self, _name: &str, _container_type: &str) {
            self.path.pop();
        }
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let values = param.val().into_data().try_to_vec::<f32>().unwrap();
            self.out.push((self.path.join("."), values));
        }
    }
    let mut collect = Collect {
        path: Vec::new(),
        out: Vec::new(),
    };
    model.visit(&mut collect);
    collect.out
}

/// The largest absolute difference between two models' parameters (same architecture).
fn max_difference(a: &SequenceModel, b: &SequenceModel) -> f32 {
    let (a, b) = (parameters(a), parameters(b));
    assert_eq!(a.len(), b.len());
    assert!(!a.is_empty());
    a.iter()
        .zip(&b)
        .map(|((name_a, a), (name_b, b))| {
            assert_eq!(name_a, name_b);
            assert_eq!(a.len(), b.len(), "{name_a}");
            a.iter()
                .zip(b)
                .map(|(x, y)| (x - y).abs())
                .fold(0.0f32, f32::max)
        })
        .fold(0.0, f32::max)
}

/// `samples` noisy sine waves of 12 steps, next-value targets.
fn waves(samples: usize) -> SequenceDataset {
    SineConfig {
        samples,
        steps: 12,
        ..SineConfig::default()
    }
    .generate()
    .unwrap()
    .next_value_dataset()
    .unwrap()
}

/// A small Elman model, constant learning rate, no clipping, no early stopping.
fn config(epochs: usize, batch_size: usize) -> TrainingConfig {
    TrainingConfig::new(
        SequenceModelConfig::new(RecurrentConfig::new(1, 8), 1),
        Objective::Regression,
    )
    .with_num_epochs(epochs)
    .with_batch_size(batch_size)
    .with_learning_rate(1e-2)
    .with_lr_schedule(LrSchedule::Constant)
    .with_grad_clip_norm(None)
    .with_early_stopping_patience(None)
    .with_seed(5)
}

fn run(
    config: &TrainingConfig,
    train_set: &SequenceDataset,
    valid_set: &SequenceDataset,
    devices: &[Device],
) -> TrainedRun {
    let dir = tempfile::tempdir().unwrap();
    train_on_devices(
        config,
        train_set,
        valid_set,
        &RunDir::new(dir.path()),
        devices,
        QUIET,
    )
    .unwrap()
}

const B: usize = 8;

/// Held by each test here for its runs: burn-flex keeps one random generator for the whole
/// process (`static SEED` in its backend.rs), so runs seeded at the same moment on two test
/// threads would draw each other's initial weights.
static FLEX_SEED: std::sync::Mutex<()> = std::sync::Mutex::new(());

pub(crate) fn flex_seed() -> std::sync::MutexGuard<'static, ()> {
    FLEX_SEED.lock().unwrap_or_else(|e| e.into_inner())
}

/// An epoch of exactly 2B samples is one optimiser step either way: two flex devices each take
/// B of the epoch's (shuffled) order and the optimiser sees the mean of their gradients; one
/// device takes all 2B in one batch. Three such epochs (three Adam steps: Adam's first step is
/// about `lr × sign(g)` whatever the gradient's size, its later ones depend on the gradients'
/// values) give the same validation loss each epoch and the same kept weights within float
/// rounding; one device with batches of B (other steps over the same samples) does not, which
/// shows the comparison can fail.
#[test]
fn data_parallel_steps_equal_steps_with_the_combined_batch() {
    let _seed = flex_seed();
    // The recurrence runs on each device's worker thread, forward and backward: Elman (the
    // default), and the gated cells with two layers.
    for cell in [CellKind::default(), CellKind::Gru, CellKind::Lstm] {
        steps_equal_with(cell);
    }
}

fn steps_equal_with(cell: CellKind) {
    let layers = if matches!(cell, CellKind::Elman(_)) {
        1
    } else {
        2
    };
    let config = |epochs, batch_size| {
        let mut config = config(epochs, batch_size);
        config.model.recurrent = RecurrentConfig::new(1, 8)
            .with_cell(cell)
            .with_num_layers(layers);
        config
    };
    let data = waves(2 * B);
    let valid = waves(4);
    let flex = Device::flex();
    let epochs = 3;
    let two = run(
        &config(epochs, B),
        &data,
        &valid,
        &[flex.clone(), flex.clone()],
    );
    let one = run(
        &config(epochs, 2 * B),
        &data,
        &valid,
        std::slice::from_ref(&flex),
    );
    let split = run(
        &config(epochs, B),
        &data,
        &valid,
        std::slice::from_ref(&flex),
    );
    // Training moved the weights (Adam: at most the learning rate per step).
    let init = {
        flex.seed(5);
        config(1, B).model.init(&flex).unwrap()
    };
    let moved = max_difference(&one.model, &init);
    let same = max_difference(&two.model, &one.model);
    let other_split = max_difference(&split.model, &one.model);
    eprintln!(
        "{cell:?}, {epochs} steps: moved {moved:e}, 2 devices vs combined batch {same:e}, \
         batches of B on one device vs combined batch {other_split:e}, kept epochs {} and {}",
        two.best_epoch, one.best_epoch
    );
    assert!(moved > 5e-3, "the step changed the weights: {moved}");
    assert!(same <= 1e-5, "2 × B on two devices vs 2B on one: {same}");
    assert!(
        other_split > 1e-3,
        "another split of the same samples must be told apart: {other_split}"
    );
    assert_eq!(two.best_epoch, one.best_epoch);
    assert_eq!(two.history.len(), epochs);
    for (e2, e1) in two.history.iter().zip(&one.history) {
        let (l2, l1) = (e2.valid_loss, e1.valid_loss);
        assert!((l2 - l1).abs() <= 1e-5 * l1.abs().max(1.0), "{l2} vs {l1}");
        let (t2, t1) = (e2.train_loss, e1.train_loss);
        assert!((t2 - t1).abs() <= 1e-5 * t1.abs().max(1.0), "{t2} vs {t1}");
    }
}

/// Forty epochs on two devices with batches of B reach the (lowest) validation loss of one
/// device with batches of 2B within 10 % (the devices' shares of each epoch are contiguous parts of its
/// order, so the combined batches are other groupings of the same samples: the runs agree in
/// what they reach, not step by step), and both learn: the loss falls well below the first
/// epoch's.
#[test]
fn epochs_on_two_devices_converge_like_one() {
    let _seed = flex_seed();
    let data = waves(96);
    let split = split_random(&data, SplitFractions::train_valid(0.75), 3).unwrap();
    let flex = Device::flex();
    let epochs = 40;
    let two = run(
        &config(epochs, B),
        &split.train,
        &split.valid,
        &[flex.clone(), flex.clone()],
    );
    let one = run(
        &config(epochs, 2 * B),
        &split.train,
        &split.valid,
        std::slice::from_ref(&flex),
    );
    // The kept epoch's: with a constant learning rate the loss wanders by ±10 % from epoch to
    // epoch near the end, so the last epoch's says less than the lowest.
    let last = |r: &TrainedRun| r.history[r.best_epoch - 1].valid_loss;
    let first = |r: &TrainedRun| r.history[0].valid_loss;
    let (l2, l1) = (last(&two), last(&one));
    eprintln!(
        "{epochs} epochs: validation loss 2 devices {:.5} → lowest {l2:.5}, 1 device {:.5} → lowest {l1:.5}",
        first(&two),
        first(&one)
    );
    let curve = |r: &TrainedRun| {
        r.history
            .iter()
            .map(|e| format!("{:.4}", e.valid_loss))
            .collect::<Vec<_>>()
            .join(" ")
    };
    eprintln!("2 devices: {}\n1 device:  {}", curve(&two), curve(&one));
    assert_eq!(two.history.len(), epochs);
    // The tolerance is far below what training changed: the loss fell more than tenfold.
    assert!(l1 < 0.1 * first(&one), "one device learned: {l1}");
    assert!(l2 < 0.1 * first(&two), "two devices learned: {l2}");
    assert!(
        (l2 - l1).abs() <= 0.1 * l1,
        "2 devices {l2} vs 1 device {l1}"
    );
}

/// Stateful data cannot be split across devices, and a device list cannot be empty.
#[test]
fn multi_device_errors_are_clear() {
    let data = waves(8);
    let dir = tempfile::tempdir().unwrap();
    let none = train_on_devices(
        &config(1, B),
        &data,
        &data,
        &RunDir::new(dir.path()),
        &[],
        QUIET,
    );
    assert!(
        matches!(&none, Err(TrainError::InvalidConfig(m)) if m.contains("at least one device")),
        "{none:?}"
    );

    let rows = |n: usize| -> Vec<Vec<f32>> {
        (0..n)
            .map(|i| vec![i as f32, 1.0, (i % 3) as f32])
            .collect()
    };
    let series = [("a".to_string(), rows(7)), ("b".to_string(), rows(7))];
    let spec = StreamSpec {
        window: 3,
        streams: 2,
        inputs: vec![0, 1],
        targets: vec![2],
    };
    let streams = stream_windows(&series, &spec).unwrap();
    let stateful =
        TrainingConfig::for_dataset(&streams, RecurrentConfig::new(2, 4)).with_num_epochs(1);
    let flex = Device::flex();
    let refused = train_on_devices(
        &stateful,
        &streams,
        &streams,
        &RunDir::new(dir.path()),
        &[flex.clone(), flex],
        QUIET,
    );
    assert!(
        matches!(&refused, Err(TrainError::InvalidConfig(m)) if m.contains("streams")),
        "{refused:?}"
    );
}

/// A two-device run stopped after 3 of 6 epochs and resumed ends where an uninterrupted
/// two-device run does (checkpoints and resume go through burn's multi-device strategy too).
#[test]
fn a_resumed_two_device_run_ends_as_an_uninterrupted_one() {
    let _seed = flex_seed();
    let data = waves(48);
    let split = split_random(&data, SplitFractions::train_valid(0.75), 3).unwrap();
    let flex = Device::flex();
    let devices = [flex.clone(), flex];
    let whole = run(&config(6, B), &split.train, &split.valid, &devices);
    let dir = tempfile::tempdir().unwrap();
    let run_dir = RunDir::new(dir.path());
    let first = train_on_devices(
        &config(3, B),
        &split.train,
        &split.valid,
        &run_dir,
        &devices,
        QUIET,
    )
    .unwrap();
    assert_eq!(first.history.len(), 3);
    let resumed = train_on_devices(
        &config(6, B),
        &split.train,
        &split.valid,
        &run_dir,
        &devices,
        burn_rnn::train::TrainOptions {
            resume: true,
            ..QUIET
        },
    )
    .unwrap();
    assert_eq!(resumed.resumed_from, Some(3));
    assert_eq!(resumed.history.len(), 6);
    for (r, w) in resumed.history.iter().zip(&whole.history) {
        let (a, b) = (r.valid_loss, w.valid_loss);
        assert!((a - b).abs() <= 1e-6 * b.abs().max(1.0), "{a} vs {b}");
    }
    assert_eq!(resumed.best_epoch, whole.best_epoch);
    let difference = max_difference(&resumed.model, &whole.model);
    eprintln!("resumed vs uninterrupted on 2 devices: weights differ by {difference:e}");
    assert!(difference <= 1e-6, "{difference}");
}
