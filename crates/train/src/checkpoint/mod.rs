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

mod ledger;
mod manifest;
#[cfg(test)]
mod tests;

pub(crate) use ledger::{CheckpointLedger, CommitEachEpoch, PartCheckpointer};
pub(crate) use manifest::{
    Manifest, Part, best_epoch, parse_manifest, read_part, resume_point, stops_early,
};
