//! The checkpoint ledger and the search for a checkpoint to resume from.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use super::ledger::CheckpointLedger;
use super::manifest::{Part, best_epoch, epoch_of, read_part, resume_point, stops_early};
use crate::history::EpochMetrics;

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
