//! The per-step products of the scan kernels: each unit's gate parts `h_{t-1}·W_hhᵀ`, and the
//! dot products with a row of shared values (the projection, the gradient through `W_hh`).

use cubecl::prelude::*;

use super::Layout;

/// `acc[r, g] += Σ_k h[r, k] · W_hhᵀ[k, g·H + u]` for every row and gate of the cube: the
/// hidden parts of unit `u`, from the states in `h` from `now` on (`layout.unroll` terms at a
/// time).
#[cube]
pub(super) fn hidden_parts<F: Float>(
    acc: &mut Array<F>,
    h: &Shared<[F]>,
    now: usize,
    w: &Tensor<F>,
    u: usize,
    #[comptime] layout: Layout,
) {
    let unroll = layout.unroll;
    for q in 0..layout.state / unroll {
        #[unroll]
        for k in 0..unroll {
            add_hidden_unit::<F>(acc, h, now, w, q * unroll + k, u, layout);
        }
    }
    #[unroll]
    for k in layout.state / unroll * unroll..layout.state {
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

/// `acc[r] = Σ_k values[r, k] · weights[base + k·stride]` for every row `r` of the cube, where
/// each row of `values` holds `terms` values (`unroll` terms at a time).
#[cube]
pub(super) fn dot_rows<F: Float>(
    acc: &mut Array<F>,
    values: &Shared<[F]>,
    weights: &Tensor<F>,
    base: usize,
    #[comptime] stride: usize,
    #[comptime] terms: usize,
    #[comptime] rows: usize,
    #[comptime] unroll: usize,
) {
    #[unroll]
    for r in 0..rows {
        acc[r] = F::new(0.0);
    }
    for q in 0..terms / unroll {
        #[unroll]
        for j in 0..unroll {
            add_term::<F>(
                acc,
                values,
                weights,
                base,
                stride,
                q * unroll + j,
                terms,
                rows,
            );
        }
    }
    #[unroll]
    for j in terms / unroll * unroll..terms {
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

/// What reaches the cell's output of unit `u` through the projection, for every row of the
/// cube: `gm[r] = Σ_p g_h[r, p] · W_hr[p, u]` (`projection` is `W_hrᵀ`, `[H, P]`; `gr` holds
/// `g_h`, `[rows, P]`).
#[cube]
pub(super) fn through_projection<F: Float>(
    gm: &mut Array<F>,
    gr: &Shared<[F]>,
    projection: &Tensor<F>,
    u: usize,
    #[comptime] layout: Layout,
) {
    dot_rows::<F>(
        gm,
        gr,
        projection,
        u * layout.state,
        1usize,
        layout.state,
        layout.rows,
        layout.unroll,
    );
}
