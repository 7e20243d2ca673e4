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
    /// the scan where the native scan computes it step by step: at inference on flex, without
    /// layer norm.
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
mod tracked {
    use burn::backend::autodiff::checkpoint::base::Checkpointer;
    use burn::backend::autodiff::checkpoint::strategy::{
        BalancedCheckpointing, CheckpointStrategy, NoCheckpointing,
    };
    use burn::backend::autodiff::grads::Gradients;
    use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
    use burn::backend::{Autodiff, Backend, DispatchKindConversion, DispatchTensor};
    use burn::tensor::Tensor;

    use super::super::scan::{
        InputPart, ScanInputs, ScanNorm, ScanRecord, ScanSpec, ScanWeights, Wanted,
    };
    use crate::cells::StateNorm;

    /// [`super::scan`] on an autodiff device.
    pub(super) fn scan(spec: &ScanSpec, inputs: &ScanInputs) -> Option<Tensor<1>> {
        macro_rules! on {
            ($backend:ty) => {
                if let Some(out) = scan_on::<$backend, NoCheckpointing>(spec, inputs) {
                    return Some(out);
                }
                if let Some(out) = scan_on::<$backend, BalancedCheckpointing>(spec, inputs) {
                    return Some(out);
                }
            };
        }
        #[cfg(feature = "flex")]
        on!(burn::backend::Flex);
        // burn-ndarray is deprecated in favour of flex, but still a backend.
        #[cfg(feature = "ndarray")]
        #[allow(deprecated)]
        {
            on!(burn::backend::NdArray);
        }
        #[cfg(any(feature = "wgpu", feature = "cuda"))]
        on!(burn::backend::Cube);
        #[cfg(feature = "remote")]
        on!(burn::backend::Remote);
        None
    }

    /// The autodiff operation: parents `[xp, w, bias, h0, c0, projection, hidden_gain,
    /// state_gain, state_bias]` (a constant stands in for what a scan does not have).
    #[derive(Debug)]
    struct ScanOp;

    impl<B: Backend> Backward<B, 9> for ScanOp
    where
        DispatchTensor: DispatchKindConversion<B>,
    {
        /// What the backward pass needs, as plain tensors of the inner backend.
        type State = ScanRecord;

        fn backward(self, ops: Ops<ScanRecord, 9>, grads: &mut Gradients, _: &mut Checkpointer) {
            let parents = ops.parents;
            let grad = Tensor::<1>::from_primitive::<B>(grads.consume::<B>(&ops.node));
            let wanted = Wanted::from(parents.each_ref().map(Option::is_some));
            let out = super::backward(&ops.state, grad, wanted);
            let ids = parents.map(|node| node.map(|node| node.id));
            let computed = [
                out.xp.map(primitive::<B, 3>),
                out.w.map(primitive::<B, 2>),
                out.bias.map(primitive::<B, 1>),
                out.h0.map(primitive::<B, 2>),
                out.c0.map(primitive::<B, 2>),
                out.projection.map(primitive::<B, 2>),
                out.hidden_gain.map(primitive::<B, 1>),
                out.state_gain.map(primitive::<B, 1>),
                out.state_bias.map(primitive::<B, 1>),
            ];
            for (id, grad) in ids.into_iter().zip(computed) {
                if let (Some(id), Some(grad)) = (id, grad) {
                    grads.register::<B>(id, grad);
                }
            }
        }
    }

    /// A plain tensor's backend primitive; the tensor was made on `B` by this module.
    fn primitive<B: Backend, const D: usize>(tensor: Tensor<D>) -> B::FloatTensorPrimitive
    where
        DispatchTensor: DispatchKindConversion<B>,
    {
        tensor
            .try_into_primitive::<B>()
            .expect("the scan computes on its inputs' backend")
    }

    /// [`scan()`] on `Autodiff<B, C>`; `None` when the inputs live elsewhere.
    fn scan_on<B: Backend, C: CheckpointStrategy>(
        spec: &ScanSpec,
        inputs: &ScanInputs,
    ) -> Option<Tensor<1>>
    where
        DispatchTensor: DispatchKindConversion<Autodiff<B, C>> + DispatchKindConversion<B>,
    {
        let xp = inputs
            .xp
            .projected()
            .try_into_primitive::<Autodiff<B, C>>()
            .ok()?;
        let unwrap = |t: Tensor<2>| {
            t.try_into_primitive::<Autodiff<B, C>>()
                .expect("every input of a scan is on one device")
        };
        let w = unwrap(inputs.w.clone());
        let bias = inputs
            .bias
            .clone()
            .try_into_primitive::<Autodiff<B, C>>()
            .expect("every input of a scan is on one device");
        let h0 = unwrap(inputs.h0.clone());
        let c0 = unwrap(inputs.c0.clone());
        // A constant stands in for an absent projection: it has no gradient to receive.
        let device = inputs.xp.device();
        let projection = unwrap(
            inputs
                .projection
                .clone()
                .unwrap_or_else(|| Tensor::zeros([1, 1], &device)),
        );
        let vector = |t: Option<Tensor<1>>| {
            t.unwrap_or_else(|| Tensor::zeros([1], &device))
                .try_into_primitive::<Autodiff<B, C>>()
                .expect("every input of a scan is on one device")
        };
        let norm = inputs.norm.as_ref();
        let state = norm.and_then(|norm| norm.state.as_ref());
        let hidden_gain = vector(norm.map(|norm| norm.hidden_gain.clone()));
        let state_gain = vector(state.map(|state| state.gain.clone()));
        let state_bias = vector(state.map(|state| state.bias.clone()));
        let tracked = [
            &xp,
            &w,
            &bias,
            &h0,
            &c0,
            &projection,
            &hidden_gain,
            &state_gain,
            &state_bias,
        ]
        .iter()
        .any(|t| t.is_tracked());
        let valid = spec.valid.clone().map(|v| {
            let v = v
                .try_into_primitive::<Autodiff<B, C>>()
                .expect("the mask is on the inputs' device");
            Tensor::<3>::from_primitive::<B>(v.into_primitive())
        });
        let mask = spec.mask.clone().map(|m| {
            let m = m
                .try_into_primitive::<Autodiff<B, C>>()
                .expect("the dropout mask is on the inputs' device");
            Tensor::<2>::from_primitive::<B>(m.into_primitive())
        });

        let (xp, xp_node) = xp.into_parts();
        let (w, w_node) = w.into_parts();
        let (bias, bias_node) = bias.into_parts();
        let (h0, h0_node) = h0.into_parts();
        let (c0, c0_node) = c0.into_parts();
        let (projection, projection_node) = projection.into_parts();
        let (hidden_gain, hidden_gain_node) = hidden_gain.into_parts();
        let (state_gain, state_gain_node) = state_gain.into_parts();
        let (state_bias, state_bias_node) = state_bias.into_parts();
        let spec = ScanSpec {
            valid,
            mask,
            ..spec.clone()
        };
        let plain = ScanInputs {
            xp: InputPart::Projected(Tensor::from_primitive::<B>(xp)),
            w: Tensor::from_primitive::<B>(w),
            bias: Tensor::from_primitive::<B>(bias),
            h0: Tensor::from_primitive::<B>(h0),
            c0: Tensor::from_primitive::<B>(c0),
            projection: inputs
                .projection
                .is_some()
                .then(|| Tensor::from_primitive::<B>(projection)),
            norm: norm.map(|norm| ScanNorm {
                hidden_gain: Tensor::from_primitive::<B>(hidden_gain),
                state: norm.state.as_ref().map(|_| StateNorm {
                    gain: Tensor::from_primitive::<B>(state_gain),
                    bias: Tensor::from_primitive::<B>(state_bias),
                }),
            }),
        };
        let (out, tape) = super::forward(&spec, &plain, tracked);
        let out = primitive::<B, 1>(out);
        let nodes = [
            xp_node,
            w_node,
            bias_node,
            h0_node,
            c0_node,
            projection_node,
            hidden_gain_node,
            state_gain_node,
            state_bias_node,
        ];
        let out = match ScanOp.prepare::<C>(nodes).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let weights = ScanWeights {
                    w: plain.w,
                    h0: plain.h0,
                    c0: plain.c0,
                    projection: plain.projection,
                    norm: plain.norm,
                };
                prep.finish(
                    ScanRecord {
                        spec,
                        weights,
                        tape,
                    },
                    out,
                )
            }
            OpsKind::UnTracked(prep) => prep.finish(out),
        };
        Some(Tensor::from_primitive::<Autodiff<B, C>>(out))
    }
}

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
