//! The model against PyTorch, on every backend the build enables: outputs, final states and
//! gradients (fixtures from `tests/fixtures/generate.py`), plus streaming, padding, save/load
//! and the errors a user sees for bad input.

mod common;

use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor, TensorData};
use burn_rnn_model::{
    CellKind, ElmanActivation, ModelError, Recurrent, RecurrentConfig, RecurrentState,
    SequenceModel, SequenceModelConfig, TensorFile,
};
use common::{Backend, assert_close, backends, tolerance, transpose, values};

/// Where the fixtures are: this crate's `tests/fixtures/pytorch`, or `BURN_RNN_FIXTURES` (a test
/// binary run on another machine, `bench/gpu-run.sh`).
fn fixtures() -> String {
    std::env::var("BURN_RNN_FIXTURES")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/pytorch").into())
}
const CASES: [&str; 16] = [
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
const OUTPUT_TOL: f32 = 1e-5;
const GRAD_TOL: f32 = 1e-4;

/// The recurrent configuration a fixture was generated with (from its metadata).
fn fixture_config(file: &TensorFile) -> RecurrentConfig {
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

fn tensor<const D: usize>(file: &TensorFile, name: &str, device: &Device) -> Tensor<D> {
    let (v, shape) = file.floats(name).unwrap();
    Tensor::from_data(TensorData::new(v, shape), device)
}

fn initial_state(file: &TensorFile, device: &Device) -> Option<RecurrentState> {
    let names = file.names();
    names.iter().any(|n| n == "h0").then(|| RecurrentState {
        hidden: tensor(file, "h0", device).require_grad(),
        cell: names
            .iter()
            .any(|n| n == "c0")
            .then(|| tensor(file, "c0", device)),
    })
}

fn lengths(file: &TensorFile) -> Option<Vec<usize>> {
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
fn check_case(name: &str, backend: Backend, device: &Device) -> (f32, f32) {
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

    // Inference (no autodiff) takes its own path on flex: the native input projection.
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
fn matches_pytorch_outputs_states_and_gradients_on_every_backend() {
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

/// A random input `[B, T, D]` on `device` from a fixed seed.
fn random_input(batch: usize, steps: usize, features: usize, device: &Device) -> Tensor<3> {
    device.seed(7);
    Tensor::random(
        [batch, steps, features],
        burn::tensor::Distribution::Normal(0.0, 1.0),
        device,
    )
}

/// The cells with a recurrent weight `W_hh`.
fn all_cells() -> [CellKind; 5] {
    [
        CellKind::Elman(ElmanActivation::Tanh),
        CellKind::Elman(ElmanActivation::Relu),
        CellKind::Elman(ElmanActivation::Sigmoid),
        CellKind::Lstm,
        CellKind::Gru,
    ]
}

/// The cells whose gates read only the input (a parallel scan over time).
const MINIMAL: [CellKind; 2] = [CellKind::MinGru, CellKind::MinLstm];

/// A network, an input and start states, on which to compare execution paths.
struct Case {
    rnn: Recurrent,
    x: Tensor<3>,
    h0: Tensor<3>,
    c0: Option<Tensor<3>>,
    lengths: Option<Vec<usize>>,
    /// Recurrent dropout's masks, given to both paths.
    masks: Option<Vec<Tensor<2>>>,
}

impl Case {
    /// `layers` of `cell` with `hidden` units, `batch` random sequences of `steps` steps of 3
    /// features and random start states, on `device` (with autodiff).
    fn new(
        device: &Device,
        cell: CellKind,
        layers: usize,
        bidirectional: bool,
        [batch, steps, hidden]: [usize; 3],
        lengths: Option<Vec<usize>>,
    ) -> Self {
        let config = RecurrentConfig::new(3, hidden)
            .with_cell(cell)
            .with_num_layers(layers)
            .with_bidirectional(bidirectional);
        Self::of(device, &config, [batch, steps], lengths)
    }

    /// The stack of `config` (3 input features), `batch` random sequences of `steps` steps and
    /// random start states, on `device` (with autodiff).
    fn of(
        device: &Device,
        config: &RecurrentConfig,
        [batch, steps]: [usize; 2],
        lengths: Option<Vec<usize>>,
    ) -> Self {
        let device = device.clone().autodiff();
        let rnn = config.init(&device).unwrap();
        let x = random_input(batch, steps, 3, &device).require_grad();
        let start = |seed: u64, width: usize| {
            device.seed(seed);
            Tensor::<3>::random(
                [rnn.layers.len(), batch, width],
                burn::tensor::Distribution::Normal(0.0, 0.5),
                &device,
            )
            .require_grad()
        };
        let h0 = start(11, rnn.d_state());
        let c0 = config
            .cell
            .has_cell_state()
            .then(|| start(12, config.d_hidden));
        Self {
            rnn,
            x,
            h0,
            c0,
            lengths,
            masks: None,
        }
    }

    /// The same case with recurrent dropout's masks (drop probability `p`) from a fixed
    /// sequence of numbers: Burn's generator is shared by the tests running in parallel.
    fn with_masks(mut self, p: f32) -> Self {
        let [batch, _, _] = self.x.dims();
        let device = self.x.device();
        let width = self.rnn.d_state();
        let mut state = 12345u64;
        let mut draw = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 40) as f32 / (1u64 << 24) as f32
        };
        let masks = (0..self.rnn.layers.len())
            .map(|_| {
                let kept: Vec<f32> = (0..batch * width)
                    .map(|_| if draw() < p { 0.0 } else { 1.0 / (1.0 - p) })
                    .collect();
                Tensor::from_data(TensorData::new(kept, [batch, width]), &device)
            })
            .collect();
        self.masks = Some(masks);
        self
    }

    /// The same weights, input and start states on `device` (with autodiff).
    fn on(&self, device: &Device) -> Self {
        let device = device.clone().autodiff();
        let copy = |t: &Tensor<3>| Tensor::<3>::from_data(t.to_data(), &device).require_grad();
        Self {
            rnn: self.rnn.clone().fork(&device),
            x: copy(&self.x),
            h0: copy(&self.h0),
            c0: self.c0.as_ref().map(copy),
            lengths: self.lengths.clone(),
            masks: self.masks.as_ref().map(|masks| {
                let copy = |t: &Tensor<2>| Tensor::<2>::from_data(t.to_data(), &device);
                masks.iter().map(copy).collect()
            }),
        }
    }

    /// Outputs, final states and the gradients of the input, of the start states and of every
    /// weight, through [`Recurrent::forward`] or the step-by-step reference.
    fn observe(&self, step_by_step: bool) -> Vec<Vec<f32>> {
        let (rnn, x, lengths) = (&self.rnn, self.x.clone(), self.lengths.as_deref());
        let state = RecurrentState {
            hidden: self.h0.clone(),
            cell: self.c0.clone(),
        };
        let masks = self.masks.as_deref();
        let out = match (step_by_step, masks) {
            (true, masks) => rnn.forward_step_by_step(x, Some(state), lengths, masks),
            (false, Some(masks)) => rnn.forward_with_masks(x, Some(state), lengths, masks),
            (false, None) => rnn.forward(x, Some(state), lengths),
        }
        .unwrap();
        // Fixed loss weights, not random ones: tests running in parallel share the seed, so
        // two draws could differ between the two runs.
        let device = self.x.device();
        let weights = |shape: [usize; 3]| {
            let n = shape.iter().product::<usize>();
            let values = (0..n).map(|i| ((i * 7919) % 101) as f32 / 101.0).collect();
            Tensor::<3>::from_data(TensorData::new(values, shape), &device)
        };
        let mut loss = (out.output.clone() * weights(out.output.dims())).sum()
            + (out.state.hidden.clone() * weights(out.state.hidden.dims())).sum();
        if let Some(c) = &out.state.cell {
            loss = loss + (c.clone() * weights(c.dims())).sum();
        }
        let grads = loss.backward();
        let mut seen = vec![
            values(out.output),
            values(out.state.hidden),
            values(self.x.grad(&grads).unwrap()),
            values(self.h0.grad(&grads).unwrap()),
        ];
        if let (Some(c), Some(c0)) = (out.state.cell, &self.c0) {
            seen.push(values(c));
            seen.push(values(c0.grad(&grads).unwrap()));
        }
        for layer in &rnn.layers {
            seen.push(values(layer.input_weight.val().grad(&grads).unwrap()));
            if let Some(w) = &layer.hidden_weight {
                seen.push(values(w.val().grad(&grads).unwrap()));
            }
            if let Some(projection) = &layer.projection {
                seen.push(values(projection.val().grad(&grads).unwrap()));
            }
            if let Some(norm) = &layer.norm {
                let vectors = [Some(&norm.input_gain), Some(&norm.hidden_gain)];
                let cell = [norm.cell_gain.as_ref(), norm.cell_bias.as_ref()];
                for param in vectors.into_iter().chain(cell).flatten() {
                    seen.push(values(param.val().grad(&grads).unwrap()));
                }
            }
            for bias in [&layer.input_bias, &layer.hidden_bias]
                .into_iter()
                .flatten()
            {
                seen.push(values(bias.val().grad(&grads).unwrap()));
            }
        }
        seen
    }
}

/// Fails unless two observations agree within `tol` relative to their largest value (sums
/// over many sequences reach hundreds).
fn assert_same(what: &str, a: &[Vec<f32>], b: &[Vec<f32>], tol: f32) {
    assert_eq!(a.len(), b.len(), "{what}: observations");
    for (i, (a, b)) in a.iter().zip(b).enumerate() {
        let scale = b.iter().fold(1.0f32, |m, v| m.max(v.abs()));
        assert_close(&format!("{what}, value {i}"), a, b, tol * scale);
    }
}

/// The fused recurrence (one autodiff operation per layer-direction: native loops on flex, the
/// CubeCL kernels on wgpu) against the step-by-step reference that Burn differentiates op by
/// op: outputs, final states and the gradients of the input, every weight and the initial
/// states, for every cell, padded and not, in both directions, with recurrent dropout's masks
/// and without, on every backend. The larger
/// shape runs the native scan on a team of threads (each its own columns, the last panel
/// partial).
#[test]
fn the_fused_recurrence_equals_the_step_by_step_reference() {
    for (backend, device) in backends() {
        for (cell, (batch, hidden)) in all_cells()
            .into_iter()
            .flat_map(|cell| [(4, 8), (64, 72)].map(|shape| (cell, shape)))
        {
            let padded: Vec<usize> = (0..batch).map(|b| [6, 3, 1, 5][b % 4]).collect();
            let variants = [
                (false, None, false),
                (true, Some(padded.clone()), false),
                (true, Some(padded), true),
            ];
            for (bidirectional, lengths, masked) in variants {
                let padded = lengths.is_some();
                let mut case =
                    Case::new(&device, cell, 2, bidirectional, [batch, 6, hidden], lengths);
                if masked {
                    case = case.with_masks(0.3);
                }
                let what = format!(
                    "{} on {backend}, batch {batch}, hidden {hidden}, bidirectional \
                     {bidirectional}, padded {padded}, recurrent dropout {masked}",
                    cell.name(),
                );
                let tol = tolerance(backend, 2e-5);
                assert_same(&what, &case.observe(false), &case.observe(true), tol);
            }
        }
    }
}

/// An LSTM with a projection (`proj_size`) through the fused path against the step-by-step
/// reference, on every backend: stacked (the layer above reads `dirs·P`), bidirectional and
/// padded, with a shape large enough for the native scan's team of threads; and streamed one
/// step at a time.
#[test]
fn a_projected_lstm_equals_the_step_by_step_reference() {
    for (backend, device) in backends() {
        for (batch, hidden, proj) in [(4, 8, 3), (64, 72, 40)] {
            let padded: Vec<usize> = (0..batch).map(|b| [6, 3, 1, 5][b % 4]).collect();
            let variants = [(false, None, false), (true, Some(padded), true)];
            for (bidirectional, lengths, masked) in variants {
                let config = RecurrentConfig::new(3, hidden)
                    .with_cell(CellKind::Lstm)
                    .with_num_layers(2)
                    .with_bidirectional(bidirectional)
                    .with_proj_size(proj);
                let mut case = Case::of(&device, &config, [batch, 6], lengths);
                if masked {
                    case = case.with_masks(0.3);
                }
                let what = format!(
                    "lstm proj {proj} on {backend}, batch {batch}, hidden {hidden}, \
                     bidirectional {bidirectional}, recurrent dropout {masked}"
                );
                assert_eq!(case.rnn.d_output(), proj * config.directions());
                let tol = tolerance(backend, 2e-5);
                assert_same(&what, &case.observe(false), &case.observe(true), tol);
            }
        }
        let rnn = RecurrentConfig::new(3, 6)
            .with_cell(CellKind::Lstm)
            .with_num_layers(2)
            .with_proj_size(2)
            .init(&device)
            .unwrap();
        let x = random_input(3, 5, 3, &device);
        let full = rnn.forward(x.clone(), None, None).unwrap();
        assert_eq!(full.output.dims(), [3, 5, 2]);
        assert_eq!(full.state.hidden.dims(), [2, 3, 2]);
        assert_eq!(full.state.cell.as_ref().unwrap().dims(), [2, 3, 6]);
        let mut state = None;
        let mut outputs = Vec::new();
        for t in 0..5 {
            let (out, next) = rnn
                .step(
                    x.clone().slice([0..3, t..t + 1, 0..3]).reshape([3, 3]),
                    state,
                )
                .unwrap();
            outputs.push(out);
            state = Some(next);
        }
        let tol = tolerance(backend, 1e-6);
        let streamed = values(Tensor::stack::<3>(outputs, 1));
        assert_close("streamed projection", &streamed, &values(full.output), tol);
    }
}

/// On wgpu the fused path runs the CubeCL scan kernels (proved by their launch count), and they
/// give what the tensor scan gives, for every cell and a projected LSTM, on ragged shapes: one
/// step, one sequence, `H` not a multiple of the cube's units, a padded bidirectional stack
/// (with recurrent dropout's masks and without); and over 500 steps against the CPU.
#[test]
fn the_gpu_kernels_equal_the_tensor_scan() {
    let gpus: Vec<_> = backends().into_iter().filter(|(b, _)| b.is_gpu()).collect();
    if gpus.is_empty() {
        eprintln!("no GPU device: the GPU kernels are not tested here");
    }
    for (backend, device) in gpus {
        kernels_equal_the_tensor_scan(backend, &device);
    }
}

fn kernels_equal_the_tensor_scan(backend: Backend, device: &Device) {
    // Every cell, and an LSTM with a projection (`proj_size`: `P` about half of `H`).
    let cells = all_cells().map(|cell| (cell, false));
    for (cell, projected) in cells.into_iter().chain([(CellKind::Lstm, true)]) {
        let lengths = vec![6, 3, 1, 5, 6, 2, 4, 6, 1];
        // Layers, bidirectional, [batch, steps, hidden], lengths, recurrent dropout.
        let shapes = [
            (1, false, [1, 1, 5], None, false),
            (1, false, [3, 7, 40], None, false),
            (2, true, [9, 6, 33], Some(lengths.clone()), false),
            (2, true, [9, 6, 33], Some(lengths), true),
        ];
        let config = |layers: usize, bidirectional: bool, hidden: usize| {
            RecurrentConfig::new(3, hidden)
                .with_cell(cell)
                .with_num_layers(layers)
                .with_bidirectional(bidirectional)
                .with_proj_size(if projected { hidden / 2 + 1 } else { 0 })
        };
        let name = format!(
            "{}{}",
            cell.name(),
            if projected { " projected" } else { "" }
        );
        for (layers, bidirectional, [batch, steps, hidden], lengths, masked) in shapes {
            let config = config(layers, bidirectional, hidden);
            let mut case = Case::of(device, &config, [batch, steps], lengths);
            if masked {
                case = case.with_masks(0.3);
            }
            let before = burn_rnn_model::gpu_kernel_launches();
            let kernels = case.observe(false);
            let launched = burn_rnn_model::gpu_kernel_launches() - before;
            // One forward and one backward launch per layer-direction (other tests may add more).
            let expected = 2 * layers * (1 + bidirectional as usize);
            assert!(
                launched >= expected as u64,
                "{name}: {launched} launches, expected {expected}"
            );
            burn_rnn_model::set_gpu_kernels(false);
            let tensor_scan = case.observe(false);
            burn_rnn_model::set_gpu_kernels(true);
            let what = format!(
                "{name} on {backend} [{batch}, {steps}, {hidden}] layers {layers}, \
                 recurrent dropout {masked}"
            );
            assert_same(&what, &kernels, &tensor_scan, 2e-5);
        }
        // Long sequences: the kernels against the native scan on the CPU.
        let case = Case::of(device, &config(1, false, 33), [2, 500], None);
        let on_cpu = case.on(&Device::flex()).observe(false);
        assert_same(
            &format!("{name} over 500 steps"),
            &case.observe(false),
            &on_cpu,
            1e-4,
        );
    }
}

/// Under layer norm (random gains and biases) the CubeCL kernels run too, forward and backward
/// (proved by their launch count), and give what the tensor scan gives, gains' gradients
/// included: a layer-normalised LSTM, GRU and Elman cell and a projected LSTM; one step, `H`
/// not a multiple of the cube's units and `H` above them (several units per cube unit), a
/// padded bidirectional stack with recurrent dropout's masks; and over 500 steps against the
/// native scan on the CPU.
#[test]
fn the_gpu_kernels_run_layer_norm_as_the_tensor_scan() {
    let gpus: Vec<_> = backends().into_iter().filter(|(b, _)| b.is_gpu()).collect();
    if gpus.is_empty() {
        eprintln!("no GPU device: the GPU kernels' layer norm is not tested here");
    }
    for (backend, device) in gpus {
        layer_norm_kernels_equal_the_tensor_scan(backend, &device);
    }
}

fn layer_norm_kernels_equal_the_tensor_scan(backend: Backend, device: &Device) {
    let cells = [
        (CellKind::Lstm, false),
        (CellKind::Gru, false),
        (CellKind::Elman(ElmanActivation::Tanh), false),
        (CellKind::Lstm, true),
    ];
    for (cell, projected) in cells {
        let lengths = vec![6, 3, 1, 5, 6, 2, 4, 6, 1];
        // Layers, bidirectional, [batch, steps, hidden], lengths, recurrent dropout.
        let shapes = [
            (1, false, [1, 1, 5], None, false),
            (1, false, [3, 7, 40], None, false),
            (1, false, [2, 3, 300], None, false),
            (2, true, [9, 6, 33], Some(lengths), true),
        ];
        let config = |layers: usize, bidirectional: bool, hidden: usize| {
            RecurrentConfig::new(3, hidden)
                .with_cell(cell)
                .with_num_layers(layers)
                .with_bidirectional(bidirectional)
                .with_proj_size(if projected { hidden / 2 + 1 } else { 0 })
                .with_layer_norm(true)
        };
        let case = |layers, bidirectional, shape: [usize; 2], hidden, lengths| {
            let config = config(layers, bidirectional, hidden);
            let mut case = Case::of(device, &config, shape, lengths);
            randomise_norms(&mut case.rnn, &device.clone().autodiff());
            case
        };
        let name = format!(
            "layer-normalised {}{}",
            cell.name(),
            if projected { " projected" } else { "" }
        );
        for (layers, bidirectional, [batch, steps, hidden], lengths, masked) in shapes {
            let mut case = case(layers, bidirectional, [batch, steps], hidden, lengths);
            if masked {
                case = case.with_masks(0.3);
            }
            let before = burn_rnn_model::gpu_kernel_launches();
            let kernels = case.observe(false);
            let launched = burn_rnn_model::gpu_kernel_launches() - before;
            // One forward and one backward launch per layer-direction (other tests may add more).
            let expected = 2 * layers * (1 + bidirectional as usize);
            assert!(
                launched >= expected as u64,
                "{name}: {launched} launches, expected {expected}"
            );
            burn_rnn_model::set_gpu_kernels(false);
            let tensor_scan = case.observe(false);
            burn_rnn_model::set_gpu_kernels(true);
            let what = format!(
                "{name} on {backend} [{batch}, {steps}, {hidden}] layers {layers}, \
                 recurrent dropout {masked}"
            );
            // Each normalisation divides by a block's deviation, which magnifies float32
            // rounding (as in `layer_norm_equals_the_step_by_step_reference`).
            assert_same(&what, &kernels, &tensor_scan, 5e-5);
        }
        // Long sequences: the kernels against the native scan on the CPU.
        let long = case(1, false, [2, 500], 33, None);
        let on_cpu = long.on(&Device::flex()).observe(false);
        assert_same(
            &format!("{name} over 500 steps"),
            &long.observe(false),
            &on_cpu,
            1e-4,
        );
    }
}

#[test]
fn streaming_steps_equal_the_full_forward() {
    for (backend, device) in backends() {
        for cell in all_cells().into_iter().chain(MINIMAL) {
            let rnn = RecurrentConfig::new(3, 6)
                .with_cell(cell)
                .with_num_layers(2)
                .init(&device)
                .unwrap();
            let x = random_input(4, 7, 3, &device);
            let full = rnn.forward(x.clone(), None, None).unwrap();
            let mut state = None;
            let mut steps = Vec::new();
            for t in 0..7 {
                let xt = x.clone().slice([0..4, t..t + 1, 0..3]).reshape([4, 3]);
                let (out, next) = rnn.step(xt, state).unwrap();
                steps.push(out);
                state = Some(next);
            }
            let streamed: Tensor<3> = Tensor::stack(steps, 1);
            let what = format!("{} on {backend}", cell.name());
            let tol = tolerance(backend, 1e-6);
            assert_close(&what, &values(streamed), &values(full.output), tol);
            let state = state.unwrap();
            assert_close(
                &what,
                &values(state.hidden),
                &values(full.state.hidden),
                tol,
            );
        }
    }
}

#[test]
fn a_padded_batch_equals_each_sequence_run_alone() {
    for (backend, device) in backends() {
        for cell in all_cells().into_iter().chain(MINIMAL) {
            for bidirectional in [false, true] {
                let rnn = RecurrentConfig::new(2, 5)
                    .with_cell(cell)
                    .with_num_layers(2)
                    .with_bidirectional(bidirectional)
                    .init(&device)
                    .unwrap();
                let lengths = [6, 2, 4];
                let x = random_input(3, 6, 2, &device);
                let batch = rnn.forward(x.clone(), None, Some(&lengths)).unwrap();
                let what = format!("{} bidirectional={bidirectional} on {backend}", cell.name());
                let tol = tolerance(backend, 1e-6);
                for (b, &len) in lengths.iter().enumerate() {
                    let alone = rnn
                        .forward(x.clone().slice([b..b + 1, 0..len, 0..2]), None, None)
                        .unwrap();
                    let row = batch
                        .output
                        .clone()
                        .slice([b..b + 1, 0..6, 0..rnn.d_output()]);
                    let valid = row.clone().slice([0..1, 0..len, 0..rnn.d_output()]);
                    assert_close(&what, &values(valid), &values(alone.output), tol);
                    if len < 6 {
                        let padded = values(row.slice([0..1, len..6, 0..rnn.d_output()]));
                        assert!(
                            padded.iter().all(|v| *v == 0.0),
                            "{what}: padded outputs are zero"
                        );
                    }
                    let [layers, _, h] = batch.state.hidden.dims();
                    let final_b = batch
                        .state
                        .hidden
                        .clone()
                        .slice([0..layers, b..b + 1, 0..h]);
                    assert_close(&what, &values(final_b), &values(alone.state.hidden), tol);
                }
            }
        }
    }
}

#[test]
fn many_to_one_reads_each_sequence_at_its_last_valid_step() {
    let device = Device::flex();
    let model = SequenceModelConfig::new(RecurrentConfig::new(2, 4).with_cell(CellKind::Gru), 3)
        .init(&device)
        .unwrap();
    let x = random_input(2, 5, 2, &device);
    let lengths = [5, 3];
    let one = model
        .forward_many_to_one(x.clone(), Some(&lengths))
        .unwrap();
    let many = model.forward_many_to_many(x, Some(&lengths)).unwrap();
    assert_eq!(one.dims(), [2, 3]);
    assert_eq!(many.dims(), [2, 5, 3]);
    for (b, &len) in lengths.iter().enumerate() {
        let last = many.clone().slice([b..b + 1, len - 1..len, 0..3]);
        assert_close(
            "last step",
            &values(one.clone().slice([b..b + 1, 0..3])),
            &values(last),
            1e-6,
        );
    }
}

#[test]
fn save_then_load_gives_identical_outputs() {
    let dir = tempfile::tempdir().unwrap();
    for (backend, device) in backends() {
        let cells = all_cells().map(|cell| (cell, 0));
        let minimal = MINIMAL.map(|cell| (cell, 0));
        for (cell, proj_size) in cells
            .into_iter()
            .chain([(CellKind::Lstm, 3)])
            .chain(minimal)
        {
            let layer_norm = proj_size > 0;
            let config = SequenceModelConfig::new(
                RecurrentConfig::new(3, 5)
                    .with_cell(cell)
                    .with_num_layers(2)
                    .with_bidirectional(true)
                    .with_proj_size(proj_size)
                    .with_layer_norm(layer_norm),
                2,
            );
            let model = config.init(&device).unwrap();
            let x = random_input(2, 4, 3, &device);
            let before = values(model.forward_many_to_many(x.clone(), None).unwrap());

            let name = format!("{}-{proj_size}-{backend}", cell.name());
            let burnpack = dir.path().join(format!("{name}.bpk"));
            model.save(&burnpack).unwrap();
            let loaded = SequenceModel::load(&config, &burnpack, &device).unwrap();
            assert_eq!(
                before,
                values(loaded.forward_many_to_many(x.clone(), None).unwrap())
            );

            if layer_norm || !cell.has_hidden_weight() {
                // No PyTorch module has layer norm, minGRU or minLSTM (errors, tested elsewhere).
                continue;
            }
            let torch = dir.path().join(format!("{name}.safetensors"));
            model.save_pytorch(&torch).unwrap();
            let imported = config.init(&device).unwrap().load_pytorch(&torch).unwrap();
            assert_eq!(
                before,
                values(imported.forward_many_to_many(x, None).unwrap())
            );
        }
    }
}

#[test]
fn pytorch_export_uses_pytorch_names_and_layouts() {
    // 2 layers × 2 directions × 4 tensors, and `weight_hr_l{k}` with a projection.
    for (case, count) in [
        ("lstm_bidirectional_initial_state", 16),
        ("lstm_proj_bidirectional_initial_state", 20),
    ] {
        let path = format!("{}/{case}.safetensors", fixtures());
        let file = TensorFile::open(&path).unwrap();
        let rnn = fixture_config(&file)
            .init(&Device::flex())
            .unwrap()
            .load_pytorch(&path)
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("export.safetensors");
        rnn.save_pytorch(&out).unwrap();
        let exported = TensorFile::open(&out).unwrap();
        let mut names = exported.names();
        names.sort();
        assert_eq!(names.len(), count, "{case}: {names:?}");
        for name in names {
            assert_eq!(
                exported.floats(&name).unwrap(),
                file.floats(&name).unwrap(),
                "{case}: {name}"
            );
        }
    }
}

fn expect_err<T>(result: Result<T, ModelError>, words: &[&str]) {
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
fn bad_configs_are_rejected_with_the_value_at_fault() {
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
fn bad_shapes_and_lengths_are_errors_not_panics() {
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

#[test]
fn mismatched_weight_files_name_the_tensor() {
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

#[test]
fn dropout_acts_only_while_training() {
    let device = Device::flex();
    let rnn = RecurrentConfig::new(3, 8)
        .with_num_layers(2)
        .with_dropout(0.5)
        .init(&device.clone().autodiff())
        .unwrap();
    let x = random_input(4, 6, 3, &device.clone().autodiff());
    let a = values(rnn.forward(x.clone(), None, None).unwrap().output);
    let b = values(rnn.forward(x.clone(), None, None).unwrap().output);
    assert_ne!(
        a, b,
        "dropout draws a new mask per forward pass while training"
    );
    let eval = rnn.valid();
    let x = x.inner();
    let c = values(eval.forward(x.clone(), None, None).unwrap().output);
    let d = values(eval.forward(x, None, None).unwrap().output);
    assert_eq!(c, d, "no dropout at inference");
}

/// Recurrent dropout while training: each sequence drops a unit of the state entering `W_hh`
/// for all its steps, so no gradient flows through a dropped unit's recurrent weights. With
/// known masks (batch 1), row `k` of `∂W_hh` is zero exactly where unit `k` is dropped (and
/// `∂h_0[k]` too for Elman and LSTM, whose `h_0` enters only through `W_hh`), on every backend.
/// With the masks `forward` draws, about `p` of the rows are zero: were a mask drawn anew at
/// every step, a row would be zero only if dropped at all 12 steps (`p^12`).
#[test]
fn recurrent_dropout_keeps_one_mask_per_sequence_and_trains_only_kept_units() {
    let (p, hidden) = (0.4, 32);
    for (backend, device) in backends() {
        let train = device.clone().autodiff();
        for cell in [CellKind::default(), CellKind::Lstm, CellKind::Gru] {
            let rnn = RecurrentConfig::new(3, hidden)
                .with_cell(cell)
                .with_recurrent_dropout(p)
                .init(&train)
                .unwrap();
            let width = cell.gates() * hidden;
            let x = random_input(1, 12, 3, &train);
            // The units whose rows of `∂W_hh` (and entries of `∂h0`) are zero.
            let zero_rows = |masks: Option<&[Tensor<2>]>| {
                let start = || Tensor::<3>::ones([1, 1, hidden], &train).require_grad();
                let (h0, c0) = (start(), cell.has_cell_state().then(start));
                let state = Some(RecurrentState {
                    hidden: h0.clone(),
                    cell: c0,
                });
                let out = match masks {
                    Some(masks) => rnn.forward_with_masks(x.clone(), state, None, masks),
                    None => rnn.forward(x.clone(), state, None),
                };
                let grads = out.unwrap().output.sum().backward();
                let w = rnn.layers[0].hidden_weight.as_ref().unwrap().val();
                let gw = values(w.grad(&grads).unwrap());
                let gh0 = values(h0.grad(&grads).unwrap());
                let rows: Vec<bool> = (0..hidden)
                    .map(|k| gw[k * width..(k + 1) * width].iter().all(|g| *g == 0.0))
                    .collect();
                (rows, gh0)
            };
            let kept: Vec<f32> = (0..hidden)
                .map(|k| {
                    if k % 3 == 1 {
                        0.0
                    } else {
                        1.0 / (1.0 - p as f32)
                    }
                })
                .collect();
            let mask = Tensor::<2>::from_data(TensorData::new(kept.clone(), [1, hidden]), &train);
            let (rows, gh0) = zero_rows(Some(&[mask]));
            for k in 0..hidden {
                let what = format!("{} on {backend}, unit {k}", cell.name());
                assert_eq!(
                    rows[k],
                    kept[k] == 0.0,
                    "{what}: ∂W_hh row zero {}",
                    rows[k]
                );
                if cell != CellKind::Gru {
                    assert_eq!(gh0[k] == 0.0, kept[k] == 0.0, "{what}: ∂h0 {}", gh0[k]);
                }
            }
            let dropped: usize = (0..10)
                .map(|_| zero_rows(None).0.into_iter().filter(|&z| z).count())
                .sum();
            let fraction = dropped as f64 / (10 * hidden) as f64;
            assert!(
                (fraction - p).abs() < 0.2,
                "{} on {backend}: {fraction} of the units dropped, expected about {p}",
                cell.name()
            );
        }
    }
}

/// The masks recurrent dropout draws hold 0 and `1/(1 − p)`, about `p` of them 0, mean 1; in
/// inference none is drawn and the output is deterministic, equal to all-kept masks; given
/// masks apply in inference too (Monte-Carlo dropout); masks of the wrong count or shape are
/// errors that say so.
#[test]
fn recurrent_dropout_masks_apply_while_training_or_when_given() {
    let device = Device::flex();
    let train = device.clone().autodiff();
    let p = 0.25;
    let rnn = RecurrentConfig::new(3, 8)
        .with_cell(CellKind::Gru)
        .with_num_layers(2)
        .with_bidirectional(true)
        .with_recurrent_dropout(p)
        .init(&train)
        .unwrap();
    let masks = rnn
        .recurrent_masks(2000, &train)
        .expect("training draws masks");
    assert_eq!(masks.len(), 4);
    let all: Vec<f32> = masks.iter().flat_map(|m| values(m.clone())).collect();
    let kept = 1.0 / (1.0 - p as f32);
    assert!(all.iter().all(|&v| v == 0.0 || (v - kept).abs() < 1e-6));
    let zeros = all.iter().filter(|&&v| v == 0.0).count() as f64 / all.len() as f64;
    let mean = all.iter().map(|&v| v as f64).sum::<f64>() / all.len() as f64;
    assert!((zeros - p).abs() < 0.02, "{zeros} of the units dropped");
    assert!((mean - 1.0).abs() < 0.03, "mean {mean}");

    let x = random_input(2, 5, 3, &train);
    let a = values(rnn.forward(x.clone(), None, None).unwrap().output);
    let b = values(rnn.forward(x.clone(), None, None).unwrap().output);
    assert_ne!(a, b, "a new mask per forward pass while training");

    let eval = rnn.valid();
    let x = x.inner();
    assert!(eval.recurrent_masks(2, &device).is_none());
    let plain = values(eval.forward(x.clone(), None, None).unwrap().output);
    assert_eq!(
        plain,
        values(eval.forward(x.clone(), None, None).unwrap().output)
    );
    let ones = vec![Tensor::<2>::ones([2, 8], &device); 4];
    let all_kept = eval
        .forward_with_masks(x.clone(), None, None, &ones)
        .unwrap();
    assert_close("all kept", &values(all_kept.output), &plain, 1e-6);
    let drawn: Vec<Tensor<2>> = rnn
        .recurrent_masks(2, &train)
        .unwrap()
        .into_iter()
        .map(|m| m.inner())
        .collect();
    let monte_carlo = eval
        .forward_with_masks(x.clone(), None, None, &drawn)
        .unwrap();
    assert_ne!(values(monte_carlo.output), plain);

    expect_err(
        eval.forward_with_masks(x.clone(), None, None, &ones[..3]),
        &["3 recurrent dropout masks", "4 layer-directions"],
    );
    let wrong = vec![Tensor::<2>::ones([2, 7], &device); 4];
    expect_err(
        eval.forward_with_masks(x, None, None, &wrong),
        &["recurrent dropout mask 0", "[2, 8]", "[2, 7]"],
    );
}

/// Gains and biases of every layer norm drawn at random (initially 1 and 0, a special point).
fn randomise_norms(rnn: &mut Recurrent, device: &Device) {
    let random = |param: &Param<Tensor<1>>, seed: u64| {
        device.seed(seed);
        let shape = param.dims();
        let values =
            Tensor::<1>::random(shape, burn::tensor::Distribution::Uniform(0.5, 1.5), device);
        Param::from_tensor(values)
    };
    for (i, layer) in rnn.layers.iter_mut().enumerate() {
        let norm = layer.norm.as_mut().expect("a layer-normalised stack");
        let seed = 100 + 10 * i as u64;
        norm.input_gain = random(&norm.input_gain, seed);
        norm.hidden_gain = random(&norm.hidden_gain, seed + 1);
        norm.cell_gain = norm.cell_gain.as_ref().map(|g| random(g, seed + 2));
        norm.cell_bias = norm.cell_bias.as_ref().map(|b| random(b, seed + 3));
    }
}

/// Layer norm (Ba et al. 2016) through the fused path (the tensor scan: its hand-written
/// backward pass of the normalisations) against the step-by-step reference that Burn
/// differentiates op by op, on every backend and for every cell: outputs, states and the
/// gradients of the input, the start states, every weight and every gain and bias; stacked,
/// bidirectional and padded, with recurrent dropout's masks and an LSTM projection too.
#[test]
fn layer_norm_equals_the_step_by_step_reference() {
    for (backend, device) in backends() {
        let cells = all_cells().map(|cell| (cell, 0));
        for (cell, proj_size) in cells.into_iter().chain([(CellKind::Lstm, 3)]) {
            let lengths = vec![6, 3, 1, 5];
            for (bidirectional, lengths, masked) in
                [(false, None, false), (true, Some(lengths), true)]
            {
                let config = RecurrentConfig::new(3, 8)
                    .with_cell(cell)
                    .with_num_layers(2)
                    .with_bidirectional(bidirectional)
                    .with_proj_size(proj_size)
                    .with_layer_norm(true);
                let mut case = Case::of(&device, &config, [4, 6], lengths);
                randomise_norms(&mut case.rnn, &device.clone().autodiff());
                if masked {
                    case = case.with_masks(0.3);
                }
                let what = format!(
                    "layer-normalised {} (proj {proj_size}) on {backend}, bidirectional \
                     {bidirectional}, recurrent dropout {masked}",
                    cell.name()
                );
                // Each normalisation divides by a block's deviation, which magnifies float32
                // rounding (to 1.6e-5 of the largest value with a 3-wide projected state).
                let tol = tolerance(backend, 5e-5);
                assert_same(&what, &case.observe(false), &case.observe(true), tol);
            }
        }
    }
}

/// A layer-normalised LSTM and GRU against the equations written here with plain tensors and
/// Burn's own `layer_norm` (per gate block), over 4 steps from a random state.
#[test]
fn layer_norm_cells_compute_ba_et_al_equations() {
    use burn::tensor::activation::{sigmoid, tanh};
    use burn::tensor::module::layer_norm;
    for (backend, device) in backends() {
        for cell in [CellKind::Lstm, CellKind::Gru] {
            let (hidden, gates) = (5, cell.gates());
            let mut rnn = RecurrentConfig::new(3, hidden)
                .with_cell(cell)
                .with_layer_norm(true)
                .init(&device)
                .unwrap();
            randomise_norms(&mut rnn, &device);
            let x = random_input(2, 4, 3, &device);
            let h0 = Tensor::<3>::ones([1, 2, hidden], &device) * 0.3;
            let c0 = Tensor::<3>::ones([1, 2, hidden], &device) * -0.2;
            let state = RecurrentState {
                hidden: h0.clone(),
                cell: cell.has_cell_state().then(|| c0.clone()),
            };
            let out = rnn.forward(x.clone(), Some(state), None).unwrap();

            let layer = &rnn.layers[0];
            let norm = layer.norm.as_ref().unwrap();
            // `LN(v)·gain` per gate block of `v` `[2, gates·H]`.
            let normed = |v: Tensor<2>, gain: Tensor<1>| {
                let ones = Tensor::<1>::ones([hidden], &device);
                let blocks = layer_norm(v.reshape([2, gates, hidden]), ones, None, 1e-5);
                blocks.reshape([2, gates * hidden]) * gain.unsqueeze::<2>()
            };
            let bias = |b: &Option<Param<Tensor<1>>>| b.as_ref().unwrap().val().unsqueeze::<2>();
            let (b_ih, b_hh) = (bias(&layer.input_bias), bias(&layer.hidden_bias));
            let block =
                |v: &Tensor<2>, g: usize| v.clone().slice([0..2, g * hidden..(g + 1) * hidden]);
            let mut h = h0.reshape([2, hidden]);
            let mut c = c0.reshape([2, hidden]);
            let mut expected = Vec::new();
            for t in 0..4 {
                let xt = x.clone().slice([0..2, t..t + 1, 0..3]).reshape([2, 3]);
                let xin = normed(xt.matmul(layer.input_weight.val()), norm.input_gain.val())
                    + b_ih.clone();
                let hin = normed(
                    h.clone()
                        .matmul(layer.hidden_weight.as_ref().unwrap().val()),
                    norm.hidden_gain.val(),
                ) + b_hh.clone();
                if cell == CellKind::Lstm {
                    let pre = xin + hin;
                    let (i, f) = (sigmoid(block(&pre, 0)), sigmoid(block(&pre, 1)));
                    let (g, o) = (tanh(block(&pre, 2)), sigmoid(block(&pre, 3)));
                    c = f * c + i * g;
                    let gain = norm.cell_gain.as_ref().unwrap().val();
                    let beta = norm.cell_bias.as_ref().unwrap().val();
                    h = o * tanh(layer_norm(c.clone(), gain, Some(beta), 1e-5));
                } else {
                    let r = sigmoid(block(&xin, 0) + block(&hin, 0));
                    let z = sigmoid(block(&xin, 1) + block(&hin, 1));
                    let n = tanh(block(&xin, 2) + r * block(&hin, 2));
                    h = (z.clone().neg() + 1.0) * n + z * h;
                }
                expected.push(h.clone());
            }
            let what = format!("layer-normalised {} on {backend}", cell.name());
            let expected = values(Tensor::stack::<3>(expected, 1));
            assert_close(
                &what,
                &values(out.output),
                &expected,
                tolerance(backend, 1e-5),
            );
        }
    }
}

/// minGRU and minLSTM (Feng et al. 2024): the parallel scan in log space that `forward` runs
/// against the paper's sequential form that the step-by-step reference runs, on every backend:
/// outputs, states and the gradients of the input, the start states and every weight; stacked,
/// bidirectional and padded; over 600 steps (past two of the scan's chunks of 256), padded and
/// bidirectional, on every backend; and over 1,500 steps on flex.
#[test]
fn minimal_cells_parallel_scan_equals_the_sequential_form() {
    for (backend, device) in backends() {
        for cell in MINIMAL {
            let lengths = vec![6, 3, 1, 5];
            for (bidirectional, lengths) in [(false, None), (true, Some(lengths))] {
                let case = Case::new(&device, cell, 2, bidirectional, [4, 6, 8], lengths);
                let what = format!(
                    "{} on {backend}, bidirectional {bidirectional}",
                    cell.name()
                );
                let tol = tolerance(backend, 2e-5);
                assert_same(&what, &case.observe(false), &case.observe(true), tol);
            }
            // A sequence ending inside the second chunk, and one of one step.
            let lengths = Some(vec![600, 417, 1]);
            let case = Case::new(&device, cell, 1, true, [3, 600, 8], lengths);
            let what = format!("{} on {backend} over 600 steps, padded", cell.name());
            let tol = tolerance(backend, 1e-4);
            assert_same(&what, &case.observe(false), &case.observe(true), tol);
        }
    }
    for cell in MINIMAL {
        let case = Case::new(&Device::flex(), cell, 1, false, [2, 1500, 8], None);
        let what = format!("{} over 1,500 steps", cell.name());
        assert_same(&what, &case.observe(false), &case.observe(true), 1e-4);
    }
}
