//! [`OnDiskDataset`]: forecasting windows read from an on-disk file as they are asked for.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use burn::data::dataset::{Dataset, DatasetError};
use burn_rnn_io::Crc32;

use super::convert::{convert, is_current};
use super::format::{FileKind, Header, Index, corrupt, io_error, open_checked, read_exact_at};
use crate::csv::{DataSpec, ForecastWindows};
use crate::dataset::{SequenceSample, Target, TargetKind};
use crate::error::{DataError, Result};
use crate::normalize::Normalizer;
use crate::source::{Normalized, SequenceSource};
use crate::windows::horizon_names;

/// An open on-disk file: its handle and index, shared by every selection of its windows.
#[derive(Debug)]
struct OnDiskFile {
    path: PathBuf,
    file: File,
    header: Header,
    index: Index,
    windows: ForecastWindows,
}

/// Consecutive windows `first..first + count` of one series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Segment {
    pub(super) series: usize,
    pub(super) first: usize,
    pub(super) count: usize,
}

/// The forecasting windows of a long CSV file, kept on disk: the series' rows live in a file
/// written once by [`OnDiskDataset::convert`], and each window (`T` input rows, the next `H`
/// rows' targets) is cut when it is asked for, with one positioned read; the operating
/// system's page cache does the caching. Memory holds the index (a few numbers per series),
/// never the windows.
///
/// The samples are exactly, bit for bit, those of [`DataSpec::read`] on the same file, in the
/// same order; [`OnDiskDataset::chronological_split`] selects the same windows as
/// [`crate::SpecData::split`]. Implements burn's [`Dataset`] and [`SequenceSource`].
///
/// ```
/// use burn::data::dataset::Dataset;
/// use burn_rnn_data::{DataHints, OnDiskDataset, inspect_csv};
///
/// let dir = tempfile::tempdir()?;
/// let csv = dir.path().join("sales.csv");
/// let mut text = String::from("id,time,sales\n");
/// for store in ["a", "b"] {
///     for day in 0..20 {
///         text += &format!("{store},{day},{}\n", day * 2);
///     }
/// }
/// std::fs::write(&csv, text)?;
/// let hints = DataHints {
///     targets: vec!["sales".into()],
///     window: Some(5),
///     horizon: Some(2),
///     ..DataHints::default()
/// };
/// let spec = inspect_csv(&csv, &hints)?.spec;
///
/// let data = OnDiskDataset::convert(&csv, &spec, &dir.path().join("sales.windows"))?;
/// assert_eq!(data.len(), 2 * (20 - 5 - 2 + 1));
/// let in_memory = spec.read(&csv, None)?.dataset;
/// assert_eq!(data.get(3)?, in_memory.samples()[3]);
/// let (train, valid) = data.chronological_split(0.2)?;
/// assert_eq!(train.len() + valid.len() + 2 * 1, data.len()); // one window per series straddles the cut
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct OnDiskDataset {
    file: Arc<OnDiskFile>,
    segments: Arc<[Segment]>,
    /// The number of windows in segments `..=s`, for each segment `s`.
    ends: Arc<[usize]>,
    feature_names: Arc<[String]>,
    target_names: Arc<[String]>,
}

impl OnDiskDataset {
    /// Converts the long CSV file `csv`, read with the forecasting spec `spec`, into the
    /// on-disk file `out`, and opens it. Reads the CSV once, holding a few series at a time:
    /// each series' rows must be together in the file (sorted by id; any order within).
    pub fn convert(csv: &Path, spec: &DataSpec, out: &Path) -> Result<Self> {
        convert(csv, spec, out)?;
        Self::open(out)
    }

    /// Opens `out` when it was converted from `csv` as it is now (same length and modification
    /// time) with the same spec; converts it again otherwise. Returns whether it converted.
    pub fn open_or_convert(csv: &Path, spec: &DataSpec, out: &Path) -> Result<(Self, bool)> {
        if let Ok(data) = Self::open(out)
            && is_current(&data.file.index, csv, spec)?
        {
            return Ok((data, false));
        }
        Ok((Self::convert(csv, spec, out)?, true))
    }

    /// Opens an on-disk file, checking its header, index and extents (see the format's module
    /// docs); selects all of its windows.
    pub fn open(path: &Path) -> Result<Self> {
        let (file, header, index) = open_checked(path, FileKind::Series)?;
        let windows = index
            .spec
            .forecast
            .ok_or_else(|| corrupt(path, "no windows".into()))?;
        let segments: Vec<Segment> = index
            .entries
            .iter()
            .enumerate()
            .map(|(series, entry)| Segment {
                series,
                first: 0,
                count: window_count(entry.rows, &windows),
            })
            .filter(|s| s.count > 0)
            .collect();
        let feature_names = index.inputs.clone().into();
        let target_names = horizon_names(&index.spec.targets, windows.horizon).into();
        let file = Arc::new(OnDiskFile {
            path: path.to_path_buf(),
            file,
            header,
            index,
            windows,
        });
        let data = Self::select(file, segments, feature_names, target_names);
        if data.is_empty() {
            return Err(DataError::InvalidParameter(format!(
                "{}: no series has the {} rows a window needs",
                path.display(),
                windows.window + windows.horizon
            )));
        }
        Ok(data)
    }

    fn select(
        file: Arc<OnDiskFile>,
        segments: Vec<Segment>,
        feature_names: Arc<[String]>,
        target_names: Arc<[String]>,
    ) -> Self {
        let ends = segments
            .iter()
            .scan(0, |total, s| {
                *total += s.count;
                Some(*total)
            })
            .collect();
        Self {
            file,
            segments: segments.into(),
            ends,
            feature_names,
            target_names,
        }
    }

    /// The file the windows are read from.
    pub fn path(&self) -> &Path {
        &self.file.path
    }

    /// The spec the file was converted with.
    pub fn spec(&self) -> &DataSpec {
        &self.file.index.spec
    }

    /// The number of series in the file (those too short for a window included).
    pub fn num_series(&self) -> usize {
        self.file.index.entries.len()
    }

    /// The number of windows selected.
    pub fn len(&self) -> usize {
        self.ends.last().copied().unwrap_or(0)
    }

    /// Whether no window is selected.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Splits the windows chronologically within each series, exactly as
    /// [`crate::SpecData::split`] does for forecasting (see
    /// [`crate::ForecastIndex::chronological_split`]): `(train, valid)`.
    pub fn chronological_split(&self, valid_fraction: f64) -> Result<(Self, Self)> {
        super::split::chronological(self, valid_fraction)
    }

    /// The windows of `segments` of this file.
    fn with_segments(&self, segments: Vec<Segment>) -> Self {
        Self::select(
            self.file.clone(),
            segments,
            self.feature_names.clone(),
            self.target_names.clone(),
        )
    }

    /// Reads `rows` rows of series `series` from row `first`, with one read: `rows × C`
    /// values and the rows' times.
    fn read_rows(&self, series: usize, first: usize, rows: usize) -> Result<(Vec<f32>, Vec<f64>)> {
        let f = &self.file;
        let entry = &f.index.entries[series];
        let c = f.index.inputs.len();
        let row_bytes = c * 4 + 8;
        let mut bytes = vec![0u8; rows * row_bytes];
        read_exact_at(
            &f.file,
            &mut bytes,
            entry.offset + (first * row_bytes) as u64,
        )
        .map_err(|e| io_error(&f.path, "read", e))?;
        let mut values = Vec::with_capacity(rows * c);
        let mut times = Vec::with_capacity(rows);
        for row in bytes.chunks_exact(row_bytes) {
            let (row_values, time) = row.split_at(c * 4);
            values.extend(
                row_values
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            );
            times.push(f64::from_le_bytes(time.try_into().unwrap_or([0; 8])));
        }
        if let Some(pos) = values.iter().position(|v| !v.is_finite()) {
            return Err(corrupt(
                &f.path,
                format!(
                    "non-finite value {} in series `{}`, row {}, column {} (damaged?)",
                    values[pos],
                    entry.id,
                    first + pos / c,
                    pos % c
                ),
            ));
        }
        Ok((values, times))
    }

    /// The window of series `series` starting at row `start`, from `values` and `times` that
    /// begin at row `start`.
    fn window(&self, series: usize, values: &[f32], times: &[f64]) -> SequenceSample {
        let (index, w) = (&self.file.index, &self.file.windows);
        let c = index.inputs.len();
        let target = (w.window..w.window + w.horizon)
            .flat_map(|row| {
                index
                    .target_inputs
                    .iter()
                    .map(move |&k| values[row * c + k])
            })
            .collect();
        SequenceSample {
            id: format!("{}@{}", index.entries[series].id, times[w.window]),
            values: values[..w.window * c].to_vec(),
            length: w.window,
            target: Target::Regression(target),
        }
    }

    /// Window `index` of the selection.
    fn read_window(&self, index: usize) -> Result<SequenceSample> {
        if index >= self.len() {
            return Err(DataError::InvalidParameter(format!(
                "window index {index} is out of range for {} windows",
                self.len()
            )));
        }
        let s = self.ends.partition_point(|&end| end <= index);
        let segment = self.segments[s];
        let w = segment.first + index - (self.ends[s] - segment.count);
        let windows = &self.file.windows;
        let span = windows.window + windows.horizon;
        let (values, times) = self.read_rows(segment.series, w * windows.stride, span)?;
        Ok(self.window(segment.series, &values, &times))
    }
}

/// The windows of a series of `rows` rows.
fn window_count(rows: u64, windows: &ForecastWindows) -> usize {
    let span = (windows.window + windows.horizon) as u64;
    if rows < span {
        0
    } else {
        ((rows - span) / windows.stride as u64 + 1) as usize
    }
}

impl SequenceSource for OnDiskDataset {
    fn num_samples(&self) -> usize {
        self.len()
    }

    fn sample(&self, index: usize) -> Result<SequenceSample> {
        self.read_window(index)
    }

    fn num_steps(&self) -> usize {
        self.file.windows.window
    }

    fn num_features(&self) -> usize {
        self.file.index.inputs.len()
    }

    fn target_kind(&self) -> TargetKind {
        TargetKind::Regression {
            outputs: self.file.index.spec.targets.len() * self.file.windows.horizon,
        }
    }

    fn feature_names(&self) -> &[String] {
        &self.feature_names
    }

    fn target_names(&self) -> &[String] {
        &self.target_names
    }

    fn reads_lazily(&self) -> bool {
        true
    }

    /// Reads each segment's rows with one read and cuts its windows from them.
    fn for_each_sample(&self, f: &mut dyn FnMut(&SequenceSample) -> Result<()>) -> Result<()> {
        let windows = self.file.windows;
        let (span, stride, c) = (
            windows.window + windows.horizon,
            windows.stride,
            self.num_features(),
        );
        for segment in self.segments.iter() {
            let first_row = segment.first * stride;
            let rows = (segment.count - 1) * stride + span;
            let (values, times) = self.read_rows(segment.series, first_row, rows)?;
            for k in 0..segment.count {
                let at = k * stride;
                f(&self.window(segment.series, &values[at * c..], &times[at..]))?;
            }
        }
        Ok(())
    }

    fn fingerprint(&self, crc: &mut Crc32) {
        let header = &self.file.header;
        crc.update(&header.rows_crc.to_le_bytes());
        crc.update(&header.index_crc.to_le_bytes());
        for s in self.segments.iter() {
            for n in [s.series, s.first, s.count] {
                crc.update(&(n as u64).to_le_bytes());
            }
        }
    }

    fn normalized(&self, normalizer: &Normalizer) -> Result<Arc<dyn SequenceSource>> {
        Ok(Arc::new(Normalized::new(
            Arc::new(self.clone()),
            normalizer.clone(),
        )?))
    }
}

impl Dataset<SequenceSample> for OnDiskDataset {
    fn get(&self, index: usize) -> std::result::Result<SequenceSample, DatasetError> {
        self.read_window(index).map_err(DatasetError::new)
    }

    fn len(&self) -> usize {
        OnDiskDataset::len(self)
    }
}

/// For [`super::split`]: the selection's segments, the file's windows, and a new selection.
impl OnDiskDataset {
    pub(super) fn segments(&self) -> &[Segment] {
        &self.segments
    }

    pub(super) fn windows(&self) -> ForecastWindows {
        self.file.windows
    }

    pub(super) fn with(&self, segments: Vec<Segment>) -> Self {
        self.with_segments(segments.into_iter().filter(|s| s.count > 0).collect())
    }
}
