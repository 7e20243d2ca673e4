//! Bad input on every surface, as a table: configs (zero sizes, NaN rates, contradictory
//! options, resuming a run with other settings or data), `forward` (wrong feature count, lengths
//! longer than T or zero, a lengths list of the wrong size, empty batches, T = 0), predictions,
//! CSV files, weight files (corrupt, truncated, mismatched, a safetensors header claiming
//! terabytes), normaliser and run-directory JSON, in-memory datasets and the command line. Each
//! must give an error naming the problem — never a panic, never a silent acceptance — and leave
//! the files it read or was pointed at as they were.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use burn::tensor::{Device, Tensor};
use burn_rnn::data::csv::{
    CsvTarget, LongCsvLayout, WideCsvLayout, WideFeature, read_long_csv, read_long_sequences,
    read_wide_csv,
};
use burn_rnn::data::synth::SineConfig;
use burn_rnn::data::{
    Normalizer, SequenceDataset, SequenceSample, SplitFractions, Target, TargetKind, from_nested,
    split_random,
};
use burn_rnn::model::{
    CellKind, ElmanActivation, RecurrentConfig, SequenceModel, SequenceModelConfig,
};
use burn_rnn::train::{
    LrSchedule, Objective, Predictor, Progress, RunDir, TrainOptions, TrainingConfig, train,
};

/// One bad input: where it goes, what it is, and words its error must contain.
struct Case {
    surface: &'static str,
    input: String,
    needles: Vec<&'static str>,
    run: Box<dyn Fn() -> Result<(), String>>,
}

fn case(
    surface: &'static str,
    input: impl Into<String>,
    needles: &[&'static str],
    run: impl Fn() -> Result<(), String> + 'static,
) -> Case {
    Case {
        surface,
        input: input.into(),
        needles: needles.to_vec(),
        run: Box::new(run),
    }
}

/// `Ok` (accepted) becomes the failure "accepted"; errors become their message.
fn refused<T, E: std::fmt::Display>(result: Result<T, E>) -> Result<(), String> {
    match result {
        Ok(_) => Ok(()),
        Err(e) => Err(e.to_string()),
    }
}

/// Every file under `dir` with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.insert(path.clone(), std::fs::read(&path).unwrap());
            }
        }
    }
    files
}

fn copy_run(from: &Path, to: &Path) -> PathBuf {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
    to.to_path_buf()
}

/// 32 sine waves of 8 steps (one feature, next-value regression), split 3:1.
fn waves() -> (SequenceDataset, SequenceDataset) {
    let config = SineConfig {
        samples: 32,
        steps: 8,
        ..SineConfig::default()
    };
    let data = config.generate().unwrap().next_value_dataset().unwrap();
    let split = split_random(&data, SplitFractions::train_valid(0.75), 3).unwrap();
    (split.train, split.valid)
}

fn config() -> TrainingConfig {
    TrainingConfig::new(
        SequenceModelConfig::new(RecurrentConfig::new(1, 6).with_cell(CellKind::Gru), 1),
        Objective::Regression,
    )
    .with_num_epochs(2)
    .with_batch_size(8)
}

const QUIET: TrainOptions = TrainOptions {
    resume: false,
    progress: Progress::Silent,
};

fn write(dir: &Path, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// A safetensors file: an 8-byte little-endian header length, the JSON header, the data.
fn safetensors(header: &str, data: &[u8]) -> Vec<u8> {
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(data);
    bytes
}

/// Runs the `burn-rnn` command line; `Err(stderr)` when it fails.
fn cli(args: &[&str]) -> Result<(), String> {
    let output = Command::new(env!("CARGO_BIN_EXE_burn-rnn"))
        .args(args)
        .output()
        .unwrap();
    if output.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

#[test]
fn bad_input_on_every_surface_is_refused_clearly_without_damage() {
    let device = Device::flex();
    let (train_set, valid_set) = waves();
    let (train_set, valid_set) = (Arc::new(train_set), Arc::new(valid_set));
    let scratch = tempfile::tempdir().unwrap();
    let scratch = scratch.path().to_path_buf();
    let good_run = scratch.join("good-run");
    train(
        &config(),
        &train_set,
        &valid_set,
        &RunDir::new(&good_run),
        &device,
        QUIET,
    )
    .unwrap();
    let good_files = snapshot(&good_run);
    let files = scratch.join("files");
    std::fs::create_dir_all(&files).unwrap();

    let mut cases: Vec<Case> = Vec::new();

    // --- Training configs: each refused before anything is written to the run directory. ---
    let bad_configs: Vec<(&str, TrainingConfig, &'static str)> = vec![
        ("num_epochs = 0", config().with_num_epochs(0), "num_epochs"),
        ("batch_size = 0", config().with_batch_size(0), "batch_size"),
        (
            "learning_rate = 0",
            config().with_learning_rate(0.0),
            "learning_rate",
        ),
        (
            "learning_rate = -1",
            config().with_learning_rate(-1.0),
            "learning_rate",
        ),
        (
            "learning_rate = NaN",
            config().with_learning_rate(f64::NAN),
            "learning_rate",
        ),
        (
            "learning_rate = inf",
            config().with_learning_rate(f64::INFINITY),
            "learning_rate",
        ),
        (
            "learning_rate = 2",
            config().with_learning_rate(2.0),
            "learning_rate",
        ),
        (
            "cosine final_fraction = NaN",
            config().with_lr_schedule(LrSchedule::Cosine {
                final_fraction: f64::NAN,
            }),
            "final_fraction",
        ),
        (
            "cosine final_fraction = -0.5",
            config().with_lr_schedule(LrSchedule::Cosine {
                final_fraction: -0.5,
            }),
            "final_fraction",
        ),
        (
            "cosine final_fraction = 1.5",
            config().with_lr_schedule(LrSchedule::Cosine {
                final_fraction: 1.5,
            }),
            "final_fraction",
        ),
        (
            "grad_clip_norm = 0",
            config().with_grad_clip_norm(Some(0.0)),
            "grad_clip_norm",
        ),
        (
            "grad_clip_norm = -1",
            config().with_grad_clip_norm(Some(-1.0)),
            "grad_clip_norm",
        ),
        (
            "grad_clip_norm = NaN",
            config().with_grad_clip_norm(Some(f32::NAN)),
            "grad_clip_norm",
        ),
        (
            "grad_clip_norm = inf",
            config().with_grad_clip_norm(Some(f32::INFINITY)),
            "grad_clip_norm",
        ),
        (
            "early_stopping_patience = 0",
            config().with_early_stopping_patience(Some(0)),
            "early_stopping_patience",
        ),
    ];
    let model_configs: Vec<(&str, SequenceModelConfig, &'static str)> = vec![
        (
            "d_output = 0",
            SequenceModelConfig::new(RecurrentConfig::new(1, 6), 0),
            "output",
        ),
        (
            "d_hidden = 0",
            SequenceModelConfig::new(RecurrentConfig::new(1, 0), 1),
            "d_hidden",
        ),
        (
            "d_input = 0",
            SequenceModelConfig::new(RecurrentConfig::new(0, 6), 1),
            "d_input",
        ),
        (
            "num_layers = 0",
            SequenceModelConfig::new(RecurrentConfig::new(1, 6).with_num_layers(0), 1),
            "num_layers",
        ),
        (
            "dropout = NaN",
            SequenceModelConfig::new(RecurrentConfig::new(1, 6).with_dropout(f64::NAN), 1),
            "dropout",
        ),
        (
            "dropout = 1",
            SequenceModelConfig::new(RecurrentConfig::new(1, 6).with_dropout(1.0), 1),
            "dropout",
        ),
        (
            "dropout = -0.1",
            SequenceModelConfig::new(RecurrentConfig::new(1, 6).with_dropout(-0.1), 1),
            "dropout",
        ),
        (
            "d_input = 4 for data with 1 feature",
            SequenceModelConfig::new(RecurrentConfig::new(4, 6), 1),
            "d_input = 4",
        ),
        (
            "d_output = 2 for data with 1 target",
            SequenceModelConfig::new(RecurrentConfig::new(1, 6), 2),
            "d_output = 2",
        ),
    ];
    let mut all_configs: Vec<(String, TrainingConfig, &'static str)> = bad_configs
        .into_iter()
        .map(|(name, c, needle)| (name.to_string(), c, needle))
        .collect();
    for (name, model, needle) in model_configs {
        let mut c = config();
        c.model = model;
        all_configs.push((name.to_string(), c, needle));
    }
    let mut classification = config();
    classification.objective = Objective::Classification;
    all_configs.push((
        "a classification objective for regression data".into(),
        classification,
        "objective",
    ));
    for (name, bad, needle) in all_configs {
        let (train_set, valid_set) = (train_set.clone(), valid_set.clone());
        let target = copy_run(&good_run, &scratch.join(format!("config {name}")));
        cases.push(case("training config", name, &[needle], move || {
            let before = snapshot(&target);
            let result = train(
                &bad,
                &train_set,
                &valid_set,
                &RunDir::new(&target),
                &Device::flex(),
                QUIET,
            );
            assert!(snapshot(&target) == before, "the run directory was changed");
            refused(result)
        }));
    }

    // --- Resuming: nothing to resume, other settings, other data, every checkpoint damaged. ---
    let empty = scratch.join("empty-run");
    std::fs::create_dir_all(&empty).unwrap();
    let damaged = scratch.join("resume-all-damaged");
    copy_dir_all(&good_run, &damaged);
    for entry in std::fs::read_dir(damaged.join("checkpoints/checkpoint")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "bpk") {
            std::fs::write(&path, b"torn").unwrap();
        }
    }
    let (other_lr, other_data) = (scratch.join("resume-lr"), scratch.join("resume-data"));
    copy_dir_all(&good_run, &other_lr);
    copy_dir_all(&good_run, &other_data);
    let resumes: Vec<(&str, PathBuf, TrainingConfig, bool, Vec<&'static str>)> = vec![
        (
            "an empty run directory",
            empty,
            config(),
            false,
            vec!["nothing to resume", "no complete checkpoint"],
        ),
        (
            "a directory that does not exist",
            scratch.join("no-such-run"),
            config(),
            false,
            vec!["nothing to resume", "does not exist"],
        ),
        (
            "another learning rate than the checkpoint's",
            other_lr,
            config().with_learning_rate(0.1),
            false,
            vec!["cannot resume", "learning_rate"],
        ),
        (
            "other training data than the checkpoint's",
            other_data,
            config(),
            true,
            vec!["cannot resume", "data differ"],
        ),
        (
            "every checkpoint damaged",
            damaged,
            config(),
            false,
            vec!["nothing to resume", "damaged"],
        ),
    ];
    for (name, dir, resumed, swap, needles) in resumes {
        let (t, v) = (train_set.clone(), valid_set.clone());
        let (t, v) = if swap { (v, t) } else { (t, v) };
        let options = TrainOptions {
            resume: true,
            ..QUIET
        };
        cases.push(Case {
            surface: "resume",
            input: name.into(),
            needles,
            run: Box::new(move || {
                refused(train(
                    &resumed,
                    &t,
                    &v,
                    &RunDir::new(&dir),
                    &Device::flex(),
                    options,
                ))
            }),
        });
    }

    // --- forward: shapes and lengths. ---
    let model = Arc::new(config().model.init(&device).unwrap());
    let x = |b: usize, t: usize, d: usize| Tensor::<3>::zeros([b, t, d], &Device::flex());
    // (what, [B, T, D], lengths, words of the error)
    type Forward = (&'static str, [usize; 3], Option<Vec<usize>>, &'static str);
    let forward_cases: Vec<Forward> = vec![
        (
            "3 features for a model reading 1",
            [2, 5, 3],
            None,
            "[2, 5, 3]",
        ),
        (
            "lengths longer than T",
            [2, 5, 1],
            Some(vec![6, 5]),
            "length",
        ),
        ("a zero length", [2, 5, 1], Some(vec![0, 5]), "length"),
        (
            "3 lengths for a batch of 2",
            [2, 5, 1],
            Some(vec![5, 5, 5]),
            "length",
        ),
        (
            "1 length for a batch of 2",
            [2, 5, 1],
            Some(vec![5]),
            "length",
        ),
        ("an empty batch (B = 0)", [0, 5, 1], None, "batch"),
        ("no steps (T = 0)", [2, 0, 1], None, "time ≥ 1"),
        (
            "no steps (T = 0) with lengths",
            [2, 0, 1],
            Some(vec![0, 0]),
            "time ≥ 1",
        ),
    ];
    for (name, [b, t, d], lengths, needle) in forward_cases {
        let (m1, m2) = (model.clone(), model.clone());
        let l1 = lengths.clone();
        cases.push(case("forward_many_to_one", name, &[needle], move || {
            refused(m1.forward_many_to_one(x(b, t, d), l1.as_deref()))
        }));
        cases.push(case("forward_many_to_many", name, &[needle], move || {
            refused(m2.forward_many_to_many(x(b, t, d), lengths.as_deref()))
        }));
    }
    {
        let m = model.clone();
        cases.push(case(
            "step",
            "a [2, 3] step for a model reading 1 feature",
            &["input", "[2, 3]"],
            move || refused(m.step(Tensor::<2>::zeros([2, 3], &Device::flex()), None)),
        ));
        let recurrent = RecurrentConfig::new(1, 6).init(&device).unwrap();
        let wrong_state = recurrent.zero_state(3, &device);
        let r = Arc::new(recurrent);
        cases.push(case(
            "Recurrent::forward",
            "an initial state for 3 sequences with a batch of 2",
            &["state"],
            move || refused(r.forward(x(2, 4, 1), Some(wrong_state.clone()), None)),
        ));
    }

    // --- Predictions. ---
    let predictor = Arc::new(Predictor::load(&good_run, &device).unwrap());
    type Sequences = Vec<Vec<Vec<f32>>>;
    let predict_cases: Vec<(&str, Sequences, &'static str)> = vec![
        ("a sequence with no steps", vec![vec![]], "no steps"),
        (
            "a step with 2 features for 1",
            vec![vec![vec![0.1, 0.2]]],
            "feature",
        ),
        ("a step with no features", vec![vec![vec![]]], "feature"),
        (
            "ragged steps",
            vec![vec![vec![0.1], vec![0.1, 0.2]]],
            "feature",
        ),
        ("a NaN feature", vec![vec![vec![f32::NAN]]], "finite"),
        (
            "an infinite feature",
            vec![vec![vec![f32::INFINITY]]],
            "finite",
        ),
    ];
    for (name, sequences, needle) in predict_cases {
        let p = predictor.clone();
        cases.push(case("Predictor::predict", name, &[needle], move || {
            refused(p.predict(&sequences))
        }));
    }
    {
        let p = predictor.clone();
        cases.push(case(
            "Predictor::predict_every_step",
            "no steps",
            &["no steps"],
            move || refused(p.predict_every_step(&[])),
        ));
        let p = predictor.clone();
        cases.push(case(
            "Predictor::predict_every_step",
            "a step with 3 features",
            &["feature"],
            move || refused(p.predict_every_step(&[vec![0.1, 0.2, 0.3]])),
        ));
        let p = predictor.clone();
        let three = from_nested(
            &[vec![vec![0.0; 3]; 4]],
            vec![Target::Regression(vec![0.0])],
            TargetKind::Regression { outputs: 1 },
        )
        .unwrap();
        cases.push(case(
            "Predictor::predict_dataset",
            "a dataset with 3 features for 1",
            &["feature"],
            move || refused(p.predict_dataset(&three)),
        ));
    }

    // --- Weight files (Burnpack and PyTorch safetensors). ---
    let good_weights = std::fs::read(good_run.join("model.bpk")).unwrap();
    let mut flipped = good_weights.clone();
    flipped[4] ^= 0xff;
    let weight_files: Vec<(&str, Vec<u8>, &'static str)> = vec![
        ("an empty file", Vec::new(), "model.bpk"),
        ("text", b"not a model".to_vec(), "model.bpk"),
        (
            "the first half of a good file",
            good_weights[..good_weights.len() / 2].to_vec(),
            "model.bpk",
        ),
        (
            "all but the last byte",
            good_weights[..good_weights.len() - 1].to_vec(),
            "model.bpk",
        ),
        ("a flipped header byte", flipped, "model.bpk"),
        ("a safetensors file", safetensors("{}", &[]), "model.bpk"),
    ];
    for (name, bytes, needle) in weight_files {
        let path = write(&files, &format!("{name}.bpk"), &bytes);
        let target = files.join(format!("{name}.dir"));
        let target = copy_run(&good_run, &target);
        std::fs::copy(&path, target.join("model.bpk")).unwrap();
        cases.push(case("SequenceModel::load", name, &[], {
            let path = path.clone();
            move || refused(SequenceModel::load(&config().model, &path, &Device::flex()))
        }));
        cases.push(case(
            "Predictor::load (model.bpk)",
            name,
            &[needle],
            move || refused(Predictor::load(&target, &Device::flex())),
        ));
    }
    {
        let path = good_run.join("model.bpk");
        let other =
            SequenceModelConfig::new(RecurrentConfig::new(1, 8).with_cell(CellKind::Gru), 1);
        cases.push(case(
            "SequenceModel::load",
            "weights of a model with 6 hidden units into one of 8",
            &["shape", "different configuration"],
            move || refused(SequenceModel::load(&other, &path, &Device::flex())),
        ));
        let path = good_run.join("model.bpk");
        let lstm =
            SequenceModelConfig::new(RecurrentConfig::new(1, 6).with_cell(CellKind::Lstm), 1);
        cases.push(case(
            "SequenceModel::load",
            "GRU weights into an LSTM",
            &["different configuration"],
            move || refused(SequenceModel::load(&lstm, &path, &Device::flex())),
        ));
        let missing = files.join("no-such.bpk");
        cases.push(case(
            "SequenceModel::load",
            "a file that does not exist",
            &["no such"],
            move || {
                refused(SequenceModel::load(
                    &config().model,
                    &missing,
                    &Device::flex(),
                ))
            },
        ));
        let dir = files.clone();
        cases.push(case("SequenceModel::load", "a directory", &[], move || {
            refused(SequenceModel::load(&config().model, &dir, &Device::flex()))
        }));
    }
    let f32s = |n: usize| vec![0u8; 4 * n];
    let rnn_header = |shape_ih: &str, dtype: &str, end: usize| {
        format!(
            r#"{{"weight_ih_l0":{{"dtype":"{dtype}","shape":{shape_ih},"data_offsets":[0,{end}]}}}}"#
        )
    };
    let pytorch_files: Vec<(&str, Vec<u8>, &'static str)> = vec![
        ("an empty file", Vec::new(), "safetensors"),
        ("text", b"not safetensors at all".to_vec(), "safetensors"),
        (
            "a header length of 2^60 bytes",
            {
                let mut b = (1u64 << 60).to_le_bytes().to_vec();
                b.extend(b"{}");
                b
            },
            "safetensors",
        ),
        (
            "a tensor claiming 4 TB",
            safetensors(
                &rnn_header("[1000000,1000000]", "F32", 4_000_000_000_000),
                &f32s(18),
            ),
            "safetensors",
        ),
        (
            "data offsets past the end",
            safetensors(&rnn_header("[6,1]", "F32", 24), &f32s(3)),
            "safetensors",
        ),
        (
            "a header that is not JSON",
            safetensors("{not json", &[]),
            "safetensors",
        ),
        ("no tensors", safetensors("{}", &[]), "weight_ih_l0"),
        (
            "weight_ih_l0 of the wrong shape",
            safetensors(&rnn_header("[5,1]", "F32", 20), &f32s(5)),
            "weight_ih_l0",
        ),
        (
            "weight_ih_l0 as integers",
            safetensors(&rnn_header("[6,1]", "I32", 24), &f32s(6)),
            "weight_ih_l0",
        ),
        ("a Burnpack file", good_weights.clone(), "safetensors"),
    ];
    for (name, bytes, needle) in pytorch_files {
        let path = write(&files, &format!("{name}.safetensors"), &bytes);
        cases.push(case(
            "Recurrent::load_pytorch",
            name,
            &[needle],
            move || {
                let rnn = RecurrentConfig::new(1, 6)
                    .with_cell(CellKind::Elman(ElmanActivation::Tanh))
                    .init(&Device::flex())
                    .map_err(|e| e.to_string())?;
                refused(rnn.load_pytorch(&path))
            },
        ));
    }

    // --- Normaliser JSON. ---
    let good_normalizer = std::fs::read_to_string(good_run.join("normalizer.json")).unwrap();
    let scale = |value: &str| replace_array(&good_normalizer, "scale", value);
    let normalizer_json: Vec<(&str, String, &'static str)> = vec![
        ("an empty file", String::new(), "normalizer"),
        ("text", "scale everything by two".into(), "normalizer"),
        ("NaN written out", scale("[NaN]"), "normalizer"),
        ("a null scale", scale("null"), "scale"),
        ("a zero scale", scale("[0.0]"), "scale"),
        ("a negative scale", scale("[-1.0]"), "scale"),
        ("a scale of 1e400", scale("[1e400]"), "normalizer"),
        ("two scales for one offset", scale("[1.0, 2.0]"), "scale"),
        ("no scales", scale("[]"), "scale"),
        (
            "truncated",
            good_normalizer[..good_normalizer.len() / 2].into(),
            "normalizer",
        ),
        (
            "a string for the offsets",
            replace_array(&good_normalizer, "offset", "\"zero\""),
            "normalizer",
        ),
    ];
    for (name, json, needle) in normalizer_json {
        let j = json.clone();
        cases.push(case("Normalizer::from_json", name, &[], move || {
            refused(Normalizer::from_json(&j))
        }));
        let target = copy_run(&good_run, &files.join(format!("normalizer {name}")));
        std::fs::write(target.join("normalizer.json"), &json).unwrap();
        cases.push(case(
            "Predictor::load (normalizer.json)",
            name,
            &["normalizer.json", needle],
            move || refused(Predictor::load(&target, &Device::flex())),
        ));
    }

    // --- The run directory's other files. ---
    let good_training = std::fs::read_to_string(good_run.join("training.json")).unwrap();
    let good_schema = std::fs::read_to_string(good_run.join("schema.json")).unwrap();
    let run_files: Vec<(&str, &str, String, Vec<&'static str>)> = vec![
        (
            "training.json",
            "empty",
            String::new(),
            vec!["training.json"],
        ),
        (
            "training.json",
            "truncated",
            good_training[..good_training.len() / 2].into(),
            vec!["training.json"],
        ),
        (
            "training.json",
            "8 hidden units for weights of 6",
            good_training.replace("\"d_hidden\": 6", "\"d_hidden\": 8"),
            vec!["model.bpk", "different configuration"],
        ),
        (
            "training.json",
            "d_hidden = 0",
            good_training.replace("\"d_hidden\": 6", "\"d_hidden\": 0"),
            vec!["d_hidden"],
        ),
        (
            "training.json",
            "a negative d_input",
            good_training.replace("\"d_input\": 1", "\"d_input\": -1"),
            vec!["training.json"],
        ),
        ("schema.json", "empty", String::new(), vec!["schema.json"]),
        (
            "schema.json",
            "3 outputs for a model with 1",
            good_schema.replace("\"outputs\": 1", "\"outputs\": 3"),
            vec!["outputs"],
        ),
        (
            "schema.json",
            "an unknown target kind",
            good_schema.replace("Regression", "Guess"),
            vec!["schema.json"],
        ),
    ];
    for (file, name, text, needles) in run_files {
        let target = copy_run(&good_run, &files.join(format!("{file} {name}")));
        std::fs::write(target.join(file), &text).unwrap();
        cases.push(Case {
            surface: "Predictor::load (run directory)",
            input: format!("{file}: {name}"),
            needles,
            run: Box::new(move || refused(Predictor::load(&target, &Device::flex()))),
        });
    }
    for missing in [
        "training.json",
        "schema.json",
        "normalizer.json",
        "model.bpk",
    ] {
        let target = copy_run(&good_run, &files.join(format!("without {missing}")));
        std::fs::remove_file(target.join(missing)).unwrap();
        cases.push(case(
            "Predictor::load (run directory)",
            format!("no {missing}"),
            &[missing, "missing"],
            move || refused(Predictor::load(&target, &Device::flex())),
        ));
    }
    {
        let nothing = files.join("no-such-run");
        cases.push(case(
            "Predictor::load (run directory)",
            "a directory that does not exist",
            &["no such run directory"],
            move || refused(Predictor::load(&nothing, &Device::flex())),
        ));
    }

    // --- CSV files. ---
    let long_csvs: Vec<(&str, &str, &'static str)> = vec![
        ("an empty file", "", "line"),
        ("only a header", "id,time,x\n", "no"),
        ("no x column", "id,time,y\na,0,1\n", "x"),
        ("no id column", "time,x\n0,1\n", "id"),
        ("a word for a value", "id,time,x\na,0,one\n", "line 2"),
        ("NaN written out", "id,time,x\na,0,NaN\n", "line 2"),
        ("inf written out", "id,time,x\na,0,inf\n", "line 2"),
        ("a word for a time", "id,time,x\na,zero,1\n", "line 2"),
        ("the same time twice", "id,time,x\na,0,1\na,0,2\n", "line 3"),
        ("a short row", "id,time,x\na,0\n", "line 2"),
        ("a long row", "id,time,x\na,0,1,2\n", "line 2"),
        ("binary bytes", "id,time,x\na,0,\u{0}\u{1}\u{2}\n", "line 2"),
        (
            "an empty cell without a missing-value policy",
            "id,time,x\na,0,\n",
            "line 2",
        ),
    ];
    for (name, text, needle) in long_csvs {
        let path = write(&files, &format!("long {name}.csv"), text);
        cases.push(case("read_long_sequences", name, &[needle], move || {
            refused(read_long_sequences(&path, "id", "time", &["x"]))
        }));
    }
    {
        let path = write(&files, "long target.csv", "id,time,x,y\na,0,1,2\na,1,1,3\n");
        cases.push(case(
            "read_long_csv",
            "two different targets for one sample",
            &["y"],
            move || {
                let layout =
                    LongCsvLayout::new("id", "time", &["x"], CsvTarget::regression(&["y"]));
                refused(read_long_csv(&path, &layout))
            },
        ));
        let missing = files.join("no-such.csv");
        cases.push(case(
            "read_long_sequences",
            "a file that does not exist",
            &["no-such.csv"],
            move || refused(read_long_sequences(&missing, "id", "time", &["x"])),
        ));
    }
    let wide_csvs: Vec<(&str, &str, &'static str)> = vec![
        ("an empty file", "", "line"),
        ("a missing step column", "x_0,y\n1,2\n", "x_1"),
        ("a word for a value", "x_0,x_1,y\n1,one,2\n", "line 2"),
        ("NaN written out", "x_0,x_1,y\n1,NaN,2\n", "line 2"),
        ("a short row", "x_0,x_1,y\n1,2\n", "line 2"),
        ("no target column", "x_0,x_1\n1,2\n", "y"),
    ];
    for (name, text, needle) in wide_csvs {
        let path = write(&files, &format!("wide {name}.csv"), text);
        cases.push(case("read_wide_csv", name, &[needle], move || {
            let layout = WideCsvLayout::new(
                None,
                vec![WideFeature::numbered("x", 2)],
                CsvTarget::regression(&["y"]),
            );
            refused(read_wide_csv(&path, &layout))
        }));
    }

    // --- Datasets built in memory. ---
    let sample = |values: Vec<f32>, length: usize, target: Target| SequenceSample {
        id: "s".into(),
        values,
        length,
        target,
    };
    let datasets: Vec<(&str, Vec<SequenceSample>, TargetKind, &'static str)> = vec![
        (
            "no samples",
            vec![],
            TargetKind::Regression { outputs: 1 },
            "sample",
        ),
        (
            "3 values for T×D = 2×1",
            vec![sample(vec![0.0; 3], 2, Target::Regression(vec![0.0]))],
            TargetKind::Regression { outputs: 1 },
            "values",
        ),
        (
            "a zero length",
            vec![sample(vec![0.0; 2], 0, Target::Regression(vec![0.0]))],
            TargetKind::Regression { outputs: 1 },
            "length",
        ),
        (
            "a length of 3 for T = 2",
            vec![sample(vec![0.0; 2], 3, Target::Regression(vec![0.0]))],
            TargetKind::Regression { outputs: 1 },
            "length",
        ),
        (
            "class 5 of 2",
            vec![sample(vec![0.0; 2], 2, Target::Class(5))],
            TargetKind::Classification { classes: 2 },
            "class",
        ),
        (
            "2 targets for 1 output",
            vec![sample(vec![0.0; 2], 2, Target::Regression(vec![0.0, 1.0]))],
            TargetKind::Regression { outputs: 1 },
            "target",
        ),
        (
            "a classification target for regression",
            vec![sample(vec![0.0; 2], 2, Target::Class(0))],
            TargetKind::Regression { outputs: 1 },
            "target",
        ),
    ];
    for (name, samples, kind, needle) in datasets {
        cases.push(case("SequenceDataset::new", name, &[needle], move || {
            refused(SequenceDataset::new(samples.clone(), 2, 1, kind))
        }));
    }
    cases.push(case("from_nested", "ragged steps", &["step"], || {
        refused(from_nested(
            &[vec![vec![0.0], vec![0.0, 1.0]]],
            vec![Target::Regression(vec![0.0])],
            TargetKind::Regression { outputs: 1 },
        ))
    }));
    cases.push(case(
        "from_nested",
        "2 targets for 1 sequence",
        &["target"],
        || {
            refused(from_nested(
                &[vec![vec![0.0]]],
                vec![Target::Regression(vec![0.0]); 2],
                TargetKind::Regression { outputs: 1 },
            ))
        },
    ));

    // --- The command line. ---
    let input = write(
        &files,
        "cli input.csv",
        "id,time,sine 0\na,0,0.5\na,1,0.25\n",
    );
    let bad_input = write(&files, "cli bad input.csv", "id,time,sine 0\na,0,high\n");
    let other_columns = write(&files, "cli other columns.csv", "id,time,pressure\na,0,1\n");
    let empty = write(&files, "cli empty.csv", "");
    let run_arg = good_run.to_str().unwrap().to_string();
    let corrupt_run = copy_run(&good_run, &files.join("cli corrupt run"));
    std::fs::write(corrupt_run.join("model.bpk"), b"garbage").unwrap();
    let arg = |p: &Path| p.to_str().unwrap().to_string();
    let cli_cases: Vec<(&str, Vec<String>, Vec<&'static str>)> = vec![
        ("no arguments", vec![], vec!["Usage"]),
        ("an unknown subcommand", vec!["fly".into()], vec!["fly"]),
        (
            "predict without --data",
            vec!["predict".into(), "--run".into(), run_arg.clone()],
            vec!["--data"],
        ),
        (
            "predict without --run",
            vec!["predict".into(), "--data".into(), arg(&input)],
            vec!["--run"],
        ),
        (
            "an unknown flag",
            vec![
                "predict".into(),
                "--run".into(),
                run_arg.clone(),
                "--data".into(),
                arg(&input),
                "--fast".into(),
            ],
            vec!["--fast"],
        ),
        (
            "--device tpu",
            vec![
                "predict".into(),
                "--run".into(),
                run_arg.clone(),
                "--data".into(),
                arg(&input),
                "--device".into(),
                "tpu".into(),
            ],
            vec!["tpu"],
        ),
        (
            "a run directory that does not exist",
            vec![
                "predict".into(),
                "--run".into(),
                arg(&files.join("nope")),
                "--data".into(),
                arg(&input),
            ],
            vec!["no such run directory"],
        ),
        (
            "an input file that does not exist",
            vec![
                "predict".into(),
                "--run".into(),
                run_arg.clone(),
                "--data".into(),
                arg(&files.join("nope.csv")),
            ],
            vec!["nope.csv"],
        ),
        (
            "a word for a value",
            vec![
                "predict".into(),
                "--run".into(),
                run_arg.clone(),
                "--data".into(),
                arg(&bad_input),
            ],
            vec!["line 2"],
        ),
        (
            "a file without the feature column",
            vec![
                "predict".into(),
                "--run".into(),
                run_arg.clone(),
                "--data".into(),
                arg(&other_columns),
            ],
            vec!["sine 0", "unknown column"],
        ),
        (
            "an empty input file",
            vec![
                "predict".into(),
                "--run".into(),
                run_arg.clone(),
                "--data".into(),
                arg(&empty),
            ],
            vec!["cli empty.csv"],
        ),
        (
            "a corrupt model.bpk",
            vec![
                "predict".into(),
                "--run".into(),
                arg(&corrupt_run),
                "--data".into(),
                arg(&input),
            ],
            vec!["model.bpk"],
        ),
        (
            "--id-column that is not in the file",
            vec![
                "predict".into(),
                "--run".into(),
                run_arg.clone(),
                "--data".into(),
                arg(&input),
                "--id-column".into(),
                "patient".into(),
            ],
            vec!["patient"],
        ),
    ];
    for (name, args, needles) in cli_cases {
        cases.push(Case {
            surface: "burn-rnn predict",
            input: name.into(),
            needles: needles.clone(),
            run: Box::new(move || {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                cli(&args)
            }),
        });
    }

    // --- Run every case. ---
    let total = cases.len();
    let mut failures = Vec::new();
    for case in &cases {
        let what = format!("[{}] {}", case.surface, case.input);
        match catch_unwind(AssertUnwindSafe(|| (case.run)())) {
            Ok(Ok(())) => failures.push(format!("{what}: accepted")),
            Ok(Err(message)) => {
                if message.contains("panicked") {
                    failures.push(format!("{what}: a panic: {message}"));
                }
                for needle in &case.needles {
                    if !message.contains(needle) {
                        failures.push(format!("{what}: `{needle}` not in: {message}"));
                    }
                }
            }
            Err(panic) => {
                let message = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                failures.push(format!("{what}: panicked: {message}"));
            }
        }
    }
    assert!(
        snapshot(&good_run) == good_files,
        "the good run directory was changed"
    );
    eprintln!("{total} bad inputs, {} not refused clearly", failures.len());
    assert!(total >= 100, "only {total} cases");
    assert!(
        failures.is_empty(),
        "{} of {total}:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// `json` with the array (or value) of `key` replaced by `value`.
fn replace_array(json: &str, key: &str, value: &str) -> String {
    let start = json.find(&format!("\"{key}\"")).unwrap();
    let open = start + json[start..].find(':').unwrap() + 1;
    let close = open + json[open..].find(']').unwrap() + 1;
    format!("{} {value}{}", &json[..open], &json[close..])
}

fn copy_dir_all(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir_all(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
