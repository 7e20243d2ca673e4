//! The scan backward as one kernel launch per layer-direction (or a few, where a driver limits
//! loops), for a scan whose tape the GPU forward kernel (or the tensor scan: the same tape)
//! kept; the weight and gain gradients are sums over all steps after it, as products.

use std::sync::atomic::Ordering;

use burn::tensor::Tensor;

use super::plan::{Options, Plan};
use super::{ENABLED, LAUNCHES, cube, empty, kernel, storage_type, tensor};
use crate::cells::{GpuCell, Normalized, column_sums, normalize, with_cell};
use crate::drivers::scan::{ScanGrads, ScanRecord, Wanted};
use crate::drivers::tensor_scan;

/// The scan backward as one kernel, for a scan whose forward pass ran as one.
pub(crate) struct Backward<'a> {
    record: &'a ScanRecord,
}

impl<'a> Backward<'a> {
    /// `None` unless the record's tensors live on the cube backend and the kernel applies.
    pub fn of(record: &'a ScanRecord) -> Option<Self> {
        if !ENABLED.get() {
            return None;
        }
        // Layer norm's backward pass reads the raw hidden parts the forward pass kept.
        if record.weights.norm.is_some() && record.tape.raw_parts.is_none() {
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
        let state_norm = match C::CELL_STATE {
            true => weights.norm.as_ref().and_then(|norm| norm.state.as_ref()),
            false => None,
        };
        let grad_cube = cube(grad)?;
        let options = Options {
            projected,
            masked: spec.mask.is_some(),
            padded: spec.valid.is_some(),
            keep: true,
            norm: weights.norm.is_some(),
            state_norm: state_norm.is_some(),
        };
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
        // Layer norm: each step's normalisations again, for all steps at once.
        let hidden_norm = match (&weights.norm, &tape.raw_parts) {
            (Some(norm), Some(raw)) => Some((norm, normalized(raw, C::GATES))),
            _ => None,
        };
        let state_normalized = match (state_norm, &tape.cells) {
            (Some(norm), Some(cells)) => Some((norm, normalized(cells, 1))),
            (Some(_), None) => return None,
            _ => None,
        };
        let normalization = |n: Option<&Normalized>| match n {
            Some(n) => Some((cube(&n.x_hat)?, cube(&n.inv_std)?)),
            None => Some((dummy(), dummy())),
        };
        let (hidden_x_hat, hidden_inv) = normalization(hidden_norm.as_ref().map(|(_, n)| n))?;
        let (state_x_hat, state_inv) = normalization(state_normalized.as_ref().map(|(_, n)| n))?;
        let vector = |t: Option<&Tensor<1>>| t.map_or_else(|| Some(dummy()), cube);
        let gain = vector(hidden_norm.as_ref().map(|(norm, _)| &norm.hidden_gain))?;
        let state_gain = vector(state_norm.map(|norm| &norm.gain))?;
        let state_bias = vector(state_norm.map(|norm| &norm.bias))?;
        let width = C::GATES * hidden;
        let full = |wanted: bool, width: usize| match wanted {
            true => empty(&grad_cube, &[steps, batch, width]),
            false => dummy(),
        };
        let d_hidden = full(true, width);
        let d_input = full(C::SEPARATE_INPUT, width);
        let reaching = full(projected, state);
        let d_raw = full(hidden_norm.is_some(), width);
        let d_state = full(state_norm.is_some(), hidden);
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
                gain.clone().into_tensor_arg(),
                hidden_x_hat.clone().into_tensor_arg(),
                hidden_inv.clone().into_tensor_arg(),
                state_gain.clone().into_tensor_arg(),
                state_bias.clone().into_tensor_arg(),
                state_x_hat.clone().into_tensor_arg(),
                state_inv.clone().into_tensor_arg(),
                d_hidden.clone().into_tensor_arg(),
                d_input.clone().into_tensor_arg(),
                reaching.clone().into_tensor_arg(),
                d_raw.clone().into_tensor_arg(),
                d_state.clone().into_tensor_arg(),
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
        let d_raw = match hidden_norm {
            Some(_) => tensor(d_raw),
            None => d_hidden.clone(),
        };
        let (w, bias) = tensor_scan::parameter_gradients(
            spec,
            &tape.states,
            &weights.h0,
            &d_raw,
            &d_hidden,
            wanted,
        );
        // The gains' (and the cell state's bias's) gradients: sums over all steps and rows.
        let hidden_gain = match (&hidden_norm, wanted.hidden_gain) {
            (Some((_, n)), true) => Some(column_sums(rows(&d_hidden) * n.x_hat.clone())),
            _ => None,
        };
        let d_state = state_normalized.as_ref().map(|_| rows(&tensor(d_state)));
        let (state_gain, state_bias) = match (&state_normalized, &d_state) {
            (Some((_, n)), Some(d_state)) => (
                wanted
                    .state_gain
                    .then(|| column_sums(d_state.clone() * n.x_hat.clone())),
                wanted.state_bias.then(|| column_sums(d_state.clone())),
            ),
            _ => (None, None),
        };
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
            hidden_gain,
            state_gain,
            state_bias,
        })
    }
}

/// `[T, B, W]` as `[T·B, W]`.
fn rows(x: &Tensor<3>) -> Tensor<2> {
    let [steps, batch, width] = x.dims();
    x.clone().reshape([steps * batch, width])
}

/// Every step's rows of `x` (`[T, B, blocks·H]`) normalised per block, as the forward pass did.
fn normalized(x: &Tensor<3>, blocks: usize) -> Normalized {
    normalize(rows(x), blocks)
}
