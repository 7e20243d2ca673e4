//! A task that needs a long memory: recall the sign of the first of T values.
//!
//! Each sequence has T steps of two features, a value and a "first step" marker (1 at step 0,
//! 0 after). The first value is ±1 at random, the others are uniform noise in (−1, 1); the class
//! is the first value's sign (0 `"negative"`, 1 `"positive"`), seen T steps before the answer.
//! A network that forgets beyond a few steps is at chance (50 %). The numbers come from
//! SplitMix64, a tiny generator whose stream is fixed by the seed on every platform.

use crate::dataset::{SequenceDataset, SequenceSample, Target, TargetKind};
use crate::error::{DataError, Result};

/// Class names of the task: the sign of the first value.
pub const SIGN_CLASSES: [&str; 2] = ["negative", "positive"];
/// Feature names of the task, in column order.
pub const MEMORY_FEATURES: [&str; 2] = ["value", "first step"];

/// Settings of the long-memory task: `samples` sequences of `steps` steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryTaskConfig {
    /// N, the number of sequences.
    pub samples: usize,
    /// T, the steps between the value to recall and the answer.
    pub steps: usize,
    /// Seed of the generator.
    pub seed: u64,
}

impl MemoryTaskConfig {
    /// `samples` sequences of `steps` steps from the generator seeded with `seed`.
    pub fn new(samples: usize, steps: usize, seed: u64) -> Self {
        Self {
            samples,
            steps,
            seed,
        }
    }

    /// The task as a classification dataset: N = `samples`, T = `steps`, D = 2
    /// ([`MEMORY_FEATURES`]), classes [`SIGN_CLASSES`]. Errors when `samples` or `steps` is 0.
    pub fn generate(&self) -> Result<SequenceDataset> {
        if self.samples == 0 || self.steps == 0 {
            return Err(DataError::InvalidParameter(format!(
                "the memory task needs at least one sample and one step (got {} samples of {} steps)",
                self.samples, self.steps
            )));
        }
        let mut rng = SplitMix64(self.seed);
        let samples = (0..self.samples)
            .map(|i| {
                let positive = rng.next_u64() & 1 == 1;
                let mut values = Vec::with_capacity(self.steps * 2);
                values.extend([if positive { 1.0 } else { -1.0 }, 1.0]);
                for _ in 1..self.steps {
                    values.extend([rng.uniform(), 0.0]);
                }
                SequenceSample {
                    id: format!("sequence-{i}"),
                    values,
                    length: self.steps,
                    target: Target::Class(usize::from(positive)),
                }
            })
            .collect();
        SequenceDataset::new(
            samples,
            self.steps,
            2,
            TargetKind::Classification { classes: 2 },
        )?
        .with_feature_names(MEMORY_FEATURES.map(String::from).to_vec())?
        .with_target_names(SIGN_CLASSES.map(String::from).to_vec())
    }
}

/// `len` values of uniform noise in (−1, 1) from the task's generator seeded with `seed`.
pub fn uniform_noise(len: usize, seed: u64) -> Vec<f32> {
    let mut rng = SplitMix64(seed);
    (0..len).map(|_| rng.uniform()).collect()
}

/// SplitMix64 (Steele, Lea and Flood 2014): a tiny random generator whose stream is fixed by
/// its seed on every platform and version (unlike `rand`'s `StdRng`).
///
/// ```
/// use burn_rnn_data::synth::SplitMix64;
/// let mut rng = SplitMix64::new(0);
/// assert_eq!(rng.next_u64(), 0xE220_A839_7B1D_CDAF);
/// ```
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in (−1, 1), from the top 24 bits.
    pub fn uniform(&mut self) -> f32 {
        ((self.next_u64() >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_value_carries_the_class_and_the_rest_is_noise() {
        let data = MemoryTaskConfig {
            samples: 64,
            steps: 5,
            seed: 3,
        }
        .generate()
        .unwrap();
        assert_eq!(
            (data.len(), data.num_steps(), data.num_features()),
            (64, 5, 2)
        );
        let mut positives = 0;
        for sample in data.samples() {
            let Target::Class(class) = sample.target else {
                panic!("a class target");
            };
            positives += class;
            assert_eq!(
                sample.values[..2],
                [if class == 1 { 1.0 } else { -1.0 }, 1.0]
            );
            for step in sample.values[2..].chunks(2) {
                assert!(step[0].abs() < 1.0 && step[1] == 0.0, "{step:?}");
            }
        }
        assert!((16..=48).contains(&positives), "{positives} of 64 positive");
    }

    #[test]
    fn the_seed_fixes_the_numbers() {
        // SplitMix64's first output for seed 0 (Vigna's reference implementation).
        assert_eq!(SplitMix64(0).next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(uniform_noise(3, 9), uniform_noise(3, 9));
        assert_ne!(uniform_noise(3, 9), uniform_noise(3, 10));
        assert!(MemoryTaskConfig::new(0, 5, 0).generate().is_err());
        assert!(MemoryTaskConfig::new(5, 0, 0).generate().is_err());
    }
}
