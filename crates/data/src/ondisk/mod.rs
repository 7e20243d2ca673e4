//! Data bigger than memory: forecasting windows over long series, or one sequence per sample
//! (classification and regression), kept in a file on disk.
//!
//! A CSV file is converted once into a compact binary file with a small validated header, its
//! records and an index (see [`format`](mod@format)):
//! - [`OnDiskDataset`] (forecasting, long files): each series' rows as little-endian `f32`
//!   values and `f64` times; each window is cut when it is asked for, with one positioned read.
//!   Only an index of a few numbers per series is held in memory, never the windows (an
//!   in-memory dataset of `N` windows holds `N × T × D` values, `T` times the series' own size).
//! - [`OnDiskSequences`] (classification and regression, long or wide files): each sequence's
//!   target and steps; each sequence is read when it is asked for, with one positioned read,
//!   and padded to the file's `T` with its length kept. Memory holds an id and a few numbers per
//!   sequence, never the values.
//!
//! The conversion reads the CSV file once, a chunk of rows at a time (`CHUNK_ROWS`, 65,536, or
//! a whole id when longer): a wide file's rows may come in any order; a long file's ids must
//! each have their rows together (sorted by id, any order within), since grouping rows whose
//! ids are scattered over the file would need the whole file in memory; an id that comes back
//! after others is an error naming its line ("sort the file by id"). Besides the rows held,
//! the conversion keeps the index it writes and the set of ids met (to catch one coming back).
//!
//! Normalisation statistics are fitted by training in one streaming pass over the training
//! windows ([`crate::Normalizer::fit_source`]), not at conversion: the conversion does not know
//! the split, and statistics of all rows would leak the validation part into training. That
//! pass reads each series once and gives the same statistics, bit for bit, as the in-memory
//! path.
//!
//! Normalisation of sequences is fitted the same way, in one streaming pass over the training
//! selection. Use them above [`ON_DISK_THRESHOLD_BYTES`] of CSV, as `burn-rnn train` does.

mod convert;
mod convert_sequences;
mod dataset;
pub mod format;
mod sequences;
mod split;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_sequences;

pub use dataset::OnDiskDataset;
pub use sequences::OnDiskSequences;

/// The CSV size from which `burn-rnn train` keeps its data on disk, and `evaluate` and
/// `predict` read a file in batches (256 MiB): forecasting windows in memory take `T` times
/// the file's binary size (a window of `T = 32` steps over 256 MiB of CSV is several GiB), and
/// padded sequences in memory take the longest sequence's size for every one.
pub const ON_DISK_THRESHOLD_BYTES: u64 = 256 << 20;
