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
/// `f32` tensors, no autodiff). Training, autodiff passes and the other backends stay `f32`.
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

/// Whether a scan on this thread multiplies in bf16: an inference pass (`keep_tape` off) with
/// bf16 set, on a CPU that has it. Its packed pairs are kept for the next pass
/// (`packing.rs`), so that streamed steps gain too (LSTM, 512 units, 32 inputs, a step of 16
/// sequences: 271 µs in `f32`, 170 in bf16).
pub(crate) fn bf16_products(keep_tape: bool, isa: Isa) -> bool {
    !keep_tape && inference_precision() == InferencePrecision::Bf16 && isa.has_avx512_bf16()
}
