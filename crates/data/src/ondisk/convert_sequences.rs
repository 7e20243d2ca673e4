//! Converting a classification or regression CSV file (long or wide) into the on-disk form of
//! its sequences, a part of the file at a time.

use std::collections::HashMap;
use std::path::Path;

use super::convert::{BodyWriter, stamp};
use super::format::{Entry, FileKind, Index, SequenceLayout};
use crate::csv::{DataSpec, RawTarget, Task, observed_labels, unknown_label};
use crate::dataset::TargetKind;
use crate::error::{DataError, Result};

/// Writes the sequences of `csv` read with `spec` to the on-disk file `out`, holding about
/// `chunk_rows` rows of the CSV file (and one sequence's record) at a time. With `classes`, the
/// labels are those classes (an unseen label is an error naming its line), as
/// [`DataSpec::read`] maps a file onto a model's classes.
pub(super) fn convert_sequences(
    csv: &Path,
    spec: &DataSpec,
    classes: Option<&[String]>,
    out: &Path,
    chunk_rows: usize,
) -> Result<()> {
    spec.validate()?;
    if spec.task == Task::Forecast {
        return Err(DataError::InvalidParameter(
            "OnDiskSequences holds one sequence per sample (classification or regression); \
             forecasting windows go on disk with OnDiskDataset"
                .into(),
        ));
    }
    let source = stamp(csv)?;
    let mut labels = Labels::new(classes);
    let mut body = BodyWriter::create(out)?;
    let mut entries = Vec::new();
    let mut longest = 0;
    let mut record = Vec::new();
    spec.for_each_sequence(csv, true, chunk_rows, &mut |one| {
        record.clear();
        match one.target {
            Some(RawTarget::Values(values)) => {
                record.extend(values.iter().flat_map(|v| v.to_le_bytes()));
            }
            Some(RawTarget::Label { label, line }) => {
                let code = labels.code(&label, || {
                    unknown_label(csv, line, &spec.targets[0], &label, classes.unwrap_or(&[]))
                })?;
                record.extend(code.to_le_bytes());
            }
            None => {
                return Err(DataError::InvalidParameter(format!(
                    "{}: sequence `{}` was read without its target",
                    csv.display(),
                    one.id
                )));
            }
        }
        record.extend(one.values.iter().flat_map(|v| v.to_le_bytes()));
        let offset = body.write(&record)?;
        entries.push(Entry {
            id: one.id,
            rows: one.steps as u64,
            offset,
        });
        longest = longest.max(one.rows);
        Ok(())
    })?;
    let (target_kind, target_names) = match spec.task {
        Task::Classify => {
            let names = labels.classes();
            let kind = TargetKind::Classification {
                classes: names.len(),
            };
            (kind, names)
        }
        _ => {
            let kind = TargetKind::Regression {
                outputs: spec.targets.len(),
            };
            (kind, spec.targets.clone())
        }
    };
    let layout = SequenceLayout {
        // As the in-memory reader pads: to the longest sequence in the file, at most max_steps.
        num_steps: spec.max_steps.map_or(longest, |max| max.min(longest)),
        target_kind,
        target_names,
        labels: labels.by_code,
        given_classes: classes.is_some(),
    };
    let index = Index {
        spec: spec.clone(),
        inputs: spec.features.clone(),
        target_inputs: Vec::new(),
        source,
        entries,
        sequences: Some(layout),
    };
    body.finish(FileKind::Sequences, &index, out)
}

/// The class labels met while converting, each with the code its records hold.
struct Labels {
    /// The label of each code.
    by_code: Vec<String>,
    code_of: HashMap<String, u32>,
    /// Whether the labels are fixed (the classes given), so that another one is an error.
    fixed: bool,
}

impl Labels {
    /// Fixed to `classes` when given (their codes are their class indices), else empty.
    fn new(classes: Option<&[String]>) -> Self {
        let by_code = classes.map(<[String]>::to_vec).unwrap_or_default();
        let code_of = (0u32..)
            .zip(&by_code)
            .map(|(c, l)| (l.clone(), c))
            .collect();
        Self {
            by_code,
            code_of,
            fixed: classes.is_some(),
        }
    }

    /// The code of `label`: a new one for a label first met, or `unknown()` when the labels
    /// are fixed.
    fn code(&mut self, label: &str, unknown: impl FnOnce() -> DataError) -> Result<u32> {
        if let Some(&code) = self.code_of.get(label) {
            return Ok(code);
        }
        if self.fixed {
            return Err(unknown());
        }
        let code = u32::try_from(self.by_code.len())
            .map_err(|_| DataError::InvalidParameter("more than 2³² class labels".into()))?;
        self.by_code.push(label.to_string());
        self.code_of.insert(label.to_string(), code);
        Ok(code)
    }

    /// The classes in class order: the fixed ones, or the labels met sorted as the in-memory
    /// reader sorts them.
    fn classes(&self) -> Vec<String> {
        match self.fixed {
            true => self.by_code.clone(),
            false => observed_labels(self.by_code.iter().map(String::as_str)),
        }
    }
}
