//! One layer-direction of the recurrence over all time steps, forward and backward, written as
//! plain (non-autodiff) tensor math. `fused.rs` registers [`forward`] and [`backward`] as one
//! autodiff operation, so training records one graph node per layer instead of a dozen per step,
//! and the weight gradient is one large matrix product over all steps instead of `T` small ones.
//!
//! Everything is time-major: `xp` is `[T, B, gates·H]`, per-step slices are contiguous.
//! Gate order and biases follow PyTorch (see `cell.rs`); the masked semantics are those of
//! `recurrent.rs`: a padded step outputs zeros and leaves the state (h, and c for LSTM) untouched.

use burn::tensor::Tensor;
use burn::tensor::activation::relu;

use crate::cell::{CellKind, ElmanActivation, sigmoid, tanh};

/// What does not change between the forward and the backward pass of one scan.
#[derive(Clone, Debug)]
pub(crate) struct ScanSpec {
    /// The cell.
    pub cell: CellKind,
    /// Walk the time axis from the last step to the first (the reverse direction).
    pub reverse: bool,
    /// `[T, B, 1]`, 1 at real steps and 0 at padding; `None` when nothing is padded.
    pub valid: Option<Tensor<3>>,
}

/// The differentiable inputs of a scan.
#[derive(Clone, Debug)]
pub(crate) struct ScanInputs {
    /// `[T, B, gates·H]`: `x_t·W_ih`, plus `b_ih` for GRU.
    pub xp: Tensor<3>,
    /// `[H, gates·H]`: `W_hhᵀ`.
    pub w: Tensor<2>,
    /// `[gates·H]`: the bias added to `h·W` in every step: `b_ih + b_hh` for Elman and LSTM
    /// (whose biases only ever appear summed), `b_hh` for GRU (its `b_hn` sits inside the reset
    /// product).
    pub bias: Tensor<1>,
    /// `[B, H]`: the starting hidden state.
    pub h0: Tensor<2>,
    /// `[B, H]`: the starting cell state, used by LSTM only.
    pub c0: Tensor<2>,
}

/// What the forward pass keeps for the backward pass.
#[derive(Clone, Debug)]
pub(crate) struct ScanTape {
    /// `[T, B, H]`: the hidden state after each step (carried through padded steps).
    pub states: Tensor<3>,
    /// `[T, B, H]`: the LSTM cell state after each step.
    pub cells: Option<Tensor<3>>,
    /// `[T, B, 4H]`: LSTM `i, f, g, o` after their activations; GRU `r, z, n, h_n`.
    pub gates: Option<Tensor<3>>,
}

/// Gradients of a scan's inputs; `None` where not asked for.
#[derive(Debug, Default)]
pub(crate) struct ScanGrads {
    pub xp: Option<Tensor<3>>,
    pub w: Option<Tensor<2>>,
    pub bias: Option<Tensor<1>>,
    pub h0: Option<Tensor<2>>,
    pub c0: Option<Tensor<2>>,
}

/// Which gradients the backward pass must produce (the inputs that require them).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Wanted {
    pub xp: bool,
    pub w: bool,
    pub bias: bool,
    pub h0: bool,
    pub c0: bool,
}

/// Step `t` of a time-major tensor, `[B, W]`.
fn at(x: &Tensor<3>, t: usize) -> Tensor<2> {
    let [_, batch, width] = x.dims();
    x.clone()
        .slice([t..t + 1, 0..batch, 0..width])
        .reshape([batch, width])
}

/// The time steps in the order the scan visits them.
fn order(steps: usize, reverse: bool) -> impl DoubleEndedIterator<Item = usize> {
    (0..steps).map(move |i| if reverse { steps - 1 - i } else { i })
}

/// `[a, b, c, ...]` split into `n` equal column blocks.
fn blocks<const N: usize>(x: Tensor<2>) -> [Tensor<2>; N] {
    x.chunk(N, 1)
        .try_into()
        .expect("the gate width is a multiple of H")
}

/// Per-step masks `(valid, padded)`, `[B, 1]` each.
fn masks_at(valid: &Option<Tensor<3>>, t: usize) -> Option<(Tensor<2>, Tensor<2>)> {
    valid.as_ref().map(|v| {
        let valid = at(v, t);
        let padded = valid.clone().neg() + 1.0;
        (valid, padded)
    })
}

/// Runs the scan. Returns `[T + extra, B, H]`: the output at every step (zero at padded steps),
/// then the final hidden state, then (LSTM) the final cell state; and the tape for [`backward`].
/// With `keep_tape` false (inference), the LSTM/GRU gates are not kept.
pub(crate) fn forward(
    spec: &ScanSpec,
    inputs: &ScanInputs,
    keep_tape: bool,
) -> (Tensor<3>, ScanTape) {
    #[cfg(feature = "flex")]
    if let Some(done) = crate::native::forward(spec, inputs, keep_tape) {
        return done;
    }
    let [steps, _, _] = inputs.xp.dims();
    let mut h = inputs.h0.clone();
    let mut c = inputs.c0.clone();
    let mut states = vec![None; steps];
    let mut cells = vec![None; steps];
    let mut gates = vec![None; steps];
    let bias = inputs.bias.clone().unsqueeze::<2>();
    for t in order(steps, spec.reverse) {
        let x = at(&inputs.xp, t);
        let hw = h.clone().matmul(inputs.w.clone()) + bias.clone();
        let (h_new, c_new) = match spec.cell {
            CellKind::Elman(activation) => {
                let pre = x + hw;
                let h_new = match activation {
                    ElmanActivation::Tanh => tanh(pre),
                    ElmanActivation::Relu => relu(pre),
                    ElmanActivation::Sigmoid => sigmoid(pre),
                };
                (h_new, None)
            }
            CellKind::Lstm => {
                let [i, f, g, o] = blocks(x + hw);
                let (i, f, g, o) = (sigmoid(i), sigmoid(f), tanh(g), sigmoid(o));
                let c_new = f.clone() * c.clone() + i.clone() * g.clone();
                let h_new = o.clone() * tanh(c_new.clone());
                if keep_tape {
                    gates[t] = Some(Tensor::cat(vec![i, f, g, o], 1));
                }
                (h_new, Some(c_new))
            }
            CellKind::Gru => {
                let [x_r, x_z, x_n] = blocks(x);
                let [h_r, h_z, h_n] = blocks(hw);
                let r = sigmoid(x_r + h_r);
                let z = sigmoid(x_z + h_z);
                let n = tanh(x_n + r.clone() * h_n.clone());
                let h_new = n.clone() + z.clone() * (h.clone() - n.clone());
                if keep_tape {
                    gates[t] = Some(Tensor::cat(vec![r, z, n, h_n], 1));
                }
                (h_new, None)
            }
        };
        match masks_at(&spec.valid, t) {
            None => {
                h = h_new;
                if let Some(c_new) = c_new {
                    c = c_new;
                }
            }
            Some((valid, padded)) => {
                h = h_new * valid.clone() + h * padded.clone();
                if let Some(c_new) = c_new {
                    c = c_new * valid + c * padded;
                }
            }
        }
        states[t] = Some(h.clone());
        if keep_tape && spec.cell.has_cell_state() {
            cells[t] = Some(c.clone());
        }
    }
    let stack = |v: Vec<Option<Tensor<2>>>| -> Option<Tensor<3>> {
        let v: Vec<Tensor<2>> = v.into_iter().flatten().collect();
        (!v.is_empty()).then(|| Tensor::stack(v, 0))
    };
    let states = stack(states).expect("at least one step");
    let outputs = match &spec.valid {
        Some(valid) => states.clone() * valid.clone(),
        None => states.clone(),
    };
    let mut rows = vec![outputs, h.unsqueeze::<3>()];
    if spec.cell.has_cell_state() {
        rows.push(c.unsqueeze::<3>());
    }
    let tape = ScanTape {
        states,
        cells: stack(cells),
        gates: stack(gates),
    };
    (Tensor::cat(rows, 0), tape)
}

/// The state before step `t` in visiting order: the start state or the state after the
/// previously visited step.
fn before(
    states: &Tensor<3>,
    start: &Tensor<2>,
    t: usize,
    steps: usize,
    reverse: bool,
) -> Tensor<2> {
    match (reverse, t) {
        (false, 0) => start.clone(),
        (false, t) => at(states, t - 1),
        (true, t) if t + 1 == steps => start.clone(),
        (true, t) => at(states, t + 1),
    }
}

/// All the states before each step, `[T, B, H]` in time order (see [`before`]).
fn all_before(states: &Tensor<3>, start: &Tensor<2>, reverse: bool) -> Tensor<3> {
    let [steps, batch, width] = states.dims();
    let start = start.clone().unsqueeze::<3>();
    if steps == 1 {
        return start;
    }
    if reverse {
        Tensor::cat(
            vec![states.clone().slice([1..steps, 0..batch, 0..width]), start],
            0,
        )
    } else {
        Tensor::cat(
            vec![
                start,
                states.clone().slice([0..steps - 1, 0..batch, 0..width]),
            ],
            0,
        )
    }
}

/// `aᵀ·b` over all steps and sequences at once: `[T, B, P]ᵀ × [T, B, Q] → [P, Q]`.
fn outer_sum(a: Tensor<3>, b: Tensor<3>) -> Tensor<2> {
    let [steps, batch, p] = a.dims();
    let [_, _, q] = b.dims();
    a.reshape([steps * batch, p])
        .transpose()
        .matmul(b.reshape([steps * batch, q]))
}

/// The derivative of the Elman activation, from its output `y`.
fn activation_slope(activation: ElmanActivation, y: Tensor<2>) -> Tensor<2> {
    match activation {
        ElmanActivation::Tanh => tanh_slope(y),
        ElmanActivation::Sigmoid => sigmoid_slope(y),
        ElmanActivation::Relu => y.greater_elem(0.0).float(),
    }
}

/// `σ'` from the sigmoid's output.
fn sigmoid_slope(s: Tensor<2>) -> Tensor<2> {
    s.clone().neg() * s.clone() + s
}

/// `tanh'` from tanh's output.
fn tanh_slope(y: Tensor<2>) -> Tensor<2> {
    y.clone().neg() * y + 1.0
}

/// Backpropagation through time for one scan: `grad` is the gradient of the loss with respect to
/// [`forward`]'s output (`[T + extra, B, H]`); returns the gradients in `wanted`.
/// The second argument is `(W_hhᵀ, h0, c0)` as given to [`forward`].
pub(crate) fn backward(
    spec: &ScanSpec,
    (w, h0, c0): (&Tensor<2>, &Tensor<2>, &Tensor<2>),
    tape: &ScanTape,
    grad: Tensor<3>,
    wanted: Wanted,
) -> ScanGrads {
    #[cfg(feature = "flex")]
    let grad = match crate::native::backward(spec, (w, h0, c0), tape, grad, wanted) {
        Ok(done) => return done,
        Err(grad) => *grad,
    };
    let [steps, batch, hidden] = tape.states.dims();
    let row = |i: usize| {
        grad.clone()
            .slice([i..i + 1, 0..batch, 0..hidden])
            .reshape([batch, hidden])
    };
    let grad_outputs = grad.clone().slice([0..steps, 0..batch, 0..hidden]);
    let mut gh = row(steps);
    let mut gc = spec.cell.has_cell_state().then(|| row(steps + 1));
    let w_t = w.clone().transpose();
    // Gradients of the pre-activations: `d_x` w.r.t. `xp`, `d_h` w.r.t. `h·W + bias`; they
    // differ only for GRU (whose `n` gate scales the hidden part by `r`).
    let mut d_x = vec![None; steps];
    let mut d_h = vec![None; steps];
    for t in order(steps, spec.reverse).rev() {
        let masks = masks_at(&spec.valid, t);
        let mut g = at(&grad_outputs, t) + gh.clone();
        if let Some((valid, _)) = &masks {
            g = g * valid.clone();
        }
        let h_t = at(&tape.states, t);
        let (dx, dh, direct) = match spec.cell {
            CellKind::Elman(activation) => {
                let da = g * activation_slope(activation, h_t);
                (da.clone(), da, None)
            }
            CellKind::Lstm => {
                let gates = tape.gates.as_ref().expect("LSTM tape has gates");
                let cells = tape.cells.as_ref().expect("LSTM tape has cells");
                let [i, f, gg, o] = blocks(at(gates, t));
                let c_t = at(cells, t);
                let c_prev = before(cells, c0, t, steps, spec.reverse);
                let tc = tanh(c_t);
                let gc_old = gc.take().expect("LSTM carries a cell gradient");
                let gc_kept = match &masks {
                    Some((valid, _)) => gc_old.clone() * valid.clone(),
                    None => gc_old.clone(),
                };
                let gc_new = gc_kept + g.clone() * o.clone() * tanh_slope(tc.clone());
                let d_i = gc_new.clone() * gg.clone() * sigmoid_slope(i.clone());
                let d_f = gc_new.clone() * c_prev * sigmoid_slope(f.clone());
                let d_g = gc_new.clone() * i * tanh_slope(gg);
                let d_o = g * tc * sigmoid_slope(o);
                let mut gc_prev = gc_new * f;
                if let Some((_, padded)) = &masks {
                    gc_prev = gc_prev + gc_old * padded.clone();
                }
                gc = Some(gc_prev);
                let da = Tensor::cat(vec![d_i, d_f, d_g, d_o], 1);
                (da.clone(), da, None)
            }
            CellKind::Gru => {
                let gates = tape.gates.as_ref().expect("GRU tape has gates");
                let [r, z, n, h_n] = blocks(at(gates, t));
                let h_prev = before(&tape.states, h0, t, steps, spec.reverse);
                let d_z = g.clone() * (h_prev - n.clone()) * sigmoid_slope(z.clone());
                let d_n = g.clone() * (z.clone().neg() + 1.0) * tanh_slope(n);
                let d_hn = d_n.clone() * r.clone();
                let d_r = d_n.clone() * h_n * sigmoid_slope(r);
                let dx = Tensor::cat(vec![d_r.clone(), d_z.clone(), d_n], 1);
                let dh = Tensor::cat(vec![d_r, d_z, d_hn], 1);
                (dx, dh, Some(g * z))
            }
        };
        let mut gh_prev = dh.clone().matmul(w_t.clone());
        if let Some(direct) = direct {
            gh_prev = gh_prev + direct;
        }
        if let Some((_, padded)) = &masks {
            gh_prev = gh_prev + gh * padded.clone();
        }
        gh = gh_prev;
        d_x[t] = Some(dx);
        d_h[t] = Some(dh);
    }
    let stack = |v: Vec<Option<Tensor<2>>>| {
        Tensor::stack(
            v.into_iter()
                .map(|d| d.expect("every step visited"))
                .collect(),
            0,
        )
    };
    let same = !matches!(spec.cell, CellKind::Gru);
    let d_h: Tensor<3> = stack(d_h);
    let d_x: Option<Tensor<3>> = if same {
        wanted.xp.then(|| d_h.clone())
    } else {
        wanted.xp.then(|| stack(d_x))
    };
    let w = wanted
        .w
        .then(|| outer_sum(all_before(&tape.states, h0, spec.reverse), d_h.clone()));
    let bias = wanted.bias.then(|| {
        let [steps, batch, width] = d_h.dims();
        d_h.clone()
            .reshape([steps * batch, width])
            .sum_dim(0)
            .reshape([width])
    });
    ScanGrads {
        xp: d_x,
        w,
        bias,
        h0: wanted.h0.then_some(gh),
        c0: if wanted.c0 { gc } else { None },
    }
}
