//! Data bigger than memory: forecasting windows over long series kept in a file on disk.
//!
//! A long CSV file is converted once ([`OnDiskDataset::convert`]) into a compact binary file:
//! each series' rows as little-endian `f32` values and `f64` times, with a small validated
//! header and an index (see [`format`]). [`OnDiskDataset`] then cuts each window when it is
//! asked for, with one positioned read; only an index of a few numbers per series is held in
//! memory, never the windows (an in-memory dataset of `N` windows holds `N × T × D` values, `T`
//! times the series' own size).
//!
//! Normalisation statistics are fitted by training in one streaming pass over the training
//! windows ([`crate::Normalizer::fit_source`]), not at conversion: the conversion does not know
//! the split, and statistics of all rows would leak the validation part into training. That
//! pass reads each series once and gives the same statistics, bit for bit, as the in-memory
//! path.
//!
//! Use it above [`ON_DISK_THRESHOLD_BYTES`] of CSV, as `burn-rnn train` does.

mod convert;
mod dataset;
pub mod format;
mod split;
#[cfg(test)]
mod tests;

pub use dataset::OnDiskDataset;

/// The CSV size from which `burn-rnn train` keeps forecasting windows on disk (256 MiB): the
/// in-memory windows of such a file take `T` times its binary size (a window of `T = 32` steps
/// over 256 MiB of CSV is several GiB).
pub const ON_DISK_THRESHOLD_BYTES: u64 = 256 << 20;
