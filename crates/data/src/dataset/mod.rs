//! The in-memory sequence dataset: N samples of T×D values with targets and true lengths.

use burn::data::dataset::{Dataset, DatasetError};
use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};
use crate::streams::Streams;

/// What a sample is asked to predict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Target {
    /// K real values predicted from the whole sequence (many-to-one regression).
    Regression(Vec<f32>),
    /// A class index predicted from the whole sequence (many-to-one classification).
    Class(usize),
    /// K real values at every step, flattened step-major: `T×K` values (many-to-many).
    PerStep(Vec<f32>),
}

/// The kind of target shared by every sample of a dataset, with its size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TargetKind {
    /// Many-to-one regression with `outputs` values per sample.
    Regression {
        /// K, the number of values predicted.
        outputs: usize,
    },
    /// Many-to-one classification into `classes` classes.
    Classification {
        /// The number of classes.
        classes: usize,
    },
    /// Many-to-many regression with `outputs` values per step.
    PerStep {
        /// K, the number of values predicted at each step.
        outputs: usize,
    },
}

impl TargetKind {
    /// The number of model outputs this target needs (K, or the number of classes).
    pub fn outputs(&self) -> usize {
        match *self {
            TargetKind::Regression { outputs } | TargetKind::PerStep { outputs } => outputs,
            TargetKind::Classification { classes } => classes,
        }
    }
}

/// One sequence: `num_steps × num_features` values (step-major), its true length and its target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SequenceSample {
    /// The caller's identifier (patient id, ticker, row number), used in error messages.
    pub id: String,
    /// `T×D` values, step-major: `values[t * D + d]`. Steps at or after `length` are padding.
    pub values: Vec<f32>,
    /// The number of valid steps (1..=T); the rest is padding.
    pub length: usize,
    /// What to predict.
    pub target: Target,
}

/// N samples sharing one `T×D` shape and one target kind; checked when built.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SequenceDataset {
    samples: Vec<SequenceSample>,
    num_steps: usize,
    num_features: usize,
    target_kind: TargetKind,
    feature_names: Vec<String>,
    target_names: Vec<String>,
    /// How the samples form streams for stateful training, if they do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    streams: Option<Streams>,
}

impl SequenceDataset {
    /// Builds a dataset after checking every sample: shape `num_steps × num_features`, lengths in
    /// `1..=num_steps`, finite values, and targets of `target_kind` (classes below the class count).
    /// Feature and target names are optional (empty means `x0, x1, ...` / `y0, y1, ...`).
    ///
    /// ```
    /// use burn_rnn_data::{SequenceDataset, SequenceSample, Target, TargetKind};
    ///
    /// // Two sequences of T = 3 steps × D = 2 features; "b" has 2 valid steps and one of padding.
    /// let samples = vec![
    ///     SequenceSample {
    ///         id: "a".into(),
    ///         values: vec![1.0, 10.0, 2.0, 20.0, 3.0, 30.0],
    ///         length: 3,
    ///         target: Target::Class(1),
    ///     },
    ///     SequenceSample {
    ///         id: "b".into(),
    ///         values: vec![4.0, 40.0, 5.0, 50.0, 0.0, 0.0],
    ///         length: 2,
    ///         target: Target::Class(0),
    ///     },
    /// ];
    /// let kind = TargetKind::Classification { classes: 2 };
    /// let data = SequenceDataset::new(samples, 3, 2, kind)?
    ///     .with_feature_names(vec!["hr".into(), "bp".into()])?;
    /// assert_eq!((data.len(), data.num_steps(), data.num_features()), (2, 3, 2));
    /// assert_eq!(data.target_names(), ["y0", "y1"]);
    ///
    /// // A class outside 0..classes is refused, naming the sample.
    /// let bad = SequenceSample {
    ///     id: "c".into(),
    ///     values: vec![0.0; 6],
    ///     length: 3,
    ///     target: Target::Class(2),
    /// };
    /// let err = SequenceDataset::new(vec![bad], 3, 2, kind).unwrap_err().to_string();
    /// assert!(err.contains("\"c\""), "{err}");
    /// # Ok::<(), burn_rnn_data::DataError>(())
    /// ```
    pub fn new(
        samples: Vec<SequenceSample>,
        num_steps: usize,
        num_features: usize,
        target_kind: TargetKind,
    ) -> Result<Self> {
        if samples.is_empty() {
            return Err(DataError::Empty(
                "a dataset needs at least one sample".into(),
            ));
        }
        if num_steps == 0 || num_features == 0 {
            return Err(DataError::InvalidParameter(format!(
                "a dataset needs at least one step and one feature (got T={num_steps}, D={num_features})"
            )));
        }
        if target_kind.outputs() == 0 {
            return Err(DataError::InvalidParameter(
                "the target needs at least one output or class".into(),
            ));
        }
        for (index, sample) in samples.iter().enumerate() {
            check_sample(index, sample, num_steps, num_features, target_kind)?;
        }
        Ok(Self {
            samples,
            num_steps,
            num_features,
            target_kind,
            feature_names: (0..num_features).map(|d| format!("x{d}")).collect(),
            target_names: (0..target_kind.outputs())
                .map(|k| format!("y{k}"))
                .collect(),
            streams: None,
        })
    }

    /// Names the features (D names) for reports and plots.
    pub fn with_feature_names(mut self, names: Vec<String>) -> Result<Self> {
        if names.len() != self.num_features {
            return Err(DataError::Shape {
                what: "feature names".into(),
                expected: format!("{} names", self.num_features),
                actual: format!("{} names", names.len()),
            });
        }
        self.feature_names = names;
        Ok(self)
    }

    /// Names the targets (K names, or class names) for reports and plots.
    pub fn with_target_names(mut self, names: Vec<String>) -> Result<Self> {
        if names.len() != self.target_kind.outputs() {
            return Err(DataError::Shape {
                what: "target names".into(),
                expected: format!("{} names", self.target_kind.outputs()),
                actual: format!("{} names", names.len()),
            });
        }
        self.target_names = names;
        Ok(self)
    }

    /// T, the number of steps of every (padded) sample.
    pub fn num_steps(&self) -> usize {
        self.num_steps
    }

    /// D, the number of features at each step.
    pub fn num_features(&self) -> usize {
        self.num_features
    }

    /// N, the number of samples.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// Whether there are no samples (never true for a built dataset).
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// The kind and size of the targets.
    pub fn target_kind(&self) -> TargetKind {
        self.target_kind
    }

    /// All samples, in order.
    pub fn samples(&self) -> &[SequenceSample] {
        &self.samples
    }

    /// The feature names (D of them).
    pub fn feature_names(&self) -> &[String] {
        &self.feature_names
    }

    /// The target names (K of them, or one per class).
    pub fn target_names(&self) -> &[String] {
        &self.target_names
    }

    /// The same samples laid out as streams for stateful training (see [`crate::streams`]):
    /// sample `k·S + i` is window `k` of stream `i`. Checked against the samples; usually made by
    /// [`crate::stream_windows`].
    pub fn with_streams(mut self, streams: Streams) -> Result<Self> {
        streams.check(self.samples.len())?;
        self.streams = Some(streams);
        Ok(self)
    }

    /// The stream layout of a stateful dataset; `None` for independent samples.
    pub fn streams(&self) -> Option<&Streams> {
        self.streams.as_ref()
    }

    /// A dataset of the samples at `indices` (in that order), keeping shapes and names (not a
    /// stream layout: the order changes).
    pub fn subset(&self, indices: &[usize]) -> Result<Self> {
        let mut samples = Vec::with_capacity(indices.len());
        for &i in indices {
            let sample = self.samples.get(i).ok_or_else(|| {
                DataError::InvalidParameter(format!(
                    "sample index {i} is out of range for a dataset of {} samples",
                    self.samples.len()
                ))
            })?;
            samples.push(sample.clone());
        }
        if samples.is_empty() {
            return Err(DataError::Empty("the subset has no samples".into()));
        }
        Ok(Self {
            samples,
            streams: None,
            ..self.clone_without_samples()
        })
    }

    /// The valid steps of sample `index`, its padding left out: `[length][D]` values in the
    /// data's units, the form [`SequenceDataset::sequences`] and predictors take.
    pub fn steps(&self, index: usize) -> Result<Vec<Vec<f32>>> {
        let sample = self.samples.get(index).ok_or_else(|| {
            DataError::InvalidParameter(format!(
                "sample index {index} is out of range for a dataset of {} samples",
                self.samples.len()
            ))
        })?;
        Ok(self.valid_steps(sample).map(<[f32]>::to_vec).collect())
    }

    /// Every sample's valid steps, `[N][length][D]` (see [`SequenceDataset::steps`]).
    pub fn sequences(&self) -> Vec<Vec<Vec<f32>>> {
        self.samples
            .iter()
            .map(|sample| self.valid_steps(sample).map(<[f32]>::to_vec).collect())
            .collect()
    }

    /// The same samples cut to their first `steps` steps (an early-warning view of a sequence):
    /// T becomes `steps`, lengths are capped at it and per-step targets are cut with the inputs;
    /// a many-to-one target (a class, the values to forecast) is kept as it is. Errors unless
    /// `1 <= steps <= T`.
    ///
    /// ```
    /// # use burn_rnn_data::synth::HealthcareConfig;
    /// let cohort = HealthcareConfig { patients: 10, ..Default::default() }.generate()?;
    /// let first_16_hours = cohort.deterioration_dataset()?.first_steps(16)?;
    /// assert_eq!(first_16_hours.num_steps(), 16);
    /// # Ok::<(), burn_rnn_data::DataError>(())
    /// ```
    pub fn first_steps(&self, steps: usize) -> Result<Self> {
        if !(1..=self.num_steps).contains(&steps) {
            return Err(DataError::InvalidParameter(format!(
                "cannot keep the first {steps} steps of sequences of T = {} steps; choose 1..={}",
                self.num_steps, self.num_steps
            )));
        }
        let mut samples = self.samples.clone();
        for sample in &mut samples {
            sample.values.truncate(steps * self.num_features);
            sample.length = sample.length.min(steps);
            if let (Target::PerStep(values), TargetKind::PerStep { outputs }) =
                (&mut sample.target, self.target_kind)
            {
                values.truncate(steps * outputs);
            }
        }
        Ok(Self {
            samples,
            num_steps: steps,
            streams: None,
            ..self.clone_without_samples()
        })
    }

    /// A sample's valid steps as `D`-value slices (D ≥ 1 in a built dataset).
    fn valid_steps<'a>(&self, sample: &'a SequenceSample) -> std::slice::Chunks<'a, f32> {
        sample.values[..sample.length * self.num_features].chunks(self.num_features)
    }

    /// Replaces the samples (same shape and kind), checking them; used by transforms.
    pub fn map_samples(
        &self,
        mut f: impl FnMut(&SequenceSample) -> Result<SequenceSample>,
    ) -> Result<Self> {
        let samples = self
            .samples
            .iter()
            .map(&mut f)
            .collect::<Result<Vec<_>>>()?;
        for (index, sample) in samples.iter().enumerate() {
            check_sample(
                index,
                sample,
                self.num_steps,
                self.num_features,
                self.target_kind,
            )?;
        }
        Ok(Self {
            samples,
            ..self.clone_without_samples()
        })
    }

    fn clone_without_samples(&self) -> Self {
        Self {
            samples: Vec::new(),
            num_steps: self.num_steps,
            num_features: self.num_features,
            target_kind: self.target_kind,
            feature_names: self.feature_names.clone(),
            target_names: self.target_names.clone(),
            streams: self.streams.clone(),
        }
    }
}

impl Dataset<SequenceSample> for SequenceDataset {
    fn get(&self, index: usize) -> std::result::Result<SequenceSample, DatasetError> {
        self.samples.get(index).cloned().ok_or_else(|| {
            DatasetError::new(DataError::InvalidParameter(format!(
                "sample index {index} is out of range for a dataset of {} samples",
                self.samples.len()
            )))
        })
    }

    fn len(&self) -> usize {
        self.samples.len()
    }
}

fn check_sample(
    index: usize,
    sample: &SequenceSample,
    num_steps: usize,
    num_features: usize,
    kind: TargetKind,
) -> Result<()> {
    let what = || format!("sample {index} (id {:?})", sample.id);
    if sample.values.len() != num_steps * num_features {
        return Err(DataError::Shape {
            what: what(),
            expected: format!(
                "{num_steps}×{num_features} = {} values",
                num_steps * num_features
            ),
            actual: format!("{} values", sample.values.len()),
        });
    }
    if sample.length == 0 || sample.length > num_steps {
        return Err(DataError::Shape {
            what: what(),
            expected: format!("a length in 1..={num_steps}"),
            actual: format!("length {}", sample.length),
        });
    }
    if let Some(pos) = sample.values.iter().position(|v| !v.is_finite()) {
        return Err(DataError::NonFinite {
            what: format!(
                "{}, step {}, feature {}",
                what(),
                pos / num_features,
                pos % num_features
            ),
            value: sample.values[pos],
        });
    }
    let finite_targets = |values: &[f32]| -> Result<()> {
        match values.iter().position(|v| !v.is_finite()) {
            Some(k) => Err(DataError::NonFinite {
                what: format!("{}, target value {k}", what()),
                value: values[k],
            }),
            None => Ok(()),
        }
    };
    match (&sample.target, kind) {
        (Target::Regression(values), TargetKind::Regression { outputs }) => {
            if values.len() != outputs {
                return Err(DataError::Shape {
                    what: format!("{} target", what()),
                    expected: format!("{outputs} values"),
                    actual: format!("{} values", values.len()),
                });
            }
            finite_targets(values)
        }
        (Target::PerStep(values), TargetKind::PerStep { outputs }) => {
            if values.len() != num_steps * outputs {
                return Err(DataError::Shape {
                    what: format!("{} target", what()),
                    expected: format!("{num_steps}×{outputs} = {} values", num_steps * outputs),
                    actual: format!("{} values", values.len()),
                });
            }
            finite_targets(values)
        }
        (Target::Class(class), TargetKind::Classification { classes }) => {
            if *class >= classes {
                return Err(DataError::Shape {
                    what: format!("{} target", what()),
                    expected: format!("a class below {classes}"),
                    actual: format!("class {class}"),
                });
            }
            Ok(())
        }
        (target, kind) => Err(DataError::Shape {
            what: format!("{} target", what()),
            expected: format!("{kind:?}"),
            actual: format!("{target:?}"),
        }),
    }
}

#[cfg(test)]
pub(crate) mod tests;
