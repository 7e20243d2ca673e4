//! The scan of `scan.rs` as one autodiff operation with a hand-written backward pass.
//!
//! Burn records every tensor operation of the step-by-step loop as a graph node (a dozen per
//! step and layer) and computes the hidden-weight gradient as `T` small products. Here a whole
//! layer-direction is one node: the forward pass runs on the backend's plain tensors, and the
//! backward pass is [`scan::backward`] (BPTT with `∂W_hh` as one product over all steps).
//!
//! Backends are reached through Burn's `extension` API, one concrete type per enabled cargo
//! feature (`flex`, `ndarray`, `wgpu`/`cuda`). On any other backend [`scan`] returns `None` and
//! the caller falls back to the step-by-step loop, which Burn differentiates itself.

use burn::tensor::Tensor;

use crate::scan::{self, ScanInputs, ScanSpec};

/// Runs one layer-direction (see [`scan::forward`]) and returns its `[T + extra, B, H]` output,
/// differentiable when the inputs live on an autodiff device. `None` when the inputs are on an
/// autodiff backend this crate was built without (or built without `autodiff`).
pub(crate) fn scan(spec: &ScanSpec, inputs: &ScanInputs) -> Option<Tensor<3>> {
    if !inputs.xp.device().is_autodiff() {
        return Some(scan::forward(spec, inputs, false).0);
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
        feature = "cuda"
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

    use crate::scan::{self, ScanInputs, ScanSpec, ScanTape, Wanted};

    /// [`super::scan`] on an autodiff device.
    pub(super) fn scan(spec: &ScanSpec, inputs: &ScanInputs) -> Option<Tensor<3>> {
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
        None
    }

    /// The autodiff operation: parents `[xp, w, bias, h0, c0]`.
    #[derive(Debug)]
    struct ScanOp;

    /// What the backward pass needs, as plain tensors of the inner backend.
    #[derive(Clone, Debug)]
    struct ScanState {
        spec: ScanSpec,
        w: Tensor<2>,
        h0: Tensor<2>,
        c0: Tensor<2>,
        tape: ScanTape,
    }

    impl<B: Backend> Backward<B, 5> for ScanOp
    where
        DispatchTensor: DispatchKindConversion<B>,
    {
        type State = ScanState;

        fn backward(self, ops: Ops<ScanState, 5>, grads: &mut Gradients, _: &mut Checkpointer) {
            let [xp, w, bias, h0, c0] = ops.parents;
            let grad = Tensor::<3>::from_primitive::<B>(grads.consume::<B>(&ops.node));
            let wanted = Wanted {
                xp: xp.is_some(),
                w: w.is_some(),
                bias: bias.is_some(),
                h0: h0.is_some(),
                c0: c0.is_some(),
            };
            let state = ops.state;
            let out = scan::backward(
                &state.spec,
                (&state.w, &state.h0, &state.c0),
                &state.tape,
                grad,
                wanted,
            );
            let ids = [xp, w, bias, h0, c0].map(|node| node.map(|node| node.id));
            let computed = [
                out.xp.map(primitive::<B, 3>),
                out.w.map(primitive::<B, 2>),
                out.bias.map(primitive::<B, 1>),
                out.h0.map(primitive::<B, 2>),
                out.c0.map(primitive::<B, 2>),
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

    /// [`scan`] on `Autodiff<B, C>`; `None` when the inputs live elsewhere.
    fn scan_on<B: Backend, C: CheckpointStrategy>(
        spec: &ScanSpec,
        inputs: &ScanInputs,
    ) -> Option<Tensor<3>>
    where
        DispatchTensor: DispatchKindConversion<Autodiff<B, C>> + DispatchKindConversion<B>,
    {
        let xp = inputs
            .xp
            .clone()
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
        let tracked = [&xp, &w, &bias, &h0, &c0].iter().any(|t| t.is_tracked());
        let valid = spec.valid.clone().map(|v| {
            let v = v
                .try_into_primitive::<Autodiff<B, C>>()
                .expect("the mask is on the inputs' device");
            Tensor::<3>::from_primitive::<B>(v.into_primitive())
        });

        let (xp, xp_node) = xp.into_parts();
        let (w, w_node) = w.into_parts();
        let (bias, bias_node) = bias.into_parts();
        let (h0, h0_node) = h0.into_parts();
        let (c0, c0_node) = c0.into_parts();
        let spec = ScanSpec {
            valid,
            ..spec.clone()
        };
        let plain = ScanInputs {
            xp: Tensor::from_primitive::<B>(xp),
            w: Tensor::from_primitive::<B>(w),
            bias: Tensor::from_primitive::<B>(bias),
            h0: Tensor::from_primitive::<B>(h0),
            c0: Tensor::from_primitive::<B>(c0),
        };
        let (out, tape) = scan::forward(&spec, &plain, tracked);
        let out = primitive::<B, 3>(out);
        let out = match ScanOp
            .prepare::<C>([xp_node, w_node, bias_node, h0_node, c0_node])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let state = ScanState {
                    spec,
                    w: plain.w,
                    h0: plain.h0,
                    c0: plain.c0,
                    tape,
                };
                prep.finish(state, out)
            }
            OpsKind::UnTracked(prep) => prep.finish(out),
        };
        Some(Tensor::from_primitive::<Autodiff<B, C>>(out))
    }
}

#[cfg(all(test, feature = "autodiff", feature = "flex", feature = "ndarray"))]
mod tests {
    use super::*;
    use crate::cell::CellKind;
    use burn::tensor::Device;

    fn inputs(device: &Device, cell: CellKind) -> ScanInputs {
        let gates = cell.gates() * 4;
        ScanInputs {
            xp: Tensor::ones([3, 2, gates], device),
            w: Tensor::<2>::ones([4, gates], device).require_grad(),
            bias: Tensor::zeros([gates], device),
            h0: Tensor::zeros([2, 4], device),
            c0: Tensor::zeros([2, 4], device),
        }
    }

    /// On the CPU backends this crate is built with, training takes the fused path (one
    /// operation per layer) rather than the step-by-step fallback, for every cell.
    #[test]
    #[allow(deprecated)]
    fn the_fused_path_covers_the_cpu_backends() {
        let devices = [Device::flex().autodiff(), Device::ndarray().autodiff()];
        for device in devices {
            for cell in CellKind::ALL {
                let spec = ScanSpec {
                    cell,
                    reverse: false,
                    valid: None,
                };
                let out = scan(&spec, &inputs(&device, cell)).expect("fused on this backend");
                assert_eq!(out.dims(), [3 + 1 + cell.has_cell_state() as usize, 2, 4]);
            }
        }
    }
}
