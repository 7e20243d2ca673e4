//! The layouts: which columns of a long or wide CSV file hold ids, times, features and targets,
//! and the policies for missing values and padding.

use serde::{Deserialize, Serialize};

use super::missing::MissingValues;
use super::targets::CsvTarget;
use crate::error::{DataError, Result};
use crate::pad::Truncation;

/// The columns and policies of a long-format CSV file (one row per sample and step).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LongCsvLayout {
    /// The sample id column (any text).
    pub id: String,
    /// The time column (numbers), used to order the steps of each id.
    pub time: String,
    /// The D feature columns, in feature order.
    pub features: Vec<String>,
    /// The target columns.
    pub target: CsvTarget,
    /// The policy for empty cells in feature and per-step target columns.
    pub missing: MissingValues,
    /// Pad every sample to this many steps (with zeros, keeping its length). Without it, samples
    /// with different numbers of steps are an error.
    pub pad_to: Option<usize>,
    /// What to do with samples longer than `pad_to`.
    pub truncation: Truncation,
}

impl LongCsvLayout {
    /// A layout with [`MissingValues::Error`], no padding and [`Truncation::Error`].
    pub fn new(id: &str, time: &str, features: &[&str], target: CsvTarget) -> Self {
        Self {
            id: id.to_string(),
            time: time.to_string(),
            features: features.iter().map(|f| f.to_string()).collect(),
            target,
            missing: MissingValues::Error,
            pad_to: None,
            truncation: Truncation::Error,
        }
    }

    /// Sets the missing value policy.
    pub fn with_missing(mut self, missing: MissingValues) -> Self {
        self.missing = missing;
        self
    }

    /// Pads every sample to `steps` steps, cutting longer ones by `truncation`.
    pub fn with_padding(mut self, steps: usize, truncation: Truncation) -> Self {
        self.pad_to = Some(steps);
        self.truncation = truncation;
        self
    }
}

/// One feature of a wide-format file: its name and its columns in step order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WideFeature {
    /// The feature name (becomes the dataset's feature name).
    pub name: String,
    /// One column per step, step 0 first.
    pub columns: Vec<String>,
}

impl WideFeature {
    /// A feature with explicit columns in step order.
    pub fn new(name: &str, columns: &[&str]) -> Self {
        Self {
            name: name.to_string(),
            columns: columns.iter().map(|c| c.to_string()).collect(),
        }
    }

    /// The columns `{name}_0, {name}_1, ..., {name}_{steps-1}` (e.g. `hr_0..hr_23`).
    pub fn numbered(name: &str, steps: usize) -> Self {
        Self {
            name: name.to_string(),
            columns: (0..steps).map(|t| format!("{name}_{t}")).collect(),
        }
    }

    /// The columns made by replacing `{t}` in `pattern` with each step number in `steps`
    /// (e.g. `("hr", "hr[{t}]", 1..25)` gives `hr[1]..hr[24]`).
    pub fn pattern(name: &str, pattern: &str, steps: std::ops::Range<usize>) -> Self {
        Self {
            name: name.to_string(),
            columns: steps
                .map(|t| pattern.replace("{t}", &t.to_string()))
                .collect(),
        }
    }
}

/// The columns and policy of a wide-format CSV file (one row per sample).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WideCsvLayout {
    /// The sample id column; without one, a sample's id is its 0-based data row number.
    pub id: Option<String>,
    /// The D features; all must list the same number of step columns T.
    pub features: Vec<WideFeature>,
    /// The target columns ([`CsvTarget::PerStep`] is not supported in wide format).
    pub target: CsvTarget,
    /// The policy for empty cells ([`MissingValues::DropRow`] drops the whole sample).
    pub missing: MissingValues,
}

impl WideCsvLayout {
    /// A layout with [`MissingValues::Error`].
    pub fn new(id: Option<&str>, features: Vec<WideFeature>, target: CsvTarget) -> Self {
        Self {
            id: id.map(str::to_string),
            features,
            target,
            missing: MissingValues::Error,
        }
    }

    /// Sets the missing value policy.
    pub fn with_missing(mut self, missing: MissingValues) -> Self {
        self.missing = missing;
        self
    }
}

/// An error when a layout lists no `what` (columns, labels).
pub(super) fn non_empty(names: &[String], what: &str) -> Result<()> {
    if names.is_empty() {
        return Err(DataError::InvalidParameter(format!(
            "the layout lists no {what}"
        )));
    }
    Ok(())
}
