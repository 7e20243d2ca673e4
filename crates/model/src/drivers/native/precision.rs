//! The precision of the CPU scan's products at inference: `f32` by default, or bf16 where the
//! CPU multiplies pairs of bf16 (AVX512-BF16: AMD Zen 4 and later, Intel Sapphire Rapids and
//! later) at twice the rate of `f32` fused multiply-adds.

use std::cell::Cell;

use super::simd::Isa;
use crate::error::{ModelError, Result};

/// The precision of the recurrent products of inference passes on the CPU (flex).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum InferencePrecision {
    /// `f32` throughout: PyTorch's numbers (the default).
    #[default]
    F32,
    /// Each step's products with `W_hh` and `W_ih` (and an LSTM projection) take the weights
    /// and their left-hand sides rounded to bf16 and accumulate in `f32`; the gates, states
    /// and outputs stay `f32`. States within about 4e-3 of `f32`, for up to twice the
    /// products' speed (BENCHMARKS.md has both, measured). Layer norm's scans stay `f32`:
    /// normalising the hidden part amplifies the rounding tenfold.
    Bf16,
}

thread_local! {
    static PRECISION: Cell<InferencePrecision> = const { Cell::new(InferencePrecision::F32) };
}

/// Sets the precision of the inference passes this thread runs on the flex backend (plain
/// `f32` tensors, no autodiff). Training, autodiff passes, the other backends and passes of
/// fewer than 64 rows (steps × sequences: streaming a few sequences a step at a time) stay
/// `f32`.
/// Errors, and leaves the precision as it was, when this CPU has no AVX512-BF16.
pub fn set_inference_precision(precision: InferencePrecision) -> Result<()> {
    if precision == InferencePrecision::Bf16 && !Isa::best().has_avx512_bf16() {
        return Err(ModelError::Unsupported(
            "bf16 inference needs a CPU with AVX512-BF16 (AMD Zen 4, Intel Sapphire Rapids or \
             later); this one has none"
                .into(),
        ));
    }
    PRECISION.set(precision);
    Ok(())
}

/// The precision of the inference passes this thread runs.
pub fn inference_precision() -> InferencePrecision {
    PRECISION.get()
}

/// Scans of fewer rows than this (steps × sequences) stay `f32` under bf16: packing the weights
/// into pairs costs more than the pairs save. Streaming LSTM steps (`Recurrent::step`, 32
/// inputs, a scratch loop): one sequence of 512 units took 929 µs a step in `f32` and 1,939 in
/// bf16, 16 sequences 664 and 875; 64 sequences of 128 units 217 and 183.
const BF16_MIN_ROWS: usize = 64;

/// Whether a scan of `rows` rows (steps × sequences) on this thread multiplies in bf16: an
/// inference pass (`keep_tape` off) with bf16 set, on a CPU that has it, long enough to pay
/// for the packing.
pub(crate) fn bf16_products(keep_tape: bool, rows: usize, isa: Isa) -> bool {
    !keep_tape
        && rows >= BF16_MIN_ROWS
        && inference_precision() == InferencePrecision::Bf16
        && isa.has_avx512_bf16()
}
