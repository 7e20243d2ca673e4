//! Reading a file for evaluation or prediction a chunk of sequences at a time, for files too
//! big to hold in memory: the sequences (and targets) or forecasting windows of
//! [`DataSpec::read`] and the inputs of [`DataSpec::read_inputs`], in the same order, handed on
//! `size` at a time.

use std::collections::HashMap;
use std::path::Path;

use super::chunks::for_each_series;
use super::forecast::{ForecastIndex, push_last_window, read_forecast_in_chunks};
use super::sample_stream::CHUNK_ROWS;
use super::spec::{DataSpec, SpecInputs, Task};
use super::targets::{RawTarget, unknown_label};
use crate::dataset::{SequenceDataset, Target};
use crate::error::{DataError, Result};

impl DataSpec {
    /// Reads the classification or regression file `path` with its targets, `size` sequences
    /// at a time (the last chunk may be shorter): the sequences of [`DataSpec::read`] with
    /// their valid steps only (`[n][steps][D]`, as [`crate::SequenceDataset::sequences`] gives
    /// them) and their targets, in the same order. Classification needs `classes` (a model's
    /// class names): labels are mapped onto them and an unseen one is an error naming its line.
    /// Holds one chunk of sequences and of rows at a time (a long file's ids must have their
    /// rows together, see [`crate::ondisk`]).
    pub fn read_in_chunks(
        &self,
        path: &Path,
        classes: Option<&[String]>,
        size: usize,
        each: &mut dyn FnMut(SpecInputs, Vec<Target>) -> Result<()>,
    ) -> Result<()> {
        let classes = match (self.task, classes) {
            (Task::Classify, None) => {
                return Err(DataError::InvalidParameter(
                    "reading a classification file in chunks needs the classes (a model's \
                     class names) to map its labels onto"
                        .into(),
                ));
            }
            (_, classes) => classes.unwrap_or(&[]),
        };
        let class_of: HashMap<&str, usize> =
            (0..).zip(classes).map(|(i, c)| (c.as_str(), i)).collect();
        let d = self.features.len();
        let mut chunk = (SpecInputs::default(), Vec::new());
        self.for_each_sequence(path, true, CHUNK_ROWS, &mut |one| {
            let target = match one.target {
                Some(RawTarget::Values(values)) => Target::Regression(values),
                Some(RawTarget::Label { label, line }) => match class_of.get(label.as_str()) {
                    Some(&class) => Target::Class(class),
                    None => {
                        let column = &self.targets[0];
                        return Err(unknown_label(path, line, column, &label, classes));
                    }
                },
                None => {
                    return Err(DataError::InvalidParameter(format!(
                        "{}: sequence `{}` was read without its target",
                        path.display(),
                        one.id
                    )));
                }
            };
            chunk.0.ids.push(one.id);
            chunk.0.sequences.push(steps(&one.values, d));
            chunk.1.push(target);
            if chunk.1.len() >= size {
                let (inputs, targets) = std::mem::take(&mut chunk);
                each(inputs, targets)?;
            }
            Ok(())
        })?;
        if !chunk.1.is_empty() {
            each(chunk.0, chunk.1)?;
        }
        Ok(())
    }

    /// Reads the forecasting file `path` as [`DataSpec::read`] does, `size` windows at a time
    /// (the last chunk may be shorter), each chunk with its index (series numbered over the
    /// whole file), in the same order: one chunk of windows and about one series' rows are
    /// held at a time (a long file's ids must have their rows together, see [`crate::ondisk`]).
    pub fn read_forecast_in_chunks(
        &self,
        path: &Path,
        size: usize,
        each: &mut dyn FnMut(SequenceDataset, ForecastIndex) -> Result<()>,
    ) -> Result<()> {
        self.validate()?;
        if self.task != Task::Forecast {
            return Err(DataError::InvalidParameter(
                "reading windows in chunks needs a forecasting spec".into(),
            ));
        }
        read_forecast_in_chunks(path, self, size, each)
    }

    /// Reads the sequences of `path` to predict on (no targets needed), `size` at a time (the
    /// last chunk may be shorter): the inputs of [`DataSpec::read_inputs`], in the same order,
    /// holding one chunk of sequences and of rows at a time (for forecasting, one series' rows
    /// at least; a long file's ids must have their rows together, see [`crate::ondisk`]).
    pub fn read_inputs_in_chunks(
        &self,
        path: &Path,
        size: usize,
        each: &mut dyn FnMut(SpecInputs) -> Result<()>,
    ) -> Result<()> {
        self.validate()?;
        let mut inputs = SpecInputs::default();
        let mut pass_on = |inputs: &mut SpecInputs, last: bool| -> Result<()> {
            if inputs.ids.len() >= size || (last && !inputs.ids.is_empty()) {
                each(std::mem::take(inputs))?;
            }
            Ok(())
        };
        if self.task == Task::Forecast {
            let window = self.forecast.map_or(1, |w| w.window);
            let d = self.input_names().len();
            for_each_series(path, self, CHUNK_ROWS, &mut |one| {
                push_last_window(&mut inputs, one.id, &one.times, &one.values, d, window);
                pass_on(&mut inputs, false)
            })?;
        } else {
            let d = self.features.len();
            self.for_each_sequence(path, false, CHUNK_ROWS, &mut |one| {
                inputs.ids.push(one.id);
                inputs.sequences.push(steps(&one.values, d));
                pass_on(&mut inputs, false)
            })?;
        }
        pass_on(&mut inputs, true)
    }
}

/// `steps × d` values as `[steps][d]`.
fn steps(values: &[f32], d: usize) -> Vec<Vec<f32>> {
    values.chunks(d).map(<[f32]>::to_vec).collect()
}
