//! The chronological split of on-disk windows, series by series, as ranges of windows.
//!
//! The same rule as [`crate::ForecastIndex::chronological_split`], computed from each series'
//! window count instead of a list of windows: within a series the training windows are a
//! prefix and the validation windows a suffix, so each side is one range per series.

use super::dataset::{OnDiskDataset, Segment};
use crate::error::{DataError, Result};

/// `(train, valid)` of `data` holding out `valid_fraction` of each series' rows.
pub(super) fn chronological(
    data: &OnDiskDataset,
    valid_fraction: f64,
) -> Result<(OnDiskDataset, OnDiskDataset)> {
    if !(valid_fraction > 0.0 && valid_fraction < 1.0) {
        return Err(DataError::InvalidParameter(format!(
            "the validation fraction must be in (0, 1), got {valid_fraction}"
        )));
    }
    let share = 1.0 - valid_fraction;
    let windows = data.windows();
    let (t, stride) = (windows.window, windows.stride);
    let span = t + windows.horizon;
    let (mut train, mut valid) = (Vec::new(), Vec::new());
    for segment in data.segments() {
        let start = |k: usize| (segment.first + k) * stride;
        let count = segment.count;
        let rows = start(count - 1) + span;
        let cut = (share * rows as f64).round() as usize;
        // Windows whose forecast rows all lie before the cut train; those forecasting only rows
        // from the cut on validate; the one or few between are dropped.
        let trains = first_failing(count, |k| start(k) + span <= cut);
        let validates_from = first_failing(count, |k| start(k) + t < cut);
        if trains == 0 || validates_from == count {
            train.push(*segment);
            continue;
        }
        train.push(Segment {
            count: trains,
            ..*segment
        });
        let from = validates_from.max(trains);
        valid.push(Segment {
            first: segment.first + from,
            count: count - from,
            ..*segment
        });
    }
    let windows_in = |s: &[Segment]| s.iter().map(|s| s.count).sum::<usize>();
    let (trained, validated) = (windows_in(&train), windows_in(&valid));
    if trained == 0 || validated == 0 {
        return Err(DataError::Empty(format!(
            "a chronological split of {} windows over {} series leaves no {} window; use longer \
             series, a shorter window or a --valid file",
            data.len(),
            data.num_series(),
            if trained == 0 {
                "training"
            } else {
                "validation"
            }
        )));
    }
    Ok((data.with(train), data.with(valid)))
}

/// The first `k` in `0..count` where `holds` fails (`count` when it always holds); `holds`
/// must be true up to some point and false after it.
fn first_failing(count: usize, holds: impl Fn(usize) -> bool) -> usize {
    let (mut low, mut high) = (0, count);
    while low < high {
        let mid = low + (high - low) / 2;
        if holds(mid) {
            low = mid + 1;
        } else {
            high = mid;
        }
    }
    low
}
