//! Datasets built from values already in memory: nested `N×T×D` vectors or a flat buffer with a
//! shape. Every sample gets the id `"0"`, `"1"`, ... (its position) and length T (no padding;
//! pad ragged sequences first with [`pad_sequences`](crate::pad::pad_sequences) and build the
//! samples yourself when lengths differ).

use crate::dataset::{SequenceDataset, SequenceSample, Target, TargetKind};
use crate::error::{DataError, Result};

/// Builds a dataset from `values[n][t][d]` (N samples × T steps × D features) and one target per
/// sample. Every sample must have the same T and every step the same D as sample 0, step 0.
///
/// Errors name the sample and step at fault: ragged samples or steps, no samples, no steps, no
/// features, a number of targets other than N, non-finite values, targets not of `target_kind`.
///
/// ```
/// use burn_rnn_data::memory::{from_nested, regression_targets};
/// use burn_rnn_data::TargetKind;
///
/// // N = 2 samples × T = 3 steps × D = 1 feature, each with one value to predict.
/// let values = vec![
///     vec![vec![1.0], vec![2.0], vec![3.0]],
///     vec![vec![2.0], vec![4.0], vec![6.0]],
/// ];
/// let targets = regression_targets(vec![vec![4.0], vec![8.0]]);
/// let data = from_nested(&values, targets, TargetKind::Regression { outputs: 1 })?;
/// assert_eq!(data.samples()[1].values, [2.0, 4.0, 6.0]);
/// assert_eq!(data.samples()[1].id, "1");
/// # Ok::<(), burn_rnn_data::DataError>(())
/// ```
pub fn from_nested(
    values: &[Vec<Vec<f32>>],
    targets: Vec<Target>,
    target_kind: TargetKind,
) -> Result<SequenceDataset> {
    let first = values
        .first()
        .ok_or_else(|| DataError::Empty("no samples given".into()))?;
    let num_steps = first.len();
    let num_features = first.first().map(Vec::len).unwrap_or(0);
    if num_steps == 0 || num_features == 0 {
        return Err(DataError::InvalidParameter(format!(
            "sample 0 has {num_steps} steps and {num_features} features at step 0; both must be at least 1"
        )));
    }
    check_target_count(values.len(), targets.len())?;
    let mut samples = Vec::with_capacity(values.len());
    for (n, (sample, target)) in values.iter().zip(targets).enumerate() {
        if sample.len() != num_steps {
            return Err(DataError::Shape {
                what: format!("sample {n}"),
                expected: format!("{num_steps} steps (as sample 0)"),
                actual: format!("{} steps", sample.len()),
            });
        }
        let mut flat = Vec::with_capacity(num_steps * num_features);
        for (t, step) in sample.iter().enumerate() {
            if step.len() != num_features {
                return Err(DataError::Shape {
                    what: format!("sample {n}, step {t}"),
                    expected: format!("{num_features} features (as sample 0, step 0)"),
                    actual: format!("{} features", step.len()),
                });
            }
            flat.extend_from_slice(step);
        }
        samples.push(SequenceSample {
            id: n.to_string(),
            values: flat,
            length: num_steps,
            target,
        });
    }
    SequenceDataset::new(samples, num_steps, num_features, target_kind)
}

/// Builds a dataset from a flat buffer of shape `[N, T, D]` (`values[(n * T + t) * D + d]`) and
/// one target per sample.
///
/// Errors: a buffer length other than `N·T·D`, a zero dimension, a number of targets other than
/// N, non-finite values (naming sample, step and feature), targets not of `target_kind`.
pub fn from_flat(
    values: &[f32],
    shape: [usize; 3],
    targets: Vec<Target>,
    target_kind: TargetKind,
) -> Result<SequenceDataset> {
    let [n, t, d] = shape;
    if n == 0 {
        return Err(DataError::Empty("shape [N, T, D] has N = 0 samples".into()));
    }
    if t == 0 || d == 0 {
        return Err(DataError::InvalidParameter(format!(
            "shape [{n}, {t}, {d}] needs at least one step and one feature"
        )));
    }
    let size = n.checked_mul(t).and_then(|nt| nt.checked_mul(d));
    if size != Some(values.len()) {
        return Err(DataError::Shape {
            what: "flat value buffer".into(),
            expected: format!("[{n}, {t}, {d}] = {n}×{t}×{d} values"),
            actual: format!("{} values", values.len()),
        });
    }
    check_target_count(n, targets.len())?;
    let samples = values
        .chunks_exact(t * d)
        .zip(targets)
        .enumerate()
        .map(|(i, (chunk, target))| SequenceSample {
            id: i.to_string(),
            values: chunk.to_vec(),
            length: t,
            target,
        })
        .collect();
    SequenceDataset::new(samples, t, d, target_kind)
}

/// Wraps rows of K regression values (`targets[n][k]`) as [`Target::Regression`].
pub fn regression_targets(targets: Vec<Vec<f32>>) -> Vec<Target> {
    targets.into_iter().map(Target::Regression).collect()
}

/// Wraps class indices as [`Target::Class`].
pub fn class_targets(classes: &[usize]) -> Vec<Target> {
    classes.iter().copied().map(Target::Class).collect()
}

fn check_target_count(samples: usize, targets: usize) -> Result<()> {
    if samples != targets {
        return Err(DataError::Shape {
            what: "targets".into(),
            expected: format!("one target per sample ({samples})"),
            actual: format!("{targets} targets"),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const REG1: TargetKind = TargetKind::Regression { outputs: 1 };

    #[test]
    fn nested_and_flat_agree() {
        let nested = vec![
            vec![vec![1.0, 2.0], vec![3.0, 4.0], vec![5.0, 6.0]],
            vec![vec![7.0, 8.0], vec![9.0, 10.0], vec![11.0, 12.0]],
        ];
        let targets = regression_targets(vec![vec![0.5], vec![1.5]]);
        let a = from_nested(&nested, targets.clone(), REG1).unwrap();
        let flat: Vec<f32> = (1..=12).map(|v| v as f32).collect();
        let b = from_flat(&flat, [2, 3, 2], targets, REG1).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.num_steps(), 3);
        assert_eq!(a.num_features(), 2);
        assert_eq!(a.samples()[1].values[2 * 2 + 1], 12.0);
        assert_eq!(a.samples()[1].id, "1");
        assert_eq!(a.samples()[1].length, 3);
    }

    #[test]
    fn ragged_input_names_sample_and_step() {
        let ragged_steps = vec![vec![vec![1.0]], vec![vec![1.0], vec![2.0]]];
        let err = from_nested(&ragged_steps, class_targets(&[0, 1]), REG1).unwrap_err();
        assert!(err.to_string().contains("sample 1"), "{err}");
        let wrong_features = vec![vec![vec![1.0, 2.0], vec![3.0]]];
        let err =
            from_nested(&wrong_features, regression_targets(vec![vec![0.0]]), REG1).unwrap_err();
        assert!(err.to_string().contains("sample 0, step 1"), "{err}");
        assert!(err.to_string().contains("2 features"), "{err}");
    }

    #[test]
    fn rejects_bad_buffers_and_values() {
        let t = || regression_targets(vec![vec![0.0]]);
        assert!(matches!(
            from_nested(&[], vec![], REG1),
            Err(DataError::Empty(_))
        ));
        assert!(from_flat(&[1.0; 5], [1, 3, 2], t(), REG1).is_err());
        assert!(from_flat(&[], [0, 3, 2], vec![], REG1).is_err());
        let err = from_flat(&[1.0, f32::INFINITY], [1, 2, 1], t(), REG1).unwrap_err();
        assert!(err.to_string().contains("step 1, feature 0"), "{err}");
        let err = from_flat(&[1.0, 2.0], [1, 2, 1], vec![], REG1).unwrap_err();
        assert!(err.to_string().contains("one target per sample"), "{err}");
        let classes = TargetKind::Classification { classes: 2 };
        let data = from_flat(&[1.0, 2.0], [2, 1, 1], class_targets(&[1, 0]), classes).unwrap();
        assert_eq!(data.samples()[0].target, Target::Class(1));
    }
}
