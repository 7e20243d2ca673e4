//! The writing side: the ledger that commits an epoch once its three records and its metrics are
//! on disk, the checkpointers that write the records for burn-train's Learner, and the
//! strategy that hands each epoch's metrics to the ledger.

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

use super::manifest::{
    MANIFEST_VERSION, Manifest, Part, PartFile, best_epoch, epoch_of, manifest_name, metrics_name,
    read_part, stops_early,
};
use crate::history::EpochMetrics;

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
    pub(super) fn end_epoch(&self, metrics: EpochMetrics) -> io::Result<()> {
        let epoch = metrics.epoch;
        let bytes = serde_json::to_vec_pretty(&metrics).map_err(io::Error::other)?;
        burn_rnn_io::write_atomic(self.dir.join(metrics_name(epoch)), &bytes)?;
        let mut state = self.lock();
        state.record_metrics(metrics, &bytes);
        state.pending.entry(epoch).or_default().metrics_in = true;
        self.try_commit(&mut state, epoch)
    }

    /// Writes `part` of `epoch`'s checkpoint.
    pub(super) fn save_part(&self, epoch: usize, part: Part, bytes: &[u8]) -> io::Result<()> {
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
