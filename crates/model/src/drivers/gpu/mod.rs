//! The scan on wgpu and cuda as CubeCL kernels (`kernel.rs`): a layer-direction is one kernel
//! launch forward and one backward, whatever the number of steps, where the tensor scan
//! dispatches a product and a dozen element-wise kernels per step.
//!
//! Design: each cube (workgroup) owns a few sequences of the batch, keeps their states in
//! shared memory and loops over all steps inside the kernel, reading `W_hh` from global memory
//! (or the cache); batch rows are independent, so cube-level barriers suffice. The input
//! projection of all steps before the scan, and the weight gradients over all steps after it,
//! stay large products (Burn's matmul).
//!
//! A projected LSTM (`proj_size`) has a second pass per step over the state's units, after the
//! cell's; recurrent dropout keeps the masked states, as they enter `W_hh`, beside the states.
//!
//! Limits: `f32` tensors on Burn's unfused cube backend (`burn-cubecl` without its `fusion`
//! feature); the states of one sequence (and, backward, one step's gate gradients) must fit in
//! a cube's shared memory (`H ≤ 512` for an LSTM at WebGPU's default 16 KiB, more on real
//! GPUs). Anything else returns `None`, and the caller runs the tensor scan.

mod kernel;

use std::any::Any;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use burn::backend::Cube;
use burn::tensor::{DType, Shape, Tensor};
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::ops::numeric::empty_device_dtype;
use burn_cubecl::tensor::CubeTensor;
use cubecl::prelude::*;

use super::scan::{ScanGrads, ScanInputs, ScanLayout, ScanRecord, ScanSpec, ScanTape, Wanted};
use super::tensor_scan;
use crate::cells::{GpuCell, with_cell};
use kernel::{Layout, SpanLaunch};

/// Scan kernels launched so far in this process (forward and backward).
static LAUNCHES: AtomicU64 = AtomicU64::new(0);
thread_local! {
    /// Whether scans started on this thread may run the kernels (benchmarks and tests compare
    /// them with the tensor scan).
    static ENABLED: std::cell::Cell<bool> = const { std::cell::Cell::new(true) };
}

/// How many GPU scan kernels this process has launched: one per layer-direction forward and
/// one per layer-direction backward. Tests use it to prove that the kernel path ran.
pub fn gpu_kernel_launches() -> u64 {
    LAUNCHES.load(Ordering::Relaxed)
}

/// Turns the GPU scan kernels on (the default) or off for the scans this thread runs (forward
/// passes and the backward passes it starts); off, wgpu and cuda run the tensor scan (the same
/// numbers, one dispatch per operation and step). For benchmarks and for comparing the paths.
pub fn set_gpu_kernels(enabled: bool) {
    ENABLED.set(enabled);
}

/// A plain tensor on Burn's cube backend as a contiguous `f32` [`CubeTensor`].
fn cube<const D: usize>(tensor: &Tensor<D>) -> Option<CubeTensor> {
    let primitive = tensor.clone().try_into_primitive::<Cube>().ok()?;
    // With burn-cubecl's `fusion` feature the primitive is a fusion tensor: not handled here.
    let any: Box<dyn Any> = Box::new(primitive);
    let tensor = *any.downcast::<CubeTensor>().ok()?;
    (tensor.dtype == DType::F32).then(|| into_contiguous(tensor))
}

/// A [`CubeTensor`] made here as a tensor of Burn's cube backend.
fn tensor<const D: usize>(tensor: CubeTensor) -> Tensor<D> {
    let any: Box<dyn Any> = Box::new(tensor);
    let Ok(primitive) = any.downcast::<burn::backend::tensor::FloatTensor<Cube>>() else {
        unreachable!("`cube` only accepts the unfused cube backend")
    };
    let primitive = *primitive;
    Tensor::from_primitive::<Cube>(primitive)
}

/// A new tensor on `like`'s device.
fn empty(like: &CubeTensor, shape: &[usize]) -> CubeTensor {
    let shape = Shape::from(shape.to_vec());
    empty_device_dtype(like.client.clone(), like.device.clone(), shape, like.dtype)
}

/// How a scan of `batch` sequences of `hidden` units is cut into cubes, and its steps into
/// launches, if it fits.
struct Plan {
    layout: Layout,
    cubes: u32,
    units: u32,
    /// Steps per launch forward and backward (all of them where loops are not limited).
    forward_steps: usize,
    backward_steps: usize,
}

impl Plan {
    /// The most sequences per cube (up to 4) whose states fit in `like`'s shared memory, for
    /// the backward kernel's needs as well (`None`: not even one fits).
    fn new<C: GpuCell>(
        cell: &C,
        like: &CubeTensor,
        scan: &ScanLayout,
        options: Options,
    ) -> Option<Self> {
        let Options {
            projected,
            masked,
            padded,
            keep,
        } = options;
        let (batch, hidden, state) = (scan.batch, scan.hidden, scan.state);
        let hardware = &like.client.properties().hardware;
        let floats = |rows: usize| {
            let cells = if C::CELL_STATE { 2 * rows * hidden } else { 1 };
            // Projected: the cell's outputs forward, the gradient reaching `h_t` backward.
            let projection = if projected { rows * hidden } else { 1 };
            // Masked: the states as they enter `W_hh`.
            let entering = if masked { 2 * rows * state } else { 1 };
            2 * rows * state + cells + rows * C::GATES * hidden + projection + entering
        };
        let rows = [4, 2, 1]
            .into_iter()
            .filter(|&rows| rows <= batch.max(1))
            .find(|&rows| floats(rows) * 4 <= hardware.max_shared_memory_size)?;
        let units = (hidden.next_multiple_of(32) as u32)
            .min(256)
            .min(hardware.max_units_per_cube)
            .min(hardware.max_cube_dim.0);
        // Loop iterations per invocation: per step, each unit's hidden (or state) units times
        // the product's inner loop; plus the loops before and after the steps.
        let per_unit = hidden.div_ceil(units as usize) as u64;
        let per_state = state.div_ceil(units as usize) as u64;
        let budget = loop_budget(like).checked_sub(4 * per_unit.max(per_state) + 16)?;
        let steps = |per_step: u64| (budget / per_step) as usize;
        let unrolled = |terms: usize| (terms / kernel::UNROLL) as u64 + 1;
        let (forward, backward) = match projected {
            false => (
                per_unit * unrolled(hidden),
                per_unit * (unrolled(C::GATES * hidden) + 1),
            ),
            true => (
                per_unit * unrolled(state) + per_state * unrolled(hidden),
                per_state
                    + per_unit * (unrolled(state) + 1)
                    + per_state * unrolled(C::GATES * hidden),
            ),
        };
        let forward_steps = steps(forward + 1);
        let backward_steps = steps(backward + 1);
        if forward_steps == 0 || backward_steps == 0 {
            return None;
        }
        let layout = Layout {
            hidden,
            state,
            gates: C::GATES,
            tape: C::TAPE,
            rows,
            cell_state: C::CELL_STATE,
            separate: C::SEPARATE_INPUT,
            projected,
            masked,
            padded,
            keep,
            variant: cell.variant(),
        };
        Some(Self {
            layout,
            cubes: batch.div_ceil(rows) as u32,
            units,
            forward_steps,
            backward_steps,
        })
    }

    /// The launches of a scan of `steps` steps, `per_launch` at a time.
    fn spans(
        steps: usize,
        batch: usize,
        reverse: bool,
        per_launch: usize,
    ) -> impl Iterator<Item = SpanLaunch> {
        (0..steps).step_by(per_launch).map(move |start| {
            let count = per_launch.min(steps - start);
            SpanLaunch::new(
                steps as u32,
                batch as u32,
                reverse as u32,
                start as u32,
                count as u32,
            )
        })
    }

    fn count(&self) -> CubeCount {
        CubeCount::Static(self.cubes, 1, 1)
    }

    fn dim(&self) -> CubeDim {
        CubeDim::new_1d(self.units)
    }
}

/// What a scan's kernels are compiled for besides the cell and the sizes.
#[derive(Clone, Copy, Debug)]
struct Options {
    projected: bool,
    masked: bool,
    padded: bool,
    keep: bool,
}

impl Options {
    fn of(spec: &ScanSpec, projected: bool, keep: bool) -> Self {
        Self {
            projected,
            masked: spec.mask.is_some(),
            padded: spec.valid.is_some(),
            keep,
        }
    }
}

/// The scan forward as one kernel (see the module docs), when it applies.
pub(crate) fn forward(
    spec: &ScanSpec,
    inputs: &ScanInputs,
    keep_tape: bool,
) -> Option<(Tensor<1>, ScanTape)> {
    // Layer norm's reductions over a whole row are not in the kernels: the tensor scan runs.
    if !ENABLED.get() || inputs.norm.is_some() {
        return None;
    }
    let xp = cube(&inputs.xp)?;
    Some(with_cell!(spec.cell, cell: C => forward_cell(cell, spec, inputs, xp, keep_tape)?))
}

fn forward_cell<C: GpuCell>(
    cell: C,
    spec: &ScanSpec,
    inputs: &ScanInputs,
    xp: CubeTensor,
    keep_tape: bool,
) -> Option<(Tensor<1>, ScanTape)> {
    let layout = inputs.layout(spec.cell);
    let (steps, batch, hidden, state) = (layout.steps, layout.batch, layout.hidden, layout.state);
    let projected = inputs.projection.is_some();
    let padded = spec.valid.is_some();
    let plan = Plan::new(&cell, &xp, &layout, Options::of(spec, projected, keep_tape))?;
    let (w, bias, h0, c0) = (
        cube(&inputs.w)?,
        cube(&inputs.bias)?,
        cube(&inputs.h0)?,
        cube(&inputs.c0)?,
    );
    let or_dummy = |t: &Option<Tensor<2>>| t.as_ref().map_or_else(|| Some(empty(&xp, &[1])), cube);
    let projection = or_dummy(&inputs.projection)?;
    let mask = or_dummy(&spec.mask)?;
    let valid = match &spec.valid {
        Some(valid) => cube(valid)?,
        None => empty(&xp, &[1]),
    };
    let out = empty(&xp, &[layout.len()]);
    let full = |wanted: bool, width: usize| match wanted {
        true => empty(&xp, &[steps, batch, width]),
        false => empty(&xp, &[1]),
    };
    let states = full(keep_tape && padded, state);
    let cells = full(keep_tape && C::CELL_STATE, hidden);
    let kept = full(keep_tape && C::TAPE > 0, C::TAPE * hidden);
    let unprojected = full(keep_tape && projected, hidden);
    let carry = empty(&xp, &[batch * (state + hidden)]);
    let dtype = storage_type(&xp);
    let client = xp.client.clone();
    for span in Plan::spans(steps, batch, spec.reverse, plan.forward_steps) {
        kernel::scan_forward::launch::<C>(
            &client,
            plan.count(),
            plan.dim(),
            xp.clone().into_tensor_arg(),
            w.clone().into_tensor_arg(),
            bias.clone().into_tensor_arg(),
            h0.clone().into_tensor_arg(),
            c0.clone().into_tensor_arg(),
            valid.clone().into_tensor_arg(),
            projection.clone().into_tensor_arg(),
            mask.clone().into_tensor_arg(),
            out.clone().into_tensor_arg(),
            states.clone().into_tensor_arg(),
            cells.clone().into_tensor_arg(),
            kept.clone().into_tensor_arg(),
            unprojected.clone().into_tensor_arg(),
            carry.clone().into_tensor_arg(),
            span,
            plan.layout,
            dtype,
        );
        LAUNCHES.fetch_add(1, Ordering::Relaxed);
    }
    let out: Tensor<1> = tensor(out);
    let states = match padded && keep_tape {
        true => tensor(states),
        false => layout.outputs(&out),
    };
    let tape = ScanTape {
        states,
        cells: (keep_tape && C::CELL_STATE).then(|| tensor(cells)),
        kept: (keep_tape && C::TAPE > 0).then(|| tensor(kept)),
        unprojected: (keep_tape && projected).then(|| tensor(unprojected)),
        raw_parts: None,
    };
    Some((out, tape))
}

/// Loop iterations one kernel invocation may run on `like`'s device (`u64::MAX`: no limit
/// seen). Mesa's software Vulkan driver (llvmpipe, lavapipe) silently ends a shader's loops
/// after 65,535 iterations; measured once per device with [`kernel::loop_probe()`].
fn loop_budget(like: &CubeTensor) -> u64 {
    static BUDGETS: Mutex<Vec<(String, u64)>> = Mutex::new(Vec::new());
    let device = format!("{:?}", like.device);
    let mut budgets = BUDGETS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, budget)) = budgets.iter().find(|(d, _)| *d == device) {
        return *budget;
    }
    const SIDE: u32 = 1 << 11;
    let out = empty(like, &[1]);
    kernel::loop_probe::launch(
        &like.client.clone(),
        CubeCount::Static(1, 1, 1),
        CubeDim::new_1d(1),
        out.clone().into_tensor_arg(),
        SIDE,
        SIDE,
        storage_type(like),
    );
    let counted: Tensor<1> = tensor(out);
    let counted = counted
        .into_data()
        .try_to_vec::<f32>()
        .map_or(0.0, |v| v[0]) as u64;
    // Stay well inside a limit that was reached; with none, run every step in one launch.
    let budget = if counted >= (SIDE as u64).pow(2) {
        u64::MAX
    } else {
        counted * 9 / 10
    };
    budgets.push((device, budget));
    budget
}

/// The element type a kernel is compiled for.
fn storage_type(tensor: &CubeTensor) -> ElemType {
    burn::backend::cubecl::dtype_to_storage_type(tensor.dtype)
}

/// The scan backward as one kernel, for a scan whose forward pass ran as one.
pub(crate) struct Backward<'a> {
    record: &'a ScanRecord,
}

impl<'a> Backward<'a> {
    /// `None` unless the record's tensors live on the cube backend and the kernel applies.
    pub fn of(record: &'a ScanRecord) -> Option<Self> {
        if !ENABLED.get() || record.weights.norm.is_some() {
            return None;
        }
        cube(&record.tape.states)?;
        Some(Self { record })
    }

    /// BPTT for `grad`, the gradient of the forward pass's output; `None` when the kernel does
    /// not apply after all (the caller then runs the tensor scan).
    pub fn run(&self, grad: &Tensor<1>, wanted: Wanted) -> Option<ScanGrads> {
        with_cell!(self.record.spec.cell, cell: C => self.run_cell(cell, grad, wanted))
    }

    fn run_cell<C: GpuCell>(&self, cell: C, grad: &Tensor<1>, wanted: Wanted) -> Option<ScanGrads> {
        let ScanRecord {
            spec,
            weights,
            tape,
        } = self.record;
        let layout = self.record.layout();
        let (steps, batch, hidden, state) =
            (layout.steps, layout.batch, layout.hidden, layout.state);
        let projected = weights.projection.is_some();
        let grad_cube = cube(grad)?;
        let options = Options::of(spec, projected, true);
        let plan = Plan::new(&cell, &grad_cube, &layout, options)?;
        let dummy = || empty(&grad_cube, &[1]);
        let optional = |t: &Option<Tensor<3>>| t.as_ref().map_or_else(|| Some(dummy()), cube);
        let (states, cells, kept, unprojected) = (
            cube(&tape.states)?,
            optional(&tape.cells)?,
            optional(&tape.kept)?,
            optional(&tape.unprojected)?,
        );
        let (h0, c0) = (cube(&weights.h0)?, cube(&weights.c0)?);
        let wt = cube(&weights.w.clone().transpose())?;
        let or_dummy = |t: &Option<Tensor<2>>| t.as_ref().map_or_else(|| Some(dummy()), cube);
        let (projection, mask) = (or_dummy(&weights.projection)?, or_dummy(&spec.mask)?);
        let valid = match &spec.valid {
            Some(valid) => cube(valid)?,
            None => dummy(),
        };
        let width = C::GATES * hidden;
        let d_hidden = empty(&grad_cube, &[steps, batch, width]);
        let d_input = match C::SEPARATE_INPUT {
            true => empty(&grad_cube, &[steps, batch, width]),
            false => dummy(),
        };
        let reaching = match projected {
            true => empty(&grad_cube, &[steps, batch, state]),
            false => dummy(),
        };
        let cell_state = if C::CELL_STATE { batch * hidden } else { 0 };
        let starts = empty(&grad_cube, &[batch * state + cell_state]);
        let carry = empty(&grad_cube, &[batch * (state + hidden)]);
        let dtype = storage_type(&grad_cube);
        let client = grad_cube.client.clone();
        for span in Plan::spans(steps, batch, spec.reverse, plan.backward_steps) {
            kernel::scan_backward::launch::<C>(
                &client,
                plan.count(),
                plan.dim(),
                grad_cube.clone().into_tensor_arg(),
                states.clone().into_tensor_arg(),
                cells.clone().into_tensor_arg(),
                kept.clone().into_tensor_arg(),
                unprojected.clone().into_tensor_arg(),
                h0.clone().into_tensor_arg(),
                c0.clone().into_tensor_arg(),
                wt.clone().into_tensor_arg(),
                projection.clone().into_tensor_arg(),
                mask.clone().into_tensor_arg(),
                valid.clone().into_tensor_arg(),
                d_hidden.clone().into_tensor_arg(),
                d_input.clone().into_tensor_arg(),
                reaching.clone().into_tensor_arg(),
                starts.clone().into_tensor_arg(),
                carry.clone().into_tensor_arg(),
                span,
                plan.layout,
                dtype,
            );
            LAUNCHES.fetch_add(1, Ordering::Relaxed);
        }
        let d_hidden: Tensor<3> = tensor(d_hidden);
        let starts: Tensor<1> = tensor(starts);
        let (w, bias) = tensor_scan::parameter_gradients(
            spec,
            &tape.states,
            &weights.h0,
            &d_hidden,
            &d_hidden,
            wanted,
        );
        let projection = match (&tape.unprojected, wanted.projection) {
            (Some(unprojected), true) => Some(tensor_scan::projection_gradient(
                unprojected.clone(),
                tensor(reaching),
            )),
            _ => None,
        };
        let xp = wanted.xp.then(|| match C::SEPARATE_INPUT {
            true => tensor(d_input),
            false => d_hidden,
        });
        let h0 = starts
            .clone()
            .slice(0..batch * state)
            .reshape([batch, state]);
        let c0 = match C::CELL_STATE {
            true => starts
                .slice(batch * state..batch * (state + hidden))
                .reshape([batch, hidden]),
            false => Tensor::zeros([batch, hidden], &weights.h0.device()),
        };
        Some(ScanGrads {
            xp,
            w,
            bias,
            h0: wanted.h0.then_some(h0),
            c0: wanted.c0.then_some(c0),
            projection,
            hidden_gain: None,
            state_gain: None,
            state_bias: None,
        })
    }
}
