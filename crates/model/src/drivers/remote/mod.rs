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

    /// The next output if it was `wanted` (declared), else `None`.
    fn take<const D: usize>(&mut self, wanted: bool) -> Option<Tensor<D>> {
        wanted.then(|| self.next())
    }
}

/// The tensors a scan has or not, in the order [`Flags`] announces them: the padding's mask,
/// recurrent dropout's mask, the projection, the layer norm's gains and bias.
fn optional_inputs(
    spec: &ScanSpec,
    projection: Option<&Tensor<2>>,
    norm: Option<&ScanNorm>,
) -> Vec<TensorIr> {
    let mut tensors: Vec<TensorIr> = spec.valid.iter().map(input).collect();
    tensors.extend(spec.mask.iter().map(input));
    tensors.extend(projection.map(input));
    if let Some(norm) = norm {
        tensors.push(input(&norm.hidden_gain));
        if let Some(state) = &norm.state {
            tensors.extend([input(&state.gain), input(&state.bias)]);
        }
    }
    tensors
}

/// The scan's forward pass on the server, when its tensors live on a remote device.
pub(crate) fn forward(
    spec: &ScanSpec,
    inputs: &ScanInputs,
    keep_tape: bool,
) -> Option<(Tensor<1>, ScanTape)> {
    let xp = inputs.xp.projected();
    let client = remote_client(&xp)?;
    let layout = inputs.layout(spec.cell);
    let flags = Flags::of(
        spec,
        inputs.projection.is_some(),
        inputs.norm.as_ref(),
        keep_tape,
    );
    let mut tensors = vec![
        input(&xp),
        input(&inputs.w),
        input(&inputs.bias),
        input(&inputs.h0),
        input(&inputs.c0),
    ];
    tensors.extend(optional_inputs(
        spec,
        inputs.projection.as_ref(),
        inputs.norm.as_ref(),
    ));
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
    tensors.extend(optional_inputs(
        spec,
        weights.projection.as_ref(),
        weights.norm.as_ref(),
    ));
    for kept in [&tape.cells, &tape.kept, &tape.unprojected, &tape.raw_parts] {
        tensors.extend(kept.as_ref().map(input));
    }
    let shapes = grad_shapes(record);
    let flags_wanted = wanted.flags();
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
    Some(ScanGrads {
        xp: out.take(wanted.xp),
        w: out.take(wanted.w),
        bias: out.take(wanted.bias),
        h0: out.take(wanted.h0),
        c0: out.take(wanted.c0),
        projection: out.take(wanted.projection),
        hidden_gain: out.take(wanted.hidden_gain),
        state_gain: out.take(wanted.state_gain),
        state_bias: out.take(wanted.state_bias),
    })
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

#[cfg(feature = "remote-server")]
pub use server::with_scan_ops;

/// The server's side: the handlers that run the two operations with the server's local scan.
#[cfg(feature = "remote-server")]
mod server;
