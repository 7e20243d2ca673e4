//! The scan on any backend, as plain (non-autodiff) tensor operations: the time loop written
//! once for every cell, forward and backward. Per step it forms the cell's parts, calls
//! [`Cell::step`] (or [`Cell::step_backward`]), projects the cell's output when the scan has
//! a projection, and applies the masks; the hidden-weight (and projection) gradients are one
//! product over all steps each, after the loop.

use burn::tensor::Tensor;

use super::scaled;
use super::scan::{
    ScanGrads, ScanInputs, ScanRecord, ScanSpec, ScanTape, ScanWeights, Wanted, visiting_order,
};
use crate::cells::{
    Cell, PartGrads, SavedStep, StepGrad, StepParts, TensorState, column_sums, normalize,
    normalize_backward,
};

/// Step `t` of a time-major tensor, `[B, W]`.
fn at(x: &Tensor<3>, t: usize) -> Tensor<2> {
    let [_, batch, width] = x.dims();
    x.clone()
        .slice([t..t + 1, 0..batch, 0..width])
        .reshape([batch, width])
}

/// A step's masks `(valid, padded)`, `[B, 1]` each.
struct StepMask {
    valid: Tensor<2>,
    padded: Tensor<2>,
}

impl StepMask {
    fn at(valid: &Option<Tensor<3>>, t: usize) -> Option<Self> {
        valid.as_ref().map(|v| {
            let valid = at(v, t);
            let padded = valid.clone().neg() + 1.0;
            Self { valid, padded }
        })
    }

    /// `new` where the step is real, `old` where it is padding.
    fn select(&self, new: Tensor<2>, old: Tensor<2>) -> Tensor<2> {
        new * self.valid.clone() + old * self.padded.clone()
    }
}

/// Runs the scan. Returns its output laid out as [`ScanLayout`](super::scan::ScanLayout) says (the output at every
/// step, zero at padded steps, then the final hidden state, then for cells with one the final
/// cell state) and the tape for [`backward`]. Without `keep_tape` (inference) the cell's tape
/// is not kept. A projected scan multiplies the cell's output by `W_hrᵀ` after each step.
pub(crate) fn forward<C: Cell>(
    cell: C,
    spec: &ScanSpec,
    inputs: &ScanInputs,
    keep_tape: bool,
) -> (Tensor<1>, ScanTape) {
    let layout = inputs.layout(spec.cell);
    let steps = layout.steps;
    let mut state = TensorState {
        h: inputs.h0.clone(),
        c: C::CELL_STATE.then(|| inputs.c0.clone()),
    };
    let mut states = vec![None; steps];
    let mut cells = vec![None; steps];
    let mut kept = vec![None; steps];
    let mut unprojected = vec![None; steps];
    let mut raw_parts = vec![None; steps];
    let bias = inputs.bias.clone().unsqueeze::<2>();
    let norm = inputs.norm.as_ref();
    let state_norm = norm.and_then(|norm| norm.state.as_ref());
    let xp = inputs.xp.projected();
    for t in visiting_order(steps, spec.reverse) {
        let x = at(&xp, t);
        let raw = entering(&state.h, &spec.mask).matmul(inputs.w.clone());
        let hw = match norm {
            Some(norm) => {
                if keep_tape {
                    raw_parts[t] = Some(raw.clone());
                }
                scaled(raw, C::GATES, &norm.hidden_gain) + bias.clone()
            }
            None => raw + bias.clone(),
        };
        let parts = if C::SEPARATE_INPUT {
            StepParts {
                hidden: hw,
                input: Some(x),
            }
        } else {
            StepParts {
                hidden: x + hw,
                input: None,
            }
        };
        let step = cell.step(parts, &state, keep_tape, state_norm);
        let TensorState { h: output, c } = step.state;
        let (h, output) = match &inputs.projection {
            Some(r) => (output.clone().matmul(r.clone()), Some(output)),
            None => (output, None),
        };
        let mask = StepMask::at(&spec.valid, t);
        state = match &mask {
            None => TensorState { h, c },
            Some(mask) => TensorState {
                h: mask.select(h, state.h),
                c: c.zip(state.c).map(|(c, old)| mask.select(c, old)),
            },
        };
        states[t] = Some(state.h.clone());
        if keep_tape {
            cells[t] = state.c.clone();
            kept[t] = step.tape;
            unprojected[t] = match &mask {
                Some(mask) => output.map(|m| m * mask.valid.clone()),
                None => output,
            };
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
    let out = layout.flatten(outputs, state.h, state.c);
    let tape = ScanTape {
        states,
        cells: stack(cells),
        kept: stack(kept),
        unprojected: stack(unprojected),
        raw_parts: stack(raw_parts),
    };
    (out, tape)
}

/// The hidden state as it enters `W_hh`: times recurrent dropout's mask when there is one.
fn entering(h: &Tensor<2>, mask: &Option<Tensor<2>>) -> Tensor<2> {
    match mask {
        Some(mask) => h.clone() * mask.clone(),
        None => h.clone(),
    }
}

/// The state before step `t` in visiting order, `[B, H]`: the start state or the state after
/// the previously visited step.
fn before(states: &Tensor<3>, start: &Tensor<2>, t: usize, reverse: bool) -> Tensor<2> {
    let [steps, _, _] = states.dims();
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
    let rest = |range: std::ops::Range<usize>| states.clone().slice([range, 0..batch, 0..width]);
    if reverse {
        Tensor::cat(vec![rest(1..steps), start], 0)
    } else {
        Tensor::cat(vec![start, rest(0..steps - 1)], 0)
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

/// The gradients of `W_hhᵀ` (`Σ_t (h_{t-1} ⊙ mask)ᵀ · d_t`, one product over all steps) and
/// of the step bias (`Σ d_t`), as `wanted`, from `d_hidden` `[T, B, GATES·H]`, the gradient of
/// every step's hidden part, the states the scan went through and its recurrent dropout mask.
/// Under layer norm, `d_raw` is the gradient of the hidden part before its normalisation
/// (which `W_hh`'s gradient takes); otherwise `d_hidden` again.
pub(crate) fn parameter_gradients(
    spec: &ScanSpec,
    states: &Tensor<3>,
    h0: &Tensor<2>,
    d_raw: &Tensor<3>,
    d_hidden: &Tensor<3>,
    wanted: Wanted,
) -> (Option<Tensor<2>>, Option<Tensor<1>>) {
    let w = wanted.w.then(|| {
        let mut before = all_before(states, h0, spec.reverse);
        if let Some(mask) = &spec.mask {
            before = before * mask.clone().unsqueeze::<3>();
        }
        outer_sum(before, d_raw.clone())
    });
    let bias = wanted.bias.then(|| {
        let [steps, batch, width] = d_hidden.dims();
        d_hidden
            .clone()
            .reshape([steps * batch, width])
            .sum_dim(0)
            .reshape([width])
    });
    (w, bias)
}

/// The gradient of `W_hrᵀ`, `Σ_t m_tᵀ · g_t` (`[H, P]`, one product over all steps), from the
/// cell's outputs `m` `[T, B, H]` and the gradient reaching every hidden state `g` `[T, B, P]`.
pub(crate) fn projection_gradient(unprojected: Tensor<3>, reaching: Tensor<3>) -> Tensor<2> {
    outer_sum(unprojected, reaching)
}

/// Step `t`'s view of the tape for [`Cell::step_backward`].
struct SavedAt<'a> {
    tape: &'a ScanTape,
    start: &'a ScanWeights,
    t: usize,
    reverse: bool,
}

impl SavedStep for SavedAt<'_> {
    fn h(&self) -> Tensor<2> {
        at(
            self.tape.unprojected.as_ref().unwrap_or(&self.tape.states),
            self.t,
        )
    }

    fn h_prev(&self) -> Tensor<2> {
        before(&self.tape.states, &self.start.h0, self.t, self.reverse)
    }

    fn c(&self) -> Tensor<2> {
        at(self.cells(), self.t)
    }

    fn c_prev(&self) -> Tensor<2> {
        before(self.cells(), &self.start.c0, self.t, self.reverse)
    }

    fn tape(&self) -> Tensor<2> {
        let kept = self.tape.kept.as_ref();
        at(kept.expect("the forward pass kept the cell's tape"), self.t)
    }
}

impl SavedAt<'_> {
    fn cells(&self) -> &Tensor<3> {
        self.tape
            .cells
            .as_ref()
            .expect("the forward pass kept the cell states")
    }
}

/// Backpropagation through time for one scan: `grad` is the gradient of the loss with respect to
/// [`forward`]'s output; returns the gradients in `wanted`.
pub(crate) fn backward<C: Cell>(
    cell: C,
    record: &ScanRecord,
    grad: Tensor<1>,
    wanted: Wanted,
) -> ScanGrads {
    let ScanRecord {
        spec,
        weights,
        tape,
    } = record;
    let layout = record.layout();
    let steps = layout.steps;
    let outputs = layout.outputs(&grad);
    // What reaches the state after the step being differentiated.
    let mut gh = layout.final_h(&grad);
    let mut gc = layout.final_c(&grad);
    let w_t = weights.w.clone().transpose();
    let r_t = weights.projection.clone().map(|r| r.transpose());
    let norm = weights.norm.as_ref();
    let state_norm = norm.and_then(|norm| norm.state.as_ref());
    // Under layer norm: the gradient of each step's hidden part before its normalisation, and
    // the sums over steps of the gains' (and the state's bias's) gradients.
    let mut d_raw = vec![None; steps];
    let mut norm_grads: [Option<Tensor<1>>; 3] = [None, None, None];
    let mut d_hidden = vec![None; steps];
    let mut d_input = vec![None; steps];
    // Under a projection: the gradient reaching each `h_t`, for `∂W_hr`.
    let mut reaching = vec![None; steps];
    for t in visiting_order(steps, spec.reverse).rev() {
        let mask = StepMask::at(&spec.valid, t);
        let mut g = at(&outputs, t) + gh.clone();
        let mut g_c = gc.clone();
        if let Some(mask) = &mask {
            g = g * mask.valid.clone();
            g_c = g_c.map(|c| c * mask.valid.clone());
        }
        let g = match &r_t {
            Some(r_t) => {
                reaching[t] = Some(g.clone());
                g.matmul(r_t.clone())
            }
            None => g,
        };
        let saved = SavedAt {
            tape,
            start: weights,
            t,
            reverse: spec.reverse,
        };
        let PartGrads {
            hidden: dh,
            input: dx,
            direct,
            c_prev,
            state_norm: state_grads,
        } = cell.step_backward(StepGrad { h: g, c: g_c }, &saved, state_norm);
        let through_w = match (norm, &tape.raw_parts) {
            (Some(norm), Some(raw_parts)) => {
                let normalized = normalize(at(raw_parts, t), C::GATES);
                let gain = norm.hidden_gain.clone().unsqueeze::<2>();
                add(
                    &mut norm_grads[0],
                    column_sums(dh.clone() * normalized.x_hat.clone()),
                );
                let d = normalize_backward(&normalized, dh.clone() * gain);
                d_raw[t] = Some(d.clone());
                d
            }
            _ => dh.clone(),
        };
        if let Some(grads) = state_grads {
            add(&mut norm_grads[1], grads.gain);
            add(&mut norm_grads[2], grads.bias);
        }
        let mut gh_prev = through_w.matmul(w_t.clone());
        if let Some(mask) = &spec.mask {
            gh_prev = gh_prev * mask.clone();
        }
        if let Some(direct) = direct {
            gh_prev = gh_prev + direct;
        }
        let mut gc_prev = c_prev;
        if let Some(mask) = &mask {
            gh_prev = gh_prev + gh * mask.padded.clone();
            gc_prev = gc_prev
                .zip(gc)
                .map(|(new, old)| new + old * mask.padded.clone());
        }
        gh = gh_prev;
        gc = gc_prev;
        d_input[t] = dx;
        d_hidden[t] = Some(dh);
    }
    let stack = |v: Vec<Option<Tensor<2>>>| {
        Tensor::stack(
            v.into_iter()
                .map(|d| d.expect("every step visited"))
                .collect(),
            0,
        )
    };
    let d_hidden: Tensor<3> = stack(d_hidden);
    let xp = wanted.xp.then(|| {
        if C::SEPARATE_INPUT {
            stack(d_input)
        } else {
            d_hidden.clone()
        }
    });
    let d_raw = match norm {
        Some(_) => stack(d_raw),
        None => d_hidden.clone(),
    };
    let (w, bias) = parameter_gradients(spec, &tape.states, &weights.h0, &d_raw, &d_hidden, wanted);
    let [hidden_gain, state_gain, state_bias] = norm_grads;
    let projection = match (&tape.unprojected, wanted.projection) {
        (Some(unprojected), true) => {
            Some(projection_gradient(unprojected.clone(), stack(reaching)))
        }
        _ => None,
    };
    ScanGrads {
        xp,
        w,
        bias,
        h0: wanted.h0.then_some(gh),
        c0: if wanted.c0 { gc } else { None },
        projection,
        hidden_gain: hidden_gain.filter(|_| wanted.hidden_gain),
        state_gain: state_gain.filter(|_| wanted.state_gain),
        state_bias: state_bias.filter(|_| wanted.state_bias),
    }
}

/// `sum += x`, starting from `x`.
fn add(sum: &mut Option<Tensor<1>>, x: Tensor<1>) {
    *sum = Some(match sum.take() {
        Some(sum) => sum + x,
        None => x,
    });
}
