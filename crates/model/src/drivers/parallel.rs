//! The time loop of the linear cells (`crate::cells::LinearCell`: minGRU, minLSTM) over whole
//! sequences, as a parallel scan in log space (Feng et al. 2024, after Heinsen 2023). With
//! `a*_t = Σ_{j≤t} log a_j`, the recurrence `h_t = a_t ⊙ h_{t-1} + b_t` unrolls to
//!
//! ```text
//! h_t = exp(a*_t) ⊙ h_0 + exp(a*_t + log Σ_{k≤t} exp(log b_k − a*_k))
//! ```
//!
//! The logarithm of the running sum is an inclusive scan of `logaddexp` over time, done in
//! `log₂ C` passes over all steps at once (Hillis & Steele) within chunks of `C` steps; the
//! start state enters linearly, so it may take any value. The sums in log space grow with the
//! steps they cover (`|a*|` reaches a few thousand over 10,000 steps, where float32 keeps only
//! three decimals of `a*_t + …`), so chunks of [`CHUNK`] steps are scanned side by side and
//! then chained, each from the state the previous one reached: depth `log₂ C + T / C`.
//!
//! Plain tensor operations on any backend; Burn differentiates them. Padded steps keep the
//! state (`a = 1`, `b = 0`) and output zeros.

use burn::tensor::Tensor;

use crate::cells::{LinearCell, TensorState};

/// Steps per chunk of the log-space scan.
pub(crate) const CHUNK: usize = 256;

/// `log 0` for the scan: small enough that `exp` of it is 0, finite so that differences of
/// two such values are not NaN.
const LOG_ZERO: f32 = -1e30;

/// Runs `cell` over the input parts `parts` (`[T, B, GATES·H]`, time-major, `b_ih` included)
/// from `h0` (`[B, H]`), backwards in time when `reverse`; `valid` is `[T, B, 1]` (1 at real
/// steps). Returns the outputs `[T, B, H]` in time order and the final state.
pub(crate) fn run<C: LinearCell>(
    cell: C,
    parts: Tensor<3>,
    h0: Tensor<2>,
    valid: Option<&Tensor<3>>,
    reverse: bool,
) -> (Tensor<3>, TensorState) {
    let [steps, _, _] = parts.dims();
    let in_order = |x: Tensor<3>| if reverse { x.flip([0]) } else { x };
    let (mut log_a, mut log_b) = cell.log_coefficients(in_order(parts));
    if let Some(valid) = valid {
        // Padding keeps the state: `a = 1`, `b = 0`.
        let valid = in_order(valid.clone());
        log_a = log_a * valid.clone();
        log_b = log_b * valid.clone() + (valid.neg() + 1.0) * LOG_ZERO;
    }
    let states = scan(log_a, log_b, h0);
    let [_, batch, hidden] = states.dims();
    let last = states
        .clone()
        .slice([steps - 1..steps, 0..batch, 0..hidden])
        .reshape([batch, hidden]);
    let mut outputs = in_order(states);
    if let Some(valid) = valid {
        outputs = outputs * valid.clone();
    }
    (outputs, TensorState { h: last, c: None })
}

/// Every `h_t` (`[T, B, H]`) of `h_t = a_t ⊙ h_{t-1} + b_t` from `log a`, `log b` and `h0`.
fn scan(log_a: Tensor<3>, log_b: Tensor<3>, h0: Tensor<2>) -> Tensor<3> {
    let [steps, batch, hidden] = log_a.dims();
    let chunk = steps.min(CHUNK);
    let chunks = steps.div_ceil(chunk);
    // Whole chunks: the steps past the end keep the state.
    let pad = |x: Tensor<3>, value: f32| {
        let extra = chunks * chunk - steps;
        if extra == 0 {
            return x;
        }
        let filler = Tensor::<3>::full([extra, batch, hidden], value, &x.device());
        Tensor::cat(vec![x, filler], 0)
    };
    let shape = [chunks, chunk, batch, hidden];
    let log_a = pad(log_a, 0.0).reshape(shape);
    let log_b = pad(log_b, LOG_ZERO).reshape(shape);
    // Within each chunk, from a zero state: `exp(a*_t + log Σ_k exp(log b_k − a*_k))`; and
    // `exp(a*_t)`, what becomes of the chunk's start state by step `t`.
    let a_star = log_a.cumsum(1);
    let sums = log_cumsum_exp(log_b - a_star.clone());
    let from_zero = (a_star.clone() + sums).exp();
    let decay = a_star.exp();
    let at = |x: &Tensor<4>, j: usize| {
        x.clone()
            .slice([j..j + 1, 0..chunk, 0..batch, 0..hidden])
            .reshape([chunk, batch, hidden])
    };
    let mut start = h0;
    let mut states = Vec::with_capacity(chunks);
    for j in 0..chunks {
        let h = at(&decay, j) * start.unsqueeze::<3>() + at(&from_zero, j);
        start = h
            .clone()
            .slice([chunk - 1..chunk, 0..batch, 0..hidden])
            .reshape([batch, hidden]);
        states.push(h);
    }
    Tensor::cat(states, 0).slice([0..steps, 0..batch, 0..hidden])
}

/// `log Σ_{k≤t} exp(x_k)` along dimension 1 of `x` (`[chunks, C, B, H]`): `log₂ C` passes of
/// `logaddexp` between each step and the one `2^i` before it.
fn log_cumsum_exp(mut x: Tensor<4>) -> Tensor<4> {
    let [chunks, steps, batch, hidden] = x.dims();
    let mut shift = 1;
    while shift < steps {
        let span = |range: std::ops::Range<usize>| {
            x.clone().slice([0..chunks, range, 0..batch, 0..hidden])
        };
        let (head, now, before) = (span(0..shift), span(shift..steps), span(0..steps - shift));
        x = Tensor::cat(vec![head, log_add_exp(now, before)], 1);
        shift *= 2;
    }
    x
}

/// `log(exp(u) + exp(v))`, without overflow: `max + log(1 + exp(−|u − v|))`.
fn log_add_exp(u: Tensor<4>, v: Tensor<4>) -> Tensor<4> {
    let gap = (u.clone() - v.clone()).abs().neg();
    u.max_pair(v) + gap.exp().log1p()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::values as read;
    use burn::tensor::{Device, Distribution};

    /// The scan equals the loop `h_t = a_t ⊙ h_{t-1} + b_t` in float64, over one step, part of
    /// a chunk, and several chunks with a partial last one, from a start state of both signs:
    /// within 5e-5 (relative, or absolute below 1). With `a` in (0.5, 1), `|a*|` reaches 90
    /// within a chunk, where float32 keeps `a*_t + …` to 1e-5.
    #[test]
    fn the_scan_equals_the_recurrence() {
        let device = Device::flex();
        for steps in [1, 37, 2 * CHUNK + 51] {
            let (batch, hidden) = (3, 4);
            let shape = [steps, batch, hidden];
            // a in (0.5, 1): a long memory, the hard case for float32.
            let log_a = Tensor::<3>::random(shape, Distribution::Uniform(-0.69, -0.01), &device);
            let log_b = Tensor::<3>::random(shape, Distribution::Uniform(-3.0, 1.0), &device);
            let h0 =
                Tensor::<2>::random([batch, hidden], Distribution::Uniform(-1.0, 1.0), &device);
            let got = read(scan(log_a.clone(), log_b.clone(), h0.clone()));
            let (a, b, mut h) = (read(log_a), read(log_b), read(h0));
            let mut h: Vec<f64> = h.drain(..).map(f64::from).collect();
            let mut worst = 0.0f64;
            for t in 0..steps {
                for (i, h) in h.iter_mut().enumerate() {
                    let at = t * batch * hidden + i;
                    *h = f64::from(a[at]).exp() * *h + f64::from(b[at]).exp();
                    let scale = h.abs().max(1.0);
                    worst = worst.max((f64::from(got[at]) - *h).abs() / scale);
                }
            }
            assert!(worst < 5e-5, "{steps} steps: off by {worst:e}");
        }
    }
}
