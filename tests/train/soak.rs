//! Soak and concurrency: resident memory over a long training run and over 100,000 predictions
//! (both `#[ignore]`d: run by hand, figures in the README's Reliability section), and a
//! `Predictor` shared by threads answering as one thread does.
//!
//! ```text
//! BURN_RNN_SOAK_MINUTES=60 RAYON_NUM_THREADS=1 cargo test --release --test train -- --ignored soak --nocapture --test-threads 1
//! ```
//!
//! `BURN_RNN_SOAK_PATIENTS` (50,000) and `BURN_RNN_SOAK_CHUNK` (50 epochs between resumes)
//! change the training soak's size. Each sample prints the resident set and the C heap's
//! bytes in use (`mallinfo2`): the first growing with the second is retained data, the first
//! growing alone is memory the allocators hold.

use std::sync::Arc;
use std::time::{Duration, Instant};

use burn::tensor::Device;
use burn_rnn::data::synth::{HealthcareConfig, PatientCohort};
use burn_rnn::data::{SplitFractions, split_random};
use burn_rnn::model::{CellKind, RecurrentConfig};
use burn_rnn::train::{
    Prediction, Predictor, Progress, RunDir, TrainOptions, TrainingConfig, train,
};

/// The resident set size of this process, in MiB (Linux).
fn resident_mib() -> f64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: f64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0.0);
    pages * 4096.0 / (1024.0 * 1024.0)
}

/// The healthcare example's forecasting task for `patients` patients, GRU of 32 units.
fn vitals_run(epochs: usize, patients: usize) -> (TrainingConfig, burn_rnn::data::DatasetSplit) {
    let cohort = HealthcareConfig {
        patients,
        ..HealthcareConfig::default()
    }
    .generate()
    .unwrap();
    let data = PatientCohort::forecasting_per_step_dataset(&cohort).unwrap();
    let split = split_random(&data, SplitFractions::train_valid(0.8), 7).unwrap();
    let recurrent = RecurrentConfig::new(data.num_features(), 32).with_cell(CellKind::Gru);
    let config = TrainingConfig::for_dataset(&data, recurrent)
        .with_num_epochs(epochs)
        .with_early_stopping_patience(None);
    (config, split)
}

/// A short run of [`vitals_run`] written to a temporary directory, and its split.
fn trained(epochs: usize, patients: usize) -> (tempfile::TempDir, burn_rnn::data::DatasetSplit) {
    let (config, split) = vitals_run(epochs, patients);
    let dir = tempfile::tempdir().unwrap();
    let run_dir = RunDir::new(dir.path());
    train(
        &config,
        &split.train,
        &split.valid,
        &run_dir,
        &Device::flex(),
        QUIET,
    )
    .unwrap();
    (dir, split)
}

const QUIET: TrainOptions = TrainOptions {
    resume: false,
    progress: Progress::Silent,
};

/// Bytes the C heap has handed out and not had back (`mallinfo2`: arena in use plus `mmap`ed
/// blocks), in MiB: what the process really holds, as opposed to what the heap keeps free.
fn heap_in_use_mib() -> f64 {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: `mallinfo2` only reads the allocator's counters.
        let info = unsafe { libc::mallinfo2() };
        (info.uordblks + info.hblkhd) as f64 / (1024.0 * 1024.0)
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    f64::NAN
}

/// Samples the resident set size every `every` on a thread while `work` runs.
fn sample_memory<T>(every: Duration, work: impl FnOnce() -> T) -> (T, Vec<(f64, f64)>) {
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = done.clone();
    let start = Instant::now();
    let sampler = std::thread::spawn(move || {
        let mut samples = vec![(0.0, resident_mib())];
        while !flag.load(std::sync::atomic::Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(200));
            let elapsed = start.elapsed().as_secs_f64();
            if elapsed - samples.last().unwrap().0 >= every.as_secs_f64() {
                samples.push((elapsed, resident_mib()));
                eprintln!(
                    "{:>8.0} s  {:>8.1} MiB resident  {:>8.1} MiB heap in use",
                    elapsed,
                    samples.last().unwrap().1,
                    heap_in_use_mib()
                );
            }
        }
        samples.push((start.elapsed().as_secs_f64(), resident_mib()));
        samples
    });
    let result = work();
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    (result, sampler.join().unwrap())
}

/// A number from the environment variable `name`, else `default`.
fn knob<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
#[ignore]
fn soak_training_memory() {
    // What the `burn-rnn` command and the examples do first: resuming then loads the optimiser
    // state on the CPU instead of starting the GPU runtime (see `cpu_default_device`).
    // SAFETY: run with `--test-threads 1`: no other test thread reads the environment.
    unsafe { burn_rnn::train::cpu_default_device() };
    let minutes: f64 = knob("BURN_RNN_SOAK_MINUTES", 15.0);
    // 50,000 patients (40,000 training sequences an epoch), so that an hour is a few thousand
    // epochs of a realistic size rather than tens of thousands of tiny ones, whose history alone
    // (kept in memory, and re-read at each resume) would grow the process. The run is extended
    // by resuming, `chunk` epochs at a time, until `minutes` have passed: a fixed epoch count
    // would stretch with the machine's load.
    let patients = knob("BURN_RNN_SOAK_PATIENTS", 50_000);
    let chunk = knob("BURN_RNN_SOAK_CHUNK", 50);
    let (config, split) = vitals_run(chunk, patients);
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let (epochs, samples) = sample_memory(Duration::from_secs(30), || {
        let mut epochs = 0;
        while started.elapsed().as_secs_f64() < minutes * 60.0 {
            let config = config.clone().with_num_epochs(epochs + chunk);
            let options = TrainOptions {
                resume: epochs > 0,
                ..QUIET
            };
            let run = train(
                &config,
                &split.train,
                &split.valid,
                &RunDir::new(dir.path()),
                &Device::flex(),
                options,
            )
            .unwrap();
            epochs += chunk;
            assert_eq!(run.history.len(), epochs);
            eprintln!("epoch {epochs} at {:.0} s", started.elapsed().as_secs_f64());
        }
        epochs
    });
    eprintln!(
        "{epochs} epochs of {} sequences in {:.0} s",
        split.train.len(),
        started.elapsed().as_secs_f64()
    );
    report("training", &samples);
}

#[test]
#[ignore]
fn soak_predict_memory() {
    let (dir, split) = trained(2, 100);
    let predictor = Predictor::load(dir.path(), &Device::flex()).unwrap();
    let sequences: Vec<Vec<Vec<f32>>> = split.valid.sequences().into_iter().take(4).collect();
    let (_, samples) = sample_memory(Duration::from_millis(200), || {
        for _ in 0..100_000 {
            predictor.predict(&sequences).unwrap();
        }
    });
    report("100,000 predict calls (4 sequences each)", &samples);
}

/// Growth of the resident set after warm-up that still counts as flat, in MiB: the caching
/// allocator keeps freed blocks, so the set may step up once or twice, but it must not climb.
const FLAT_MIB: f64 = 32.0;

/// Prints the samples' summary (after the first tenth, the warm-up: the lowest and highest
/// RSS) and fails when the set grew by more than [`FLAT_MIB`] after warm-up.
fn report(what: &str, samples: &[(f64, f64)]) {
    let warm = &samples[samples.len() / 10..];
    let low = warm.iter().map(|s| s.1).fold(f64::INFINITY, f64::min);
    let high = warm.iter().map(|s| s.1).fold(0.0, f64::max);
    eprintln!(
        "{what}: {:.0} s, {} samples, RSS {:.1} MiB at start, {low:.1}–{high:.1} MiB after warm-up, {:.1} MiB at the end",
        samples.last().unwrap().0,
        samples.len(),
        samples[0].1,
        samples.last().unwrap().1
    );
    assert!(
        high - warm[0].1 <= FLAT_MIB,
        "{what}: RSS grew from {:.1} to {high:.1} MiB after warm-up",
        warm[0].1
    );
}

#[test]
fn a_predictor_shared_by_threads_answers_as_one_thread() {
    let (dir, split) = trained(2, 100);
    let shared = Arc::new(Predictor::load(dir.path(), &Device::flex()).unwrap());
    let sequences = split.valid.sequences();
    let expected: Vec<Prediction> = shared.predict(&sequences).unwrap();
    let sequences = Arc::new(sequences);
    let threads: Vec<_> = (0..4)
        .map(|i| {
            let (shared, sequences) = (shared.clone(), sequences.clone());
            let dir = dir.path().to_path_buf();
            std::thread::spawn(move || {
                // Threads 0 and 1 share one predictor; 2 and 3 load their own.
                let own;
                let predictor = if i < 2 {
                    shared.as_ref()
                } else {
                    own = Predictor::load(&dir, &Device::flex()).unwrap();
                    &own
                };
                (0..20)
                    .map(|_| predictor.predict(&sequences).unwrap())
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    for thread in threads {
        for answer in thread.join().unwrap() {
            assert_eq!(answer, expected);
        }
    }
}
