//! The sequences of a classification or regression file read a part at a time, for files too
//! big to hold in memory: the same sequences, steps, truncation and targets as
//! [`DataSpec::read`] (and, without targets, as [`DataSpec::read_inputs`]), handed on one by
//! one to the on-disk conversion and the lazy readers ([`crate::ondisk`]).

use std::path::Path;

use super::chunks::for_each_long_sample;
use super::layout::{LongCsvLayout, WideCsvLayout, non_empty};
use super::missing::MissingValues;
use super::spec::{DataSpec, Format, Task};
use super::targets::{CsvTarget, RawTarget};
use super::wide::for_each_wide_sample;
use crate::error::{DataError, Result};

/// Rows of a CSV file held at a time when reading it a part at a time (a long file's id is
/// always held whole).
pub(crate) const CHUNK_ROWS: usize = 1 << 16;

/// One sequence of a file, read a part of the file at a time.
pub(crate) struct StreamedSequence {
    /// Its id (a wide file without an id column: its 0-based row number).
    pub(crate) id: String,
    /// `steps × D` values, step-major: its last `max_steps` steps.
    pub(crate) values: Vec<f32>,
    /// Its steps (after the missing-value policy and `max_steps`).
    pub(crate) steps: usize,
    /// The rows (long) or step columns (wide) it has in the file, before any is dropped or
    /// cut: the in-memory reader pads every sequence to the longest of these (at most
    /// `max_steps`).
    pub(crate) rows: usize,
    /// Its target as written (a class label and its line, or the values); `None` when read
    /// without targets.
    pub(crate) target: Option<RawTarget>,
}

impl DataSpec {
    /// Calls `each` on every sequence of the classification or regression file `path`, in the
    /// order [`DataSpec::read`] gives them, holding about `chunk_rows` rows at a time (a long
    /// file's ids must have their rows together, see [`crate::ondisk`]). With `with_targets`,
    /// each sequence carries its target, read with the spec's missing-value policy; without,
    /// the file is read as [`DataSpec::read_inputs`] reads it (no target column needed).
    pub(crate) fn for_each_sequence(
        &self,
        path: &Path,
        with_targets: bool,
        chunk_rows: usize,
        each: &mut dyn FnMut(StreamedSequence) -> Result<()>,
    ) -> Result<()> {
        self.validate()?;
        if self.task == Task::Forecast {
            return Err(DataError::InvalidParameter(
                "forecasting reads windows over series, not one sequence per sample".into(),
            ));
        }
        let target = match (with_targets, self.task) {
            (false, _) => CsvTarget::PerStep(Vec::new()),
            (true, Task::Classify) => CsvTarget::class(&self.targets[0]),
            (true, _) => CsvTarget::Regression(self.targets.clone()),
        };
        // New data to predict on is read as `read_inputs` reads it: a missing value is an error.
        let missing = match with_targets {
            true => self.missing,
            false => MissingValues::Error,
        };
        let d = self.features.len();
        let keep_last = |values: Vec<f32>, steps: usize| match self.max_steps {
            Some(max) if max < steps => (values[(steps - max) * d..].to_vec(), max),
            _ => (values, steps),
        };
        match self.format {
            Format::Long => {
                let features: Vec<&str> = self.features.iter().map(String::as_str).collect();
                let layout =
                    LongCsvLayout::new(self.id_column(), self.time_column(), &features, target)
                        .with_missing(missing);
                non_empty(&layout.features, "feature columns")?;
                for_each_long_sample(path, &layout, with_targets, chunk_rows, &mut |one, rows| {
                    let steps = one.steps(d);
                    let (values, steps) = keep_last(one.values, steps);
                    each(StreamedSequence {
                        id: one.id,
                        values,
                        steps,
                        rows,
                        target: one.raw_target,
                    })
                })
            }
            Format::Wide => {
                let features = self.wide_features(path)?;
                let layout =
                    WideCsvLayout::new(self.id.as_deref(), features, target).with_missing(missing);
                for_each_wide_sample(path, &layout, with_targets, chunk_rows, &mut |one, raw| {
                    let rows = one.length;
                    let (values, steps) = keep_last(one.values, rows);
                    each(StreamedSequence {
                        id: one.id,
                        values,
                        steps,
                        rows,
                        target: raw,
                    })
                })
            }
        }
    }
}
