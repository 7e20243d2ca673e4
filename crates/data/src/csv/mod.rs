//! Reading sequence datasets from CSV files, in long or wide format.
//!
//! **Long format** ([`LongCsvLayout`], [`read_long_csv`]): one row per sample and step,
//! `id,time,feature...,target...`. Rows may come in any order: the rows of an id are sorted by
//! their (numeric) time, and samples keep the order in which their id first appears. The time
//! values only order the steps (gaps are not checked); dates must be converted to numbers first.
//!
//! ```text
//! patient,hour,hr,spo2,outcome
//! p1,0,80,97,died
//! p1,1,85,95,died
//! p2,0,70,99,survived
//! p2,1,72,98,survived
//! ```
//!
//! **Wide format** ([`WideCsvLayout`], [`read_wide_csv`]): one row per sample; each feature lists
//! its columns in step order, e.g. `hr_0,hr_1,...,hr_23` (see [`WideFeature::numbered`]).
//!
//! **Targets** ([`CsvTarget`]): regression columns, one class column (string labels mapped to
//! indices; the labels become the dataset's target names), or per-step columns (long format only).
//! In long format a per-sample target (regression or class) may be written on every row of its
//! sample or only on some (e.g. the last); empty cells are ignored, but two different values for
//! one sample are an error.
//!
//! **Missing values** ([`MissingValues`]): a missing value is an empty cell (pandas writes NaN
//! that way). `NaN` and `inf` written out are errors, not missing values.
//!
//! **Without code** ([`inspect_csv`], [`DataSpec`]): the format, columns and task inferred from
//! the file (what `burn-rnn train` does), then read by the resulting spec; forecasting windows
//! over one or many series ([`ForecastIndex`]).
//!
//! Every error names the file (`<memory>` for readers), the 1-based line (the header is line 1)
//! and the column.

// One file per concern: the table every reader starts from, the layouts, targets, the
// missing-value policy, each format's reader, and reading by a spec the command line infers.
mod chunks;
mod forecast;
mod in_chunks;
mod infer;
mod layout;
mod long;
mod long_samples;
mod missing;
mod sample_stream;
mod spec;
mod stream;
mod summary;
mod table;
mod targets;
#[cfg(test)]
mod test_support;
mod wide;

pub(crate) use chunks::for_each_series;
pub use forecast::{ForecastIndex, ForecastWindow};
pub use infer::{DataHints, INSPECTED_ROWS, TARGET_NAMES, inspect_csv};
pub use layout::{LongCsvLayout, WideCsvLayout, WideFeature};
pub use long::{
    read_long_csv, read_long_csv_from_reader, read_long_sequences, read_long_sequences_from_reader,
};
pub use long_samples::ONE_SERIES;
pub use missing::MissingValues;
pub(crate) use sample_stream::CHUNK_ROWS;
pub use spec::{DataSpec, ForecastWindows, Format, SpecData, SpecInputs, Task};
pub use summary::Inspection;
pub use table::MEMORY_SOURCE;
pub use targets::CsvTarget;
pub(crate) use targets::{RawTarget, observed_labels, unknown_label};
pub use wide::{read_wide_csv, read_wide_csv_from_reader, read_wide_sequences};
