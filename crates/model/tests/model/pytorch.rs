//! Parity with PyTorch: the fixtures of `tests/fixtures/generate.py` (outputs, final states and
//! gradients) on every backend.

use super::*;

/// Where the fixtures are: this crate's `tests/fixtures/pytorch`, or `BURN_RNN_FIXTURES` (a test
/// binary run on another machine, `bench/gpu-run.sh`).
pub(crate) fn fixtures() -> String {
    std::env::var("BURN_RNN_FIXTURES")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/pytorch").into())
}
pub(crate) const CASES: [&str; 16] = [
    "elman_tanh_1layer",
    "elman_relu_1layer",
    "elman_tanh_3layers",
    "elman_relu_3layers",
    "elman_tanh_bidirectional",
    "elman_tanh_initial_state",
    "lstm_2layers",
    "lstm_bidirectional_initial_state",
    "gru_2layers",
    "gru_bidirectional_initial_state",
    "elman_tanh_padded",
    "lstm_padded",
    "gru_padded",
    "lstm_proj_2layers",
    "lstm_proj_bidirectional_initial_state",
    "lstm_proj_padded",
];
/// Stated tolerances (f32, absolute): outputs and states, gradients.
pub(crate) const OUTPUT_TOL: f32 = 1e-5;
pub(crate) const GRAD_TOL: f32 = 1e-4;

/// The recurrent configuration a fixture was generated with (from its metadata).
pub(crate) fn fixture_config(file: &TensorFile) -> RecurrentConfig {
    let meta: serde_json::Value =
        serde_json::from_str(&file.metadata()["config"]).expect("fixture metadata is JSON");
    let cell = match (
        meta["mode"].as_str().unwrap(),
        meta["nonlinearity"].as_str().unwrap(),
    ) {
        ("rnn", "tanh") => CellKind::Elman(ElmanActivation::Tanh),
        ("rnn", "relu") => CellKind::Elman(ElmanActivation::Relu),
        ("lstm", _) => CellKind::Lstm,
        ("gru", _) => CellKind::Gru,
        other => panic!("unknown fixture mode {other:?}"),
    };
    let int = |k: &str| meta[k].as_u64().unwrap() as usize;
    RecurrentConfig::new(int("d_input"), int("d_hidden"))
        .with_cell(cell)
        .with_num_layers(int("num_layers"))
        .with_bidirectional(meta["bidirectional"].as_bool().unwrap())
        .with_proj_size(meta["proj_size"].as_u64().unwrap_or(0) as usize)
}

pub(crate) fn tensor<const D: usize>(file: &TensorFile, name: &str, device: &Device) -> Tensor<D> {
    let (v, shape) = file.floats(name).unwrap();
    Tensor::from_data(TensorData::new(v, shape), device)
}

pub(crate) fn initial_state(file: &TensorFile, device: &Device) -> Option<RecurrentState> {
    let names = file.names();
    names.iter().any(|n| n == "h0").then(|| RecurrentState {
        hidden: tensor(file, "h0", device).require_grad(),
        cell: names
            .iter()
            .any(|n| n == "c0")
            .then(|| tensor(file, "c0", device)),
    })
}

pub(crate) fn lengths(file: &TensorFile) -> Option<Vec<usize>> {
    file.names().iter().any(|n| n == "lengths").then(|| {
        file.integers("lengths")
            .unwrap()
            .into_iter()
            .map(|l| l as usize)
            .collect()
    })
}

/// Checks one fixture on one backend; returns the largest difference seen in the outputs and
/// states, and in the gradients.
pub(crate) fn check_case(name: &str, backend: Backend, device: &Device) -> (f32, f32) {
    let path = format!("{}/{name}.safetensors", fixtures());
    let file = TensorFile::open(&path).unwrap();
    let config = fixture_config(&file);
    let plain = device.clone();
    let device = device.clone().autodiff();
    let rnn = config.init(&device).unwrap().load_pytorch(&path).unwrap();

    let input: Tensor<3> = tensor(&file, "input", &device).require_grad();
    let state = initial_state(&file, &device);
    let lengths = lengths(&file);
    let out = rnn
        .forward(input.clone(), state.clone(), lengths.as_deref())
        .unwrap();

    let what = |t: &str| format!("{name} on {backend}: {t}");
    let tol = tolerance(backend, OUTPUT_TOL);
    let mut worst = (0.0f32, 0.0f32);
    worst.0 = worst.0.max(assert_close(
        &what("output"),
        &values(out.output.clone()),
        &file.floats("output").unwrap().0,
        tol,
    ));
    worst.0 = worst.0.max(assert_close(
        &what("h_n"),
        &values(out.state.hidden.clone()),
        &file.floats("h_n").unwrap().0,
        tol,
    ));
    if let Some(c) = &out.state.cell {
        worst.0 = worst.0.max(assert_close(
            &what("c_n"),
            &values(c.clone()),
            &file.floats("c_n").unwrap().0,
            tol,
        ));
    }

    // Inference (no autodiff) takes its own path on flex: the input part computed in the step.
    let inference = rnn
        .valid()
        .forward(
            tensor(&file, "input", &plain),
            state.clone().map(|s| RecurrentState {
                hidden: s.hidden.inner(),
                cell: s.cell.map(Tensor::inner),
            }),
            lengths.as_deref(),
        )
        .unwrap();
    worst.0 = worst.0.max(assert_close(
        &what("inference output"),
        &values(inference.output),
        &file.floats("output").unwrap().0,
        tol,
    ));
    worst.0 = worst.0.max(assert_close(
        &what("inference h_n"),
        &values(inference.state.hidden),
        &file.floats("h_n").unwrap().0,
        tol,
    ));
    if let Some(c) = inference.state.cell {
        let c_n = file.floats("c_n").unwrap().0;
        worst.0 = worst
            .0
            .max(assert_close(&what("inference c_n"), &values(c), &c_n, tol));
    }

    // The same scalar loss as the script: every output weighted by fixed random numbers.
    let mut loss = (out.output * tensor::<3>(&file, "loss.output_weight", &device)).sum()
        + (out.state.hidden * tensor::<3>(&file, "loss.hidden_weight", &device)).sum();
    if let Some(c) = out.state.cell {
        loss = loss + (c * tensor::<3>(&file, "loss.cell_weight", &device)).sum();
    }
    assert_close(
        &what("loss"),
        &values(loss.clone()),
        &file.floats("loss").unwrap().0,
        tol * 10.0,
    );
    let grads = loss.backward();

    let gtol = tolerance(backend, GRAD_TOL);
    let grad = |t: Tensor<2>| values(t.grad(&grads).expect("weight has a gradient"));
    worst.1 = worst.1.max(assert_close(
        &what("grad input"),
        &values(input.grad(&grads).unwrap()),
        &file.floats("grad.input").unwrap().0,
        gtol,
    ));
    let dirs = config.directions();
    for (index, layer) in rnn.layers.iter().enumerate() {
        let suffix = if index % dirs == 1 {
            format!("_l{}_reverse", index / dirs)
        } else {
            format!("_l{}", index / dirs)
        };
        let matrices = [
            ("weight_ih", Some(&layer.input_weight)),
            ("weight_hh", layer.hidden_weight.as_ref()),
            ("weight_hr", layer.projection.as_ref()),
        ];
        for (base, param) in matrices.into_iter().filter_map(|(b, p)| Some((b, p?))) {
            let [rows, cols] = param.dims();
            let ours = transpose(&grad(param.val()), rows, cols);
            let key = format!("grad.{base}{suffix}");
            let diff = assert_close(&what(&key), &ours, &file.floats(&key).unwrap().0, gtol);
            worst.1 = worst.1.max(diff);
        }
        for (base, param) in [
            ("bias_ih", &layer.input_bias),
            ("bias_hh", &layer.hidden_bias),
        ] {
            let param = param.as_ref().unwrap();
            let ours = values(param.val().grad(&grads).unwrap());
            let key = format!("grad.{base}{suffix}");
            let diff = assert_close(&what(&key), &ours, &file.floats(&key).unwrap().0, gtol);
            worst.1 = worst.1.max(diff);
        }
    }
    worst
}

#[test]
pub(crate) fn matches_pytorch_outputs_states_and_gradients_on_every_backend() {
    for (backend, device) in backends() {
        let launches = burn_rnn_model::gpu_kernel_launches();
        for case in CASES {
            let (outputs, gradients) = check_case(case, backend, &device);
            eprintln!(
                "{case} on {backend}: outputs and states within {outputs:.1e}, gradients \
                 within {gradients:.1e}"
            );
        }
        if backend.is_gpu() {
            // Each case ran its scans forward and backward as kernels, not the tensor scan.
            let launched = burn_rnn_model::gpu_kernel_launches() - launches;
            assert!(
                launched >= 2 * CASES.len() as u64,
                "{launched} kernel launches"
            );
        }
        eprintln!("{backend}: {} PyTorch cases match", CASES.len());
    }
}
