//! The on-disk dataset against the in-memory reader of the same file, and damaged files.

use std::path::{Path, PathBuf};

use burn::data::dataset::Dataset;

use super::OnDiskDataset;
use super::convert::convert_in_chunks;
use crate::csv::{DataSpec, ForecastWindows, Format, MissingValues, Task};
use crate::dataset::{SequenceSample, Target};
use crate::error::DataError;
use crate::normalize::{NormalizationKind, Normalizer};
use crate::source::SequenceSource;

fn spec(id: Option<&str>, window: usize, horizon: usize, stride: usize) -> DataSpec {
    DataSpec {
        format: Format::Long,
        id: id.map(str::to_string),
        time: Some("day".into()),
        features: vec!["promo".into(), "price".into()],
        targets: vec!["sales".into(), "price".into()],
        task: Task::Forecast,
        forecast: Some(ForecastWindows {
            window,
            horizon,
            stride,
        }),
        max_steps: None,
        missing: MissingValues::ForwardFill,
    }
}

/// Five stores of different lengths (one too short for a window), each store's rows together
/// but in reverse time order, with irrational-looking values and a few missing prices.
fn write_csv(dir: &Path) -> PathBuf {
    let mut text = String::from("store,day,promo,price,sales\n");
    for (store, days) in [(3, 40), (1, 25), (7, 4), (2, 61), (5, 33)] {
        for day in (0..days).rev() {
            let x = (store * 100 + day) as f32;
            let price = if day % 9 == 4 {
                String::new()
            } else {
                format!("{}", (x * 0.37).sin() * 3.1 + 10.0)
            };
            let sales = (x * 0.11).cos() * 17.3 + 0.1 * day as f32;
            text += &format!("s{store},{}.5,{},{price},{sales}\n", day * 2, day % 3);
        }
    }
    let path = dir.join("sales.csv");
    std::fs::write(&path, text).unwrap();
    path
}

pub(super) fn bits(sample: &SequenceSample) -> (String, Vec<u32>, usize, Vec<u32>) {
    let target = match &sample.target {
        Target::Regression(v) | Target::PerStep(v) => v.iter().map(|x| x.to_bits()).collect(),
        Target::Class(c) => vec![*c as u32],
    };
    let values = sample.values.iter().map(|x| x.to_bits()).collect();
    (sample.id.clone(), values, sample.length, target)
}

pub(super) fn all(source: &dyn SequenceSource) -> Vec<(String, Vec<u32>, usize, Vec<u32>)> {
    (0..source.num_samples())
        .map(|i| bits(&source.sample(i).unwrap()))
        .collect()
}

pub(super) fn streamed(source: &dyn SequenceSource) -> Vec<(String, Vec<u32>, usize, Vec<u32>)> {
    let mut out = Vec::new();
    source
        .for_each_sample(&mut |s| {
            out.push(bits(s));
            Ok(())
        })
        .unwrap();
    out
}

#[test]
fn windows_are_the_in_memory_windows_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write_csv(dir.path());
    for (window, horizon, stride) in [(5, 2, 1), (8, 3, 2), (1, 1, 5)] {
        let spec = spec(Some("store"), window, horizon, stride);
        let memory = spec.read(&csv, None).unwrap();
        for chunk_rows in [1, 50, 1 << 16] {
            let out = dir
                .path()
                .join(format!("sales-{window}-{chunk_rows}.windows"));
            convert_in_chunks(&csv, &spec, &out, chunk_rows).unwrap();
            let disk = OnDiskDataset::open(&out).unwrap();
            assert_eq!(disk.len(), memory.dataset.len());
            assert_eq!(disk.num_series(), 5);
            assert_eq!(disk.feature_names(), memory.dataset.feature_names());
            assert_eq!(disk.target_names(), memory.dataset.target_names());
            assert_eq!(disk.target_kind(), memory.dataset.target_kind());
            assert_eq!(SequenceSource::num_steps(&disk), window);
            let expected = all(&memory.dataset);
            assert_eq!(all(&disk), expected, "T={window} chunk={chunk_rows}");
            assert_eq!(streamed(&disk), expected);
            assert_eq!(bits(&disk.get(3).unwrap()), expected[3], "burn's Dataset");

            let (train, valid) = memory.split(0.3, 1).unwrap();
            let (disk_train, disk_valid) = disk.chronological_split(0.3).unwrap();
            assert_eq!(all(&disk_train), all(&train));
            assert_eq!(all(&disk_valid), all(&valid));
            assert_eq!(streamed(&disk_valid), all(&valid));

            let fitted = Normalizer::fit(&train, NormalizationKind::ZScore, true).unwrap();
            let streamed_fit =
                Normalizer::fit_source(&disk_train, NormalizationKind::ZScore, true).unwrap();
            assert_eq!(streamed_fit, fitted, "the same statistics, bit for bit");
            let scaled = fitted.apply(&train).unwrap();
            let disk_scaled = disk_train.normalized(&fitted).unwrap();
            assert_eq!(all(&*disk_scaled), all(&scaled));
            assert_eq!(streamed(&*disk_scaled), all(&scaled));
        }
    }
}

#[test]
fn one_series_without_an_id_and_reuse_of_a_converted_file() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("one.csv");
    let mut text = String::from("day,promo,price,sales\n");
    for day in 0..30 {
        text += &format!("{day},{},{},{}\n", day % 2, day as f32 * 0.5, day * day);
    }
    std::fs::write(&csv, text).unwrap();
    let spec = spec(None, 4, 2, 1);
    let out = dir.path().join("one.windows");
    let (disk, converted) = OnDiskDataset::open_or_convert(&csv, &spec, &out).unwrap();
    assert!(converted);
    let memory = spec.read(&csv, None).unwrap().dataset;
    assert_eq!(all(&disk), all(&memory));
    let (_, converted) = OnDiskDataset::open_or_convert(&csv, &spec, &out).unwrap();
    assert!(
        !converted,
        "an unchanged file and spec are not converted again"
    );
    let other = self::spec(None, 5, 2, 1);
    let (again, converted) = OnDiskDataset::open_or_convert(&csv, &other, &out).unwrap();
    assert!(converted, "another window converts again");
    assert_eq!(SequenceSource::num_steps(&again), 5);
}

#[test]
fn series_whose_rows_are_apart_and_other_tasks_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("mixed.csv");
    let mut text = String::from("store,day,promo,price,sales\n");
    for day in 0..10 {
        for store in ["a", "b"] {
            text += &format!("{store},{day},0,1,{day}\n");
        }
    }
    std::fs::write(&csv, text).unwrap();
    let out = dir.path().join("mixed.windows");
    let spec = spec(Some("store"), 3, 1, 1);
    // Held whole, interleaved rows are fine; read a few rows at a time, they are not.
    convert_in_chunks(&csv, &spec, &out, 1 << 16).unwrap();
    let err = convert_in_chunks(&csv, &spec, &out, 4)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("line 6") && err.contains("sort the file by id"),
        "{err}"
    );
    let mut regress = spec.clone();
    regress.task = Task::Regress;
    regress.forecast = None;
    regress.targets = vec!["sales".into()];
    let err = OnDiskDataset::convert(&csv, &regress, &out).unwrap_err();
    assert!(err.to_string().contains("forecasting windows"), "{err}");
}

/// `bytes` written to a file and opened: must be an error, never a panic.
fn open_bytes(dir: &Path, bytes: &[u8]) -> DataError {
    let path = dir.join("damaged.windows");
    std::fs::write(&path, bytes).unwrap();
    OnDiskDataset::open(&path).unwrap_err()
}

#[test]
fn damaged_files_are_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write_csv(dir.path());
    let out = dir.path().join("good.windows");
    OnDiskDataset::convert(&csv, &spec(Some("store"), 5, 2, 1), &out).unwrap();
    let good = std::fs::read(&out).unwrap();

    for len in [0, 7, 63, 64, 100, good.len() - 1] {
        let err = open_bytes(dir.path(), &good[..len]).to_string();
        assert!(err.contains("damaged.windows"), "{len}: {err}");
    }
    let mut longer = good.clone();
    longer.push(0);
    assert!(
        open_bytes(dir.path(), &longer)
            .to_string()
            .contains("truncated or damaged")
    );

    let mut magic = good.clone();
    magic[0] = b'X';
    assert!(open_bytes(dir.path(), &magic).to_string().contains("magic"));
    let mut version = good.clone();
    version[8] = 9;
    assert!(
        open_bytes(dir.path(), &version)
            .to_string()
            .contains("version 9")
    );
    // Sizes claiming more than the file holds are refused before anything is allocated.
    for at in [16, 24] {
        let mut huge = good.clone();
        huge[at..at + 8].copy_from_slice(&(u64::MAX - 10).to_le_bytes());
        let err = open_bytes(dir.path(), &huge).to_string();
        assert!(err.contains("truncated or damaged"), "{err}");
    }
    let mut index = good.clone();
    let last = index.len() - 3;
    index[last] ^= 0x20;
    assert!(
        open_bytes(dir.path(), &index)
            .to_string()
            .contains("checksum")
    );

    // A damaged value is found when its window is read.
    let mut rows = good.clone();
    rows[64..68].copy_from_slice(&f32::NAN.to_le_bytes());
    let path = dir.path().join("nan.windows");
    std::fs::write(&path, &rows).unwrap();
    let data = OnDiskDataset::open(&path).unwrap();
    let err = data.sample(0).unwrap_err().to_string();
    assert!(err.contains("non-finite") && err.contains("s3"), "{err}");
    assert!(data.get(0).is_err());
    assert!(data.sample(data.len()).is_err(), "out of range");
    assert!(data.chronological_split(1.0).is_err());
}
