//! Looking inside recurrent training, for the vanishing and exploding gradients (docs/design.md):
//! how large ∂loss/∂h is k steps back in time, an LSTM's forget-gate bias, and a plain training
//! loop that records every step's loss (for models whose weights were set by hand, and for
//! optimisers [`train`](crate::train) does not use, such as plain SGD).
//!
//! Every function here runs on the device its tensors or models live on; gradients need an
//! autodiff device (`device.autodiff()`). None of them reads a parameter it does not need:
//! Burn initialises parameters when first read, so reading one early would change the order in
//! which a seeded device draws the others.

use burn::data::dataloader::batcher::Batcher;
use burn::module::{Module, Param};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor, TensorData};
use burn_rnn_data::{BatchTargets, SequenceBatcher, SequenceDataset, TargetKind};
use burn_rnn_model::{CellKind, ElmanActivation, Recurrent, RecurrentConfig, SequenceModel};

use crate::error::{Result, TrainError};
use crate::plot::Series;
use crate::predict::read_floats;

/// ‖∂loss/∂h_{T−k}‖ / ‖∂loss/∂h_T‖ for k = 0..=T: how much of the gradient at the last hidden
/// state reaches the state k steps back. `recurrent` is stepped over `inputs` (T tensors of
/// `[1, d_input]`, batch 1) from a zero state, and loss = Σ h_T / √H. The gradient at each
/// state is read by adding a zero "probe" that requires a gradient to it (`h_t + p_t`) and
/// asking autodiff for ∂loss/∂p_t. Errors on no inputs or a device without autodiff.
pub fn hidden_gradient_norms(recurrent: &Recurrent, inputs: Vec<Tensor<2>>) -> Result<Vec<f64>> {
    let device = inputs
        .first()
        .ok_or_else(|| TrainError::InvalidInput("no input steps to follow back".into()))?
        .device();
    if !device.is_autodiff() {
        return Err(TrainError::InvalidInput(
            "gradients need an autodiff device (`device.autodiff()`)".into(),
        ));
    }
    let shape = [1, 1, recurrent.d_state()];
    let mut state = recurrent.zero_state(1, &device);
    let mut probes = Vec::with_capacity(inputs.len() + 1);
    for input in inputs {
        let probe = Tensor::<3>::zeros(shape, &device).require_grad();
        state.hidden = state.hidden + probe.clone();
        probes.push(probe);
        state = recurrent.step(input, Some(state))?.1;
    }
    let probe = Tensor::<3>::zeros(shape, &device).require_grad();
    let loss = (state.hidden + probe.clone()).sum() / (recurrent.d_state() as f64).sqrt();
    probes.push(probe);
    let grads = loss.backward();
    let mut norms = Vec::with_capacity(probes.len());
    for probe in probes.iter().rev() {
        let grad = probe
            .grad(&grads)
            .ok_or_else(|| TrainError::InvalidInput("no gradient reached a hidden state".into()))?;
        norms.push(l2_norm(&read_floats(grad)?));
    }
    let last = norms[0];
    Ok(norms.into_iter().map(|g| g / last).collect())
}

/// A named curve of [`hidden_gradient_norms`]: `norms[k]` = ‖∂loss/∂h_{T−k}‖ / ‖∂loss/∂h_T‖.
#[derive(Debug, Clone, PartialEq)]
pub struct GradientCurve {
    /// Which network (a chart's legend).
    pub name: String,
    /// The relative norm at each step back, from k = 0.
    pub norms: Vec<f64>,
}

impl GradientCurve {
    /// The smallest and largest norm from `from` steps back on (the whole curve when `from` is
    /// past its end).
    pub fn range(&self, from: usize) -> (f64, f64) {
        let norms = self.norms.get(from..).unwrap_or(&self.norms);
        let low = norms.iter().copied().fold(f64::INFINITY, f64::min);
        (low, norms.iter().copied().fold(0.0, f64::max))
    }

    /// The curve as a chart line of `(k, norm)`, leaving out norms a log scale cannot show
    /// (zero, infinite, NaN).
    pub fn series(&self) -> Series {
        let points = self.norms.iter().enumerate().map(|(k, &g)| (k as f64, g));
        let shown = points.filter(|(_, g)| g.is_finite() && *g > 0.0).collect();
        Series::line(self.name.clone(), shown)
    }
}

/// The textbook case: one ReLU unit without bias, `h_t = relu(w·h_{t−1} + x_t)`, fed 1 at the
/// first of `steps` steps and 0 after. For `w > 0` every pre-activation is positive, ReLU is
/// the identity, and [`hidden_gradient_norms`] gives exactly `w^k`: it explodes for `w > 1`
/// and vanishes for `w < 1`.
pub fn relu_unit_gradient_norms(w: f32, steps: usize, device: &Device) -> Result<Vec<f64>> {
    let mut recurrent = RecurrentConfig::new(1, 1)
        .with_cell(CellKind::Elman(ElmanActivation::Relu))
        .with_bias(false)
        .init(device)?;
    recurrent.layers[0].hidden_weight = Some(param(vec![w], [1, 1], device));
    recurrent.layers[0].input_weight = param(vec![1.0], [1, 1], device);
    let inputs = (0..steps)
        .map(|t| Tensor::from_data(TensorData::new(vec![f32::from(t == 0)], [1, 1]), device))
        .collect();
    hidden_gradient_norms(&recurrent, inputs)
}

/// A freshly initialised LSTM of one input and `hidden` units, its forget-gate bias set to
/// `forget_bias` ([`set_forget_bias`]), fed `inputs` one value per step: what
/// [`hidden_gradient_norms`] gives for it. The forget gate, not a fixed weight, scales its
/// gradient at each step back.
pub fn lstm_gradient_norms(
    hidden: usize,
    forget_bias: f32,
    inputs: &[f32],
    device: &Device,
) -> Result<Vec<f64>> {
    let mut recurrent = RecurrentConfig::new(1, hidden)
        .with_cell(CellKind::Lstm)
        .init(device)?;
    set_forget_bias(&mut recurrent, forget_bias)?;
    let inputs = inputs
        .iter()
        .map(|&x| Tensor::from_data(TensorData::new(vec![x], [1, 1]), device))
        .collect();
    hidden_gradient_norms(&recurrent, inputs)
}

/// A `[rows, cols]` parameter from row-major values.
fn param(values: Vec<f32>, shape: [usize; 2], device: &Device) -> Param<Tensor<2>> {
    Param::from_tensor(Tensor::from_data(TensorData::new(values, shape), device))
}

/// Sets the input bias of the gate that keeps the state, in every layer, so that the cell starts
/// by remembering: `bias` for an LSTM's forget gate (block 1 of PyTorch's `i, f, g, o`) and a
/// GRU's update gate `z` (block 1 of `r, z, n`: `h_t = (1 − z)·n + z·h_{t-1}`), `−bias` for
/// minGRU's `z` (block 0: `h_t = (1 − z)·h_{t-1} + z·h̃`); for minLSTM, whose gates are
/// normalised (`f/(f + i)`), `bias` for `f` (block 0) and `−bias` for `i` (block 1), which keep
/// exactly `σ(bias)`. A bias of 3 keeps about `σ(3) ≈ 0.95` of the state at each step at the
/// start, "remember unless told otherwise", the usual LSTM initialisation. Errors for Elman
/// cells (no gate) or a stack without biases.
pub fn set_forget_bias(recurrent: &mut Recurrent, bias: f32) -> Result<()> {
    let blocks: &[(usize, f32)] = match recurrent.cell {
        CellKind::Lstm | CellKind::Gru => &[(1, bias)],
        CellKind::MinLstm => &[(0, bias), (1, -bias)],
        CellKind::MinGru => &[(0, -bias)],
        CellKind::Elman(_) => {
            return Err(TrainError::InvalidInput(format!(
                "a {} cell has no gate that keeps its state",
                recurrent.cell.name()
            )));
        }
    };
    let (h, width) = (
        recurrent.d_hidden,
        recurrent.cell.gates() * recurrent.d_hidden,
    );
    for layer in &mut recurrent.layers {
        let old = layer
            .input_bias
            .as_ref()
            .ok_or_else(|| TrainError::InvalidInput("the stack was built without biases".into()))?
            .val();
        let device = old.device();
        let mut values = read_floats(old)?;
        for &(block, bias) in blocks {
            values[block * h..(block + 1) * h].fill(bias);
        }
        layer.input_bias = Some(Param::from_tensor(Tensor::from_data(
            TensorData::new(values, [width]),
            &device,
        )));
    }
    Ok(())
}

/// Sets the recurrent weight `W_hh` of every layer of an Elman network to `scale·I` (with
/// `scale = 1` and ReLU, Le et al.'s IRNN initialisation; with `scale = 2` every direction of
/// the state doubles at each step, and the gradient explodes). Errors for gated cells, whose
/// `W_hh` holds one block per gate.
pub fn set_identity_recurrence(recurrent: &mut Recurrent, scale: f32) -> Result<()> {
    if recurrent.cell.gates() != 1 {
        return Err(TrainError::InvalidInput(format!(
            "a scaled identity is an Elman network's recurrent weight; this is a {} cell",
            recurrent.cell.name()
        )));
    }
    let h = recurrent.d_hidden;
    for layer in &mut recurrent.layers {
        let device = layer.input_weight.lazy_device();
        let identity: Vec<f32> = (0..h * h)
            .map(|i| if i % (h + 1) == 0 { scale } else { 0.0 })
            .collect();
        layer.hidden_weight = Some(param(identity, [h, h], &device));
    }
    Ok(())
}

/// The losses of a run of [`fit_classifier`]. Its `Display` sums it up: `loss 6.931e-1 at
/// step 1, 1.234e-2 at step 60, finite throughout (largest 6.931e-1)`, or `loss 6.931e-1 at
/// step 1, no longer finite at step 3`.
#[derive(Debug, Clone, PartialEq)]
pub struct LossTrace {
    /// The training loss of each step, up to and including the first non-finite one.
    pub losses: Vec<f64>,
    /// The first step (1-based) whose loss was no longer finite; the run stopped there.
    pub diverged_at: Option<usize>,
}

impl LossTrace {
    /// `(step, loss)` points of the finite losses (steps from 1), for a chart.
    pub fn points(&self) -> Vec<(f64, f64)> {
        let points = self
            .losses
            .iter()
            .enumerate()
            .map(|(i, &l)| ((i + 1) as f64, l));
        points.filter(|(_, l)| l.is_finite()).collect()
    }
}

impl std::fmt::Display for LossTrace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let first = self.losses.first().copied().unwrap_or(f64::NAN);
        match self.diverged_at {
            Some(step) => write!(
                f,
                "loss {first:.3e} at step 1, no longer finite at step {step}"
            ),
            None => write!(
                f,
                "loss {first:.3e} at step 1, {:.3e} at step {}, finite throughout (largest {:.3e})",
                self.losses.last().copied().unwrap_or(f64::NAN).abs(),
                self.losses.len(),
                self.losses.iter().copied().fold(0.0, f64::max),
            ),
        }
    }
}

/// Trains a many-to-one classifier with a plain loop: `steps` optimiser steps (cross-entropy,
/// learning rate `learning_rate`) on batches of `batch_size` sequences of `data` taken in order,
/// wrapping around at the end (`steps = epochs × ⌈N / batch_size⌉` makes epochs). No shuffling,
/// normalisation, validation or checkpoints, unlike [`train`](crate::train). Returns the
/// trained model and every step's loss; stops at the first loss that is not finite. `model`
/// must live on an autodiff device; errors for data without class targets.
pub fn fit_classifier(
    mut model: SequenceModel,
    data: &SequenceDataset,
    optimizer: &mut ModuleOptimizer,
    learning_rate: f64,
    steps: usize,
    batch_size: usize,
) -> Result<(SequenceModel, LossTrace)> {
    if batch_size == 0 {
        return Err(TrainError::InvalidInput(
            "batch_size must be at least 1".into(),
        ));
    }
    let device = model.head.weight.lazy_device();
    let loss_fn = CrossEntropyLossConfig::new().init(&device);
    let batches = data.len().div_ceil(batch_size);
    let mut losses = Vec::with_capacity(steps);
    for step in 0..steps {
        let start = (step % batches) * batch_size;
        let (inputs, lengths, classes) =
            class_batch(data, start..(start + batch_size).min(data.len()), &device)?;
        let logits = model.forward_many_to_one(inputs, lengths.as_deref())?;
        let loss = loss_fn.forward(logits, classes);
        let value = f64::from(read_floats(loss.clone())?[0]);
        losses.push(value);
        if !value.is_finite() {
            let trace = LossTrace {
                losses,
                diverged_at: Some(step + 1),
            };
            return Ok((model, trace));
        }
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optimizer.step(learning_rate, model, grads);
    }
    let trace = LossTrace {
        losses,
        diverged_at: None,
    };
    Ok((model, trace))
}

/// The share of `data`'s sequences, in [0, 1], whose class is the classifier's most likely one
/// (the first on a tie), all sequences in one batch, without autodiff.
pub fn classifier_accuracy(model: &SequenceModel, data: &SequenceDataset) -> Result<f64> {
    let model = model.valid();
    let device = model.head.weight.lazy_device();
    let (inputs, lengths, _) = class_batch(data, 0..data.len(), &device)?;
    let logits = read_floats(model.forward_many_to_one(inputs, lengths.as_deref())?)?;
    let (_, truth) = crate::dataset_targets(data);
    let correct = logits
        .chunks(model.d_output())
        .zip(&truth)
        .filter(|(row, class)| first_argmax(row) == **class)
        .count();
    Ok(correct as f64 / data.len() as f64)
}

/// Sequences `range` of a classification dataset as inputs `[B, T, D]`, their lengths (`None`
/// when every sequence is whole, the unmasked path) and their classes `[B]`.
fn class_batch(
    data: &SequenceDataset,
    range: std::ops::Range<usize>,
    device: &Device,
) -> Result<(Tensor<3>, Option<Vec<usize>>, Tensor<1, burn::tensor::Int>)> {
    if !matches!(data.target_kind(), TargetKind::Classification { .. }) {
        return Err(TrainError::InvalidInput(format!(
            "a classifier needs class targets; the data has {:?} targets",
            data.target_kind()
        )));
    }
    let batch = SequenceBatcher::for_dataset(data).batch(data.samples()[range].to_vec(), device);
    let BatchTargets::Classes(classes) = batch.targets else {
        unreachable!("class targets were checked above");
    };
    let whole = batch.lengths.iter().all(|&l| l == data.num_steps());
    Ok((batch.inputs, (!whole).then_some(batch.lengths), classes))
}

fn first_argmax(values: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in values.iter().enumerate() {
        if v > values[best] {
            best = i;
        }
    }
    best
}

fn l2_norm(values: &[f32]) -> f64 {
    values
        .iter()
        .map(|&v| f64::from(v).powi(2))
        .sum::<f64>()
        .sqrt()
}

#[cfg(test)]
mod tests {
    use burn::optim::{AdamConfig, SgdConfig};
    use burn_rnn_data::MemoryTaskConfig;
    use burn_rnn_model::SequenceModelConfig;

    use super::*;

    fn device() -> Device {
        Device::flex().autodiff()
    }

    #[test]
    fn one_relu_unit_multiplies_the_gradient_by_w_per_step() {
        for w in [2.0f32, 0.5] {
            let norms = relu_unit_gradient_norms(w, 10, &device()).unwrap();
            assert_eq!(norms.len(), 11);
            for (k, g) in norms.iter().enumerate() {
                let exact = f64::from(w).powi(k as i32);
                assert!((g - exact).abs() < 1e-5 * exact, "k = {k}: {g} vs {exact}");
            }
        }
        let err = relu_unit_gradient_norms(2.0, 3, &Device::flex()).unwrap_err();
        assert!(err.to_string().contains("autodiff"), "{err}");
    }

    #[test]
    fn an_lstm_keeps_its_gradient_within_orders_of_magnitude() {
        let inputs: Vec<f32> = (0..30).map(|t| (t as f32 * 0.7).sin()).collect();
        let norms = lstm_gradient_norms(8, 3.0, &inputs, &device()).unwrap();
        assert_eq!(norms.len(), 31);
        let low = norms[1..].iter().copied().fold(f64::INFINITY, f64::min);
        assert!(low > 1e-4, "{norms:?}");
    }

    #[test]
    fn curves_give_their_range_and_chart_line() {
        let curve = GradientCurve {
            name: "w = 0".into(),
            norms: vec![1.0, 0.5, 0.0, 2.0, f64::NAN],
        };
        assert_eq!(curve.range(1), (0.0, 2.0));
        assert_eq!(curve.range(9), (0.0, 2.0));
        let series = curve.series();
        assert_eq!(series.name, "w = 0");
        assert_eq!(series.points, [(0.0, 1.0), (1.0, 0.5), (3.0, 2.0)]);
    }

    #[test]
    fn forget_bias_is_set_in_the_gate_that_keeps_the_state() {
        let mut lstm = RecurrentConfig::new(1, 2)
            .with_cell(CellKind::Lstm)
            .init(&device())
            .unwrap();
        set_forget_bias(&mut lstm, 3.0).unwrap();
        let bias = read_floats(lstm.layers[0].input_bias.as_ref().unwrap().val()).unwrap();
        assert_eq!(bias[2..4], [3.0, 3.0]);
        assert!(bias[..2].iter().chain(&bias[4..]).all(|&b| b != 3.0));
        // minGRU keeps `1 − z`: its `z` block gets the opposite bias.
        let mut mingru = RecurrentConfig::new(1, 2)
            .with_cell(CellKind::MinGru)
            .init(&device())
            .unwrap();
        set_forget_bias(&mut mingru, 3.0).unwrap();
        let bias = read_floats(mingru.layers[0].input_bias.as_ref().unwrap().val()).unwrap();
        assert_eq!(bias[..2], [-3.0, -3.0]);
        // minLSTM keeps `f/(f + i)`: `σ(3)` with `k_f = 3`, `k_i = −3`.
        let mut minlstm = RecurrentConfig::new(1, 2)
            .with_cell(CellKind::MinLstm)
            .init(&device())
            .unwrap();
        set_forget_bias(&mut minlstm, 3.0).unwrap();
        let bias = read_floats(minlstm.layers[0].input_bias.as_ref().unwrap().val()).unwrap();
        assert_eq!(bias[..4], [3.0, 3.0, -3.0, -3.0]);
        assert!(bias[4..].iter().all(|&b| b.abs() != 3.0));
        let mut elman = RecurrentConfig::new(1, 2).init(&device()).unwrap();
        assert!(set_forget_bias(&mut elman, 3.0).is_err());
    }

    #[test]
    fn plain_loop_learns_a_short_memory_and_reports_divergence() {
        let device = device();
        device.seed(1);
        let data = MemoryTaskConfig {
            samples: 64,
            steps: 3,
            seed: 1,
        }
        .generate()
        .unwrap();
        let config = SequenceModelConfig::new(RecurrentConfig::new(2, 8), 2);
        let mut adam = AdamConfig::new().init();
        let model = config.init(&device).unwrap();
        let (model, trace) = fit_classifier(model, &data, &mut adam, 1e-2, 60, 16).unwrap();
        assert_eq!((trace.losses.len(), trace.diverged_at), (60, None));
        assert!(trace.losses[59] < trace.losses[0], "{:?}", trace.losses);
        assert!(classifier_accuracy(&model, &data).unwrap() > 0.9);

        // A learning rate far too large for plain SGD throws the weights to infinity.
        let mut sgd = SgdConfig::new().init();
        let model = config.init(&device).unwrap();
        let (_, trace) = fit_classifier(model, &data, &mut sgd, 1e30, 20, 16).unwrap();
        let step = trace.diverged_at.expect("diverges");
        assert_eq!(trace.losses.len(), step);
        assert!(!trace.losses[step - 1].is_finite());
    }

    #[test]
    fn identity_recurrence_is_scaled_and_elman_only() {
        let config = RecurrentConfig::new(1, 3).with_cell(CellKind::Elman(ElmanActivation::Relu));
        let mut elman = config.init(&device()).unwrap();
        set_identity_recurrence(&mut elman, 2.0).unwrap();
        // The other weights are still to be drawn, in the order a seeded run draws them.
        assert!(!elman.layers[0].input_weight.is_initialized());
        let w = read_floats(elman.layers[0].hidden_weight.as_ref().unwrap().val()).unwrap();
        assert_eq!(w, [2.0, 0.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0, 2.0]);
        let mut lstm = config.with_cell(CellKind::Lstm).init(&device()).unwrap();
        assert!(set_identity_recurrence(&mut lstm, 1.0).is_err());
    }

    #[test]
    fn loss_traces_sum_up() {
        let finite = LossTrace {
            losses: vec![0.5, 0.25, -0.0],
            diverged_at: None,
        };
        assert_eq!(
            finite.to_string(),
            "loss 5.000e-1 at step 1, 0.000e0 at step 3, finite throughout (largest 5.000e-1)"
        );
        let diverged = LossTrace {
            losses: vec![0.5, f64::NAN],
            diverged_at: Some(2),
        };
        assert_eq!(
            diverged.to_string(),
            "loss 5.000e-1 at step 1, no longer finite at step 2"
        );
        assert_eq!(diverged.points(), [(1.0, 0.5)]);
    }

    #[test]
    fn regression_data_is_refused() {
        let data = burn_rnn_data::synth::HealthcareConfig {
            patients: 4,
            ..Default::default()
        }
        .generate()
        .unwrap()
        .forecasting_dataset()
        .unwrap();
        let model = SequenceModelConfig::new(RecurrentConfig::new(3, 4), 3)
            .init(&device())
            .unwrap();
        let err = classifier_accuracy(&model, &data).unwrap_err();
        assert!(err.to_string().contains("class targets"), "{err}");
    }
}
