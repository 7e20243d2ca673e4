//! Crash safety: a child process training a tiny model is killed with `SIGKILL` at many points
//! (at training batches, inside the atomic writes of checkpoints, configs, metrics and plots,
//! and at random moments from outside), resumed, and must end with the weights and metrics of
//! an uninterrupted run, bit for bit.
//!
//! The child is this test binary itself, running [`kill_test_child`] (which does nothing unless
//! `BURN_RNN_KILL_CHILD` names a run directory). Kills at a chosen point use the library's crash
//! points (`burn_rnn::train::crash`): the child arms the n-th point of a site, and reaching it
//! sends `SIGKILL` to the child's own process. The external kills are `SIGKILL`s from this
//! process after a random delay.

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use burn::store::{BurnpackStore, ModuleStore};
use burn::tensor::Device;
use burn_rnn::data::synth::{SineConfig, SplitMix64};
use burn_rnn::data::{SplitFractions, split_random};
use burn_rnn::model::{CellKind, RecurrentConfig, SequenceModelConfig};
use burn_rnn::train::crash::{self, CrashSite};
use burn_rnn::train::{
    Objective, Progress, RunDir, TrainError, TrainOptions, TrainingConfig, train,
};

const CHILD: &str = "BURN_RNN_KILL_CHILD";
const KILL_AT: &str = "BURN_RNN_KILL_AT";
/// The signal number of SIGKILL on Linux.
const SIGKILL: i32 = 9;

/// A 2-layer GRU with dropout between the layers (so the device's random generator matters),
/// the cosine schedule, Adam, global-norm clipping and early stopping, on 24 short sine waves.
fn child_config() -> TrainingConfig {
    let recurrent = RecurrentConfig::new(1, 6)
        .with_cell(CellKind::Gru)
        .with_num_layers(2)
        .with_dropout(0.25);
    TrainingConfig::new(
        SequenceModelConfig::new(recurrent, 1),
        Objective::Regression,
    )
    .with_num_epochs(6)
    .with_batch_size(4)
    .with_learning_rate(2e-2)
    .with_early_stopping_patience(Some(4))
    .with_seed(11)
}

/// The child's side: train (resuming when there is a checkpoint) with the crash point named by
/// `BURN_RNN_KILL_AT` (`step:N`, `write:N`) armed, then print the points passed.
#[test]
fn kill_test_child() {
    let Ok(dir) = std::env::var(CHILD) else {
        return;
    };
    if let Ok(spec) = std::env::var(KILL_AT)
        && let Some((site, n)) = spec.split_once(':')
    {
        let site = if site == "step" {
            CrashSite::Step
        } else {
            CrashSite::Write
        };
        crash::arm(site, n.parse().unwrap());
    }
    let waves = SineConfig {
        samples: 24,
        steps: 8,
        ..SineConfig::default()
    };
    let data = waves.generate().unwrap().next_value_dataset().unwrap();
    let split = split_random(&data, SplitFractions::train_valid(0.75), 1).unwrap();
    let run = |resume| {
        let options = TrainOptions {
            resume,
            progress: Progress::Silent,
        };
        let run_dir = RunDir::new(&dir);
        train(
            &child_config(),
            &split.train,
            &split.valid,
            &run_dir,
            &Device::flex(),
            options,
        )
    };
    match run(true) {
        Err(TrainError::NothingToResume { .. }) => run(false).unwrap(),
        other => other.unwrap(),
    };
    println!(
        "CHILD-DONE step={} write={}",
        crash::count(CrashSite::Step),
        crash::count(CrashSite::Write)
    );
}

/// How a child run ended.
#[derive(Debug, PartialEq)]
enum Outcome {
    /// It finished; the crash points it passed (step, write).
    Done(u64, u64),
    /// SIGKILL.
    Killed,
}

fn child(dir: &Path, kill_at: Option<String>) -> Command {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args(["crash::kill_test_child", "--exact", "--nocapture"])
        .args(["--test-threads", "1"])
        .env(CHILD, dir)
        .env_remove(KILL_AT)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(spec) = kill_at {
        command.env(KILL_AT, spec);
    }
    command
}

fn outcome(output: std::process::Output) -> Outcome {
    let stdout = String::from_utf8_lossy(&output.stdout);
    if output.status.signal() == Some(SIGKILL) {
        return Outcome::Killed;
    }
    assert!(
        output.status.success(),
        "the child failed: {}\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let line = stdout
        .lines()
        .find_map(|l| l.split_once("CHILD-DONE ").map(|(_, rest)| rest))
        .unwrap_or_else(|| panic!("no summary from the child: {stdout}"));
    let count = |key: &str| -> u64 {
        line.split(' ')
            .find_map(|kv| kv.strip_prefix(key))
            .unwrap()
            .parse()
            .unwrap()
    };
    Outcome::Done(count("step="), count("write="))
}

fn run_child(dir: &Path, kill_at: Option<String>) -> Outcome {
    outcome(child(dir, kill_at).output().unwrap())
}

/// A point in `1..=n`, drawn from `rng`.
fn point(rng: &mut SplitMix64, n: u64) -> u64 {
    1 + rng.next_u64() % n.max(1)
}

/// Every tensor of a Burnpack file, by name (the parameter ids inside differ between runs).
fn tensors(path: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut store = BurnpackStore::from_file(path).auto_extension(false);
    store
        .get_all_tensors()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .iter()
        .map(|(name, tensor)| (name.clone(), tensor.to_bytes().unwrap().to_vec()))
        .collect()
}

/// The newest epoch with a manifest in a run's checkpoint directory.
fn last_checkpoint(run: &Path) -> usize {
    std::fs::read_dir(run.join("checkpoints/checkpoint"))
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.strip_prefix("epoch-")?
                .strip_suffix(".json")?
                .parse()
                .ok()
        })
        .max()
        .unwrap()
}

/// After a kill: every JSON file the run wrote parses (none is torn), and every manifest's
/// files exist with the sizes it lists.
fn assert_nothing_torn(run: &Path) {
    for dir in [run.to_path_buf(), run.join("checkpoints/checkpoint")] {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name.starts_with(".tmp-") || !name.ends_with(".json") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let value: serde_json::Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{} is torn: {e}", path.display()));
            if let Some(parts) = value.get("parts").and_then(|p| p.as_array()) {
                for part in parts {
                    let file = dir.join(part["file"].as_str().unwrap());
                    let len = std::fs::metadata(&file)
                        .unwrap_or_else(|e| panic!("{} without {}: {e}", name, file.display()))
                        .len();
                    assert_eq!(Some(len), part["bytes"].as_u64(), "{}", file.display());
                }
            }
        }
    }
}

/// What two runs must share, bit for bit.
#[derive(PartialEq)]
struct RunResults {
    /// The last epoch checkpointed.
    last: usize,
    /// Its weights, by tensor name.
    final_weights: BTreeMap<String, Vec<u8>>,
    /// The kept (best) model's weights.
    kept: BTreeMap<String, Vec<u8>>,
    /// `metrics.csv`.
    metrics: String,
}

/// The final weights (last epoch's checkpoint and the kept model) and the metrics of a run.
fn results(run: &Path) -> RunResults {
    let last = last_checkpoint(run);
    RunResults {
        last,
        final_weights: tensors(&run.join(format!("checkpoints/checkpoint/model-{last}.bpk"))),
        kept: tensors(&run.join("model.bpk")),
        metrics: std::fs::read_to_string(run.join("metrics.csv")).unwrap(),
    }
}

#[test]
fn killed_and_resumed_training_ends_bit_identical_to_an_uninterrupted_run() {
    let root = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let reference_dir = root.path().join("reference");
    let Outcome::Done(steps, writes) = run_child(&reference_dir, None) else {
        panic!("the reference run was killed");
    };
    let reference_time = started.elapsed();
    let reference = results(&reference_dir);
    eprintln!(
        "reference: {} epochs, {steps} step and {writes} write crash points, {reference_time:?}",
        reference.last
    );

    // The kill points are random but the same on every run of the test.
    let mut rng = SplitMix64::new(20_261_130);
    let mut kills: Vec<String> = Vec::new();
    let check = |name: String, dir: PathBuf, kills: &mut Vec<String>| {
        let last = run_child(&dir, None);
        assert!(
            matches!(last, Outcome::Done(..)),
            "{name}: the last resume was {last:?}"
        );
        let got = results(&dir);
        assert_eq!(got.last, reference.last, "{name}: last epoch");
        assert!(
            got.final_weights == reference.final_weights,
            "{name}: final weights differ"
        );
        assert!(got.kept == reference.kept, "{name}: kept model differs");
        assert_eq!(got.metrics, reference.metrics, "{name}: metrics differ");
        kills.push(name);
    };
    // 12 kills at training batches and 12 inside atomic writes; half of the runs are killed a
    // second time while resuming.
    for case in 0..24 {
        let site = if case % 2 == 0 { "step" } else { "write" };
        let total = if site == "step" { steps } else { writes };
        let dir = root.path().join(format!("case-{case}"));
        let first = format!("{site}:{}", point(&mut rng, total));
        assert_eq!(
            run_child(&dir, Some(first.clone())),
            Outcome::Killed,
            "{first}"
        );
        assert_nothing_torn(&dir);
        let mut name = first;
        if rng.next_u64().is_multiple_of(2) {
            // Early enough to be reached by the resumed run.
            let second = format!("{site}:{}", point(&mut rng, total / 3));
            if run_child(&dir, Some(second.clone())) == Outcome::Killed {
                assert_nothing_torn(&dir);
                name = format!("{name} then {second}");
            }
        }
        check(name, dir, &mut kills);
    }
    // 6 SIGKILLs from outside at random moments of the run.
    for case in 0..6 {
        let dir = root.path().join(format!("external-{case}"));
        let mut process = child(&dir, None).spawn().unwrap();
        let delay = Duration::from_micros(rng.next_u64() % reference_time.as_micros() as u64);
        std::thread::sleep(delay);
        let killed = process.try_wait().unwrap().is_none();
        process.kill().unwrap();
        process.wait().unwrap();
        assert_nothing_torn(&dir);
        check(
            format!("external SIGKILL after {delay:?} (still running: {killed})"),
            dir,
            &mut kills,
        );
    }
    eprintln!("{} kills, {:?} in all:", kills.len(), started.elapsed());
    for kill in &kills {
        eprintln!("  {kill}");
    }
}
