//! Bad input on every surface, as a table: configs (zero sizes, NaN rates, contradictory
//! options, resuming a run with other settings or data), `forward` (wrong feature count, lengths
//! longer than T or zero, a lengths list of the wrong size, empty batches, T = 0), predictions,
//! CSV files, weight files (corrupt, truncated, mismatched, a safetensors header claiming
//! terabytes), normaliser and run-directory JSON, in-memory datasets and the command line. Each
//! must give an error naming the problem — never a panic, never a silent acceptance — and leave
//! the files it read or was pointed at as they were. Each surface's cases are in a file of
//! `bad_inputs/`; the one test below runs them all.

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

#[path = "bad_inputs/command_line.rs"]
mod command_line;
#[path = "bad_inputs/configs.rs"]
mod configs;
#[path = "bad_inputs/data.rs"]
mod data;
#[path = "bad_inputs/run_files.rs"]
mod run_files;
#[path = "bad_inputs/tensors.rs"]
mod tensors;
#[path = "bad_inputs/weights.rs"]
mod weights;

/// What every surface's cases start from: a good run (trained on `train_set`) and a folder
/// for the files the cases write.
#[derive(Clone)]
struct Fixture {
    device: Device,
    train_set: Arc<SequenceDataset>,
    valid_set: Arc<SequenceDataset>,
    scratch: PathBuf,
    good_run: PathBuf,
    files: PathBuf,
}

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
    let temporary = tempfile::tempdir().unwrap();
    let scratch = temporary.path().to_path_buf();
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
    let fixture = Fixture {
        device,
        train_set,
        valid_set,
        scratch,
        good_run: good_run.clone(),
        files,
    };
    let cases: Vec<Case> = [
        configs::cases,
        tensors::cases,
        weights::cases,
        run_files::cases,
        data::cases,
        command_line::cases,
    ]
    .iter()
    .flat_map(|surface| surface(&fixture))
    .collect();

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
