//! The CubeCL scan kernels (wgpu here) against the tensor scan, with and without layer norm.

use super::*;

/// On wgpu the fused path runs the CubeCL scan kernels (proved by their launch count), and they
/// give what the tensor scan gives, for every cell and a projected LSTM, on ragged shapes: one
/// step, one sequence, `H` not a multiple of the cube's units, a padded bidirectional stack
/// (with recurrent dropout's masks and without); and over 500 steps against the CPU.
#[test]
pub(crate) fn the_gpu_kernels_equal_the_tensor_scan() {
    let gpus: Vec<_> = backends().into_iter().filter(|(b, _)| b.is_gpu()).collect();
    if gpus.is_empty() {
        eprintln!("no GPU device: the GPU kernels are not tested here");
    }
    for (backend, device) in gpus {
        kernels_equal_the_tensor_scan(backend, &device);
    }
}

pub(crate) fn kernels_equal_the_tensor_scan(backend: Backend, device: &Device) {
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
            let what = format!(
                "{name} on {backend} [{batch}, {steps}, {hidden}] layers {layers}, \
                 recurrent dropout {masked}"
            );
            let layer_directions = layers * (1 + bidirectional as usize);
            kernels_equal_tensor_scan(&case, &what, layer_directions, 2e-5);
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
pub(crate) fn the_gpu_kernels_run_layer_norm_as_the_tensor_scan() {
    let gpus: Vec<_> = backends().into_iter().filter(|(b, _)| b.is_gpu()).collect();
    if gpus.is_empty() {
        eprintln!("no GPU device: the GPU kernels' layer norm is not tested here");
    }
    for (backend, device) in gpus {
        layer_norm_kernels_equal_the_tensor_scan(backend, &device);
    }
}

pub(crate) fn layer_norm_kernels_equal_the_tensor_scan(backend: Backend, device: &Device) {
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
            // An LSTM's reductions leave no room for a unit per hidden unit in 32 KiB of shared
            // memory (lavapipe's): the plan takes fewer units rather than the tensor scan.
            (1, false, [1, 2, 800], None, false),
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
            let what = format!(
                "{name} on {backend} [{batch}, {steps}, {hidden}] layers {layers}, \
                 recurrent dropout {masked}"
            );
            // Each normalisation divides by a block's deviation, which magnifies float32
            // rounding (as in `layer_norm_equals_the_step_by_step_reference`).
            let layer_directions = layers * (1 + bidirectional as usize);
            kernels_equal_tensor_scan(&case, &what, layer_directions, 5e-5);
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

/// Runs `case` through the GPU kernels, checking that each of its `layer_directions` launched
/// its forward and backward kernel, and through the tensor scan, and compares the two within
/// `tolerance`.
fn kernels_equal_tensor_scan(case: &Case, what: &str, layer_directions: usize, tolerance: f32) {
    let before = burn_rnn_model::gpu_kernel_launches();
    let kernels = case.observe(false);
    let launched = burn_rnn_model::gpu_kernel_launches() - before;
    // Other tests running at the same time may add launches, never remove them.
    let expected = 2 * layer_directions as u64;
    assert!(
        launched >= expected,
        "{what}: {launched} launches, expected {expected}"
    );
    burn_rnn_model::set_gpu_kernels(false);
    let tensor_scan = case.observe(false);
    burn_rnn_model::set_gpu_kernels(true);
    assert_same(what, &kernels, &tensor_scan, tolerance);
}
