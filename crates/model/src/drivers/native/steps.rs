//! Bookkeeping of the native scan: its shape and visiting order, how many threads it uses,
//! masks, whether a step's rows merge, and the hidden-weight gradient over all steps.

use std::ops::Range;

use super::matmul::{Product, View, matmul};
use super::packed::PANEL;
use super::team;
use crate::cells::Cell;

/// Steps with fewer multiply-adds than this run on one thread (an Elman step of `healthcare`
/// does 32K, of `medium` 1M).
const TEAM_MIN_WORK: usize = 1 << 18;

/// Scans with fewer multiply-adds in all than this (streamed steps) run on one thread too:
/// waking the team for one step cost more than half the step (`bench_streaming`, a step of
/// `medium` Elman, 64 sequences, 1M: 112–139 → 85–88 µs; `large` Elman, one sequence:
/// 40–48 → 24 µs).
const SCAN_MIN_WORK: usize = 1 << 21;

/// Sizes and direction of one scan.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Shape {
    pub steps: usize,
    pub batch: usize,
    /// The cell's units, `H`.
    pub hidden: usize,
    /// The hidden state's width, `P`: `H`, or the projection's size.
    pub state: usize,
    /// Whether the cell's output is projected to the state (`h_t = m_t·W_hrᵀ`).
    pub projected: bool,
    pub reverse: bool,
}

impl Shape {
    /// One step of the cell's values (`[B, H]`: its output, the cell state).
    #[inline]
    pub fn block(&self) -> usize {
        self.batch * self.hidden
    }

    /// One step of the hidden state, `[B, P]`.
    #[inline]
    pub fn state_block(&self) -> usize {
        self.batch * self.state
    }

    /// The steps in visiting order.
    pub fn order(&self) -> impl DoubleEndedIterator<Item = usize> + use<> {
        let (steps, reverse) = (self.steps, self.reverse);
        (0..steps).map(move |i| if reverse { steps - 1 - i } else { i })
    }

    /// The step visited before `t`, if any.
    #[inline]
    pub fn previous(&self, t: usize) -> Option<usize> {
        match self.reverse {
            false => t.checked_sub(1),
            true => (t + 1 < self.steps).then_some(t + 1),
        }
    }

    /// How many threads run a scan of this shape with `gates` blocks of `H` columns per step:
    /// each thread owns whole panels of hidden units; one for small steps or small scans.
    pub fn team_size(&self, gates: usize) -> usize {
        let hidden = self.hidden;
        let step = self.batch * self.state * gates * hidden;
        if self.steps * step < SCAN_MIN_WORK {
            return 1;
        }
        team::size(step, TEAM_MIN_WORK, hidden.div_ceil(PANEL))
    }

    /// Whether sequence `b` is real (not padding) at step `t`.
    #[inline]
    pub fn is_valid(&self, valid: Option<&[f32]>, t: usize, b: usize) -> bool {
        valid.is_none_or(|v| v[t * self.batch + b] != 0.0)
    }
}

/// `∂W_hhᵀ = Σ_t h_{t-1}ᵀ · da_t` (`[P, width]`) as two products: the start state's step, and
/// all the others at once (their previous states are `T − 1` consecutive blocks of `states`).
/// `da` is `[T, B, width]`, the gradient of the steps' `h·W` parts.
pub(crate) fn hidden_weight_gradient(
    shape: &Shape,
    states: &[f32],
    h0: &[f32],
    da: &[f32],
    width: usize,
) -> Vec<f32> {
    let (block, batch, state, steps) = (shape.state_block(), shape.batch, shape.state, shape.steps);
    let d_block = batch * width;
    let mut gw = vec![0.0; state * width];
    let rest = steps - 1;
    // Blocks of `da` whose previous state is in `states`, and those states.
    let (da_rest, states_rest, da_first) = if shape.reverse {
        (
            &da[..rest * d_block],
            &states[block..],
            &da[rest * d_block..],
        )
    } else {
        (&da[d_block..], &states[..rest * block], &da[..d_block])
    };
    // `Σ previousᵀ · d` over `rows` rows of both.
    let outer = |previous: &[f32], d: &[f32], rows: usize| Product {
        m: state,
        n: width,
        k: rows,
        lhs: View::transposed(previous, state),
        rhs: View::rows(d, width),
    };
    if rest > 0 {
        // SAFETY: `states_rest` is (T−1)·B×P row-major, read transposed; `da_rest` matches.
        unsafe { matmul(&mut gw, outer(states_rest, da_rest, rest * batch), false) };
    }
    // SAFETY: `h0` is B×P row-major, read transposed; `da_first` is B×width.
    unsafe { matmul(&mut gw, outer(h0, da_first, batch), rest > 0) };
    gw
}

/// Whether a step's rows can go to the cell as one row of `batch · hidden` units: when one
/// thread runs the step (its units are all of them), nothing is padded, and the cell's blocks
/// then lie end to end (one gate block, no tape, no separate input part). Saves the per-row
/// work on small steps (an Elman step of `healthcare`: 32 rows of 32 units).
pub(crate) fn merged_rows<C: Cell>(shape: &Shape, units: &Range<usize>, padded: bool) -> bool {
    C::GATES == 1 && C::TAPE == 0 && !C::SEPARATE_INPUT && units.len() == shape.hidden && !padded
}
