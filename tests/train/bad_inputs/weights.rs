//! Weight files: Burnpack and PyTorch safetensors.

use super::*;

/// The cases of this surface.
pub(super) fn cases(fixture: &Fixture) -> Vec<Case> {
    let good_run = fixture.good_run.clone();
    let files = fixture.files.clone();
    let mut cases: Vec<Case> = Vec::new();

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
    cases
}
