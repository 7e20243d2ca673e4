//! The forward scan kernel: every step of a layer-direction in one launch (or a few, where a
//! driver limits loops).

use cubecl::prelude::*;

use super::norm::block_moments;
use super::products::{dot_rows, hidden_parts};
use super::states::{is_real, load_states, store_states};
use super::{Layout, Span};
use crate::cells::GpuCell;

/// The forward scan. `xp` `[T, B, G·H]`, `w` `[P, G·H]`, `bias` `[G·H]`, `h0` `[B, P]`, `c0`
/// `[B, H]`, `valid` `[T, B]` (read when padded), `projection` `[H, P]` (read when projected),
/// `mask` `[B, P]` (recurrent dropout's, read when masked); under layer norm `gain` `[G·H]`
/// scales each normalised hidden part (before `bias`), and `state_gain`, `state_bias` `[H]`
/// the normalised cell state.
/// Writes `out` (laid out as `ScanLayout` says: the outputs `[T, B, P]`, zero at padded
/// steps, then the final states); when keeping the tape, `states` (padded only: the carried
/// states), `cells`, `kept` `[T, B, TAPE·H]`, (projected) `unprojected` `[T, B, H]`, the
/// cell's output before the projection, and (layer norm) `raw_parts` `[T, B, G·H]`, the hidden
/// parts before their normalisation. A scan may take several launches, each over a [`Span`]
/// of its steps: `carry` (`[B, P]` then `[B, H]`) passes the states between them.
///
/// Under layer norm a step has up to three phases: the raw hidden parts, into shared memory;
/// after their statistics, the cell's units (whose tape waits in the parts' place, under the
/// cell state's norm); after the cell state's statistics, the outputs.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub(crate) fn scan_forward<F: Float, C: GpuCell>(
    xp: &Tensor<F>,
    w: &Tensor<F>,
    bias: &Tensor<F>,
    h0: &Tensor<F>,
    c0: &Tensor<F>,
    valid: &Tensor<F>,
    projection: &Tensor<F>,
    mask: &Tensor<F>,
    gain: &Tensor<F>,
    state_gain: &Tensor<F>,
    state_bias: &Tensor<F>,
    out: &mut Tensor<F>,
    states: &mut Tensor<F>,
    cells: &mut Tensor<F>,
    kept: &mut Tensor<F>,
    unprojected: &mut Tensor<F>,
    raw_parts: &mut Tensor<F>,
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
    // Layer norm: the step's raw hidden parts (`[rows, G, H]`; then, under the cell state's
    // norm, the cell's tape `[rows, TAPE, H]`), the reductions' partial sums and each block's
    // statistics.
    let mut parts_of = Shared::<[F]>::new_slice(comptime!(if layout.norm {
        rows * layout.slots() * hidden
    } else {
        1
    }));
    let mut partials =
        Shared::<[F]>::new_slice(comptime!(if layout.norm { 2 * layout.units } else { 1 }));
    let mut stats =
        Shared::<[F]>::new_slice(comptime!(if layout.norm { 2 * rows * gates } else { 1 }));
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
        if layout.norm {
            // The raw hidden parts `h_{t-1} · W_hh` of every row, then each block's statistics.
            let mut u = UNIT_POS_X as usize;
            while u < hidden {
                #[unroll]
                for k in 0..rows * gates {
                    acc[k] = F::new(0.0);
                }
                if layout.masked {
                    hidden_parts::<F>(&mut acc, &entering, now, w, u, layout);
                } else {
                    hidden_parts::<F>(&mut acc, &h, now, w, u, layout);
                }
                #[unroll]
                for r in 0..rows {
                    let b = first + r;
                    #[unroll]
                    for g in 0..gates {
                        let raw = acc[r * gates + g];
                        parts_of[(r * gates + g) * hidden + u] = raw;
                        if layout.keep && b < batch {
                            raw_parts[(t * batch + b) * width + g * hidden + u] = raw;
                        }
                    }
                }
                u += stride;
            }
            sync_cube();
            block_moments::<F>(
                &parts_of,
                0,
                &mut partials,
                &mut stats,
                rows * gates,
                hidden,
                layout.units,
            );
        }
        let mut u = UNIT_POS_X as usize;
        while u < hidden {
            if layout.norm {
                // `LN(h_{t-1} · W_hh) · gain + b`, each block from its statistics; all the
                // unit's raw parts are read before its tape takes their slots below.
                #[unroll]
                for r in 0..rows {
                    #[unroll]
                    for g in 0..gates {
                        let k = r * gates + g;
                        let x_hat = (parts_of[k * hidden + u] - stats[2 * k]) * stats[2 * k + 1];
                        acc[k] = x_hat * gain[g * hidden + u] + bias[g * hidden + u];
                    }
                }
            } else {
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
                    if layout.state_norm {
                        // The output waits for the statistics of the whole of `c_t`.
                        #[unroll]
                        for j in 0..layout.tape {
                            parts_of[(r * layout.tape + j) * hidden + u] = tape[j];
                        }
                    } else {
                        emit::<F>(
                            &mut h,
                            &mut entering,
                            &mut m,
                            out,
                            states,
                            unprojected,
                            mask,
                            h_new,
                            output,
                            next,
                            r,
                            b,
                            row,
                            u,
                            layout,
                        );
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
        if layout.state_norm {
            // The outputs from `LN(c_t) · gain + bias`; padding carries `h`.
            sync_cube();
            block_moments::<F>(
                &c,
                cell_next,
                &mut partials,
                &mut stats,
                rows,
                hidden,
                layout.units,
            );
            let mut u = UNIT_POS_X as usize;
            while u < hidden {
                #[unroll]
                for r in 0..rows {
                    let b = first + r;
                    if b < batch {
                        let row = t * batch + b;
                        let mut h_new = F::new(0.0);
                        if !layout.projected {
                            h_new = h[now + r * hidden + u];
                        }
                        let mut output = F::new(0.0);
                        if is_real::<F>(valid, row, layout.padded) {
                            #[unroll]
                            for j in 0..layout.tape {
                                tape[j] = parts_of[(r * layout.tape + j) * hidden + u];
                            }
                            let x_hat =
                                (c[cell_next + r * hidden + u] - stats[2 * r]) * stats[2 * r + 1];
                            let y = x_hat * state_gain[u] + state_bias[u];
                            h_new = C::normed_output::<F>(y, &tape);
                            output = h_new;
                        }
                        emit::<F>(
                            &mut h,
                            &mut entering,
                            &mut m,
                            out,
                            states,
                            unprojected,
                            mask,
                            h_new,
                            output,
                            next,
                            r,
                            b,
                            row,
                            u,
                            layout,
                        );
                    }
                }
                u += stride;
            }
        }
        if layout.projected {
            // `h_t = m_t · W_hrᵀ` once every unit of `m_t` is there; padding carries `h`.
            sync_cube();
            let mut p = UNIT_POS_X as usize;
            while p < width_state {
                // `Σ_k m_t[r, k] · W_hrᵀ[k, p]`.
                dot_rows::<F>(
                    &mut projected,
                    &m,
                    projection,
                    p,
                    width_state,
                    hidden,
                    rows,
                    layout.unroll,
                );
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

/// Writes unit `u` of row `r`'s step: projected, the cell's output (`m`, and `unprojected`
/// keeping the tape) for the projection; otherwise the output (`out`), the state carried to
/// the next step (`h`, and `entering` masked) and, padded and keeping the tape, `states`.
/// `h_new` and `output` differ at padding (`output` is zero there); `next` is the state
/// buffers' half for the next step, `b` the row's sequence and `row` its index `t·B + b`.
#[cube]
#[allow(clippy::too_many_arguments)]
fn emit<F: Float>(
    h: &mut Shared<[F]>,
    entering: &mut Shared<[F]>,
    m: &mut Shared<[F]>,
    out: &mut Tensor<F>,
    states: &mut Tensor<F>,
    unprojected: &mut Tensor<F>,
    mask: &Tensor<F>,
    h_new: F,
    output: F,
    next: usize,
    r: usize,
    b: usize,
    row: usize,
    u: usize,
    #[comptime] layout: Layout,
) {
    let hidden = layout.hidden;
    if layout.projected {
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
}
