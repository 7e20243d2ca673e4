//! Noisy sine waves: quick test signals for recurrent models.
//!
//! Sample `i` has one frequency `f_i` (cycles per step) shared by its features, and each feature
//! `d` its own amplitude `a_id` and phase `φ_id` (radians):
//! `x[t][d] = a_id · sin(2π · f_i · t + φ_id) + ε`, `ε ~ N(0, noise²)`, for steps `t = 0..=T`
//! (one step more than the inputs, so that the next value exists as a target).

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

use crate::dataset::{SequenceDataset, SequenceSample, Target, TargetKind};
use crate::error::{DataError, Result};

/// Settings of the sine generator. Defaults: 256 samples of 32 steps, 1 feature, noise 0.05,
/// frequencies 0.02..0.2 cycles per step (periods of 5 to 50 steps), amplitudes 0.5..1.5, seed 42.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SineConfig {
    /// N, the number of sequences (default 256).
    pub samples: usize,
    /// T, the number of input steps (default 32); `T + 1` values are generated per feature.
    pub steps: usize,
    /// D, the number of waves per sample (default 1).
    pub features: usize,
    /// Standard deviation of the additive Gaussian noise, ≥ 0 (default 0.05).
    pub noise: f32,
    /// Lowest frequency in cycles per step, ≥ 0 (default 0.02).
    pub min_frequency: f32,
    /// Highest frequency in cycles per step, ≤ 0.5 (the Nyquist limit) (default 0.2).
    pub max_frequency: f32,
    /// Lowest amplitude, ≥ 0 (default 0.5).
    pub min_amplitude: f32,
    /// Highest amplitude (default 1.5).
    pub max_amplitude: f32,
    /// Seed of the random generator; the same config always gives the same waves (default 42).
    pub seed: u64,
}

impl Default for SineConfig {
    fn default() -> Self {
        Self {
            samples: 256,
            steps: 32,
            features: 1,
            noise: 0.05,
            min_frequency: 0.02,
            max_frequency: 0.2,
            min_amplitude: 0.5,
            max_amplitude: 1.5,
            seed: 42,
        }
    }
}

impl SineConfig {
    /// Checks every setting; the error names the one at fault.
    pub fn validate(&self) -> Result<()> {
        let invalid = |message: String| Err(DataError::InvalidParameter(message));
        for (name, value) in [
            ("samples", self.samples),
            ("steps", self.steps),
            ("features", self.features),
        ] {
            if value == 0 {
                return invalid(format!("sine: `{name}` must be at least 1"));
            }
        }
        if !self.noise.is_finite() || self.noise < 0.0 {
            return invalid(format!(
                "sine: `noise` must be finite and ≥ 0, got {}",
                self.noise
            ));
        }
        if !(0.0..=0.5).contains(&self.min_frequency)
            || !(0.0..=0.5).contains(&self.max_frequency)
            || self.min_frequency > self.max_frequency
        {
            return invalid(format!(
                "sine: frequencies must satisfy 0 ≤ min_frequency ≤ max_frequency ≤ 0.5 cycles per \
                 step, got {}..{}",
                self.min_frequency, self.max_frequency
            ));
        }
        if !self.min_amplitude.is_finite()
            || !self.max_amplitude.is_finite()
            || self.min_amplitude < 0.0
            || self.min_amplitude > self.max_amplitude
        {
            return invalid(format!(
                "sine: amplitudes must be finite with 0 ≤ min_amplitude ≤ max_amplitude, got {}..{}",
                self.min_amplitude, self.max_amplitude
            ));
        }
        Ok(())
    }

    /// Generates the waves (see [`SineWaves::generate`]).
    pub fn generate(&self) -> Result<SineWaves> {
        SineWaves::generate(self)
    }
}

/// One generated sequence and the parameters it was drawn with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SineSample {
    /// Identifier `"sine-<index>"`.
    pub id: String,
    /// Frequency in cycles per step, shared by the sample's features.
    pub frequency: f32,
    /// D amplitudes, one per feature.
    pub amplitudes: Vec<f32>,
    /// D phases in radians, in [0, 2π).
    pub phases: Vec<f32>,
    /// `(T + 1) × D` observed values, step-major: `values[t * D + d]`.
    pub values: Vec<f32>,
}

/// Generated sine waves: the config and N samples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SineWaves {
    config: SineConfig,
    samples: Vec<SineSample>,
}

impl SineWaves {
    /// Generates `config.samples` sequences, deterministically from `config.seed`.
    pub fn generate(config: &SineConfig) -> Result<Self> {
        config.validate()?;
        let mut rng = StdRng::seed_from_u64(config.seed);
        let uniform = |rng: &mut StdRng, lo: f32, hi: f32| lo + rng.random::<f32>() * (hi - lo);
        let tau = std::f32::consts::TAU;
        let samples = (0..config.samples)
            .map(|i| {
                let frequency = uniform(&mut rng, config.min_frequency, config.max_frequency);
                let amplitudes: Vec<f32> = (0..config.features)
                    .map(|_| uniform(&mut rng, config.min_amplitude, config.max_amplitude))
                    .collect();
                let phases: Vec<f32> = (0..config.features)
                    .map(|_| uniform(&mut rng, 0.0, tau))
                    .collect();
                let mut values = Vec::with_capacity((config.steps + 1) * config.features);
                for t in 0..=config.steps {
                    for d in 0..config.features {
                        let z: f32 = rng.sample(StandardNormal);
                        let clean = amplitudes[d] * (tau * frequency * t as f32 + phases[d]).sin();
                        values.push(clean + config.noise * z);
                    }
                }
                SineSample {
                    id: format!("sine-{i}"),
                    frequency,
                    amplitudes,
                    phases,
                    values,
                }
            })
            .collect();
        Ok(Self {
            config: config.clone(),
            samples,
        })
    }

    /// The config the waves were generated from.
    pub fn config(&self) -> &SineConfig {
        &self.config
    }

    /// All samples, in order.
    pub fn samples(&self) -> &[SineSample] {
        &self.samples
    }

    /// The frequency band (class) of a frequency when `[min_frequency, max_frequency]` is cut
    /// into `classes` equal bands; frequencies outside the range go to the nearest band.
    pub fn frequency_band(&self, frequency: f32, classes: usize) -> usize {
        let (lo, hi) = (self.config.min_frequency, self.config.max_frequency);
        if classes == 0 || hi <= lo {
            return 0;
        }
        let band = ((frequency - lo) / (hi - lo) * classes as f32).floor();
        (band.max(0.0) as usize).min(classes - 1)
    }

    /// Many-to-one regression: inputs are steps `0..T` (`T × D`), the target is
    /// `Regression(D values)`, the values at step `T` (the next value of each feature).
    pub fn next_value_dataset(&self) -> Result<SequenceDataset> {
        let (steps, features) = (self.config.steps, self.config.features);
        self.dataset(
            TargetKind::Regression { outputs: features },
            self.next_names(),
            |s| Target::Regression(s.values[steps * features..].to_vec()),
        )
    }

    /// Many-to-many regression: inputs are steps `0..T` (`T × D`); the target at step `t` is the
    /// value at step `t + 1`, as `PerStep` values (`T × D`, step-major).
    pub fn per_step_dataset(&self) -> Result<SequenceDataset> {
        let features = self.config.features;
        self.dataset(
            TargetKind::PerStep { outputs: features },
            self.next_names(),
            |s| Target::PerStep(s.values[features..].to_vec()),
        )
    }

    /// Sequence classification: inputs are steps `0..T` (`T × D`), the target is the frequency
    /// band (see [`SineWaves::frequency_band`]), `classes ≥ 2` bands named by their range in
    /// cycles per step. Bands hold about N / classes samples each (frequencies are uniform).
    pub fn frequency_class_dataset(&self, classes: usize) -> Result<SequenceDataset> {
        if classes < 2 {
            return Err(DataError::InvalidParameter(format!(
                "sine: a frequency classification needs at least 2 classes, got {classes}"
            )));
        }
        let (lo, hi) = (self.config.min_frequency, self.config.max_frequency);
        let width = (hi - lo) / classes as f32;
        let names = (0..classes)
            .map(|c| {
                format!(
                    "{:.3}-{:.3} cycles/step",
                    lo + width * c as f32,
                    lo + width * (c + 1) as f32
                )
            })
            .collect();
        self.dataset(TargetKind::Classification { classes }, names, |s| {
            Target::Class(self.frequency_band(s.frequency, classes))
        })
    }

    /// Steps `0..T` of every sample (`T × D`) as inputs, with the target `target` gives.
    fn dataset(
        &self,
        kind: TargetKind,
        target_names: Vec<String>,
        target: impl Fn(&SineSample) -> Target,
    ) -> Result<SequenceDataset> {
        let (steps, features) = (self.config.steps, self.config.features);
        let samples = self
            .samples
            .iter()
            .map(|s| SequenceSample {
                id: s.id.clone(),
                values: s.values[..steps * features].to_vec(),
                length: steps,
                target: target(s),
            })
            .collect();
        SequenceDataset::new(samples, steps, features, kind)?
            .with_feature_names(self.feature_names())?
            .with_target_names(target_names)
    }

    fn feature_names(&self) -> Vec<String> {
        (0..self.config.features)
            .map(|d| format!("sine {d}"))
            .collect()
    }

    fn next_names(&self) -> Vec<String> {
        (0..self.config.features)
            .map(|d| format!("next sine {d}"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waves(config: SineConfig) -> SineWaves {
        SineWaves::generate(&config).unwrap()
    }

    #[test]
    fn shapes() {
        let waves = waves(SineConfig {
            samples: 10,
            steps: 20,
            features: 2,
            ..Default::default()
        });
        let next = waves.next_value_dataset().unwrap();
        assert_eq!(
            (next.len(), next.num_steps(), next.num_features()),
            (10, 20, 2)
        );
        assert_eq!(next.target_kind(), TargetKind::Regression { outputs: 2 });
        let s = &waves.samples()[3];
        assert_eq!(
            next.samples()[3].target,
            Target::Regression(s.values[40..].to_vec())
        );

        let per_step = waves.per_step_dataset().unwrap();
        assert_eq!(per_step.target_kind(), TargetKind::PerStep { outputs: 2 });
        match &per_step.samples()[3].target {
            Target::PerStep(v) => {
                assert_eq!(v.len(), 40);
                assert_eq!(v[..2], s.values[2..4]);
            }
            other => panic!("unexpected target {other:?}"),
        }

        let classes = waves.frequency_class_dataset(3).unwrap();
        assert_eq!(
            classes.target_kind(),
            TargetKind::Classification { classes: 3 }
        );
        assert_eq!(classes.target_names().len(), 3);
        assert!(waves.frequency_class_dataset(1).is_err());
    }

    #[test]
    fn deterministic_per_seed() {
        let config = SineConfig::default();
        assert_eq!(waves(config.clone()), waves(config.clone()));
        let other = waves(SineConfig {
            seed: 3,
            ..config.clone()
        });
        assert_ne!(other.samples()[0].values, waves(config).samples()[0].values);
    }

    #[test]
    fn noiseless_values_follow_the_formula() {
        let waves = waves(SineConfig {
            noise: 0.0,
            features: 3,
            ..Default::default()
        });
        for s in waves.samples() {
            assert!((0.02..=0.2).contains(&s.frequency));
            for t in 0..=32 {
                for d in 0..3 {
                    let expected = s.amplitudes[d]
                        * (std::f32::consts::TAU * s.frequency * t as f32 + s.phases[d]).sin();
                    assert!((s.values[t * 3 + d] - expected).abs() < 1e-5);
                }
            }
        }
    }

    #[test]
    fn frequency_bands_are_balanced() {
        let waves = waves(SineConfig {
            samples: 900,
            ..Default::default()
        });
        let data = waves.frequency_class_dataset(3).unwrap();
        let mut counts = [0usize; 3];
        for s in data.samples() {
            if let Target::Class(c) = s.target {
                counts[c] += 1;
            }
        }
        assert!(
            counts.iter().all(|&c| (240..=360).contains(&c)),
            "{counts:?}"
        );
        assert_eq!(waves.frequency_band(0.02, 3), 0);
        assert_eq!(waves.frequency_band(0.2, 3), 2);
    }

    #[test]
    fn rejects_bad_configs() {
        let bad = [
            SineConfig {
                samples: 0,
                ..Default::default()
            },
            SineConfig {
                steps: 0,
                ..Default::default()
            },
            SineConfig {
                noise: f32::NAN,
                ..Default::default()
            },
            SineConfig {
                max_frequency: 0.7,
                ..Default::default()
            },
            SineConfig {
                min_amplitude: 2.0,
                ..Default::default()
            },
        ];
        for config in bad {
            let err = SineWaves::generate(&config).unwrap_err();
            assert!(matches!(err, DataError::InvalidParameter(_)), "{err}");
        }
    }
}
