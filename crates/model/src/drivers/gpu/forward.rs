//! The scan forward as one kernel launch per layer-direction (or a few, where a driver limits
//! loops), when it applies.

use std::sync::atomic::Ordering;

use burn::tensor::Tensor;
use burn_cubecl::tensor::CubeTensor;

use super::plan::{Options, Plan};
use super::{ENABLED, LAUNCHES, cube, empty, kernel, storage_type, tensor};
use crate::cells::{GpuCell, with_cell};
use crate::drivers::scan::{ScanInputs, ScanSpec, ScanTape};

/// The scan forward as one kernel (see the module docs), when it applies.
pub(crate) fn forward(
    spec: &ScanSpec,
    inputs: &ScanInputs,
    keep_tape: bool,
) -> Option<(Tensor<1>, ScanTape)> {
    if !ENABLED.get() {
        return None;
    }
    let xp = cube(&inputs.xp.projected())?;
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
    let norm = inputs.norm.as_ref();
    let state_norm = norm.and_then(|norm| norm.state.as_ref());
    let options = Options {
        projected,
        masked: spec.mask.is_some(),
        padded,
        keep: keep_tape,
        norm: norm.is_some(),
        state_norm: C::CELL_STATE && state_norm.is_some(),
    };
    let plan = Plan::new(&cell, &xp, &layout, options)?;
    let (w, bias, h0, c0) = (
        cube(&inputs.w)?,
        cube(&inputs.bias)?,
        cube(&inputs.h0)?,
        cube(&inputs.c0)?,
    );
    let dummy = || empty(&xp, &[1]);
    let or_dummy = |t: Option<&Tensor<2>>| t.map_or_else(|| Some(dummy()), cube);
    let vector = |t: Option<&Tensor<1>>| t.map_or_else(|| Some(dummy()), cube);
    let projection = or_dummy(inputs.projection.as_ref())?;
    let mask = or_dummy(spec.mask.as_ref())?;
    let gain = vector(norm.map(|norm| &norm.hidden_gain))?;
    let state_gain = vector(state_norm.map(|norm| &norm.gain))?;
    let state_bias = vector(state_norm.map(|norm| &norm.bias))?;
    let valid = match &spec.valid {
        Some(valid) => cube(valid)?,
        None => dummy(),
    };
    let out = empty(&xp, &[layout.len()]);
    let full = |wanted: bool, width: usize| match wanted {
        true => empty(&xp, &[steps, batch, width]),
        false => dummy(),
    };
    let states = full(keep_tape && padded, state);
    let cells = full(keep_tape && C::CELL_STATE, hidden);
    let kept = full(keep_tape && C::TAPE > 0, C::TAPE * hidden);
    let unprojected = full(keep_tape && projected, hidden);
    let raw_parts = full(keep_tape && norm.is_some(), C::GATES * hidden);
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
            gain.clone().into_tensor_arg(),
            state_gain.clone().into_tensor_arg(),
            state_bias.clone().into_tensor_arg(),
            out.clone().into_tensor_arg(),
            states.clone().into_tensor_arg(),
            cells.clone().into_tensor_arg(),
            kept.clone().into_tensor_arg(),
            unprojected.clone().into_tensor_arg(),
            raw_parts.clone().into_tensor_arg(),
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
        raw_parts: (keep_tape && norm.is_some()).then(|| tensor(raw_parts)),
    };
    Some((out, tape))
}
