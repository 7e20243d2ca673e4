//! Forecasting windows over the series of a long CSV file (one series per id, or the whole file):
//! each window reads T rows of the inputs and forecasts the target columns at the next H rows.
//! The windows remember their series and the times they forecast, for splits, reports and plots.

use std::path::Path;

use super::chunks::for_each_series;
use super::layout::LongCsvLayout;
use super::long_samples::{LongSample, long_samples};
use super::sample_stream::CHUNK_ROWS;
use super::spec::{DataSpec, ForecastWindows, SpecInputs};
use super::table::{Table, open};
use super::targets::CsvTarget;
use crate::dataset::{SequenceDataset, SequenceSample};
use crate::error::{DataError, Result};
use crate::split::{SplitFractions, SplitIndices};
use crate::windows::{WindowSpec, WindowTarget, horizon_names, sliding_windows_flat};

/// Where one forecasting window comes from.
#[derive(Debug, Clone, PartialEq)]
pub struct ForecastWindow {
    /// Its series, an index into [`ForecastIndex::series`].
    pub series: usize,
    /// Its first row within the series (rows in time order).
    pub start: usize,
    /// The times of the H rows it forecasts.
    pub target_times: Vec<f64>,
}

/// The windows of a forecasting dataset, one per sample, in sample order.
#[derive(Debug, Clone, PartialEq)]
pub struct ForecastIndex {
    /// The series ids, in first-appearance order.
    pub series: Vec<String>,
    /// One entry per sample of the dataset.
    pub windows: Vec<ForecastWindow>,
    /// T, the steps each window reads.
    pub window: usize,
    /// H, the steps it forecasts.
    pub horizon: usize,
    /// The forecast columns (K of them); the dataset's outputs are `H × K`, horizon-major.
    pub targets: Vec<String>,
    /// For each target, its position among the inputs (its past values are read).
    pub target_inputs: Vec<usize>,
}

impl ForecastIndex {
    /// A chronological split within each series: the series' rows are cut at the `train`
    /// share; a window whose forecast rows all lie before the cut trains, a window whose
    /// forecast rows all lie after it validates (its inputs may reach back before the cut, as
    /// they would when forecasting), and a window straddling the cut is left out, so no
    /// validation target is ever trained on. A series too short to give either side a window
    /// goes to training whole.
    pub fn chronological_split(&self, fractions: SplitFractions) -> Result<SplitIndices> {
        if !(fractions.train > 0.0 && fractions.train < 1.0) {
            return Err(DataError::InvalidParameter(format!(
                "the training share must be in (0, 1), got {}",
                fractions.train
            )));
        }
        let span = self.window + self.horizon;
        let mut split = SplitIndices::default();
        for series in 0..self.series.len() {
            let members: Vec<usize> = (0..self.windows.len())
                .filter(|&i| self.windows[i].series == series)
                .collect();
            let rows = members
                .iter()
                .map(|&i| self.windows[i].start + span)
                .max()
                .unwrap_or(0);
            let cut = (fractions.train * rows as f64).round() as usize;
            let train = |i: &usize| self.windows[*i].start + span <= cut;
            let valid = |i: &usize| self.windows[*i].start + self.window >= cut;
            if !members.iter().any(train) || !members.iter().any(valid) {
                split.train.extend(members);
                continue;
            }
            for i in members {
                match (train(&i), valid(&i)) {
                    (true, _) => split.train.push(i),
                    (_, true) => split.valid.push(i),
                    _ => split.dropped.push(i),
                }
            }
        }
        if split.valid.is_empty() || split.train.is_empty() {
            return Err(DataError::Empty(format!(
                "a chronological split of {} windows over {} series leaves no {} window; use longer \
                 series, a shorter window or a --valid file",
                self.windows.len(),
                self.series.len(),
                if split.train.is_empty() {
                    "training"
                } else {
                    "validation"
                }
            )));
        }
        split.train.sort_unstable();
        split.valid.sort_unstable();
        Ok(split)
    }
}

/// The columns a forecast reads at each step: the features, then the targets not among them.
pub(super) fn forecast_inputs(spec: &DataSpec) -> Vec<String> {
    let mut inputs = spec.features.clone();
    inputs.extend(
        spec.targets
            .iter()
            .filter(|t| !spec.features.contains(t))
            .cloned(),
    );
    inputs
}

/// How forecasting reads `columns` of a long file: the spec's id, time and missing-value
/// policy, every column a per-step input (the targets are cut from them as windows).
pub(super) fn series_layout(spec: &DataSpec, columns: &[String]) -> LongCsvLayout {
    let names: Vec<&str> = columns.iter().map(String::as_str).collect();
    LongCsvLayout::new(
        spec.id_column(),
        spec.time_column(),
        &names,
        CsvTarget::PerStep(Vec::new()),
    )
    .with_missing(spec.missing)
}

/// The series of `path`: each id's rows (or all rows) in time order, reading `columns`.
fn read_series(path: &Path, spec: &DataSpec, columns: &[String]) -> Result<Vec<LongSample>> {
    let layout = series_layout(spec, columns);
    let table = Table::read(open(path)?, path.to_path_buf())?;
    long_samples(&table, &layout, None)
}

/// Reads the forecasting windows of every series of `path` (see the module docs).
pub(super) fn read_forecast(
    path: &Path,
    spec: &DataSpec,
) -> Result<(SequenceDataset, ForecastIndex)> {
    let mut cutter = WindowCutter::new(spec)?;
    for one in read_series(path, spec, &cutter.inputs)? {
        cutter.add(one.id, &one.times, &one.values)?;
    }
    cutter.some_windows(path)?;
    let count = cutter.samples.len();
    cutter.take(count)
}

/// The windows of `path` as [`read_forecast`] gives them, handed on `size` at a time (the last
/// chunk may be shorter), in the same order, each chunk with its index: the series are
/// streamed, so only one chunk of windows and about one series' rows are held at a time.
pub(super) fn read_forecast_in_chunks(
    path: &Path,
    spec: &DataSpec,
    size: usize,
    each: &mut dyn FnMut(SequenceDataset, ForecastIndex) -> Result<()>,
) -> Result<()> {
    if size == 0 {
        return Err(DataError::InvalidParameter(
            "a chunk must hold at least one window".into(),
        ));
    }
    let mut cutter = WindowCutter::new(spec)?;
    for_each_series(path, spec, CHUNK_ROWS, &mut |one| {
        cutter.add(one.id, &one.times, &one.values)?;
        while cutter.samples.len() >= size {
            let (dataset, index) = cutter.take(size)?;
            each(dataset, index)?;
        }
        Ok(())
    })?;
    cutter.some_windows(path)?;
    match cutter.samples.len() {
        0 => Ok(()),
        rest => {
            let (dataset, index) = cutter.take(rest)?;
            each(dataset, index)
        }
    }
}

/// Cuts the windows of series after series, and hands them on as datasets with their index.
struct WindowCutter {
    windows: ForecastWindows,
    targets: Vec<String>,
    inputs: Vec<String>,
    target_inputs: Vec<usize>,
    window_spec: WindowSpec,
    /// The ids of the series seen so far, and the most rows any of them had.
    ids: Vec<String>,
    longest: usize,
    /// The windows cut and not yet handed on, and how many were.
    samples: Vec<SequenceSample>,
    index: Vec<ForecastWindow>,
    handed_on: usize,
}

impl WindowCutter {
    fn new(spec: &DataSpec) -> Result<Self> {
        let windows = spec
            .forecast
            .ok_or_else(|| DataError::InvalidParameter("forecasting needs windows".into()))?;
        let inputs = forecast_inputs(spec);
        let target_inputs: Vec<usize> = spec
            .targets
            .iter()
            .map(|t| inputs.iter().position(|i| i == t).unwrap_or_default())
            .collect();
        let window_spec = WindowSpec::new(
            windows.window,
            windows.horizon,
            (0..inputs.len()).collect(),
            target_inputs.clone(),
        )
        .with_stride(windows.stride)
        .with_target(WindowTarget::Horizon);
        Ok(Self {
            windows,
            targets: spec.targets.clone(),
            inputs,
            target_inputs,
            window_spec,
            ids: Vec::new(),
            longest: 0,
            samples: Vec::new(),
            index: Vec::new(),
            handed_on: 0,
        })
    }

    /// Cuts the windows of the series `id` (its `times` and `rows × inputs` values).
    fn add(&mut self, id: String, times: &[f64], values: &[f32]) -> Result<()> {
        let s = self.ids.len();
        self.ids.push(id);
        self.longest = self.longest.max(times.len());
        let span = self.window_spec.span();
        if times.len() < span {
            return Ok(());
        }
        let window = self.windows.window;
        let cut = sliding_windows_flat(values, self.inputs.len(), &self.window_spec)?;
        for (sample, &start) in cut.dataset.samples().iter().zip(&cut.starts) {
            let target_times = times[start + window..start + span].to_vec();
            self.samples.push(SequenceSample {
                id: format!("{}@{}", self.ids[s], target_times[0]),
                ..sample.clone()
            });
            self.index.push(ForecastWindow {
                series: s,
                start,
                target_times,
            });
        }
        Ok(())
    }

    /// An error for a file none of whose series is long enough for a window.
    fn some_windows(&self, path: &Path) -> Result<()> {
        if self.handed_on == 0 && self.samples.is_empty() {
            return Err(DataError::InvalidParameter(format!(
                "{}: no series has the {} rows a window needs (window {} + horizon {}); the \
                 longest has {}",
                path.display(),
                self.window_spec.span(),
                self.windows.window,
                self.windows.horizon,
                self.longest
            )));
        }
        Ok(())
    }

    /// The first `count` windows not yet handed on, as a dataset with its index.
    fn take(&mut self, count: usize) -> Result<(SequenceDataset, ForecastIndex)> {
        let samples: Vec<SequenceSample> = self.samples.drain(..count).collect();
        let windows: Vec<ForecastWindow> = self.index.drain(..count).collect();
        self.handed_on += count;
        let kind = crate::TargetKind::Regression {
            outputs: self.targets.len() * self.windows.horizon,
        };
        let dataset = SequenceDataset::new(samples, self.windows.window, self.inputs.len(), kind)?
            .with_feature_names(self.inputs.clone())?
            .with_target_names(horizon_names(&self.targets, self.windows.horizon))?;
        Ok((
            dataset,
            ForecastIndex {
                series: self.ids.clone(),
                windows,
                window: self.windows.window,
                horizon: self.windows.horizon,
                targets: self.targets.clone(),
                target_inputs: self.target_inputs.clone(),
            },
        ))
    }
}

/// The last `window` rows of each series of `path`, to forecast what follows them, with each
/// series' last time and its last step between rows (1 for a one-row series).
pub(super) fn read_forecast_inputs(path: &Path, spec: &DataSpec) -> Result<SpecInputs> {
    let window = spec.forecast.map_or(1, |w| w.window);
    let series = read_series(path, spec, &forecast_inputs(spec))?;
    let d = forecast_inputs(spec).len();
    let mut inputs = SpecInputs::default();
    for one in series {
        push_last_window(&mut inputs, one.id, &one.times, &one.values, d, window);
    }
    Ok(inputs)
}

/// Adds to `inputs` the last `window` rows of the series `id` (its `times` and `rows × d`
/// `values`), with its last time and its last step between rows (1 for a one-row series).
pub(super) fn push_last_window(
    inputs: &mut SpecInputs,
    id: String,
    times: &[f64],
    values: &[f32],
    d: usize,
    window: usize,
) {
    let rows = times.len();
    let first = rows.saturating_sub(window);
    inputs
        .sequences
        .push(values[first * d..].chunks(d).map(<[f32]>::to_vec).collect());
    let last = times[rows - 1];
    let step = if rows > 1 {
        last - times[rows - 2]
    } else {
        1.0
    };
    inputs.last_times.push((last, step));
    inputs.ids.push(id);
}

#[cfg(test)]
mod tests {
    use super::super::spec::{ForecastWindows, Format, Task};
    use super::super::test_support::write_file;
    use super::*;

    fn spec(id: Option<&str>) -> DataSpec {
        DataSpec {
            format: Format::Long,
            id: id.map(str::to_string),
            time: Some("day".into()),
            features: vec!["promo".into()],
            targets: vec!["sales".into()],
            task: Task::Forecast,
            forecast: Some(ForecastWindows {
                window: 3,
                horizon: 2,
                stride: 1,
            }),
            max_steps: None,
            missing: Default::default(),
        }
    }

    /// Two stores, 10 days each, rows shuffled: sales = 10·store + day, promo = day % 2.
    fn file(dir: &tempfile::TempDir) -> std::path::PathBuf {
        let mut text = String::from("store,day,promo,sales\n");
        for day in (0..10).rev() {
            for store in [1, 2] {
                text += &format!("s{store},{day},{},{}\n", day % 2, 10 * store + day);
            }
        }
        write_file(dir, "sales.csv", &text)
    }

    #[test]
    fn windows_per_series_forecast_the_next_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = file(&dir);
        let data = spec(Some("store")).read(&path, None).unwrap();
        let index = data.forecast.as_ref().unwrap();
        // Per store: (10 - 3 - 2) + 1 = 6 windows.
        assert_eq!(data.dataset.len(), 12);
        assert_eq!(index.series, ["s1", "s2"]);
        assert_eq!(data.dataset.feature_names(), ["promo", "sales"]);
        assert_eq!(data.dataset.target_names(), ["sales t+1", "sales t+2"]);
        let first = &data.dataset.samples()[0];
        assert_eq!(first.id, "s1@3");
        // Steps: (promo, sales) at days 0, 1, 2; targets: sales on days 3 and 4.
        assert_eq!(first.values, [0.0, 10.0, 1.0, 11.0, 0.0, 12.0]);
        assert_eq!(first.target, crate::Target::Regression(vec![13.0, 14.0]));
        assert_eq!(index.windows[0].target_times, [3.0, 4.0]);
        assert_eq!(index.target_inputs, [1]);

        let split = index
            .chronological_split(SplitFractions::train_valid(0.5))
            .unwrap();
        // Cut at row 5: windows forecasting rows before it train (start 0), windows forecasting
        // rows from it on validate (starts 2 to 5), per store.
        assert_eq!(split.train, [0, 6]);
        assert_eq!(split.valid, [2, 3, 4, 5, 8, 9, 10, 11]);
        assert_eq!(split.dropped, [1, 7]);

        let inputs = spec(Some("store")).read_inputs(&path).unwrap();
        assert_eq!(inputs.ids, ["s1", "s2"]);
        assert_eq!(
            inputs.sequences[1],
            [vec![1.0, 27.0], vec![0.0, 28.0], vec![1.0, 29.0]]
        );
        assert_eq!(inputs.last_times, [(9.0, 1.0), (9.0, 1.0)]);
    }

    #[test]
    fn one_series_without_an_id_and_too_short_series() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_file(
            &dir,
            "one.csv",
            "day,promo,sales\n0,0,1\n1,1,2\n2,0,3\n3,0,4\n4,1,5\n5,0,6\n",
        );
        let data = spec(None).read(&path, None).unwrap();
        assert_eq!(data.dataset.len(), 2);
        assert_eq!(data.dataset.samples()[1].id, "series@4");
        let short = write_file(&dir, "short.csv", "day,promo,sales\n0,0,1\n1,1,2\n");
        let err = spec(None).read(&short, None).unwrap_err().to_string();
        assert!(
            err.contains("5 rows") && err.contains("longest has 2"),
            "{err}"
        );
    }
}
