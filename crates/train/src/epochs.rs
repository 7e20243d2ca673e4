//! The data loaders of a run: each pass over a split is one epoch, and the training split's
//! order in epoch `e` is drawn from `(seed, e)` alone.
//!
//! burn's `DataLoaderBuilder::shuffle(seed)` keeps one random generator for the whole run and
//! advances it at every pass; the Learner does not checkpoint it, so a resumed run would see
//! epoch 1's order again. Here a pass knows its epoch number (counted from the epoch the run
//! starts or resumes at), so a resumed run sees exactly the batches an uninterrupted one does.
//! The start of a training pass also reseeds the device's random generator from `(seed, e)`, for
//! the same reason (dropout masks).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataloader::{DataLoader, DataLoaderIterator, Progress};
use burn::data::dataset::DatasetError;
use burn::tensor::Device;
use burn_rnn_data::synth::SplitMix64;
use burn_rnn_data::{SequenceBatch, SequenceBatcher, SequenceSource};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use crate::guard::{Phase, StepGuard};
use crate::prefetch::Prefetch;

/// A loader over one split whose passes are numbered epochs.
#[derive(Clone)]
pub(crate) struct EpochLoader {
    dataset: Arc<dyn SequenceSource>,
    /// The samples of the split, in dataset order.
    indices: Arc<Vec<usize>>,
    /// The positions of each epoch's order this loader serves: all of them, or one device's
    /// share (see [`DataLoader::slice`]).
    window: (usize, usize),
    batcher: SequenceBatcher,
    batch_size: usize,
    device: Device,
    /// `Some(seed)` to shuffle each epoch (and reseed the device) from `(seed, epoch)`.
    shuffle: Option<u64>,
    phase: Phase,
    /// The epoch the next pass serves; shared by the copies burn makes with `to_device`.
    next_epoch: Arc<AtomicUsize>,
    guard: StepGuard,
}

impl EpochLoader {
    /// A loader for `phase` over `dataset` whose first pass is epoch `first_epoch`.
    pub(crate) fn new(
        dataset: Arc<dyn SequenceSource>,
        batch_size: usize,
        shuffle: Option<u64>,
        phase: Phase,
        first_epoch: usize,
        guard: StepGuard,
    ) -> Self {
        let indices = (0..dataset.num_samples()).collect();
        let window = (0, dataset.num_samples());
        // Stateful data comes in streams: one window of each stream per batch, in order.
        let batch_size = dataset.streams().map_or(batch_size, |s| s.count);
        Self {
            batcher: SequenceBatcher::new(dataset.num_steps(), dataset.num_features()),
            dataset,
            indices: Arc::new(indices),
            window,
            batch_size: batch_size.max(1),
            device: Device::default(),
            shuffle,
            phase,
            next_epoch: Arc::new(AtomicUsize::new(first_epoch)),
            guard,
        }
    }
}

/// The order of `len` samples in `epoch` of a run seeded with `seed`: a permutation that
/// depends on nothing else.
pub(crate) fn epoch_order(len: usize, seed: u64, epoch: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..len).collect();
    order.shuffle(&mut StdRng::seed_from_u64(epoch_seed(seed, epoch)));
    order
}

/// A seed for `epoch` of a run seeded with `seed` (SplitMix64 of both, so that nearby seeds and
/// epochs give unrelated streams).
pub(crate) fn epoch_seed(seed: u64, epoch: usize) -> u64 {
    let epoch = SplitMix64::new(epoch as u64).next_u64();
    SplitMix64::new(seed ^ epoch).next_u64()
}

/// The device seed of the share that starts at position `start` of an epoch's order: the
/// epoch's seed for the first share (and a single-device run), an unrelated one for the others,
/// so that the devices of a multi-device run do not draw the same dropout masks.
fn share_seed(epoch_seed: u64, start: usize) -> u64 {
    if start == 0 {
        epoch_seed
    } else {
        SplitMix64::new(epoch_seed ^ SplitMix64::new(start as u64).next_u64()).next_u64()
    }
}

impl DataLoader<SequenceBatch> for EpochLoader {
    fn iter<'a>(&'a self) -> Box<dyn DataLoaderIterator<SequenceBatch> + 'a> {
        let epoch = self.next_epoch.fetch_add(1, Ordering::SeqCst);
        self.guard.start_epoch(self.phase, epoch);
        let (start, end) = self.window;
        let order = match self.shuffle {
            Some(seed) if self.dataset.streams().is_some() => {
                self.device.seed(share_seed(epoch_seed(seed, epoch), start));
                self.indices[start..end].to_vec()
            }
            Some(seed) => {
                self.device.seed(share_seed(epoch_seed(seed, epoch), start));
                // The whole split's order of the epoch, of which this loader serves its share:
                // the devices of a multi-device run see disjoint parts of one permutation.
                epoch_order(self.indices.len(), seed, epoch)[start..end]
                    .iter()
                    .map(|&i| self.indices[i])
                    .collect()
            }
            None => self.indices[start..end].to_vec(),
        };
        let len = order.len();
        // A source read from disk is read a few batches ahead, on a thread of its own.
        let (order, prefetch) = if self.dataset.reads_lazily() && self.dataset.streams().is_none() {
            let prefetch = Prefetch::start(self.dataset.clone(), order, self.batch_size);
            (Vec::new(), Some(prefetch))
        } else {
            (order, None)
        };
        Box::new(EpochBatches {
            loader: self,
            order,
            len,
            position: 0,
            prefetch,
        })
    }

    fn num_items(&self) -> usize {
        self.window.1 - self.window.0
    }

    fn to_device(&self, device: &Device) -> Arc<dyn DataLoader<SequenceBatch>> {
        Arc::new(Self {
            device: device.clone(),
            ..self.clone()
        })
    }

    /// Positions `start..end` of each epoch's order (relative to this loader's own share):
    /// one device's share in burn's multi-device strategies. The order is still drawn over the
    /// whole split, so the shares of one epoch are disjoint and together cover the split, and a
    /// sample moves between devices from epoch to epoch as it would between batches.
    fn slice(&self, start: usize, end: usize) -> Arc<dyn DataLoader<SequenceBatch>> {
        let (first, last) = self.window;
        let end = (first + end).min(last);
        let start = (first + start).min(end);
        // A slice counts its own passes.
        let next_epoch = self.next_epoch.load(Ordering::SeqCst);
        Arc::new(Self {
            window: (start, end),
            next_epoch: Arc::new(AtomicUsize::new(next_epoch)),
            ..self.clone()
        })
    }
}

/// One pass: batches of the epoch's order.
struct EpochBatches<'a> {
    loader: &'a EpochLoader,
    /// The epoch's order (empty when `prefetch` holds it).
    order: Vec<usize>,
    /// The number of samples in the pass.
    len: usize,
    position: usize,
    /// The samples read ahead, for sources read from disk.
    prefetch: Option<Prefetch>,
}

impl Iterator for EpochBatches<'_> {
    type Item = Result<SequenceBatch, DatasetError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.position >= self.len {
            return None;
        }
        let end = (self.position + self.loader.batch_size).min(self.len);
        let dataset = &self.loader.dataset;
        let items = match &self.prefetch {
            Some(prefetch) => prefetch.next()?,
            None => self.order[self.position..end]
                .iter()
                .map(|&i| dataset.sample(i))
                .collect::<Result<Vec<_>, _>>(),
        };
        let items = match items {
            Ok(items) => items,
            Err(error) => {
                // The pass ends with the error (a damaged on-disk file), not a panic.
                self.position = self.len;
                return Some(Err(DatasetError::new(error)));
            }
        };
        let mut batch = self.loader.batcher.batch(items, &self.loader.device);
        if let Some(streams) = self.loader.dataset.streams() {
            let carry = self.order[self.position..end]
                .iter()
                .map(|&i| streams.continues[i])
                .collect();
            batch.carry = Some(carry);
        }
        self.position = end;
        Some(Ok(batch))
    }
}

impl DataLoaderIterator<SequenceBatch> for EpochBatches<'_> {
    fn progress(&self) -> Progress {
        Progress::new(self.position, self.len, Some("items".into()))
    }
}

#[cfg(test)]
mod tests {
    use burn::train::Interrupter;
    use burn_rnn_data::{SequenceDataset, SequenceSample, Target, TargetKind};

    use super::*;

    fn data(n: usize) -> SequenceDataset {
        let samples = (0..n)
            .map(|i| SequenceSample {
                id: format!("s{i}"),
                values: vec![i as f32],
                length: 1,
                target: Target::Regression(vec![i as f32]),
            })
            .collect();
        SequenceDataset::new(samples, 1, 1, TargetKind::Regression { outputs: 1 }).unwrap()
    }

    fn ids(loader: &EpochLoader) -> Vec<String> {
        loader
            .iter()
            .flat_map(|batch| batch.unwrap().ids)
            .collect::<Vec<_>>()
    }

    fn loader(first_epoch: usize, shuffle: Option<u64>) -> EpochLoader {
        let guard = StepGuard::new(Interrupter::new(), None);
        EpochLoader::new(
            Arc::new(data(10)),
            3,
            shuffle,
            Phase::Train,
            first_epoch,
            guard,
        )
    }

    #[test]
    fn an_epoch_order_depends_only_on_seed_and_epoch() {
        let uninterrupted = loader(1, Some(7));
        let orders: Vec<Vec<String>> = (0..4).map(|_| ids(&uninterrupted)).collect();
        assert_ne!(orders[0], orders[1], "each epoch has its own order");
        // A run resumed at epoch 3 sees epoch 3's order, and epoch 4's after it.
        let resumed = loader(3, Some(7));
        assert_eq!(ids(&resumed), orders[2]);
        assert_eq!(ids(&resumed), orders[3]);
        assert_ne!(
            ids(&loader(1, Some(8))),
            orders[0],
            "another seed, another order"
        );
        let mut sorted = orders[0].clone();
        sorted.sort_by_key(|id| id[1..].parse::<usize>().unwrap());
        assert_eq!(
            sorted,
            ids(&loader(1, None)),
            "a permutation of every sample"
        );
    }

    /// A source read lazily (so read ahead) whose sample `bad` cannot be read.
    #[derive(Debug)]
    struct Damaged {
        data: SequenceDataset,
        bad: usize,
    }

    impl SequenceSource for Damaged {
        fn num_samples(&self) -> usize {
            self.data.len()
        }
        fn sample(&self, index: usize) -> burn_rnn_data::Result<SequenceSample> {
            if index == self.bad {
                return Err(burn_rnn_data::DataError::InvalidParameter("damaged".into()));
            }
            SequenceSource::sample(&self.data, index)
        }
        fn num_steps(&self) -> usize {
            1
        }
        fn num_features(&self) -> usize {
            1
        }
        fn target_kind(&self) -> TargetKind {
            self.data.target_kind()
        }
        fn feature_names(&self) -> &[String] {
            self.data.feature_names()
        }
        fn target_names(&self) -> &[String] {
            self.data.target_names()
        }
        fn reads_lazily(&self) -> bool {
            true
        }
        fn fingerprint(&self, _crc: &mut burn_rnn_io::Crc32) {}
        fn normalized(
            &self,
            _normalizer: &burn_rnn_data::Normalizer,
        ) -> burn_rnn_data::Result<Arc<dyn SequenceSource>> {
            unimplemented!("not normalised here")
        }
    }

    #[test]
    fn a_source_read_ahead_gives_the_same_batches_and_ends_its_pass_at_an_error() {
        let guard = StepGuard::new(Interrupter::new(), None);
        let lazy = |bad| {
            let source = Damaged {
                data: data(10),
                bad,
            };
            EpochLoader::new(Arc::new(source), 3, Some(7), Phase::Train, 1, guard.clone())
        };
        assert_eq!(ids(&lazy(usize::MAX)), ids(&loader(1, Some(7))));
        let damaged = lazy(4);
        let results: Vec<_> = damaged.iter().collect();
        let error = results.iter().position(Result::is_err).expect("an error");
        assert_eq!(error, results.len() - 1, "the pass ends at the error");
        let message = results[error].as_ref().err().map(ToString::to_string);
        assert!(message.is_some_and(|m| m.contains("damaged")));
    }

    #[test]
    fn batches_cover_the_split_and_report_progress() {
        let loader = loader(1, None);
        let mut iter = loader.iter();
        let sizes: Vec<usize> = std::iter::from_fn(|| iter.next())
            .map(|b| b.unwrap().lengths.len())
            .collect();
        assert_eq!(sizes, [3, 3, 3, 1]);
        assert!(iter.progress().is_completed());
        assert_eq!(loader.num_items(), 10);
        assert_eq!(loader.slice(2, 5).num_items(), 3);
    }

    #[test]
    fn slices_share_out_one_permutation_of_the_epoch() {
        let whole = ids(&loader(1, Some(7)));
        let halves = loader(1, Some(7));
        let first = halves.slice(0, 5);
        let second = halves.slice(5, 10);
        let collect = |l: &Arc<dyn DataLoader<SequenceBatch>>| {
            l.iter()
                .flat_map(|b| b.unwrap().ids)
                .collect::<Vec<String>>()
        };
        let mut shares = collect(&first);
        shares.extend(collect(&second));
        assert_eq!(
            shares, whole,
            "epoch 1: the shares are the halves of its order"
        );
        let next = ids(&{
            let l = loader(1, Some(7));
            l.iter().for_each(drop);
            l
        });
        let mut shares = collect(&first);
        shares.extend(collect(&second));
        assert_eq!(shares, next, "epoch 2 too");
        assert_eq!(first.slice(1, 3).num_items(), 2);
    }
}
