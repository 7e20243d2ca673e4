//! The Elman ("vanilla") cell: `h_t = act(x_t·W_ihᵀ + h_{t-1}·W_hhᵀ + b_ih + b_hh)` with tanh
//! (PyTorch's default), relu or sigmoid. One gate block, no tape: the backward step reads the
//! activation's slope off the new state.

use std::mem::MaybeUninit;

use burn::tensor::activation::relu;

use super::{
    BackwardRow, Cell, ElmanActivation, ForwardRow, PartGrads, SavedStep, StateNorm, StepGrad,
    StepParts, TensorState, TensorStep, fast_sigmoid, fast_tanh, sigmoid, sigmoid_slope, tanh,
    tanh_slope,
};

/// The Elman cell with its activation.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Elman {
    pub activation: ElmanActivation,
}

impl Elman {
    /// [`Cell::forward_row`] over `n = h.len()` units: `h = act(pre)`. The output is a parameter
    /// of its own so that the compiler knows it aliases nothing else, and vectorises.
    #[inline(always)]
    fn forward_lanes(self, pre: &[f32], h: &mut [MaybeUninit<f32>]) {
        let pre = &pre[..h.len()];
        // One loop per activation. With the `match` inside one loop, vectorising depended on
        // the compiler unswitching it, which stopped once the scan around it grew (measured:
        // healthcare Elman inference ran its `tanh` scalar, 2.1× slower).
        match self.activation {
            ElmanActivation::Tanh => lanes(h, pre, fast_tanh),
            ElmanActivation::Sigmoid => lanes(h, pre, fast_sigmoid),
            ElmanActivation::Relu => lanes(h, pre, |x| x.max(0.0)),
        }
    }

    /// [`Cell::backward_row`] over `n = d.len()` units: `d = g · act'(h)`, from the output `h`
    /// (one loop per activation, as in [`Elman::forward_lanes`]).
    #[inline(always)]
    fn backward_lanes(self, g: &[f32], h: &[f32], d: &mut [MaybeUninit<f32>]) {
        let n = d.len();
        let (g, h) = (&g[..n], &h[..n]);
        match self.activation {
            ElmanActivation::Tanh => slopes(d, g, h, |y| 1.0 - y * y),
            ElmanActivation::Sigmoid => slopes(d, g, h, |y| y - y * y),
            ElmanActivation::Relu => slopes(d, g, h, |y| if y > 0.0 { 1.0 } else { 0.0 }),
        }
    }
}

/// `out = f(x)`, element by element.
#[inline(always)]
fn lanes(out: &mut [MaybeUninit<f32>], x: &[f32], f: impl Fn(f32) -> f32) {
    for (out, &x) in out.iter_mut().zip(x) {
        out.write(f(x));
    }
}

/// `d = g · slope(h)`, element by element.
#[inline(always)]
fn slopes(d: &mut [MaybeUninit<f32>], g: &[f32], h: &[f32], slope: impl Fn(f32) -> f32) {
    for ((d, &g), &h) in d.iter_mut().zip(g).zip(h) {
        d.write(g * slope(h));
    }
}

impl Cell for Elman {
    const GATES: usize = 1;
    const CELL_STATE: bool = false;
    const SEPARATE_INPUT: bool = false;
    const TAPE: usize = 0;
    const DIRECT: bool = false;
    const PROJECTABLE: bool = false;

    fn step(
        &self,
        parts: StepParts,
        _previous: &TensorState,
        _keep: bool,
        _norm: Option<&StateNorm>,
    ) -> TensorStep {
        let pre = parts.hidden;
        let h = match self.activation {
            ElmanActivation::Tanh => tanh(pre),
            ElmanActivation::Relu => relu(pre),
            ElmanActivation::Sigmoid => sigmoid(pre),
        };
        TensorStep {
            state: TensorState { h, c: None },
            tape: None,
        }
    }

    fn step_backward(
        &self,
        grad: StepGrad,
        saved: &impl SavedStep,
        _norm: Option<&StateNorm>,
    ) -> PartGrads {
        let y = saved.h();
        let slope = match self.activation {
            ElmanActivation::Tanh => tanh_slope(y),
            ElmanActivation::Sigmoid => sigmoid_slope(y),
            ElmanActivation::Relu => y.greater_elem(0.0).float(),
        };
        PartGrads {
            hidden: grad.h * slope,
            input: None,
            direct: None,
            c_prev: None,
            state_norm: None,
        }
    }

    #[inline(always)]
    fn forward_row(&self, row: ForwardRow<'_>) {
        let [pre] = row.hidden.get();
        self.forward_lanes(pre, row.h);
    }

    #[inline(always)]
    fn backward_row(&self, row: BackwardRow<'_>) {
        let [d] = row.d_hidden.get();
        self.backward_lanes(row.g, row.h, d);
    }

    fn variant(&self) -> u32 {
        match self.activation {
            ElmanActivation::Tanh => 0,
            ElmanActivation::Relu => 1,
            ElmanActivation::Sigmoid => 2,
        }
    }
}

#[cfg(feature = "cubecl")]
mod gpu {
    use cubecl::prelude::*;

    use super::super::{GpuCell, gpu_sigmoid};
    use super::Elman;

    /// The activation whose `Cell::variant` is `activation`.
    #[cube]
    fn activate<F: Float>(x: F, #[comptime] activation: u32) -> F {
        if activation == 0 {
            F::tanh(x)
        } else if activation == 1 {
            F::max(x, F::new(0.0))
        } else {
            gpu_sigmoid::<F>(x)
        }
    }

    /// Its derivative from its output `y`.
    #[cube]
    fn slope<F: Float>(y: F, #[comptime] activation: u32) -> F {
        if activation == 0 {
            F::new(1.0) - y * y
        } else if activation == 1 {
            F::cast_from(y > F::new(0.0))
        } else {
            y - y * y
        }
    }

    #[cube]
    impl GpuCell for Elman {
        fn forward_unit<F: Float>(
            parts: &Array<F>,
            _input: &Array<F>,
            _h_prev: F,
            _c_prev: F,
            state: &mut Array<F>,
            _tape: &mut Array<F>,
            #[comptime] variant: u32,
        ) {
            state[0] = activate::<F>(parts[0], variant);
        }

        fn backward_unit<F: Float>(
            grad: &Array<F>,
            saved: &Array<F>,
            _tape: &Array<F>,
            d_hidden: &mut Array<F>,
            _d_input: &mut Array<F>,
            back: &mut Array<F>,
            #[comptime] variant: u32,
        ) {
            d_hidden[0] = grad[0] * slope::<F>(saved[0], variant);
            back[0] = F::new(0.0);
            back[1] = F::new(0.0);
        }

        fn normed_output<F: Float>(y: F, _tape: &Array<F>) -> F {
            y
        }

        fn normed_output_backward<F: Float>(
            g_h: F,
            _y: F,
            _tape: &Array<F>,
            _d_hidden: &mut Array<F>,
        ) -> F {
            g_h
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The native activation and slope against `f64` definitions.
    #[test]
    fn native_activation_and_slope_match_their_definitions() {
        for activation in [
            ElmanActivation::Tanh,
            ElmanActivation::Sigmoid,
            ElmanActivation::Relu,
        ] {
            let cell = Elman { activation };
            for i in -800..=800 {
                let x = i as f64 * 0.01;
                let (y, slope) = match activation {
                    ElmanActivation::Tanh => (x.tanh(), 1.0 - x.tanh().powi(2)),
                    ElmanActivation::Sigmoid => {
                        let s = 1.0 / (1.0 + (-x).exp());
                        (s, s * (1.0 - s))
                    }
                    ElmanActivation::Relu => (x.max(0.0), if x > 0.0 { 1.0 } else { 0.0 }),
                };
                let mut out = [MaybeUninit::uninit()];
                cell.forward_lanes(&[x as f32], &mut out);
                // SAFETY: `forward_lanes` wrote the one lane.
                let got = unsafe { out[0].assume_init() };
                assert!((got as f64 - y).abs() < 1e-6, "{activation:?}({x}) = {got}");
                cell.backward_lanes(&[1.0], &[got], &mut out);
                // SAFETY: `backward_lanes` wrote it again.
                let got_slope = unsafe { out[0].assume_init() };
                assert!((got_slope as f64 - slope).abs() < 1e-5);
            }
        }
    }
}
