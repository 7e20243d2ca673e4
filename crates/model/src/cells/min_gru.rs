//! minGRU (Feng et al. 2024, "Were RNNs All We Needed?"): a GRU whose gates read only the input,
//! `z_t = σ(k_t)`, `h̃_t = g(p_t)`, `h_t = (1 − z_t) ⊙ h_{t-1} + z_t ⊙ h̃_t`, where `k, p` are the
//! input part `x_t·W_ihᵀ + b_ih` (gate order `z, h̃`) and `g(x) = x + ½` for `x ≥ 0`, `σ(x)`
//! below (so that `h̃ > 0` and the scan can run in log space). No `W_hh`.

use burn::tensor::Tensor;
use burn::tensor::activation::log_sigmoid;

use super::{LinearCell, g, last_blocks, log_g, sigmoid};

/// The minGRU cell.
#[derive(Clone, Copy, Debug)]
pub(crate) struct MinGru;

impl LinearCell for MinGru {
    const GATES: usize = 2;

    fn log_coefficients<const D: usize>(&self, parts: Tensor<D>) -> (Tensor<D>, Tensor<D>) {
        let [k, p] = last_blocks(parts);
        // log(1 − σ(k)) = log σ(−k).
        let log_a = log_sigmoid(k.clone().neg());
        (log_a, log_sigmoid(k) + log_g(p))
    }

    fn step(&self, parts: Tensor<2>, h_prev: Tensor<2>) -> Tensor<2> {
        let [k, p] = last_blocks(parts);
        let z = sigmoid(k);
        (z.clone().neg() + 1.0) * h_prev + z * g(p)
    }
}
