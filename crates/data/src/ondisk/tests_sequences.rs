//! On-disk sequences against the in-memory reader of the same file (samples, classes, split,
//! normaliser, bit for bit), files read a part at a time, and damaged files.

use std::path::{Path, PathBuf};

use burn::data::dataset::Dataset;

use super::OnDiskSequences;
use super::convert_sequences::convert_sequences;
use super::tests::{all, bits, streamed};
use crate::csv::{DataSpec, Format, MissingValues, Task};
use crate::dataset::Target;
use crate::error::DataError;
use crate::normalize::{NormalizationKind, Normalizer};
use crate::source::SequenceSource;

fn spec(format: Format, task: Task, id: Option<&str>, targets: &[&str]) -> DataSpec {
    DataSpec {
        format,
        id: id.map(str::to_string),
        time: (format == Format::Long).then(|| "t".to_string()),
        features: vec!["hr".into(), "temp".into()],
        targets: targets.iter().map(|t| t.to_string()).collect(),
        task,
        forecast: None,
        max_steps: None,
        missing: MissingValues::Error,
    }
}

/// A value that does not look round, from a few integers.
fn value(a: usize, b: usize, c: usize) -> f32 {
    ((a * 31 + b * 7 + c) as f32 * 0.37).sin() * 13.7 + 50.0
}

/// Patients of 2 to 8 hours, each patient's rows together but in reverse time order, labels
/// on their last row only, some temperatures missing, two regression targets.
fn long_csv(dir: &Path) -> PathBuf {
    let mut text = String::from("id,t,hr,temp,label,y1,y2\n");
    for p in 0..40 {
        let hours = 2 + (p * 5) % 7;
        let label = ["sick", "well", "10", "2"][p % 4];
        for t in (0..hours).rev() {
            let temp = if t % 4 == 3 {
                String::new()
            } else {
                value(p, t, 1).to_string()
            };
            let last = t + 1 == hours;
            let target = |k| match last {
                true => value(p, 99, k).to_string(),
                false => String::new(),
            };
            text += &format!(
                "p{p},{t},{},{temp},{},{},{}\n",
                value(p, t, 0),
                if last { label } else { "" },
                target(2),
                target(3)
            );
        }
    }
    let path = dir.join("long.csv");
    std::fs::write(&path, text).unwrap();
    path
}

/// 30 rows of 5 steps; some cells after the first step empty.
fn wide_csv(dir: &Path) -> PathBuf {
    let mut text = String::from(
        "id,hr_0,hr_1,hr_2,hr_3,hr_4,temp_0,temp_1,temp_2,temp_3,temp_4,label,y1,y2\n",
    );
    for p in 0..30 {
        text += &format!("w{p}");
        for f in 0..2 {
            for t in 0..5 {
                match t > 0 && (p + t + f) % 11 == 4 {
                    true => text += ",",
                    false => text += &format!(",{}", value(p, t, f)),
                }
            }
        }
        let label = ["b", "a", "c"][p % 3];
        text += &format!(",{label},{},{}\n", value(p, 9, 2), value(p, 9, 3));
    }
    let path = dir.join("wide.csv");
    std::fs::write(&path, text).unwrap();
    path
}

/// Every sample, split and normaliser of `spec` on `csv`, on disk against in memory.
fn check_same(csv: &Path, spec: &DataSpec, out: &Path, chunk_rows: usize) {
    let what = format!("{spec:?}, chunk {chunk_rows}");
    let memory = spec.read(csv, None).unwrap();
    convert_sequences(csv, spec, None, out, chunk_rows).unwrap();
    let disk = OnDiskSequences::open(out).unwrap();
    let data = &memory.dataset;
    assert_eq!(disk.len(), data.len(), "{what}");
    assert_eq!(SequenceSource::num_steps(&disk), data.num_steps(), "{what}");
    assert_eq!(disk.feature_names(), data.feature_names());
    assert_eq!(disk.target_names(), data.target_names(), "{what}");
    assert_eq!(disk.target_kind(), data.target_kind());
    assert_eq!(all(&disk), all(data), "{what}");
    assert_eq!(streamed(&disk), all(data));
    assert_eq!(bits(&disk.get(1).unwrap()), bits(&data.samples()[1]));

    for seed in [1, 42] {
        let (train, valid) = memory.split(0.25, seed).unwrap();
        let (disk_train, disk_valid) = disk.random_split(0.25, seed).unwrap();
        assert_eq!(all(&disk_train), all(&train), "{what}, seed {seed}");
        assert_eq!(all(&disk_valid), all(&valid));
        let targets = spec.task == Task::Regress;
        let fitted = Normalizer::fit(&train, NormalizationKind::ZScore, targets).unwrap();
        let streamed_fit =
            Normalizer::fit_source(&disk_train, NormalizationKind::ZScore, targets).unwrap();
        assert_eq!(streamed_fit, fitted, "the same statistics, bit for bit");
        let scaled = fitted.apply(&valid).unwrap();
        assert_eq!(all(&*disk_valid.normalized(&fitted).unwrap()), all(&scaled));
    }
}

#[test]
fn sequences_are_the_in_memory_samples_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let (long, wide) = (long_csv(dir.path()), wide_csv(dir.path()));
    let out = dir.path().join("data.sequences");
    let mut specs = Vec::new();
    for (task, targets) in [
        (Task::Classify, &["label"][..]),
        (Task::Regress, &["y1", "y2"][..]),
    ] {
        for max_steps in [None, Some(3)] {
            for missing in [MissingValues::ForwardFill, MissingValues::DropRow] {
                let mut long_spec = spec(Format::Long, task, Some("id"), targets);
                let mut wide_spec = spec(Format::Wide, task, Some("id"), targets);
                for s in [&mut long_spec, &mut wide_spec] {
                    (s.max_steps, s.missing) = (max_steps, missing);
                }
                specs.push((long.clone(), long_spec));
                specs.push((wide.clone(), wide_spec));
            }
        }
    }
    let mut numbered = spec(Format::Wide, Task::Classify, None, &["label"]);
    numbered.missing = MissingValues::DropRow;
    specs.push((wide.clone(), numbered));
    for (csv, spec) in &specs {
        for chunk_rows in [1, 7, 1 << 16] {
            check_same(csv, spec, &out, chunk_rows);
        }
    }
}

#[test]
fn chunks_of_sequences_are_the_sequences_read_whole() {
    let dir = tempfile::tempdir().unwrap();
    let long = long_csv(dir.path());
    let mut spec = spec(Format::Long, Task::Classify, Some("id"), &["label"]);
    (spec.missing, spec.max_steps) = (MissingValues::ForwardFill, Some(5));
    let whole = spec.read(&long, None).unwrap().dataset;
    let classes = whole.target_names().to_vec();
    let (mut sequences, mut targets, mut sizes) = (Vec::new(), Vec::new(), Vec::new());
    spec.read_in_chunks(&long, Some(&classes), 16, &mut |inputs, chunk| {
        sizes.push(chunk.len());
        sequences.extend(inputs.sequences);
        targets.extend(chunk);
        Ok(())
    })
    .unwrap();
    assert_eq!(sizes, [16, 16, 8]);
    assert_eq!(sequences, whole.sequences());
    let expected: Vec<Target> = whole.samples().iter().map(|s| s.target.clone()).collect();
    assert_eq!(targets, expected);
    let err = spec.read_in_chunks(&long, None, 16, &mut |_, _| Ok(()));
    assert!(err.unwrap_err().to_string().contains("needs the classes"));
}

#[test]
fn inputs_read_in_chunks_are_the_inputs_read_whole() {
    let dir = tempfile::tempdir().unwrap();
    let long = dir.path().join("new.csv");
    let text = "id,t,hr,temp\nb,1,3,4\nb,0,5,6\na,0,1,2\nc,2,7,8\nc,0,9,1\nc,1,2,2\n";
    std::fs::write(&long, text).unwrap();
    let mut classify = spec(Format::Long, Task::Classify, Some("id"), &["label"]);
    classify.max_steps = Some(2);
    let mut forecast = spec(Format::Long, Task::Forecast, Some("id"), &["temp"]);
    forecast.features = vec!["hr".into()];
    forecast.forecast = Some(crate::csv::ForecastWindows {
        window: 2,
        horizon: 1,
        stride: 1,
    });
    for spec in [&classify, &forecast] {
        let whole = spec.read_inputs(&long).unwrap();
        let mut parts = crate::csv::SpecInputs::default();
        let mut sizes = Vec::new();
        spec.read_inputs_in_chunks(&long, 2, &mut |inputs| {
            sizes.push(inputs.ids.len());
            parts.ids.extend(inputs.ids);
            parts.sequences.extend(inputs.sequences);
            parts.last_times.extend(inputs.last_times);
            Ok(())
        })
        .unwrap();
        assert_eq!(parts, whole, "{:?}", spec.task);
        assert_eq!(sizes, [2, 1]);
    }
    // New data must be complete: a missing value is an error, as when read whole.
    let wide = wide_csv(dir.path());
    let wide_spec = spec(Format::Wide, Task::Regress, None, &["y1"]);
    let err = wide_spec.read_inputs(&wide).unwrap_err().to_string();
    let chunked = wide_spec.read_inputs_in_chunks(&wide, 4, &mut |_| Ok(()));
    assert_eq!(chunked.unwrap_err().to_string(), err);
}

#[test]
fn forecast_windows_in_chunks_are_the_windows_read_whole() {
    let dir = tempfile::tempdir().unwrap();
    // Three series of 9, 3 (too short for a window) and 12 rows, in reverse time order.
    let mut text = String::from("id,t,hr,temp\n");
    for (p, rows) in [(0, 9), (1, 3), (2, 12)] {
        for t in (0..rows).rev() {
            text += &format!("s{p},{t},{},{}\n", value(p, t, 0), value(p, t, 1));
        }
    }
    let path = dir.path().join("series.csv");
    std::fs::write(&path, text).unwrap();
    let mut forecast = spec(Format::Long, Task::Forecast, Some("id"), &["temp"]);
    forecast.features = vec!["hr".into()];
    forecast.forecast = Some(crate::csv::ForecastWindows {
        window: 3,
        horizon: 2,
        stride: 1,
    });
    let whole = forecast.read(&path, None).unwrap();
    let (whole_data, whole_index) = (whole.dataset, whole.forecast.unwrap());
    assert_eq!(whole_data.len(), 5 + 8);
    for size in [1, 2, 5, 6, 13, 100] {
        let (mut samples, mut windows, mut sizes) = (Vec::new(), Vec::new(), Vec::new());
        forecast
            .read_forecast_in_chunks(&path, size, &mut |data, index| {
                sizes.push(data.len());
                assert_eq!(data.target_names(), whole_data.target_names());
                assert_eq!(data.feature_names(), whole_data.feature_names());
                assert_eq!(index.series, whole_index.series[..index.series.len()]);
                assert_eq!(index.targets, whole_index.targets);
                samples.extend(data.samples().iter().cloned());
                windows.extend(index.windows);
                Ok(())
            })
            .unwrap();
        assert_eq!(samples, whole_data.samples(), "size {size}");
        assert_eq!(windows, whole_index.windows, "size {size}");
        let mut expected = vec![size; 13 / size];
        expected.extend((13 % size > 0).then_some(13 % size));
        assert_eq!(sizes, expected, "size {size}");
    }
    // As when read whole: no series long enough is an error saying so; a chunk holds a window.
    let mut long_windows = forecast.clone();
    long_windows.forecast.as_mut().unwrap().window = 20;
    let whole_err = long_windows.read(&path, None).unwrap_err().to_string();
    let err = long_windows.read_forecast_in_chunks(&path, 4, &mut |_, _| Ok(()));
    assert_eq!(err.unwrap_err().to_string(), whole_err);
    let err = forecast.read_forecast_in_chunks(&path, 0, &mut |_, _| Ok(()));
    assert!(err.unwrap_err().to_string().contains("at least one window"));
    let regress = spec(Format::Long, Task::Regress, Some("id"), &["label"]);
    let err = regress.read_forecast_in_chunks(&path, 4, &mut |_, _| Ok(()));
    let message = err.unwrap_err().to_string();
    assert!(message.contains("forecasting spec"), "{message}");
}

#[test]
fn test_files_map_onto_the_training_classes() {
    let dir = tempfile::tempdir().unwrap();
    let wide = wide_csv(dir.path());
    let spec = spec(Format::Wide, Task::Classify, Some("id"), &["label"]);
    let classes: Vec<String> = ["c", "b", "a", "z"].map(String::from).into();
    let out = dir.path().join("test.sequences");
    let mut forward = spec.clone();
    forward.missing = MissingValues::ForwardFill;
    let memory = forward.read(&wide, Some(&classes)).unwrap().dataset;
    let (disk, converted) =
        OnDiskSequences::open_or_convert(&wide, &forward, Some(&classes), &out).unwrap();
    assert!(converted);
    assert_eq!(disk.target_names(), classes);
    assert_eq!(all(&disk), all(&memory));
    let (_, converted) =
        OnDiskSequences::open_or_convert(&wide, &forward, Some(&classes), &out).unwrap();
    assert!(
        !converted,
        "the same file, spec and classes are not converted again"
    );
    let (_, converted) = OnDiskSequences::open_or_convert(&wide, &forward, None, &out).unwrap();
    assert!(converted, "other classes convert again");
    // Another spec converts again: here one refusing missing values, as in memory.
    let err = OnDiskSequences::open_or_convert(&wide, &spec, None, &out).unwrap_err();
    assert_eq!(
        err.to_string(),
        spec.read(&wide, None).unwrap_err().to_string()
    );

    let short = &classes[..2];
    let err = OnDiskSequences::convert(&wide, &forward, Some(short), &out).unwrap_err();
    let memory_err = forward.read(&wide, Some(short)).unwrap_err();
    assert_eq!(err.to_string(), memory_err.to_string());
    assert!(err.to_string().contains("line 3"), "{err}");
}

#[test]
fn long_ids_apart_and_forecasting_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("apart.csv");
    std::fs::write(
        &csv,
        "id,t,hr,temp,label\na,0,1,2,x\nb,0,1,2,y\na,1,1,2,x\n",
    )
    .unwrap();
    let out = dir.path().join("apart.sequences");
    let spec = spec(Format::Long, Task::Classify, Some("id"), &["label"]);
    convert_sequences(&csv, &spec, None, &out, 100).unwrap();
    let err = convert_sequences(&csv, &spec, None, &out, 1)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("line 4") && err.contains("sort the file by id"),
        "{err}"
    );
    let mut forecast = spec.clone();
    forecast.task = Task::Forecast;
    forecast.targets = vec!["hr".into()];
    forecast.forecast = Some(crate::csv::ForecastWindows {
        window: 1,
        horizon: 1,
        stride: 1,
    });
    let err = OnDiskSequences::convert(&csv, &forecast, None, &out).unwrap_err();
    assert!(err.to_string().contains("OnDiskDataset"), "{err}");
}

/// `bytes` written to a file and opened: must be an error, never a panic.
fn open_bytes(dir: &Path, bytes: &[u8]) -> DataError {
    let path = dir.join("damaged.sequences");
    std::fs::write(&path, bytes).unwrap();
    OnDiskSequences::open(&path).unwrap_err()
}

#[test]
fn damaged_sequence_files_are_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let csv = long_csv(dir.path());
    let mut spec = spec(Format::Long, Task::Classify, Some("id"), &["label"]);
    spec.missing = MissingValues::ForwardFill;
    let out = dir.path().join("good.sequences");
    OnDiskSequences::convert(&csv, &spec, None, &out).unwrap();
    let good = std::fs::read(&out).unwrap();

    for len in [0, 7, 63, 64, 100, good.len() / 2, good.len() - 1] {
        let err = open_bytes(dir.path(), &good[..len]).to_string();
        assert!(err.contains("damaged.sequences"), "{len}: {err}");
    }
    let mut kind = good.clone();
    kind[40] = 7;
    let err = open_bytes(dir.path(), &kind).to_string();
    assert!(err.contains("unknown kind 7"), "{err}");
    // A forecasting file is not a sequences file, and the other way round.
    kind[40] = 0;
    let err = open_bytes(dir.path(), &kind).to_string();
    assert!(err.contains("holds forecasting series"), "{err}");
    let err = super::OnDiskDataset::open(&out).unwrap_err().to_string();
    assert!(err.contains("holds sequences"), "{err}");
    let mut index = good.clone();
    let last = index.len() - 3;
    index[last] ^= 0x20;
    let err = open_bytes(dir.path(), &index).to_string();
    assert!(err.contains("checksum"), "{err}");

    // A damaged value or class code is found when its sequence is read.
    let path = dir.path().join("bad.sequences");
    for (at, bytes, needle) in [
        (68, f32::NAN.to_le_bytes(), "non-finite value"),
        (64, 9u32.to_le_bytes(), "class code 9"),
    ] {
        let mut damaged = good.clone();
        damaged[at..at + 4].copy_from_slice(&bytes);
        std::fs::write(&path, &damaged).unwrap();
        let data = OnDiskSequences::open(&path).unwrap();
        let err = data.sample(0).unwrap_err().to_string();
        assert!(err.contains(needle) && err.contains("`p0`"), "{err}");
        assert!(data.get(0).is_err());
        assert!(data.sample(1).is_ok());
    }
    let data = OnDiskSequences::open(&out).unwrap();
    assert!(data.sample(data.len()).is_err(), "out of range");
    assert!(data.random_split(1.0, 1).is_err());
}
