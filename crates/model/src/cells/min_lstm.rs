//! minLSTM (Feng et al. 2024): an LSTM whose gates read only the input and whose forget and
//! input gates are normalised to sum to one, `f_t = σ(k_f)`, `i_t = σ(k_i)`,
//! `h_t = f_t/(f_t + i_t) ⊙ h_{t-1} + i_t/(f_t + i_t) ⊙ g(p_t)`, where `k_f, k_i, p` are the input
//! part `x_t·W_ihᵀ + b_ih` (gate order `f, i, h̃`) and `g` is minGRU's. One state, no `W_hh`.

use burn::tensor::Tensor;
use burn::tensor::activation::{log_sigmoid, softplus};

use super::{LinearCell, g, last_blocks, log_g, sigmoid};

/// The minLSTM cell.
#[derive(Clone, Copy, Debug)]
pub(crate) struct MinLstm;

impl LinearCell for MinLstm {
    const GATES: usize = 3;

    fn log_coefficients<const D: usize>(&self, parts: Tensor<D>) -> (Tensor<D>, Tensor<D>) {
        let [k_f, k_i, p] = last_blocks(parts);
        // log i − log f = softplus(−k_f) − softplus(−k_i); then log f' = −softplus(that) and
        // log i' = −softplus(−that), where f' = f/(f + i) and i' = i/(f + i).
        let difference = softplus(k_f.neg(), 1.0) - softplus(k_i.neg(), 1.0);
        let log_a = log_sigmoid(difference.clone().neg());
        (log_a, log_sigmoid(difference) + log_g(p))
    }

    fn step(&self, parts: Tensor<2>, h_prev: Tensor<2>) -> Tensor<2> {
        let [k_f, k_i, p] = last_blocks(parts);
        let (f, i) = (sigmoid(k_f), sigmoid(k_i));
        let sum = f.clone() + i.clone();
        f / sum.clone() * h_prev + i / sum * g(p)
    }
}
