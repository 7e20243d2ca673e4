//! `evaluate` and `predict` on files too big to hold in memory: the file read a chunk of
//! sequences at a time ([`DataSpec::read_in_chunks`], [`DataSpec::read_inputs_in_chunks`]),
//! each chunk predicted as it comes. A chunk is the predictor's own batch, so every sequence is
//! predicted with the same neighbours, padding and masks as when the file is held whole: the
//! same predictions, bit for bit.

use std::path::Path;

use burn_rnn_data::{DataError, DataSpec, SpecInputs, Target};

use super::storage::is_big;
use crate::error::{Result, TrainError};
use crate::predict::{CHUNK, Prediction, Predictor};

/// Whether `path` is read in chunks: as `choice` says when given (`--on-disk`, `--in-memory`),
/// else when it is at least [`burn_rnn_data::ON_DISK_THRESHOLD_BYTES`] long.
pub(super) fn reads_in_chunks(path: &Path, choice: Option<bool>) -> Result<bool> {
    match choice {
        Some(chunks) => Ok(chunks),
        None => Ok(is_big(path)?.0),
    }
}

/// The predictions for every sequence of the classification or regression file `path` (read
/// with `spec`, labels mapped onto `classes`) with its target, a chunk at a time.
pub(super) fn predict_with_targets(
    predictor: &Predictor,
    spec: &DataSpec,
    path: &Path,
    classes: Option<&[String]>,
) -> Result<(Vec<Prediction>, Vec<Target>)> {
    let (mut predictions, mut targets) = (Vec::new(), Vec::new());
    keeping_errors(
        |each| {
            spec.read_in_chunks(path, classes, CHUNK, &mut |inputs, chunk| {
                each((inputs, chunk))
            })
        },
        |(inputs, chunk): (SpecInputs, Vec<Target>)| {
            predictions.extend(predictor.predict(&inputs.sequences)?);
            targets.extend(chunk);
            Ok(())
        },
    )?;
    Ok((predictions, targets))
}

/// Calls `each` with every chunk of inputs of `path` read with `spec` (as
/// [`DataSpec::read_inputs`] reads them) and their predictions.
pub(super) fn predict_inputs(
    predictor: &Predictor,
    spec: &DataSpec,
    path: &Path,
    mut each: impl FnMut(&SpecInputs, Vec<Prediction>) -> Result<()>,
) -> Result<()> {
    keeping_errors(
        |pass_on| spec.read_inputs_in_chunks(path, CHUNK, pass_on),
        |inputs: SpecInputs| {
            let predictions = predictor.predict(&inputs.sequences)?;
            each(&inputs, predictions)
        },
    )
}

/// Runs `read`, which hands items to a callback of the data crate, with `each` as that
/// callback; an error of `each` stops the reading and is returned as it is.
pub(super) fn keeping_errors<T>(
    read: impl FnOnce(&mut dyn FnMut(T) -> burn_rnn_data::Result<()>) -> burn_rnn_data::Result<()>,
    mut each: impl FnMut(T) -> Result<()>,
) -> Result<()> {
    let mut failed: Option<TrainError> = None;
    let read_outcome = read(&mut |item| {
        each(item).map_err(|e| {
            failed = Some(e);
            DataError::InvalidParameter("stopped: predicting a chunk failed".into())
        })
    });
    match failed {
        Some(error) => Err(error),
        None => Ok(read_outcome?),
    }
}
