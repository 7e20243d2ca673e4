//! Writing a dataset's inputs back out as a long CSV file: one row per sample and valid step,
//! `id,time,<feature columns>`, the form [`read_long_sequences`](crate::read_long_sequences)
//! and `burn-rnn predict` read. Targets are not written.

use std::io::Write;
use std::path::Path;

use crate::dataset::SequenceDataset;
use crate::error::{DataError, Result};

/// The name of the sequence id column of [`write_long_csv`].
pub const ID_COLUMN: &str = "id";
/// The name of the time (step) column of [`write_long_csv`]; steps count from 0.
pub const TIME_COLUMN: &str = "time";

/// Writes the valid steps of every sample of `data` to `path` as a long CSV file: a header
/// `id,time,<feature names>`, then one row per sample and step (padding left out), values in
/// the data's units. Errors name the file; a feature named `id` or `time` is refused, as the
/// file could not be read back.
///
/// ```
/// # use burn_rnn_data::{read_long_sequences, synth::HealthcareConfig, write_long_csv};
/// let cohort = HealthcareConfig { patients: 4, ..Default::default() }.generate()?;
/// let data = cohort.forecasting_dataset()?;
/// let path = std::env::temp_dir().join("burn-rnn-doc-vitals.csv");
/// write_long_csv(&path, &data)?;
/// let names: Vec<&str> = data.feature_names().iter().map(String::as_str).collect();
/// let back = read_long_sequences(&path, "id", "time", &names)?;
/// assert_eq!(back.len(), 4);
/// # Ok::<(), burn_rnn_data::DataError>(())
/// ```
pub fn write_long_csv(path: impl AsRef<Path>, data: &SequenceDataset) -> Result<()> {
    let path = path.as_ref();
    let mut bytes = Vec::new();
    write_long_csv_to(&mut bytes, data).map_err(|message| io_error(path, message))?;
    burn_rnn_io::write_atomic(path, &bytes).map_err(|e| io_error(path, e.to_string()))
}

/// Like [`write_long_csv`], with each sample's target on every one of its rows, the file that
/// `burn-rnn train` and `burn-rnn evaluate` read: a class's name in a column called
/// `target_column`, or regression values in columns named by the target names. Per-step
/// targets are refused (the long reader cannot tell them from a forecast).
///
/// ```
/// # use burn_rnn_data::{DataHints, Task, inspect_csv, write_labelled_long_csv, synth::HealthcareConfig};
/// let cohort = HealthcareConfig { patients: 6, ..Default::default() }.generate()?;
/// let path = std::env::temp_dir().join("burn-rnn-doc-labelled.csv");
/// write_labelled_long_csv(&path, &cohort.deterioration_dataset()?, "outcome")?;
/// let seen = inspect_csv(&path, &DataHints { targets: vec!["outcome".into()], ..Default::default() })?;
/// assert_eq!((seen.spec.task, seen.sequences), (Task::Classify, 6));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn write_labelled_long_csv(
    path: impl AsRef<Path>,
    data: &SequenceDataset,
    target_column: &str,
) -> Result<()> {
    let path = path.as_ref();
    let targets = match data.target_kind() {
        crate::TargetKind::Classification { .. } => vec![target_column.to_string()],
        crate::TargetKind::Regression { .. } => data.target_names().to_vec(),
        crate::TargetKind::PerStep { .. } => {
            return Err(DataError::InvalidParameter(
                "per-step targets cannot be written beside the inputs of a long file".into(),
            ));
        }
    };
    let file = std::fs::File::create(path).map_err(|e| io_error(path, e.to_string()))?;
    write_rows(file, data, &targets).map_err(|message| io_error(path, message))
}

/// [`write_long_csv`] to any writer; the error is the writer's message.
fn write_long_csv_to(writer: impl Write, data: &SequenceDataset) -> Result<(), String> {
    write_rows(writer, data, &[])
}

/// The rows of a long file: id, time, features, then `targets` columns when not empty.
fn write_rows(
    writer: impl Write,
    data: &SequenceDataset,
    targets: &[String],
) -> Result<(), String> {
    if let Some(name) = data
        .feature_names()
        .iter()
        .find(|name| [ID_COLUMN, TIME_COLUMN].contains(&name.as_str()))
    {
        return Err(format!(
            "a feature is named `{name}`, which the long CSV file uses for its own column"
        ));
    }
    let mut out = csv::Writer::from_writer(writer);
    let mut header = vec![ID_COLUMN.to_string(), TIME_COLUMN.to_string()];
    header.extend(data.feature_names().iter().cloned());
    header.extend(targets.iter().cloned());
    out.write_record(&header).map_err(|e| e.to_string())?;
    for (sample, steps) in data.samples().iter().zip(data.sequences()) {
        let target: Vec<String> = match (&sample.target, targets.is_empty()) {
            (_, true) => Vec::new(),
            (crate::Target::Class(c), false) => vec![data.target_names()[*c].clone()],
            (crate::Target::Regression(v) | crate::Target::PerStep(v), false) => {
                v.iter().map(f32::to_string).collect()
            }
        };
        for (t, step) in steps.iter().enumerate() {
            let mut row = vec![sample.id.clone(), t.to_string()];
            row.extend(step.iter().map(f32::to_string));
            row.extend(target.iter().cloned());
            out.write_record(&row).map_err(|e| e.to_string())?;
        }
    }
    out.flush().map_err(|e| e.to_string())
}

fn io_error(path: &Path, message: String) -> DataError {
    DataError::Io {
        path: path.to_path_buf(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::{SequenceSample, Target, TargetKind};

    fn data(names: [&str; 2]) -> SequenceDataset {
        let sample = |id: &str, values: Vec<f32>, length| SequenceSample {
            id: id.into(),
            values,
            length,
            target: Target::Class(0),
        };
        SequenceDataset::new(
            vec![
                sample("a", vec![1.0, 2.5, 3.0, 4.0], 2),
                sample("b", vec![-1.0, 0.125, 0.0, 0.0], 1),
            ],
            2,
            2,
            TargetKind::Classification { classes: 2 },
        )
        .unwrap()
        .with_feature_names(names.map(String::from).to_vec())
        .unwrap()
    }

    #[test]
    fn writes_one_row_per_valid_step() {
        let mut bytes = Vec::new();
        write_long_csv_to(&mut bytes, &data(["hr", "bp"])).unwrap();
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            "id,time,hr,bp\na,0,1,2.5\na,1,3,4\nb,0,-1,0.125\n"
        );
    }

    #[test]
    fn round_trips_through_the_long_csv_reader() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data.csv");
        let data = data(["hr", "bp"]);
        write_long_csv(&path, &data).unwrap();
        let back =
            crate::read_long_sequences(&path, ID_COLUMN, TIME_COLUMN, &["hr", "bp"]).unwrap();
        let ids: Vec<&str> = back.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(ids, ["a", "b"]);
        for ((_, steps), expected) in back.iter().zip(data.sequences()) {
            assert_eq!(steps, &expected);
        }
    }

    #[test]
    fn errors_name_the_file_and_the_clashing_column() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("clash.csv");
        let err = write_long_csv(&path, &data(["time", "bp"]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("clash.csv") && err.contains("`time`"), "{err}");
        let missing = dir.path().join("no-such-dir").join("x.csv");
        let err = write_long_csv(&missing, &data(["hr", "bp"]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("no-such-dir"), "{err}");
    }
}
