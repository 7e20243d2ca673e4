//! A network, an input and start states on which the execution paths are compared, and the
//! helpers that build and compare them.

use super::*;

/// A random input `[B, T, D]` on `device` from a fixed seed.
pub(crate) fn random_input(
    batch: usize,
    steps: usize,
    features: usize,
    device: &Device,
) -> Tensor<3> {
    device.seed(7);
    Tensor::random(
        [batch, steps, features],
        burn::tensor::Distribution::Normal(0.0, 1.0),
        device,
    )
}

/// The cells with a recurrent weight `W_hh`.
pub(crate) fn all_cells() -> [CellKind; 5] {
    [
        CellKind::Elman(ElmanActivation::Tanh),
        CellKind::Elman(ElmanActivation::Relu),
        CellKind::Elman(ElmanActivation::Sigmoid),
        CellKind::Lstm,
        CellKind::Gru,
    ]
}

/// The cells whose gates read only the input (a parallel scan over time).
pub(crate) const MINIMAL: [CellKind; 2] = [CellKind::MinGru, CellKind::MinLstm];

/// A network, an input and start states, on which to compare execution paths.
pub(crate) struct Case {
    pub(crate) rnn: Recurrent,
    pub(crate) x: Tensor<3>,
    pub(crate) h0: Tensor<3>,
    pub(crate) c0: Option<Tensor<3>>,
    pub(crate) lengths: Option<Vec<usize>>,
    /// Recurrent dropout's masks, given to both paths.
    pub(crate) masks: Option<Vec<Tensor<2>>>,
}

impl Case {
    /// `layers` of `cell` with `hidden` units, `batch` random sequences of `steps` steps of 3
    /// features and random start states, on `device` (with autodiff).
    pub(crate) fn new(
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
    pub(crate) fn of(
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
    pub(crate) fn with_masks(mut self, p: f32) -> Self {
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
    pub(crate) fn on(&self, device: &Device) -> Self {
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
    pub(crate) fn observe(&self, step_by_step: bool) -> Vec<Vec<f32>> {
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
pub(crate) fn assert_same(what: &str, a: &[Vec<f32>], b: &[Vec<f32>], tol: f32) {
    assert_eq!(a.len(), b.len(), "{what}: observations");
    for (i, (a, b)) in a.iter().zip(b).enumerate() {
        let scale = b.iter().fold(1.0f32, |m, v| m.max(v.abs()));
        assert_close(&format!("{what}, value {i}"), a, b, tol * scale);
    }
}

/// Gains and biases of every layer norm drawn at random (initially 1 and 0, a special point).
pub(crate) fn randomise_norms(rnn: &mut Recurrent, device: &Device) {
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
