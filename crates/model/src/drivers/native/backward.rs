//! BPTT of the native scan on raw `f32` memory, for every cell, mirroring `forward.rs`: per
//! step, the rows' gradients ([`Cell::backward_row`]), then their product with `W_hh` for the
//! gradient reaching the previous state; `∂W_hh` is two products over all steps afterwards.
//! A projected scan first gathers the gradient reaching each `h_t` and multiplies it by `W_hr`
//! for the cell's output (one more phase per step); `∂W_hr` is one product afterwards.
//! Under layer norm the rows are split by sequences (`norm.rs`) and `W_hh` multiplies the
//! gradient of the raw hidden part. Split as the forward pass is (`split.rs`): by
//! sequences, each chunk running its own back through every step (each with a bias gradient
//! of its own, added up in order afterwards), or each step by hidden units and state columns.
//! Layouts as in `forward.rs`.

use super::backward_rows;
use super::matmul::{Product, View, matmul, transposed};
use super::memory::{add_assign, filled, multiply, multiply_add, unfilled};
use super::norm::{self, NormValues};
use super::packed::{Start, StepWeights};
use super::simd::Isa;
use super::split::{Part, Split};
use super::steps::{Shape, hidden_weight_gradient};
use super::team::Shared;
use crate::cells::Cell;
use crate::drivers::scan::Wanted;

/// What the backward pass reads of the forward pass (as `forward.rs` filled it, tape kept).
pub(crate) struct Saved<'a> {
    pub states: &'a [f32],
    /// Empty unless the cell has a cell state.
    pub cells: &'a [f32],
    /// Empty unless the cell keeps a tape.
    pub kept: &'a [f32],
    /// The cell's outputs before the projection (empty unless projected).
    pub unprojected: &'a [f32],
    pub h0: &'a [f32],
    pub c0: &'a [f32],
    /// `[T, B]`: the masks (`None`: nothing padded).
    pub valid: Option<&'a [f32]>,
    /// `[T, B, GATES·H]`: every step's raw hidden part, under layer norm (else empty).
    pub raw: &'a [f32],
}

/// What the backward pass multiplies by: `W_hhᵀ` `[P, GATES·H]`, projected `W_hrᵀ` `[H, P]`,
/// and recurrent dropout's mask `[B, P]` on the state entering `W_hh`.
pub(crate) struct Weights<'a> {
    pub w: &'a [f32],
    pub projection: Option<&'a [f32]>,
    pub mask: Option<&'a [f32]>,
    /// Layer normalisation's weights, under layer norm.
    pub norm: Option<NormValues<'a>>,
}

/// What [`backward`] computes besides the summed parts' gradient when that is computed in
/// `grad`'s memory (see [`in_place`]).
pub(crate) struct Gradients {
    /// `[T, B, GATES·H]`: the gradient of the hidden part of every step (empty when in place).
    pub d_hidden: Vec<f32>,
    /// `[T, B, GATES·H]`: the input part's, for cells that keep it apart (else empty).
    pub d_input: Vec<f32>,
    /// `[P, GATES·H]`: `∂W_hhᵀ`, when asked for.
    pub w: Option<Vec<f32>>,
    /// `[GATES·H]`: `∂bias`.
    pub bias: Vec<f32>,
    /// `[B, P]`: `∂h0`, and `[B, H]`: `∂c0` (empty unless the cell has a cell state).
    pub h0: Vec<f32>,
    pub c0: Vec<f32>,
    /// `[H, P]`: `∂W_hrᵀ`, projected and asked for.
    pub projection: Option<Vec<f32>>,
    /// Under layer norm: `[GATES·H]`, the hidden part's gain's gradient, and for cells with a
    /// cell state `[H]` each, its normalisation's gain's and bias's.
    pub hidden_gain: Option<Vec<f32>>,
    pub state_norm: Option<[Vec<f32>; 2]>,
}

/// Whether [`backward`] writes the hidden part's gradient over the outputs' gradient in `grad`
/// (one gate block and nothing apart: both are `[T, B, H]`), saving a buffer as large.
pub(crate) fn in_place<C: Cell>() -> bool {
    C::GATES == 1 && !C::SEPARATE_INPUT
}

/// The gradient of the forward pass's output (laid out as `ScanLayout` says): of every step's
/// output, then of the final hidden (and cell) state.
pub(crate) enum Incoming<'a> {
    /// For cells computing [`in_place`]: the first `T` blocks are overwritten with the hidden
    /// part's gradient of every step.
    Writable(&'a mut [f32]),
    /// For the others: only read.
    ReadOnly(&'a [f32]),
}

/// The phases of one backward step, in order; `Gather` only under a projection.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// The gradient reaching `h_t` (its output's and the later steps'), by columns of the state.
    Gather,
    /// The cell's rows, by hidden units (projected: after `W_hr` carries that gradient to `m_t`).
    Rows,
    /// Under layer norm and a projection: `W_hr` carries the gradient reaching `h_t` to `m_t`,
    /// by hidden units.
    Project,
    /// Under layer norm: the cell's rows and the normalisation's, by sequences (`norm.rs`).
    NormRows,
    /// The rows' gradients times `W_hh`, by columns of the state: what reaches `h_{t−1}`.
    Recur,
}

/// BPTT from the `grad` reaching the forward pass's output.
#[allow(clippy::too_many_arguments)]
pub(crate) fn backward<C: Cell>(
    cell: C,
    isa: Isa,
    shape: &Shape,
    saved: &Saved,
    weights: &Weights,
    grad: Incoming,
    wanted: Wanted,
    split: Option<Split>,
) -> Gradients {
    let (block, state_block) = (shape.block(), shape.state_block());
    let (batch, hidden, state, steps) = (shape.batch, shape.hidden, shape.state, shape.steps);
    let width = C::GATES * hidden;
    let wt = StepWeights::block(
        &transposed(weights.w, state, width),
        width,
        state,
        0,
        state,
        isa,
    );
    let rt = weights
        .projection
        .map(|r| StepWeights::block(&transposed(r, hidden, state), state, hidden, 0, hidden, isa));
    let grads = match grad {
        Incoming::Writable(grad) => Shared::new(grad),
        Incoming::ReadOnly(grad) => {
            assert!(
                !in_place::<C>(),
                "the parts' gradient is written over `grad`"
            );
            Shared::read_only(grad)
        }
    };
    // SAFETY: nothing writes while the final states' gradients are read.
    let final_state = |at: usize, len: usize| unsafe { grads.get(at..at + len) }.to_vec();
    let final_h = steps * state_block;
    // The gradients reaching the states after step `t`, and those being built for `t − 1`.
    let mut gh = [final_state(final_h, state_block), vec![0.0; state_block]];
    let mut gc = match C::CELL_STATE {
        true => [final_state(final_h + state_block, block), vec![0.0; block]],
        false => [Vec::new(), Vec::new()],
    };
    let parts_len = steps * batch * width;
    let mut d_hidden = if in_place::<C>() {
        Vec::new()
    } else {
        unfilled(parts_len)
    };
    let mut d_input = if C::SEPARATE_INPUT {
        unfilled(parts_len)
    } else {
        Vec::new()
    };
    // Projected: the gradient reaching every `h_t` (kept for `∂W_hr`), and the current step's
    // gradient reaching `m_t`.
    let (mut reaching, mut gm) = match shape.projected {
        true => (unfilled(steps * state_block), vec![0.0; block]),
        false => (Vec::new(), Vec::new()),
    };
    // Masked: the product with `W_hh` lands here before the mask scales it into `next`.
    let mut through = match weights.mask {
        Some(_) => vec![0.0; state_block],
        None => Vec::new(),
    };
    let (split, threads) = Split::choose(shape, C::GATES, split);
    let chunks = split.chunks(shape, threads);
    // The bias gradient: one for all chunks (each its own units' columns), or one per chunk of
    // a row split, added up in order afterwards.
    let bias_blocks = match split {
        Split::Units => 1,
        Split::Rows(_) => chunks,
    };
    let mut bias = vec![0.0; bias_blocks * width];
    // Under layer norm: the gradient of the raw hidden parts, and each chunk's sums.
    let (mut d_raw, mut sums) = match weights.norm {
        Some(_) => (
            unfilled(parts_len),
            vec![0.0; chunks * norm::sums_len(C::GATES, hidden)],
        ),
        None => (Vec::new(), Vec::new()),
    };
    {
        let through = Shared::new(&mut through);
        let d_hidden = match in_place::<C>() {
            true => grads,
            false => Shared::unfilled(&mut d_hidden),
        };
        let d_input = Shared::unfilled(&mut d_input);
        let (reaching, gm) = (Shared::unfilled(&mut reaching), Shared::new(&mut gm));
        let [gh0, gh1] = &mut gh;
        let [gc0, gc1] = &mut gc;
        let gh = [Shared::new(gh0), Shared::new(gh1)];
        let gc = [Shared::new(gc0), Shared::new(gc1)];
        let bias = Shared::new(&mut bias);
        let (d_raw, sums) = (Shared::unfilled(&mut d_raw), Shared::new(&mut sums));
        // What `W_hh` multiplies: the parts' gradient, or under layer norm the raw part's.
        let recurring = match weights.norm {
            Some(_) => d_raw,
            None => d_hidden,
        };
        let order: Vec<usize> = shape.order().rev().collect();
        let phases: &[Phase] = match (shape.projected, weights.norm.is_some()) {
            (true, false) => &[Phase::Gather, Phase::Rows, Phase::Recur],
            (false, false) => &[Phase::Rows, Phase::Recur],
            (true, true) => &[Phase::Gather, Phase::Project, Phase::NormRows, Phase::Recur],
            (false, true) => &[Phase::NormRows, Phase::Recur],
        };
        let step = |i: usize, phase: Phase, chunk: usize| {
            let t = order[i];
            let (gh, next) = (gh[i % 2], gh[(i + 1) % 2]);
            let part = split.part(shape, chunk, chunks);
            // The state's columns of this chunk's rows that the gather and `W_hh` write.
            let (rows, columns) = (part.rows.clone(), part.columns.clone());
            let now = t * state_block;
            // Projected: `W_hr` carries the gradient reaching `h_t` of the part's rows to its
            // units of `m_t`.
            // SAFETY: called where the gradient reaching `h_t` of these rows is complete and
            // nobody writes it, and the part of `gm` is the calling chunk's.
            let to_output = |rt: &StepWeights, part: &Part| unsafe {
                let rows = &part.rows;
                let g = reaching.get(now + rows.start * state..now + rows.end * state);
                let to = gm.rows(rows.start * hidden, hidden);
                rt.product(to, rows.len(), g, Start::Zero, part.units.clone());
            };
            match phase {
                Phase::Gather => {
                    for b in rows.clone() {
                        let mine = b * state + columns.start..b * state + columns.end;
                        let real = shape.is_valid(saved.valid, t, b);
                        // SAFETY: this chunk's columns of row `b`, in the gradient reaching
                        // `h_t`, are its own; the incoming gradient is only read.
                        unsafe {
                            let to = reaching.get_mut(now + mine.start..now + mine.end);
                            match real {
                                true => {
                                    let gy = grads.get(now + mine.start..now + mine.end);
                                    for ((to, &a), &b) in to.iter_mut().zip(gy).zip(gh.get(mine)) {
                                        *to = a + b;
                                    }
                                }
                                false => to.fill(0.0),
                            }
                        }
                    }
                }
                Phase::Rows => {
                    let units = part.units.clone();
                    if let Some(rt) = &rt {
                        // Every chunk completed the gradient reaching `h_t` in the previous
                        // phase (or this chunk did, for its rows); its part of `gm` is its own.
                        to_output(rt, &part);
                    }
                    backward_rows::BackwardRows {
                        cell,
                        shape,
                        t,
                        rows: part.rows,
                        units,
                        saved,
                        grads,
                        gh: if shape.projected { gm } else { gh },
                        gc: [gc[i % 2], gc[(i + 1) % 2]],
                        next,
                        d_hidden,
                        d_input,
                        bias: bias
                            .part((chunk % bias_blocks) * width..(chunk % bias_blocks + 1) * width),
                    }
                    .run(isa);
                }
                Phase::Project => {
                    let rt = rt.as_ref().expect("projected");
                    // As in `Phase::Rows`.
                    to_output(rt, &part);
                }
                Phase::NormRows => {
                    let sums_len = norm::sums_len(C::GATES, hidden);
                    norm::BackwardRows {
                        cell,
                        shape,
                        t,
                        rows: part.whole_rows.clone(),
                        saved,
                        norm: weights.norm.expect("under layer norm"),
                        grads,
                        gh: if shape.projected { gm } else { gh },
                        next,
                        gc: [gc[i % 2], gc[(i + 1) % 2]],
                        d_hidden,
                        d_input,
                        d_raw,
                        // SAFETY: chunk `chunk`'s sums are its own.
                        sums: unsafe { sums.get_mut(chunk * sums_len..(chunk + 1) * sums_len) },
                    }
                    .run(isa);
                }
                Phase::Recur => {
                    let start = if C::DIRECT {
                        Start::Destination
                    } else {
                        Start::Zero
                    };
                    // SAFETY: every chunk finished step `t`'s block of `d_hidden` in the
                    // previous phase and nobody writes it again; the columns of this chunk's
                    // in `next`, `gh` and `through` are this chunk's.
                    unsafe {
                        let at = t * batch * width;
                        let d = recurring.get(at + rows.start * width..at + rows.end * width);
                        let (m, to) = (rows.len(), rows.start * state);
                        match weights.mask {
                            None => wt.product(next.rows(to, state), m, d, start, columns.clone()),
                            Some(mask) => {
                                let into = through.rows(to, state);
                                wt.product(into, m, d, Start::Zero, columns.clone());
                                for b in rows.clone() {
                                    let mine = b * state + columns.start..b * state + columns.end;
                                    let (next, through) =
                                        (next.get_mut(mine.clone()), through.get(mine.clone()));
                                    match C::DIRECT {
                                        true => multiply_add(next, through, &mask[mine]),
                                        false => multiply(next, through, &mask[mine]),
                                    }
                                }
                            }
                        }
                        for b in rows.filter(|&b| !shape.is_valid(saved.valid, t, b)) {
                            let mine = b * state + columns.start..b * state + columns.end;
                            next.get_mut(mine.clone()).copy_from_slice(gh.get(mine));
                        }
                    }
                }
            }
        };
        split.run((threads, chunks), steps, phases.len(), |i, phase, chunk| {
            step(i, phases[phase], chunk)
        });
    }
    // A row split's bias gradients, one per chunk, added up in order.
    let mut bias = match bias_blocks {
        1 => bias,
        _ => bias
            .chunks_exact(width)
            .fold(vec![0.0; width], |mut sum, part| {
                add_assign(&mut sum, part);
                sum
            }),
    };
    // SAFETY: the scan wrote every element (each row of each step: the cell's row, or zero;
    // the gradient reaching each state, or zero).
    let (d_hidden, d_input, reaching, d_raw) = unsafe {
        (
            filled(d_hidden),
            filled(d_input),
            filled(reaching),
            filled(d_raw),
        )
    };
    let w = wanted.w.then(|| {
        let d = match (in_place::<C>(), weights.norm) {
            (_, Some(_)) => &d_raw[..],
            // SAFETY: the scan is over: nothing writes any more.
            (true, None) => unsafe { grads.get(0..steps * block) },
            (false, None) => &d_hidden[..],
        };
        match weights.mask {
            None => hidden_weight_gradient(shape, saved.states, saved.h0, d, width),
            // The states as they entered `W_hh`.
            Some(mask) => {
                let entered = |states: &[f32]| -> Vec<f32> {
                    let mut out = vec![0.0; states.len()];
                    for (out, states) in out
                        .chunks_exact_mut(state_block)
                        .zip(states.chunks_exact(state_block))
                    {
                        multiply(out, states, mask);
                    }
                    out
                };
                let (states, h0) = (entered(saved.states), entered(saved.h0));
                hidden_weight_gradient(shape, &states, &h0, d, width)
            }
        }
    });
    let projection = (shape.projected && wanted.projection).then(|| {
        let mut dr = vec![0.0; hidden * state];
        let product = Product {
            m: hidden,
            n: state,
            k: steps * batch,
            lhs: View::transposed(saved.unprojected, hidden),
            rhs: View::rows(&reaching, state),
        };
        // SAFETY: `unprojected` is (T·B)×H row-major, read transposed; `reaching` (T·B)×P.
        unsafe { matmul(&mut dr, product, false) };
        dr
    });
    // After `steps` rounds the gradients reaching the start states are in buffers `steps % 2`.
    let last = steps % 2;
    let [h0, c0] = [gh, gc].map(|mut pair| std::mem::take(&mut pair[last]));
    let (mut hidden_gain, mut state_norm) = (None, None);
    if weights.norm.is_some() {
        let [sum_bias, gain, state_gain, state_bias] = norm::add_up(&sums, C::GATES, hidden);
        (bias, hidden_gain) = (sum_bias, Some(gain));
        state_norm = C::CELL_STATE.then_some([state_gain, state_bias]);
    }
    Gradients {
        d_hidden,
        d_input,
        w,
        bias,
        h0,
        c0,
        projection,
        hidden_gain,
        state_norm,
    }
}
