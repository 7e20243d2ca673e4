//! The contract of a cell's GPU unit functions, called by the CubeCL scan kernels
//! (`crate::drivers::gpu`), and the activations they share.

use cubecl::prelude::*;

use super::Cell;

/// The GPU representation of a cell: one hidden unit of one sequence per call, inside the
/// CubeCL scan kernels (`crate::drivers::gpu`). Arrays hold one value per gate block.
#[cube]
pub(crate) trait GpuCell: Cell + 'static + Send + Sync {
    /// The new state of one unit: `parts[g]` is gate `g`'s hidden part (or the summed parts),
    /// `input[g]` its input part (cells with `SEPARATE_INPUT`). Writes `state = [h, c]` and the
    /// `TAPE` values the backward unit reads back. `variant` is the cell's own comptime option
    /// (the Elman activation).
    #[allow(clippy::too_many_arguments)]
    fn forward_unit<F: Float>(
        parts: &Array<F>,
        input: &Array<F>,
        h_prev: F,
        c_prev: F,
        state: &mut Array<F>,
        tape: &mut Array<F>,
        #[comptime] variant: u32,
    );

    /// The backward pass of one unit: `grad = [g_h, g_c]` reaches the new state, `saved` is
    /// `[h_t, h_{t-1}, c_t, c_{t-1}]`. Writes the parts' gradients (`d_hidden`, and `d_input`
    /// for cells with `SEPARATE_INPUT`) and `back = [direct, g_c_prev]`: what reaches `h_{t-1}`
    /// besides `W_hh`, and what reaches `c_{t-1}`.
    #[allow(clippy::too_many_arguments)]
    fn backward_unit<F: Float>(
        grad: &Array<F>,
        saved: &Array<F>,
        tape: &Array<F>,
        d_hidden: &mut Array<F>,
        d_input: &mut Array<F>,
        back: &mut Array<F>,
        #[comptime] variant: u32,
    );

    /// Under layer norm, a cell with a cell state squashes `y = LN(c_t)·gain + bias` in place of
    /// `c_t` for its output: the output from `y` and the tape `forward_unit` wrote (whose own
    /// output the kernel then ignores). A cell without one is never normalised so: `y` itself.
    fn normed_output<F: Float>(y: F, tape: &Array<F>) -> F;

    /// The backward pass of `normed_output`: from `g_h`, the gradient reaching the output, writes
    /// the gradients of the parts that reach the output directly into `d_hidden` (LSTM: `o`)
    /// and returns the gradient reaching `y`. The kernel hands `backward_unit` the rest, with
    /// `g_h = 0` and the gradient reaching `c_t` through `y` in `g_c`, before calling this.
    fn normed_output_backward<F: Float>(
        g_h: F,
        y: F,
        tape: &Array<F>,
        d_hidden: &mut Array<F>,
    ) -> F;
}

/// The logistic sigmoid in a GPU kernel (`exp` overflowing to infinity gives 0, not NaN).
#[cube]
pub(crate) fn gpu_sigmoid<F: Float>(x: F) -> F {
    F::new(1.0) / (F::new(1.0) + F::exp(-x))
}
