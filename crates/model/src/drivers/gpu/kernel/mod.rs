//! The scan kernels, generic over the cell ([`GpuCell`](crate::cells::GpuCell)): one launch
//! runs a layer-direction over every step, forward (`forward.rs`) or backward
//! (`backward.rs`).
//!
//! Each cube owns `rows` sequences of the batch and keeps their states in shared memory; its
//! units stride over the hidden units. A step is: every unit computes its hidden units' gate
//! parts (`W_hh` read from global memory, shared by the cube's rows: `products.rs`), the cell's
//! unit function gives the new state, and one barrier publishes it (states are double-buffered:
//! `states.rs`). Batch rows are independent, so no synchronisation between cubes is needed.
//! The backward kernel has two phases per step: the cell's backward unit writes the parts'
//! gradient to shared memory, then every unit multiplies it by `W_hh` for the gradient reaching
//! the previous state. Under layer norm a step has more phases, separated by the statistics of
//! each row's blocks, which the cube's units reduce together in shared memory (`norm.rs`).

mod backward;
mod forward;
mod norm;
mod products;
mod states;

use cubecl::prelude::*;

pub(super) use backward::scan_backward;
pub(super) use forward::scan_forward;

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
    /// Sequences per cube, and units per cube (`CUBE_DIM_X`).
    pub rows: usize,
    pub units: usize,
    /// The per-step products' inner loops go this many terms at a time (fewer loop
    /// iterations, and more loads of `W_hh` in flight before their first use).
    pub unroll: usize,
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
    /// Layer norm: of each step's hidden parts (per gate block), and (cells with a cell state)
    /// of the cell state before the output.
    pub norm: bool,
    pub state_norm: bool,
    /// The cell's comptime option (`Cell::variant`).
    pub variant: u32,
}

impl Layout {
    /// Blocks of `H` values per row in the forward kernel's shared buffer of parts, under
    /// layer norm: the raw hidden parts of each gate block, then (under the cell state's norm)
    /// the cell's tape in the same slots.
    pub fn slots(&self) -> usize {
        match self.state_norm {
            true => self.gates.max(self.tape),
            false => self.gates,
        }
    }
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
