//! Saving and loading in Burn's own format (burn-store's Burnpack), for models trained here.
//!
//! The file holds the weights; the configuration (JSON, via `Config::save`) rebuilds the module
//! that the weights are loaded into, and a mismatch between the two is reported, not ignored.

use std::path::Path;

use burn::module::Module;
use burn::store::{ApplyError, BurnpackStore, ModuleSnapshot};
use burn::tensor::{Bytes, Device};

use crate::error::{ModelError, Result};
use crate::head::{SequenceModel, SequenceModelConfig};

/// Writes `module`'s weights to `path` (a `.bpk` file), replacing any file already there
/// atomically: a crash leaves the old file or the new one, never a torn one.
pub fn save_weights<M: Module>(module: &M, path: &Path) -> Result<()> {
    let error = |message: String| ModelError::File {
        path: path.to_path_buf(),
        message: format!("cannot save weights: {message}"),
    };
    let file = burn_rnn_io::AtomicFile::new(path).map_err(|e| error(e.to_string()))?;
    let mut store = BurnpackStore::from_file(file.path())
        .overwrite(true)
        .auto_extension(false);
    module
        .save_into(&mut store)
        .map_err(|e| error(e.to_string()))?;
    file.commit().map_err(|e| error(e.to_string()))
}

/// Loads weights saved by [`save_weights`] into `module`, which must have the same structure:
/// a missing, extra or misshapen tensor is an error naming it.
pub fn load_weights<M: Module>(module: M, path: &Path) -> Result<M> {
    if !path.is_file() {
        return Err(ModelError::File {
            path: path.to_path_buf(),
            message: "no such weights file".into(),
        });
    }
    let bytes = std::fs::read(path).map_err(|e| ModelError::File {
        path: path.to_path_buf(),
        message: format!("cannot read weights: {e}"),
    })?;
    load_weights_from_bytes(module, bytes, path)
}

/// [`load_weights`] from a file's content already in memory; `path` names it in errors.
pub fn load_weights_from_bytes<M: Module>(mut module: M, bytes: Vec<u8>, path: &Path) -> Result<M> {
    // burn-store's own validation is off so that every problem is reported below, by tensor
    // name and in words; the file's header and data are still checked while reading.
    let mut store = BurnpackStore::from_bytes(Some(Bytes::from_bytes_vec(bytes)))
        .allow_partial(true)
        .validate(false);
    let result = module.load_from(&mut store).map_err(|e| ModelError::File {
        path: path.to_path_buf(),
        message: format!("cannot load weights: {e}"),
    })?;
    let weights_error = |name: &str, message: String| ModelError::Weights {
        path: path.to_path_buf(),
        name: name.to_string(),
        message,
    };
    if let Some(error) = result.errors.first() {
        return Err(match error {
            ApplyError::ShapeMismatch {
                path: name,
                expected,
                found,
            } => weights_error(
                name,
                format!(
                    "shape {:?} in the file but {:?} in the module: it was saved from a different configuration",
                    found.as_slice(),
                    expected.as_slice()
                ),
            ),
            ApplyError::DTypeMismatch {
                path: name,
                expected,
                found,
            } => weights_error(
                name,
                format!("dtype {found:?} in the file but {expected:?} in the module"),
            ),
            other => weights_error("(module)", format!("{other:?}")),
        });
    }
    if let Some((name, _)) = result.missing.first() {
        return Err(weights_error(
            name,
            "missing from the file: it was saved from a different configuration".into(),
        ));
    }
    if let Some(name) = result.unused.first() {
        return Err(weights_error(
            name,
            "in the file but not in the module: it was saved from a different configuration".into(),
        ));
    }
    Ok(module)
}

impl SequenceModel {
    /// Saves the weights (Burnpack) to `path`.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        save_weights(self, path.as_ref())
    }

    /// Builds a model from `config` on `device` and loads the weights saved at `path`.
    pub fn load(
        config: &SequenceModelConfig,
        path: impl AsRef<Path>,
        device: &Device,
    ) -> Result<Self> {
        load_weights(config.init(device)?, path.as_ref())
    }
}
