//! Turning samples into tensors: [`SequenceBatcher`] for Burn's data loaders, and [`dataloader`]
//! to build one over a dataset.
//!
//! `Batcher::batch` cannot return an error, so the batcher relies on what
//! [`SequenceDataset::new`] checks: every sample of a dataset has the
//! same `T×D` shape and the same kind and size of target. Samples taken from a built dataset
//! therefore always batch. The public fields of [`SequenceSample`] make it possible to hand the
//! batcher mismatched samples by hand; it then panics with a message saying which sample differs.

use std::sync::Arc;

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataloader::{DataLoader, DataLoaderBuilder};
use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::dataset::{SequenceDataset, SequenceSample, Target};
use crate::error::{DataError, Result};

/// A batch of B samples as tensors.
#[derive(Debug, Clone)]
pub struct SequenceBatch {
    /// The inputs, `[B, T, D]`; steps at or after a sample's length are padding (`0.0` when built
    /// by this crate).
    pub inputs: Tensor<3>,
    /// The number of valid steps of each sample (B values, each in `1..=T`).
    pub lengths: Vec<usize>,
    /// The targets.
    pub targets: BatchTargets,
    /// The ids of the samples, in batch order.
    pub ids: Vec<String>,
    /// Stateful training only (see [`crate::streams`]): per row, whether it continues the same
    /// row of the previous batch, whose final state it then starts from. `None` for independent
    /// samples, which start from zeros.
    pub carry: Option<Vec<bool>>,
}

/// The targets of a batch, by kind.
#[derive(Debug, Clone)]
pub enum BatchTargets {
    /// Many-to-one regression targets, `[B, K]`.
    Regression(Tensor<2>),
    /// Class indices, `[B]`.
    Classes(Tensor<1, Int>),
    /// Per-step regression targets, `[B, T, K]` (padding steps as stored, `0.0` by this crate).
    PerStep(Tensor<3>),
}

/// Stacks [`SequenceSample`]s of `T×D` values into a [`SequenceBatch`] on the requested device.
///
/// A sample does not record T and D separately (only its `T×D` values and its length), so the
/// batcher is told them, usually by [`SequenceBatcher::for_dataset`].
///
/// ```
/// use burn::data::dataloader::batcher::Batcher;
/// use burn::tensor::Device;
/// use burn_rnn_data::synth::SineConfig;
/// use burn_rnn_data::{BatchTargets, SequenceBatcher};
///
/// let data = SineConfig::default().generate()?.next_value_dataset()?;
/// let batcher = SequenceBatcher::for_dataset(&data);
/// let batch = batcher.batch(data.samples()[..4].to_vec(), &Device::flex());
/// assert_eq!(batch.inputs.dims(), [4, data.num_steps(), data.num_features()]);
/// assert_eq!(batch.lengths.len(), 4);
/// assert!(matches!(batch.targets, BatchTargets::Regression(ref y) if y.dims() == [4, 1]));
/// # Ok::<(), burn_rnn_data::DataError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SequenceBatcher {
    num_steps: usize,
    num_features: usize,
}

impl SequenceBatcher {
    /// A batcher for samples of `num_steps` (T) steps of `num_features` (D) values.
    pub fn new(num_steps: usize, num_features: usize) -> Self {
        Self {
            num_steps,
            num_features,
        }
    }

    /// A batcher for the samples of `dataset` (its T and D).
    pub fn for_dataset(dataset: &SequenceDataset) -> Self {
        Self::new(dataset.num_steps(), dataset.num_features())
    }

    /// T, the number of steps per sample.
    pub fn num_steps(&self) -> usize {
        self.num_steps
    }

    /// D, the number of features per step.
    pub fn num_features(&self) -> usize {
        self.num_features
    }
}

impl Batcher<SequenceSample, SequenceBatch> for SequenceBatcher {
    /// Stacks the samples.
    ///
    /// # Panics
    ///
    /// With no items, or samples of another `T×D` shape or of different target kinds or sizes;
    /// neither happens with samples of one [`SequenceDataset`] and a batcher made by
    /// [`SequenceBatcher::for_dataset`] (see the module docs).
    fn batch(&self, items: Vec<SequenceSample>, device: &Device) -> SequenceBatch {
        let first = items
            .first()
            .expect("SequenceBatcher::batch was called with no samples");
        let (b, t, d) = (items.len(), self.num_steps, self.num_features);
        let mut inputs = Vec::with_capacity(b * t * d);
        let mut lengths = Vec::with_capacity(b);
        let mut ids = Vec::with_capacity(b);
        for (i, sample) in items.iter().enumerate() {
            assert!(
                sample.values.len() == t * d,
                "SequenceBatcher: sample {i} (id {:?}) has {} values, the batcher expects \
                 T×D = {t}×{d}; batch samples of one SequenceDataset with SequenceBatcher::for_dataset",
                sample.id,
                sample.values.len(),
            );
            inputs.extend_from_slice(&sample.values);
            lengths.push(sample.length);
            ids.push(sample.id.clone());
        }
        let targets = match &first.target {
            Target::Regression(first_values) => {
                let k = first_values.len();
                let values = collect_targets(&items, k, |target| match target {
                    Target::Regression(v) => Some(v.as_slice()),
                    _ => None,
                });
                BatchTargets::Regression(Tensor::<2>::from_data(
                    TensorData::new(values, [b, k]),
                    device,
                ))
            }
            Target::PerStep(first_values) => {
                let k = first_values.len() / t.max(1);
                let values = collect_targets(&items, t * k, |target| match target {
                    Target::PerStep(v) => Some(v.as_slice()),
                    _ => None,
                });
                BatchTargets::PerStep(Tensor::<3>::from_data(
                    TensorData::new(values, [b, t, k]),
                    device,
                ))
            }
            Target::Class(_) => {
                let classes: Vec<i64> = items
                    .iter()
                    .enumerate()
                    .map(|(i, sample)| match sample.target {
                        Target::Class(c) => c as i64,
                        ref other => panic!(
                            "SequenceBatcher: sample {i} (id {:?}) has target {other:?}, sample 0 has a class; \
                             batch samples of one SequenceDataset",
                            sample.id
                        ),
                    })
                    .collect();
                BatchTargets::Classes(Tensor::<1, Int>::from_data(
                    TensorData::new(classes, [b]),
                    device,
                ))
            }
        };
        SequenceBatch {
            inputs: Tensor::<3>::from_data(TensorData::new(inputs, [b, t, d]), device),
            lengths,
            targets,
            ids,
            carry: None,
        }
    }
}

fn collect_targets<'a>(
    items: &'a [SequenceSample],
    size: usize,
    get: impl Fn(&'a Target) -> Option<&'a [f32]>,
) -> Vec<f32> {
    let mut values = Vec::with_capacity(items.len() * size);
    for (i, sample) in items.iter().enumerate() {
        match get(&sample.target) {
            Some(v) if v.len() == size => values.extend_from_slice(v),
            _ => panic!(
                "SequenceBatcher: sample {i} (id {:?}) has target {:?}, unlike sample 0 ({size} values \
                 of the same kind); batch samples of one SequenceDataset",
                sample.id, sample.target
            ),
        }
    }
    values
}

/// A data loader over `dataset` in batches of `batch_size` (the last one may be smaller),
/// reshuffled every epoch when `shuffle_seed` is given, loading on `num_workers` background
/// threads (0: on the calling thread), with tensors created on `device`.
///
/// Errors: `batch_size == 0`.
///
/// ```
/// use burn::tensor::Device;
/// use burn_rnn_data::dataloader;
/// use burn_rnn_data::synth::SineConfig;
///
/// let data = SineConfig::default().generate()?.next_value_dataset()?;
/// let n = data.len();
/// let loader = dataloader(data, 32, Some(7), 0, &Device::flex())?;
/// let mut sizes = Vec::new();
/// for batch in loader.iter() {
///     let batch = batch?; // loading a sample can fail with a `DatasetError`
///     assert_eq!(batch.inputs.dims()[1..], [32, 1]); // [B, T, D]
///     sizes.push(batch.lengths.len());
/// }
/// assert_eq!(sizes.len(), n.div_ceil(32));
/// assert_eq!(sizes.iter().sum::<usize>(), n);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn dataloader(
    dataset: SequenceDataset,
    batch_size: usize,
    shuffle_seed: Option<u64>,
    num_workers: usize,
    device: &Device,
) -> Result<Arc<dyn DataLoader<SequenceBatch>>> {
    if batch_size == 0 {
        return Err(DataError::InvalidParameter(
            "the batch size must be at least 1".into(),
        ));
    }
    let mut builder = DataLoaderBuilder::new(SequenceBatcher::for_dataset(&dataset))
        .batch_size(batch_size)
        .num_workers(num_workers)
        .set_device(device.clone());
    if let Some(seed) = shuffle_seed {
        builder = builder.shuffle(seed);
    }
    Ok(builder.build(dataset))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::TargetKind;
    use crate::dataset::tests::sample;

    fn floats<const D: usize>(tensor: Tensor<D>) -> Vec<f32> {
        tensor
            .into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .unwrap()
    }

    /// Value of sample b, step t, feature d: `100·b + 10·t + d`. T = 3, D = 2.
    fn values(b: usize, length: usize) -> Vec<f32> {
        (0..3)
            .flat_map(|t| {
                (0..2).map(move |d| {
                    if t < length {
                        (100 * b + 10 * t + d) as f32
                    } else {
                        0.0
                    }
                })
            })
            .collect()
    }

    #[test]
    fn regression_batch_puts_values_at_b_t_d() {
        let device = Device::flex();
        let items = vec![
            sample("a", values(0, 3), 3, Target::Regression(vec![1.0, 2.0])),
            sample("b", values(1, 2), 2, Target::Regression(vec![3.0, 4.0])),
        ];
        let batch = SequenceBatcher::new(3, 2).batch(items, &device);
        assert_eq!(batch.inputs.dims(), [2, 3, 2]);
        let inputs = floats(batch.inputs.clone());
        for b in 0..2 {
            for t in 0..3 {
                for d in 0..2 {
                    let expected = if b == 1 && t == 2 {
                        0.0
                    } else {
                        (100 * b + 10 * t + d) as f32
                    };
                    assert_eq!(inputs[(b * 3 + t) * 2 + d], expected, "[{b},{t},{d}]");
                }
            }
        }
        assert_eq!(batch.lengths, vec![3, 2]);
        assert_eq!(batch.ids, vec!["a", "b"]);
        let BatchTargets::Regression(targets) = batch.targets else {
            panic!("expected regression targets")
        };
        assert_eq!(targets.dims(), [2, 2]);
        assert_eq!(floats(targets), vec![1.0, 2.0, 3.0, 4.0]);
    }

    #[test]
    fn class_and_per_step_targets() {
        let device = Device::flex();
        let batcher = SequenceBatcher::new(3, 2);
        let classes = batcher.batch(
            vec![
                sample("a", values(0, 3), 3, Target::Class(2)),
                sample("b", values(1, 3), 3, Target::Class(0)),
            ],
            &device,
        );
        let BatchTargets::Classes(targets) = classes.targets else {
            panic!("expected class targets")
        };
        assert_eq!(targets.dims(), [2]);
        let ints = targets
            .into_data()
            .convert::<i64>()
            .try_to_vec::<i64>()
            .unwrap();
        assert_eq!(ints, vec![2, 0]);

        let per_step = batcher.batch(
            vec![
                sample("a", values(0, 3), 3, Target::PerStep(vec![1.0, 2.0, 3.0])),
                sample("b", values(1, 1), 1, Target::PerStep(vec![4.0, 0.0, 0.0])),
            ],
            &device,
        );
        let BatchTargets::PerStep(targets) = per_step.targets else {
            panic!("expected per-step targets")
        };
        assert_eq!(targets.dims(), [2, 3, 1]);
        assert_eq!(floats(targets), vec![1.0, 2.0, 3.0, 4.0, 0.0, 0.0]);
    }

    #[test]
    #[should_panic(expected = "sample 1 (id \"b\")")]
    fn mixed_kinds_panic_with_a_clear_message() {
        SequenceBatcher::new(3, 2).batch(
            vec![
                sample("a", values(0, 3), 3, Target::Regression(vec![1.0])),
                sample("b", values(1, 3), 3, Target::Class(0)),
            ],
            &Device::flex(),
        );
    }

    #[test]
    fn dataloader_batches_every_sample_once() {
        let samples = (0..5)
            .map(|i| sample(&format!("s{i}"), values(i, 3), 3, Target::Class(i % 2)))
            .collect();
        let data =
            SequenceDataset::new(samples, 3, 2, TargetKind::Classification { classes: 2 }).unwrap();
        let device = Device::flex();
        assert!(dataloader(data.clone(), 0, None, 0, &device).is_err());
        for (seed, workers) in [(None, 0), (Some(3), 2)] {
            let loader = dataloader(data.clone(), 2, seed, workers, &device).unwrap();
            assert_eq!(loader.num_items(), 5);
            let mut ids = Vec::new();
            let mut sizes = Vec::new();
            for batch in loader.iter() {
                let batch = batch.unwrap();
                sizes.push(batch.inputs.dims()[0]);
                ids.extend(batch.ids);
            }
            sizes.sort_unstable();
            assert_eq!(sizes, vec![1, 2, 2]);
            ids.sort();
            assert_eq!(ids, vec!["s0", "s1", "s2", "s3", "s4"]);
        }
    }
}
