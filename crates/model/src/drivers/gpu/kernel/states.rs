//! Where the scan kernels keep the states: each cube's rows in shared memory, loaded at a
//! launch's start (from the start states, or what an earlier launch carried over) and stored at
//! its end; and which steps are padding (the states pass them unchanged).

use cubecl::prelude::*;

use super::Layout;

/// Whether `row` (`t·B + b`) is a real step rather than padding (always, unpadded).
#[cube]
pub(super) fn is_real<F: Float>(valid: &Tensor<F>, row: usize, #[comptime] padded: bool) -> bool {
    let mut real = true;
    if padded {
        real = valid[row] != F::new(0.0);
    }
    real
}

/// Loads the cube's rows of both states (see [`load_state()`]): the hidden state (`P` wide)
/// from element `h_at` of `h_source`, the cell state (`H` wide, cells with one) from element
/// `c_at` of `c_source`; or, `continued`, from `carry` (`[B, P]` then `[B, H]`).
#[cube]
#[allow(clippy::too_many_arguments)]
pub(super) fn load_states<F: Float>(
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
pub(super) fn store_states<F: Float>(
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
