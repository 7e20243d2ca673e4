//! The fused scan as one autodiff operation on `Autodiff<B, C>`, whose backward pass is the
//! scan's own (`super::backward`), for each backend this crate was built with.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::{
    BalancedCheckpointing, CheckpointStrategy, NoCheckpointing,
};
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::{Autodiff, Backend, DispatchKindConversion, DispatchTensor};
use burn::tensor::Tensor;

use super::super::scan::{
    DeferredInput, InputPart, ScanInputs, ScanNorm, ScanRecord, ScanSpec, ScanWeights, Wanted,
};
use crate::cells::StateNorm;

/// Why a scan's tensors failed to convert to the backend its input was found on. Burn's devices
/// that differ only in gradient checkpointing compare equal, so `fork` and `to_device` leave a
/// module made on one of them on the other; burn's own operations panic there too.
const ONE_DEVICE: &str = "every input of a scan must be on one device, with one gradient \
     checkpointing strategy: make the model on the device it trains on";

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
/// state_gain, state_bias, x, w_ih, b_ih]`, the last three those of a deferred input part
/// (a constant stands in for what a scan does not have, `xp` when the part is deferred).
#[derive(Debug)]
struct ScanOp;

/// What the backward pass needs, as plain tensors of the inner backend: the record, and
/// what a deferred input part was computed from.
type State = (ScanRecord, Option<DeferredInput>);

impl<B: Backend> Backward<B, 12> for ScanOp
where
    DispatchTensor: DispatchKindConversion<B>,
{
    type State = State;

    fn backward(self, ops: Ops<State, 12>, grads: &mut Gradients, _: &mut Checkpointer) {
        let parents = ops.parents;
        let grad = Tensor::<1>::from_primitive::<B>(grads.consume::<B>(&ops.node));
        let flags = parents.each_ref().map(Option::is_some);
        let [scan_flags @ .., x, w_ih, b_ih] = flags;
        let (record, input) = &ops.state;
        // A deferred part's gradient is the scan's `xp` gradient, carried on to its inputs.
        let deferred = input.as_ref().filter(|_| x || w_ih || b_ih);
        let mut wanted = Wanted::from(scan_flags);
        wanted.xp |= deferred.is_some();
        let mut out = super::backward(record, grad, wanted);
        let (dx, dw_ih, db_ih) = match deferred {
            Some(input) => {
                let d_part = out.xp.take().expect("the part's gradient was asked for");
                let d = input.grads(d_part, [x, w_ih, b_ih]);
                (d.x, d.w, d.bias)
            }
            None => (None, None, None),
        };
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
            dx.map(primitive::<B, 3>),
            dw_ih.map(primitive::<B, 2>),
            db_ih.map(primitive::<B, 1>),
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
    // A deferred part's inputs are parents of their own; a constant then stands in for `xp`.
    let device = inputs.xp.device();
    let (xp, deferred) = match &inputs.xp {
        InputPart::Projected(xp) => (xp.clone(), None),
        InputPart::Deferred(input) => (Tensor::zeros([1, 1, 1], &device), Some(input)),
    };
    let on_backend = deferred.map_or(&xp, |input| &input.x);
    on_backend
        .clone()
        .try_into_primitive::<Autodiff<B, C>>()
        .ok()?;
    let tensor = |t: Tensor<3>| t.try_into_primitive::<Autodiff<B, C>>().expect(ONE_DEVICE);
    let unwrap = |t: Tensor<2>| t.try_into_primitive::<Autodiff<B, C>>().expect(ONE_DEVICE);
    let xp = tensor(xp);
    let x = tensor(deferred.map_or_else(|| Tensor::zeros([1, 1, 1], &device), |i| i.x.clone()));
    let w_ih = unwrap(deferred.map_or_else(|| Tensor::zeros([1, 1], &device), |i| i.w.clone()));
    let w = unwrap(inputs.w.clone());
    let bias = inputs
        .bias
        .clone()
        .try_into_primitive::<Autodiff<B, C>>()
        .expect(ONE_DEVICE);
    let h0 = unwrap(inputs.h0.clone());
    let c0 = unwrap(inputs.c0.clone());
    // A constant stands in for an absent projection: it has no gradient to receive.
    let projection = unwrap(
        inputs
            .projection
            .clone()
            .unwrap_or_else(|| Tensor::zeros([1, 1], &device)),
    );
    let vector = |t: Option<Tensor<1>>| {
        t.unwrap_or_else(|| Tensor::zeros([1], &device))
            .try_into_primitive::<Autodiff<B, C>>()
            .expect(ONE_DEVICE)
    };
    let norm = inputs.norm.as_ref();
    let state = norm.and_then(|norm| norm.state.as_ref());
    let hidden_gain = vector(norm.map(|norm| norm.hidden_gain.clone()));
    let state_gain = vector(state.map(|state| state.gain.clone()));
    let state_bias = vector(state.map(|state| state.bias.clone()));
    let b_ih = vector(deferred.and_then(|input| input.bias.clone()));
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
        &b_ih,
    ]
    .iter()
    .any(|t| t.is_tracked())
        || x.is_tracked()
        || w_ih.is_tracked();
    let valid = spec.valid.clone().map(|v| {
        let v = v.try_into_primitive::<Autodiff<B, C>>().expect(ONE_DEVICE);
        Tensor::<3>::from_primitive::<B>(v.into_primitive())
    });
    let mask = spec.mask.clone().map(|m| {
        let m = m.try_into_primitive::<Autodiff<B, C>>().expect(ONE_DEVICE);
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
    let (x, x_node) = x.into_parts();
    let (w_ih, w_ih_node) = w_ih.into_parts();
    let (b_ih, b_ih_node) = b_ih.into_parts();
    let input = deferred.map(|input| DeferredInput {
        x: Tensor::from_primitive::<B>(x),
        w: Tensor::from_primitive::<B>(w_ih),
        bias: input
            .bias
            .as_ref()
            .map(|_| Tensor::from_primitive::<B>(b_ih)),
    });
    let spec = ScanSpec {
        valid,
        mask,
        ..spec.clone()
    };
    let plain = ScanInputs {
        xp: match &input {
            Some(input) => InputPart::Deferred(input.clone()),
            None => InputPart::Projected(Tensor::from_primitive::<B>(xp)),
        },
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
        x_node,
        w_ih_node,
        b_ih_node,
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
            let record = ScanRecord {
                spec,
                weights,
                tape,
            };
            prep.finish((record, input), out)
        }
        OpsKind::UnTracked(prep) => prep.finish(out),
    };
    Some(Tensor::from_primitive::<Autodiff<B, C>>(out))
}
