//! The errors a user sees for bad configurations, shapes, lengths and weight files.

use super::*;

pub(crate) fn expect_err<T>(result: Result<T, ModelError>, words: &[&str]) {
    let Err(e) = result else {
        panic!("expected an error containing {words:?}")
    };
    let message = e.to_string();
    for w in words {
        assert!(
            message.contains(w),
            "error `{message}` should mention `{w}`"
        );
    }
}

#[test]
pub(crate) fn bad_configs_are_rejected_with_the_value_at_fault() {
    let device = Device::flex();
    expect_err(RecurrentConfig::new(0, 4).init(&device), &["d_input"]);
    expect_err(RecurrentConfig::new(3, 0).init(&device), &["d_hidden"]);
    expect_err(
        RecurrentConfig::new(3, 4).with_num_layers(0).init(&device),
        &["num_layers"],
    );
    expect_err(
        RecurrentConfig::new(3, 4).with_dropout(1.0).init(&device),
        &["dropout", "1"],
    );
    expect_err(
        RecurrentConfig::new(3, 4).with_dropout(-0.1).init(&device),
        &["dropout"],
    );
    expect_err(
        SequenceModelConfig::new(RecurrentConfig::new(3, 4), 0).init(&device),
        &["d_output"],
    );
    let normalised = RecurrentConfig::new(3, 4)
        .with_cell(CellKind::Lstm)
        .with_layer_norm(true)
        .init(&device)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    expect_err(
        normalised.save_pytorch(dir.path().join("ln.safetensors")),
        &["layer norm", "PyTorch"],
    );
    let lstm = format!("{}/lstm_2layers.safetensors", fixtures());
    expect_err(normalised.load_pytorch(&lstm), &["layer norm", "PyTorch"]);
    for cell in MINIMAL {
        let minimal = RecurrentConfig::new(3, 4).with_cell(cell);
        let name = cell.name();
        expect_err(
            minimal.clone().with_layer_norm(true).init(&device),
            &["layer_norm", name, "W_hh"],
        );
        expect_err(
            minimal.clone().with_recurrent_dropout(0.2).init(&device),
            &["recurrent_dropout", name, "W_hh"],
        );
        expect_err(
            minimal.clone().with_proj_size(2).init(&device),
            &["proj_size", "LSTM", name],
        );
        let rnn = minimal.init(&device).unwrap();
        let pytorch = dir.path().join("minimal.safetensors");
        expect_err(rnn.save_pytorch(&pytorch), &["PyTorch has no", name]);
        expect_err(rnn.clone().load_pytorch(&lstm), &["PyTorch has no", name]);
        let masks = vec![Tensor::<2>::ones([2, 4], &device)];
        let x = random_input(2, 3, 3, &device);
        expect_err(
            rnn.forward_with_masks(x, None, None, &masks),
            &["recurrent dropout", name],
        );
    }
    expect_err(
        RecurrentConfig::new(3, 4)
            .with_recurrent_dropout(1.0)
            .init(&device),
        &["recurrent_dropout", "[0, 1)", "got 1"],
    );
    expect_err(
        RecurrentConfig::new(3, 4)
            .with_cell(CellKind::Gru)
            .with_proj_size(2)
            .init(&device),
        &["proj_size", "LSTM", "gru"],
    );
    expect_err(
        RecurrentConfig::new(3, 4)
            .with_cell(CellKind::Lstm)
            .with_proj_size(4)
            .init(&device),
        &["proj_size", "smaller than d_hidden (4)", "got 4"],
    );
}

#[test]
pub(crate) fn bad_shapes_and_lengths_are_errors_not_panics() {
    let device = Device::flex();
    let lstm: Recurrent = RecurrentConfig::new(3, 4)
        .with_cell(CellKind::Lstm)
        .init(&device)
        .unwrap();
    let x = random_input(2, 5, 3, &device);
    expect_err(
        lstm.forward(random_input(2, 5, 4, &device), None, None),
        &["input", "[2, 5, 4]"],
    );
    expect_err(
        lstm.forward(x.clone(), None, Some(&[5])),
        &["1 lengths", "batch of 2"],
    );
    expect_err(
        lstm.forward(x.clone(), None, Some(&[5, 6])),
        &["sequence 1", "length 6"],
    );
    expect_err(
        lstm.forward(x.clone(), None, Some(&[0, 5])),
        &["sequence 0", "length 0"],
    );
    let hidden_only = RecurrentState {
        hidden: Tensor::zeros([1, 2, 4], &device),
        cell: None,
    };
    expect_err(
        lstm.forward(x.clone(), Some(hidden_only), None),
        &["cell state"],
    );
    let wrong = RecurrentState {
        hidden: Tensor::zeros([1, 3, 4], &device),
        cell: Some(Tensor::zeros([1, 3, 4], &device)),
    };
    expect_err(
        lstm.forward(x, Some(wrong), None),
        &["initial hidden state", "[1, 3, 4]"],
    );
    let bi = RecurrentConfig::new(3, 4)
        .with_bidirectional(true)
        .init(&device)
        .unwrap();
    expect_err(
        bi.step(Tensor::zeros([2, 3], &device), None),
        &["bidirectional"],
    );
}

/// A model made on an autodiff device without checkpointing, fed an input from one with it
/// (burn's `fork` cannot move a module between the two: they compare equal), gets an error
/// that says what to do, not the panic of the first operation that mixes them.
#[test]
pub(crate) fn mixing_gradient_checkpointing_strategies_is_an_error() {
    let rnn = RecurrentConfig::new(3, 8)
        .init(&Device::flex().autodiff())
        .unwrap();
    let checkpointing = Device::flex().autodiff().gradient_checkpointing();
    let x = random_input(2, 5, 3, &checkpointing).require_grad();
    expect_err(
        rnn.forward(x, None, None),
        &[
            "gradient checkpointing (Balanced)",
            "(Disabled)",
            "make the model on the device",
        ],
    );
}

#[test]
pub(crate) fn mismatched_weight_files_name_the_tensor() {
    let device = Device::flex();
    let path = format!("{}/elman_tanh_3layers.safetensors", fixtures());
    // Fewer layers than the file: the extra layer's tensors are reported.
    expect_err(
        RecurrentConfig::new(3, 5)
            .with_num_layers(2)
            .init(&device)
            .unwrap()
            .load_pytorch(&path),
        &["_l2`", "different configuration"],
    );
    // More layers than the file: the first missing tensor is named.
    expect_err(
        RecurrentConfig::new(3, 5)
            .with_num_layers(4)
            .init(&device)
            .unwrap()
            .load_pytorch(&path),
        &["weight_ih_l3", "missing"],
    );
    // Another hidden size: the shape is reported.
    expect_err(
        RecurrentConfig::new(3, 6)
            .with_num_layers(3)
            .init(&device)
            .unwrap()
            .load_pytorch(&path),
        &["weight_ih_l0", "[5, 3]", "[6, 3]"],
    );
    // A projected LSTM's file into an LSTM without one, and the other way round.
    let projected = format!("{}/lstm_proj_2layers.safetensors", fixtures());
    let lstm = |hidden, proj| {
        RecurrentConfig::new(3, hidden)
            .with_cell(CellKind::Lstm)
            .with_num_layers(2)
            .with_proj_size(proj)
            .init(&device)
            .unwrap()
    };
    let unprojected = format!("{}/lstm_2layers.safetensors", fixtures());
    for (rnn, file, words) in [
        (lstm(5, 0), &projected, ["[20, 3]", "[20, 5]"]),
        (lstm(5, 2), &projected, ["[20, 3]", "[20, 2]"]),
        (lstm(4, 3), &unprojected, ["[16, 4]", "[16, 3]"]),
    ] {
        expect_err(
            rnn.load_pytorch(file),
            &["weight_hh_l0", words[0], words[1]],
        );
    }
    // An LSTM file into a GRU: four gates where three are expected.
    let lstm = format!("{}/lstm_2layers.safetensors", fixtures());
    expect_err(
        RecurrentConfig::new(3, 4)
            .with_cell(CellKind::Gru)
            .with_num_layers(2)
            .init(&device)
            .unwrap()
            .load_pytorch(&lstm),
        &["weight_ih_l0", "[16, 3]", "[12, 3]"],
    );
    expect_err(
        RecurrentConfig::new(3, 4)
            .init(&device)
            .unwrap()
            .load_pytorch("/no/such/file.safetensors"),
        &["/no/such/file.safetensors", "cannot read"],
    );
    let dir = tempfile::tempdir().unwrap();
    let corrupt = dir.path().join("corrupt.safetensors");
    std::fs::write(&corrupt, b"not a tensor file").unwrap();
    expect_err(
        RecurrentConfig::new(3, 4)
            .init(&device)
            .unwrap()
            .load_pytorch(&corrupt),
        &["corrupt.safetensors", "not a valid safetensors file"],
    );
    let model = SequenceModelConfig::new(RecurrentConfig::new(3, 4), 2)
        .init(&device)
        .unwrap();
    let bpk = dir.path().join("model.bpk");
    model.save(&bpk).unwrap();
    let other = SequenceModelConfig::new(RecurrentConfig::new(3, 4).with_num_layers(2), 2);
    expect_err(
        SequenceModel::load(&other, &bpk, &device),
        &["model.bpk", "different configuration"],
    );
    expect_err(
        SequenceModel::load(&other, dir.path().join("none.bpk"), &device),
        &["none.bpk"],
    );
}
