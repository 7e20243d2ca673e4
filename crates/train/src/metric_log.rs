//! burn-train's metric store reads each epoch's metric values back from its loggers. burn's
//! `FileMetricLogger` appends every batch's values to `<split>/epoch-<k>/<metric>.log` files that
//! are neither atomic nor cleared when an epoch is run again after a crash. This logger keeps in
//! memory only each metric's running mean and final value for the last two epochs; the run's
//! history is saved with each checkpoint instead. The run reads an epoch's values from it
//! directly ([`EpochMetricLog::metrics`]): the store's `find_metric` would cache every value it
//! returns for the rest of the run, a few hundred bytes an epoch.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use burn::train::logger::MetricLogger;
use burn::train::metric::store::{Aggregate, EpochSummary, EventStoreClient, MetricsUpdate, Split};
use burn::train::metric::{MetricDefinition, MetricId, NumericEntry};

use crate::history::EpochMetrics;
use crate::metrics::mae_metric_name;

/// What the store needs of one metric in one epoch and split.
#[derive(Debug, Default, Clone, Copy)]
struct Running {
    sum: f64,
    count: usize,
    final_value: Option<f64>,
}

/// A [`MetricLogger`] in memory, bounded: epochs older than the previous one are dropped.
/// Clones share one log (one goes to burn's store, one stays with the run).
#[derive(Default, Clone)]
pub(crate) struct EpochMetricLog {
    state: Arc<Mutex<LogState>>,
}

#[derive(Default)]
struct LogState {
    names: HashMap<MetricId, String>,
    values: BTreeMap<usize, HashMap<(String, String), Running>>,
}

impl EpochMetricLog {
    fn lock(&self) -> std::sync::MutexGuard<'_, LogState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Epoch `epoch`'s metrics: the training and validation loss (NaN if missing), the
    /// accuracies when logged, and the real-unit validation MAE of each of `mae_outputs`.
    /// `store` is the store this log was registered with: asking it first waits until it has
    /// logged every event sent before.
    pub(crate) fn metrics(
        &self,
        epoch: usize,
        store: &EventStoreClient,
        mae_outputs: &[String],
    ) -> EpochMetrics {
        // No metric has this name: the store answers `None` and caches nothing, but only after
        // handing every earlier event to this log.
        let _ = store.find_metric("(wait for the log)", epoch, Aggregate::Mean, &Split::Train);
        let state = self.lock();
        let read = |name: &str, split: Split| state.value(name, epoch, &split);
        EpochMetrics {
            epoch,
            train_loss: read("Loss", Split::Train).unwrap_or(f64::NAN),
            valid_loss: read("Loss", Split::Valid).unwrap_or(f64::NAN),
            train_accuracy: read("Accuracy", Split::Train),
            valid_accuracy: read("Accuracy", Split::Valid),
            valid_mae: mae_outputs
                .iter()
                .filter_map(|name| {
                    read(&mae_metric_name(name), Split::Valid).map(|value| (name.clone(), value))
                })
                .collect(),
        }
    }
}

impl LogState {
    /// A metric's epoch value: its final value, else the mean of what was logged.
    fn value(&self, name: &str, epoch: usize, split: &Split) -> Option<f64> {
        let running = self
            .values
            .get(&epoch)?
            .get(&(name.to_string(), split.to_string()))?;
        match running.final_value {
            Some(v) => Some(v),
            None if running.count > 0 => Some(running.sum / running.count as f64),
            None => None,
        }
    }
}

impl MetricLogger for EpochMetricLog {
    fn log(&mut self, update: MetricsUpdate, epoch: usize, split: &Split) {
        let mut state = self.lock();
        let state = &mut *state;
        let split = split.to_string();
        let entries = update
            .entries
            .iter()
            .chain(update.entries_numeric.iter().map(|numeric| &numeric.entry));
        for entry in entries {
            let Some(name) = state.names.get(&entry.metric_id) else {
                continue;
            };
            let Ok(value) = NumericEntry::deserialize(&entry.serialized_entry.serialized) else {
                continue; // a text metric, or a placeholder
            };
            let running = state
                .values
                .entry(epoch)
                .or_default()
                .entry((name.clone(), split.clone()))
                .or_default();
            match value {
                NumericEntry::Value(v) => {
                    running.sum += v;
                    running.count += 1;
                }
                NumericEntry::Aggregated {
                    aggregated_value,
                    count,
                } => {
                    running.sum += aggregated_value * count as f64;
                    running.count += count;
                }
                NumericEntry::Final(v) => running.final_value = Some(v),
            }
        }
        // Only the current epoch and the one before it are ever read back.
        while state.values.len() > 2 {
            state.values.pop_first();
        }
    }

    fn read_numeric(
        &mut self,
        name: &str,
        epoch: usize,
        split: &Split,
    ) -> Result<Vec<NumericEntry>, String> {
        Ok(self
            .lock()
            .value(name, epoch, split)
            .map(|v| vec![NumericEntry::Final(v)])
            .unwrap_or_default())
    }

    fn log_metric_definition(&mut self, definition: MetricDefinition) {
        self.lock()
            .names
            .insert(definition.metric_id.clone(), definition.name.to_string());
    }

    fn log_epoch_summary(&mut self, _summary: EpochSummary) {}
}
