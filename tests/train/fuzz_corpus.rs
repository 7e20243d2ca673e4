//! The fuzz targets' corpus, replayed on the stable toolchain: every seed in `fuzz/corpus/` and
//! every input that once crashed a target (`fuzz/regressions/`) goes through the same body the
//! fuzz target runs (`burn_rnn::train::fuzzing`), and must come back without a panic.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use burn::tensor::Device;
use burn_rnn::model::{CellKind, ElmanActivation, RecurrentConfig, SequenceModelConfig};
use burn_rnn::train::fuzzing;

type Body = fn(&[u8]) -> fuzzing::Outcome;

const TARGETS: [(&str, Body); 6] = [
    ("long_csv", fuzzing::long_csv),
    ("wide_csv", fuzzing::wide_csv),
    ("safetensors", fuzzing::safetensors),
    ("burnpack", fuzzing::burnpack),
    ("run_json", fuzzing::run_json),
    ("predict", fuzzing::predict),
];

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

fn inputs(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    files.sort();
    files
}

#[test]
fn fuzz_corpus_and_regressions_replay_without_panics() {
    let mut replayed = 0;
    let mut accepted = 0;
    for (target, body) in TARGETS {
        let seeds = inputs(&fuzz_dir().join("corpus").join(target));
        assert!(!seeds.is_empty(), "no seeds for {target}");
        let regressions = inputs(&fuzz_dir().join("regressions").join(target));
        for input in seeds.iter().chain(&regressions) {
            let bytes = std::fs::read(input).unwrap();
            let outcome = catch_unwind(AssertUnwindSafe(|| body(&bytes)))
                .unwrap_or_else(|_| panic!("{target} panicked on {}", input.display()));
            replayed += 1;
            accepted += outcome.iter().filter(|r| r.is_ok()).count();
        }
    }
    eprintln!("{replayed} fuzz inputs replayed, {accepted} readers accepted theirs");
    assert!(
        accepted > 0,
        "no seed is a valid input: the seeds have rotted"
    );
}

/// CI does not build the fuzz crate (nightly and AddressSanitizer compile all of Burn again:
/// 24 minutes on two cores); this keeps it in step with the bodies instead: each target in
/// `fuzz/Cargo.toml` has its file, which calls the body of its name, and its seeds.
#[test]
fn every_fuzz_target_calls_its_body_and_has_seeds() {
    let manifest = std::fs::read_to_string(fuzz_dir().join("Cargo.toml")).unwrap();
    let declared: Vec<&str> = manifest
        .lines()
        .filter_map(|l| l.strip_prefix("name = \""))
        .filter_map(|l| l.strip_suffix('"'))
        .filter(|name| *name != "burn-rnn-fuzz")
        .collect();
    let names: Vec<&str> = TARGETS.iter().map(|(name, _)| *name).collect();
    assert_eq!(declared, names, "fuzz/Cargo.toml's [[bin]]s");
    for name in names {
        let source = fuzz_dir().join("fuzz_targets").join(format!("{name}.rs"));
        let text = std::fs::read_to_string(&source).unwrap();
        let call = format!("burn_rnn_train::fuzzing::{name}(data)");
        assert!(
            text.contains(&call),
            "{} does not call {call}",
            source.display()
        );
        assert!(manifest.contains(&format!("path = \"fuzz_targets/{name}.rs\"")));
    }
}

/// Writes the seeds of `fuzz/corpus/` (run once by hand: `cargo test --release --test train --
/// --ignored write_fuzz_seeds`).
#[test]
#[ignore]
fn write_fuzz_seeds() {
    let corpus = fuzz_dir().join("corpus");
    let seed = |target: &str, name: &str, bytes: &[u8]| {
        let dir = corpus.join(target);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), bytes).unwrap();
    };
    seed(
        "long_csv",
        "regression.csv",
        b"id,time,a,b,y\ns1,0,1,2,3\ns1,1,2,3,3\ns2,1,1,1,0.5\ns2,0,0,1,\n",
    );
    seed(
        "long_csv",
        "class.csv",
        b"id,time,a,label\np,0,1,up\np,1,,up\nq,0,2,down\n",
    );
    seed(
        "long_csv",
        "per_step.csv",
        b"id,time,a,b,y\nx,0,1,2,0.1\nx,1,,3,0.2\nx,2,4,5,0.3\n",
    );
    seed(
        "wide_csv",
        "class.csv",
        b"id,a_0,a_1,a_2,b_0,b_1,b_2,label\nx,1,2,3,4,5,6,up\ny,0,0,1,1,,2,down\n",
    );
    seed(
        "wide_csv",
        "regression.csv",
        b"a_0,a_1,a_2,b_0,b_1,b_2,y\n1,2,3,4,5,6,0.5\n1e3,-2,3.5,0,0,0,-1\n",
    );
    seed(
        "predict",
        "two.csv",
        b"id,time,a,b\np,0,1,2\np,1,2,3\nq,0,1,1\n",
    );
    seed(
        "predict",
        "shuffled.csv",
        b"time,b,id,a\n3,0.5,z,1\n1,0.25,z,2\n2,1,z,3\n",
    );

    let device = Device::flex();
    let dir = tempfile::tempdir().unwrap();
    let recurrent = [
        (
            "elman.safetensors",
            RecurrentConfig::new(2, 3).with_cell(CellKind::Elman(ElmanActivation::Tanh)),
        ),
        (
            "lstm.safetensors",
            RecurrentConfig::new(2, 3)
                .with_cell(CellKind::Lstm)
                .with_num_layers(2),
        ),
        (
            "gru.safetensors",
            RecurrentConfig::new(2, 3)
                .with_cell(CellKind::Gru)
                .with_bidirectional(true),
        ),
    ];
    for (name, config) in recurrent {
        let path = dir.path().join(name);
        config.init(&device).unwrap().save_pytorch(&path).unwrap();
        seed("safetensors", name, &std::fs::read(&path).unwrap());
    }
    let model = SequenceModelConfig::new(RecurrentConfig::new(2, 3).with_cell(CellKind::Gru), 2);
    let path = dir.path().join("model.bpk");
    model.init(&device).unwrap().save(&path).unwrap();
    seed("burnpack", "model.bpk", &std::fs::read(&path).unwrap());

    // A run directory's JSON files, from a short run on the fuzz predictor's kind of data.
    let run = dir.path().join("run");
    let waves = burn_rnn::data::synth::SineConfig {
        samples: 8,
        steps: 4,
        ..Default::default()
    };
    let data = waves.generate().unwrap().next_value_dataset().unwrap();
    let config = burn_rnn::train::TrainingConfig::for_dataset(&data, RecurrentConfig::new(1, 3))
        .with_num_epochs(2);
    let options = burn_rnn::train::TrainOptions {
        resume: false,
        progress: burn_rnn::train::Progress::Silent,
    };
    burn_rnn::train::train(
        &config,
        &data,
        &data,
        &burn_rnn::train::RunDir::new(&run),
        &device,
        options,
    )
    .unwrap();
    for name in [
        "training.json",
        "schema.json",
        "normalizer.json",
        "checkpoints/checkpoint/epoch-2.json",
    ] {
        let file = Path::new(name).file_name().unwrap().to_str().unwrap();
        seed("run_json", file, &std::fs::read(run.join(name)).unwrap());
    }
}
