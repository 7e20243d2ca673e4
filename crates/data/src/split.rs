//! Train / validation / test splits: random by sample (seeded), chronological for time series,
//! and chronological for sliding windows with the windows that straddle a boundary dropped so
//! no target of one split is an input of another (no look-ahead leakage).
//!
//! Every sample lands in exactly one split (or, for windows, in [`SplitIndices::dropped`]); an
//! empty split is an error.

use std::ops::Range;

use rand::seq::SliceRandom;
use rand::{SeedableRng, rngs::StdRng};

use crate::dataset::SequenceDataset;
use crate::error::{DataError, Result};
use crate::windows::Windows;

/// The shares of the data for training, validation and (optionally) testing; they sum to 1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SplitFractions {
    /// The training share, in `(0, 1)`.
    pub train: f64,
    /// The validation share, in `(0, 1)`.
    pub valid: f64,
    /// The test share, `0` for no test split.
    pub test: f64,
}

impl SplitFractions {
    /// `train` for training, the rest for validation, no test split.
    pub fn train_valid(train: f64) -> Self {
        Self {
            train,
            valid: 1.0 - train,
            test: 0.0,
        }
    }

    /// `train` for training, `valid` for validation, the rest for testing.
    pub fn train_valid_test(train: f64, valid: f64) -> Self {
        Self {
            train,
            valid,
            test: 1.0 - train - valid,
        }
    }

    fn check(&self) -> Result<()> {
        let ok = |f: f64| f.is_finite() && (0.0..=1.0).contains(&f);
        if !ok(self.train)
            || !ok(self.valid)
            || !ok(self.test)
            || self.train == 0.0
            || self.valid <= 0.0
        {
            return Err(DataError::InvalidParameter(format!(
                "split fractions train={}, valid={}, test={}: train and valid must be in (0, 1), test in [0, 1)",
                self.train, self.valid, self.test
            )));
        }
        if (self.train + self.valid + self.test - 1.0).abs() > 1e-9 {
            return Err(DataError::InvalidParameter(format!(
                "split fractions train={}, valid={}, test={} must sum to 1",
                self.train, self.valid, self.test
            )));
        }
        Ok(())
    }

    fn has_test(&self) -> bool {
        self.test > 1e-12
    }

    /// Counts of `n` items per split: rounded train and valid, the rest to test (or to valid
    /// when there is no test split).
    fn counts(&self, n: usize) -> (usize, usize, usize) {
        let train = ((self.train * n as f64).round() as usize).min(n);
        if !self.has_test() {
            return (train, n - train, 0);
        }
        let valid = ((self.valid * n as f64).round() as usize).min(n - train);
        (train, valid, n - train - valid)
    }
}

/// Which items (sample or window indices) go to which split, each list in increasing order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SplitIndices {
    /// Training items.
    pub train: Vec<usize>,
    /// Validation items.
    pub valid: Vec<usize>,
    /// Test items (empty when there is no test split).
    pub test: Vec<usize>,
    /// Windows left out because they straddle a split boundary (chronological window splits only).
    pub dropped: Vec<usize>,
}

impl SplitIndices {
    /// The datasets of these indices. `test` is `None` when there are no test indices.
    pub fn apply(&self, dataset: &SequenceDataset) -> Result<DatasetSplit> {
        Ok(DatasetSplit {
            train: dataset.subset(&self.train)?,
            valid: dataset.subset(&self.valid)?,
            test: if self.test.is_empty() {
                None
            } else {
                Some(dataset.subset(&self.test)?)
            },
        })
    }

    fn check_non_empty(&self, fractions: &SplitFractions, of: &str) -> Result<()> {
        let empty = if self.train.is_empty() {
            Some("training")
        } else if self.valid.is_empty() {
            Some("validation")
        } else if fractions.has_test() && self.test.is_empty() {
            Some("test")
        } else {
            None
        };
        match empty {
            Some(name) => Err(DataError::Empty(format!(
                "the {name} split of {of} with fractions train={}, valid={}, test={} has no items",
                fractions.train, fractions.valid, fractions.test
            ))),
            None => Ok(()),
        }
    }
}

/// A dataset split in two or three.
#[derive(Debug, Clone, PartialEq)]
pub struct DatasetSplit {
    /// The training samples.
    pub train: SequenceDataset,
    /// The validation samples.
    pub valid: SequenceDataset,
    /// The test samples, when a test fraction was given.
    pub test: Option<SequenceDataset>,
}

/// Shuffles `0..n` with `StdRng::seed_from_u64(seed)` and cuts it by `fractions`; each split's
/// indices are then sorted. Errors: bad fractions or an empty split.
pub fn random_indices(n: usize, fractions: SplitFractions, seed: u64) -> Result<SplitIndices> {
    fractions.check()?;
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut StdRng::seed_from_u64(seed));
    cut(&order, fractions, &format!("{n} samples"))
}

/// The first `train` share of `0..n` (in order) for training, then validation, then test.
/// Errors: bad fractions or an empty split.
pub fn chronological_indices(n: usize, fractions: SplitFractions) -> Result<SplitIndices> {
    fractions.check()?;
    let order: Vec<usize> = (0..n).collect();
    cut(&order, fractions, &format!("{n} samples"))
}

fn cut(order: &[usize], fractions: SplitFractions, of: &str) -> Result<SplitIndices> {
    let (train, valid, _) = fractions.counts(order.len());
    let sorted = |part: &[usize]| {
        let mut v = part.to_vec();
        v.sort_unstable();
        v
    };
    let split = SplitIndices {
        train: sorted(&order[..train]),
        valid: sorted(&order[train..train + valid]),
        test: sorted(&order[train + valid..]),
        dropped: Vec::new(),
    };
    split.check_non_empty(&fractions, of)?;
    Ok(split)
}

/// Splits the samples of `dataset` at random (seeded); see [`random_indices`].
///
/// ```
/// use burn_rnn_data::synth::SineConfig;
/// use burn_rnn_data::{SplitFractions, split_random};
///
/// let data = SineConfig::default().generate()?.next_value_dataset()?;
/// let split = split_random(&data, SplitFractions::train_valid_test(0.7, 0.15), 42)?;
/// let test = split.test.expect("a test share was asked for");
/// assert_eq!(split.train.len() + split.valid.len() + test.len(), data.len());
/// // The same seed gives the same split.
/// let again = split_random(&data, SplitFractions::train_valid_test(0.7, 0.15), 42)?;
/// assert_eq!(again.train, split.train);
/// # Ok::<(), burn_rnn_data::DataError>(())
/// ```
pub fn split_random(
    dataset: &SequenceDataset,
    fractions: SplitFractions,
    seed: u64,
) -> Result<DatasetSplit> {
    random_indices(dataset.len(), fractions, seed)?.apply(dataset)
}

/// Splits the samples of `dataset` in order (earliest first to training); see
/// [`chronological_indices`]. For windows over one series use [`split_windows`] instead, which
/// also removes the windows that overlap a boundary.
pub fn split_chronological(
    dataset: &SequenceDataset,
    fractions: SplitFractions,
) -> Result<DatasetSplit> {
    chronological_indices(dataset.len(), fractions)?.apply(dataset)
}

/// Splits windows over one series chronologically without leakage. The rows covered by the
/// windows, `0..max(span.end)`, are cut at `train` and `train + valid` of their count; a window
/// whose rows `span` (inputs and target) lie entirely in one part goes there, a window crossing
/// a boundary is listed in `dropped`.
///
/// Errors: bad fractions, no windows, an empty span, or an empty split.
pub fn window_indices(spans: &[Range<usize>], fractions: SplitFractions) -> Result<SplitIndices> {
    fractions.check()?;
    if spans.is_empty() {
        return Err(DataError::Empty("no windows to split".into()));
    }
    if let Some(i) = spans.iter().position(|s| s.is_empty()) {
        return Err(DataError::InvalidParameter(format!(
            "window {i} has an empty span {:?}",
            spans[i]
        )));
    }
    let rows = spans.iter().map(|s| s.end).max().unwrap_or(0);
    let (train_rows, valid_rows, _) = fractions.counts(rows);
    let boundaries = [0, train_rows, train_rows + valid_rows, rows];
    let mut split = SplitIndices::default();
    for (i, span) in spans.iter().enumerate() {
        let part = (0..3).find(|&p| span.start >= boundaries[p] && span.end <= boundaries[p + 1]);
        match part {
            Some(0) => split.train.push(i),
            Some(1) => split.valid.push(i),
            Some(_) => split.test.push(i),
            None => split.dropped.push(i),
        }
    }
    split.check_non_empty(
        &fractions,
        &format!("{} windows over {rows} rows", spans.len()),
    )?;
    Ok(split)
}

/// Splits [`Windows`] chronologically without leakage (see [`window_indices`]); also returns the
/// indices, whose `dropped` list says which windows were left out.
///
/// ```
/// use burn_rnn_data::{SplitFractions, WindowSpec, sliding_windows, split_windows};
///
/// // 20 rows, windows of 3 steps + 1 ahead: 17 windows starting at rows 0..=16.
/// let rows: Vec<Vec<f32>> = (0..20).map(|i| vec![i as f32]).collect();
/// let windows = sliding_windows(&rows, &WindowSpec::new(3, 1, vec![0], vec![0]))?;
/// let (split, indices) = split_windows(&windows, SplitFractions::train_valid(0.7))?;
/// // Rows 0..14 train, 14..20 validate; windows reading rows on both sides are dropped.
/// assert_eq!(indices.train, (0..=10).collect::<Vec<_>>());
/// assert_eq!(indices.dropped, [11, 12, 13]);
/// assert_eq!(indices.valid, [14, 15, 16]);
/// assert_eq!(split.valid.len(), 3);
/// # Ok::<(), burn_rnn_data::DataError>(())
/// ```
pub fn split_windows(
    windows: &Windows,
    fractions: SplitFractions,
) -> Result<(DatasetSplit, SplitIndices)> {
    let spans: Vec<Range<usize>> = (0..windows.starts.len())
        .filter_map(|i| windows.span(i))
        .collect();
    let indices = window_indices(&spans, fractions)?;
    Ok((indices.apply(&windows.dataset)?, indices))
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::dataset::{SequenceSample, Target, TargetKind};
    use crate::windows::{WindowSpec, sliding_windows};

    fn dataset(n: usize) -> SequenceDataset {
        let samples = (0..n)
            .map(|i| SequenceSample {
                id: format!("s{i}"),
                values: vec![i as f32],
                length: 1,
                target: Target::Regression(vec![0.0]),
            })
            .collect();
        SequenceDataset::new(samples, 1, 1, TargetKind::Regression { outputs: 1 }).unwrap()
    }

    fn ids(data: &SequenceDataset) -> Vec<String> {
        data.samples().iter().map(|s| s.id.clone()).collect()
    }

    #[test]
    fn random_split_is_disjoint_complete_and_seeded() {
        let data = dataset(20);
        let split = split_random(&data, SplitFractions::train_valid_test(0.6, 0.2), 7).unwrap();
        let test = split.test.as_ref().unwrap();
        assert_eq!(
            (split.train.len(), split.valid.len(), test.len()),
            (12, 4, 4)
        );
        let mut seen = HashSet::new();
        for id in ids(&split.train)
            .into_iter()
            .chain(ids(&split.valid))
            .chain(ids(test))
        {
            assert!(seen.insert(id.clone()), "{id} appears in two splits");
        }
        assert_eq!(seen.len(), 20);
        let again = split_random(&data, SplitFractions::train_valid_test(0.6, 0.2), 7).unwrap();
        assert_eq!(again, split);
        let other = split_random(&data, SplitFractions::train_valid_test(0.6, 0.2), 8).unwrap();
        assert_ne!(ids(&other.train), ids(&split.train));
        assert_ne!(
            ids(&split.train),
            ids(&data.subset(&(0..12).collect::<Vec<_>>()).unwrap())
        );
    }

    #[test]
    fn chronological_split_keeps_order() {
        let split = split_chronological(&dataset(10), SplitFractions::train_valid(0.7)).unwrap();
        assert_eq!(
            ids(&split.train),
            (0..7).map(|i| format!("s{i}")).collect::<Vec<_>>()
        );
        assert_eq!(ids(&split.valid), vec!["s7", "s8", "s9"]);
        assert!(split.test.is_none());
    }

    #[test]
    fn empty_splits_and_bad_fractions_are_errors() {
        let err =
            split_random(&dataset(2), SplitFractions::train_valid_test(0.5, 0.4), 1).unwrap_err();
        assert!(matches!(err, DataError::Empty(_)), "{err}");
        assert!(err.to_string().contains("test split"), "{err}");
        assert!(split_chronological(&dataset(1), SplitFractions::train_valid(0.5)).is_err());
        assert!(chronological_indices(0, SplitFractions::train_valid(0.5)).is_err());
        assert!(random_indices(10, SplitFractions::train_valid(1.0), 0).is_err());
        assert!(random_indices(10, SplitFractions::train_valid(-0.1), 0).is_err());
        let bad_sum = SplitFractions {
            train: 0.5,
            valid: 0.2,
            test: 0.1,
        };
        assert!(random_indices(10, bad_sum, 0).is_err());
    }

    #[test]
    fn window_split_drops_straddling_windows() {
        // 20 rows, T = 3, H = 1: spans s..s+4 for s in 0..=16.
        let rows: Vec<Vec<f32>> = (0..20).map(|i| vec![i as f32]).collect();
        let windows = sliding_windows(&rows, &WindowSpec::new(3, 1, vec![0], vec![0])).unwrap();
        let (split, indices) = split_windows(&windows, SplitFractions::train_valid(0.5)).unwrap();
        // Boundary at row 10: train spans end ≤ 10 (s ≤ 6), valid spans start ≥ 10 (s ≥ 10).
        assert_eq!(indices.train, (0..=6).collect::<Vec<_>>());
        assert_eq!(indices.valid, (10..=16).collect::<Vec<_>>());
        assert_eq!(indices.dropped, vec![7, 8, 9]);
        let train_end = indices
            .train
            .iter()
            .map(|&i| windows.span(i).unwrap().end)
            .max()
            .unwrap();
        let valid_start = indices
            .valid
            .iter()
            .map(|&i| windows.span(i).unwrap().start)
            .min()
            .unwrap();
        assert!(train_end <= valid_start, "no row is shared");
        assert_eq!(split.train.len(), 7);
        assert_eq!(split.valid.samples()[0].id, "10");
        let total =
            indices.train.len() + indices.valid.len() + indices.test.len() + indices.dropped.len();
        assert_eq!(total, windows.starts.len());

        let three = window_indices(
            &[0..2, 2..4, 4..6, 6..8, 8..10],
            SplitFractions::train_valid_test(0.6, 0.2),
        )
        .unwrap();
        assert_eq!(
            (three.train, three.valid, three.test),
            (vec![0, 1, 2], vec![3], vec![4])
        );
        assert!(window_indices(&[0..8, 1..9], SplitFractions::train_valid(0.5)).is_err());
        assert!(window_indices(&[], SplitFractions::train_valid(0.5)).is_err());
    }
}
