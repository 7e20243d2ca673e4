//! The three recurrent cells (Elman, LSTM, GRU): what one time step computes.
//!
//! A cell only combines projections; the time loop that feeds it lives once, in `recurrent.rs`.
//! Gate order and bias placement follow PyTorch exactly (LSTM `i, f, g, o`; GRU `r, z, n` with
//! `b_hn` inside the reset product), so imported weights give the same numbers.

use std::str::FromStr;

use burn::config::Config;
use burn::tensor::Tensor;
use burn::tensor::activation::{self, relu};

/// The activation of an Elman cell, `h_t = act(W_h·h_{t-1} + W_x·x_t + b)`.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum ElmanActivation {
    /// Hyperbolic tangent (PyTorch's default, `nonlinearity='tanh'`).
    Tanh,
    /// Rectified linear unit (PyTorch's `nonlinearity='relu'`).
    Relu,
    /// Logistic sigmoid, the σ of the design notes (not offered by PyTorch's `nn.RNN`).
    Sigmoid,
}

/// Which recurrent cell a layer uses.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum CellKind {
    /// The Elman ("vanilla") RNN with the given activation.
    Elman(ElmanActivation),
    /// Long short-term memory: a hidden state and a cell state, four gates.
    Lstm,
    /// Gated recurrent unit: one state, three gates.
    Gru,
}

/// Parses the names of [`CellKind::name`]; `elman` (or `rnn`) alone is Elman with tanh. For
/// command lines: `--cell lstm`.
impl FromStr for CellKind {
    type Err = crate::error::ModelError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let wanted = text.trim().to_ascii_lowercase();
        if wanted == "elman" || wanted == "rnn" {
            return Ok(CellKind::Elman(ElmanActivation::Tanh));
        }
        CellKind::ALL
            .into_iter()
            .find(|cell| cell.name() == wanted)
            .ok_or_else(|| {
                crate::error::ModelError::InvalidConfig(format!(
                    "unknown cell `{text}`; choose one of: elman, {}",
                    CellKind::ALL.map(|c| c.name()).join(", ")
                ))
            })
    }
}

impl Default for CellKind {
    fn default() -> Self {
        CellKind::Elman(ElmanActivation::Tanh)
    }
}

impl CellKind {
    /// Every cell, in the order of [`CellKind::name`]'s list.
    pub const ALL: [CellKind; 5] = [
        CellKind::Elman(ElmanActivation::Tanh),
        CellKind::Elman(ElmanActivation::Relu),
        CellKind::Elman(ElmanActivation::Sigmoid),
        CellKind::Lstm,
        CellKind::Gru,
    ];

    /// Number of gate blocks stacked in the weight matrices (`weight_ih` is `[gates·H, D]`).
    pub fn gates(&self) -> usize {
        match self {
            CellKind::Elman(_) => 1,
            CellKind::Lstm => 4,
            CellKind::Gru => 3,
        }
    }

    /// Whether the cell carries a second state (the LSTM's cell state `c`).
    pub fn has_cell_state(&self) -> bool {
        matches!(self, CellKind::Lstm)
    }

    /// Whether the input and hidden biases must stay apart inside the step (GRU's `n` gate).
    /// For the others they are summed once per forward pass.
    pub(crate) fn separate_biases(&self) -> bool {
        matches!(self, CellKind::Gru)
    }

    /// A short name for messages and reports (`elman-tanh`, `lstm`, `gru`).
    pub fn name(&self) -> &'static str {
        match self {
            CellKind::Elman(ElmanActivation::Tanh) => "elman-tanh",
            CellKind::Elman(ElmanActivation::Relu) => "elman-relu",
            CellKind::Elman(ElmanActivation::Sigmoid) => "elman-sigmoid",
            CellKind::Lstm => "lstm",
            CellKind::Gru => "gru",
        }
    }

    /// One time step. `input_part` is `x_t·W_ih (+ b)` and `hidden_part` is `h_{t-1}·W_hh (+ b)`,
    /// both `[batch, gates·H]`; `hidden` and `cell` are the previous states `[batch, H]`.
    /// Returns the new hidden state and, for LSTM, the new cell state.
    pub(crate) fn step(
        &self,
        input_part: Tensor<2>,
        hidden_part: Tensor<2>,
        hidden: Tensor<2>,
        cell: Option<Tensor<2>>,
    ) -> (Tensor<2>, Option<Tensor<2>>) {
        match self {
            CellKind::Elman(activation) => {
                let pre = input_part + hidden_part;
                let h = match activation {
                    ElmanActivation::Tanh => tanh(pre),
                    ElmanActivation::Relu => relu(pre),
                    ElmanActivation::Sigmoid => sigmoid(pre),
                };
                (h, None)
            }
            CellKind::Lstm => {
                let gates = (input_part + hidden_part).chunk(4, 1);
                let [i, f, g, o]: [Tensor<2>; 4] = gates.try_into().expect("four LSTM gates");
                let c_prev = cell.expect("LSTM step needs a cell state");
                let c = sigmoid(f) * c_prev + sigmoid(i) * tanh(g);
                let h = sigmoid(o) * tanh(c.clone());
                (h, Some(c))
            }
            CellKind::Gru => {
                let [x_r, x_z, x_n]: [Tensor<2>; 3] =
                    input_part.chunk(3, 1).try_into().expect("three GRU gates");
                let [h_r, h_z, h_n]: [Tensor<2>; 3] =
                    hidden_part.chunk(3, 1).try_into().expect("three GRU gates");
                let r = sigmoid(x_r + h_r);
                let z = sigmoid(x_z + h_z);
                let n = tanh(x_n + r * h_n);
                // h' = (1 - z)·n + z·h  ==  n + z·(h - n)
                let h = n.clone() + z * (hidden - n);
                (h, None)
            }
        }
    }
}

/// Below this many elements the native activations win: the `exp` forms below add autodiff
/// nodes, whose fixed cost dominates small steps (measured with `examples/bench.rs`:
/// `healthcare`, 32×32 states, trained 30 % slower with them; `medium`/`large` 35–90 % faster).
const EXP_FORM_MIN_ELEMENTS: usize = 4096;

fn large(x: &Tensor<2>) -> bool {
    let [rows, columns] = x.dims();
    rows * columns >= EXP_FORM_MIN_ELEMENTS
}

/// `tanh`, computed through `exp` on large tensors: the CPU backends vectorise `exp` but
/// evaluate `tanh` one element at a time, about 4× slower, and it dominated the Elman step.
/// Within 2e-7 of `tanh`; the clamp keeps `exp` and its gradient finite (`tanh(±15)` is `±1`
/// in f32).
pub(crate) fn tanh(x: Tensor<2>) -> Tensor<2> {
    if !large(&x) {
        return activation::tanh(x);
    }
    let e = (x.clamp(-15.0, 15.0) * 2.0).exp();
    (e.clone() - 1.0) / (e + 1.0)
}

/// The logistic sigmoid, through `exp` on large tensors for the same reason as [`tanh`].
/// Within 1e-7 of the exact value; the clamp keeps `exp` finite (`σ(±30)` is within 1e-13 of
/// 0 and 1).
pub(crate) fn sigmoid(x: Tensor<2>) -> Tensor<2> {
    if !large(&x) {
        return activation::sigmoid(x);
    }
    ((-x.clamp(-30.0, 30.0)).exp() + 1.0).recip()
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, Distribution};

    /// The `exp` forms (used on large tensors) match the native activations in value and in
    /// gradient, including far in the saturated tails.
    #[test]
    fn exp_forms_match_the_native_activations() {
        let device = Device::flex().autodiff();
        let x =
            Tensor::<2>::random([64, 128], Distribution::Normal(0.0, 8.0), &device).require_grad();
        let weights = Tensor::<2>::random([64, 128], Distribution::Normal(0.0, 1.0), &device);
        assert!(large(&x));
        type Activation = fn(Tensor<2>) -> Tensor<2>;
        let pairs: [(Activation, Activation); 2] =
            [(tanh, activation::tanh), (sigmoid, activation::sigmoid)];
        for (fast, native) in pairs {
            let values = |f: Activation| {
                let y = f(x.clone());
                let grads = (y.clone() * weights.clone()).sum().backward();
                let grad = x.grad(&grads).unwrap();
                let read = |t: Tensor<2>| {
                    t.into_data()
                        .convert::<f32>()
                        .try_into_vec::<f32>()
                        .unwrap()
                };
                (read(y.inner()), read(grad))
            };
            let (fast_y, fast_grad) = values(fast);
            let (native_y, native_grad) = values(native);
            let worst = |a: &[f32], b: &[f32]| {
                a.iter()
                    .zip(b)
                    .map(|(p, q)| (p - q).abs())
                    .fold(0.0f32, f32::max)
            };
            assert!(
                worst(&fast_y, &native_y) < 1e-6,
                "values differ by {}",
                worst(&fast_y, &native_y)
            );
            assert!(
                worst(&fast_grad, &native_grad) < 1e-5,
                "gradients differ by {}",
                worst(&fast_grad, &native_grad)
            );
            assert!(fast_grad.iter().all(|g| g.is_finite()));
        }
    }

    #[test]
    fn names_parse_back_and_unknown_names_list_the_choices() {
        for cell in CellKind::ALL {
            assert_eq!(cell.name().parse::<CellKind>().unwrap(), cell);
        }
        assert_eq!("Elman".parse::<CellKind>().unwrap(), CellKind::default());
        let error = "transformer".parse::<CellKind>().unwrap_err().to_string();
        assert!(
            error.contains("transformer") && error.contains("gru"),
            "{error}"
        );
    }
}
