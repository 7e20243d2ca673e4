//! What a run directory written by [`TrainSpec::train`](super::TrainSpec::train) holds beyond
//! the model: `data.json` ([`RunData`]), and where a new run goes by default.

use std::path::{Path, PathBuf};

use burn_rnn_data::{DataSpec, SequenceSource, Target};
use serde::{Deserialize, Serialize};

use crate::artifacts::{RunDir, read_json};
use crate::error::Result;

/// How a run's files are read, with what training saw of the classes: `data.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunData {
    /// How files are read for this run.
    pub columns: DataSpec,
    /// Training sequences (or windows) per class, in class order; empty unless classifying.
    pub class_counts: Vec<usize>,
    /// Training sequences (or forecast windows).
    pub train_samples: usize,
    /// Validation sequences (or forecast windows).
    pub valid_samples: usize,
}

impl RunData {
    /// The file name in a run directory.
    pub const FILE: &'static str = "data.json";

    /// Reads `data.json` of a run; `None` when the run was trained from code (no such file).
    pub fn read(dir: &RunDir) -> Result<Option<Self>> {
        let path = dir.file(Self::FILE);
        if !path.is_file() {
            return Ok(None);
        }
        read_json(&path).map(Some)
    }
}

/// Sequences per class of a classification dataset (one pass over it); empty for other
/// targets, without reading any sample.
pub(super) fn class_counts(data: &dyn SequenceSource) -> Result<Vec<usize>> {
    let burn_rnn_data::TargetKind::Classification { classes } = data.target_kind() else {
        return Ok(Vec::new());
    };
    let mut counts = vec![0; classes];
    data.for_each_sample(&mut |sample| {
        if let Target::Class(c) = sample.target {
            counts[c] += 1;
        }
        Ok(())
    })?;
    Ok(counts)
}

/// A run directory for `data` under `runs` (the command line's is `runs/`): `<runs>/<file
/// stem>`, or with `-2`, `-3`, ... added when that one already holds a run, so that no earlier
/// run is overwritten.
pub fn default_run_dir(runs: &Path, data: &Path) -> PathBuf {
    let stem = data.file_stem().and_then(|s| s.to_str()).unwrap_or("run");
    let base = runs.join(stem);
    let taken = |p: &Path| p.join("train.toml").exists() || p.join("training.json").exists();
    if !taken(&base) {
        return base;
    }
    (2..)
        .map(|k| runs.join(format!("{stem}-{k}")))
        .find(|p| !taken(p))
        .unwrap_or(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_run_dirs_do_not_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let runs = dir.path().join("runs");
        let data = Path::new("data/vitals.csv");
        let first = default_run_dir(&runs, data);
        assert_eq!(first, runs.join("vitals"));
        std::fs::create_dir_all(&first).unwrap();
        std::fs::write(first.join("train.toml"), "").unwrap();
        assert_eq!(default_run_dir(&runs, data), runs.join("vitals-2"));
    }
}
