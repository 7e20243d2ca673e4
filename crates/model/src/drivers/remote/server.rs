//! The server's side of the remote scan: the handlers that run the two custom operations with
//! the server's own scan, on the tensors the client named.

use burn::server::RemoteServer;
use burn::tensor::Device;
use burn_ir::{BackendIr, HandleContainer};

use super::super::fused;
use super::super::scan::{InputPart, ScanWeights};
use super::*;

/// `server`, which hosts `device`, with the fused scan's two custom operations registered
/// for that device's backend, so that clients on a `remote:` device send a layer-direction's
/// forward and backward pass as one message each. (burn-remote refuses operations registered
/// for a backend that none of the server's devices use.) A backend this crate has no scan
/// for gets none, and its clients run the tensor scan operation by operation.
pub fn with_scan_ops(server: RemoteServer, device: &Device) -> RemoteServer {
    #[allow(dead_code)]
    fn both<B: BackendIr>(server: RemoteServer) -> RemoteServer
    where
        DispatchTensor: DispatchKindConversion<B>,
    {
        server
            .with_custom_op::<B, _>(FORWARD, run_forward::<B>)
            .with_custom_op::<B, _>(BACKWARD, run_backward::<B>)
    }
    match device.clone().inner().as_dispatch() {
        #[cfg(feature = "flex")]
        DispatchDevice::Flex(_) => both::<burn::backend::Flex>(server),
        #[cfg(feature = "ndarray")]
        #[allow(deprecated)]
        DispatchDevice::NdArray(_) => both::<burn::backend::NdArray>(server),
        #[cfg(feature = "cubecl")]
        DispatchDevice::Cube(_) => both::<burn::backend::Cube>(server),
        _ => server,
    }
}

/// The operation's input tensors, taken in order.
struct Inputs<'a, B: BackendIr> {
    handles: &'a mut HandleContainer<B::Handle>,
    irs: std::slice::Iter<'a, TensorIr>,
}

impl<B: BackendIr> Inputs<'_, B>
where
    DispatchTensor: DispatchKindConversion<B>,
{
    fn next<const D: usize>(&mut self) -> Tensor<D> {
        let ir = self
            .irs
            .next()
            .expect("the client sends every tensor it declares");
        Tensor::from_primitive::<B>(self.handles.get_float_tensor::<B>(ir))
    }

    fn next_if<const D: usize>(&mut self, present: bool) -> Option<Tensor<D>> {
        present.then(|| self.next())
    }

    /// The norm weights, in the order the client sends them.
    fn norm(&mut self, flags: Flags) -> Option<ScanNorm> {
        flags.norm.then(|| ScanNorm {
            hidden_gain: self.next(),
            state: flags.state_norm.then(|| StateNorm {
                gain: self.next(),
                bias: self.next(),
            }),
        })
    }
}

/// The operation's outputs, written in order.
struct Writer<'a, B: BackendIr> {
    handles: &'a mut HandleContainer<B::Handle>,
    irs: std::slice::Iter<'a, TensorIr>,
}

impl<B: BackendIr> Writer<'_, B>
where
    DispatchTensor: DispatchKindConversion<B>,
{
    fn put<const D: usize>(&mut self, tensor: Tensor<D>) {
        let ir = self.irs.next().expect("the client declares every output");
        let primitive = tensor
            .try_into_primitive::<B>()
            .unwrap_or_else(|_| panic!("the scan computes on the server's backend"));
        self.handles.register_float_tensor::<B>(&ir.id, primitive);
    }

    /// A wanted gradient (the local scans compute every one they are asked for).
    fn put_wanted<const D: usize>(&mut self, wanted: bool, tensor: Option<Tensor<D>>) {
        if wanted {
            self.put(tensor.expect("the scan computes every wanted gradient"));
        }
    }
}

fn run_forward<B: BackendIr>(
    handles: &mut HandleContainer<B::Handle>,
    op: &CustomOpIr,
    _device: &B::Device,
) where
    DispatchTensor: DispatchKindConversion<B>,
{
    let flags = Flags::read(&op.scalars);
    let mut inputs = Inputs::<B> {
        handles,
        irs: op.inputs.iter(),
    };
    let (xp, w, bias, h0, c0) = (
        inputs.next(),
        inputs.next(),
        inputs.next(),
        inputs.next(),
        inputs.next(),
    );
    let spec = ScanSpec {
        cell: flags.cell(),
        reverse: flags.reverse,
        valid: inputs.next_if(flags.valid),
        mask: inputs.next_if(flags.mask),
    };
    let scan_inputs = ScanInputs {
        xp: InputPart::Projected(xp),
        w,
        bias,
        h0,
        c0,
        projection: inputs.next_if(flags.projection),
        norm: inputs.norm(flags),
    };
    let hidden = scan_inputs.layout(spec.cell).hidden;
    let (flat, tape) = fused::forward(&spec, &scan_inputs, flags.keep_tape);
    let mut out = Writer::<B> {
        handles,
        irs: op.outputs.iter(),
    };
    out.put(flat);
    if flags.keep_tape {
        out.put(tape.states);
        let kept = [tape.cells, tape.kept, tape.unprojected, tape.raw_parts];
        for (width, tensor) in tape_widths(spec.cell, hidden, flags).into_iter().zip(kept) {
            match (width, tensor) {
                (Some(_), Some(tensor)) => out.put(tensor),
                (None, None) => {}
                _ => panic!("the server's scan kept another tape than the client expects"),
            }
        }
    }
}

fn run_backward<B: BackendIr>(
    handles: &mut HandleContainer<B::Handle>,
    op: &CustomOpIr,
    _device: &B::Device,
) where
    DispatchTensor: DispatchKindConversion<B>,
{
    let flags = Flags::read(&op.scalars);
    let wanted = Wanted::from(std::array::from_fn(|i| {
        op.scalars[8 + i].elem::<i64>() != 0
    }));
    let mut inputs = Inputs::<B> {
        handles,
        irs: op.inputs.iter(),
    };
    let grad: Tensor<1> = inputs.next();
    let (w, h0, c0): (Tensor<2>, Tensor<2>, Tensor<2>) =
        (inputs.next(), inputs.next(), inputs.next());
    let states = inputs.next();
    let spec = ScanSpec {
        cell: flags.cell(),
        reverse: flags.reverse,
        valid: inputs.next_if(flags.valid),
        mask: inputs.next_if(flags.mask),
    };
    let projection = inputs.next_if(flags.projection);
    let norm = inputs.norm(flags);
    let [_, hidden] = c0.dims();
    let [cells, kept, unprojected, raw_parts] =
        tape_widths(spec.cell, hidden, flags).map(|width| inputs.next_if(width.is_some()));
    let record = ScanRecord {
        spec,
        weights: ScanWeights {
            w,
            h0,
            c0,
            projection,
            norm,
        },
        tape: ScanTape {
            states,
            cells,
            kept,
            unprojected,
            raw_parts,
        },
    };
    let grads = fused::backward(&record, grad, wanted);
    let mut out = Writer::<B> {
        handles,
        irs: op.outputs.iter(),
    };
    out.put_wanted(wanted.xp, grads.xp);
    out.put_wanted(wanted.w, grads.w);
    out.put_wanted(wanted.bias, grads.bias);
    out.put_wanted(wanted.h0, grads.h0);
    out.put_wanted(wanted.c0, grads.c0);
    out.put_wanted(wanted.projection, grads.projection);
    out.put_wanted(wanted.hidden_gain, grads.hidden_gain);
    out.put_wanted(wanted.state_gain, grads.state_gain);
    out.put_wanted(wanted.state_bias, grads.state_bias);
}
