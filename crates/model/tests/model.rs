//! The model against PyTorch, on every backend the build enables: outputs, final states and
//! gradients (fixtures from `tests/fixtures/generate.py`), plus streaming, padding, save/load
//! and the errors a user sees for bad input.

#[path = "model/case.rs"]
mod case;
mod common;
#[path = "model/dropout.rs"]
mod dropout;
#[path = "model/errors.rs"]
mod errors;
#[path = "model/gpu.rs"]
mod gpu;
#[path = "model/norm.rs"]
mod norm;
#[path = "model/packing.rs"]
mod packing;
#[path = "model/precision.rs"]
mod precision;
#[path = "model/pytorch.rs"]
mod pytorch;

use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor, TensorData};
use burn_rnn_model::{
    CellKind, ElmanActivation, ModelError, Recurrent, RecurrentConfig, RecurrentState,
    SequenceModel, SequenceModelConfig, TensorFile,
};
use case::*;
use common::{Backend, assert_close, backends, tolerance, transpose, values};
use pytorch::*;

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
            .flat_map(|cell| [(4, 8), (64, 88)].map(|shape| (cell, shape)))
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

/// Under gradient checkpointing (burn's `Balanced` strategy, which may recompute operations
/// during the backward pass) the fused path equals the step-by-step reference: every cell,
/// stacked, bidirectional and padded, the input part computed inside the steps on flex.
#[test]
fn the_fused_recurrence_equals_the_reference_under_gradient_checkpointing() {
    let device = Device::flex().autodiff().gradient_checkpointing();
    for cell in all_cells() {
        let padded: Vec<usize> = (0..64).map(|b| [6, 3, 1, 5][b % 4]).collect();
        let case = Case::new(&device, cell, 2, true, [64, 6, 40], Some(padded));
        let what = format!("{} under gradient checkpointing", cell.name());
        assert_same(&what, &case.observe(false), &case.observe(true), 2e-5);
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
