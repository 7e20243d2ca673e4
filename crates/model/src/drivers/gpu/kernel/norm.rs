//! Layer norm's statistics inside the scan kernels: sums over each block of `n` values of the
//! cube's rows (a gate block of `H` hidden parts, or a row's cell state), which the cube's
//! units share. Each block gets `lanes = units / blocks` of the cube's units: each sums every
//! `lanes`-th value of its block, then the block's lanes add their sums pairwise through shared
//! memory, one barrier per round. Forward, [`block_moments`] gives each block's mean and
//! `1/√(σ² + ε)`; backward, [`gradient_means`] the two means of `normalize_backward`.

use cubecl::prelude::*;

/// `ε` under the square root (as `crate::cells::norm::EPSILON`).
const EPSILON: f32 = 1e-5;

/// Writes the mean and `1/√(σ² + ε)` of each of `blocks` blocks of `n` values
/// (`values[at + b·n ..]`) to `stats[2b]` and `stats[2b + 1]`, for every unit to read after it
/// returns. The values must have been written before a barrier; `partials` holds `2·units`.
#[cube]
#[allow(clippy::too_many_arguments)]
pub(super) fn block_moments<F: Float>(
    values: &Shared<[F]>,
    at: usize,
    partials: &mut Shared<[F]>,
    stats: &mut Shared<[F]>,
    #[comptime] blocks: usize,
    #[comptime] n: usize,
    #[comptime] units: usize,
) {
    let lanes = comptime!(units / blocks);
    let me = UNIT_POS_X as usize;
    let (block, lane) = (me / lanes, me % lanes);
    let mut sum = F::new(0.0);
    let mut squares = F::new(0.0);
    if block < blocks {
        let start = at + block * n;
        // About the block's first value: the variance without the cancellation of `E[x²] − μ²`.
        let shift = values[start];
        let mut j = lane;
        while j < n {
            let x = values[start + j] - shift;
            sum += x;
            squares += x * x;
            j += lanes;
        }
    }
    add_lanes::<F>(partials, sum, squares, blocks, units);
    if block < blocks && lane == 0 {
        let inverse_n = F::new(comptime!(1.0 / n as f32));
        let shifted_mean = partials[2 * me] * inverse_n;
        let variance = partials[2 * me + 1] * inverse_n - shifted_mean * shifted_mean;
        stats[2 * block] = values[at + block * n] + shifted_mean;
        let deviation = F::sqrt(F::max(variance, F::new(0.0)) + F::new(EPSILON));
        stats[2 * block + 1] = F::new(1.0) / deviation;
    }
    sync_cube();
}

/// Writes `mean(d)` and `mean(d ⊙ x̂)` of each of `blocks` blocks of `n` values of `d`
/// (`d[b·n ..]`, a gain times the gradient of a normalised block) to `stats[2b]` and
/// `stats[2b + 1]`, with `x̂` block `b` at `x_hat[x_at + b·n ..]`. Rows hold `per_row` blocks
/// each; rows `remaining` and up are past the batch, and read nothing. The values must have
/// been written before a barrier.
#[cube]
#[allow(clippy::too_many_arguments)]
pub(super) fn gradient_means<F: Float>(
    d: &Shared<[F]>,
    x_hat: &Tensor<F>,
    x_at: usize,
    remaining: usize,
    partials: &mut Shared<[F]>,
    stats: &mut Shared<[F]>,
    #[comptime] blocks: usize,
    #[comptime] per_row: usize,
    #[comptime] n: usize,
    #[comptime] units: usize,
) {
    let lanes = comptime!(units / blocks);
    let me = UNIT_POS_X as usize;
    let (block, lane) = (me / lanes, me % lanes);
    let mut sum = F::new(0.0);
    let mut products = F::new(0.0);
    if block < blocks && block / per_row < remaining {
        let mut j = lane;
        while j < n {
            let value = d[block * n + j];
            sum += value;
            products += value * x_hat[x_at + block * n + j];
            j += lanes;
        }
    }
    add_lanes::<F>(partials, sum, products, blocks, units);
    if block < blocks && lane == 0 {
        let inverse_n = F::new(comptime!(1.0 / n as f32));
        stats[2 * block] = partials[2 * me] * inverse_n;
        stats[2 * block + 1] = partials[2 * me + 1] * inverse_n;
    }
    sync_cube();
}

/// Adds up two sums per unit over each block's lanes (units `b·lanes ..` for block `b`): after
/// it returns, the block's first lane's `partials[2i]` and `partials[2i + 1]` hold the block's
/// totals. Units past `blocks·lanes` bring zeros.
#[cube]
fn add_lanes<F: Float>(
    partials: &mut Shared<[F]>,
    first: F,
    second: F,
    #[comptime] blocks: usize,
    #[comptime] units: usize,
) {
    let lanes = comptime!(units / blocks);
    let me = UNIT_POS_X as usize;
    let lane = me % lanes;
    partials[2 * me] = first;
    partials[2 * me + 1] = second;
    sync_cube();
    // Halving spans from the power of two below `lanes`: a lane adds the one `span` above it.
    let top = comptime!(lanes.next_power_of_two() / 2);
    let mut span = top.runtime();
    while span > 0 {
        if me < blocks * lanes && lane < span && lane + span < lanes {
            let above = 2 * (me + span);
            let (sum, other) = (partials[above], partials[above + 1]);
            partials[2 * me] += sum;
            partials[2 * me + 1] += other;
        }
        sync_cube();
        span /= 2;
    }
}
