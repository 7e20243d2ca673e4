//! burn-train's metric store reads each epoch's metric values back from its loggers. burn's
//! `FileMetricLogger` appends every batch's values to `<split>/epoch-<k>/<metric>.log` files that
//! are neither atomic nor cleared when an epoch is run again after a crash. This logger keeps in
//! memory only what the store reads (each metric's running mean, or its final value, for the
//! last two epochs); the run's history is saved with each checkpoint instead.

use std::collections::{BTreeMap, HashMap};

use burn::train::logger::MetricLogger;
use burn::train::metric::store::{EpochSummary, MetricsUpdate, Split};
use burn::train::metric::{MetricDefinition, MetricId, NumericEntry};

/// What the store needs of one metric in one epoch and split.
#[derive(Debug, Default, Clone, Copy)]
struct Running {
    sum: f64,
    count: usize,
    final_value: Option<f64>,
}

/// A [`MetricLogger`] in memory, bounded: epochs older than the previous one are dropped.
#[derive(Default)]
pub(crate) struct EpochMetricLog {
    names: HashMap<MetricId, String>,
    values: BTreeMap<usize, HashMap<(String, String), Running>>,
}

impl MetricLogger for EpochMetricLog {
    fn log(&mut self, update: MetricsUpdate, epoch: usize, split: &Split) {
        let split = split.to_string();
        let entries = update
            .entries
            .iter()
            .chain(update.entries_numeric.iter().map(|numeric| &numeric.entry));
        for entry in entries {
            let Some(name) = self.names.get(&entry.metric_id) else {
                continue;
            };
            let Ok(value) = NumericEntry::deserialize(&entry.serialized_entry.serialized) else {
                continue; // a text metric, or a placeholder
            };
            let running = self
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
        while self.values.len() > 2 {
            self.values.pop_first();
        }
    }

    fn read_numeric(
        &mut self,
        name: &str,
        epoch: usize,
        split: &Split,
    ) -> Result<Vec<NumericEntry>, String> {
        let running = self
            .values
            .get(&epoch)
            .and_then(|metrics| metrics.get(&(name.to_string(), split.to_string())));
        Ok(match running {
            Some(Running {
                final_value: Some(v),
                ..
            }) => vec![NumericEntry::Final(*v)],
            Some(running) if running.count > 0 => vec![NumericEntry::Aggregated {
                aggregated_value: running.sum / running.count as f64,
                count: running.count,
            }],
            _ => Vec::new(),
        })
    }

    fn log_metric_definition(&mut self, definition: MetricDefinition) {
        self.names
            .insert(definition.metric_id.clone(), definition.name.to_string());
    }

    fn log_epoch_summary(&mut self, _summary: EpochSummary) {}
}
