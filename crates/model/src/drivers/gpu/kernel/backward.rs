//! The backward scan kernel (BPTT): every step of a layer-direction, latest first, in one
//! launch (or a few, where a driver limits loops).

use cubecl::prelude::*;

use super::norm::gradient_means;
use super::products::{dot_rows, through_projection};
use super::states::{is_real, load_states, store_states};
use super::{Layout, Span};
use crate::cells::GpuCell;

/// The backward scan (BPTT). `grad` is the gradient of the forward output (laid out as
/// `ScanLayout` says); `states`, `cells`, `kept` and (projected) `unprojected` the tape; `wt`
/// `[G·H, P]` is `W_hh` (`= (W_hhᵀ)ᵀ`), `projection` `[H, P]` is `W_hrᵀ`, `mask` `[B, P]`
/// recurrent dropout's. Under layer norm, `gain` `[G·H]` is the hidden parts' gain,
/// `hidden_x_hat` `[T, B, G·H]` and `hidden_inv` `[T, B, G]` their normalisation (`x̂` and
/// `1/√(σ² + ε)` per block); with the cell state's norm, `state_gain`, `state_bias` `[H]`,
/// `state_x_hat` `[T, B, H]` and `state_inv` `[T, B]` the same for `c_t`.
/// Writes `d_hidden` (and, for a separate input part, `d_input`) `[T, B, G·H]`, `starts`
/// (`[B, P]` then `[B, H]`): the gradient reaching the start states, and (projected)
/// `reaching` `[T, B, P]`: the gradient reaching every `h_t`; under layer norm `d_raw`
/// `[T, B, G·H]`, the gradient of the hidden parts before their normalisation, and
/// `d_state` `[T, B, H]`, that of `LN(c_t)·gain + bias`. Over several launches, `carry`
/// passes the state gradients between them.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub(crate) fn scan_backward<F: Float, C: GpuCell>(
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
    gain: &Tensor<F>,
    hidden_x_hat: &Tensor<F>,
    hidden_inv: &Tensor<F>,
    state_gain: &Tensor<F>,
    state_bias: &Tensor<F>,
    state_x_hat: &Tensor<F>,
    state_inv: &Tensor<F>,
    d_hidden: &mut Tensor<F>,
    d_input: &mut Tensor<F>,
    reaching: &mut Tensor<F>,
    d_raw: &mut Tensor<F>,
    d_state: &mut Tensor<F>,
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
    // Rows from the cube's first on (the last cube's rows may run past the batch).
    let remaining = batch - first;

    // What reaches the states after the step being differentiated, and (being built) before it:
    // at first the final states' gradients, or what an earlier launch carried over.
    let mut gh = Shared::<[F]>::new_slice(2 * state_block);
    let mut gc = Shared::<[F]>::new_slice(comptime!(if layout.cell_state { 2 * block } else { 1 }));
    // The step's hidden-part gradient of every row, for the product with `W_hh` (under layer
    // norm: first times the gain, then the raw parts' gradient).
    let mut d = Shared::<[F]>::new_slice(rows * width);
    // Projected: the gradient reaching `h_t` of every row, for the product with `W_hr`.
    let mut gr =
        Shared::<[F]>::new_slice(comptime!(if layout.projected { state_block } else { 1 }));
    // The cell state's norm: what reaches `LN(c_t)` (times its gain) of every row.
    let mut sd = Shared::<[F]>::new_slice(comptime!(if layout.state_norm { block } else { 1 }));
    // Layer norm: the reductions' partial sums and each block's two means.
    let mut partials =
        Shared::<[F]>::new_slice(comptime!(if layout.norm { 2 * layout.units } else { 1 }));
    let mut stats =
        Shared::<[F]>::new_slice(comptime!(if layout.norm { 2 * rows * gates } else { 1 }));
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
        if layout.state_norm {
            // What reaches `LN(c_t) · gain + bias` through the output, then its two means.
            let mut u = UNIT_POS_X as usize;
            while u < hidden {
                if layout.projected {
                    through_projection::<F>(&mut gm, &gr, projection, u, layout);
                }
                #[unroll]
                for r in 0..rows {
                    let b = first + r;
                    let mut dy = F::new(0.0);
                    if b < batch {
                        let row = t * batch + b;
                        if is_real::<F>(valid, row, layout.padded) {
                            let g_h = if layout.projected {
                                gm[r]
                            } else {
                                gh[now + r * hidden + u] + grad[row * hidden + u]
                            };
                            #[unroll]
                            for j in 0..layout.tape {
                                tape[j] = kept[(row * layout.tape + j) * hidden + u];
                            }
                            let y = state_x_hat[row * hidden + u] * state_gain[u] + state_bias[u];
                            dy = C::normed_output_backward::<F>(g_h, y, &tape, &mut dh);
                        }
                        d_state[row * hidden + u] = dy;
                    }
                    sd[r * hidden + u] = dy * state_gain[u];
                }
                u += stride;
            }
            sync_cube();
            gradient_means::<F>(
                &sd,
                state_x_hat,
                (t * batch + first) * hidden,
                remaining,
                &mut partials,
                &mut stats,
                rows,
                1usize,
                hidden,
                layout.units,
            );
        }
        let mut u = UNIT_POS_X as usize;
        while u < hidden {
            if layout.projected {
                through_projection::<F>(&mut gm, &gr, projection, u, layout);
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
                    let g_h = g[0];
                    let mut y = F::new(0.0);
                    if layout.state_norm {
                        // `c_t`'s gradient through its normalisation joins the later steps';
                        // the output's own parts come from `normed_output_backward` below.
                        let x_hat = state_x_hat[row * hidden + u];
                        y = x_hat * state_gain[u] + state_bias[u];
                        let centred = sd[r * hidden + u] - stats[2 * r] - x_hat * stats[2 * r + 1];
                        g[1] += state_inv[row] * centred;
                        g[0] = F::new(0.0);
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
                    if layout.state_norm {
                        C::normed_output_backward::<F>(g_h, y, &tape, &mut dh);
                    }
                    #[unroll]
                    for k in 0..gates {
                        d_hidden[row * width + k * hidden + u] = dh[k];
                        let mut scaled = dh[k];
                        if layout.norm {
                            scaled *= gain[k * hidden + u];
                        }
                        d[r * width + k * hidden + u] = scaled;
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
        if layout.norm {
            // The gradient of the raw parts, `(1/σ)·(d − mean(d) − x̂·mean(d ⊙ x̂))` per block.
            gradient_means::<F>(
                &d,
                hidden_x_hat,
                (t * batch + first) * width,
                remaining,
                &mut partials,
                &mut stats,
                rows * gates,
                gates,
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
                        #[unroll]
                        for g in 0..gates {
                            let k = r * gates + g;
                            let at = row * width + g * hidden + u;
                            let centred = d[k * hidden + u]
                                - stats[2 * k]
                                - hidden_x_hat[at] * stats[2 * k + 1];
                            let raw = hidden_inv[row * gates + g] * centred;
                            d[k * hidden + u] = raw;
                            d_raw[at] = raw;
                        }
                    }
                }
                u += stride;
            }
            sync_cube();
        }
        // What reaches `h_{t-1}` through `W_hh`, added to what was written above.
        let mut k = UNIT_POS_X as usize;
        while k < width_state {
            // `Σ_j d[r, j] · W_hh[j, k]`.
            dot_rows::<F>(&mut acc, &d, wt, k, width_state, width, rows, layout.unroll);
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
