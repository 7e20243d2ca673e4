//! Stateful training (truncated backpropagation through time, Keras's `stateful=True`): long
//! series cut into consecutive windows and laid out in `S` streams, so that row `i` of batch
//! `k + 1` continues row `i` of batch `k` and a network can carry its state from one batch to the
//! next. Gradients stop at window boundaries; the state does not.

use serde::{Deserialize, Serialize};

use crate::dataset::{SequenceDataset, SequenceSample, Target, TargetKind};
use crate::error::{DataError, Result};

/// How the samples of a dataset form streams: sample `k·S + i` is window `k` of stream `i`, so
/// batches of `S` samples taken in order give every stream one window per batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Streams {
    /// S, the number of streams: the batch size of a stateful run.
    pub count: usize,
    /// Per sample: `true` when it continues the previous window of its stream (the state
    /// carries over), `false` at the start of a series (the state starts from zeros).
    pub continues: Vec<bool>,
}

impl Streams {
    /// Checks the layout against a dataset of `len` samples.
    pub(crate) fn check(&self, len: usize) -> Result<()> {
        let bad = |msg: String| Err(DataError::InvalidParameter(msg));
        if self.count == 0 {
            return bad("a stream layout needs at least one stream".into());
        }
        if self.continues.len() != len {
            return bad(format!(
                "the stream layout has {} flags for {len} samples",
                self.continues.len()
            ));
        }
        if !len.is_multiple_of(self.count) {
            return bad(format!(
                "{len} samples do not split into {} streams of equal length",
                self.count
            ));
        }
        if let Some(i) = self.continues[..self.count].iter().position(|&c| c) {
            return bad(format!(
                "sample {i} is in the first batch, so it cannot continue an earlier window"
            ));
        }
        Ok(())
    }
}

/// Settings of [`stream_windows`]: windows of `window` steps over columns `inputs`, each step
/// forecasting the next step's `targets` columns, in `streams` streams.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSpec {
    /// T, steps per window (the truncation length of backpropagation through time).
    pub window: usize,
    /// S, the number of streams (the batch size).
    pub streams: usize,
    /// Input columns of each row.
    pub inputs: Vec<usize>,
    /// Target columns: the value at step `t` is the next row's (`t + 1`).
    pub targets: Vec<usize>,
}

/// One window: its series and first row.
#[derive(Clone, Copy)]
struct Window {
    series: usize,
    start: usize,
}

/// Cuts each series (named rows of columns, in time order) into consecutive windows of
/// `spec.window` steps with per-step next-row targets, and lays them out in `spec.streams`
/// streams (see [`Streams`]): the windows of all series, in order, are split into `S` runs of
/// equal length, so a stream may pass from the end of one series to the start of the next (its
/// state is reset there). Windows that do not fill the last batch are left out at the end.
///
/// ```
/// use burn_rnn_data::{StreamSpec, stream_windows};
///
/// // Two series of 9 rows (one column): 4 windows of 2 steps each, in 2 streams.
/// let series: Vec<(String, Vec<Vec<f32>>)> = ["a", "b"]
///     .iter()
///     .map(|name| (name.to_string(), (0..9).map(|t| vec![t as f32]).collect()))
///     .collect();
/// let spec = StreamSpec { window: 2, streams: 2, inputs: vec![0], targets: vec![0] };
/// let data = stream_windows(&series, &spec)?;
/// assert_eq!(data.len(), 8);
/// let ids: Vec<&str> = data.samples().iter().map(|s| s.id.as_str()).collect();
/// // Batch 0 holds window 0 of each stream, batch 1 window 1, ...
/// assert_eq!(&ids[..4], ["a@0", "b@0", "a@2", "b@2"]);
/// assert_eq!(data.streams().unwrap().continues[..4], [false, false, true, true]);
/// # Ok::<(), burn_rnn_data::DataError>(())
/// ```
pub fn stream_windows(
    series: &[(String, Vec<Vec<f32>>)],
    spec: &StreamSpec,
) -> Result<SequenceDataset> {
    let bad = |msg: String| Err(DataError::InvalidParameter(msg));
    if spec.window == 0 || spec.streams == 0 {
        return bad("stream windows need a window and a stream count of at least 1".into());
    }
    if spec.inputs.is_empty() || spec.targets.is_empty() {
        return bad("stream windows need at least one input and one target column".into());
    }
    let mut windows = Vec::new();
    for (index, (name, rows)) in series.iter().enumerate() {
        for (t, row) in rows.iter().enumerate() {
            if let Some(&c) = spec
                .inputs
                .iter()
                .chain(&spec.targets)
                .find(|&&c| c >= row.len())
            {
                return bad(format!(
                    "series {name}, row {t}: column {c} does not exist ({} columns)",
                    row.len()
                ));
            }
        }
        // A window needs one row after it for its last target.
        let count = rows.len().saturating_sub(1) / spec.window;
        windows.extend((0..count).map(|w| Window {
            series: index,
            start: w * spec.window,
        }));
    }
    let per_stream = windows.len() / spec.streams;
    if per_stream == 0 {
        return bad(format!(
            "the series give {} windows of {} steps, fewer than the {} streams",
            windows.len(),
            spec.window,
            spec.streams
        ));
    }
    let (t, k) = (spec.window, spec.targets.len());
    let mut samples = Vec::with_capacity(per_stream * spec.streams);
    let mut continues = Vec::with_capacity(per_stream * spec.streams);
    for step in 0..per_stream {
        for stream in 0..spec.streams {
            let at = stream * per_stream + step;
            let window = windows[at];
            let (name, rows) = &series[window.series];
            let previous = (step > 0).then(|| windows[at - 1]);
            continues.push(previous.is_some_and(|p| {
                p.series == window.series && p.start + spec.window == window.start
            }));
            let span = window.start..window.start + t;
            let pick = |row: &Vec<f32>, columns: &[usize]| -> Vec<f32> {
                columns.iter().map(|&c| row[c]).collect()
            };
            samples.push(SequenceSample {
                id: format!("{name}@{}", window.start),
                values: rows[span.clone()]
                    .iter()
                    .flat_map(|r| pick(r, &spec.inputs))
                    .collect(),
                length: t,
                target: Target::PerStep(
                    rows[span.start + 1..span.end + 1]
                        .iter()
                        .flat_map(|r| pick(r, &spec.targets))
                        .collect(),
                ),
            });
        }
    }
    SequenceDataset::new(
        samples,
        t,
        spec.inputs.len(),
        TargetKind::PerStep { outputs: k },
    )?
    .with_streams(Streams {
        count: spec.streams,
        continues,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(name: &str, len: usize) -> (String, Vec<Vec<f32>>) {
        let rows = (0..len).map(|t| vec![t as f32, 100.0 + t as f32]).collect();
        (name.to_string(), rows)
    }

    fn spec(window: usize, streams: usize) -> StreamSpec {
        StreamSpec {
            window,
            streams,
            inputs: vec![0],
            targets: vec![1],
        }
    }

    /// Each stream's windows follow each other in its series; a stream that runs past the end of
    /// one series starts the next from zeros; targets are the next rows.
    #[test]
    fn streams_continue_across_batches_and_reset_between_series() {
        // 3 series of 7, 9 and 5 rows, windows of 2: 3 + 4 + 2 = 9 windows, 2 streams of 4.
        let series = [ramp("a", 7), ramp("b", 9), ramp("c", 5)];
        let data = stream_windows(&series, &spec(2, 2)).unwrap();
        let ids: Vec<&str> = data.samples().iter().map(|s| s.id.as_str()).collect();
        // Stream 0: a@0 a@2 a@4 b@0; stream 1: b@2 b@4 b@6 c@0; c@2 is left out.
        assert_eq!(
            ids,
            ["a@0", "b@2", "a@2", "b@4", "a@4", "b@6", "b@0", "c@0"]
        );
        let streams = data.streams().unwrap();
        assert_eq!(streams.count, 2);
        assert_eq!(
            streams.continues,
            [false, false, true, true, true, true, false, false]
        );
        let sample = &data.samples()[1];
        assert_eq!(sample.values, [2.0, 3.0]);
        assert_eq!(sample.target, Target::PerStep(vec![103.0, 104.0]));
    }

    #[test]
    fn bad_settings_are_named() {
        let series = [ramp("a", 7)];
        let error = |s: StreamSpec| stream_windows(&series, &s).unwrap_err().to_string();
        assert!(error(spec(0, 1)).contains("at least 1"));
        assert!(error(spec(2, 4)).contains("fewer than the 4 streams"));
        let mut wide = spec(2, 1);
        wide.targets = vec![5];
        assert!(error(wide).contains("column 5"));
    }

    #[test]
    fn layouts_are_checked_and_dropped_by_reordering() {
        let data = stream_windows(&[ramp("a", 9)], &spec(2, 2)).unwrap();
        let layout = |count, continues: Vec<bool>| Streams { count, continues };
        let error = |s: Streams| data.clone().with_streams(s).unwrap_err().to_string();
        assert!(error(layout(3, vec![false; 4])).contains("equal length"));
        assert!(error(layout(2, vec![false; 3])).contains("3 flags"));
        assert!(error(layout(2, vec![true, false, true, true])).contains("first batch"));
        assert!(data.subset(&[1, 0]).unwrap().streams().is_none());
    }
}
