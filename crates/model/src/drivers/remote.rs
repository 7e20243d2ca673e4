//! The scan across burn-remote's connection. On a `remote:` device every tensor operation is a
//! message to the server, so the tensor scan's dozen operations per step made remote training
//! about 200× slower than local. Here a layer-direction's forward pass and its backward pass each
//! travel as one custom operation ([`FORWARD`], [`BACKWARD`]); the server runs them with its own
//! fused scan (native loops on flex, the CubeCL kernels on wgpu and cuda) once
//! [`with_scan_ops`] has registered them.
//!
//! On the wire a scan is its tensors in a fixed order, the optional ones only when present, and
//! integer scalars that say which are present ([`Flags`]). Both sides derive the tape's tensors
//! from the cell the same way ([`tape_widths`]).

use burn::backend::{DispatchDevice, DispatchKindConversion, DispatchTensor, Remote};
use burn::remote::CustomOpClient;
use burn::tensor::{DType, Shape, Tensor};
use burn_ir::{CustomOpIr, ScalarIr, TensorIr, TensorStatus};

use super::scan::{ScanGrads, ScanInputs, ScanNorm, ScanRecord, ScanSpec, ScanTape, Wanted};
use crate::cells::{Cell, CellKind, StateNorm, with_cell};

/// Scans sent to a server so far (forward and backward passes).
static SENT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// How many scan passes this process has sent to remote servers as one custom operation each
/// (forward and backward passes). Tests use it to prove that the fused path crossed.
pub fn remote_scans_sent() -> u64 {
    SENT.load(std::sync::atomic::Ordering::Relaxed)
}

/// The custom operation of a scan's forward pass.
pub const FORWARD: &str = "burn-rnn/scan-forward";
/// The custom operation of a scan's backward pass.
pub const BACKWARD: &str = "burn-rnn/scan-backward";

/// What a scan has besides its five fixed tensors, sent as the operation's scalars.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Flags {
    cell: usize,
    reverse: bool,
    keep_tape: bool,
    valid: bool,
    mask: bool,
    projection: bool,
    norm: bool,
    state_norm: bool,
}

impl Flags {
    fn of(spec: &ScanSpec, projection: bool, norm: Option<&ScanNorm>, keep_tape: bool) -> Self {
        Self {
            cell: CellKind::ALL
                .iter()
                .position(|&c| c == spec.cell)
                .expect("every cell is in CellKind::ALL"),
            reverse: spec.reverse,
            keep_tape,
            valid: spec.valid.is_some(),
            mask: spec.mask.is_some(),
            projection,
            norm: norm.is_some(),
            state_norm: norm.is_some_and(|n| n.state.is_some()),
        }
    }

    fn scalars(self) -> Vec<ScalarIr> {
        let flags = [
            self.reverse,
            self.keep_tape,
            self.valid,
            self.mask,
            self.projection,
            self.norm,
            self.state_norm,
        ];
        std::iter::once(self.cell as i64)
            .chain(flags.map(i64::from))
            .map(ScalarIr::Int)
            .collect()
    }

    /// The flags from an operation's first eight scalars.
    fn read(scalars: &[ScalarIr]) -> Self {
        let value = |i: usize| scalars[i].elem::<i64>();
        Self {
            cell: value(0) as usize,
            reverse: value(1) != 0,
            keep_tape: value(2) != 0,
            valid: value(3) != 0,
            mask: value(4) != 0,
            projection: value(5) != 0,
            norm: value(6) != 0,
            state_norm: value(7) != 0,
        }
    }

    fn cell(self) -> CellKind {
        CellKind::ALL[self.cell]
    }
}

/// The widths of the tape's optional tensors, each `[T, B, width]` when kept: `cells`, `kept`,
/// `unprojected`, `raw_parts` (what every local scan keeps for this cell and these options).
fn tape_widths(cell: CellKind, hidden: usize, flags: Flags) -> [Option<usize>; 4] {
    with_cell!(cell, _cell: C => [
        C::CELL_STATE.then_some(hidden),
        Some(C::TAPE * hidden).filter(|&width| width > 0),
        flags.projection.then_some(hidden),
        flags.norm.then_some(C::GATES * hidden),
    ])
}

/// The remote device a plain tensor lives on, if it lives on one.
fn remote_client(tensor: &Tensor<3>) -> Option<CustomOpClient> {
    match tensor.device().as_dispatch() {
        DispatchDevice::Remote(remote) => Some(CustomOpClient::new(remote)),
        _ => None,
    }
}

/// A remote tensor as an operation's input (read only: the caller keeps it).
fn input<const D: usize>(tensor: &Tensor<D>) -> TensorIr {
    tensor
        .clone()
        .try_into_primitive::<Remote>()
        .unwrap_or_else(|_| panic!("every tensor of a remote scan lives on the remote device"))
        .into_ir()
}

/// A new output of `shape`, to be written by the server.
fn output(client: &CustomOpClient, shape: &[usize]) -> TensorIr {
    TensorIr {
        id: client.create_empty_handle(),
        shape: Shape::from(shape.to_vec()),
        status: TensorStatus::NotInit,
        dtype: DType::F32,
    }
}

/// Outputs of an operation, taken in order as tensors.
struct Outputs(std::vec::IntoIter<burn::backend::tensor::FloatTensor<Remote>>);

impl Outputs {
    fn next<const D: usize>(&mut self) -> Tensor<D> {
        let primitive = self.0.next().expect("one output per declared tensor");
        Tensor::from_primitive::<Remote>(primitive)
    }
}

/// The scan's forward pass on the server, when its tensors live on a remote device.
pub(crate) fn forward(
    spec: &ScanSpec,
    inputs: &ScanInputs,
    keep_tape: bool,
) -> Option<(Tensor<1>, ScanTape)> {
    let client = remote_client(&inputs.xp)?;
    let layout = inputs.layout(spec.cell);
    let flags = Flags::of(
        spec,
        inputs.projection.is_some(),
        inputs.norm.as_ref(),
        keep_tape,
    );
    let mut tensors = vec![
        input(&inputs.xp),
        input(&inputs.w),
        input(&inputs.bias),
        input(&inputs.h0),
        input(&inputs.c0),
    ];
    tensors.extend(spec.valid.as_ref().map(input));
    tensors.extend(spec.mask.as_ref().map(input));
    tensors.extend(inputs.projection.as_ref().map(input));
    if let Some(norm) = &inputs.norm {
        tensors.push(input(&norm.hidden_gain));
        if let Some(state) = &norm.state {
            tensors.extend([input(&state.gain), input(&state.bias)]);
        }
    }
    let (steps, batch) = (layout.steps, layout.batch);
    let widths = tape_widths(spec.cell, layout.hidden, flags);
    let mut outputs = vec![output(&client, &[layout.len()])];
    if keep_tape {
        outputs.push(output(&client, &[steps, batch, layout.state]));
        for width in widths.into_iter().flatten() {
            outputs.push(output(&client, &[steps, batch, width]));
        }
    }
    let op = CustomOpIr {
        id: FORWARD.to_owned(),
        inputs: tensors,
        outputs,
        scalars: flags.scalars(),
    };
    let mut out = Outputs(client.register(op).into_iter());
    SENT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let flat: Tensor<1> = out.next();
    if !keep_tape {
        let tape = ScanTape {
            states: layout.outputs(&flat),
            cells: None,
            kept: None,
            unprojected: None,
            raw_parts: None,
        };
        return Some((flat, tape));
    }
    let states = out.next();
    let [cells, kept, unprojected, raw_parts] = widths.map(|w| w.map(|_| out.next()));
    let tape = ScanTape {
        states,
        cells,
        kept,
        unprojected,
        raw_parts,
    };
    Some((flat, tape))
}

/// The scan's backward pass on the server, for a record whose tensors live on a remote device.
pub(crate) fn backward(record: &ScanRecord, grad: &Tensor<1>, wanted: Wanted) -> Option<ScanGrads> {
    let client = remote_client(&record.tape.states)?;
    let ScanRecord {
        spec,
        weights,
        tape,
    } = record;
    let flags = Flags::of(
        spec,
        weights.projection.is_some(),
        weights.norm.as_ref(),
        true,
    );
    let mut tensors = vec![
        input(grad),
        input(&weights.w),
        input(&weights.h0),
        input(&weights.c0),
        input(&tape.states),
    ];
    tensors.extend(spec.valid.as_ref().map(input));
    tensors.extend(spec.mask.as_ref().map(input));
    tensors.extend(weights.projection.as_ref().map(input));
    if let Some(norm) = &weights.norm {
        tensors.push(input(&norm.hidden_gain));
        if let Some(state) = &norm.state {
            tensors.extend([input(&state.gain), input(&state.bias)]);
        }
    }
    for kept in [&tape.cells, &tape.kept, &tape.unprojected, &tape.raw_parts] {
        tensors.extend(kept.as_ref().map(input));
    }
    let shapes = grad_shapes(record);
    let flags_wanted = wanted_flags(wanted);
    let outputs = shapes
        .iter()
        .zip(flags_wanted)
        .filter(|(_, wanted)| *wanted)
        .map(|(shape, _)| output(&client, shape))
        .collect();
    let mut scalars = flags.scalars();
    scalars.extend(flags_wanted.map(|w| ScalarIr::Int(w as i64)));
    let op = CustomOpIr {
        id: BACKWARD.to_owned(),
        inputs: tensors,
        outputs,
        scalars,
    };
    let mut out = Outputs(client.register(op).into_iter());
    SENT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut grads = ScanGrads::default();
    if wanted.xp {
        grads.xp = Some(out.next());
    }
    if wanted.w {
        grads.w = Some(out.next());
    }
    if wanted.bias {
        grads.bias = Some(out.next());
    }
    if wanted.h0 {
        grads.h0 = Some(out.next());
    }
    if wanted.c0 {
        grads.c0 = Some(out.next());
    }
    if wanted.projection {
        grads.projection = Some(out.next());
    }
    if wanted.hidden_gain {
        grads.hidden_gain = Some(out.next());
    }
    if wanted.state_gain {
        grads.state_gain = Some(out.next());
    }
    if wanted.state_bias {
        grads.state_bias = Some(out.next());
    }
    Some(grads)
}

/// The shapes of the nine gradients a backward pass may produce, in [`Wanted`]'s order.
fn grad_shapes(record: &ScanRecord) -> [Vec<usize>; 9] {
    let [steps, batch, _] = record.tape.states.dims();
    let weights = &record.weights;
    let [state, width] = weights.w.dims();
    let [_, hidden] = weights.c0.dims();
    let projection = weights
        .projection
        .as_ref()
        .map_or(vec![1, 1], |p| p.dims().to_vec());
    [
        vec![steps, batch, width],
        vec![state, width],
        vec![width],
        vec![batch, state],
        vec![batch, hidden],
        projection,
        vec![width],
        vec![hidden],
        vec![hidden],
    ]
}

fn wanted_flags(wanted: Wanted) -> [bool; 9] {
    [
        wanted.xp,
        wanted.w,
        wanted.bias,
        wanted.h0,
        wanted.c0,
        wanted.projection,
        wanted.hidden_gain,
        wanted.state_gain,
        wanted.state_bias,
    ]
}

#[cfg(feature = "remote-server")]
pub use server::with_scan_ops;

/// The server's side: the handlers that run the two operations with the server's local scan.
#[cfg(feature = "remote-server")]
mod server {
    use burn::server::RemoteServer;
    use burn::tensor::Device;
    use burn_ir::{BackendIr, HandleContainer};

    use super::super::fused;
    use super::super::scan::ScanWeights;
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
            xp,
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
        let wanted: [bool; 9] = std::array::from_fn(|i| op.scalars[8 + i].elem::<i64>() != 0);
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
        let grads = fused::backward(&record, grad, Wanted::from(wanted));
        let mut out = Writer::<B> {
            handles,
            irs: op.outputs.iter(),
        };
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
        out.put_wanted(xp, grads.xp);
        out.put_wanted(w, grads.w);
        out.put_wanted(bias, grads.bias);
        out.put_wanted(h0, grads.h0);
        out.put_wanted(c0, grads.c0);
        out.put_wanted(projection, grads.projection);
        out.put_wanted(hidden_gain, grads.hidden_gain);
        out.put_wanted(state_gain, grads.state_gain);
        out.put_wanted(state_bias, grads.state_bias);
    }
}
