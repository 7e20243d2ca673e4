//! Target columns: which columns a layout reads targets from, and how the values and class
//! labels read from them become the dataset's [`Target`]s, target kind and target names.

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::layout::non_empty;
use super::table::{Column, Table};
use crate::dataset::{SequenceDataset, SequenceSample, Target, TargetKind};
use crate::error::{DataError, Result};

/// Which columns hold the targets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum CsvTarget {
    /// K regression values per sample, one column each.
    Regression(Vec<String>),
    /// One column of class labels (any text). With `labels`, those are the classes in index order
    /// and any other label is an error; without, the observed labels sorted (numerically when they
    /// are all integers, otherwise as text), so files with the same label set agree.
    Class {
        /// The label column.
        column: String,
        /// The classes, in index order, when fixed by the caller.
        labels: Option<Vec<String>>,
    },
    /// K values at every step, one column each (long format only).
    PerStep(Vec<String>),
}

impl CsvTarget {
    /// Regression on the given columns.
    pub fn regression(columns: &[&str]) -> Self {
        Self::Regression(columns.iter().map(|c| c.to_string()).collect())
    }

    /// Classification on the labels of `column`, classes sorted as described on [`CsvTarget::Class`].
    pub fn class(column: &str) -> Self {
        Self::Class {
            column: column.to_string(),
            labels: None,
        }
    }

    /// Classification on the labels of `column` with the classes given in index order.
    pub fn class_with_labels(column: &str, labels: &[&str]) -> Self {
        Self::Class {
            column: column.to_string(),
            labels: Some(labels.iter().map(|l| l.to_string()).collect()),
        }
    }

    /// Per-step regression on the given columns (long format only).
    pub fn per_step(columns: &[&str]) -> Self {
        Self::PerStep(columns.iter().map(|c| c.to_string()).collect())
    }

    /// The per-step target columns; none unless [`CsvTarget::PerStep`].
    pub(super) fn per_step_columns(&self) -> &[String] {
        match self {
            Self::PerStep(names) => names,
            _ => &[],
        }
    }
}

/// The per-sample target columns found in a table.
pub(super) enum SampleTarget {
    /// No per-sample target: per-step targets, or none read at all.
    None,
    /// One regression value per column.
    Regression(Vec<Column>),
    /// One class label column.
    Class(Column),
}

impl SampleTarget {
    /// Finds the per-sample target columns of `target` in `table`, after checking that the
    /// layout lists some.
    pub(super) fn find(table: &Table, target: &CsvTarget) -> Result<Self> {
        Ok(match target {
            CsvTarget::Regression(names) => {
                non_empty(names, "regression target columns")?;
                Self::Regression(table.columns(names)?)
            }
            CsvTarget::Class { column, labels } => {
                if let Some(labels) = labels {
                    non_empty(labels, "class labels")?;
                }
                Self::Class(table.column(column)?)
            }
            CsvTarget::PerStep(names) => {
                non_empty(names, "per-step target columns")?;
                Self::None
            }
        })
    }

    /// The columns, in target order.
    pub(super) fn columns(&self) -> &[Column] {
        match self {
            Self::None => &[],
            Self::Regression(columns) => columns,
            Self::Class(column) => std::slice::from_ref(column),
        }
    }

    /// Whether two cells of a target column mean the same target (numbers compare as numbers).
    pub(super) fn same(&self, a: &str, b: &str) -> bool {
        match self {
            Self::Regression(_) => match (a.parse::<f32>(), b.parse::<f32>()) {
                (Ok(x), Ok(y)) => x == y,
                _ => a == b,
            },
            _ => a == b,
        }
    }
}

/// A per-sample target read from the file, before class labels become indices.
pub(crate) enum RawTarget {
    /// The regression values, one per target column.
    Values(Vec<f32>),
    /// The class label and the line it was read from.
    Label { label: String, line: u64 },
}

/// The targets of every sample with what the dataset records about them.
pub(super) struct ResolvedTargets {
    /// One target per sample, in sample order.
    pub(super) targets: Vec<Target>,
    /// The kind of all the targets.
    pub(super) kind: TargetKind,
    /// The target names: the regression or per-step columns, or the class labels in index order.
    pub(super) names: Vec<String>,
}

impl ResolvedTargets {
    /// Turns raw per-sample targets into [`Target`]s: regression values as they are, labels into
    /// indices. `target` is not [`CsvTarget::PerStep`] (those are read with the steps).
    pub(super) fn resolve(table: &Table, target: &CsvTarget, raw: Vec<RawTarget>) -> Result<Self> {
        match target {
            CsvTarget::Regression(names) => Ok(Self {
                targets: raw
                    .into_iter()
                    .map(|r| match r {
                        RawTarget::Values(v) => Target::Regression(v),
                        RawTarget::Label { .. } => unreachable!("regression targets are numbers"),
                    })
                    .collect(),
                kind: TargetKind::Regression {
                    outputs: names.len(),
                },
                names: names.clone(),
            }),
            CsvTarget::Class { column, labels } => {
                let labels = match labels {
                    Some(labels) => labels.clone(),
                    None => observed_labels(raw.iter().filter_map(|r| match r {
                        RawTarget::Label { label, .. } => Some(label.as_str()),
                        RawTarget::Values(_) => None,
                    })),
                };
                let index: HashMap<&str, usize> = labels
                    .iter()
                    .enumerate()
                    .map(|(i, l)| (l.as_str(), i))
                    .collect();
                let targets = raw
                    .iter()
                    .map(|r| match r {
                        RawTarget::Label { label, line } => index
                            .get(label.as_str())
                            .map(|&i| Target::Class(i))
                            .ok_or_else(|| {
                                unknown_label(&table.path, *line, column, label, &labels)
                            }),
                        RawTarget::Values(_) => unreachable!("class targets are labels"),
                    })
                    .collect::<Result<Vec<_>>>()?;
                Ok(Self {
                    targets,
                    kind: TargetKind::Classification {
                        classes: labels.len(),
                    },
                    names: labels,
                })
            }
            CsvTarget::PerStep(_) => unreachable!("per-step targets are read with the steps"),
        }
    }

    /// Per-step targets, already read with the steps, for the columns `names`.
    pub(super) fn per_step(targets: Vec<Target>, names: &[String]) -> Self {
        Self {
            targets,
            kind: TargetKind::PerStep {
                outputs: names.len(),
            },
            names: names.to_vec(),
        }
    }

    /// The dataset of `samples` (in target order) with these targets, `num_steps` steps each
    /// and the features `feature_names`.
    pub(super) fn into_dataset(
        self,
        samples: Vec<UntargetedSample>,
        num_steps: usize,
        feature_names: Vec<String>,
    ) -> Result<SequenceDataset> {
        let samples = samples
            .into_iter()
            .zip(self.targets)
            .map(|(sample, target)| SequenceSample {
                id: sample.id,
                values: sample.values,
                length: sample.length,
                target,
            })
            .collect();
        SequenceDataset::new(samples, num_steps, feature_names.len(), self.kind)?
            .with_feature_names(feature_names)?
            .with_target_names(self.names)
    }
}

/// A sample read and padded, waiting for its target.
pub(super) struct UntargetedSample {
    /// The sample id.
    pub(super) id: String,
    /// `T × D` values, step-major, padding as zeros.
    pub(super) values: Vec<f32>,
    /// The number of real (not padding) steps.
    pub(super) length: usize,
}

/// The error for a class label, at `line` of `path`, that is not one of the known `classes`.
pub(crate) fn unknown_label(
    path: &Path,
    line: u64,
    column: &str,
    label: &str,
    classes: &[String],
) -> DataError {
    DataError::Csv {
        path: path.to_path_buf(),
        line,
        column: Some(column.to_string()),
        message: format!(
            "label `{label}` is not one of the known classes [{}] (a model scores only the \
             classes it was trained on)",
            classes.join(", ")
        ),
    }
}

/// Distinct labels, sorted numerically when all are integers, otherwise as text.
pub(crate) fn observed_labels<'a>(labels: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut distinct: Vec<String> = labels.map(str::to_string).collect();
    distinct.sort();
    distinct.dedup();
    if distinct.iter().all(|l| l.parse::<i64>().is_ok()) {
        distinct.sort_by_key(|l| l.parse::<i64>().unwrap_or_default());
    }
    distinct
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_labels_sort_numerically() {
        assert_eq!(
            observed_labels(["10", "2", "1", "2"].into_iter()),
            vec!["1", "2", "10"]
        );
        assert_eq!(
            observed_labels(["b", "a", "10"].into_iter()),
            vec!["10", "a", "b"]
        );
    }
}
