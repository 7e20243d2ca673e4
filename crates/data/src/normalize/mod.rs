//! Per-feature (and per-target) normalisation, fitted on a training split and saved as JSON
//! beside the model so predictions can be mapped back to the original units.
//!
//! Every value is mapped by `(x - offset) / scale`: z-score uses the mean and the population
//! standard deviation, min-max the minimum and the range (giving `[0, 1]` on the training data).
//! Statistics count only valid steps (`t < length`); padding steps stay `0.0` after [`Normalizer::apply`].

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::dataset::{SequenceDataset, SequenceSample, Target, TargetKind};
use crate::error::{DataError, Result};
use crate::source::SequenceSource;

/// How values are rescaled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum NormalizationKind {
    /// `(x - mean) / std`: mean 0 and standard deviation 1 on the training data.
    #[default]
    ZScore,
    /// `(x - min) / (max - min)`: the training data spans `[0, 1]`.
    MinMax,
}

/// An offset and a scale per column: `normalized = (x - offset) / scale`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scaling {
    /// Subtracted first (mean or minimum), one per column.
    pub offset: Vec<f64>,
    /// Divided by next (standard deviation or range), one per column; never 0.
    pub scale: Vec<f64>,
}

impl Scaling {
    /// The number of columns.
    pub fn len(&self) -> usize {
        self.offset.len()
    }

    /// Whether there are no columns.
    pub fn is_empty(&self) -> bool {
        self.offset.is_empty()
    }

    fn forward(&self, values: &mut [f32]) {
        let width = self.len();
        for (i, v) in values.iter_mut().enumerate() {
            let c = i % width;
            *v = ((f64::from(*v) - self.offset[c]) / self.scale[c]) as f32;
        }
    }

    fn inverse(&self, values: &mut [f32]) {
        let width = self.len();
        for (i, v) in values.iter_mut().enumerate() {
            let c = i % width;
            *v = (f64::from(*v) * self.scale[c] + self.offset[c]) as f32;
        }
    }

    fn check(&self, values: &[f32], what: &str) -> Result<()> {
        if !values.len().is_multiple_of(self.len()) {
            return Err(DataError::Shape {
                what: what.to_string(),
                expected: format!("a multiple of {} values (the last dimension)", self.len()),
                actual: format!("{} values", values.len()),
            });
        }
        Ok(())
    }
}

/// Per-column statistics accumulated in f64 (Welford's update: no cancellation for large means).
struct Stats {
    count: Vec<u64>,
    mean: Vec<f64>,
    m2: Vec<f64>,
    min: Vec<f64>,
    max: Vec<f64>,
}

impl Stats {
    fn new(width: usize) -> Self {
        Self {
            count: vec![0; width],
            mean: vec![0.0; width],
            m2: vec![0.0; width],
            min: vec![f64::INFINITY; width],
            max: vec![f64::NEG_INFINITY; width],
        }
    }

    /// Adds whole rows of `width` values.
    fn add(&mut self, rows: &[f32]) {
        let width = self.count.len();
        for (i, &v) in rows.iter().enumerate() {
            let (c, v) = (i % width, f64::from(v));
            self.count[c] += 1;
            let delta = v - self.mean[c];
            self.mean[c] += delta / self.count[c] as f64;
            self.m2[c] += delta * (v - self.mean[c]);
            self.min[c] = self.min[c].min(v);
            self.max[c] = self.max[c].max(v);
        }
    }

    fn scaling(&self, kind: NormalizationKind) -> Scaling {
        let mut offset = Vec::with_capacity(self.count.len());
        let mut scale = Vec::with_capacity(self.count.len());
        for c in 0..self.count.len() {
            let n = self.count[c] as f64;
            let (o, s) = match kind {
                // Not reachable from a dataset (every sample has a valid step); kept harmless.
                _ if self.count[c] == 0 => (0.0, 1.0),
                NormalizationKind::ZScore => (self.mean[c], (self.m2[c] / n).max(0.0).sqrt()),
                NormalizationKind::MinMax => (self.min[c], self.max[c] - self.min[c]),
            };
            offset.push(o);
            // A constant column has no spread: dividing by 0 would give NaN or infinities, while
            // scale 1 maps it to 0 (`x - offset`) and stays exactly invertible.
            let s = if s > f64::EPSILON * o.abs().max(1.0) {
                s
            } else {
                1.0
            };
            scale.push(s);
        }
        Scaling { offset, scale }
    }
}

/// Fitted normalisation of features and, optionally, regression or per-step targets (with their
/// own statistics). Serialize it (JSON) with the model to undo the scaling on predictions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Normalizer {
    /// The kind of scaling.
    pub kind: NormalizationKind,
    /// One offset and scale per feature (D).
    pub features: Scaling,
    /// One offset and scale per target output (K), when targets are normalised.
    pub targets: Option<Scaling>,
}

impl Normalizer {
    /// Fits the statistics on `dataset` (the training split: fitting on validation or test data
    /// leaks them into training). Only valid steps (`t < length`) count. With
    /// `normalize_targets`, regression or per-step targets get their own statistics.
    ///
    /// Errors: `normalize_targets` on a classification dataset.
    ///
    /// ```
    /// use burn_rnn_data::memory::{from_nested, regression_targets};
    /// use burn_rnn_data::{NormalizationKind, Normalizer, TargetKind};
    ///
    /// // Feature values 2, 4, 4, 4, 5, 5, 7, 9: mean 5, standard deviation 2.
    /// let train = from_nested(
    ///     &[
    ///         vec![vec![2.0], vec![4.0], vec![4.0], vec![4.0]],
    ///         vec![vec![5.0], vec![5.0], vec![7.0], vec![9.0]],
    ///     ],
    ///     regression_targets(vec![vec![10.0], vec![30.0]]), // mean 20, std 10
    ///     TargetKind::Regression { outputs: 1 },
    /// )?;
    /// let normalizer = Normalizer::fit(&train, NormalizationKind::ZScore, true)?;
    /// let scaled = normalizer.apply(&train)?;
    /// assert_eq!(scaled.samples()[0].values, [-1.5, -0.5, -0.5, -0.5]);
    /// // A model's normalised output back in the data's units:
    /// assert_eq!(normalizer.denormalize_targets(&[0.5])?, [25.0]);
    /// // Saved as JSON beside the model.
    /// assert_eq!(Normalizer::from_json(&normalizer.to_json()?)?, normalizer);
    /// # Ok::<(), burn_rnn_data::DataError>(())
    /// ```
    pub fn fit(
        dataset: &SequenceDataset,
        kind: NormalizationKind,
        normalize_targets: bool,
    ) -> Result<Self> {
        Self::fit_source(dataset, kind, normalize_targets)
    }

    /// [`Normalizer::fit`] on any [`SequenceSource`], in one streaming pass over its samples
    /// (the same statistics, bit for bit, as fitting its samples in memory).
    pub fn fit_source(
        source: &dyn SequenceSource,
        kind: NormalizationKind,
        normalize_targets: bool,
    ) -> Result<Self> {
        let d = source.num_features();
        let num_steps = source.num_steps();
        let mut features = Stats::new(d);
        let target_outputs = match (normalize_targets, source.target_kind()) {
            (false, _) => None,
            (true, TargetKind::Classification { .. }) => {
                return Err(DataError::InvalidParameter(
                    "class targets cannot be normalised; fit with normalize_targets = false".into(),
                ));
            }
            (true, kind) => Some(kind.outputs()),
        };
        let mut targets = target_outputs.map(Stats::new);
        source.for_each_sample(&mut |sample| {
            features.add(&sample.values[..sample.length * d]);
            if let Some(stats) = targets.as_mut() {
                match &sample.target {
                    Target::Regression(values) => stats.add(values),
                    Target::PerStep(values) => {
                        let k = values.len() / num_steps;
                        stats.add(&values[..sample.length * k]);
                    }
                    Target::Class(_) => {}
                }
            }
            Ok(())
        })?;
        Ok(Self {
            kind,
            features: features.scaling(kind),
            targets: targets.map(|s| s.scaling(kind)),
        })
    }

    /// Normalises the features (and targets, when fitted) of every sample of `dataset`; padding
    /// steps (`t >= length`) are set to `0.0` (not `-offset / scale`), so they stay neutral.
    ///
    /// Errors: a dataset with a different number of features or target outputs than fitted.
    pub fn apply(&self, dataset: &SequenceDataset) -> Result<SequenceDataset> {
        let d = dataset.num_features();
        self.check_fits(d, dataset.target_kind())?;
        dataset.map_samples(|sample| {
            let mut sample = sample.clone();
            self.scale_sample(&mut sample, d);
            Ok(sample)
        })
    }

    /// Checks that data of `num_features` features and targets of `kind` fit this normaliser.
    pub fn check_fits(&self, num_features: usize, kind: TargetKind) -> Result<()> {
        self.check_width(&self.features, num_features, "features")?;
        if let Some(targets) = &self.targets {
            let k = match kind {
                TargetKind::Classification { .. } => {
                    return Err(DataError::InvalidParameter(
                        "this normalizer scales targets but the dataset has class targets".into(),
                    ));
                }
                kind => kind.outputs(),
            };
            self.check_width(targets, k, "target outputs")?;
        }
        Ok(())
    }

    /// Scales one sample of `num_features` features in place, as [`Normalizer::apply`] does
    /// (widths checked by [`Normalizer::check_fits`]).
    pub fn scale_sample(&self, sample: &mut SequenceSample, num_features: usize) {
        let valid = sample.length * num_features;
        self.features.forward(&mut sample.values[..valid]);
        sample.values[valid..].fill(0.0);
        if let Some(targets) = &self.targets {
            match &mut sample.target {
                Target::Regression(values) => targets.forward(values),
                Target::PerStep(values) => {
                    let valid = sample.length * targets.len();
                    targets.forward(&mut values[..valid]);
                    values[valid..].fill(0.0);
                }
                Target::Class(_) => {}
            }
        }
    }

    /// Normalises raw feature values laid out with the features last (`[..., D]`, e.g. new data
    /// at inference time). Errors when the length is not a multiple of D.
    pub fn normalize_features(&self, values: &[f32]) -> Result<Vec<f32>> {
        self.features.check(values, "feature values")?;
        let mut out = values.to_vec();
        self.features.forward(&mut out);
        Ok(out)
    }

    /// Maps normalised feature values (`[..., D]`) back to the original units.
    pub fn denormalize_features(&self, values: &[f32]) -> Result<Vec<f32>> {
        self.features.check(values, "feature values")?;
        let mut out = values.to_vec();
        self.features.inverse(&mut out);
        Ok(out)
    }

    /// Normalises raw target values (`[..., K]`); returns them unchanged when targets were not
    /// normalised.
    pub fn normalize_targets(&self, values: &[f32]) -> Result<Vec<f32>> {
        let mut out = values.to_vec();
        if let Some(targets) = &self.targets {
            targets.check(values, "target values")?;
            targets.forward(&mut out);
        }
        Ok(out)
    }

    /// Maps model outputs (`[..., K]`, e.g. a `[B, K]` or `[B, T, K]` tensor's data) back to the
    /// original target units; returns them unchanged when targets were not normalised (the model
    /// then predicts raw units already).
    pub fn denormalize_targets(&self, values: &[f32]) -> Result<Vec<f32>> {
        let mut out = values.to_vec();
        if let Some(targets) = &self.targets {
            targets.check(values, "target values")?;
            targets.inverse(&mut out);
        }
        Ok(out)
    }

    /// The normalizer as pretty JSON.
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string_pretty(self)
            .map_err(|e| DataError::InvalidParameter(format!("cannot serialise normalizer: {e}")))
    }

    /// A normalizer from JSON written by [`Normalizer::to_json`].
    pub fn from_json(json: &str) -> Result<Self> {
        let normalizer: Self = serde_json::from_str(json)
            .map_err(|e| DataError::InvalidParameter(format!("invalid normalizer JSON: {e}")))?;
        normalizer.validate()?;
        Ok(normalizer)
    }

    /// Writes the normalizer as JSON to `path`, atomically (a crash leaves the old file or the
    /// new one, never a torn one).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        burn_rnn_io::write_atomic(path, self.to_json()?.as_bytes()).map_err(|e| DataError::Io {
            path: path.to_path_buf(),
            message: format!("cannot write normalizer: {e}"),
        })
    }

    /// Reads a normalizer saved by [`Normalizer::save`].
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let json = std::fs::read_to_string(path).map_err(|e| DataError::Io {
            path: path.to_path_buf(),
            message: format!("cannot read normalizer: {e}"),
        })?;
        Self::from_json(&json).map_err(|e| DataError::Io {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }

    fn check_width(&self, scaling: &Scaling, actual: usize, what: &str) -> Result<()> {
        if scaling.len() != actual {
            return Err(DataError::Shape {
                what: format!("dataset {what}"),
                expected: format!("{} (as fitted)", scaling.len()),
                actual: actual.to_string(),
            });
        }
        Ok(())
    }

    /// Checks a deserialised normalizer: matching lengths, finite offsets, positive scales.
    fn validate(&self) -> Result<()> {
        for (what, scaling) in [
            ("features", Some(&self.features)),
            ("targets", self.targets.as_ref()),
        ] {
            let Some(scaling) = scaling else { continue };
            if scaling.offset.len() != scaling.scale.len() || scaling.is_empty() {
                return Err(DataError::InvalidParameter(format!(
                    "normalizer {what}: {} offsets and {} scales (need the same, at least 1)",
                    scaling.offset.len(),
                    scaling.scale.len()
                )));
            }
            let bad = scaling
                .offset
                .iter()
                .zip(&scaling.scale)
                .position(|(o, s)| !o.is_finite() || !s.is_finite() || *s <= 0.0);
            if let Some(c) = bad {
                return Err(DataError::InvalidParameter(format!(
                    "normalizer {what} column {c}: offset {} and scale {} (need finite, scale > 0)",
                    scaling.offset[c], scaling.scale[c]
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
