//! Resuming a run: the newest good checkpoint, checked against the run's settings and data.

use std::path::Path;

use burn::module::Module;
use burn::store::ModuleRecord;
use burn::tensor::{Bytes, Device};
use burn_rnn_data::SequenceSource;
use burn_rnn_model::SequenceModel;

use crate::artifacts::{RunDir, io_error};
use crate::checkpoint::{Manifest, Part, read_part, resume_point};
use crate::config::TrainingConfig;
use crate::error::{Result, TrainError};
use crate::history::EpochMetrics;
use crate::task::Trainable;

/// The newest good checkpoint of the run in `dir` and the metrics of its epochs, after checking
/// that it was made with these settings and this data; with a sentence for each damaged
/// checkpoint passed over.
pub(super) fn find_resume_point(
    dir: &RunDir,
    config: &TrainingConfig,
    fingerprint: &str,
) -> Result<(Manifest, Vec<EpochMetrics>, Vec<String>)> {
    let checkpoints = dir.checkpoints().join("checkpoint");
    let point = resume_point(&checkpoints).map_err(|e| io_error(&checkpoints, e))?;
    let nothing = |reason: String| TrainError::NothingToResume {
        dir: dir.root().to_path_buf(),
        reason,
    };
    let Some(manifest) = point.manifest else {
        return Err(nothing(if !point.skipped.is_empty() {
            format!("no checkpoint is usable: {}", point.skipped.join("; "))
        } else if !dir.root().is_dir() {
            "the directory does not exist".into()
        } else {
            "it holds no complete checkpoint (a run stopped before its first epoch ended leaves none)"
                .into()
        }));
    };
    let mismatch = |what: String| TrainError::ResumeMismatch {
        dir: dir.root().to_path_buf(),
        what,
    };
    let saved = dir.read_training_config()?;
    let differing = differing_settings(&saved, config)?;
    if !differing.is_empty() {
        return Err(mismatch(format!(
            "its checkpoint was trained with other settings ({})",
            differing.join(", ")
        )));
    }
    if manifest.data != fingerprint {
        return Err(mismatch(
            "the training or validation data differ from the data its checkpoint was trained on"
                .into(),
        ));
    }
    let warnings = point
        .skipped
        .iter()
        .map(|problem| format!("{problem}; resuming from epoch {}", manifest.epoch))
        .collect();
    Ok((manifest, point.history, warnings))
}

/// The top-level settings of `config` that differ from `saved`, other than `num_epochs`.
pub(super) fn differing_settings(
    saved: &TrainingConfig,
    config: &TrainingConfig,
) -> Result<Vec<String>> {
    let as_json = |c: &TrainingConfig| {
        serde_json::to_value(c).map_err(|e| TrainError::InvalidConfig(e.to_string()))
    };
    let (saved, current) = (as_json(saved)?, as_json(config)?);
    let (Some(saved), Some(current)) = (saved.as_object(), current.as_object()) else {
        return Ok(vec!["the whole configuration".into()]);
    };
    Ok(current
        .iter()
        .filter(|(key, value)| {
            key.as_str() != "num_epochs" && saved.get(key.as_str()) != Some(value)
        })
        .map(|(key, value)| {
            let before = saved
                .get(key.as_str())
                .map_or("none".into(), |v| v.to_string());
            format!("{key}: {before}, now {value}")
        })
        .collect())
}

/// A CRC-32 of the datasets' shapes, samples and targets (an on-disk dataset's: its file's
/// checksums and its selection), written in hexadecimal.
pub(super) fn data_fingerprint(datasets: &[&dyn SequenceSource]) -> String {
    let mut crc = burn_rnn_io::Crc32::new();
    for data in datasets {
        for n in [data.num_samples(), data.num_steps(), data.num_features()] {
            crc.update(&(n as u64).to_le_bytes());
        }
        data.fingerprint(&mut crc);
    }
    format!("crc32:{:08x}", crc.finish())
}

/// The model weights of `epoch`'s checkpoint in `dir`, checked against its manifest.
pub(super) fn load_checkpointed_model(
    config: &TrainingConfig,
    dir: &Path,
    epoch: usize,
    device: &Device,
) -> Result<SequenceModel> {
    let manifest_path = dir.join(format!("epoch-{epoch}.json"));
    let error = |message: String| TrainError::Io {
        path: manifest_path.clone(),
        message: format!("cannot load the best checkpoint (epoch {epoch}): {message}"),
    };
    let manifest: Manifest = crate::artifacts::read_json(&manifest_path)?;
    let bytes = read_part(dir, &manifest, Part::Model).map_err(error)?;
    let record =
        ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes)).map_err(|e| error(e.to_string()))?;
    let fresh = Trainable::new(config.model.init(device)?, config.objective);
    Ok(fresh.load_record(record).model)
}
