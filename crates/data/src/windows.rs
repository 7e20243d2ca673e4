//! Sliding windows over one long multivariate series (prices, sensor readings): each window of
//! T steps of the input columns is a sample, and its target is taken H steps ahead.
//!
//! For a window starting at row `s`, the inputs are rows `s..s+T` (input columns only) and
//! - many-to-one ([`WindowTarget::Last`]): the target columns at row `s + T + H - 1`
//!   (K values, [`Target::Regression`]);
//! - many-to-many ([`WindowTarget::PerStep`]): at each step `t`, the target columns at row
//!   `s + t + H` (the sequence shifted by H, `T×K` values, [`Target::PerStep`]);
//! - the next H steps ([`WindowTarget::Horizon`]): the target columns at every row
//!   `s + T .. s + T + H` (`H×K` values, horizon-major, [`Target::Regression`]), e.g. a 7-day
//!   forecast of sales.
//!
//! "Yesterday's price → today's price" is `T = 1, H = 1` with the price as input and target.
//! A window thus spans rows `s..s+T+H` ([`Windows::span`]); with `N` rows there are
//! `(N - T - H) / stride + 1` windows, starting at `0, stride, 2·stride, ...`.

use std::ops::Range;

use serde::{Deserialize, Serialize};

use crate::dataset::{SequenceDataset, SequenceSample, Target, TargetKind};
use crate::error::{DataError, Result};

/// How a window's target is laid out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum WindowTarget {
    /// The target columns at row `start + T + H - 1` (many-to-one).
    #[default]
    Last,
    /// The target columns at rows `start + H .. start + T + H` (many-to-many).
    PerStep,
    /// The target columns at each of the H rows after the window, `start + T .. start + T + H`:
    /// `H × K` values, horizon-major (`[h * K + k]`), named `<column> t+<h>` (many-to-one, a
    /// multi-step forecast). Needs `H ≥ 1`.
    Horizon,
}

/// The shape of the windows and which columns are inputs and targets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowSpec {
    /// T, the number of input steps per window (at least 1).
    pub window: usize,
    /// H, how many steps after the last input step the (last) target is. `H = 0` takes the
    /// target at the last input step, which only makes sense when targets are not inputs.
    pub horizon: usize,
    /// The distance between consecutive window starts (at least 1).
    pub stride: usize,
    /// The columns fed to the model, in order (D of them).
    pub inputs: Vec<usize>,
    /// The columns to predict, in order (K of them); may overlap the inputs.
    pub targets: Vec<usize>,
    /// Many-to-one or per-step targets.
    pub target: WindowTarget,
}

impl WindowSpec {
    /// Windows of `window` steps predicting `horizon` steps ahead, stride 1, many-to-one.
    pub fn new(window: usize, horizon: usize, inputs: Vec<usize>, targets: Vec<usize>) -> Self {
        Self {
            window,
            horizon,
            stride: 1,
            inputs,
            targets,
            target: WindowTarget::Last,
        }
    }

    /// Sets the stride.
    pub fn with_stride(mut self, stride: usize) -> Self {
        self.stride = stride;
        self
    }

    /// Sets the target layout.
    pub fn with_target(mut self, target: WindowTarget) -> Self {
        self.target = target;
        self
    }

    /// The number of rows one window covers, inputs and target: `T + H`.
    pub fn span(&self) -> usize {
        self.window + self.horizon
    }
}

/// The windows of a series as a dataset, with where each window starts in the series.
#[derive(Debug, Clone, PartialEq)]
pub struct Windows {
    /// One sample per window (id: its start row), T steps of D input columns, full length.
    pub dataset: SequenceDataset,
    /// The first row of each window, in sample order (increasing).
    pub starts: Vec<usize>,
    /// The spec the windows were made with.
    pub spec: WindowSpec,
}

impl Windows {
    /// The rows window `i` reads, inputs and target: `start..start + T + H`.
    pub fn span(&self, i: usize) -> Option<Range<usize>> {
        self.starts
            .get(i)
            .map(|&s| s..s + self.spec.window + self.spec.horizon)
    }

    /// The row of window `i`'s many-to-one target (`start + T + H - 1`), to map a prediction back
    /// to time. For `H = 0` this is the last input row.
    pub fn target_row(&self, i: usize) -> Option<usize> {
        self.span(i).map(|r| r.end - 1)
    }
}

/// Cuts a series of rows (`rows[i][c]`, every row with the same number of columns) into windows.
///
/// Errors: no rows, ragged rows (naming the row), non-finite values (naming row and column),
/// `T = 0`, `stride = 0`, no input or target columns, a column out of range, or a series
/// shorter than `T + H` rows.
///
/// ```
/// use burn_rnn_data::{Target, WindowSpec, sliding_windows};
///
/// // One column, rows 0, 1, ..., 9: windows of T = 3 steps predict the value H = 1 step later.
/// let rows: Vec<Vec<f32>> = (0..10).map(|i| vec![i as f32]).collect();
/// let windows = sliding_windows(&rows, &WindowSpec::new(3, 1, vec![0], vec![0]))?;
/// assert_eq!(windows.dataset.len(), 7); // (10 - 3 - 1) / stride + 1
/// let first = &windows.dataset.samples()[0];
/// assert_eq!(first.values, [0.0, 1.0, 2.0]);
/// assert_eq!(first.target, Target::Regression(vec![3.0]));
/// assert_eq!(windows.span(0), Some(0..4)); // rows read: inputs and target
/// # Ok::<(), burn_rnn_data::DataError>(())
/// ```
pub fn sliding_windows(rows: &[Vec<f32>], spec: &WindowSpec) -> Result<Windows> {
    let first = rows
        .first()
        .ok_or_else(|| DataError::Empty("the series has no rows".into()))?;
    let columns = first.len();
    let mut flat = Vec::with_capacity(rows.len() * columns);
    for (i, row) in rows.iter().enumerate() {
        if row.len() != columns {
            return Err(DataError::Shape {
                what: format!("series row {i}"),
                expected: format!("{columns} columns (as row 0)"),
                actual: format!("{} columns", row.len()),
            });
        }
        flat.extend_from_slice(row);
    }
    sliding_windows_flat(&flat, columns, spec)
}

/// Like [`sliding_windows`] on a flat row-major buffer of `len / columns` rows:
/// `values[row * columns + column]`.
pub fn sliding_windows_flat(values: &[f32], columns: usize, spec: &WindowSpec) -> Result<Windows> {
    if columns == 0 {
        return Err(DataError::InvalidParameter(
            "the series needs at least one column".into(),
        ));
    }
    if !values.len().is_multiple_of(columns) {
        return Err(DataError::Shape {
            what: "flat series buffer".into(),
            expected: format!("a multiple of {columns} values (whole rows)"),
            actual: format!("{} values", values.len()),
        });
    }
    let len = values.len() / columns;
    if len == 0 {
        return Err(DataError::Empty("the series has no rows".into()));
    }
    check_spec(spec, columns)?;
    if let Some(pos) = values.iter().position(|v| !v.is_finite()) {
        return Err(DataError::NonFinite {
            what: format!("series row {}, column {}", pos / columns, pos % columns),
            value: values[pos],
        });
    }
    let (t_len, h) = (spec.window, spec.horizon);
    if len < spec.span() {
        return Err(DataError::InvalidParameter(format!(
            "a window of T={t_len} steps with horizon H={h} needs at least {} rows, the series has {len}",
            spec.span()
        )));
    }
    let at = |row: usize, col: usize| values[row * columns + col];
    let starts: Vec<usize> = (0..=len - spec.span()).step_by(spec.stride).collect();
    let samples = starts
        .iter()
        .map(|&s| {
            let inputs = (s..s + t_len)
                .flat_map(|row| spec.inputs.iter().map(move |&c| at(row, c)))
                .collect();
            let target = match spec.target {
                WindowTarget::Last => Target::Regression(
                    spec.targets
                        .iter()
                        .map(|&c| at(s + t_len + h - 1, c))
                        .collect(),
                ),
                WindowTarget::PerStep => Target::PerStep(
                    (s + h..s + t_len + h)
                        .flat_map(|row| spec.targets.iter().map(move |&c| at(row, c)))
                        .collect(),
                ),
                WindowTarget::Horizon => Target::Regression(
                    (s + t_len..s + t_len + h)
                        .flat_map(|row| spec.targets.iter().map(move |&c| at(row, c)))
                        .collect(),
                ),
            };
            SequenceSample {
                id: s.to_string(),
                values: inputs,
                length: t_len,
                target,
            }
        })
        .collect();
    let outputs = spec.targets.len();
    let column_names: Vec<String> = spec.targets.iter().map(|c| format!("column {c}")).collect();
    let (kind, target_names) = match spec.target {
        WindowTarget::Last => (TargetKind::Regression { outputs }, column_names),
        WindowTarget::PerStep => (TargetKind::PerStep { outputs }, column_names),
        WindowTarget::Horizon => (
            TargetKind::Regression {
                outputs: outputs * h,
            },
            horizon_names(&column_names, h),
        ),
    };
    let dataset = SequenceDataset::new(samples, t_len, spec.inputs.len(), kind)?
        .with_feature_names(spec.inputs.iter().map(|c| format!("column {c}")).collect())?
        .with_target_names(target_names)?;
    Ok(Windows {
        dataset,
        starts,
        spec: spec.clone(),
    })
}

/// The names of a [`WindowTarget::Horizon`] forecast's `H × K` outputs, horizon-major:
/// `sales t+1, price t+1, sales t+2, ...` for the targets `names`.
pub fn horizon_names(names: &[String], horizon: usize) -> Vec<String> {
    (1..=horizon)
        .flat_map(|h| names.iter().map(move |n| format!("{n} t+{h}")))
        .collect()
}

fn check_spec(spec: &WindowSpec, columns: usize) -> Result<()> {
    if spec.target == WindowTarget::Horizon && spec.horizon == 0 {
        return Err(DataError::InvalidParameter(
            "a forecast of the next H steps needs a horizon of at least 1 step".into(),
        ));
    }
    if spec.window == 0 {
        return Err(DataError::InvalidParameter(
            "the window needs at least 1 step (T = 0)".into(),
        ));
    }
    if spec.stride == 0 {
        return Err(DataError::InvalidParameter(
            "the stride must be at least 1".into(),
        ));
    }
    for (what, list) in [("input", &spec.inputs), ("target", &spec.targets)] {
        if list.is_empty() {
            return Err(DataError::InvalidParameter(format!(
                "the window spec lists no {what} columns"
            )));
        }
        if let Some(c) = list.iter().find(|&&c| c >= columns) {
            return Err(DataError::InvalidParameter(format!(
                "{what} column {c} is out of range for a series of {columns} columns"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Row i is `[i, 100 + i]`.
    fn series(len: usize) -> Vec<Vec<f32>> {
        (0..len).map(|i| vec![i as f32, 100.0 + i as f32]).collect()
    }

    #[test]
    fn yesterday_predicts_today() {
        let w = sliding_windows(&series(4), &WindowSpec::new(1, 1, vec![0], vec![0])).unwrap();
        assert_eq!(w.starts, vec![0, 1, 2]);
        let pairs: Vec<_> = w
            .dataset
            .samples()
            .iter()
            .map(|s| (s.values.clone(), s.target.clone()))
            .collect();
        assert_eq!(
            pairs,
            vec![
                (vec![0.0], Target::Regression(vec![1.0])),
                (vec![1.0], Target::Regression(vec![2.0])),
                (vec![2.0], Target::Regression(vec![3.0])),
            ]
        );
        assert_eq!(w.target_row(2), Some(3));
    }

    #[test]
    fn horizon_stride_and_columns() {
        let spec = WindowSpec::new(3, 2, vec![1, 0], vec![1]).with_stride(2);
        let w = sliding_windows(&series(10), &spec).unwrap();
        // (10 - 3 - 2) / 2 + 1 = 3 windows.
        assert_eq!(w.starts, vec![0, 2, 4]);
        let s = &w.dataset.samples()[1];
        assert_eq!(s.id, "2");
        assert_eq!(s.values, vec![102.0, 2.0, 103.0, 3.0, 104.0, 4.0]);
        // Target at row 2 + 3 + 2 - 1 = 6.
        assert_eq!(s.target, Target::Regression(vec![106.0]));
        assert_eq!(w.span(1), Some(2..7));
        assert_eq!(w.dataset.num_features(), 2);
    }

    #[test]
    fn per_step_targets_are_shifted_by_horizon() {
        let spec = WindowSpec::new(3, 1, vec![0], vec![0, 1]).with_target(WindowTarget::PerStep);
        let w = sliding_windows(&series(5), &spec).unwrap();
        assert_eq!(w.starts, vec![0, 1]);
        assert_eq!(
            w.dataset.samples()[1].target,
            Target::PerStep(vec![2.0, 102.0, 3.0, 103.0, 4.0, 104.0])
        );
        assert_eq!(w.dataset.target_kind(), TargetKind::PerStep { outputs: 2 });
    }

    #[test]
    fn rejects_bad_input() {
        let spec = WindowSpec::new(4, 2, vec![0], vec![0]);
        let err = sliding_windows(&series(5), &spec).unwrap_err();
        assert!(err.to_string().contains("needs at least 6 rows"), "{err}");
        assert!(sliding_windows(&series(6), &spec).is_ok());
        assert!(matches!(
            sliding_windows(&[], &spec),
            Err(DataError::Empty(_))
        ));
        let mut ragged = series(8);
        ragged[3].pop();
        let err = sliding_windows(&ragged, &spec).unwrap_err();
        assert!(err.to_string().contains("row 3"), "{err}");
        let mut nan = series(8);
        nan[5][1] = f32::NAN;
        let err = sliding_windows(&nan, &spec).unwrap_err();
        assert!(err.to_string().contains("row 5, column 1"), "{err}");
        let bad_column = WindowSpec::new(2, 1, vec![2], vec![0]);
        assert!(sliding_windows(&series(8), &bad_column).is_err());
        assert!(sliding_windows(&series(8), &WindowSpec::new(0, 1, vec![0], vec![0])).is_err());
        assert!(sliding_windows(&series(8), &spec.clone().with_stride(0)).is_err());
        assert!(sliding_windows(&series(8), &WindowSpec::new(2, 1, vec![], vec![0])).is_err());
        assert!(sliding_windows_flat(&[1.0, 2.0, 3.0], 2, &spec).is_err());
    }

    #[test]
    fn horizon_targets_are_the_next_h_rows() {
        let spec = WindowSpec::new(2, 3, vec![0], vec![0, 1]).with_target(WindowTarget::Horizon);
        let w = sliding_windows(&series(6), &spec).unwrap();
        assert_eq!(w.starts, vec![0, 1]);
        assert_eq!(
            w.dataset.samples()[1].target,
            Target::Regression(vec![3.0, 103.0, 4.0, 104.0, 5.0, 105.0])
        );
        assert_eq!(
            w.dataset.target_kind(),
            TargetKind::Regression { outputs: 6 }
        );
        assert_eq!(
            w.dataset.target_names()[..3],
            ["column 0 t+1", "column 1 t+1", "column 0 t+2"]
        );
        let zero = WindowSpec::new(2, 0, vec![0], vec![0]).with_target(WindowTarget::Horizon);
        assert!(sliding_windows(&series(6), &zero).is_err());
    }

    proptest! {
        #[test]
        fn stride_one_windows_cover_the_series(len in 1usize..60, window in 1usize..10, horizon in 0usize..5) {
            let rows = series(len);
            let spec = WindowSpec::new(window, horizon, vec![0], vec![1]);
            let result = sliding_windows(&rows, &spec);
            if len < window + horizon {
                prop_assert!(result.is_err());
                return Ok(());
            }
            let w = result.unwrap();
            prop_assert_eq!(w.starts.len(), len - window - horizon + 1);
            prop_assert_eq!(w.dataset.len(), w.starts.len());
            let mut used = vec![false; len];
            for i in 0..w.starts.len() {
                for row in w.span(i).unwrap() {
                    used[row] = true;
                }
                let s = &w.dataset.samples()[i];
                let start = w.starts[i];
                let expected: Vec<f32> = (start..start + window).map(|r| r as f32).collect();
                prop_assert_eq!(&s.values, &expected);
                let target_row = w.target_row(i).unwrap();
                prop_assert_eq!(&s.target, &Target::Regression(vec![100.0 + target_row as f32]));
            }
            prop_assert!(used.iter().all(|&u| u), "every row is in some window");
            prop_assert_eq!(w.span(w.starts.len() - 1).unwrap().end, len);
        }
    }
}
