//! The scan kernels, generic over the cell ([`GpuCell`]): one launch runs a layer-direction
//! over every step, forward or backward.
//!
//! Each cube owns `rows` sequences of the batch and keeps their states in shared memory; its
//! units stride over the hidden units. A step is: every unit computes its hidden units' gate
//! parts (`W_hh` read from global memory, shared by the cube's rows), the cell's unit function
//! gives the new state, and one barrier publishes it (states are double-buffered). Batch rows
//! are independent, so no synchronisation between cubes is needed. The backward kernel has two
//! phases per step: the cell's backward unit writes the parts' gradient to shared memory, then
//! every unit multiplies it by `W_hh` for the gradient reaching the previous state.

use cubecl::prelude::*;

use crate::cells::GpuCell;

/// Counts loop iterations up to `outer × inner` into `out[0]`: some drivers end loops that run
/// too long (Mesa's software driver, llvmpipe, after 65,535 iterations per invocation), so a
/// scan is cut into launches that stay within what this kernel reaches.
#[cube(launch)]
pub(super) fn loop_probe<F: Float>(
    out: &mut Tensor<F>,
    outer: u32,
    inner: u32,
    #[define(F)] _dtype: ElemType,
) {
    let mut count = F::new(0.0);
    for _ in 0..outer {
        for _ in 0..inner {
            count += F::new(1.0);
        }
    }
    out[0] = count;
}

/// What a scan kernel is compiled for (a kernel per distinct value).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) struct Layout {
    /// Hidden units per direction (`H`).
    pub hidden: usize,
    /// Gate blocks (`GATES`), values kept per unit (`TAPE`).
    pub gates: usize,
    pub tape: usize,
    /// Sequences per cube.
    pub rows: usize,
    /// Whether the cell has a cell state, keeps its input part apart, has a direct path back.
    pub cell_state: bool,
    pub separate: bool,
    /// Whether some sequences are padded (the masks are read), and the tape is kept.
    pub padded: bool,
    pub keep: bool,
    /// The cell's comptime option (`Cell::variant`).
    pub variant: u32,
}

/// The steps one launch runs: visiting indices `start..start + count` of `steps`, for `batch`
/// sequences, backwards in time when `reverse` is 1.
#[derive(CubeType, CubeLaunch)]
pub(super) struct Span {
    pub steps: u32,
    pub batch: u32,
    pub reverse: u32,
    pub start: u32,
    pub count: u32,
}

/// The forward scan. `xp` `[T, B, G·H]`, `w` `[H, G·H]`, `bias` `[G·H]`, `h0`/`c0` `[B, H]`,
/// `valid` `[T, B]` (read when padded). Writes `out` `[T + 1 (+ 1), B, H]` (outputs, zero at
/// padded steps, then the final states); when keeping the tape, `states` (padded only: the
/// carried states), `cells` and `kept` `[T, B, TAPE·H]`. A scan may take several launches,
/// each over a [`Span`] of its steps: `carry` `[2, B, H]` passes the states between them.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub(super) fn scan_forward<F: Float, C: GpuCell>(
    xp: &Tensor<F>,
    w: &Tensor<F>,
    bias: &Tensor<F>,
    h0: &Tensor<F>,
    c0: &Tensor<F>,
    valid: &Tensor<F>,
    out: &mut Tensor<F>,
    states: &mut Tensor<F>,
    cells: &mut Tensor<F>,
    kept: &mut Tensor<F>,
    carry: &mut Tensor<F>,
    span: Span,
    #[comptime] layout: Layout,
    #[define(F)] _dtype: ElemType,
) {
    let hidden = layout.hidden;
    let gates = layout.gates;
    let rows = layout.rows;
    let width = gates * hidden;
    let block = rows * hidden;
    let steps = span.steps as usize;
    let batch = span.batch as usize;
    let first = CUBE_POS_X as usize * rows;
    let stride = CUBE_DIM_X as usize;

    // Two buffers per state: the previous step's is read while the next is written. A launch
    // that continues an earlier one starts from the states that one carried over.
    let mut h = Shared::<[F]>::new_slice(2 * block);
    let mut c = Shared::<[F]>::new_slice(comptime!(if layout.cell_state { 2 * block } else { 1 }));
    let continued = span.start > 0;
    load_state::<F>(
        &mut h, h0, 0, carry, 0, continued, first, batch, rows, hidden,
    );
    if layout.cell_state {
        load_state::<F>(
            &mut c, c0, 0, carry, batch, continued, first, batch, rows, hidden,
        );
    }
    sync_cube();

    let mut parts = Array::<F>::new(gates);
    let mut input = Array::<F>::new(gates);
    let mut state = Array::<F>::new(2usize);
    let mut tape = Array::<F>::new(4usize);
    let mut acc = Array::<F>::new(rows * gates);
    for l in 0..span.count as usize {
        let i = span.start as usize + l;
        let t = if span.reverse == 1 { steps - 1 - i } else { i };
        let now = (l % 2) * block;
        let next = block - now;
        let mut u = UNIT_POS_X as usize;
        while u < hidden {
            // The hidden part of each gate, for each row: `h_{t-1} · W_hh + b`.
            #[unroll]
            for r in 0..rows {
                #[unroll]
                for g in 0..gates {
                    acc[r * gates + g] = bias[g * hidden + u];
                }
            }
            for q in 0..hidden / UNROLL {
                #[unroll]
                for k in 0..UNROLL {
                    add_hidden_unit::<F>(&mut acc, &h, now, w, q * UNROLL + k, u, layout);
                }
            }
            #[unroll]
            for k in hidden / UNROLL * UNROLL..hidden {
                add_hidden_unit::<F>(&mut acc, &h, now, w, k, u, layout);
            }
            #[unroll]
            for r in 0..rows {
                let b = first + r;
                if b < batch {
                    let row = t * batch + b;
                    let h_prev = h[now + r * hidden + u];
                    let mut c_prev = F::new(0.0);
                    if layout.cell_state {
                        c_prev = c[now + r * hidden + u];
                    }
                    let mut real = true;
                    if layout.padded {
                        real = valid[row] != F::new(0.0);
                    }
                    let mut h_new = h_prev;
                    let mut c_new = c_prev;
                    let mut output = F::new(0.0);
                    #[unroll]
                    for j in 0..layout.tape {
                        tape[j] = F::new(0.0);
                    }
                    if real {
                        #[unroll]
                        for g in 0..gates {
                            let x = xp[row * width + g * hidden + u];
                            if layout.separate {
                                parts[g] = acc[r * gates + g];
                                input[g] = x;
                            } else {
                                parts[g] = acc[r * gates + g] + x;
                            }
                        }
                        C::forward_unit::<F>(
                            &parts,
                            &input,
                            h_prev,
                            c_prev,
                            &mut state,
                            &mut tape,
                            layout.variant,
                        );
                        h_new = state[0];
                        c_new = state[1];
                        output = h_new;
                    }
                    out[row * hidden + u] = output;
                    h[next + r * hidden + u] = h_new;
                    if layout.cell_state {
                        c[next + r * hidden + u] = c_new;
                    }
                    if layout.keep {
                        if layout.padded {
                            states[row * hidden + u] = h_new;
                        }
                        if layout.cell_state {
                            cells[row * hidden + u] = c_new;
                        }
                        #[unroll]
                        for j in 0..layout.tape {
                            kept[(row * layout.tape + j) * hidden + u] = tape[j];
                        }
                    }
                }
            }
            u += stride;
        }
        sync_cube();
    }

    // The states reached: carried over to the next launch, or the final states (after each
    // sequence's last real step) after the last one.
    let last = (span.count as usize % 2) * block;
    let done = span.start + span.count == span.steps;
    store_state::<F>(
        &h, last, out, steps, carry, 0, done, first, batch, rows, hidden,
    );
    if layout.cell_state {
        store_state::<F>(
            &c,
            last,
            out,
            steps + 1,
            carry,
            batch,
            done,
            first,
            batch,
            rows,
            hidden,
        );
    }
}

/// The backward scan (BPTT). `grad` `[T + 1 (+ 1), B, H]` is the gradient of the forward
/// output; `states`, `cells`, `kept` the tape; `wt` `[G·H, H]` is `W_hh` (`= (W_hhᵀ)ᵀ`).
/// Writes `d_hidden` (and, for a separate input part, `d_input`) `[T, B, G·H]` and `starts`
/// `[1 (+ 1), B, H]`: the gradient reaching the start states. Over several launches, `carry`
/// `[2, B, H]` passes the state gradients between them.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub(super) fn scan_backward<F: Float, C: GpuCell>(
    grad: &Tensor<F>,
    states: &Tensor<F>,
    cells: &Tensor<F>,
    kept: &Tensor<F>,
    h0: &Tensor<F>,
    c0: &Tensor<F>,
    wt: &Tensor<F>,
    valid: &Tensor<F>,
    d_hidden: &mut Tensor<F>,
    d_input: &mut Tensor<F>,
    starts: &mut Tensor<F>,
    carry: &mut Tensor<F>,
    span: Span,
    #[comptime] layout: Layout,
    #[define(F)] _dtype: ElemType,
) {
    let hidden = layout.hidden;
    let gates = layout.gates;
    let rows = layout.rows;
    let width = gates * hidden;
    let block = rows * hidden;
    let steps = span.steps as usize;
    let batch = span.batch as usize;
    let first = CUBE_POS_X as usize * rows;
    let stride = CUBE_DIM_X as usize;

    // What reaches the states after the step being differentiated, and (being built) before it:
    // at first the final states' gradients, or what an earlier launch carried over.
    let mut gh = Shared::<[F]>::new_slice(2 * block);
    let mut gc = Shared::<[F]>::new_slice(comptime!(if layout.cell_state { 2 * block } else { 1 }));
    // The step's hidden-part gradient of every row, for the product with `W_hh`.
    let mut d = Shared::<[F]>::new_slice(rows * width);
    let continued = span.start > 0;
    load_state::<F>(
        &mut gh,
        grad,
        steps * batch,
        carry,
        0,
        continued,
        first,
        batch,
        rows,
        hidden,
    );
    if layout.cell_state {
        let at = (steps + 1) * batch;
        load_state::<F>(
            &mut gc, grad, at, carry, batch, continued, first, batch, rows, hidden,
        );
    }
    sync_cube();

    let mut g = Array::<F>::new(2usize);
    let mut saved = Array::<F>::new(4usize);
    let mut tape = Array::<F>::new(4usize);
    let mut dh = Array::<F>::new(gates);
    let mut dx = Array::<F>::new(gates);
    let mut back = Array::<F>::new(2usize);
    let mut acc = Array::<F>::new(rows);
    for l in 0..span.count as usize {
        // Backwards through the visiting order of the forward pass.
        let i = span.start as usize + l;
        let t = if span.reverse == 1 { i } else { steps - 1 - i };
        let has_previous = if span.reverse == 1 {
            t + 1 < steps
        } else {
            t > 0
        };
        let mut previous = t + 1;
        if span.reverse == 0 && has_previous {
            previous = t - 1;
        }
        let now = (l % 2) * block;
        let next = block - now;
        let mut u = UNIT_POS_X as usize;
        while u < hidden {
            #[unroll]
            for r in 0..rows {
                let b = first + r;
                let mut real = b < batch;
                if layout.padded && real {
                    real = valid[t * batch + b] != F::new(0.0);
                }
                if real {
                    let row = t * batch + b;
                    g[0] = gh[now + r * hidden + u] + grad[row * hidden + u];
                    g[1] = F::new(0.0);
                    if layout.cell_state {
                        g[1] = gc[now + r * hidden + u];
                    }
                    saved[0] = states[row * hidden + u];
                    saved[1] = h0[b * hidden + u];
                    if has_previous {
                        saved[1] = states[(previous * batch + b) * hidden + u];
                    }
                    if layout.cell_state {
                        saved[2] = cells[row * hidden + u];
                        saved[3] = c0[b * hidden + u];
                        if has_previous {
                            saved[3] = cells[(previous * batch + b) * hidden + u];
                        }
                    }
                    #[unroll]
                    for j in 0..layout.tape {
                        tape[j] = kept[(row * layout.tape + j) * hidden + u];
                    }
                    C::backward_unit::<F>(
                        &g,
                        &saved,
                        &tape,
                        &mut dh,
                        &mut dx,
                        &mut back,
                        layout.variant,
                    );
                    #[unroll]
                    for k in 0..gates {
                        d_hidden[row * width + k * hidden + u] = dh[k];
                        d[r * width + k * hidden + u] = dh[k];
                        if layout.separate {
                            d_input[row * width + k * hidden + u] = dx[k];
                        }
                    }
                    gh[next + r * hidden + u] = back[0];
                    if layout.cell_state {
                        gc[next + r * hidden + u] = back[1];
                    }
                } else if b < batch {
                    // Padding: no gradient to the parts; the states' gradients pass unchanged.
                    let row = t * batch + b;
                    #[unroll]
                    for k in 0..gates {
                        d_hidden[row * width + k * hidden + u] = F::new(0.0);
                        d[r * width + k * hidden + u] = F::new(0.0);
                        if layout.separate {
                            d_input[row * width + k * hidden + u] = F::new(0.0);
                        }
                    }
                    gh[next + r * hidden + u] = gh[now + r * hidden + u];
                    if layout.cell_state {
                        gc[next + r * hidden + u] = gc[now + r * hidden + u];
                    }
                }
            }
            u += stride;
        }
        sync_cube();
        // What reaches `h_{t-1}` through `W_hh`, added to the direct path written above.
        let mut k = UNIT_POS_X as usize;
        while k < hidden {
            #[unroll]
            for r in 0..rows {
                acc[r] = F::new(0.0);
            }
            for q in 0..width / UNROLL {
                #[unroll]
                for j in 0..UNROLL {
                    add_part_gradient::<F>(&mut acc, &d, wt, q * UNROLL + j, k, layout);
                }
            }
            #[unroll]
            for j in width / UNROLL * UNROLL..width {
                add_part_gradient::<F>(&mut acc, &d, wt, j, k, layout);
            }
            #[unroll]
            for r in 0..rows {
                if first + r < batch {
                    gh[next + r * hidden + k] += acc[r];
                }
            }
            k += stride;
        }
        sync_cube();
    }

    // What reached the states before the launch's first step: carried over to the next launch,
    // or, after the last, the gradients of the start states.
    let last = (span.count as usize % 2) * block;
    let done = span.start + span.count == span.steps;
    store_state::<F>(
        &gh, last, starts, 0, carry, 0, done, first, batch, rows, hidden,
    );
    if layout.cell_state {
        store_state::<F>(
            &gc, last, starts, 1, carry, batch, done, first, batch, rows, hidden,
        );
    }
}

/// The inner loops of the per-step products go this many terms at a time (fewer loop
/// iterations: faster, and further within a driver's loop limit).
pub(super) const UNROLL: usize = 4;

/// Adds hidden unit `k`'s term to the gate parts of unit `u` of every row of the cube:
/// `acc[r, g] += h_{t-1}[r, k] · W_hhᵀ[k, g·H + u]`.
#[cube]
#[allow(clippy::too_many_arguments)]
fn add_hidden_unit<F: Float>(
    acc: &mut Array<F>,
    h: &Shared<[F]>,
    now: usize,
    w: &Tensor<F>,
    k: usize,
    u: usize,
    #[comptime] layout: Layout,
) {
    let width = layout.gates * layout.hidden;
    #[unroll]
    for g in 0..layout.gates {
        let weight = w[k * width + g * layout.hidden + u];
        #[unroll]
        for r in 0..layout.rows {
            acc[r * layout.gates + g] += h[now + r * layout.hidden + k] * weight;
        }
    }
}

/// Adds part `j`'s term to the gradient reaching unit `k` of every row's previous state:
/// `acc[r] += d[r, j] · W_hh[j, k]`.
#[cube]
fn add_part_gradient<F: Float>(
    acc: &mut Array<F>,
    d: &Shared<[F]>,
    wt: &Tensor<F>,
    j: usize,
    k: usize,
    #[comptime] layout: Layout,
) {
    let width = layout.gates * layout.hidden;
    let weight = wt[j * layout.hidden + k];
    #[unroll]
    for r in 0..layout.rows {
        acc[r] += d[r * width + j] * weight;
    }
}

/// Loads the cube's rows of a state (`rows` sequences from `first` on, `hidden` units each)
/// into `state`: rows `source_row + b` of `source` on a scan's first launch, rows
/// `carry_row + b` of `carry` when `continued` (what an earlier launch carried over).
#[cube]
#[allow(clippy::too_many_arguments)]
fn load_state<F: Float>(
    state: &mut Shared<[F]>,
    source: &Tensor<F>,
    source_row: usize,
    carry: &mut Tensor<F>,
    carry_row: usize,
    continued: bool,
    first: usize,
    batch: usize,
    #[comptime] rows: usize,
    #[comptime] hidden: usize,
) {
    let mut u = UNIT_POS_X as usize;
    while u < hidden {
        #[unroll]
        for r in 0..rows {
            let b = first + r;
            if b < batch {
                if continued {
                    state[r * hidden + u] = carry[(carry_row + b) * hidden + u];
                } else {
                    state[r * hidden + u] = source[(source_row + b) * hidden + u];
                }
            }
        }
        u += CUBE_DIM_X as usize;
    }
}

/// Stores the cube's rows of a state (from `state[at..]`): as rows `done_row·B + b` of `done`
/// after a scan's last launch, else as rows `carry_row + b` of `carry` for the next launch.
#[cube]
#[allow(clippy::too_many_arguments)]
fn store_state<F: Float>(
    state: &Shared<[F]>,
    at: usize,
    done: &mut Tensor<F>,
    done_row: usize,
    carry: &mut Tensor<F>,
    carry_row: usize,
    finished: bool,
    first: usize,
    batch: usize,
    #[comptime] rows: usize,
    #[comptime] hidden: usize,
) {
    let mut u = UNIT_POS_X as usize;
    while u < hidden {
        #[unroll]
        for r in 0..rows {
            let b = first + r;
            if b < batch {
                let value = state[at + r * hidden + u];
                if finished {
                    done[(done_row * batch + b) * hidden + u] = value;
                } else {
                    carry[(carry_row + b) * hidden + u] = value;
                }
            }
        }
        u += CUBE_DIM_X as usize;
    }
}
