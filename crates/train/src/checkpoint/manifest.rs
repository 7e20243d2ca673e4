//! A checkpoint's files and its manifest: names, reading and checking them, and the search for
//! the newest good checkpoint to resume from.

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::history::EpochMetrics;

/// The manifest format written by this version.
pub(super) const MANIFEST_VERSION: u32 = 1;

/// One of the three records of a checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    /// The model's weights.
    Model,
    /// The optimiser's state (Adam's moments and step count).
    Optimizer,
    /// The learning-rate scheduler's position.
    Scheduler,
}

impl Part {
    pub(super) const ALL: [Part; 3] = [Part::Model, Part::Optimizer, Part::Scheduler];

    pub(super) fn index(self) -> usize {
        self as usize
    }

    /// The file of this part of `epoch`'s checkpoint (burn-train's own names).
    pub(super) fn file_name(self, epoch: usize) -> String {
        let stem = match self {
            Part::Model => "model",
            Part::Optimizer => "optim",
            Part::Scheduler => "scheduler",
        };
        format!("{stem}-{epoch}.bpk")
    }
}

/// A checkpoint file as the manifest records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PartFile {
    /// The file's name in the checkpoint directory.
    pub file: String,
    /// Its size.
    pub bytes: u64,
    /// The CRC-32 of its content.
    pub crc32: u32,
}

/// `epoch-<e>.json`: what makes epoch `e`'s files a checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Manifest {
    /// [`MANIFEST_VERSION`].
    pub version: u32,
    /// The epoch (1-based) after which the records were taken.
    pub epoch: usize,
    /// The model, optimiser and scheduler files, in that order.
    pub parts: Vec<PartFile>,
    /// The CRC-32 of the files `metrics-1.json` to `metrics-<epoch>.json`, one after another.
    pub history_crc32: u32,
    /// The fingerprint of the (normalised) training and validation data.
    pub data: String,
}

/// The name of `epoch`'s manifest.
pub(super) fn manifest_name(epoch: usize) -> String {
    format!("epoch-{epoch}.json")
}

/// The name of the file of `epoch`'s metrics.
pub(super) fn metrics_name(epoch: usize) -> String {
    format!("metrics-{epoch}.json")
}

/// The metrics of epochs `1..=manifest.epoch`, read from their files and checked against the
/// manifest's CRC-32 of them.
fn read_history(dir: &Path, manifest: &Manifest) -> Result<Vec<EpochMetrics>, String> {
    let mut crc = burn_rnn_io::Crc32::new();
    let mut history = Vec::with_capacity(manifest.epoch);
    for epoch in 1..=manifest.epoch {
        let path = dir.join(metrics_name(epoch));
        let bytes = fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        crc.update(&bytes);
        let metrics: EpochMetrics = serde_json::from_slice(&bytes)
            .map_err(|e| format!("{} is not valid: {e}", path.display()))?;
        if metrics.epoch != epoch {
            return Err(format!("{} holds epoch {}", path.display(), metrics.epoch));
        }
        history.push(metrics);
    }
    if crc.finish() != manifest.history_crc32 {
        return Err(format!(
            "the metrics of epochs 1 to {} do not match their checksum in the manifest",
            manifest.epoch
        ));
    }
    Ok(history)
}

/// The epoch a checkpoint file or manifest belongs to.
pub(super) fn epoch_of(name: &str) -> Option<usize> {
    let number = name
        .strip_prefix("epoch-")
        .and_then(|rest| rest.strip_suffix(".json"))
        .or_else(|| {
            ["model-", "optim-", "scheduler-"]
                .iter()
                .find_map(|prefix| name.strip_prefix(prefix))
                .and_then(|rest| rest.strip_suffix(".bpk"))
        })?;
    number.parse().ok()
}

/// The epoch with the lowest finite validation loss (the first of equals), else the last.
pub(crate) fn best_epoch(history: &[EpochMetrics]) -> Option<usize> {
    history
        .iter()
        .filter(|e| e.valid_loss.is_finite())
        .min_by(|a, b| a.valid_loss.total_cmp(&b.valid_loss))
        .or(history.last())
        .map(|e| e.epoch)
}

/// Whether early stopping ends the run after the last epoch of `history`: burn's
/// `MetricEarlyStoppingStrategy` with `NoImprovementSince { n_epochs: patience }` on the
/// validation loss, computed from the whole history so that a resumed run decides as an
/// uninterrupted one does.
pub(crate) fn stops_early(history: &[EpochMetrics], patience: Option<usize>) -> bool {
    let (Some(patience), Some(last)) = (patience, history.last()) else {
        return false;
    };
    let mut best = (1, f64::MAX);
    for e in history {
        if e.valid_loss < best.1 {
            best = (e.epoch, e.valid_loss);
        }
    }
    last.epoch != best.0 && last.epoch - best.0 >= patience
}

/// Reads `part` of `manifest`'s checkpoint from `dir`, checking its size and CRC-32.
pub(crate) fn read_part(dir: &Path, manifest: &Manifest, part: Part) -> Result<Vec<u8>, String> {
    let expected = manifest
        .parts
        .get(part.index())
        .ok_or_else(|| format!("the manifest of epoch {} lists no {part:?}", manifest.epoch))?;
    let path = dir.join(&expected.file);
    let bytes = fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    if bytes.len() as u64 != expected.bytes {
        return Err(format!(
            "{} has {} bytes, its manifest says {}",
            path.display(),
            bytes.len(),
            expected.bytes
        ));
    }
    let crc = burn_rnn_io::crc32(&bytes);
    if crc != expected.crc32 {
        return Err(format!(
            "{} does not match its manifest's checksum (CRC-32 {crc:08x}, expected {:08x})",
            path.display(),
            expected.crc32
        ));
    }
    Ok(bytes)
}

/// Reads and checks `epoch`'s manifest, the three files it lists and the metrics of every
/// epoch up to it.
fn verified_manifest(dir: &Path, epoch: usize) -> Result<(Manifest, Vec<EpochMetrics>), String> {
    let path = dir.join(manifest_name(epoch));
    let text = fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let manifest = parse_manifest(&text, epoch, &path)?;
    for part in Part::ALL {
        read_part(dir, &manifest, part)?;
    }
    let history = read_history(dir, &manifest)?;
    Ok((manifest, history))
}

/// Parses `epoch`'s manifest (read from `path`) and checks that it is one.
pub(crate) fn parse_manifest(text: &str, epoch: usize, path: &Path) -> Result<Manifest, String> {
    let manifest: Manifest = serde_json::from_str(text)
        .map_err(|e| format!("{} is not a valid manifest: {e}", path.display()))?;
    if manifest.version != MANIFEST_VERSION || manifest.epoch != epoch {
        return Err(format!(
            "{} is a manifest of version {} for epoch {}, expected version {MANIFEST_VERSION} for epoch {epoch}",
            path.display(),
            manifest.version,
            manifest.epoch
        ));
    }
    if manifest.parts.len() != Part::ALL.len() {
        return Err(format!(
            "{} lists {} files, expected 3",
            path.display(),
            manifest.parts.len()
        ));
    }
    Ok(manifest)
}

/// The newest good checkpoint in `dir`, and a sentence for each newer one that is damaged.
#[derive(Debug, Default)]
pub(crate) struct ResumePoint {
    /// The checkpoint to resume from.
    pub manifest: Option<Manifest>,
    /// The metrics of its epochs.
    pub history: Vec<EpochMetrics>,
    /// Damaged checkpoints that were passed over, newest first.
    pub skipped: Vec<String>,
}

/// Looks for the checkpoint to resume from in `dir` (`<run>/checkpoints/checkpoint`).
pub(crate) fn resume_point(dir: &Path) -> io::Result<ResumePoint> {
    let mut point = ResumePoint::default();
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(point),
        Err(e) => return Err(e),
    };
    let mut epochs = BTreeSet::new();
    for entry in entries {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if name.starts_with("epoch-")
            && let Some(epoch) = epoch_of(&name)
        {
            epochs.insert(epoch);
        }
    }
    for epoch in epochs.into_iter().rev() {
        match verified_manifest(dir, epoch) {
            Ok((manifest, history)) => {
                point.manifest = Some(manifest);
                point.history = history;
                break;
            }
            Err(problem) => point.skipped.push(format!(
                "the checkpoint of epoch {epoch} is damaged ({problem})"
            )),
        }
    }
    Ok(point)
}
