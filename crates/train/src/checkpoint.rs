//! Checkpoints that survive a crash at any moment, and the search for the one to resume from.
//!
//! burn-train's Learner hands each epoch's model, optimiser and learning-rate scheduler records
//! to three checkpointers, which write them from three threads. [`PartCheckpointer`] writes each
//! record atomically (`model-<e>.bpk`, `optim-<e>.bpk`, `scheduler-<e>.bpk`) and tells the
//! [`CheckpointLedger`]. Each epoch's metrics go to `metrics-<e>.json` (atomically, and never
//! rewritten or deleted). Once the three records are on disk and the metrics are in, the ledger
//! writes the epoch's manifest `epoch-<e>.json` (atomically, last): the three files' sizes and
//! CRC-32s, the CRC-32 of the metrics files of epochs `1..=e` taken in order, and a fingerprint of
//! the data; so a checkpoint costs the same at epoch 10 and at epoch 10,000. An epoch without a
//! manifest, or whose files do not match it, is not a checkpoint. Older checkpoints are deleted
//! only after a newer one is committed; the last two and the best (lowest validation loss) stay.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use burn::tensor::Bytes;
use burn::train::checkpoint::{
    Checkpoint, CheckpointerError, CheckpointingAction, CheckpointingStrategy,
};
use burn::train::metric::store::EventStoreClient;
use serde::{Deserialize, Serialize};

use crate::history::EpochMetrics;

/// The manifest format written by this version.
const MANIFEST_VERSION: u32 = 1;

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
    const ALL: [Part; 3] = [Part::Model, Part::Optimizer, Part::Scheduler];

    fn index(self) -> usize {
        self as usize
    }

    /// The file of this part of `epoch`'s checkpoint (burn-train's own names).
    fn file_name(self, epoch: usize) -> String {
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
fn manifest_name(epoch: usize) -> String {
    format!("epoch-{epoch}.json")
}

/// The name of the file of `epoch`'s metrics.
fn metrics_name(epoch: usize) -> String {
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
fn epoch_of(name: &str) -> Option<usize> {
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

/// Collects the parts of each epoch's checkpoint as the checkpointer threads write them, and
/// commits an epoch (writes its manifest) once its records and metrics are all in.
pub(crate) struct CheckpointLedger {
    dir: PathBuf,
    data: String,
    state: Mutex<LedgerState>,
}

#[derive(Default)]
struct LedgerState {
    pending: BTreeMap<usize, Pending>,
    committed: BTreeSet<usize>,
    history: Vec<EpochMetrics>,
    /// The CRC-32 of the metrics files so far, continued epoch after epoch.
    crc: burn_rnn_io::Crc32,
    /// `history_crcs[i]`: the CRC-32 of the metrics files of epochs `1..=i + 1`.
    history_crcs: Vec<u32>,
}

#[derive(Default)]
struct Pending {
    parts: [Option<PartFile>; 3],
    metrics_in: bool,
}

impl CheckpointLedger {
    /// A ledger for the checkpoints in `dir`, continuing from `resumed` (its manifest and its
    /// epochs' metrics) when there is one; `data` is the data fingerprint recorded in each
    /// manifest.
    pub(crate) fn new(
        dir: PathBuf,
        data: String,
        resumed: Option<(&Manifest, &[EpochMetrics])>,
    ) -> io::Result<Arc<Self>> {
        fs::create_dir_all(&dir)?;
        burn_rnn_io::remove_stale_temp_files(&dir)?;
        let mut state = LedgerState::default();
        if let Some((manifest, history)) = resumed {
            state.committed.insert(manifest.epoch);
            for metrics in history {
                let bytes = fs::read(dir.join(metrics_name(metrics.epoch)))?;
                state.record_metrics(metrics.clone(), &bytes);
            }
        }
        Ok(Arc::new(Self {
            dir,
            data,
            state: Mutex::new(state),
        }))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LedgerState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The metrics of every epoch so far.
    pub(crate) fn history(&self) -> Vec<EpochMetrics> {
        self.lock().history.clone()
    }

    /// The epoch of the last metrics in, if any.
    pub(crate) fn last_epoch(&self) -> Option<usize> {
        self.lock().history.last().map(|e| e.epoch)
    }

    /// Whether the run ends after `epoch`: it was not recorded (its loss was not finite), or
    /// early stopping with `patience` ends it ([`stops_early`]).
    pub(crate) fn stops_after(&self, epoch: usize, patience: Option<usize>) -> bool {
        let state = self.lock();
        state.history.last().map(|e| e.epoch) != Some(epoch)
            || stops_early(&state.history, patience)
    }

    /// Epoch `metrics.epoch` has ended with these metrics: writes them, and its checkpoint
    /// commits once its records are written too.
    fn end_epoch(&self, metrics: EpochMetrics) -> io::Result<()> {
        let epoch = metrics.epoch;
        let bytes = serde_json::to_vec_pretty(&metrics).map_err(io::Error::other)?;
        burn_rnn_io::write_atomic(self.dir.join(metrics_name(epoch)), &bytes)?;
        let mut state = self.lock();
        state.record_metrics(metrics, &bytes);
        state.pending.entry(epoch).or_default().metrics_in = true;
        self.try_commit(&mut state, epoch)
    }

    /// Writes `part` of `epoch`'s checkpoint.
    fn save_part(&self, epoch: usize, part: Part, bytes: &[u8]) -> io::Result<()> {
        let file = part.file_name(epoch);
        burn_rnn_io::write_atomic(self.dir.join(&file), bytes)?;
        let record = PartFile {
            file,
            bytes: bytes.len() as u64,
            crc32: burn_rnn_io::crc32(bytes),
        };
        let mut state = self.lock();
        state.pending.entry(epoch).or_default().parts[part.index()] = Some(record);
        self.try_commit(&mut state, epoch)
    }

    /// Writes `epoch`'s manifest if everything is in, then deletes checkpoints no longer kept.
    fn try_commit(&self, state: &mut LedgerState, epoch: usize) -> io::Result<()> {
        let Some(pending) = state.pending.get(&epoch) else {
            return Ok(());
        };
        if !pending.metrics_in || pending.parts.iter().any(Option::is_none) {
            return Ok(());
        }
        let parts = pending.parts.iter().flatten().cloned().collect();
        let manifest = Manifest {
            version: MANIFEST_VERSION,
            epoch,
            parts,
            history_crc32: state.history_crcs[epoch - 1],
            data: self.data.clone(),
        };
        let json = serde_json::to_string_pretty(&manifest).map_err(io::Error::other)?;
        burn_rnn_io::write_atomic(self.dir.join(manifest_name(epoch)), json.as_bytes())?;
        state.pending.remove(&epoch);
        state.committed.insert(epoch);
        self.delete_stale(state, epoch)
    }

    /// Deletes the checkpoints before `latest` other than the previous committed one and the
    /// best one; manifests first, so that a crash midway leaves no manifest without its files.
    fn delete_stale(&self, state: &mut LedgerState, latest: usize) -> io::Result<()> {
        let mut keep: BTreeSet<usize> = state.committed.iter().rev().take(2).copied().collect();
        keep.extend(best_epoch(&state.history));
        state.committed.retain(|e| keep.contains(e) || *e > latest);
        let mut stale: Vec<(bool, PathBuf)> = Vec::new();
        for entry in fs::read_dir(&self.dir)? {
            let name = entry?.file_name().to_string_lossy().into_owned();
            if let Some(epoch) = epoch_of(&name)
                && epoch < latest
                && !keep.contains(&epoch)
            {
                stale.push((!name.ends_with(".json"), self.dir.join(name)));
            }
        }
        stale.sort();
        for (_, path) in stale {
            match fs::remove_file(&path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        Ok(())
    }

    /// The directory of the checkpoint files.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }
}

impl LedgerState {
    /// Adds the epoch after the last one to the history; `bytes` is its metrics file.
    fn record_metrics(&mut self, metrics: EpochMetrics, bytes: &[u8]) {
        debug_assert_eq!(metrics.epoch, self.history.len() + 1);
        self.crc.update(bytes);
        self.history_crcs.push(self.crc.clone().finish());
        self.history.push(metrics);
    }
}

/// Writes one of the three records of each checkpoint for burn-train's Learner (wrap it in
/// burn's `AsyncCheckpointer`).
pub(crate) struct PartCheckpointer {
    part: Part,
    ledger: Arc<CheckpointLedger>,
    /// The checkpoint being resumed from, whose files `restore` reads.
    resumed: Option<Manifest>,
}

impl PartCheckpointer {
    /// The three checkpointers of a run: model, optimiser, scheduler.
    pub(crate) fn three(
        ledger: &Arc<CheckpointLedger>,
        resumed: Option<&Manifest>,
    ) -> [PartCheckpointer; 3] {
        Part::ALL.map(|part| PartCheckpointer {
            part,
            ledger: ledger.clone(),
            resumed: resumed.cloned(),
        })
    }
}

impl<R: Checkpoint> burn::train::checkpoint::Checkpointer<R> for PartCheckpointer {
    fn save(&self, epoch: usize, record: R) -> Result<(), CheckpointerError> {
        let bytes = record
            .checkpoint_into_bytes()
            .map_err(CheckpointerError::Record)?;
        self.ledger
            .save_part(epoch, self.part, &bytes)
            .map_err(CheckpointerError::IOError)
    }

    fn delete(&self, _epoch: usize) -> Result<(), CheckpointerError> {
        // The ledger deletes old checkpoints itself, and only once a newer one is committed.
        Ok(())
    }

    fn restore(&self, epoch: usize) -> Result<R, CheckpointerError> {
        let manifest = self
            .resumed
            .as_ref()
            .filter(|m| m.epoch == epoch)
            .ok_or_else(|| {
                CheckpointerError::Unknown(format!("no verified checkpoint of epoch {epoch}"))
            })?;
        let bytes = read_part(self.ledger.dir(), manifest, self.part)
            .map_err(CheckpointerError::Unknown)?;
        R::checkpoint_from_bytes(Bytes::from_bytes_vec(bytes)).map_err(CheckpointerError::Record)
    }
}

/// burn-train's checkpointing strategy for a run: after each epoch, hands the epoch's metrics
/// to the ledger and asks for the three records; an epoch whose loss is not finite is never
/// saved, so the last good checkpoint survives a divergence.
pub(crate) struct CommitEachEpoch {
    pub ledger: Arc<CheckpointLedger>,
    /// The run's metric log (also registered with burn's store).
    pub log: crate::metric_log::EpochMetricLog,
    /// The regression outputs whose real-unit validation MAE is logged.
    pub mae_outputs: Vec<String>,
}

impl CheckpointingStrategy for CommitEachEpoch {
    fn checkpointing(
        &mut self,
        epoch: usize,
        store: &EventStoreClient,
    ) -> Vec<CheckpointingAction> {
        let metrics = self.log.metrics(epoch, store, &self.mae_outputs);
        if !(metrics.train_loss.is_finite() && metrics.valid_loss.is_finite()) {
            return Vec::new();
        }
        match self.ledger.end_epoch(metrics) {
            Ok(()) => vec![CheckpointingAction::Save],
            // The records are still written; the commit is retried when they arrive.
            Err(_) => vec![CheckpointingAction::Save],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics(epoch: usize, valid_loss: f64) -> EpochMetrics {
        EpochMetrics {
            epoch,
            train_loss: 1.0,
            valid_loss,
            train_accuracy: None,
            valid_accuracy: None,
            valid_mae: Vec::new(),
        }
    }

    fn write_epoch(ledger: &CheckpointLedger, epoch: usize, valid_loss: f64) {
        for part in Part::ALL {
            ledger
                .save_part(epoch, part, format!("{part:?} {epoch}").as_bytes())
                .unwrap();
        }
        ledger.end_epoch(metrics(epoch, valid_loss)).unwrap();
    }

    fn names(dir: &Path) -> BTreeSet<String> {
        fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn an_epoch_commits_once_its_records_and_metrics_are_in() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = CheckpointLedger::new(dir.path().into(), "data".into(), None).unwrap();
        ledger.save_part(1, Part::Model, b"weights").unwrap();
        ledger.end_epoch(metrics(1, 0.5)).unwrap();
        ledger.save_part(1, Part::Optimizer, b"moments").unwrap();
        assert!(resume_point(dir.path()).unwrap().manifest.is_none());
        ledger.save_part(1, Part::Scheduler, b"step").unwrap();
        let point = resume_point(dir.path()).unwrap();
        let manifest = point.manifest.unwrap();
        assert_eq!((manifest.epoch, point.history.len()), (1, 1));
        assert_eq!(
            read_part(dir.path(), &manifest, Part::Optimizer).unwrap(),
            b"moments"
        );
    }

    #[test]
    fn keeps_the_last_two_and_the_best_checkpoints() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = CheckpointLedger::new(dir.path().into(), "data".into(), None).unwrap();
        for (epoch, loss) in [(1, 0.9), (2, 0.1), (3, 0.5), (4, 0.6), (5, 0.7)] {
            write_epoch(&ledger, epoch, loss);
        }
        let epochs: BTreeSet<usize> = names(dir.path())
            .iter()
            .filter_map(|n| epoch_of(n))
            .collect();
        assert_eq!(epochs, BTreeSet::from([2, 4, 5]));
        let metrics = names(dir.path())
            .iter()
            .filter(|n| n.starts_with("metrics-"))
            .count();
        assert_eq!(
            (names(dir.path()).len(), metrics),
            (17, 5),
            "every epoch's metrics stay"
        );
    }

    #[test]
    fn a_damaged_latest_checkpoint_falls_back_to_the_previous_one() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = CheckpointLedger::new(dir.path().into(), "data".into(), None).unwrap();
        write_epoch(&ledger, 1, 0.5);
        write_epoch(&ledger, 2, 0.4);
        // One flipped byte in epoch 2's optimiser state.
        let path = dir.path().join("optim-2.bpk");
        let mut bytes = fs::read(&path).unwrap();
        bytes[0] ^= 1;
        fs::write(&path, bytes).unwrap();
        let point = resume_point(dir.path()).unwrap();
        assert_eq!(point.manifest.unwrap().epoch, 1);
        assert_eq!(point.skipped.len(), 1);
        assert!(point.skipped[0].contains("epoch 2") && point.skipped[0].contains("checksum"));
        // A truncated manifest is passed over too, with the reason.
        fs::write(dir.path().join("epoch-2.json"), "{\"version\": 1, \"ep").unwrap();
        let point = resume_point(dir.path()).unwrap();
        assert_eq!(point.manifest.unwrap().epoch, 1);
        assert!(
            point.skipped[0].contains("not a valid manifest"),
            "{:?}",
            point.skipped
        );
    }

    #[test]
    fn damaged_metrics_make_every_later_checkpoint_unusable() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = CheckpointLedger::new(dir.path().into(), "data".into(), None).unwrap();
        write_epoch(&ledger, 1, 0.5);
        write_epoch(&ledger, 2, 0.4);
        let point = resume_point(dir.path()).unwrap();
        assert_eq!(point.history.len(), 2);
        assert_eq!(point.history[1].valid_loss, 0.4);
        let path = dir.path().join("metrics-2.json");
        let text = fs::read_to_string(&path).unwrap().replace("0.4", "0.3");
        fs::write(&path, text).unwrap();
        let point = resume_point(dir.path()).unwrap();
        assert_eq!(point.manifest.unwrap().epoch, 1);
        assert!(point.skipped[0].contains("checksum"), "{:?}", point.skipped);
        // A ledger resumed from epoch 1 continues the checksum: epoch 2 commits again.
        let (manifest, history) = (
            resume_point(dir.path()).unwrap().manifest.unwrap(),
            point.history,
        );
        let ledger = CheckpointLedger::new(
            dir.path().into(),
            "data".into(),
            Some((&manifest, &history)),
        )
        .unwrap();
        write_epoch(&ledger, 2, 0.35);
        let point = resume_point(dir.path()).unwrap();
        assert_eq!(point.manifest.unwrap().epoch, 2);
        assert_eq!(point.history[1].valid_loss, 0.35);
    }

    #[test]
    fn early_stopping_matches_burns_rule() {
        let history: Vec<EpochMetrics> = [0.5, 0.4, 0.45, 0.41, 0.42]
            .iter()
            .enumerate()
            .map(|(i, &loss)| metrics(i + 1, loss))
            .collect();
        assert!(!stops_early(&history[..4], Some(3)));
        assert!(stops_early(&history, Some(3)));
        assert!(!stops_early(&history, None));
        assert_eq!(best_epoch(&history), Some(2));
        let diverged = [metrics(1, f64::NAN)];
        assert_eq!(best_epoch(&diverged), Some(1));
        assert!(!stops_early(&diverged, Some(1)));
    }

    #[test]
    fn file_names_give_their_epoch() {
        assert_eq!(epoch_of("model-12.bpk"), Some(12));
        assert_eq!(epoch_of("scheduler-3.bpk"), Some(3));
        assert_eq!(epoch_of("epoch-7.json"), Some(7));
        assert_eq!(epoch_of("model-x.bpk"), None);
        assert_eq!(epoch_of(".tmp-1-2-model-3.bpk"), None);
    }
}
