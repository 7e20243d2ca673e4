//! How a scan is cut for the kernels: sequences per cube (what fits in shared memory), units
//! per cube, and steps per launch (what stays within a driver's loop limit).

use std::sync::{Mutex, OnceLock};

use burn::tensor::Tensor;
use burn_cubecl::tensor::CubeTensor;
use cubecl::prelude::*;

use super::kernel::{self, Layout, SpanLaunch};
use super::{empty, storage_type, tensor};
use crate::cells::GpuCell;
use crate::drivers::scan::ScanLayout;

/// How a scan of `batch` sequences of `hidden` units is cut into cubes, and its steps into
/// launches, if it fits.
pub(super) struct Plan {
    pub layout: Layout,
    cubes: u32,
    units: u32,
    /// Steps per launch forward and backward (all of them where loops are not limited).
    pub forward_steps: usize,
    pub backward_steps: usize,
}

/// What a scan's kernels are compiled for besides the cell and the sizes.
#[derive(Clone, Copy, Debug)]
pub(super) struct Options {
    pub projected: bool,
    pub masked: bool,
    pub padded: bool,
    pub keep: bool,
    /// Layer norm of the hidden parts, and of the cell state.
    pub norm: bool,
    pub state_norm: bool,
}

impl Plan {
    /// The most sequences per cube (up to [`Tuning`]'s) whose states fit in `like`'s shared
    /// memory, for the backward kernel's needs as well (`None`: not even one fits).
    pub fn new<C: GpuCell>(
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
            norm,
            state_norm,
        } = options;
        let (batch, hidden, state) = (scan.batch, scan.hidden, scan.state);
        let hardware = &like.client.properties().hardware;
        let tuning = Tuning::get();
        let most_units = (hidden.next_multiple_of(32) as u32)
            .min(tuning.units)
            .min(hardware.max_units_per_cube)
            .min(hardware.max_cube_dim.0);
        // As `Layout::slots`.
        let slots = match state_norm {
            true => C::GATES.max(C::TAPE),
            false => C::GATES,
        };
        // Floats of shared memory per kernel (an absent buffer still takes one).
        let size = |present: bool, floats: usize| if present { floats } else { 1 };
        let floats = |rows: usize, units: u32| {
            let (cells, statistics) = (size(C::CELL_STATE, 2 * rows * hidden), 2 * rows * C::GATES);
            let reductions = size(norm, 2 * units as usize) + size(norm, statistics);
            let forward = 2 * rows * state
                + cells
                + size(projected, rows * hidden)
                + size(masked, 2 * rows * state)
                + size(norm, rows * slots * hidden)
                + reductions;
            let backward = 2 * rows * state
                + cells
                + rows * C::GATES * hidden
                + size(projected, rows * state)
                + size(state_norm, rows * hidden)
                + reductions;
            forward.max(backward)
        };
        // Under layer norm each block of the cube's rows needs a unit of its own at least.
        let loops = loop_budget(like);
        let most_rows = tuning.rows.unwrap_or(match loops {
            // Mesa's software driver (the one whose loops are limited): its "GPU" is the CPU's
            // cores, where fewer cubes reading `W_hh` is what counts.
            u64::MAX => 2,
            _ => 4,
        });
        let rows_for = |units: u32| {
            [8, 4, 2, 1]
                .into_iter()
                .filter(|&rows| rows <= batch.max(1) && rows <= most_rows)
                .filter(|&rows| !norm || rows * C::GATES <= units as usize)
                .find(|&rows| floats(rows, units) * 4 <= hardware.max_shared_memory_size)
        };
        // Layer norm's reductions take two floats per unit: where the tuned units leave no
        // room (WebGPU's default 16 KiB), fewer units, as many as fit.
        let (rows, units) = [most_units, 256, 128, 64, 32]
            .into_iter()
            .map(|units| units.min(most_units))
            .find_map(|units| rows_for(units).map(|rows| (rows, units)))?;
        // Loop iterations per invocation: per step, each unit's hidden (or state) units times
        // the product's inner loop; plus the loops before and after the steps.
        let per_unit = hidden.div_ceil(units as usize) as u64;
        let per_state = state.div_ceil(units as usize) as u64;
        let budget = loops.checked_sub(4 * per_unit.max(per_state) + 16)?;
        let steps = |per_step: u64| (budget / per_step) as usize;
        let unrolled = |terms: usize| (terms / tuning.unroll) as u64 + 1;
        let (mut forward, mut backward) = match projected {
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
        // Layer norm: a reduction over `blocks` blocks of `hidden` values, and the unit loops
        // the normalisations add (under the cell state's, projected, a second product).
        let reduction = |blocks: usize| {
            let lanes = units as usize / blocks;
            (hidden.div_ceil(lanes) + lanes.next_power_of_two().ilog2() as usize + 1) as u64
        };
        if norm {
            forward += per_unit + reduction(rows * C::GATES);
            backward += per_unit + reduction(rows * C::GATES);
        }
        if state_norm {
            let again = if projected { unrolled(state) } else { 0 };
            forward += per_unit + reduction(rows);
            backward += per_unit * (1 + again) + reduction(rows);
        }
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
            units: units as usize,
            unroll: tuning.unroll,
            cell_state: C::CELL_STATE,
            separate: C::SEPARATE_INPUT,
            projected,
            masked,
            padded,
            keep,
            norm,
            state_norm,
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
    pub fn spans(
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

    pub fn count(&self) -> CubeCount {
        CubeCount::Static(self.cubes, 1, 1)
    }

    pub fn dim(&self) -> CubeDim {
        CubeDim::new_1d(self.units)
    }
}

/// The plan's choices that are tuned per GPU: at most `rows` sequences per cube (by default 2,
/// and 4 on Mesa's software driver), at most `units` units per cube, and the products' inner
/// loops `unroll` terms at a time. Measured on an NVIDIA H200 and on lavapipe (BENCHMARKS.md,
/// "the scan kernels' tuning"). `BURN_RNN_GPU_TUNE` (read once, e.g.
/// `unroll=8,units=512,rows=2`) overrides them, to measure others on a new GPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Tuning {
    rows: Option<usize>,
    units: u32,
    unroll: usize,
}

impl Tuning {
    const DEFAULT: Self = Self {
        rows: None,
        units: 1024,
        unroll: 8,
    };

    fn get() -> Self {
        static TUNING: OnceLock<Tuning> = OnceLock::new();
        *TUNING.get_or_init(|| match std::env::var("BURN_RNN_GPU_TUNE") {
            Ok(text) => Self::parse(&text).unwrap_or_else(|problem| {
                eprintln!("warning: BURN_RNN_GPU_TUNE ignored: {problem}");
                Self::DEFAULT
            }),
            Err(_) => Self::DEFAULT,
        })
    }

    /// `name=value` pairs separated by commas; the names not given keep their defaults.
    fn parse(text: &str) -> Result<Self, String> {
        let mut tuning = Self::DEFAULT;
        for pair in text.split(',').filter(|pair| !pair.trim().is_empty()) {
            let (name, value) = pair
                .split_once('=')
                .ok_or_else(|| format!("`{pair}` is not name=value"))?;
            let value: usize = value
                .trim()
                .parse()
                .map_err(|_| format!("`{pair}`: the value is not a whole number"))?;
            match (name.trim(), value) {
                ("rows", 1..=8) => tuning.rows = Some(value),
                ("units", 32..=1024) => tuning.units = value as u32,
                ("unroll", 1..=32) => tuning.unroll = value,
                ("rows" | "units" | "unroll", _) => {
                    return Err(format!(
                        "`{pair}` is out of range (rows 1-8, units 32-1024, unroll 1-32)"
                    ));
                }
                _ => return Err(format!("`{pair}`: unknown name (rows, units, unroll)")),
            }
        }
        Ok(tuning)
    }
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

#[cfg(test)]
mod tests {
    use super::Tuning;

    #[test]
    fn tuning_reads_overrides_and_refuses_bad_ones() {
        assert_eq!(Tuning::parse(""), Ok(Tuning::DEFAULT));
        let tuned = Tuning::parse("unroll=16, rows=4").unwrap();
        assert_eq!((tuned.unroll, tuned.rows, tuned.units), (16, Some(4), 1024));
        assert!(
            Tuning::parse("rows=9")
                .unwrap_err()
                .contains("out of range")
        );
        assert!(
            Tuning::parse("width=3")
                .unwrap_err()
                .contains("unknown name")
        );
        assert!(Tuning::parse("unroll").unwrap_err().contains("name=value"));
        assert!(
            Tuning::parse("units=x")
                .unwrap_err()
                .contains("whole number")
        );
    }
}
