//! What a scan is: one layer-direction of the recurrence over all time steps, as one unit
//! with a forward and a backward pass. These types pass between the layer stack, the autodiff
//! operation (`fused.rs`) and the scan drivers (`tensor_scan.rs`, `native/`).
//!
//! Everything is time-major: `xp` is `[T, B, GATES·H]` and per-step slices are contiguous.
//! A padded step outputs zeros and leaves the state (`h`, and `c` for LSTM) untouched.
//!
//! The hidden state is `P` wide: `H`, or the projection's size when the scan has one
//! (`h_t = m_t·W_hrᵀ`, where `m_t` is the cell's own output, `H` wide; LSTM only).

use burn::tensor::{Device, Tensor};

use crate::cells::{CellKind, StateNorm, column_sums};

/// What does not change between the forward and the backward pass of one scan.
#[derive(Clone, Debug)]
pub(crate) struct ScanSpec {
    /// The cell.
    pub cell: CellKind,
    /// Walk the time axis from the last step to the first (the reverse direction).
    pub reverse: bool,
    /// `[T, B, 1]`, 1 at real steps and 0 at padding; `None` when nothing is padded.
    pub valid: Option<Tensor<3>>,
    /// `[B, P]`: recurrent dropout's mask (0, or `1/(1 − p)` for a kept unit), applied to the
    /// hidden state entering `W_hh` at every step; `None` outside training.
    pub mask: Option<Tensor<2>>,
}

/// The differentiable inputs of a scan.
#[derive(Clone, Debug)]
pub(crate) struct ScanInputs {
    /// `[T, B, GATES·H]`: `x_t·W_ihᵀ`, plus `b_ih` for cells that keep the input part apart.
    pub xp: InputPart,
    /// `[P, GATES·H]`: `W_hhᵀ`.
    pub w: Tensor<2>,
    /// `[GATES·H]`: the bias added to `h·W` in every step: `b_ih + b_hh`, or `b_hh` alone for
    /// cells that keep the input part apart.
    pub bias: Tensor<1>,
    /// `[B, P]`: the starting hidden state.
    pub h0: Tensor<2>,
    /// `[B, H]`: the starting cell state, used by cells with one.
    pub c0: Tensor<2>,
    /// `[H, P]`: `W_hrᵀ`, for a projected scan.
    pub projection: Option<Tensor<2>>,
    /// Layer normalisation inside the steps.
    pub norm: Option<ScanNorm>,
}

/// Layer normalisation inside a scan (Ba et al. 2016): of each step's hidden part `h·W`, per
/// gate block, before the bias; and for cells with a cell state, of that state before the
/// output. (The input part is normalised with the input projection, before the scan.)
#[derive(Clone, Debug)]
pub(crate) struct ScanNorm {
    /// `[GATES·H]`: the hidden part's gain.
    pub hidden_gain: Tensor<1>,
    /// The cell state's normalisation, for cells with one.
    pub state: Option<StateNorm>,
}

/// A scan's input part `x_t·W_ihᵀ` (plus `b_ih` for cells that keep it apart), every step.
#[derive(Clone, Debug)]
#[allow(clippy::large_enum_variant)] // One per scan, beside a handful of tensors as large.
pub(crate) enum InputPart {
    /// `[T, B, GATES·H]`, computed before the scan.
    Projected(Tensor<3>),
    /// Left to the scan, which computes each step's part as the step comes (the native scan,
    /// on flex): the `[T, B, GATES·H]` tensor is then never written nor read back.
    Deferred(DeferredInput),
}

/// What a deferred input part is computed from.
#[derive(Clone, Debug)]
pub(crate) struct DeferredInput {
    /// `[T, B, d_in]`: the layer's input.
    pub x: Tensor<3>,
    /// `[d_in, GATES·H]`: `W_ihᵀ`.
    pub w: Tensor<2>,
    /// `[GATES·H]`: `b_ih`, for cells that keep the input part apart.
    pub bias: Option<Tensor<1>>,
}

impl InputPart {
    /// `[T, B, GATES·H]`.
    pub fn dims(&self) -> [usize; 3] {
        match self {
            InputPart::Projected(xp) => xp.dims(),
            InputPart::Deferred(input) => {
                let [steps, batch, _] = input.x.dims();
                let [_, width] = input.w.dims();
                [steps, batch, width]
            }
        }
    }

    pub fn device(&self) -> Device {
        match self {
            InputPart::Projected(xp) => xp.device(),
            InputPart::Deferred(input) => input.x.device(),
        }
    }

    /// The part as a tensor, computing a deferred one (for a path that does not defer it).
    pub fn projected(&self) -> Tensor<3> {
        match self {
            InputPart::Projected(xp) => xp.clone(),
            InputPart::Deferred(input) => input.project(|xp| xp),
        }
    }
}

impl DeferredInput {
    /// `x_t·W_ihᵀ` for every step, `normalise`d, plus the bias: `[T, B, GATES·H]`.
    pub fn project(&self, normalise: impl FnOnce(Tensor<2>) -> Tensor<2>) -> Tensor<3> {
        let [steps, batch, d_in] = self.x.dims();
        let [_, width] = self.w.dims();
        let x = self.x.clone().reshape([steps * batch, d_in]);
        let mut xp = normalise(project(x, self.w.clone()));
        if let Some(bias) = &self.bias {
            xp = xp + bias.clone().unsqueeze::<2>();
        }
        xp.reshape([steps, batch, width])
    }
}

/// The gradients of a deferred input part's inputs, each where asked for.
pub(crate) struct InputGrads {
    /// `[T, B, d_in]`.
    pub x: Option<Tensor<3>>,
    /// `[d_in, GATES·H]`.
    pub w: Option<Tensor<2>>,
    /// `[GATES·H]`.
    pub bias: Option<Tensor<1>>,
}

impl DeferredInput {
    /// The gradients reaching `x`, `W_ihᵀ` and `b_ih` from `d_part`, the gradient of the part
    /// (`[T, B, GATES·H]`), for the flags `[x, w, bias]`: natively on flex (into memory that
    /// is not zero-filled first), by tensor operations elsewhere.
    pub fn grads(&self, d_part: Tensor<3>, [x, w, bias]: [bool; 3]) -> InputGrads {
        let bias = bias && self.bias.is_some();
        #[cfg(feature = "flex")]
        if let Some(grads) = super::native::input_grads(self, &d_part, [x, w, bias]) {
            return grads;
        }
        self.grads_by_tensors(d_part, [x, w, bias])
    }

    /// [`Self::grads`] by tensor operations, on any backend.
    pub fn grads_by_tensors(&self, d_part: Tensor<3>, [x, w, bias]: [bool; 3]) -> InputGrads {
        let [steps, batch, width] = d_part.dims();
        let [_, _, d_in] = self.x.dims();
        let d = d_part.reshape([steps * batch, width]);
        InputGrads {
            x: x.then(|| {
                let dx = d.clone().matmul(self.w.clone().transpose());
                dx.reshape([steps, batch, d_in])
            }),
            w: w.then(|| {
                let x = self.x.clone().reshape([steps * batch, d_in]);
                x.transpose().matmul(d.clone())
            }),
            bias: bias.then(|| column_sums(d.clone())),
        }
    }
}

/// `x · w`: on plain `f32` flex tensors (inference) through the native product, which skips
/// the zero-fill and realigning copy that flex gives every new tensor; elsewhere `matmul`.
fn project(x: Tensor<2>, w: Tensor<2>) -> Tensor<2> {
    #[cfg(feature = "flex")]
    if let Some(xp) = super::native::project(&x, &w) {
        return xp;
    }
    x.matmul(w)
}

impl ScanInputs {
    /// Where the scan's output lies in its flat buffer.
    pub fn layout(&self, cell: CellKind) -> ScanLayout {
        let [steps, batch, _] = self.xp.dims();
        let [_, state] = self.h0.dims();
        let [_, hidden] = self.c0.dims();
        ScanLayout {
            steps,
            batch,
            hidden,
            state,
            cell_state: cell.has_cell_state(),
        }
    }
}

/// Where each part of a scan's output lies in its one flat buffer: the output at every step
/// (`[T, B, P]`, zero at padded steps), the final hidden state (`[B, P]`), then for cells with
/// one the final cell state (`[B, H]`). Unprojected, this is `[T + 1 (+ 1), B, H]` row-major.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ScanLayout {
    pub steps: usize,
    pub batch: usize,
    /// `H`: the cell's units (and the cell state's width).
    pub hidden: usize,
    /// `P`: the hidden state's width (`H` unless projected).
    pub state: usize,
    pub cell_state: bool,
}

impl ScanLayout {
    /// Where the final hidden state starts (after the outputs).
    pub fn final_h_at(&self) -> usize {
        self.steps * self.batch * self.state
    }

    /// Where the final cell state starts.
    pub fn final_c_at(&self) -> usize {
        self.final_h_at() + self.batch * self.state
    }

    /// The buffer's length.
    pub fn len(&self) -> usize {
        self.final_c_at()
            + if self.cell_state {
                self.batch * self.hidden
            } else {
                0
            }
    }

    /// The outputs of every step, `[T, B, P]`.
    pub fn outputs(&self, flat: &Tensor<1>) -> Tensor<3> {
        flat.clone()
            .slice(0..self.final_h_at())
            .reshape([self.steps, self.batch, self.state])
    }

    /// The final hidden state, `[B, P]`.
    pub fn final_h(&self, flat: &Tensor<1>) -> Tensor<2> {
        flat.clone()
            .slice(self.final_h_at()..self.final_c_at())
            .reshape([self.batch, self.state])
    }

    /// The final cell state, `[B, H]`, for cells with one.
    pub fn final_c(&self, flat: &Tensor<1>) -> Option<Tensor<2>> {
        self.cell_state.then(|| {
            flat.clone()
                .slice(self.final_c_at()..self.len())
                .reshape([self.batch, self.hidden])
        })
    }

    /// The buffer of these parts.
    pub fn flatten(&self, outputs: Tensor<3>, h: Tensor<2>, c: Option<Tensor<2>>) -> Tensor<1> {
        let mut parts = vec![
            outputs.reshape([self.final_h_at()]),
            h.reshape([self.batch * self.state]),
        ];
        parts.extend(c.map(|c| c.reshape([self.batch * self.hidden])));
        Tensor::cat(parts, 0)
    }
}

/// What the backward pass reads besides the tape: the inputs it differentiates through.
#[derive(Clone, Debug)]
pub(crate) struct ScanWeights {
    /// `[P, GATES·H]`: `W_hhᵀ`.
    pub w: Tensor<2>,
    /// `[B, P]` and `[B, H]`: the starting states.
    pub h0: Tensor<2>,
    pub c0: Tensor<2>,
    /// `[H, P]`: `W_hrᵀ`, for a projected scan.
    pub projection: Option<Tensor<2>>,
    /// Layer normalisation inside the steps.
    pub norm: Option<ScanNorm>,
}

/// What the forward pass keeps for the backward pass.
#[derive(Clone, Debug)]
pub(crate) struct ScanTape {
    /// `[T, B, P]`: the hidden state after each step (carried through padded steps).
    pub states: Tensor<3>,
    /// `[T, B, H]`: the cell state after each step, for cells with one.
    pub cells: Option<Tensor<3>>,
    /// `[T, B, TAPE·H]`: what the cell keeps per step, for cells that keep anything.
    pub kept: Option<Tensor<3>>,
    /// `[T, B, H]`: the cell's output `m_t` before the projection (zero at padded steps), for
    /// a projected scan.
    pub unprojected: Option<Tensor<3>>,
    /// `[T, B, GATES·H]`: each step's hidden part `h·W` before its normalisation, under layer
    /// norm.
    pub raw_parts: Option<Tensor<3>>,
}

/// Everything a scan's backward pass reads, kept by its forward pass.
#[derive(Clone, Debug)]
pub(crate) struct ScanRecord {
    pub spec: ScanSpec,
    pub weights: ScanWeights,
    pub tape: ScanTape,
}

impl ScanRecord {
    /// Where the scan's output (and so its incoming gradient) lies in its flat buffer.
    pub fn layout(&self) -> ScanLayout {
        let [steps, batch, state] = self.tape.states.dims();
        let [_, hidden] = self.weights.c0.dims();
        ScanLayout {
            steps,
            batch,
            hidden,
            state,
            cell_state: self.spec.cell.has_cell_state(),
        }
    }
}

/// Gradients of a scan's inputs; `None` where not asked for.
#[derive(Debug, Default)]
pub(crate) struct ScanGrads {
    pub xp: Option<Tensor<3>>,
    pub w: Option<Tensor<2>>,
    pub bias: Option<Tensor<1>>,
    pub h0: Option<Tensor<2>>,
    pub c0: Option<Tensor<2>>,
    pub projection: Option<Tensor<2>>,
    /// Of [`ScanNorm`]'s gains and bias.
    pub hidden_gain: Option<Tensor<1>>,
    pub state_gain: Option<Tensor<1>>,
    pub state_bias: Option<Tensor<1>>,
}

/// Which gradients the backward pass must produce (the inputs that require them).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Wanted {
    pub xp: bool,
    pub w: bool,
    pub bias: bool,
    pub h0: bool,
    pub c0: bool,
    pub projection: bool,
    pub hidden_gain: bool,
    pub state_gain: bool,
    pub state_bias: bool,
}

/// From flags in the order of the autodiff operation's parents: `[xp, w, bias, h0, c0,
/// projection, hidden_gain, state_gain, state_bias]`.
impl From<[bool; 9]> for Wanted {
    fn from(wanted: [bool; 9]) -> Self {
        let [
            xp,
            w,
            bias,
            h0,
            c0,
            projection,
            hidden_gain,
            state_gain,
            state_bias,
        ] = wanted;
        Self {
            xp,
            w,
            bias,
            h0,
            c0,
            projection,
            hidden_gain,
            state_gain,
            state_bias,
        }
    }
}

impl Wanted {
    /// The flags in the order of the autodiff operation's parents (as [`From`] reads them).
    #[cfg_attr(not(feature = "remote"), allow(dead_code))]
    pub fn flags(self) -> [bool; 9] {
        let Self {
            xp,
            w,
            bias,
            h0,
            c0,
            projection,
            hidden_gain,
            state_gain,
            state_bias,
        } = self;
        [
            xp,
            w,
            bias,
            h0,
            c0,
            projection,
            hidden_gain,
            state_gain,
            state_bias,
        ]
    }
}

/// The time steps in the order a scan visits them.
pub(crate) fn visiting_order(
    steps: usize,
    reverse: bool,
) -> impl DoubleEndedIterator<Item = usize> {
    (0..steps).map(move |i| if reverse { steps - 1 - i } else { i })
}
