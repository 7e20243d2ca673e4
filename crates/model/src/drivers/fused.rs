//! The fused path: each layer-direction is one scan (native loops on flex, `native/`; plain
//! tensor operations elsewhere, `tensor_scan.rs`) registered as one autodiff operation with a
//! hand-written backward pass. Burn would otherwise record a dozen graph nodes per step and
//! layer and compute the hidden-weight gradient as `T` small products; here it is one node,
//! and that gradient is one large product over all steps.
//!
//! Backends are reached through Burn's `extension` API, one concrete type per enabled cargo
//! feature (`flex`, `ndarray`, `wgpu`/`cuda`). On any other autodiff backend [`Fused::run`]
//! returns `None` and the layer stack falls back to the step-by-step path.

use burn::nn::Dropout;
use burn::tensor::{Device, Tensor, TensorData};

use super::scan::{
    DeferredInput, InputPart, ScanGrads, ScanInputs, ScanNorm, ScanRecord, ScanSpec, ScanTape,
    Wanted,
};
use super::{Direction, DirectionRunner, LayerWeights, parallel, tensor_scan};
use crate::cells::{CellKind, TensorState, with_cell, with_linear_cell};

/// The fused path for one cell; sequences are time-major, `[T, B, features]`.
pub(crate) struct Fused {
    pub cell: CellKind,
    /// `[T, B, 1]`: 1 at real steps, 0 at padding; `None` when nothing is padded.
    pub valid: Option<Tensor<3>>,
}

impl Fused {
    /// The fused path for a batch whose sequences have `lengths` (all `steps` when `None`).
    pub fn new(cell: CellKind, lengths: Option<&[usize]>, steps: usize, device: &Device) -> Self {
        let valid = lengths
            .filter(|lengths| lengths.iter().any(|&len| len != steps))
            .map(|lengths| valid_steps(lengths, steps, device));
        Self { cell, valid }
    }

    /// The input part of every step as one product, `[T, B, GATES·H]` from `x` `[T, B, d_in]`:
    /// `x_t·W_ihᵀ` (layer-normalised under layer norm, tracked by autodiff as any tensor
    /// operation), plus `b_ih` for cells that keep the input part apart. (Summed parts only
    /// ever use `b_ih + b_hh`: the scan adds the sum inside its step.) With `defer`, left to
    /// the scan where the native scan computes it step by step: on flex (the scan's autodiff
    /// operation then differentiates through it), without layer norm.
    fn input_part(&self, weights: &LayerWeights, x: Tensor<3>, defer: bool) -> InputPart {
        let input = DeferredInput {
            x,
            w: weights.input.clone(),
            bias: match self.cell.separate_biases() {
                true => weights.input_bias.clone(),
                false => None,
            },
        };
        #[cfg(feature = "flex")]
        if defer && weights.norm.is_none() && super::native::defers_input(&input.x) {
            return InputPart::Deferred(input);
        }
        let _ = defer;
        InputPart::Projected(input.project(|xp| match &weights.norm {
            Some(norm) => norm.input(xp, self.cell.gates()),
            None => xp,
        }))
    }

    /// A scan's inputs for one layer-direction of a recurrent cell, `x` being `[T, B, d_in]`.
    fn scan_inputs(&self, weights: &LayerWeights, x: Tensor<3>, start: TensorState) -> ScanInputs {
        let [_, batch, _] = x.dims();
        let device = x.device();
        let w = weights.hidden.clone().expect("a recurrent cell has W_hh");
        let [_, width] = w.dims();
        let hidden = width / self.cell.gates();
        let step_bias = match self.cell.separate_biases() {
            true => weights.hidden_bias.clone(),
            false => weights.summed_bias(),
        };
        ScanInputs {
            xp: self.input_part(weights, x, true),
            w,
            bias: step_bias.unwrap_or_else(|| Tensor::zeros([width], &device)),
            h0: start.h,
            c0: start
                .c
                .unwrap_or_else(|| Tensor::zeros([batch, hidden], &device)),
            projection: weights.projection.clone(),
            norm: weights.norm.as_ref().map(|norm| ScanNorm {
                hidden_gain: norm.hidden_gain.clone(),
                state: norm.state.clone(),
            }),
        }
    }
}

impl DirectionRunner for Fused {
    type Sequence = Tensor<3>;

    fn run(
        &self,
        weights: &LayerWeights,
        input: &Tensor<3>,
        start: TensorState,
        direction: Direction,
    ) -> Option<(Tensor<3>, TensorState)> {
        // The linear cells run as one parallel scan of tensor operations, on every backend.
        let linear = with_linear_cell!(self.cell, cell: C => {
            let parts = self.input_part(weights, input.clone(), false).projected();
            let (h0, valid) = (start.h.clone(), self.valid.as_ref());
            parallel::run(cell, parts, h0, valid, direction.reverse)
        });
        if linear.is_some() {
            return linear;
        }
        let spec = ScanSpec {
            cell: self.cell,
            reverse: direction.reverse,
            valid: self.valid.clone(),
            mask: direction.mask,
        };
        let inputs = self.scan_inputs(weights, input.clone(), start);
        let layout = inputs.layout(self.cell);
        let y = scan(&spec, &inputs)?;
        let last = TensorState {
            h: layout.final_h(&y),
            c: layout.final_c(&y),
        };
        Some((layout.outputs(&y), last))
    }

    fn concat(forward: Tensor<3>, backward: Tensor<3>) -> Tensor<3> {
        Tensor::cat(vec![forward, backward], 2)
    }

    fn dropout(dropout: &Dropout, x: Tensor<3>) -> Tensor<3> {
        dropout.forward(x)
    }
}

/// `[T, B, 1]`: 1 where step `t` of sequence `b` is real, 0 where it is padding (constant).
fn valid_steps(lengths: &[usize], steps: usize, device: &Device) -> Tensor<3> {
    let values: Vec<f32> = (0..steps)
        .flat_map(|t| {
            lengths
                .iter()
                .map(move |&len| if t < len { 1.0 } else { 0.0 })
        })
        .collect();
    Tensor::from_data(TensorData::new(values, [steps, lengths.len(), 1]), device)
}

/// The scan's forward pass on plain tensors: native where it applies, else tensor operations.
/// Returns its output (laid out as `ScanLayout` says) and the tape.
pub(super) fn forward(
    spec: &ScanSpec,
    inputs: &ScanInputs,
    keep_tape: bool,
) -> (Tensor<1>, ScanTape) {
    #[cfg(feature = "flex")]
    if let Some(done) = super::native::forward(spec, inputs, keep_tape) {
        return done;
    }
    #[cfg(feature = "cubecl")]
    if let Some(done) = super::gpu::forward(spec, inputs, keep_tape) {
        return done;
    }
    #[cfg(feature = "remote")]
    if let Some(done) = super::remote::forward(spec, inputs, keep_tape) {
        return done;
    }
    with_cell!(spec.cell, cell: C => tensor_scan::forward(cell, spec, inputs, keep_tape))
}

/// The scan's backward pass on plain tensors, by the same path as [`forward`].
#[cfg_attr(not(feature = "autodiff"), allow(dead_code))]
pub(super) fn backward(record: &ScanRecord, grad: Tensor<1>, wanted: Wanted) -> ScanGrads {
    #[cfg(feature = "flex")]
    if let Some(native) = super::native::Backward::of(record) {
        return native.run(grad, wanted);
    }
    #[cfg(feature = "cubecl")]
    if let Some(grads) = super::gpu::Backward::of(record).and_then(|gpu| gpu.run(&grad, wanted)) {
        return grads;
    }
    #[cfg(feature = "remote")]
    if let Some(grads) = super::remote::backward(record, &grad, wanted) {
        return grads;
    }
    with_cell!(record.spec.cell, cell: C => tensor_scan::backward(cell, record, grad, wanted))
}

/// Runs one layer-direction and returns its output (laid out as `ScanLayout` says),
/// differentiable when the inputs live on an autodiff device. `None` when they are on an
/// autodiff backend this crate was built without (or built without `autodiff`).
fn scan(spec: &ScanSpec, inputs: &ScanInputs) -> Option<Tensor<1>> {
    if !inputs.xp.device().is_autodiff() {
        return Some(forward(spec, inputs, false).0);
    }
    #[cfg(feature = "autodiff")]
    return tracked::scan(spec, inputs);
    #[cfg(not(feature = "autodiff"))]
    None
}

/// The operation on `Autodiff<B, C>` for each backend this crate was built with (with no backend
/// feature at all, nothing in here is used).
#[cfg(feature = "autodiff")]
#[cfg_attr(
    not(any(
        feature = "flex",
        feature = "ndarray",
        feature = "wgpu",
        feature = "cuda",
        feature = "remote"
    )),
    allow(dead_code, unused_macros, unused_imports, unused_variables)
)]
mod tracked;

#[cfg(all(test, feature = "autodiff", feature = "flex", feature = "ndarray"))]
mod tests {
    use super::*;

    fn inputs(device: &Device, cell: CellKind) -> ScanInputs {
        let gates = cell.gates() * 4;
        ScanInputs {
            xp: InputPart::Projected(Tensor::ones([3, 2, gates], device)),
            w: Tensor::<2>::ones([4, gates], device).require_grad(),
            bias: Tensor::zeros([gates], device),
            h0: Tensor::zeros([2, 4], device),
            c0: Tensor::zeros([2, 4], device),
            projection: None,
            norm: None,
        }
    }

    /// On the CPU backends this crate is built with, training takes the fused path (one
    /// operation per layer) rather than the step-by-step fallback, for every cell.
    #[test]
    #[allow(deprecated)]
    fn the_fused_path_covers_the_cpu_backends() {
        let devices = [Device::flex().autodiff(), Device::ndarray().autodiff()];
        for device in devices {
            for cell in CellKind::ALL
                .into_iter()
                .filter(CellKind::has_hidden_weight)
            {
                let spec = ScanSpec {
                    cell,
                    reverse: false,
                    valid: None,
                    mask: None,
                };
                let out = scan(&spec, &inputs(&device, cell)).expect("fused on this backend");
                assert_eq!(
                    out.dims(),
                    [(3 + 1 + cell.has_cell_state() as usize) * 2 * 4]
                );
            }
        }
    }
}
