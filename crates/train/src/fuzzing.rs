//! The bodies of the fuzz targets in `fuzz/`, one per reader of user files, kept here so that
//! the workspace's tests replay the committed corpus (and every input that once crashed)
//! through the very same code on the stable toolchain.
//!
//! Each takes arbitrary bytes and returns what the reader said: an error is the expected
//! answer to most inputs; a panic, a hang or an unbounded allocation is a bug.

use std::path::Path;
use std::sync::OnceLock;

use burn::tensor::Device;
use burn_rnn_data::csv::{
    CsvTarget, LongCsvLayout, MissingValues, WideCsvLayout, WideFeature, read_long_csv_from_reader,
    read_long_sequences_from_reader, read_wide_csv_from_reader,
};
use burn_rnn_data::{NormalizationKind, Normalizer, SequenceDataset, Target, TargetKind};
use burn_rnn_model::{
    CellKind, ElmanActivation, RecurrentConfig, SequenceModelConfig, TensorFile,
    load_weights_from_bytes,
};

use crate::artifacts::DataSchema;
use crate::config::TrainingConfig;
use crate::predict::Predictor;

/// What a fuzz target's body returns: each reader's error messages, or `Ok` per accepted input.
pub type Outcome = Vec<Result<(), String>>;

fn outcome<T, E: std::fmt::Display>(result: Result<T, E>) -> Result<(), String> {
    result.map(|_| ()).map_err(|e| e.to_string())
}

/// Long CSV (`id,time,a,b,...`) with each kind of target and missing-value policy.
pub fn long_csv(data: &[u8]) -> Outcome {
    let layouts = [
        LongCsvLayout::new("id", "time", &["a", "b"], CsvTarget::regression(&["y"])),
        LongCsvLayout::new("id", "time", &["a"], CsvTarget::class("label"))
            .with_missing(MissingValues::DropRow),
        LongCsvLayout::new("id", "time", &["a", "b"], CsvTarget::per_step(&["y"]))
            .with_missing(MissingValues::ForwardFill),
    ];
    layouts
        .iter()
        .map(|layout| outcome(read_long_csv_from_reader(data, layout)))
        .collect()
}

/// Wide CSV (`id,a_0,a_1,a_2,b_0,...,label`).
pub fn wide_csv(data: &[u8]) -> Outcome {
    let features = vec![WideFeature::numbered("a", 3), WideFeature::numbered("b", 3)];
    let layouts = [
        WideCsvLayout::new(Some("id"), features.clone(), CsvTarget::class("label")),
        WideCsvLayout::new(None, features, CsvTarget::regression(&["y"]))
            .with_missing(MissingValues::DropRow),
    ];
    layouts
        .iter()
        .map(|layout| outcome(read_wide_csv_from_reader(data, layout)))
        .collect()
}

/// PyTorch `state_dict`s saved as safetensors, loaded into an Elman, an LSTM and a GRU stack.
pub fn safetensors(data: &[u8]) -> Outcome {
    let file = match TensorFile::from_bytes("<fuzz>", data.to_vec()) {
        Ok(file) => file,
        Err(e) => return vec![Err(e.to_string())],
    };
    let _ = (file.names(), file.metadata());
    let device = Device::flex();
    [
        RecurrentConfig::new(2, 3).with_cell(CellKind::Elman(ElmanActivation::Tanh)),
        RecurrentConfig::new(2, 3)
            .with_cell(CellKind::Lstm)
            .with_num_layers(2),
        RecurrentConfig::new(2, 3)
            .with_cell(CellKind::Gru)
            .with_bidirectional(true),
    ]
    .iter()
    .map(|config| {
        let rnn = config.init(&device).map_err(|e| e.to_string())?;
        outcome(rnn.load_from_file(&file, ""))
    })
    .collect()
}

/// Burnpack weights (a run's `model.bpk`) loaded into a small model.
pub fn burnpack(data: &[u8]) -> Outcome {
    let config = SequenceModelConfig::new(RecurrentConfig::new(2, 3).with_cell(CellKind::Gru), 2);
    let model = match config.init(&Device::flex()) {
        Ok(model) => model,
        Err(e) => return vec![Err(e.to_string())],
    };
    vec![outcome(load_weights_from_bytes(
        model,
        data.to_vec(),
        Path::new("<fuzz>"),
    ))]
}

/// The run directory's JSON files: `training.json` (then validated), `schema.json`,
/// `normalizer.json` (validated) and a checkpoint manifest.
pub fn run_json(data: &[u8]) -> Outcome {
    let Ok(text) = std::str::from_utf8(data) else {
        return vec![Err("not UTF-8".into())];
    };
    vec![
        serde_json::from_str::<TrainingConfig>(text)
            .map_err(|e| e.to_string())
            .and_then(|config| outcome(config.validate())),
        outcome(serde_json::from_str::<DataSchema>(text)),
        outcome(Normalizer::from_json(text)),
        outcome(crate::checkpoint::parse_manifest(
            text,
            2,
            Path::new("<fuzz>"),
        )),
    ]
}

/// The `predict` path from a file to predictions: a long CSV of new sequences read with the
/// schema's feature names, then a prediction for each sequence by a small model.
pub fn predict(data: &[u8]) -> Outcome {
    let predictor = predictor();
    let names: Vec<&str> = predictor
        .schema()
        .feature_names
        .iter()
        .map(String::as_str)
        .collect();
    let sequences = match read_long_sequences_from_reader(data, "id", "time", &names) {
        Ok(sequences) => sequences,
        Err(e) => return vec![Err(e.to_string())],
    };
    let steps: Vec<Vec<Vec<f32>>> = sequences.into_iter().map(|(_, steps)| steps).collect();
    vec![outcome(predictor.predict(&steps))]
}

/// A predictor for two features (`a`, `b`) and three classes, built once.
fn predictor() -> &'static Predictor {
    static PREDICTOR: OnceLock<Predictor> = OnceLock::new();
    PREDICTOR.get_or_init(|| {
        let device = Device::flex();
        let kind = TargetKind::Classification { classes: 3 };
        let data = SequenceDataset::new(
            (0..3)
                .map(|i| burn_rnn_data::SequenceSample {
                    id: format!("s{i}"),
                    values: vec![i as f32, 1.0, 2.0, i as f32],
                    length: 2,
                    target: Target::Class(i),
                })
                .collect(),
            2,
            2,
            kind,
        )
        .and_then(|d| d.with_feature_names(vec!["a".into(), "b".into()]))
        .expect("a valid dataset");
        let normalizer =
            Normalizer::fit(&data, NormalizationKind::ZScore, false).expect("a fitted normaliser");
        let model = SequenceModelConfig::new(RecurrentConfig::new(2, 4), 3)
            .init(&device)
            .expect("a valid model");
        Predictor::new(model, normalizer, DataSchema::of(&data), &device).expect("a predictor")
    })
}
