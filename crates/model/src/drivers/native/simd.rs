//! The one CPU-feature dispatch of the native scan. Code that should vectorise is written once
//! as a [`Vectorised`] kernel (scalar loops the compiler vectorises) and compiled once per
//! instruction set; [`Isa`] is the proof that this CPU runs the variant it names, so a kernel
//! can only be run with an instruction set that was checked, for exactly the features its
//! variant is compiled with.

use std::sync::OnceLock;

/// Work compiled once per instruction set. `run` must be `#[inline(always)]` (as must what it
/// calls) so that each variant's copy is compiled with that variant's features.
pub(crate) trait Vectorised {
    fn run(self);
}

/// The instruction sets the kernels are compiled for, best first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Level {
    /// AVX-512 (F and VL) with AVX2 and FMA: `x86-64-v4`'s vector units.
    Avx512,
    /// AVX2 with FMA: `x86-64-v3`.
    Avx2,
    /// Whatever the target compiles to without extra features (SSE2 on x86-64, NEON on arm64).
    Portable,
}

impl Level {
    const ALL: [Level; 3] = [Level::Avx512, Level::Avx2, Level::Portable];

    /// Exactly the target features the variant is compiled with (the `enable` lists of the
    /// `#[target_feature]` functions below).
    fn features(self) -> &'static [&'static str] {
        match self {
            Level::Avx512 => &["avx512f", "avx512vl", "avx2", "fma"],
            Level::Avx2 => &["avx2", "fma"],
            Level::Portable => &[],
        }
    }

    fn is_supported(self) -> bool {
        self.features().iter().all(|feature| detected(feature))
    }
}

/// Whether this CPU has `feature` (names as in `#[target_feature]`).
fn detected(feature: &str) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        match feature {
            "avx512f" => std::is_x86_feature_detected!("avx512f"),
            "avx512vl" => std::is_x86_feature_detected!("avx512vl"),
            "avx2" => std::is_x86_feature_detected!("avx2"),
            "fma" => std::is_x86_feature_detected!("fma"),
            "avx512bf16" => std::is_x86_feature_detected!("avx512bf16"),
            _ => false,
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = feature;
        false
    }
}

/// An instruction set this CPU runs (only ever made after checking it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Isa(Level);

impl Isa {
    /// The best instruction set of this CPU (checked once).
    pub fn best() -> Isa {
        static BEST: OnceLock<Isa> = OnceLock::new();
        *BEST.get_or_init(|| Self::available()[0])
    }

    /// Every instruction set this CPU runs, best first; the portable one always.
    pub fn available() -> Vec<Isa> {
        Level::ALL
            .into_iter()
            .filter(|level| level.is_supported())
            .map(Isa)
            .collect()
    }

    /// The portable variant, which every CPU runs.
    #[cfg(test)]
    pub fn portable() -> Isa {
        Isa(Level::Portable)
    }

    /// Whether AVX-512F is there (the packed product kernel's one requirement).
    pub fn has_avx512(self) -> bool {
        self.0 == Level::Avx512
    }

    /// Whether AVX512-BF16 is there too (the bf16 products of `StepWeights::in_bf16`).
    pub fn has_avx512_bf16(self) -> bool {
        self.has_avx512() && detected("avx512bf16")
    }

    /// Runs `kernel` compiled for this instruction set.
    #[inline]
    pub fn run<K: Vectorised>(self, kernel: K) {
        match self.0 {
            // SAFETY: an `Isa` names a level only once its features were detected.
            #[cfg(target_arch = "x86_64")]
            Level::Avx512 => unsafe { avx512(kernel) },
            // SAFETY: as above.
            #[cfg(target_arch = "x86_64")]
            Level::Avx2 => unsafe { avx2(kernel) },
            _ => kernel.run(),
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
fn avx512<K: Vectorised>(kernel: K) {
    kernel.run()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn avx2<K: Vectorised>(kernel: K) {
    kernel.run()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each variant's `#[target_feature]` list is exactly what [`Level::features`] checks.
    #[test]
    fn the_checked_features_are_the_compiled_ones() {
        let source = include_str!("simd.rs");
        for (level, function) in [(Level::Avx512, "avx512"), (Level::Avx2, "avx2")] {
            let attribute = format!(
                "#[target_feature(enable = \"{}\")]\nfn {function}<",
                level.features().join(",")
            );
            assert!(source.contains(&attribute), "{level:?}: {attribute}");
        }
    }

    /// The portable variant is always there and last; `best` is the first available.
    #[test]
    fn the_portable_variant_is_always_available() {
        let available = Isa::available();
        assert_eq!(available.last(), Some(&Isa::portable()));
        assert_eq!(Isa::best(), available[0]);
        eprintln!("instruction sets on this CPU: {available:?}");
    }

    struct Sum<'a>(&'a [f32], &'a mut f32);

    impl Vectorised for Sum<'_> {
        #[inline(always)]
        fn run(self) {
            *self.1 = self.0.iter().sum();
        }
    }

    #[test]
    fn every_available_variant_runs_a_kernel() {
        let values: Vec<f32> = (0..100).map(|i| i as f32).collect();
        for isa in Isa::available() {
            let mut total = 0.0;
            isa.run(Sum(&values, &mut total));
            assert_eq!(total, 4950.0, "{isa:?}");
        }
    }
}
