//! The long-format readers (one row per sample and step): datasets padded to one length, and
//! target-less sequences of their own lengths for prediction.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::layout::{LongCsvLayout, non_empty};
use super::long_samples::{LongSample, long_samples};
use super::table::{MEMORY_SOURCE, Table, open};
use super::targets::{CsvTarget, ResolvedTargets, UntargetedSample};
use crate::dataset::{SequenceDataset, Target};
use crate::error::{DataError, Result};
use crate::pad::pad_steps;

/// Reads a long-format CSV file (see the [module docs](super)).
///
/// ```
/// use burn_rnn_data::{CsvTarget, LongCsvLayout, TargetKind, read_long_csv};
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("vitals.csv");
/// // Rows in any order: each patient's steps are sorted by hour.
/// std::fs::write(
///     &path,
///     "patient,hour,hr,spo2,outcome\n\
///      p1,0,80,97,died\n\
///      p2,1,72,98,survived\n\
///      p1,1,85,95,died\n\
///      p2,0,70,99,survived\n",
/// )?;
/// let target = CsvTarget::class("outcome");
/// let layout = LongCsvLayout::new("patient", "hour", &["hr", "spo2"], target);
/// let data = read_long_csv(&path, &layout)?;
/// assert_eq!(data.target_kind(), TargetKind::Classification { classes: 2 });
/// assert_eq!(data.target_names(), ["died", "survived"]);
/// assert_eq!(data.samples()[1].id, "p2");
/// assert_eq!(data.samples()[1].values, [70.0, 99.0, 72.0, 98.0]); // [T = 2][D = 2]
///
/// // Errors name the file, the line and the column.
/// std::fs::write(&path, "patient,hour,hr,spo2,outcome\np1,0,80,x,died\n")?;
/// let err = read_long_csv(&path, &layout).unwrap_err().to_string();
/// assert!(err.contains("vitals.csv") && err.contains("line 2") && err.contains("spo2"), "{err}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn read_long_csv(path: impl AsRef<Path>, layout: &LongCsvLayout) -> Result<SequenceDataset> {
    let path = path.as_ref();
    read_long(open(path)?, path.to_path_buf(), layout)
}

/// Reads long-format CSV text from `reader`; errors show the path as `<memory>`.
pub fn read_long_csv_from_reader(
    reader: impl Read,
    layout: &LongCsvLayout,
) -> Result<SequenceDataset> {
    read_long(reader, PathBuf::from(MEMORY_SOURCE), layout)
}

/// Reads sequences without targets from a long-format CSV file (one row per sequence and step:
/// `id`, `time` and the `features` columns, rows in any order), e.g. new data to predict on.
/// Returns `(id, steps × D values)` per sequence in first-appearance order; sequences may have
/// different lengths. Errors as [`read_long_csv`] (unknown columns, unparsable or non-finite
/// numbers, missing values, duplicate times), naming the file, line and column.
pub fn read_long_sequences(
    path: impl AsRef<Path>,
    id: &str,
    time: &str,
    features: &[&str],
) -> Result<Vec<(String, Vec<Vec<f32>>)>> {
    let path = path.as_ref();
    sequences(open(path)?, path.to_path_buf(), id, time, features)
}

/// [`read_long_sequences`] from `reader`; errors show the path as `<memory>`.
pub fn read_long_sequences_from_reader(
    reader: impl Read,
    id: &str,
    time: &str,
    features: &[&str],
) -> Result<Vec<(String, Vec<Vec<f32>>)>> {
    sequences(reader, PathBuf::from(MEMORY_SOURCE), id, time, features)
}

fn sequences(
    reader: impl Read,
    path: PathBuf,
    id: &str,
    time: &str,
    features: &[&str],
) -> Result<Vec<(String, Vec<Vec<f32>>)>> {
    let layout = LongCsvLayout::new(id, time, features, CsvTarget::PerStep(Vec::new()));
    non_empty(&layout.features, "feature columns")?;
    let table = Table::read(reader, path)?;
    Ok(long_samples(&table, &layout, None)?
        .into_iter()
        .map(|sample| {
            let steps = sample
                .values
                .chunks(features.len())
                .map(<[f32]>::to_vec)
                .collect();
            (sample.id, steps)
        })
        .collect())
}

fn read_long(reader: impl Read, path: PathBuf, layout: &LongCsvLayout) -> Result<SequenceDataset> {
    non_empty(&layout.features, "feature columns")?;
    if layout.pad_to == Some(0) {
        return Err(DataError::InvalidParameter(
            "pad_to must be at least 1 step".into(),
        ));
    }
    let table = Table::read(reader, path)?;
    let built = long_samples(&table, layout, Some(&layout.target))?;
    let num_features = layout.features.len();
    let per_step_names = layout.target.per_step_columns();
    let num_steps = match layout.pad_to {
        Some(steps) => steps,
        None => common_steps(&table, layout, &built)?,
    };

    let mut samples = Vec::with_capacity(built.len());
    let mut per_step_targets = Vec::new();
    let mut raw_targets = Vec::new();
    for sample in built {
        let what = format!("{}: id `{}`", table.path.display(), sample.id);
        let padded = pad_steps(
            &sample.values,
            num_features,
            num_steps,
            layout.truncation,
            &what,
        )?;
        if per_step_names.is_empty() {
            raw_targets.push(
                sample
                    .raw_target
                    .expect("per-sample target read for every sample"),
            );
        } else {
            let padded_target = pad_steps(
                &sample.per_step,
                per_step_names.len(),
                num_steps,
                layout.truncation,
                &what,
            )?;
            per_step_targets.push(Target::PerStep(padded_target.values));
        }
        samples.push(UntargetedSample {
            id: sample.id,
            values: padded.values,
            length: padded.length,
        });
    }

    let resolved = match &layout.target {
        CsvTarget::PerStep(names) => ResolvedTargets::per_step(per_step_targets, names),
        target => ResolvedTargets::resolve(&table, target, raw_targets)?,
    };
    resolved.into_dataset(samples, num_steps, layout.features.clone())
}

/// The number of steps every sample has; an error naming the first sample that differs from
/// the first one (no `pad_to` to pad them to one length).
fn common_steps(table: &Table, layout: &LongCsvLayout, samples: &[LongSample]) -> Result<usize> {
    let num_features = layout.features.len();
    let first = &samples[0];
    let common = first.steps(num_features);
    match samples.iter().find(|s| s.steps(num_features) != common) {
        Some(other) => Err(table.error(
            other.first_line,
            Some(&layout.id),
            format!(
                "id `{}` has {} steps but id `{}` has {common}; set `pad_to` to pad samples to one length",
                other.id,
                other.steps(num_features),
                first.id
            ),
        )),
        None => Ok(common),
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{expect_csv_error, long, reg_layout, write_file};
    use super::*;
    use crate::dataset::TargetKind;
    use crate::pad::Truncation;

    #[test]
    fn sequences_without_targets_keep_their_own_lengths() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_file(&dir, "new.csv", "id,t,a,b\nq,1,3,4\np,0,1,2\nq,0,5,6\n");
        let sequences = read_long_sequences(&path, "id", "t", &["b", "a"]).unwrap();
        assert_eq!(
            sequences,
            vec![
                ("q".to_string(), vec![vec![6.0, 5.0], vec![4.0, 3.0]]),
                ("p".to_string(), vec![vec![2.0, 1.0]]),
            ]
        );
        let err = read_long_sequences(&path, "id", "t", &["c"]).unwrap_err();
        assert!(err.to_string().contains("`c`"), "{err}");
        let path = write_file(&dir, "new.csv", "id,t,a,b\n");
        let err = read_long_sequences(&path, "id", "t", &["a"]).unwrap_err();
        assert!(err.to_string().contains("no data rows"), "{err}");
    }

    #[test]
    fn long_sorts_by_time_and_keeps_id_order() {
        let text = "id,t,a,b,y\n\
                    q,1,30,31,2\n\
                    p,1,10,11,\n\
                    q,0,20,21,2\n\
                    p,0,0,1,5\n";
        let data = long(text, &reg_layout()).unwrap();
        assert_eq!(data.len(), 2);
        assert_eq!((data.num_steps(), data.num_features()), (2, 2));
        let q = &data.samples()[0];
        assert_eq!(q.id, "q");
        assert_eq!(q.values, vec![20.0, 21.0, 30.0, 31.0]);
        assert_eq!(q.target, Target::Regression(vec![2.0]));
        let p = &data.samples()[1];
        assert_eq!(p.values, vec![0.0, 1.0, 10.0, 11.0]);
        assert_eq!(p.target, Target::Regression(vec![5.0]));
        assert_eq!(data.feature_names(), &["a", "b"]);
        assert_eq!(data.target_names(), &["y"]);
    }

    #[test]
    fn long_class_labels_and_per_step_targets() {
        let layout = LongCsvLayout::new("id", "t", &["a"], CsvTarget::class("label"));
        let text =
            "t,id,a,label\n0,x,1,sick\n1,x,2,sick\n0,y,3,well\n1,y,4,well\n0,z,5,sick\n1,z,6,\n";
        let data = long(text, &layout).unwrap();
        assert_eq!(
            data.target_kind(),
            TargetKind::Classification { classes: 2 }
        );
        assert_eq!(data.target_names(), &["sick", "well"]);
        let classes: Vec<_> = data.samples().iter().map(|s| s.target.clone()).collect();
        assert_eq!(
            classes,
            vec![Target::Class(0), Target::Class(1), Target::Class(0)]
        );

        let fixed = LongCsvLayout::new(
            "id",
            "t",
            &["a"],
            CsvTarget::class_with_labels("label", &["well", "sick"]),
        );
        let data = long(text, &fixed).unwrap();
        assert_eq!(data.samples()[0].target, Target::Class(1));
        let unknown = LongCsvLayout::new(
            "id",
            "t",
            &["a"],
            CsvTarget::class_with_labels("label", &["well"]),
        );
        let msg = expect_csv_error(long(text, &unknown), 2, Some("label"));
        assert!(msg.contains("sick"), "{msg}");

        let conflict = "id,t,a,label\nx,0,1,sick\nx,1,2,well\n";
        expect_csv_error(long(conflict, &layout), 3, Some("label"));

        let per_step = LongCsvLayout::new("id", "t", &["a"], CsvTarget::per_step(&["y1", "y2"]));
        let text = "id,t,a,y1,y2\ns,1,2,20,21\ns,0,1,10,11\n";
        let data = long(text, &per_step).unwrap();
        assert_eq!(data.target_kind(), TargetKind::PerStep { outputs: 2 });
        assert_eq!(
            data.samples()[0].target,
            Target::PerStep(vec![10.0, 11.0, 20.0, 21.0])
        );
    }

    #[test]
    fn long_errors_name_line_and_column() {
        let layout = reg_layout();
        // Ragged row / wrong number of fields.
        let msg = expect_csv_error(long("id,t,a,b,y\np,0,1,2,3\np,1,1,2\n", &layout), 3, None);
        assert!(msg.contains("expected 5 fields"), "{msg}");
        expect_csv_error(long("id,t,a,b,y\np,0,1,2,3,4\n", &layout), 2, None);
        // Unparsable number, NaN and infinity.
        let msg = expect_csv_error(long("id,t,a,b,y\np,0,1,x,3\n", &layout), 2, Some("b"));
        assert!(msg.contains("`x`"), "{msg}");
        expect_csv_error(long("id,t,a,b,y\np,0,NaN,1,3\n", &layout), 2, Some("a"));
        expect_csv_error(long("id,t,a,b,y\np,0,1,inf,3\n", &layout), 2, Some("b"));
        expect_csv_error(long("id,t,a,b,y\np,0,1,2,-inf\n", &layout), 2, Some("y"));
        // Empty file and header only.
        let msg = expect_csv_error(long("", &layout), 1, None);
        assert!(msg.contains("empty file"), "{msg}");
        let msg = expect_csv_error(long("id,t,a,b,y\n", &layout), 1, None);
        assert!(msg.contains("no data rows"), "{msg}");
        // Duplicate (id, time).
        let msg = expect_csv_error(
            long("id,t,a,b,y\np,0,1,2,3\nq,0,1,2,3\np,0,4,5,3\n", &layout),
            4,
            Some("t"),
        );
        assert!(msg.contains("line 2"), "{msg}");
        // Unknown column.
        let bad = LongCsvLayout::new("id", "t", &["a", "c"], CsvTarget::regression(&["y"]));
        let msg = expect_csv_error(long("id,t,a,b,y\np,0,1,2,3\n", &bad), 1, Some("c"));
        assert!(msg.contains("unknown column"), "{msg}");
        // Non-numeric time.
        expect_csv_error(long("id,t,a,b,y\np,monday,1,2,3\n", &layout), 2, Some("t"));
        // Different numbers of steps without padding.
        let msg = expect_csv_error(
            long("id,t,a,b,y\np,0,1,2,3\np,1,1,2,3\nq,0,1,2,3\n", &layout),
            4,
            Some("id"),
        );
        assert!(msg.contains("pad_to"), "{msg}");
        // A sample without any target value.
        expect_csv_error(long("id,t,a,b,y\np,0,1,2,\n", &layout), 2, Some("y"));
    }

    #[test]
    fn long_padding_and_truncation() {
        let text = "id,t,a,b,y\np,0,1,2,9\np,1,3,4,9\np,2,5,6,9\nq,0,7,8,1\n";
        let layout = reg_layout().with_padding(2, Truncation::KeepLast);
        let data = long(text, &layout).unwrap();
        assert_eq!(data.num_steps(), 2);
        assert_eq!(data.samples()[0].values, vec![3.0, 4.0, 5.0, 6.0]);
        assert_eq!(data.samples()[0].length, 2);
        assert_eq!(data.samples()[1].values, vec![7.0, 8.0, 0.0, 0.0]);
        assert_eq!(data.samples()[1].length, 1);
        let err = long(text, &reg_layout().with_padding(2, Truncation::Error)).unwrap_err();
        assert!(err.to_string().contains("id `p`"), "{err}");
        assert!(err.to_string().contains(MEMORY_SOURCE), "{err}");
        let data = long(text, &reg_layout().with_padding(4, Truncation::Error)).unwrap();
        assert_eq!(data.samples()[0].length, 3);
    }
}
