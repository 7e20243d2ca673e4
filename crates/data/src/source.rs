//! [`SequenceSource`]: what training needs of a dataset, whether its samples live in memory
//! ([`SequenceDataset`]) or are read lazily from a file ([`crate::ondisk`]).
//!
//! Training fits its normaliser in one streaming pass ([`SequenceSource::for_each_sample`]),
//! then reads the samples one batch at a time ([`SequenceSource::sample`]) through
//! [`SequenceSource::normalized`]: an in-memory dataset is scaled once, up front, as before; an
//! on-disk one is scaled sample by sample as it is read, so nothing is materialised.

use std::sync::Arc;

use burn::data::dataset::{Dataset, DatasetError};
use burn_rnn_io::Crc32;

use crate::dataset::{SequenceDataset, SequenceSample, Target, TargetKind};
use crate::error::{DataError, Result};
use crate::normalize::Normalizer;
use crate::streams::Streams;

/// A dataset of N samples sharing one `T×D` shape and one target kind, in a fixed order.
pub trait SequenceSource: Send + Sync + std::fmt::Debug {
    /// N, the number of samples.
    fn num_samples(&self) -> usize;
    /// Sample `index` (`< num_samples()`); errors when it cannot be read.
    fn sample(&self, index: usize) -> Result<SequenceSample>;
    /// T, the steps of every (padded) sample.
    fn num_steps(&self) -> usize;
    /// D, the features at each step.
    fn num_features(&self) -> usize;
    /// The kind and size of the targets.
    fn target_kind(&self) -> TargetKind;
    /// The feature names (D).
    fn feature_names(&self) -> &[String];
    /// The target names (K, or one per class).
    fn target_names(&self) -> &[String];
    /// The stream layout for stateful training; `None` for independent samples.
    fn streams(&self) -> Option<&Streams> {
        None
    }
    /// Whether [`SequenceSource::sample`] reads from disk (worth reading ahead on a thread of
    /// its own) rather than copying from memory.
    fn reads_lazily(&self) -> bool {
        false
    }
    /// Calls `f` on every sample in order: one pass, reading as little at a time as it can.
    fn for_each_sample(&self, f: &mut dyn FnMut(&SequenceSample) -> Result<()>) -> Result<()> {
        for index in 0..self.num_samples() {
            f(&self.sample(index)?)?;
        }
        Ok(())
    }
    /// Feeds what identifies these samples (values, targets, order) to `crc`, for checking that
    /// a resumed run trains on the same data. Need not read the samples (an on-disk dataset
    /// feeds its file's checksums and its selection).
    fn fingerprint(&self, crc: &mut Crc32);
    /// The same samples scaled by `normalizer` (see [`Normalizer::apply`]).
    fn normalized(&self, normalizer: &Normalizer) -> Result<Arc<dyn SequenceSource>>;
}

impl SequenceSource for SequenceDataset {
    fn num_samples(&self) -> usize {
        self.len()
    }

    fn sample(&self, index: usize) -> Result<SequenceSample> {
        self.samples().get(index).cloned().ok_or_else(|| {
            DataError::InvalidParameter(format!(
                "sample index {index} is out of range for a dataset of {} samples",
                self.len()
            ))
        })
    }

    fn num_steps(&self) -> usize {
        SequenceDataset::num_steps(self)
    }

    fn num_features(&self) -> usize {
        SequenceDataset::num_features(self)
    }

    fn target_kind(&self) -> TargetKind {
        SequenceDataset::target_kind(self)
    }

    fn feature_names(&self) -> &[String] {
        SequenceDataset::feature_names(self)
    }

    fn target_names(&self) -> &[String] {
        SequenceDataset::target_names(self)
    }

    fn streams(&self) -> Option<&Streams> {
        SequenceDataset::streams(self)
    }

    fn for_each_sample(&self, f: &mut dyn FnMut(&SequenceSample) -> Result<()>) -> Result<()> {
        self.samples().iter().try_for_each(f)
    }

    fn fingerprint(&self, crc: &mut Crc32) {
        for sample in self.samples() {
            crc.update(sample.id.as_bytes());
            crc.update(&(sample.length as u64).to_le_bytes());
            for v in &sample.values {
                crc.update(&v.to_le_bytes());
            }
            let target: &[f32] = match &sample.target {
                Target::Regression(values) | Target::PerStep(values) => values,
                Target::Class(class) => {
                    crc.update(&(*class as u64).to_le_bytes());
                    &[]
                }
            };
            for v in target {
                crc.update(&v.to_le_bytes());
            }
        }
    }

    fn normalized(&self, normalizer: &Normalizer) -> Result<Arc<dyn SequenceSource>> {
        Ok(Arc::new(normalizer.apply(self)?))
    }
}

/// A shared source is a source (so `&Arc<SequenceDataset>` trains as `&SequenceDataset` does).
impl<S: SequenceSource + ?Sized> SequenceSource for Arc<S> {
    fn num_samples(&self) -> usize {
        (**self).num_samples()
    }

    fn sample(&self, index: usize) -> Result<SequenceSample> {
        (**self).sample(index)
    }

    fn num_steps(&self) -> usize {
        (**self).num_steps()
    }

    fn num_features(&self) -> usize {
        (**self).num_features()
    }

    fn target_kind(&self) -> TargetKind {
        (**self).target_kind()
    }

    fn feature_names(&self) -> &[String] {
        (**self).feature_names()
    }

    fn target_names(&self) -> &[String] {
        (**self).target_names()
    }

    fn streams(&self) -> Option<&Streams> {
        (**self).streams()
    }

    fn reads_lazily(&self) -> bool {
        (**self).reads_lazily()
    }

    fn for_each_sample(&self, f: &mut dyn FnMut(&SequenceSample) -> Result<()>) -> Result<()> {
        (**self).for_each_sample(f)
    }

    fn fingerprint(&self, crc: &mut Crc32) {
        (**self).fingerprint(crc)
    }

    fn normalized(&self, normalizer: &Normalizer) -> Result<Arc<dyn SequenceSource>> {
        (**self).normalized(normalizer)
    }
}

/// A source whose samples are scaled by a normaliser as they are read.
#[derive(Debug)]
pub struct Normalized {
    inner: Arc<dyn SequenceSource>,
    normalizer: Normalizer,
}

impl Normalized {
    /// `inner`'s samples scaled by `normalizer`; checked against its widths first.
    pub fn new(inner: Arc<dyn SequenceSource>, normalizer: Normalizer) -> Result<Self> {
        normalizer.check_fits(inner.num_features(), inner.target_kind())?;
        Ok(Self { inner, normalizer })
    }
}

impl SequenceSource for Normalized {
    fn num_samples(&self) -> usize {
        self.inner.num_samples()
    }

    fn sample(&self, index: usize) -> Result<SequenceSample> {
        let mut sample = self.inner.sample(index)?;
        self.normalizer
            .scale_sample(&mut sample, self.inner.num_features());
        Ok(sample)
    }

    fn num_steps(&self) -> usize {
        self.inner.num_steps()
    }

    fn num_features(&self) -> usize {
        self.inner.num_features()
    }

    fn target_kind(&self) -> TargetKind {
        self.inner.target_kind()
    }

    fn feature_names(&self) -> &[String] {
        self.inner.feature_names()
    }

    fn target_names(&self) -> &[String] {
        self.inner.target_names()
    }

    fn streams(&self) -> Option<&Streams> {
        self.inner.streams()
    }

    fn reads_lazily(&self) -> bool {
        self.inner.reads_lazily()
    }

    fn for_each_sample(&self, f: &mut dyn FnMut(&SequenceSample) -> Result<()>) -> Result<()> {
        let d = self.inner.num_features();
        self.inner.for_each_sample(&mut |sample| {
            let mut sample = sample.clone();
            self.normalizer.scale_sample(&mut sample, d);
            f(&sample)
        })
    }

    fn fingerprint(&self, crc: &mut Crc32) {
        self.inner.fingerprint(crc);
        let scalings = std::iter::once(&self.normalizer.features).chain(&self.normalizer.targets);
        for scaling in scalings {
            for v in scaling.offset.iter().chain(&scaling.scale) {
                crc.update(&v.to_le_bytes());
            }
        }
    }

    fn normalized(&self, normalizer: &Normalizer) -> Result<Arc<dyn SequenceSource>> {
        Ok(Arc::new(Normalized::new(
            Arc::new(Self {
                inner: self.inner.clone(),
                normalizer: self.normalizer.clone(),
            }),
            normalizer.clone(),
        )?))
    }
}

/// burn's [`Dataset`] over any source, for burn's own data loaders.
impl Dataset<SequenceSample> for Normalized {
    fn get(&self, index: usize) -> std::result::Result<SequenceSample, DatasetError> {
        self.sample(index).map_err(DatasetError::new)
    }

    fn len(&self) -> usize {
        self.num_samples()
    }
}
