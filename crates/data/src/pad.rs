//! Padding variable-length sequences to one number of steps T, keeping their true lengths.
//!
//! Padding is always `0.0` and goes after the valid steps, so a sample's steps `0..length` are its
//! data and steps `length..T` are padding (the convention of [`SequenceSample`](crate::SequenceSample)).

use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};

/// What to do with a sequence longer than the requested number of steps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Truncation {
    /// Refuse it with an error naming the sequence (the default: nothing is cut silently).
    #[default]
    Error,
    /// Keep the first T steps (drop the most recent ones).
    KeepFirst,
    /// Keep the last T steps (drop the oldest ones), the usual choice for forecasting.
    KeepLast,
}

/// N sequences padded to a common T: a flat `N×T×D` buffer (sample-major, then step-major) and
/// each sequence's true length.
#[derive(Debug, Clone, PartialEq)]
pub struct Padded {
    /// `N×T×D` values: `values[(n * T + t) * D + d]`; steps at or after `lengths[n]` are `0.0`.
    pub values: Vec<f32>,
    /// The number of valid steps of each sequence (after truncation), each in `1..=T`.
    pub lengths: Vec<usize>,
    /// T, the common number of steps.
    pub num_steps: usize,
    /// D, the number of values per step.
    pub num_features: usize,
}

impl Padded {
    /// N, the number of sequences.
    pub fn len(&self) -> usize {
        self.lengths.len()
    }

    /// Whether there are no sequences (never true for a value built by [`pad_sequences`]).
    pub fn is_empty(&self) -> bool {
        self.lengths.is_empty()
    }

    /// The `T×D` values of sequence `n` (step-major), or `None` when `n` is out of range.
    pub fn sequence(&self, n: usize) -> Option<&[f32]> {
        let size = self.num_steps * self.num_features;
        self.values.get(n * size..(n + 1) * size)
    }
}

/// One sequence padded or truncated to T steps: `T×width` values (step-major) and its length.
#[derive(Debug, Clone, PartialEq)]
pub struct PaddedSequence {
    /// `T×width` values, step-major; steps at or after `length` are `0.0`.
    pub values: Vec<f32>,
    /// The number of valid steps, in `1..=T`.
    pub length: usize,
}

/// Pads sequences of `steps × D` values (`sequences[n][t][d]`, different numbers of steps) to a
/// common T: `max_steps` when given, otherwise the longest sequence. Sequences longer than T are
/// handled by `truncation`.
///
/// Errors: no sequences, an empty sequence, steps of different widths (naming sequence and step),
/// `max_steps == Some(0)`, or a sequence longer than T with [`Truncation::Error`].
///
/// ```
/// use burn_rnn_data::{Truncation, pad_sequences};
///
/// // Two sequences of D = 1 feature, 3 and 1 steps long.
/// let sequences = [vec![vec![1.0], vec![2.0], vec![3.0]], vec![vec![4.0]]];
/// let padded = pad_sequences(&sequences, None, Truncation::Error)?;
/// assert_eq!(padded.num_steps, 3);
/// assert_eq!(padded.lengths, [3, 1]);
/// assert_eq!(padded.sequence(1), Some(&[4.0, 0.0, 0.0][..]));
/// # Ok::<(), burn_rnn_data::DataError>(())
/// ```
pub fn pad_sequences(
    sequences: &[Vec<Vec<f32>>],
    max_steps: Option<usize>,
    truncation: Truncation,
) -> Result<Padded> {
    let first = sequences
        .first()
        .ok_or_else(|| DataError::Empty("no sequences to pad".into()))?;
    let num_features = first.first().map(Vec::len).ok_or_else(|| {
        DataError::Empty("sequence 0 has no steps; every sequence needs at least one".into())
    })?;
    if num_features == 0 {
        return Err(DataError::InvalidParameter(
            "sequence 0, step 0 has no values; every step needs at least one feature".into(),
        ));
    }
    let num_steps = match max_steps {
        Some(0) => {
            return Err(DataError::InvalidParameter(
                "cannot pad to 0 steps; max_steps must be at least 1".into(),
            ));
        }
        Some(t) => t,
        None => sequences.iter().map(Vec::len).max().unwrap_or(0),
    };
    let mut values = Vec::with_capacity(sequences.len() * num_steps * num_features);
    let mut lengths = Vec::with_capacity(sequences.len());
    for (n, sequence) in sequences.iter().enumerate() {
        let mut flat = Vec::with_capacity(sequence.len() * num_features);
        for (t, step) in sequence.iter().enumerate() {
            if step.len() != num_features {
                return Err(DataError::Shape {
                    what: format!("sequence {n}, step {t}"),
                    expected: format!("{num_features} features (as sequence 0, step 0)"),
                    actual: format!("{} features", step.len()),
                });
            }
            flat.extend_from_slice(step);
        }
        let padded = pad_steps(
            &flat,
            num_features,
            num_steps,
            truncation,
            &format!("sequence {n}"),
        )?;
        values.extend_from_slice(&padded.values);
        lengths.push(padded.length);
    }
    Ok(Padded {
        values,
        lengths,
        num_steps,
        num_features,
    })
}

/// Pads (or truncates) one step-major sequence of `values.len() / width` steps to `num_steps`
/// steps of `width` values. `what` names the sequence in errors (e.g. `sample "p7"`).
///
/// Errors: `width == 0`, `num_steps == 0`, a buffer that is not a whole number of steps, an
/// empty sequence, or a sequence longer than `num_steps` with [`Truncation::Error`].
pub fn pad_steps(
    values: &[f32],
    width: usize,
    num_steps: usize,
    truncation: Truncation,
    what: &str,
) -> Result<PaddedSequence> {
    if width == 0 || num_steps == 0 {
        return Err(DataError::InvalidParameter(format!(
            "padding {what} needs at least one step and one value per step (got T={num_steps}, width={width})"
        )));
    }
    if !values.len().is_multiple_of(width) {
        return Err(DataError::Shape {
            what: what.to_string(),
            expected: format!("a multiple of {width} values (whole steps)"),
            actual: format!("{} values", values.len()),
        });
    }
    let steps = values.len() / width;
    if steps == 0 {
        return Err(DataError::Empty(format!("{what} has no steps")));
    }
    let kept = match truncation {
        _ if steps <= num_steps => values,
        Truncation::Error => {
            return Err(DataError::Shape {
                what: what.to_string(),
                expected: format!("at most {num_steps} steps (choose a Truncation to cut it)"),
                actual: format!("{steps} steps"),
            });
        }
        Truncation::KeepFirst => &values[..num_steps * width],
        Truncation::KeepLast => &values[(steps - num_steps) * width..],
    };
    let mut padded = Vec::with_capacity(num_steps * width);
    padded.extend_from_slice(kept);
    padded.resize(num_steps * width, 0.0);
    Ok(PaddedSequence {
        values: padded,
        length: kept.len() / width,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seq(steps: &[&[f32]]) -> Vec<Vec<f32>> {
        steps.iter().map(|s| s.to_vec()).collect()
    }

    #[test]
    fn pads_to_longest_with_zeros() {
        let padded = pad_sequences(
            &[
                seq(&[&[1.0, 2.0]]),
                seq(&[&[3.0, 4.0], &[5.0, 6.0], &[7.0, 8.0]]),
            ],
            None,
            Truncation::Error,
        )
        .unwrap();
        assert_eq!(padded.num_steps, 3);
        assert_eq!(padded.num_features, 2);
        assert_eq!(padded.lengths, vec![1, 3]);
        assert_eq!(padded.sequence(0).unwrap(), &[1.0, 2.0, 0.0, 0.0, 0.0, 0.0]);
        assert_eq!(padded.sequence(1).unwrap(), &[3.0, 4.0, 5.0, 6.0, 7.0, 8.0]);
        assert!(padded.sequence(2).is_none());
    }

    #[test]
    fn truncation_policies() {
        let long = [seq(&[&[1.0], &[2.0], &[3.0]])];
        let err = pad_sequences(&long, Some(2), Truncation::Error).unwrap_err();
        assert!(err.to_string().contains("sequence 0"), "{err}");
        let first = pad_sequences(&long, Some(2), Truncation::KeepFirst).unwrap();
        assert_eq!(first.values, vec![1.0, 2.0]);
        assert_eq!(first.lengths, vec![2]);
        let last = pad_sequences(&long, Some(2), Truncation::KeepLast).unwrap();
        assert_eq!(last.values, vec![2.0, 3.0]);
        let wider = pad_sequences(&long, Some(4), Truncation::Error).unwrap();
        assert_eq!(wider.values, vec![1.0, 2.0, 3.0, 0.0]);
        assert_eq!(wider.lengths, vec![3]);
    }

    #[test]
    fn rejects_ragged_and_empty() {
        let err = pad_sequences(
            &[seq(&[&[1.0, 2.0]]), seq(&[&[1.0, 2.0], &[3.0]])],
            None,
            Truncation::Error,
        )
        .unwrap_err();
        assert!(err.to_string().contains("sequence 1, step 1"), "{err}");
        assert!(matches!(
            pad_sequences(&[], None, Truncation::Error),
            Err(DataError::Empty(_))
        ));
        let err = pad_sequences(&[seq(&[&[1.0]]), vec![]], None, Truncation::Error).unwrap_err();
        assert!(err.to_string().contains("sequence 1"), "{err}");
        assert!(pad_sequences(&[seq(&[&[1.0]])], Some(0), Truncation::Error).is_err());
        assert!(pad_steps(&[1.0, 2.0, 3.0], 2, 2, Truncation::Error, "x").is_err());
    }
}
