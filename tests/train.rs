//! End-to-end training: learning on generated vitals, resume, artifacts, every backend, and the
//! command line's errors.

#[path = "train/bad_inputs.rs"]
mod bad_inputs;
#[path = "train/command_line.rs"]
mod command_line;
#[path = "../crates/model/tests/common/mod.rs"]
mod common;
#[path = "train/crash.rs"]
mod crash;
#[path = "train/fuzz_corpus.rs"]
mod fuzz_corpus;
#[path = "train/multi_device.rs"]
mod multi_device;
#[path = "train/remote.rs"]
mod remote;
#[path = "train/soak.rs"]
mod soak;
#[path = "train/stateful.rs"]
mod stateful;

/// The allocator the examples and the command line install: the soak measures it.
#[global_allocator]
static ALLOCATOR: burn_rnn::train::CachingAllocator = burn_rnn::train::CachingAllocator;

use std::path::Path;

use burn::tensor::Device;
use burn_rnn::data::split::random_indices;
use burn_rnn::data::synth::{HealthcareConfig, PatientCohort};
use burn_rnn::data::{SequenceDataset, SplitFractions};
use burn_rnn::model::{CellKind, RecurrentConfig, SequenceModelConfig};
use burn_rnn::train::{
    ClipScope, DataSchema, LrSchedule, Objective, Prediction, Predictor, Progress,
    RegressionReport, RunDir, TrainError, TrainOptions, TrainedRun, TrainingConfig,
    last_step_forecast, train,
};

const QUIET: TrainOptions = TrainOptions {
    resume: false,
    progress: Progress::Silent,
};

/// The cohort of docs/design.md (100 patients × 24 h × 3 vitals) as the dataset `task` makes of it,
/// split 80/20 by patient.
fn cohort(
    task: fn(&PatientCohort) -> burn_rnn::data::Result<SequenceDataset>,
) -> (SequenceDataset, SequenceDataset) {
    let data = task(&HealthcareConfig::default().generate().unwrap()).unwrap();
    let split = random_indices(data.len(), SplitFractions::train_valid(0.8), 7).unwrap();
    (
        data.subset(&split.train).unwrap(),
        data.subset(&split.valid).unwrap(),
    )
}

/// Many-to-one forecasting (next hour after hour 24).
fn vitals() -> (SequenceDataset, SequenceDataset) {
    cohort(PatientCohort::forecasting_dataset)
}

/// Trains quietly on flex, writing the run to `dir`.
fn train_on_flex(
    config: &TrainingConfig,
    train_set: &SequenceDataset,
    valid_set: &SequenceDataset,
    dir: &Path,
) -> burn_rnn::train::Result<TrainedRun> {
    train(
        config,
        train_set,
        valid_set,
        &RunDir::new(dir),
        &Device::flex(),
        QUIET,
    )
}

fn forecast_config(epochs: usize) -> TrainingConfig {
    TrainingConfig::new(
        SequenceModelConfig::new(RecurrentConfig::new(3, 16).with_cell(CellKind::Gru), 3),
        Objective::Regression,
    )
    .with_num_epochs(epochs)
    .with_learning_rate(1e-2)
}

fn values_of(predictions: Vec<Prediction>) -> Vec<Vec<f32>> {
    predictions
        .into_iter()
        .map(|p| match p {
            Prediction::Values(v) => v,
            other => panic!("expected values, got {other:?}"),
        })
        .collect()
}

/// MAE per vital of next-hour forecasts at every step, and of the naive "same as now".
fn mae_vs_naive(predictions: &[Vec<f32>], valid: &SequenceDataset) -> (Vec<f64>, Vec<f64>) {
    let model = RegressionReport::of(predictions, valid).unwrap();
    let naive = RegressionReport::of(&last_step_forecast(valid).unwrap(), valid).unwrap();
    (model.mae, naive.mae)
}

/// Trains briefly (many-to-many: a next-hour forecast after every hour) on `device` and checks
/// that it learned: far better than the untrained model, and better than the naive forecast on
/// every vital.
fn learns_on(device: &Device, dir: &Path) {
    let (train_set, valid_set) = cohort(PatientCohort::forecasting_per_step_dataset);
    let recurrent = RecurrentConfig::new(train_set.num_features(), 32).with_cell(CellKind::Gru);
    let config = TrainingConfig::for_dataset(&train_set, recurrent)
        // The healthcare example's settings.
        .with_num_epochs(80)
        .with_learning_rate(1e-2)
        .with_seed(42);
    let run = train(
        &config,
        &train_set,
        &valid_set,
        &RunDir::new(dir),
        device,
        QUIET,
    )
    .unwrap();
    let schema = DataSchema::of(&train_set);

    let untrained = Predictor::new(
        config.model.init(device).unwrap(),
        run.normalizer.clone(),
        schema.clone(),
        device,
    )
    .unwrap();
    let trained = Predictor::new(run.model, run.normalizer, schema, device).unwrap();
    let (untrained_mae, _) = mae_vs_naive(&untrained.predict_rows(&valid_set).unwrap(), &valid_set);
    let (mae, naive) = mae_vs_naive(&trained.predict_rows(&valid_set).unwrap(), &valid_set);
    eprintln!("MAE untrained {untrained_mae:?}, trained {mae:?}, naive {naive:?}");
    for j in 0..3 {
        assert!(
            mae[j] < 0.5 * untrained_mae[j],
            "vital {j}: trained MAE {} is not well below the untrained {}",
            mae[j],
            untrained_mae[j]
        );
        assert!(
            mae[j] < naive[j],
            "vital {j}: trained MAE {} does not beat the naive forecast's {}",
            mae[j],
            naive[j]
        );
    }
    let first = run.history.first().unwrap().valid_loss;
    let best = &run.history[run.best_epoch - 1];
    assert!(
        best.valid_loss < 0.5 * first,
        "validation loss did not fall well: {first} → {}",
        best.valid_loss
    );
    // The real-unit MAE logged during training is the MAE of the kept model's predictions.
    assert_eq!(best.valid_mae.len(), 3);
    for (j, (name, logged)) in best.valid_mae.iter().enumerate() {
        assert!(
            (logged - mae[j]).abs() < 1e-3 * mae[j],
            "{name}: logged MAE {logged}, predictions give {}",
            mae[j]
        );
    }
}

#[test]
fn training_learns_and_beats_the_naive_forecast_on_every_backend() {
    for (backend, device) in common::backends() {
        let dir = tempfile::tempdir().unwrap();
        eprintln!("training on {backend}");
        learns_on(&device, dir.path());
    }
}

#[test]
fn resume_continues_from_the_last_checkpoint() {
    let (train_set, valid_set) = vitals();
    let device = Device::flex();
    let dir = tempfile::tempdir().unwrap();
    let run_dir = RunDir::new(dir.path());

    // A run "interrupted" after 3 of 6 epochs, then resumed.
    let constant = |epochs| forecast_config(epochs).with_lr_schedule(LrSchedule::Constant);
    let first = train_on_flex(&constant(3), &train_set, &valid_set, dir.path()).unwrap();
    assert_eq!(first.history.len(), 3);
    let resumed = train(
        &constant(6),
        &train_set,
        &valid_set,
        &run_dir,
        &device,
        TrainOptions {
            resume: true,
            ..QUIET
        },
    )
    .unwrap();
    assert_eq!(resumed.history.len(), 6, "{:?}", resumed.history);
    assert_eq!(
        &resumed.history[..3],
        &first.history[..],
        "the first epochs are kept, not redone"
    );
    // Continuing (not restarting): epoch 4 starts from epoch 3's weights.
    assert!(
        resumed.history[3].train_loss < first.history[0].train_loss * 0.8,
        "epoch 4 ({}) looks like a fresh start (epoch 1: {})",
        resumed.history[3].train_loss,
        first.history[0].train_loss
    );
    // A fresh (non-resumed) run in the same directory starts over.
    let fresh = train_on_flex(&forecast_config(2), &train_set, &valid_set, dir.path()).unwrap();
    assert_eq!(fresh.history.len(), 2);
}

#[test]
fn saved_artifacts_reproduce_the_predictions() {
    let (train_set, valid_set) = vitals();
    let device = Device::flex();
    let dir = tempfile::tempdir().unwrap();
    let run = train_on_flex(&forecast_config(3), &train_set, &valid_set, dir.path()).unwrap();
    let in_memory = run.predictor(&device).unwrap();
    let loaded = Predictor::load(dir.path(), &device).unwrap();
    let predictions = loaded.predict_dataset(&valid_set).unwrap();
    assert_eq!(in_memory.predict_dataset(&valid_set).unwrap(), predictions);

    // After every step, the many-to-one model's forecast; the last one is its prediction.
    let sample = &valid_set.samples()[0];
    let steps: Vec<Vec<f32>> = sample.values.chunks(3).map(<[f32]>::to_vec).collect();
    let every_step = loaded.predict_every_step(&steps).unwrap();
    assert_eq!(every_step.len(), sample.length);
    let Prediction::Values(last) = &predictions[0] else {
        panic!("expected values");
    };
    for (a, b) in every_step.last().unwrap().iter().zip(last) {
        assert!((a - b).abs() < 1e-4, "{a} vs {b}");
    }
    let metrics = std::fs::read_to_string(dir.path().join("metrics.csv")).unwrap();
    assert_eq!(metrics.lines().count(), 4, "{metrics}");
    for file in [
        "training.json",
        "schema.json",
        "normalizer.json",
        "model.bpk",
        "loss.png",
    ] {
        assert!(dir.path().join(file).is_file(), "{file} missing");
    }
}

#[test]
fn both_clipping_scopes_train() {
    let (train_set, valid_set) = vitals();
    for scope in [ClipScope::Global, ClipScope::PerTensor] {
        let config = forecast_config(3).with_grad_clip_scope(Some(scope));
        let dir = tempfile::tempdir().unwrap();
        let run = train_on_flex(&config, &train_set, &valid_set, dir.path()).unwrap();
        let (first, last) = (&run.history[0], &run.history[2]);
        assert!(
            last.train_loss < first.train_loss,
            "{scope:?}: {:?}",
            run.history
        );
    }
}

#[test]
fn classification_reports_accuracy() {
    let (train_set, valid_set) = cohort(PatientCohort::deterioration_dataset);
    let config = TrainingConfig::new(
        SequenceModelConfig::new(RecurrentConfig::new(3, 16).with_cell(CellKind::Gru), 2),
        Objective::Classification,
    )
    .with_num_epochs(20)
    .with_learning_rate(1e-2);
    let dir = tempfile::tempdir().unwrap();
    let run = train_on_flex(&config, &train_set, &valid_set, dir.path()).unwrap();
    let best = &run.history[run.best_epoch - 1];
    let accuracy = best
        .valid_accuracy
        .expect("classification reports accuracy");
    assert!(accuracy > 80.0, "validation accuracy {accuracy} %");
}

#[test]
fn divergence_stops_with_a_clear_error_and_keeps_the_last_good_checkpoint() {
    let (train_set, valid_set) = vitals();
    // A relu Elman network whose recurrent weights are near the edge (h grows like their spectral
    // radius to the power t), no clipping and a large learning rate: it trains for ten epochs,
    // then Adam's steps push the weights over the edge and a gradient overflows f32.
    let config = TrainingConfig::new(
        SequenceModelConfig::new(
            RecurrentConfig::new(3, 16)
                .with_cell(CellKind::Elman(burn_rnn::model::ElmanActivation::Relu))
                .with_initializer(Some(burn::nn::Initializer::Uniform {
                    min: -1.19,
                    max: 1.19,
                })),
            3,
        ),
        Objective::Regression,
    )
    .with_num_epochs(30)
    .with_learning_rate(0.5)
    .with_lr_schedule(LrSchedule::Constant)
    .with_grad_clip_norm(None)
    .with_early_stopping_patience(None);
    let dir = tempfile::tempdir().unwrap();
    let error = train_on_flex(&config, &train_set, &valid_set, dir.path()).unwrap_err();
    let TrainError::Diverged {
        epoch,
        batch,
        what,
        value,
        last_good,
        ..
    } = &error
    else {
        panic!("expected a divergence error, got {error}");
    };
    // Stopped at the batch where it happened, naming it and the quantity.
    let message = error.to_string();
    eprintln!("{message}");
    assert!(!value.is_finite(), "{message}");
    assert!(*batch >= 1, "{message}");
    for words in [
        format!("epoch {epoch}, batch {batch}"),
        format!("the {what} became"),
        "smaller learning rate".into(),
    ] {
        assert!(message.contains(&words), "`{words}` not in: {message}");
    }
    assert!(
        what == "training loss" || what.starts_with("gradient norm of `model."),
        "{what}"
    );
    if let Some(good) = last_good {
        assert_eq!(*good, epoch - 1);
        // The last good checkpoint is intact: a resumed run starts from it (and diverges
        // again at the same batch, deterministically).
        let again = train(
            &config,
            &train_set,
            &valid_set,
            &RunDir::new(dir.path()),
            &Device::flex(),
            TrainOptions {
                resume: true,
                ..QUIET
            },
        )
        .unwrap_err();
        assert_eq!(again.to_string(), message);
    }
    let checkpoints: Vec<_> = std::fs::read_dir(dir.path().join("checkpoints/checkpoint"))
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().into_string().unwrap())
                .collect()
        })
        .unwrap_or_default();
    for name in &checkpoints {
        let number: usize = name
            .trim_start_matches(|c: char| !c.is_ascii_digit())
            .trim_end_matches(".bpk")
            .trim_end_matches(".json")
            .parse()
            .unwrap();
        assert!(
            number < *epoch,
            "checkpoint {name} saved at or after the diverged epoch {epoch}"
        );
    }
}

#[test]
fn mismatched_data_and_config_are_rejected() {
    let (train_set, valid_set) = vitals();
    let dir = tempfile::tempdir().unwrap();
    for (outputs, objective, needle) in [
        (2, Objective::Regression, "d_output = 2"),
        (3, Objective::Classification, "objective"),
    ] {
        let config = TrainingConfig::new(
            SequenceModelConfig::new(RecurrentConfig::new(3, 8), outputs),
            objective,
        );
        let run_dir = RunDir::new(dir.path());
        let error = train(
            &config,
            &train_set,
            &valid_set,
            &run_dir,
            &Device::flex(),
            QUIET,
        )
        .unwrap_err();
        assert!(error.to_string().contains(needle), "{error}");
    }
}
