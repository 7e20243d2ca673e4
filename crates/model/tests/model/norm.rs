//! Layer norm inside the recurrence against the step-by-step reference and Ba et al.'s equations.

use super::*;

/// Layer norm (Ba et al. 2016) through the fused path (the tensor scan: its hand-written
/// backward pass of the normalisations) against the step-by-step reference that Burn
/// differentiates op by op, on every backend and for every cell: outputs, states and the
/// gradients of the input, the start states, every weight and every gain and bias; stacked,
/// bidirectional and padded, with recurrent dropout's masks and an LSTM projection too.
#[test]
pub(crate) fn layer_norm_equals_the_step_by_step_reference() {
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
pub(crate) fn layer_norm_cells_compute_ba_et_al_equations() {
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
