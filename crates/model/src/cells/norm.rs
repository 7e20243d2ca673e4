//! Layer normalisation inside the recurrence (Ba, Kiros & Hinton 2016), on tensors: each
//! row's gate blocks of `H` columns are normalised apart (as the LN-LSTM cells of TensorFlow
//! and Keras do), `x̂ = (x − μ)/√(σ² + ε)`, then scaled by a learnt gain. The drivers normalise
//! a step's hidden part `h_{t-1}·W_hhᵀ` with it; an LSTM also normalises its cell state before
//! the output's `tanh` (with a gain and a bias: [`StateNorm`]). The native scan's rows
//! normalise one block of one row at a time with [`normalize_block`] and
//! [`normalize_block_backward`], the same equations on slices.

use burn::tensor::Tensor;

/// `ε` under the square root, as Burn's and PyTorch's `LayerNorm` default.
pub(crate) const EPSILON: f64 = 1e-5;

/// Rows normalised by blocks: `x̂` `[B, blocks·H]` and `1/√(σ² + ε)` `[B, blocks, 1]`.
#[derive(Clone, Debug)]
pub(crate) struct Normalized {
    pub x_hat: Tensor<2>,
    pub inv_std: Tensor<3>,
}

/// Each row of `x` (`[B, blocks·H]`) normalised per block of `H` columns.
pub(crate) fn normalize(x: Tensor<2>, blocks: usize) -> Normalized {
    let [batch, width] = x.dims();
    let x = x.reshape([batch, blocks, width / blocks]);
    let centred = x.clone() - x.mean_dim(2);
    let variance = centred.clone().square().mean_dim(2);
    let inv_std = (variance + EPSILON).sqrt().recip();
    let x_hat = (centred * inv_std.clone()).reshape([batch, width]);
    Normalized { x_hat, inv_std }
}

/// The gradient of `x` from the gradient of `x̂` (`[B, blocks·H]`):
/// `(1/σ)·(d − mean(d) − x̂·mean(d ⊙ x̂))` per block.
pub(crate) fn normalize_backward(norm: &Normalized, d_x_hat: Tensor<2>) -> Tensor<2> {
    let [batch, blocks, _] = norm.inv_std.dims();
    let [_, width] = d_x_hat.dims();
    let shape = [batch, blocks, width / blocks];
    let d = d_x_hat.reshape(shape);
    let x_hat = norm.x_hat.clone().reshape(shape);
    let dx = (d.clone() - d.clone().mean_dim(2) - x_hat.clone() * (d * x_hat).mean_dim(2))
        * norm.inv_std.clone();
    dx.reshape([batch, width])
}

/// The normalisation of a cell's own state (the LSTM's `c_t`, `H` wide) with its gain and bias.
#[derive(Clone, Debug)]
pub(crate) struct StateNorm {
    /// `[H]` each.
    pub gain: Tensor<1>,
    pub bias: Tensor<1>,
}

impl StateNorm {
    /// `LN(c)·gain + bias`, and the normalisation (for the backward pass).
    pub fn forward(&self, c: Tensor<2>) -> (Tensor<2>, Normalized) {
        let norm = normalize(c, 1);
        let y = norm.x_hat.clone() * self.gain.clone().unsqueeze::<2>()
            + self.bias.clone().unsqueeze::<2>();
        (y, norm)
    }

    /// From the gradient of `LN(c)·gain + bias`: that of `c`, and this step's gradients of the
    /// gain and the bias.
    pub fn backward(&self, norm: &Normalized, dy: Tensor<2>) -> (Tensor<2>, StateNormGrads) {
        let grads = StateNormGrads {
            gain: column_sums(dy.clone() * norm.x_hat.clone()),
            bias: column_sums(dy.clone()),
        };
        let dc = normalize_backward(norm, dy * self.gain.clone().unsqueeze::<2>());
        (dc, grads)
    }
}

/// One step's gradients of a [`StateNorm`], `[H]` each.
#[derive(Clone, Debug)]
pub(crate) struct StateNormGrads {
    pub gain: Tensor<1>,
    pub bias: Tensor<1>,
}

/// `Σ_b x[b, ·]`: `[B, W] → [W]`.
pub(crate) fn column_sums(x: Tensor<2>) -> Tensor<1> {
    let [_, width] = x.dims();
    x.sum_dim(0).reshape([width])
}

/// Partial sums a reduction keeps side by side: one running sum is a chain of additions the
/// compiler must keep in order (it does not vectorise it); independent lanes vectorise.
const LANES: usize = 16;

/// `Σ_j f(j)` over `0..n`, in [`LANES`] partial sums.
#[inline(always)]
pub(crate) fn lane_sum(n: usize, f: impl Fn(usize) -> f32) -> f32 {
    let mut lanes = [0.0f32; LANES];
    let whole = n / LANES * LANES;
    for base in (0..whole).step_by(LANES) {
        for (lane, sum) in lanes.iter_mut().enumerate() {
            *sum += f(base + lane);
        }
    }
    let tail: f32 = (whole..n).map(&f).sum();
    lanes.iter().sum::<f32>() + tail
}

/// The mean of `x` and `1/√(σ² + ε)` (the variance about that mean, as [`normalize`]).
#[inline(always)]
pub(crate) fn moments(x: &[f32]) -> (f32, f32) {
    let n = x.len();
    let mean = lane_sum(n, |j| x[j]) / n as f32;
    let variance = lane_sum(n, |j| (x[j] - mean) * (x[j] - mean)) / n as f32;
    (mean, 1.0 / (variance + EPSILON as f32).sqrt())
}

/// `out = LN(x)·gain` for one block `x` of one row (`n = x.len()` values, slices of `n`).
#[inline(always)]
pub(crate) fn normalize_block(x: &[f32], gain: &[f32], out: &mut [f32]) {
    let n = x.len();
    let (gain, out) = (&gain[..n], &mut out[..n]);
    let (mean, inv_std) = moments(x);
    for j in 0..n {
        out[j] = (x[j] - mean) * inv_std * gain[j];
    }
}

/// The backward pass of [`normalize_block`] in place: `d` holds the gradient of `LN(x)·gain`
/// and receives that of `x`, `(1/σ)·(d̂ − mean(d̂) − x̂·mean(d̂ ⊙ x̂))` with `d̂ = d·gain`;
/// `d_gain += d ⊙ x̂`.
#[inline(always)]
pub(crate) fn normalize_block_backward(x: &[f32], gain: &[f32], d: &mut [f32], d_gain: &mut [f32]) {
    let n = x.len();
    let (gain, d, d_gain) = (&gain[..n], &mut d[..n], &mut d_gain[..n]);
    let (mean, inv_std) = moments(x);
    let x_hat = |j: usize| (x[j] - mean) * inv_std;
    for j in 0..n {
        d_gain[j] += d[j] * x_hat(j);
    }
    let mean_d = lane_sum(n, |j| d[j] * gain[j]) / n as f32;
    let mean_dx = lane_sum(n, |j| d[j] * gain[j] * x_hat(j)) / n as f32;
    for j in 0..n {
        d[j] = inv_std * (d[j] * gain[j] - mean_d - x_hat(j) * mean_dx);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::values as read;
    use burn::tensor::{Device, Distribution, TensorData};

    fn worst(a: &[f32], b: &[f32]) -> f32 {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max)
    }

    /// Per-block normalisation equals Burn's `layer_norm` of each block (gain 1, no bias), and
    /// its backward pass equals Burn's autodiff of that.
    #[test]
    fn blocks_normalise_as_burns_layer_norm() {
        let device = Device::flex().autodiff();
        let (batch, blocks, hidden) = (5, 3, 7);
        let x = Tensor::<2>::random(
            [batch, blocks * hidden],
            Distribution::Normal(0.5, 2.0),
            &device,
        )
        .require_grad();
        let weights = Tensor::<2>::random(
            [batch, blocks * hidden],
            Distribution::Normal(0.0, 1.0),
            &device,
        );
        let gamma = Tensor::<1>::ones([hidden], &device);
        let burns = burn::tensor::module::layer_norm(
            x.clone().reshape([batch, blocks, hidden]),
            gamma,
            None,
            EPSILON,
        )
        .reshape([batch, blocks * hidden]);
        let grads = (burns.clone() * weights.clone()).sum().backward();
        let expected_grad = read(x.grad(&grads).unwrap());

        let ours = normalize(x.clone().inner(), blocks);
        assert!(worst(&read(ours.x_hat.clone()), &read(burns.inner())) < 1e-5);
        let grad = normalize_backward(&ours, weights.inner());
        assert!(worst(&read(grad), &expected_grad) < 1e-5);
    }

    /// The state normalisation's gain and bias gradients are the column sums of `dy·x̂` and
    /// `dy`, and its input gradient matches a finite difference.
    #[test]
    fn the_state_normalisation_differentiates_its_gain_bias_and_input() {
        let device = Device::flex();
        let c = Tensor::<2>::from_data(
            TensorData::new(vec![0.3, -1.2, 2.0, 0.1, 0.7, -0.4], [2, 3]),
            &device,
        );
        let norm = StateNorm {
            gain: Tensor::from_data(TensorData::new(vec![1.5, 0.5, -1.0], [3]), &device),
            bias: Tensor::from_data(TensorData::new(vec![0.1, 0.2, 0.3], [3]), &device),
        };
        let dy = Tensor::<2>::from_data(
            TensorData::new(vec![1.0, -2.0, 0.5, 0.3, 0.8, -1.1], [2, 3]),
            &device,
        );
        let (_, normalized) = norm.forward(c.clone());
        let (dc, grads) = norm.backward(&normalized, dy.clone());
        let loss = |c: Tensor<2>| read((norm.forward(c).0 * dy.clone()).sum())[0] as f64;
        let base = read(c.clone());
        let dc = read(dc);
        for i in 0..base.len() {
            let nudged = |delta: f32| {
                let mut v = base.clone();
                v[i] += delta;
                loss(Tensor::from_data(TensorData::new(v, [2, 3]), &device))
            };
            let numeric = (nudged(1e-2) - nudged(-1e-2)) / 2e-2;
            assert!(
                (numeric - dc[i] as f64).abs() < 2e-3,
                "{i}: {numeric} vs {}",
                dc[i]
            );
        }
        let x_hat = read(normalized.x_hat);
        let dys = read(dy);
        for j in 0..3 {
            let gain: f32 = (0..2).map(|b| dys[b * 3 + j] * x_hat[b * 3 + j]).sum();
            assert!((read(grads.gain.clone())[j] - gain).abs() < 1e-6);
            assert!((read(grads.bias.clone())[j] - (dys[j] + dys[3 + j])).abs() < 1e-6);
        }
    }
}
