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
    /// The hidden state's width (`P`: `H`, or the projection's size).
    pub state: usize,
    /// Gate blocks (`GATES`), values kept per unit (`TAPE`).
    pub gates: usize,
    pub tape: usize,
    /// Sequences per cube.
    pub rows: usize,
    /// Whether the cell has a cell state, keeps its input part apart, has a direct path back.
    pub cell_state: bool,
    pub separate: bool,
    /// Whether the cell's output is projected to the state (`h_t = m_t·W_hrᵀ`).
    pub projected: bool,
    /// Whether recurrent dropout's mask scales the state entering `W_hh`.
    pub masked: bool,
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

/// The forward scan. `xp` `[T, B, G·H]`, `w` `[P, G·H]`, `bias` `[G·H]`, `h0` `[B, P]`, `c0`
/// `[B, H]`, `valid` `[T, B]` (read when padded), `projection` `[H, P]` (read when projected),
/// `mask` `[B, P]` (recurrent dropout's, read when masked).
/// Writes `out` (laid out as `ScanLayout` says: the outputs `[T, B, P]`, zero at padded
/// steps, then the final states); when keeping the tape, `states` (padded only: the carried
/// states), `cells`, `kept` `[T, B, TAPE·H]` and (projected) `unprojected` `[T, B, H]`, the
/// cell's output before the projection. A scan may take several launches, each over a
/// [`Span`] of its steps: `carry` (`[B, P]` then `[B, H]`) passes the states between them.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub(super) fn scan_forward<F: Float, C: GpuCell>(
    xp: &Tensor<F>,
    w: &Tensor<F>,
    bias: &Tensor<F>,
    h0: &Tensor<F>,
    c0: &Tensor<F>,
    valid: &Tensor<F>,
    projection: &Tensor<F>,
    mask: &Tensor<F>,
    out: &mut Tensor<F>,
    states: &mut Tensor<F>,
    cells: &mut Tensor<F>,
    kept: &mut Tensor<F>,
    unprojected: &mut Tensor<F>,
    carry: &mut Tensor<F>,
    span: Span,
    #[comptime] layout: Layout,
    #[define(F)] _dtype: ElemType,
) {
    let hidden = layout.hidden;
    let width_state = layout.state;
    let gates = layout.gates;
    let rows = layout.rows;
    let width = gates * hidden;
    let block = rows * hidden;
    let state_block = rows * width_state;
    let steps = span.steps as usize;
    let batch = span.batch as usize;
    let first = CUBE_POS_X as usize * rows;
    let stride = CUBE_DIM_X as usize;

    // Two buffers per state: the previous step's is read while the next is written. A launch
    // that continues an earlier one starts from the states that one carried over.
    let mut h = Shared::<[F]>::new_slice(2 * state_block);
    let mut c = Shared::<[F]>::new_slice(comptime!(if layout.cell_state { 2 * block } else { 1 }));
    // Projected: the step's cell outputs, which the projection reads whole.
    let mut m = Shared::<[F]>::new_slice(comptime!(if layout.projected { block } else { 1 }));
    // Masked: the states as they enter `W_hh` (`h ⊙ mask`), double-buffered as `h` is.
    let mut entering =
        Shared::<[F]>::new_slice(comptime!(if layout.masked { 2 * state_block } else { 1 }));
    let continued = span.start > 0;
    load_states::<F>(
        &mut h, &mut c, h0, 0, c0, 0, carry, continued, first, batch, layout,
    );
    if layout.masked {
        // The start state as it enters, in the buffer of the first step (`now = 0`).
        let mut p = UNIT_POS_X as usize;
        while p < width_state {
            #[unroll]
            for r in 0..rows {
                if first + r < batch {
                    let at = r * width_state + p;
                    entering[at] = h[at] * mask[(first + r) * width_state + p];
                }
            }
            p += stride;
        }
    }
    sync_cube();

    let mut parts = Array::<F>::new(gates);
    let mut input = Array::<F>::new(gates);
    let mut state = Array::<F>::new(2usize);
    let mut tape = Array::<F>::new(4usize);
    let mut acc = Array::<F>::new(rows * gates);
    let mut projected = Array::<F>::new(rows);
    for l in 0..span.count as usize {
        let i = span.start as usize + l;
        let t = if span.reverse == 1 { steps - 1 - i } else { i };
        let now = (l % 2) * state_block;
        let next = state_block - now;
        let cell_now = (l % 2) * block;
        let cell_next = block - cell_now;
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
            if layout.masked {
                hidden_parts::<F>(&mut acc, &entering, now, w, u, layout);
            } else {
                hidden_parts::<F>(&mut acc, &h, now, w, u, layout);
            }
            #[unroll]
            for r in 0..rows {
                let b = first + r;
                if b < batch {
                    let row = t * batch + b;
                    // A projectable cell never reads `h_{t-1}` (and it is `P` wide).
                    let mut h_prev = F::new(0.0);
                    if !layout.projected {
                        h_prev = h[now + r * hidden + u];
                    }
                    let mut c_prev = F::new(0.0);
                    if layout.cell_state {
                        c_prev = c[cell_now + r * hidden + u];
                    }
                    let real = is_real::<F>(valid, row, layout.padded);
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
                    if layout.projected {
                        // The cell's output (zero at padding); the state comes below.
                        m[r * hidden + u] = output;
                        if layout.keep {
                            unprojected[row * hidden + u] = output;
                        }
                    } else {
                        out[row * hidden + u] = output;
                        h[next + r * hidden + u] = h_new;
                        if layout.masked {
                            entering[next + r * hidden + u] = h_new * mask[b * hidden + u];
                        }
                        if layout.keep && layout.padded {
                            states[row * hidden + u] = h_new;
                        }
                    }
                    if layout.cell_state {
                        c[cell_next + r * hidden + u] = c_new;
                    }
                    if layout.keep {
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
        if layout.projected {
            // `h_t = m_t · W_hrᵀ` once every unit of `m_t` is there; padding carries `h`.
            sync_cube();
            let mut p = UNIT_POS_X as usize;
            while p < width_state {
                // `Σ_k m_t[r, k] · W_hrᵀ[k, p]`.
                dot_rows::<F>(&mut projected, &m, projection, p, width_state, hidden, rows);
                #[unroll]
                for r in 0..rows {
                    let b = first + r;
                    if b < batch {
                        let row = t * batch + b;
                        let real = is_real::<F>(valid, row, layout.padded);
                        let mut h_new = h[now + r * width_state + p];
                        let mut output = F::new(0.0);
                        if real {
                            h_new = projected[r];
                            output = h_new;
                        }
                        out[row * width_state + p] = output;
                        h[next + r * width_state + p] = h_new;
                        if layout.masked {
                            let keep = mask[b * width_state + p];
                            entering[next + r * width_state + p] = h_new * keep;
                        }
                        if layout.keep && layout.padded {
                            states[row * width_state + p] = h_new;
                        }
                    }
                }
                p += stride;
            }
        }
        sync_cube();
    }

    // The states reached: carried over to the next launch, or the final states (after each
    // sequence's last real step) after the last one.
    let done = span.start + span.count == span.steps;
    let finals = steps * batch * width_state;
    let parity = span.count as usize % 2;
    store_states::<F>(
        &h,
        &c,
        parity,
        out,
        finals,
        finals + batch * width_state,
        carry,
        done,
        first,
        batch,
        layout,
    );
}

/// The backward scan (BPTT). `grad` is the gradient of the forward output (laid out as
/// `ScanLayout` says); `states`, `cells`, `kept` and (projected) `unprojected` the tape; `wt`
/// `[G·H, P]` is `W_hh` (`= (W_hhᵀ)ᵀ`), `projection` `[H, P]` is `W_hrᵀ`, `mask` `[B, P]`
/// recurrent dropout's. Writes `d_hidden`
/// (and, for a separate input part, `d_input`) `[T, B, G·H]`, `starts` (`[B, P]` then `[B, H]`):
/// the gradient reaching the start states, and (projected) `reaching` `[T, B, P]`: the gradient
/// reaching every `h_t`. Over several launches, `carry` passes the state gradients between
/// them.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub(super) fn scan_backward<F: Float, C: GpuCell>(
    grad: &Tensor<F>,
    states: &Tensor<F>,
    cells: &Tensor<F>,
    kept: &Tensor<F>,
    unprojected: &Tensor<F>,
    h0: &Tensor<F>,
    c0: &Tensor<F>,
    wt: &Tensor<F>,
    projection: &Tensor<F>,
    mask: &Tensor<F>,
    valid: &Tensor<F>,
    d_hidden: &mut Tensor<F>,
    d_input: &mut Tensor<F>,
    reaching: &mut Tensor<F>,
    starts: &mut Tensor<F>,
    carry: &mut Tensor<F>,
    span: Span,
    #[comptime] layout: Layout,
    #[define(F)] _dtype: ElemType,
) {
    let hidden = layout.hidden;
    let width_state = layout.state;
    let gates = layout.gates;
    let rows = layout.rows;
    let width = gates * hidden;
    let block = rows * hidden;
    let state_block = rows * width_state;
    let steps = span.steps as usize;
    let batch = span.batch as usize;
    let first = CUBE_POS_X as usize * rows;
    let stride = CUBE_DIM_X as usize;

    // What reaches the states after the step being differentiated, and (being built) before it:
    // at first the final states' gradients, or what an earlier launch carried over.
    let mut gh = Shared::<[F]>::new_slice(2 * state_block);
    let mut gc = Shared::<[F]>::new_slice(comptime!(if layout.cell_state { 2 * block } else { 1 }));
    // The step's hidden-part gradient of every row, for the product with `W_hh`.
    let mut d = Shared::<[F]>::new_slice(rows * width);
    // Projected: the gradient reaching `h_t` of every row, for the product with `W_hr`.
    let mut gr =
        Shared::<[F]>::new_slice(comptime!(if layout.projected { state_block } else { 1 }));
    let continued = span.start > 0;
    let finals = steps * batch * width_state;
    load_states::<F>(
        &mut gh,
        &mut gc,
        grad,
        finals,
        grad,
        finals + batch * width_state,
        carry,
        continued,
        first,
        batch,
        layout,
    );
    sync_cube();

    let mut g = Array::<F>::new(2usize);
    let mut saved = Array::<F>::new(4usize);
    let mut tape = Array::<F>::new(4usize);
    let mut dh = Array::<F>::new(gates);
    let mut dx = Array::<F>::new(gates);
    let mut back = Array::<F>::new(2usize);
    let mut acc = Array::<F>::new(rows);
    let mut gm = Array::<F>::new(rows);
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
        let now = (l % 2) * state_block;
        let next = state_block - now;
        let cell_now = (l % 2) * block;
        let cell_next = block - cell_now;
        if layout.projected {
            // The gradient reaching `h_t` (its output's and the later steps'); what reaches
            // `h_{t-1}` starts from zero, or passes unchanged over padding.
            let mut p = UNIT_POS_X as usize;
            while p < width_state {
                #[unroll]
                for r in 0..rows {
                    let b = first + r;
                    if b < batch {
                        let row = t * batch + b;
                        let real = is_real::<F>(valid, row, layout.padded);
                        let mut reach = F::new(0.0);
                        let mut carried = gh[now + r * width_state + p];
                        if real {
                            reach = carried + grad[row * width_state + p];
                            carried = F::new(0.0);
                        }
                        gr[r * width_state + p] = reach;
                        reaching[row * width_state + p] = reach;
                        gh[next + r * width_state + p] = carried;
                    }
                }
                p += stride;
            }
            sync_cube();
        }
        let mut u = UNIT_POS_X as usize;
        while u < hidden {
            if layout.projected {
                // What reaches the cell's output: `Σ_p g_h[r, p] · W_hr[p, u]`.
                dot_rows::<F>(
                    &mut gm,
                    &gr,
                    projection,
                    u * width_state,
                    1usize,
                    width_state,
                    rows,
                );
            }
            #[unroll]
            for r in 0..rows {
                let b = first + r;
                let mut real = b < batch;
                if layout.padded && real {
                    real = valid[t * batch + b] != F::new(0.0);
                }
                if real {
                    let row = t * batch + b;
                    if layout.projected {
                        g[0] = gm[r];
                        saved[0] = unprojected[row * hidden + u];
                        saved[1] = F::new(0.0);
                    } else {
                        g[0] = gh[now + r * hidden + u] + grad[row * hidden + u];
                        saved[0] = states[row * hidden + u];
                        saved[1] = h0[b * hidden + u];
                        if has_previous {
                            saved[1] = states[(previous * batch + b) * hidden + u];
                        }
                    }
                    g[1] = F::new(0.0);
                    if layout.cell_state {
                        g[1] = gc[cell_now + r * hidden + u];
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
                    if !layout.projected {
                        gh[next + r * hidden + u] = back[0];
                    }
                    if layout.cell_state {
                        gc[cell_next + r * hidden + u] = back[1];
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
                    if !layout.projected {
                        gh[next + r * hidden + u] = gh[now + r * hidden + u];
                    }
                    if layout.cell_state {
                        gc[cell_next + r * hidden + u] = gc[cell_now + r * hidden + u];
                    }
                }
            }
            u += stride;
        }
        sync_cube();
        // What reaches `h_{t-1}` through `W_hh`, added to what was written above.
        let mut k = UNIT_POS_X as usize;
        while k < width_state {
            // `Σ_j d[r, j] · W_hh[j, k]`.
            dot_rows::<F>(&mut acc, &d, wt, k, width_state, width, rows);
            #[unroll]
            for r in 0..rows {
                let b = first + r;
                if b < batch {
                    let mut through = acc[r];
                    if layout.masked {
                        through *= mask[b * width_state + k];
                    }
                    gh[next + r * width_state + k] += through;
                }
            }
            k += stride;
        }
        sync_cube();
    }

    // What reached the states before the launch's first step: carried over to the next launch,
    // or, after the last, the gradients of the start states.
    let done = span.start + span.count == span.steps;
    let parity = span.count as usize % 2;
    store_states::<F>(
        &gh,
        &gc,
        parity,
        starts,
        0,
        batch * width_state,
        carry,
        done,
        first,
        batch,
        layout,
    );
}

/// The inner loops of the per-step products go this many terms at a time (fewer loop
/// iterations: faster, and further within a driver's loop limit).
pub(super) const UNROLL: usize = 4;

/// `acc[r, g] += Σ_k h[r, k] · W_hhᵀ[k, g·H + u]` for every row and gate of the cube: the
/// hidden parts of unit `u`, from the states in `h` from `now` on (`UNROLL` terms at a time).
#[cube]
fn hidden_parts<F: Float>(
    acc: &mut Array<F>,
    h: &Shared<[F]>,
    now: usize,
    w: &Tensor<F>,
    u: usize,
    #[comptime] layout: Layout,
) {
    for q in 0..layout.state / UNROLL {
        #[unroll]
        for k in 0..UNROLL {
            add_hidden_unit::<F>(acc, h, now, w, q * UNROLL + k, u, layout);
        }
    }
    #[unroll]
    for k in layout.state / UNROLL * UNROLL..layout.state {
        add_hidden_unit::<F>(acc, h, now, w, k, u, layout);
    }
}

/// Adds state unit `k`'s term to the gate parts of unit `u` of every row of the cube:
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
            acc[r * layout.gates + g] += h[now + r * layout.state + k] * weight;
        }
    }
}

/// Whether `row` (`t·B + b`) is a real step rather than padding (always, unpadded).
#[cube]
fn is_real<F: Float>(valid: &Tensor<F>, row: usize, #[comptime] padded: bool) -> bool {
    let mut real = true;
    if padded {
        real = valid[row] != F::new(0.0);
    }
    real
}

/// `acc[r] = Σ_k values[r, k] · weights[base + k·stride]` for every row `r` of the cube, where
/// each row of `values` holds `terms` values (`UNROLL` terms at a time).
#[cube]
fn dot_rows<F: Float>(
    acc: &mut Array<F>,
    values: &Shared<[F]>,
    weights: &Tensor<F>,
    base: usize,
    #[comptime] stride: usize,
    #[comptime] terms: usize,
    #[comptime] rows: usize,
) {
    #[unroll]
    for r in 0..rows {
        acc[r] = F::new(0.0);
    }
    for q in 0..terms / UNROLL {
        #[unroll]
        for j in 0..UNROLL {
            add_term::<F>(
                acc,
                values,
                weights,
                base,
                stride,
                q * UNROLL + j,
                terms,
                rows,
            );
        }
    }
    #[unroll]
    for j in terms / UNROLL * UNROLL..terms {
        add_term::<F>(acc, values, weights, base, stride, j, terms, rows);
    }
}

/// Term `j` of [`dot_rows()`] for every row: `acc[r] += values[r, j] · weights[base + j·stride]`.
#[cube]
#[allow(clippy::too_many_arguments)]
fn add_term<F: Float>(
    acc: &mut Array<F>,
    values: &Shared<[F]>,
    weights: &Tensor<F>,
    base: usize,
    #[comptime] stride: usize,
    j: usize,
    #[comptime] terms: usize,
    #[comptime] rows: usize,
) {
    let weight = weights[base + j * stride];
    #[unroll]
    for r in 0..rows {
        acc[r] += values[r * terms + j] * weight;
    }
}

/// Loads the cube's rows of both states (see [`load_state()`]): the hidden state (`P` wide)
/// from element `h_at` of `h_source`, the cell state (`H` wide, cells with one) from element
/// `c_at` of `c_source`; or, `continued`, from `carry` (`[B, P]` then `[B, H]`).
#[cube]
#[allow(clippy::too_many_arguments)]
fn load_states<F: Float>(
    h: &mut Shared<[F]>,
    c: &mut Shared<[F]>,
    h_source: &Tensor<F>,
    h_at: usize,
    c_source: &Tensor<F>,
    c_at: usize,
    carry: &mut Tensor<F>,
    continued: bool,
    first: usize,
    batch: usize,
    #[comptime] layout: Layout,
) {
    let (rows, state) = (layout.rows, layout.state);
    load_state::<F>(
        h, h_source, h_at, carry, 0, continued, first, batch, rows, state,
    );
    if layout.cell_state {
        let carry_at = batch * state;
        load_state::<F>(
            c,
            c_source,
            c_at,
            carry,
            carry_at,
            continued,
            first,
            batch,
            rows,
            layout.hidden,
        );
    }
}

/// Stores the cube's rows of both states (see [`store_state()`]), from their buffers of
/// `parity`: the hidden state at element `h_at` of `done`, the cell state at `c_at`, or, not
/// `finished`, into `carry` as [`load_states()`] reads it.
#[cube]
#[allow(clippy::too_many_arguments)]
fn store_states<F: Float>(
    h: &Shared<[F]>,
    c: &Shared<[F]>,
    parity: usize,
    done: &mut Tensor<F>,
    h_at: usize,
    c_at: usize,
    carry: &mut Tensor<F>,
    finished: bool,
    first: usize,
    batch: usize,
    #[comptime] layout: Layout,
) {
    let (rows, state) = (layout.rows, layout.state);
    let at = parity * rows * state;
    store_state::<F>(
        h, at, done, h_at, carry, 0, finished, first, batch, rows, state,
    );
    if layout.cell_state {
        let at = parity * rows * layout.hidden;
        let carry_at = batch * state;
        store_state::<F>(
            c,
            at,
            done,
            c_at,
            carry,
            carry_at,
            finished,
            first,
            batch,
            rows,
            layout.hidden,
        );
    }
}

/// Loads the cube's rows of a state (`rows` sequences from `first` on, `width` units each)
/// into `state`: from element `source_at` of `source` on a scan's first launch, from element
/// `carry_at` of `carry` when `continued` (what an earlier launch carried over).
#[cube]
#[allow(clippy::too_many_arguments)]
fn load_state<F: Float>(
    state: &mut Shared<[F]>,
    source: &Tensor<F>,
    source_at: usize,
    carry: &mut Tensor<F>,
    carry_at: usize,
    continued: bool,
    first: usize,
    batch: usize,
    #[comptime] rows: usize,
    #[comptime] width: usize,
) {
    let mut u = UNIT_POS_X as usize;
    while u < width {
        #[unroll]
        for r in 0..rows {
            let b = first + r;
            if b < batch {
                if continued {
                    state[r * width + u] = carry[carry_at + b * width + u];
                } else {
                    state[r * width + u] = source[source_at + b * width + u];
                }
            }
        }
        u += CUBE_DIM_X as usize;
    }
}

/// Stores the cube's rows of a state (from `state[at..]`, `width` units each): from element
/// `done_at` of `done` after a scan's last launch, else from element `carry_at` of `carry` for
/// the next launch.
#[cube]
#[allow(clippy::too_many_arguments)]
fn store_state<F: Float>(
    state: &Shared<[F]>,
    at: usize,
    done: &mut Tensor<F>,
    done_at: usize,
    carry: &mut Tensor<F>,
    carry_at: usize,
    finished: bool,
    first: usize,
    batch: usize,
    #[comptime] rows: usize,
    #[comptime] width: usize,
) {
    let mut u = UNIT_POS_X as usize;
    while u < width {
        #[unroll]
        for r in 0..rows {
            let b = first + r;
            if b < batch {
                let value = state[at + r * width + u];
                if finished {
                    done[done_at + b * width + u] = value;
                } else {
                    carry[carry_at + b * width + u] = value;
                }
            }
        }
        u += CUBE_DIM_X as usize;
    }
}
