//! Synthetic data for the examples and tests, all deterministic given a seed:
//!
//! - [`healthcare`]: an intensive-care cohort, hourly heart rate, systolic blood pressure and
//!   temperature (the notes' 100 patients × 24 hours × 3 vitals), with sepsis-like deterioration;
//!   next-hour forecasting (many-to-one and many-to-many) and deterioration classification.
//! - [`prices`]: daily stock prices, a geometric random walk with calm and turbulent volatility
//!   regimes.
//! - [`sine`]: noisy sine waves for quick checks: next value, per-step next value, frequency band.
//! - [`text`]: a hand-written sentiment corpus, its split by mirrored pair, a vocabulary and
//!   token-id datasets.
//! - [`memory`]: a task that needs a long memory (recall the sign of the first of T values).
//! - [`demand`]: daily sales of products in stores with weekly and yearly cycles, promotions and
//!   holidays.
//! - [`speech`]: spoken words recorded with `espeak-ng`, as log-mel sequences.
//!
//! Types for `lib.rs` to re-export: `HealthcareConfig`, `PatientCohort`, `PatientRecord`,
//! `PriceConfig`, `PriceSeries`, `Regime`, `SineConfig`, `SineWaves`, `SentimentCorpus`,
//! `Vocabulary`, `TokenEncoding`, `sentiment_dataset`, `SentimentSplit`, `MemoryTaskConfig` (or
//! simply `pub use synth::*`).

pub mod demand;
pub mod healthcare;
pub mod memory;
pub mod prices;
pub mod sine;
pub mod speech;
pub mod text;

pub use demand::{DemandConfig, DemandRow, write_demand_csv};
pub use healthcare::{
    DETERIORATION_CLASSES, HealthcareConfig, PatientCohort, PatientRecord, VITALS, vital_labels,
};
pub use memory::{MEMORY_FEATURES, MemoryTaskConfig, SIGN_CLASSES, SplitMix64, uniform_noise};
pub use prices::{PriceConfig, PriceSeries, Regime, TRADING_DAYS_PER_YEAR, log_returns};
pub use sine::{SineConfig, SineSample, SineWaves};
pub use speech::{DIGITS, SpeechConfig, Utterance, espeak_available, speech_dataset};
pub use text::{
    NEGATIVE, PAD_ID, POSITIVE, SENTIMENT_CLASSES, SentimentCorpus, SentimentSplit, TokenEncoding,
    UNK_ID, Vocabulary, sentiment_dataset, tokenize,
};
