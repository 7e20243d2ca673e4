//! Progress output: burn-train's dashboard in a terminal, one plain line per epoch otherwise
//! (CI logs, pipes), where burn's own fallback prints a debug line per batch and no metrics.

use std::collections::HashMap;
use std::io::IsTerminal;

use burn::train::Interrupter;
use burn::train::logger::{EvaluationProgressLogger, TrainingProgressLogger};
use burn::train::metric::{MetricDefinition, MetricId, NumericEntry};
use burn::train::renderer::{
    EvaluationName, MetricState, MetricsRenderer, MetricsRendererEvaluation,
    MetricsRendererTraining, tui::TuiMetricsRendererWrapper,
};

/// How training reports progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// The dashboard when stdout is a terminal, plain epoch lines otherwise.
    Auto,
    /// Always plain epoch lines.
    Lines,
    /// Nothing (tests, libraries).
    Silent,
}

impl Progress {
    /// What a `--quiet` flag asks for: [`Progress::Silent`] when set, else [`Progress::Auto`].
    pub fn unless_quiet(quiet: bool) -> Self {
        if quiet {
            Progress::Silent
        } else {
            Progress::Auto
        }
    }
}

/// The renderer for `progress`.
pub(crate) fn renderer(
    progress: Progress,
    interrupter: Interrupter,
    resume_from: Option<usize>,
) -> Box<dyn MetricsRenderer> {
    match progress {
        Progress::Auto if std::io::stdout().is_terminal() => {
            Box::new(TuiMetricsRendererWrapper::new(interrupter, resume_from))
        }
        Progress::Auto | Progress::Lines => Box::new(EpochLines::new(true)),
        Progress::Silent => Box::new(EpochLines::new(false)),
    }
}

/// Prints `epoch 3/40  train Loss 0.4312  valid Loss 0.3921 ...` once per epoch.
struct EpochLines {
    print: bool,
    names: HashMap<MetricId, String>,
    train: Vec<(String, f64)>,
    valid: Vec<(String, f64)>,
    total_epochs: usize,
}

impl EpochLines {
    fn new(print: bool) -> Self {
        Self {
            print,
            names: HashMap::new(),
            train: Vec::new(),
            valid: Vec::new(),
            total_epochs: 0,
        }
    }

    fn final_value(&self, state: &MetricState) -> Option<(String, f64)> {
        match state {
            MetricState::Numeric(entry, Some(NumericEntry::Final(value))) => {
                Some((self.names.get(&entry.metric_id)?.clone(), *value))
            }
            _ => None,
        }
    }
}

fn format_values(values: &[(String, f64)]) -> String {
    values
        .iter()
        .map(|(name, value)| format!("{name} {value:.4}"))
        .collect::<Vec<_>>()
        .join("  ")
}

impl MetricsRendererTraining for EpochLines {
    fn update_train(&mut self, state: MetricState) {
        if let Some(value) = self.final_value(&state) {
            self.train.push(value);
        }
    }

    fn update_valid(&mut self, state: MetricState) {
        if let Some(value) = self.final_value(&state) {
            self.valid.push(value);
        }
    }
}

impl TrainingProgressLogger for EpochLines {
    fn start(
        &mut self,
        total_epochs: usize,
        _starting_epoch: usize,
        _total_items: Option<usize>,
        _label: Option<&str>,
    ) {
        self.total_epochs = total_epochs;
    }

    fn update_epoch(&mut self, epoch: usize) {
        // Every epoch for short runs; the first, every tenth and the last for long ones.
        let shown = self.total_epochs <= 20
            || epoch == 1
            || epoch.is_multiple_of(10)
            || epoch == self.total_epochs;
        if self.print && shown {
            println!(
                "epoch {epoch:>3}/{}  train: {}  valid: {}",
                self.total_epochs,
                format_values(&self.train),
                format_values(&self.valid)
            );
        }
        self.train.clear();
        self.valid.clear();
    }

    fn start_split(&mut self, _split: &str, _total_items: usize) {}
    fn update_split(&mut self, _items_processed: usize) {}
    fn end_split(&mut self) {}
    fn end(&mut self) {}
    fn log_event_training(&mut self, _event: String) {}
}

impl EvaluationProgressLogger for EpochLines {
    fn start_global_progress(&mut self, _total_tests: usize) {}
    fn start_test(&mut self, _name: &str, _total_items: usize) {}
    fn update_test_progress(&mut self, _items_processed: usize) {}
    fn end_test(&mut self) {}
    fn end_global_progress(&mut self) {}
    fn log_event_evaluation(&mut self, _event: String) {}
}

impl MetricsRendererEvaluation for EpochLines {
    fn update_test(&mut self, _name: EvaluationName, _state: MetricState) {}
}

impl MetricsRenderer for EpochLines {
    fn manual_close(&mut self) {}

    fn register_metric(&mut self, definition: MetricDefinition) {
        self.names
            .insert(definition.metric_id.clone(), definition.name.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_flag_silences_progress() {
        assert_eq!(Progress::unless_quiet(true), Progress::Silent);
        assert_eq!(Progress::unless_quiet(false), Progress::Auto);
    }
}
