//! Batched N×T×D sequence datasets for burn-rnn: samples × time steps × features, with targets
//! and true lengths, built from memory, CSV files, sliding windows or generators.
//!
//! - [`dataset`]: [`SequenceDataset`] of [`SequenceSample`]s (`T×D` values, length, [`Target`]).
//! - [`memory`]: from nested `N×T×D` vectors or a flat buffer with a shape.
//! - [`csv`]: long (one row per sample and step) or wide (one row per sample) CSV files.
//! - [`export`]: writing a dataset's inputs back out as a long CSV file.
//! - [`windows`]: sliding windows over one long series, with their start rows.
//! - [`pad`]: padding variable-length sequences to one T, keeping their lengths.
//! - [`normalize`]: z-score or min-max [`Normalizer`], fitted on training data, invertible, JSON.
//! - [`ondisk`]: forecasting windows and per-sample sequences kept on disk, for data bigger
//!   than memory.
//! - [`source`]: [`SequenceSource`], what training reads, in memory or on disk.
//! - [`split`]: random, chronological and leakage-free window splits.
//! - [`audio`]: WAV files and log-mel frames (spoken words as sequences).
//! - [`batcher`]: [`SequenceBatcher`] and [`dataloader`] producing [`SequenceBatch`] tensors.
//! - [`synth`]: deterministic synthetic data for examples and tests.
//!
//! Shapes: a sample's values are step-major (`values[t * D + d]`); steps at or after its length
//! are padding (`0.0`). A batch's inputs are `[B, T, D]`.

#![warn(missing_docs)]

pub mod audio;
pub mod batcher;
pub mod csv;
pub mod dataset;
pub mod error;
pub mod export;
pub mod memory;
pub mod normalize;
pub mod ondisk;
pub mod pad;
pub mod source;
pub mod split;
pub mod streams;
pub mod synth;
pub mod windows;

pub use batcher::{BatchTargets, SequenceBatch, SequenceBatcher, dataloader};
pub use csv::{
    CsvTarget, DataHints, DataSpec, ForecastIndex, ForecastWindows, Format, Inspection,
    LongCsvLayout, MissingValues, SpecData, SpecInputs, Task, WideCsvLayout, WideFeature,
    inspect_csv, read_long_csv, read_long_csv_from_reader, read_long_sequences, read_wide_csv,
    read_wide_csv_from_reader, read_wide_sequences,
};
pub use dataset::{SequenceDataset, SequenceSample, Target, TargetKind};
pub use error::{DataError, Result};
pub use export::{write_labelled_long_csv, write_long_csv};
pub use memory::{from_flat, from_nested};
pub use normalize::{NormalizationKind, Normalizer, Scaling};
pub use ondisk::{ON_DISK_THRESHOLD_BYTES, OnDiskDataset, OnDiskSequences};
pub use pad::{Padded, PaddedSequence, Truncation, pad_sequences};
pub use source::{Normalized, SequenceSource};
pub use split::{
    DatasetSplit, SplitFractions, SplitIndices, split_chronological, split_random, split_windows,
};
pub use streams::{StreamSpec, Streams, stream_windows};
pub use synth::{
    HealthcareConfig, MemoryTaskConfig, PatientCohort, PatientRecord, PriceConfig, PriceSeries,
    Regime, SentimentCorpus, SentimentSplit, SineConfig, SineWaves, TokenEncoding, Vocabulary,
    sentiment_dataset,
};
pub use windows::{
    WindowSpec, WindowTarget, Windows, horizon_names, sliding_windows, sliding_windows_flat,
};

// The README's example, compiled (and run unless marked `no_run`) with the doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
